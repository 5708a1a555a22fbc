"""The registered classic filter, event metrics and truth matching."""

import astropy.units as u
import numpy as np
import pytest
from astropy.nddata import CCDData
from astropy.table import Table

import crmask
from crmask.exceptions import InvalidImageError
from crmask_wfi.events.classic import ClassicGradeFilter
from crmask_wfi.events.reconstruct import add_truth, read_events, write_events
from crmask_wfi.report.metrics import event_metrics, for_improvement, metrics_table
from crmask_wfi.sim.simulate import ELECTRONS_PER_KEV, LABEL_CR, LABEL_XRAY, SimulatedFrames, simulate_frames


def test_registered_as_classic():
    det = crmask.get_detector("classic", mip_threshold=8.0)
    assert isinstance(det, ClassicGradeFilter) and det.kind == "events"
    assert det.get_params() == {"event_threshold": 0.26, "split_threshold": 0.08, "mip_threshold": 8.0}
    with pytest.raises(ValueError, match="split_threshold"):
        ClassicGradeFilter(event_threshold=0.1, split_threshold=0.2)
    with pytest.raises(ValueError, match="mip_threshold"):
        ClassicGradeFilter(mip_threshold=-1.0)


def two_event_frame():
    frame = np.zeros((16, 16))
    frame[4, 4], frame[4, 5] = 2.0, 0.5  # valid double
    frame[10, 10], frame[11, 11] = 3.0, 1.0  # diagonal: rejected
    return frame


@pytest.mark.parametrize("unit, scale", [(u.keV, 1.0), (u.electron, ELECTRONS_PER_KEV)])
def test_filter_in_kev_or_electrons(unit, scale):
    events = ClassicGradeFilter().filter(CCDData(two_event_frame() * scale, unit=unit))
    assert events["ENERGY"].tolist() == pytest.approx([2.5, 3.0 + 1.0])
    assert events["VALID"].tolist() == [True, False]
    assert events["CR_FLAG"].tolist() == [False, True]
    assert np.isnan(events["P_CR"]).all()
    assert events.meta["detector"] == "classic"


def test_filter_stack_of_ccds_and_bad_unit():
    frames = [CCDData(two_event_frame(), unit="keV"), CCDData(np.zeros((16, 16)), unit="keV")]
    assert ClassicGradeFilter().filter(frames)["FRAME"].tolist() == [0, 0]
    with pytest.raises(InvalidImageError, match="unit"):
        ClassicGradeFilter().filter(CCDData(two_event_frame(), unit="adu"))


def test_event_file_round_trip(tmp_path):
    events = ClassicGradeFilter().filter(two_event_frame() * u.keV)
    path = write_events(events, tmp_path / "events.fits")
    back = read_events(path)
    assert back["ENERGY"].tolist() == pytest.approx(events["ENERGY"].tolist())
    assert back["PHAS"].shape == (2, 3, 3)
    assert back.meta["DETECTOR"] == "classic" and back.meta["MIPTHRES"] == 10.0
    with pytest.raises(crmask.CrmaskError):
        write_events(events, path)


def hand_simulation():
    """A 1-frame 'simulation' with an X-ray single and a CR double whose labels are known."""
    frame = np.zeros((1, 16, 16), dtype=np.float32)
    label = np.zeros((1, 16, 16), dtype=np.uint8)
    ids = np.zeros((1, 16, 16), dtype=np.int32)
    frame[0, 4, 4] = 2.0 * ELECTRONS_PER_KEV
    label[0, 4, 4], ids[0, 4, 4] = LABEL_XRAY, 1
    frame[0, 10, 10], frame[0, 10, 11] = 3.0 * ELECTRONS_PER_KEV, 1.0 * ELECTRONS_PER_KEV
    label[0, 10, 10:12], ids[0, 10, 10:12] = LABEL_CR, 2
    truth = Table({"FRAME": [0, 0], "ID": [1, 2], "KIND": ["xray", "cr"], "PARTICLE": ["photon", "proton"],
                   "ENERGY": [2.0, np.nan]})
    return SimulatedFrames(frame, label, ids, truth)


def test_add_truth_majority_label():
    sim = hand_simulation()
    events = add_truth(ClassicGradeFilter().filter(sim.signal * u.electron), sim)
    assert events["TRUE_CLASS"].tolist() == ["xray", "cr"]
    assert events["TRUE_ID"].tolist() == [1, 2]
    assert events["TRUE_ENERGY"][0] == 2.0 and np.isnan(events["TRUE_ENERGY"][1])


def metric_table(flags, truths, energies):
    return Table({"ENERGY": energies, "TRUE_CLASS": truths, "CR_FLAG": flags})


def test_event_metrics_exact_counts():
    # 3 CRs (2 flagged), 5 X-rays (1 flagged), 1 noise event and 1 CR outside the band.
    table = metric_table(
        flags=[True, True, False, True, False, False, False, False, True, False],
        truths=["cr", "cr", "cr", "xray", "xray", "xray", "xray", "xray", "noise", "cr"],
        energies=[1.0, 2.0, 5.0, 1.0, 2.0, 3.0, 4.0, 9.0, 1.0, 12.0],
    )
    m = event_metrics(table, (0.3, 10.0))
    assert (m.tp, m.fn, m.fp, m.tn, m.n_cr, m.n_xray) == (2, 1, 1, 4, 3, 5)
    assert m.recall == pytest.approx(2 / 3)
    assert m.precision == pytest.approx(2 / 3)
    assert m.f1 == pytest.approx(2 / 3)
    assert m.lost_xray == pytest.approx(1 / 5)
    assert m.false_omission == pytest.approx(1 / 5)
    band = event_metrics(table, (4.0, 8.0))
    assert (band.tp, band.fn, band.fp, band.tn) == (0, 1, 0, 1)
    assert np.isnan(band.precision)


def test_for_improvement_and_table():
    reference = metric_table([False] * 4, ["cr", "xray", "xray", "xray"], [1.0] * 4)  # FOR 1/4
    better = metric_table([True, False, False, False], ["cr", "xray", "xray", "xray"], [1.0] * 4)  # FOR 0
    assert for_improvement(event_metrics(better), event_metrics(reference)) == pytest.approx(1.0)
    table = metrics_table({"classic": reference, "better": better}, bands=[(0.3, 10.0)])
    assert table["FILTER"].tolist() == ["classic", "better"]
    assert table["FOR"].tolist() == pytest.approx([25.0, 0.0])
    assert table["FOR_IMPROVEMENT"].tolist() == pytest.approx([0.0, 100.0])
    with pytest.raises(ValueError, match="TRUE_CLASS"):
        event_metrics(Table({"ENERGY": [1.0], "CR_FLAG": [True]}))


def test_classic_on_simulated_xrays_keeps_almost_all():
    """Clean photons: the filter keeps nearly every X-ray (only noise-touched shapes are lost)."""
    sim = simulate_frames(40, shape=(128, 128), xray_rate=512.0, cr_rate=0.0, spectrum=(0.5, 8.0), seed=8)
    events = add_truth(ClassicGradeFilter().filter(sim.signal * u.electron), sim)
    xray = events[events["TRUE_CLASS"] == "xray"]
    assert len(xray) > 1000
    assert (events["TRUE_CLASS"] == "noise").sum() == 0  # 0.26 keV is 10 sigma of the read noise
    assert 0.0 < xray["CR_FLAG"].mean() < 0.03
    good = np.isfinite(xray["TRUE_ENERGY"]) & (xray["TRUE_ENERGY"] > 2.0) & xray["VALID"]
    # Split-threshold losses and Fano noise: reconstructed energy within a few percent.
    ratio = xray["ENERGY"][good] / xray["TRUE_ENERGY"][good]
    assert np.median(ratio) == pytest.approx(1.0, abs=0.01)


def test_classic_rejects_primary_tracks():
    sim = simulate_frames(20, shape=(128, 128), xray_rate=0.0, cr_rate=64.0, seed=3)
    events = add_truth(ClassicGradeFilter().filter(sim.signal * u.electron), sim)
    cr = events[events["TRUE_CLASS"] == "cr"]
    assert len(cr) > 100 and cr["CR_FLAG"].mean() > 0.9


def test_background_spectrum_units(tmp_path):
    from crmask_wfi.report.bench import background_spectrum, plot_background_spectrum

    table = Table({"ENERGY": [1.5, 1.7, 1.6, 5.0], "TRUE_CLASS": ["cr", "cr", "cr", "xray"],
                   "CR_FLAG": [False, False, True, False]})
    rate = background_spectrum(table, n_frames=10, frame_shape=(512, 512), bins=np.array([1.0, 2.0, 3.0]))
    area_cm2 = 512 * 512 * 0.013**2
    np.testing.assert_allclose(rate, [2 / (area_cm2 * 10 * 0.005 * 1.0), 0.0])
    path = plot_background_spectrum({"classic": table}, 10, (512, 512), tmp_path / "bkg.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_frames_in_kev_from_electrons():
    from crmask.events import prepare_frames

    from crmask_wfi.events.classic import frames_in_kev

    stack = prepare_frames(np.full((1, 4, 4), ELECTRONS_PER_KEV) * u.electron, (u.electron, u.keV))
    np.testing.assert_allclose(frames_in_kev(stack), 1.0, rtol=1e-6)
    assert frames_in_kev(stack).dtype == np.float32
