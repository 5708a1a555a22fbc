"""lacosmic on sky-subtracted, negative-sky and saturated frames (issue 12, case 8).

LACosmic's noise model is the Poisson noise of the pixel values plus the read
noise, so it needs the sky in the data (van Dokkum 2001, eq. 10). On a frame
whose sky was subtracted it underestimates the noise and flags pure noise as
cosmic rays, as ccdproc and astroscrappy do; crmask adds the missing sky back.
"""

import numpy as np
import pytest
from astropy.nddata import CCDData

from crmask import InvalidImageError, cosmicray_clean, get_detector

astroscrappy = pytest.importorskip("astroscrappy")


def _noise(rng, sky, sigma, shape=(64, 64)):
    return rng.normal(sky, sigma, shape).astype(np.float32)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sky_subtracted_noise_flags_nothing(seed):
    # N(0, 5) adu at gain 2: 10 e- of noise, 5 e- of read noise. Plain LACosmic flags about 100 pixels.
    data = _noise(np.random.default_rng(seed), 0.0, 5.0)
    plain, _ = astroscrappy.detect_cosmics(data, gain=2.0, readnoise=5.0, satlevel=65535.0)
    assert plain.sum() > 50  # the failure this guards against
    result = get_detector("lacosmic", gain=2.0, readnoise=5.0).detect(CCDData(data, unit="adu"))
    assert result.n_cr_pixels == 0
    assert result.meta["sky_pedestal"] == pytest.approx(75.0, rel=0.2)  # 10**2 - 5**2 e- of removed sky


def test_negative_sky_flags_nothing(rng):
    data = _noise(rng, -1000.0, 5.0)
    plain, _ = astroscrappy.detect_cosmics(data, gain=1.0, readnoise=5.0, satlevel=65535.0)
    assert plain.sum() > 3000  # nearly every pixel, as the issue found
    result = get_detector("lacosmic", gain=1.0, readnoise=5.0).detect(CCDData(data, unit="adu"))
    assert result.n_cr_pixels == 0


def test_cosmic_rays_in_a_sky_subtracted_frame_are_still_found(rng):
    data = _noise(rng, 0.0, 5.0, (96, 96))
    hits = [(10, 12), (30, 70), (50, 40), (75, 20), (85, 85)]
    for y, x in hits:
        data[y, x] += 400.0
    result = get_detector("lacosmic", gain=2.0, readnoise=5.0).detect(CCDData(data, unit="adu"))
    assert all(result.mask[y, x] for y, x in hits)
    assert result.n_cr_pixels <= 2 * len(hits)
    # The cleaned image is in the input's scale: the pedestal is taken off again.
    assert abs(float(np.median(result.cleaned)) - float(np.median(data))) < 1.0


def test_a_frame_with_its_sky_is_run_exactly_as_astroscrappy_runs_it(rng):
    data = _noise(rng, 800.0, np.sqrt(800.0 * 2.0 + 25.0) / 2.0)
    data[20, 20] += 3000.0
    expected, cleaned = astroscrappy.detect_cosmics(data, gain=2.0, readnoise=5.0, satlevel=65535.0)
    result = get_detector("lacosmic", gain=2.0, readnoise=5.0).detect(CCDData(data, unit="adu"))
    np.testing.assert_array_equal(result.mask, expected)
    np.testing.assert_array_equal(result.cleaned, cleaned)
    assert result.meta["sky_pedestal"] == 0.0


def test_an_all_saturated_frame_is_an_error_not_zero_cosmic_rays(rng):
    data = _noise(rng, 1000.0, 35.0).astype(np.float64) * 1e26
    with pytest.raises(InvalidImageError, match="above the saturation level"):
        get_detector("lacosmic", gain=1.0, readnoise=5.0).detect(CCDData(data, unit="adu"))


def test_the_pedestal_is_recorded_in_the_header(rng):
    data = _noise(rng, -1000.0, 5.0)
    clean = cosmicray_clean(CCDData(data, unit="adu"), "lacosmic", gain=1.0, readnoise=5.0)
    assert clean.header["CRMSKY"] == pytest.approx(1000.0, rel=0.02)
    assert "CRMSKY" not in cosmicray_clean(CCDData(data + 2000.0, unit="adu"), "lacosmic", gain=1.0,
                                           readnoise=5.0).header


def test_sky_pedestal_off_gives_astroscrappy_on_a_frame_without_sky(rng):
    import astroscrappy

    data = rng.normal(0.0, 5.0, (64, 64)).astype(np.float32)  # sky-subtracted: pure read noise and sky noise
    data[30, 30] += 400.0
    on = get_detector("lacosmic", gain=2.0, readnoise=5.0).detect(CCDData(data, unit="adu"))
    off = get_detector("lacosmic", gain=2.0, readnoise=5.0, sky_pedestal=False).detect(
        CCDData(data, unit="adu"))
    expected, _ = astroscrappy.detect_cosmics(data, gain=2.0, readnoise=5.0, satlevel=65535.0)
    np.testing.assert_array_equal(off.mask, expected)
    assert off.meta["sky_pedestal"] == 0.0 < on.meta["sky_pedestal"]
    assert on.mask[30, 30] and on.mask.sum() < off.mask.sum()
