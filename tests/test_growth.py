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


@pytest.mark.parametrize("shape", [(1, 1), (1, 6), (6, 1), (2, 2), (17, 23)])
def test_square_maximum_is_the_3x3_maximum_filter_and_for_masks_the_dilation(shape):
    from scipy import ndimage

    from crmask.growth import square_maximum

    values = np.random.default_rng(3).random(shape).astype(np.float32)
    np.testing.assert_array_equal(square_maximum(values), ndimage.maximum_filter(values, size=3, mode="nearest"))
    mask = values > 0.7
    np.testing.assert_array_equal(square_maximum(mask), ndimage.binary_dilation(mask, np.ones((3, 3), dtype=bool)))
    with pytest.raises(ValueError, match="2-D"):
        square_maximum(values.ravel())


def test_local_background_is_the_mirrored_median_filter_with_any_number_of_workers():
    from scipy import ndimage

    from crmask.growth import local_background

    # more pixels than one block of windows, so that two workers share the blocks
    image = np.random.default_rng(4).normal(100.0, 5.0, (300, 260)).astype(np.float32)
    image[40:44, 100] = 5000.0
    expected = ndimage.median_filter(image, size=BACKGROUND_WINDOW, mode="mirror")
    where = np.ones(image.shape, dtype=bool)
    for workers in (1, 2, 3):
        np.testing.assert_array_equal(local_background(image, where, workers).reshape(image.shape), expected)


def test_grown_probability_does_not_depend_on_the_workers():
    from crmask.growth import grow_probability

    rng = np.random.default_rng(5)
    image = rng.normal(100.0, 5.0, (400, 400)).astype(np.float32)
    prob = np.zeros(image.shape, dtype=np.float32)
    ys, xs = rng.integers(1, 399, (2, 20000))  # enough neighbours for several blocks of windows
    prob[ys, xs] = rng.uniform(0.2, 1.0, ys.size)
    image[ys, xs] += 60.0
    one = grow_probability(prob, image, nsigma=1.0, weight=0.3)
    assert (one > prob).sum() > 1000
    np.testing.assert_array_equal(grow_probability(prob, image, nsigma=1.0, weight=0.3, workers=2), one)
