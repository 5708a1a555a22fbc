"""The real-frame loaders: calibration, bias removal and masks checked against the data."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.stats import biweight_scale, mad_std
from scipy import ndimage

from crmask.bench.sources import (
    REAL_SOURCES,
    effective_readnoise,
    load_real_frame,
    load_real_frames,
    own_cosmic_rays,
    sky_noise,
)

from ..conftest import SHARED_DATA, shared_path


@pytest.fixture(scope="module")
def frames():
    shared_path("sprat_lhs6328")
    return load_real_frames(SHARED_DATA)


def model_sigma(frame, level):
    """Noise (adu) the frame's gain and read noise predict at a sky level (adu)."""
    return np.sqrt(frame.readnoise**2 + frame.gain * max(level, 0.0)) / frame.gain


def test_every_source_loads(frames):
    assert list(frames) == list(REAL_SOURCES)
    shapes = {"sprat-1": (254, 1024), "gmos": (150, 200), "m51": (512, 512), "uves": (1024, 1500),
              "saao": (520, 512)}  # saao: TRIMSEC [17:528,1:520]
    for name, frame in frames.items():
        assert frame.name == name and (SHARED_DATA / frame.path).exists()
        assert frame.data.dtype == np.float64 and frame.data.shape == shapes.get(name, (254, 1024))
        for mask in (frame.own_crs, frame.defects):
            assert mask.dtype == bool and mask.shape == frame.data.shape
        assert frame.gain > 0 and frame.readnoise > 0 and frame.exptime > 0 and frame.calibration
        assert frame.own_crs.mean() < 0.05, name
        assert (frame.labels is not None) == name.startswith("sprat")
    # about 1,500 CRs on the UVES frame (README: astroscrappy finds 1,481 groups)
    uves = frames["uves"]
    assert 1000 < ndimage.label(uves.own_crs, structure=np.ones((3, 3)))[1] < 2500


def test_sprat_labels_are_the_shipped_masks(frames):
    for k in range(1, 6):
        frame = frames[f"sprat-{k}"]
        shipped = fits.getdata(SHARED_DATA / frame.path.replace(".fits.gz", "_crmask.fits.gz")).astype(bool)
        np.testing.assert_array_equal(frame.labels, shipped)
        assert not (frame.own_crs & frame.labels).any()
        assert abs(np.median(frame.data)) < 5  # pedestal removed
        assert frame.satlevel == pytest.approx(65535.0 - 917.0, abs=1.0)


def test_single_load_equals_batch_load(frames):
    single = load_real_frame(SHARED_DATA, "sprat-3")
    np.testing.assert_array_equal(single.data, frames["sprat-3"].data)
    np.testing.assert_array_equal(single.own_crs, frames["sprat-3"].own_crs)
    with pytest.raises(ValueError, match="unknown real source"):
        load_real_frame(SHARED_DATA, "hst")


def test_gmos_known_crs_are_own_crs(frames):
    gmos = frames["gmos"]
    assert gmos.own_crs[41:72, 142:161].all() and gmos.own_crs[117:147, 35:43].all()


def test_m51_noise_model_matches_blank_sky(frames):
    m51 = frames["m51"]
    # Two hand-picked blank corners, scale from the MAD of the dequantised
    # integer DN (the derivation used the 3σ-clipped std of the faintest 10%).
    rng = np.random.default_rng(1)
    for box in (np.s_[5:60, 5:60], np.s_[452:507, 452:507]):
        sky = m51.data[box]
        measured = np.sqrt(mad_std(sky + rng.uniform(-0.5, 0.5, sky.shape)) ** 2 - 1 / 12)
        assert model_sigma(m51, np.median(sky)) == pytest.approx(measured, rel=0.1)


def test_m51_defects_are_the_bad_lines(frames):
    m51 = frames["m51"]
    assert m51.defects[109].all() and m51.defects[317].all()  # rows 38 and 9 DN below their neighbours
    assert m51.defects[3, 76] and m51.defects[77, 414:422].all()  # the -1 DN pixel, a 6 DN segment
    assert m51.defects.mean() < 0.01
    assert not m51.defects[5:60, 5:60].any()


def test_uves_noise_model_matches_inter_order_sky(frames):
    uves = frames["uves"]
    # Between the orders of the right half (the derivation used the whole
    # frame's faintest 10% of a 9x9 median): biweight scale about a
    # dispersion-direction median.
    data = uves.data[:, 750:]
    local = ndimage.median_filter(data, size=(1, 31), mode="nearest")
    blank = (np.abs(local) < 1.0) & ~uves.own_crs[:, 750:]
    measured = biweight_scale(data[blank] - local[blank])
    assert model_sigma(uves, float(np.median(local[blank]))) == pytest.approx(measured, rel=0.1)
    assert uves.satlevel == 65300.0 and uves.defects.sum() == 3


def test_saao_overscan_removed(frames):
    saao = frames["saao"]
    assert np.median(saao.data) == pytest.approx(86.0, abs=3.0)  # raw sky ~300, overscan ~214
    assert saao.satlevel == pytest.approx(65535.0 - 214.0, abs=2.0)
    assert (saao.gain, saao.readnoise) == (1.9, 5.0)


def test_own_cosmic_rays_finds_and_grows_a_hit(rng):
    data = 100.0 + np.sqrt(25 + 200.0) / 2 * rng.standard_normal((80, 80))
    data[40, 30:32] += 800.0
    found = own_cosmic_rays(data, 2.0, 5.0, grow=0)
    assert found[40, 30:32].all() and found.sum() <= 4  # the hit and at most a neighbour or two
    grown = own_cosmic_rays(data, 2.0, 5.0, grow=2)
    np.testing.assert_array_equal(grown, ndimage.binary_dilation(found, np.ones((3, 3)), iterations=2))
    assert not own_cosmic_rays(data, 2.0, 5.0, bad=np.ones(data.shape, bool)).any()


def test_effective_readnoise_reproduces_the_sky_noise(rng):
    gain, readnoise, level = 4.0, 12.0, 50.0
    noise = np.sqrt(readnoise**2 + gain * level) / gain
    data = level + noise * rng.standard_normal((200, 200))
    measured_level, sigma = sky_noise(data)
    assert measured_level == pytest.approx(level - 0.2 * noise, abs=0.1 * noise)  # selection bias, see docstring
    assert sigma == pytest.approx(noise, rel=0.05)
    assert effective_readnoise(gain, level, sigma) == pytest.approx(readnoise, rel=0.1)
    with pytest.raises(ValueError, match="gain is too low"):
        effective_readnoise(0.1, level, sigma)
