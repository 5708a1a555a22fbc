"""Balanced sub-frame data sets, simulation files and the ``crmask wfi`` commands."""

import numpy as np
import pytest
from astropy.table import Table
from click.testing import CliRunner

from crmask.cli import cli
from crmask.exceptions import FITSReadError
from crmask_wfi.training.dataset import build_dataset, conditioned_counts
from crmask_wfi.events.reconstruct import read_events
from crmask_wfi.sim.simfile import (
    FRAME_CLASS_NAMES,
    concat_simulations,
    frame_classes,
    read_simulation,
    write_simulation,
)
from crmask_wfi.sim.simulate import simulate_frames


def test_frame_classes():
    label = np.zeros((4, 3, 3), dtype=np.uint8)
    label[1, 0, 0] = 1
    label[2, 1, 1] = 2
    label[3, 0, 0], label[3, 2, 2] = 1, 2
    assert frame_classes(label).tolist() == [0, 1, 2, 3]
    assert FRAME_CLASS_NAMES == ("empty", "xray", "cr", "mixed")


def test_conditioned_counts():
    counts = conditioned_counts(np.random.default_rng(0), 1 / 64, np.arange(20000) % 2 == 0)
    assert np.all(counts[1::2] == 0) and np.all(counts[::2] >= 1)
    # Zero-truncated Poisson with lambda = 1/64: P(2) / P(1) = lambda / 2.
    assert np.mean(counts[::2] == 2) == pytest.approx(1 / 128, abs=0.003)


@pytest.fixture(scope="module")
def dataset():
    return build_dataset(30, seed=1)


def test_dataset_is_balanced(dataset):
    assert dataset.signal.shape == (120, 64, 64)
    assert np.bincount(frame_classes(dataset.label), minlength=4).tolist() == [30, 30, 30, 30]
    ids = np.unique(dataset.truth["ID"])
    primaries = np.isin(dataset.truth["PARTICLE"], ["photon", "proton"])
    assert len(ids) == primaries.sum()  # one ID per sky photon and per CR event
    assert set(np.unique(dataset.event_id)) - {0} <= set(ids.tolist())


def test_dataset_is_reproducible(dataset):
    again = build_dataset(30, seed=1)
    np.testing.assert_array_equal(again.signal, dataset.signal)


def test_simulation_file_round_trip(dataset, tmp_path):
    path = write_simulation(dataset, tmp_path / "set.fits")
    back = read_simulation(path)
    np.testing.assert_array_equal(back.signal, dataset.signal)
    np.testing.assert_array_equal(back.label, dataset.label)
    np.testing.assert_array_equal(back.event_id, dataset.event_id)
    assert back.truth["ID"].tolist() == dataset.truth["ID"].tolist()
    assert back.meta["seed"] == 1
    frames = Table.read(path, hdu="FRAMES")
    assert frames["CLASS"].tolist() == frame_classes(dataset.label).tolist()
    assert np.all(frames["N_XRAY"][frames["CLASS"] == 1] >= 1)
    with pytest.raises(FITSReadError, match="no such file"):
        read_simulation(tmp_path / "missing.fits")


def test_concat_keeps_ids_unique():
    a = simulate_frames(2, shape=(64, 64), xray_rate=256.0, cr_rate=0.0, seed=1)
    b = simulate_frames(2, shape=(64, 64), xray_rate=256.0, cr_rate=0.0, seed=2)
    both = concat_simulations([a, b])
    assert len(both) == 4 and len(np.unique(both.truth["ID"])) == len(both.truth)
    assert both.truth["FRAME"].max() == 3


def test_cli_simulate_filter_bench(tmp_path):
    runner = CliRunner()
    sim_path = tmp_path / "sim.fits"
    result = runner.invoke(cli, ["wfi", "simulate", "-n", "3", "--shape", "128", "128", "--xray-rate", "64",
                                 "--seed", "2", "-o", str(sim_path)])
    assert result.exit_code == 0, result.output
    assert "3 frames of 128x128" in result.output

    events_path = tmp_path / "events.fits"
    result = runner.invoke(
        cli, ["wfi", "filter", str(sim_path), "--filter", "classic", "-o", str(events_path)]
    )
    assert result.exit_code == 0, result.output
    events = read_events(events_path)
    assert {"TRUE_CLASS", "VALID", "GRADE", "PHAS"} <= set(events.colnames)

    result = runner.invoke(cli, ["wfi", "bench", str(sim_path), "-o", str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    assert "0.3-10 keV" in result.output
    assert (tmp_path / "report" / "background_spectrum.png").stat().st_size > 0
    table = Table.read(tmp_path / "report" / "metrics.ecsv")
    assert table["FILTER"].tolist() == ["classic", "classic"]


def test_cli_balanced_and_errors(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["wfi", "simulate", "--balanced", "2", "-o", str(tmp_path / "b.fits")])
    assert result.exit_code == 0, result.output
    assert "8 frames of 64x64" in result.output and "2/2/2/2" in result.output
    result = runner.invoke(cli, ["wfi", "filter", str(tmp_path / "b.fits"), "--filter", "nope", "-o",
                                 str(tmp_path / "e.fits")])
    assert result.exit_code != 0 and "nope" in result.output
    result = runner.invoke(cli, ["wfi", "filter", str(tmp_path / "b.fits"), "-p", "mip_threshold=-3",
                                 "-o", str(tmp_path / "e.fits")])
    assert result.exit_code != 0 and "mip_threshold" in result.output


def test_cli_filter_plain_fits_cube(tmp_path):
    from astropy.io import fits

    sim = simulate_frames(2, shape=(64, 64), xray_rate=256.0, cr_rate=0.0, seed=6)
    cube = fits.PrimaryHDU(sim.signal)
    cube.header["BUNIT"] = "electron"
    cube.writeto(tmp_path / "cube.fits")
    fits.PrimaryHDU(sim.signal).writeto(tmp_path / "nounit.fits")
    runner = CliRunner()
    cube_path, events_path = tmp_path / "cube.fits", tmp_path / "e.fits"
    result = runner.invoke(cli, ["wfi", "filter", str(cube_path), "-o", str(events_path)])
    assert result.exit_code == 0, result.output
    events = read_events(tmp_path / "e.fits")
    assert "TRUE_CLASS" not in events.colnames
    assert len(events) >= np.unique(sim.truth["FRAME"]).size
    bad_path = tmp_path / "nounit.fits"
    result = runner.invoke(cli, ["wfi", "filter", str(bad_path), "-o", str(tmp_path / "f.fits")])
    assert result.exit_code != 0 and "BUNIT" in result.output


@pytest.mark.parametrize("link", ["same", "symlink", "hardlink"])
def test_cli_filter_never_writes_over_its_input(tmp_path, link):
    import os

    runner = CliRunner()
    sim_path = tmp_path / "sim.fits"
    result = runner.invoke(cli, ["wfi", "simulate", "-n", "2", "--shape", "64", "64", "-o", str(sim_path)])
    assert result.exit_code == 0, result.output
    original = sim_path.read_bytes()
    target = {"same": sim_path, "symlink": tmp_path / "alias.fits", "hardlink": tmp_path / "hard.fits"}[link]
    if link == "symlink":
        target.symlink_to(sim_path)
    elif link == "hardlink":
        os.link(sim_path, target)
    result = runner.invoke(cli, ["wfi", "filter", str(sim_path), "-o", str(target), "--overwrite"])
    assert result.exit_code != 0 and "output would replace its own input" in result.output
    assert "Traceback" not in result.output
    assert sim_path.read_bytes() == original


def test_cli_simulate_defaults_are_the_simulators():
    import inspect

    from crmask_wfi.cli import simulate
    from crmask_wfi.sim import physics
    from crmask_wfi.sim.simulate import DEFAULT_ENERGY_RANGE_KEV

    defaults = {p.name: p.default for p in simulate.params}
    signature = inspect.signature(simulate_frames).parameters
    for name in ("xray_rate", "cr_rate", "readnoise"):
        assert defaults[name] == signature[name].default, name
    assert defaults["readnoise"] == physics.READNOISE_E == 7.0
    assert tuple(defaults["energy"]) == DEFAULT_ENERGY_RANGE_KEV
    assert signature["shape"].default == physics.QUADRANT_SHAPE


def test_cli_simulate_readnoise_has_one_spelling_and_keeps_the_former_one(tmp_path):
    runner = CliRunner()
    paths = [tmp_path / f"{name}.fits" for name in ("new", "old", "default")]
    common = ["-n", "2", "--shape", "32", "32", "--xray-rate", "0", "--cr-rate", "0"]
    for path, extra in zip(paths, (["--readnoise", "3"], ["--read-noise", "3"], [])):
        result = runner.invoke(cli, ["wfi", "simulate", *common, *extra, "-o", str(path)])
        assert result.exit_code == 0, result.output
    new, old, default = (read_simulation(p) for p in paths)
    np.testing.assert_array_equal(new.signal, old.signal)
    assert new.meta["readnoise"] == 3.0 and default.meta["readnoise"] == 7.0
    assert new.signal.std() == pytest.approx(3.0, rel=0.05) and default.signal.std() == pytest.approx(7.0, rel=0.05)


def test_cli_simulate_balanced_shape_is_the_one_given(tmp_path):
    result = CliRunner().invoke(cli, ["wfi", "simulate", "--balanced", "1", "--shape", "96", "96",
                                      "-o", str(tmp_path / "b.fits")])
    assert result.exit_code == 0, result.output
    assert "4 frames of 96x96" in result.output
