"""Isolated one-pixel hits: found from the image alone, whatever their brightness; stars and tracks are not hits."""

import numpy as np
import pytest
from scipy import ndimage, special

from crmask.growth import local_background, local_noise
from crmask.isolated import PEAK_RATIO, isolated_hits

SKY, SIGMA = 1000.0, 10.0


def _sky(rng, shape=(128, 128)):
    return rng.normal(SKY, SIGMA, shape).astype(np.float32)


def _star(shape, y, x, fwhm, peak_flux):
    """A pixel-integrated circular Gaussian centred on pixel (y, x), its central pixel holding ``peak_flux``."""
    s = fwhm / (2 * np.sqrt(2 * np.log(2)))
    edges = lambda c, n: special.erf((np.arange(n + 1) - 0.5 - c) / (s * np.sqrt(2))) / 2  # noqa: E731
    py, px = np.diff(edges(y, shape[0])), np.diff(edges(x, shape[1]))
    profile = np.outer(py, px)
    return (peak_flux / profile[y, x] * profile).astype(np.float32)


def test_one_pixel_hits_are_found_from_ten_to_ten_thousand_sigma(rng):
    image = _sky(rng)
    ys, xs = np.arange(10, 120, 12), np.arange(12, 122, 12)
    amplitude = np.geomspace(10, 10_000, ys.size) * SIGMA
    image[ys, xs] += amplitude
    hits = isolated_hits(image, nsigma=5.0)
    assert hits[ys, xs].all() and hits.sum() == ys.size  # and nothing else on the noise


def test_a_hit_below_the_significance_is_not_one():
    image = np.full((64, 64), SKY, dtype=np.float32)  # the noise given, not measured: the excess is exact
    image[40, 40] += 6 * SIGMA
    assert isolated_hits(image, nsigma=6.0, sigma=SIGMA, level=SKY)[40, 40]
    assert not isolated_hits(image, nsigma=6.5, sigma=SIGMA, level=SKY).any()


@pytest.mark.parametrize("fwhm", [1.5, 2.5, 4.0])
def test_stars_sampled_over_more_than_a_pixel_are_never_hits(rng, fwhm):
    image = _sky(rng)
    for peak in (30, 300, 3_000, 30_000):
        image += _star(image.shape, 64, 16 + peak.bit_length() * 6, fwhm, peak * SIGMA)
    assert not isolated_hits(image, nsigma=5.0).any()


def test_an_undersampled_star_is_a_hit_which_the_ratio_decides(rng):
    image = _sky(rng) + _star((128, 128), 64, 64, 1.0, 300 * SIGMA)
    assert isolated_hits(image, nsigma=5.0)[64, 64]
    assert not isolated_hits(image, nsigma=5.0, ratio=10.0).any()


def test_tracks_and_saturated_stars_are_not_hits(rng):
    image = _sky(rng)
    image[30, 20:60] += 500 * SIGMA  # a track: each pixel's neighbours share the charge
    image[80:83, 80:83] = 65_000.0  # a saturated core: a flat top
    image[100, 100] += 400 * SIGMA
    image[100, 101] += 200 * SIGMA  # a hit that spilt half its charge: no one-pixel hit
    assert not isolated_hits(image, nsigma=5.0).any()


def test_bad_pixels_are_never_hits(rng):
    image = _sky(rng)
    image[50, 50] += 1000 * SIGMA
    bad = np.zeros(image.shape, dtype=bool)
    assert isolated_hits(image, nsigma=5.0)[50, 50]
    bad[50, 50] = True
    assert not isolated_hits(image, nsigma=5.0, bad=bad).any()


def test_the_cheap_preselection_loses_no_hit(rng):
    """Every pixel measured in full finds the same hits as the preselection (its condition is necessary)."""
    image = _sky(rng, (96, 96))
    image += _star(image.shape, 30, 30, 2.0, 200 * SIGMA)
    flat = rng.random(image.shape) < 0.02
    image[flat] += rng.uniform(2, 40, flat.sum()).astype(np.float32) * SIGMA
    for nsigma, ratio in ((5.0, PEAK_RATIO), (3.0, 1.5), (8.0, 1.0)):
        background = local_background(image, np.ones(image.shape, dtype=bool)).reshape(image.shape)
        noise = local_noise(background, SIGMA, SKY)
        ring = np.ones((3, 3), dtype=bool)
        ring[1, 1] = False
        brightest = ndimage.maximum_filter(image, footprint=ring, mode="mirror") - background
        excess = image - background
        expected = (excess >= nsigma * noise) & (excess >= ratio * np.maximum(brightest, noise))
        found = isolated_hits(image, nsigma=nsigma, ratio=ratio, sigma=SIGMA, level=SKY)
        assert expected.any()
        np.testing.assert_array_equal(found, expected)


@pytest.mark.parametrize("kwargs, message", [
    ({"nsigma": 0.0}, "nsigma must be positive"),
    ({"nsigma": 5.0, "ratio": 0.5}, "ratio must be at least 1"),
])
def test_invalid_rules_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        isolated_hits(np.zeros((8, 8)), **kwargs)


def test_only_images_are_accepted():
    with pytest.raises(ValueError, match="needs a 2-D image, got 3-D"):
        isolated_hits(np.zeros((2, 8, 8)), nsigma=5.0)
