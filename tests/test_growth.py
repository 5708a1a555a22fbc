"""Local significance of pixels above their neighbourhood, the measure of faint cosmic-ray wings."""

import numpy as np
import pytest

from crmask.growth import BACKGROUND_WINDOW, local_significance


def test_significance_is_the_excess_over_the_window_median_in_noise_units():
    image = np.full((20, 20), 100.0, dtype=np.float32)
    image[5, 5] = 115.0
    image[12, 12:15] = 2000.0  # three bright pixels do not move a 7 x 7 median
    image[13, 13] = 130.0
    where = np.zeros(image.shape, dtype=bool)
    where[5, 5] = where[13, 13] = where[0, 0] = True
    z = local_significance(image, where, sigma=5.0, level=100.0)
    np.testing.assert_allclose(z, [0.0, 3.0, 6.0], atol=1e-6)  # np.nonzero order: (0,0), (5,5), (13,13)


def test_noise_includes_the_poisson_noise_of_a_bright_local_background():
    image = np.full((30, 30), 100.0, dtype=np.float32)
    image[10:20, 10:20] = 500.0  # a star or a trace: 400 e- above the image's level
    image[15, 15] = 500.0 + 3 * np.sqrt(25.0 + 400.0)
    where = np.zeros(image.shape, dtype=bool)
    where[15, 15] = True
    z = local_significance(image, where, sigma=5.0, level=100.0)
    assert z[0] == pytest.approx(3.0, rel=1e-5)


def test_edge_pixels_use_the_reflected_image():
    image = np.full((BACKGROUND_WINDOW, BACKGROUND_WINDOW), 10.0, dtype=np.float32)
    image[0, 0] = 30.0
    where = np.zeros(image.shape, dtype=bool)
    where[0, 0] = True
    assert local_significance(image, where, sigma=2.0, level=10.0)[0] == pytest.approx(10.0)


def test_probability_grows_into_significant_neighbours_of_confident_detections():
    from crmask.growth import grow_probability

    image = np.full((40, 40), 100.0, dtype=np.float32)
    prob = np.zeros(image.shape, dtype=np.float32)
    prob[10, 10] = 0.9  # a confident detection
    image[10, 11] = 112.0  # a 2.4 sigma wing beside it
    image[10, 9] = 104.0  # a 0.8 sigma neighbour
    prob[30, 30] = 0.04  # a doubtful pixel below the floor
    image[30, 31] = 130.0
    grown = grow_probability(prob, image, sigma=5.0, level=100.0, nsigma=2.0, weight=0.5)
    assert grown[10, 11] == pytest.approx(0.45)
    assert grown[10, 9] == 0.0 and grown[30, 31] == 0.0
    np.testing.assert_array_equal(grown[prob > 0], prob[prob > 0])  # never lowered
    bad = np.zeros(image.shape, dtype=bool)
    bad[10, 11] = True
    assert grow_probability(prob, image, sigma=5.0, level=100.0, nsigma=2.0, weight=0.5, bad=bad)[10, 11] == 0.0
    with pytest.raises(ValueError, match="weight"):
        grow_probability(prob, image, sigma=5.0, level=100.0, nsigma=2.0, weight=0.0)


def test_pixels_on_sources_are_not_grown_into():
    from crmask.growth import grow_probability

    image = np.full((40, 40), 100.0, dtype=np.float32)
    image[5:25, 5:25] = 1000.0  # a source 900 e- above the level: 180 background sigma
    image[15, 16] = 1000.0 + 3 * np.sqrt(25.0 + 900.0)  # 3 sigma above it, beside a detection on the source
    prob = np.zeros(image.shape, dtype=np.float32)
    prob[15, 15] = 0.9
    on_source = grow_probability(prob, image, sigma=5.0, level=100.0, nsigma=2.0, weight=0.5)
    assert on_source[15, 16] == 0.0
    anywhere = grow_probability(prob, image, sigma=5.0, level=100.0, nsigma=2.0, weight=0.5, source_sigma=1e6)
    assert anywhere[15, 16] == pytest.approx(0.45)
