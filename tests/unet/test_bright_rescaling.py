"""`crmask_unet.bright.rescale_bright`: bright structures shown to a network again, dimmed."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from crmask_unet.bright import CORE_SIZE, EXTENT_SIGMA, rescale_bright


def _in_range(low: float = 20.0, high: float = 80.0):
    """A stand-in network that knows cosmic rays only between ``low`` and ``high`` noise units (on a stack of
    inputs, as `rescale_bright` calls it, or one image), and the inputs it saw."""
    seen = []

    def predict(data: np.ndarray) -> np.ndarray:
        seen.extend(data.copy() if data.ndim == 3 else [data.copy()])
        return ((data > low) & (data < high)).astype(np.float32)

    return predict, seen


def _constant(value: float):
    """A stand-in network that gives every pixel ``value``."""
    return lambda stack: np.full(stack.shape, value, dtype=np.float32)


def _sky(shape=(96, 96)) -> np.ndarray:
    return np.random.default_rng(1).standard_normal(shape).astype(np.float32)


def _spot(data: np.ndarray, y: int, x: int, peak: float) -> np.ndarray:
    """A 3 x 3 spot of ``peak`` noise units (its edge at half of it) added at ``(y, x)``; its pixels."""
    data[y - 1:y + 2, x - 1:x + 2] += peak / 2
    data[y, x] += peak / 2
    pixels = np.zeros(data.shape, dtype=bool)
    pixels[y - 1:y + 2, x - 1:x + 2] = True
    return pixels


def test_a_structure_too_bright_for_the_network_is_found_dimmed():
    data = _sky()
    spot = _spot(data, 40, 50, 1000.0)
    predict, seen = _in_range()
    probability = predict(data)
    assert probability[spot].max() == 0  # too bright for it
    before = probability.copy()
    assert rescale_bright(probability, data, predict, nsigma=100.0, target=50.0, context=8) == 1
    assert (probability[spot] == 1).all()
    assert (probability[~spot] == before[~spot]).all()
    patch = seen[-1]
    assert patch.shape == (2 * 8 + CORE_SIZE,) * 2  # the structure with its context, in a window of fixed size
    assert patch.max() == pytest.approx(50.0, abs=4)  # dimmed to target (plus unit noise)
    assert np.std(patch[:5]) == pytest.approx(1.0, abs=0.25)  # the sky keeps its unit noise


def test_structures_below_nsigma_are_not_shown_again():
    data = _sky()
    _spot(data, 40, 50, 90.0)
    predict, seen = _in_range()
    probability = predict(data)
    before = probability.copy()
    assert rescale_bright(probability, data, predict, nsigma=100.0, target=50.0, context=8) == 0
    assert len(seen) == 1 and (probability == before).all()


def test_what_the_network_does_not_call_a_cosmic_ray_dimmed_changes_nothing():
    data = _sky()
    _spot(data, 40, 50, 1000.0)
    calls = []

    def doubtful(stack: np.ndarray) -> np.ndarray:
        calls.append(stack.shape)
        return np.full(stack.shape, 0.4, dtype=np.float32)  # below the gate

    probability = np.zeros(data.shape, dtype=np.float32)
    assert rescale_bright(probability, data, doubtful, nsigma=100.0, target=50.0, context=8) == 0
    assert calls and not probability.any()


def test_probabilities_only_rise_and_only_in_the_structure():
    data = _sky()
    spot = _spot(data, 40, 50, 1000.0)
    probability = np.full(data.shape, 0.3, dtype=np.float32)
    rescale_bright(probability, data, _constant(0.2), 100.0, 50.0, 8)
    assert (probability == np.float32(0.3)).all()  # never lowered
    rescale_bright(probability, data, _constant(0.9), 100.0, 50.0, 8)
    extent = spot | (data > EXTENT_SIGMA)
    assert (probability[extent] == np.float32(0.9)).all() and (probability[~extent] == np.float32(0.3)).all()


def test_each_structure_is_dimmed_by_its_own_peak_and_the_same_whatever_else_the_image_holds():
    data = _sky()
    one = _spot(data, 20, 20, 400.0)
    other = data.copy()
    two = _spot(other, 70, 70, 4000.0)
    first, second = _in_range(), _in_range()
    alone = first[0](data)
    rescale_bright(alone, data, first[0], nsigma=100.0, target=50.0, context=8)
    both = second[0](other)
    assert rescale_bright(both, other, second[0], nsigma=100.0, target=50.0, context=8) == 2
    assert (both[one] == 1).all() and (both[two] == 1).all()
    assert (both[:45, :45] == alone[:45, :45]).all()
    assert sorted(patch.max() for patch in second[1][1:]) == pytest.approx([50.0, 50.0], abs=4)


def test_structures_touching_the_image_border_are_cut_out_within_it():
    data = _sky((40, 40))
    spot = _spot(data, 1, 38, 1000.0)
    predict, seen = _in_range()
    probability = predict(data)
    rescale_bright(probability, data, predict, nsigma=100.0, target=50.0, context=8)
    assert (probability[spot] == 1).all() and seen[-1].shape == (2 * 8 + CORE_SIZE,) * 2  # within the image
    assert seen[-1][1, -2] > 40  # the spot is in the window's corner


def test_a_structure_larger_than_a_window_gets_its_context():
    data = _sky((200, 200))
    track = np.zeros(data.shape, dtype=bool)
    track[100, 20:180] = True  # a track of 160 pixels
    data[track] += 1000.0
    predict, seen = _in_range()
    probability = predict(data)
    assert rescale_bright(probability, data, predict, nsigma=100.0, target=50.0, context=8) == 1
    assert (probability[track] == 1).all() and seen[-1].shape == (2 * 8 + CORE_SIZE, 160 + 2 * 8)  # per axis


@pytest.mark.parametrize("nsigma, target, match", [(EXTENT_SIGMA, 5.0, "nsigma"), (100.0, 0.0, "target"),
                                                   (100.0, 150.0, "target")])
def test_bad_arguments_are_refused(nsigma, target, match):
    data = _sky((16, 16))
    with pytest.raises(ValueError, match=match):
        rescale_bright(np.zeros_like(data), data, _constant(1.0), nsigma, target, 4)


def test_a_map_of_another_shape_is_refused():
    data = _sky((16, 16))
    with pytest.raises(ValueError, match="shape"):
        rescale_bright(np.zeros((4, 4), np.float32), data, _constant(1.0), 100.0, 50.0, 4)


def test_a_cosmic_ray_on_a_bright_galaxy_is_judged_apart_from_it():
    data = _sky((120, 120))
    yy, xx = np.mgrid[:120, :120]
    data += 400.0 * np.exp(-((yy - 60) ** 2 + (xx - 60) ** 2) / (2 * 15.0**2))  # a galaxy, 400 sigma at its core
    spot = _spot(data, 60, 90, 1000.0)  # on its flank, at about 50 sigma
    galaxy_core = (data > 100.0) & ~spot
    seen = []

    def predict(stack: np.ndarray) -> np.ndarray:  # a stand-in that knows sharp cosmic rays of 20-80 sigma
        seen.extend(stack)
        smooth = ndimage.uniform_filter(stack, size=(1, 5, 5))
        return ((stack > 20) & (stack < 80) & (stack - smooth > 0.2 * stack)).astype(np.float32)

    probability = np.zeros(data.shape, dtype=np.float32)
    assert rescale_bright(probability, data, predict, nsigma=100.0, target=50.0, context=8) == 1
    assert len(seen) == 2  # the core of the galaxy and the cosmic ray, each dimmed by its own peak
    assert (probability[spot] == 1).all() and not probability[galaxy_core].any()


def test_windows_of_one_shape_go_through_the_network_together_within_the_bound():
    data = _sky((200, 200))
    for y in (30, 100, 170):
        _spot(data, y, 50, 1000.0)
    shapes = []

    def predict(stack: np.ndarray) -> np.ndarray:
        shapes.append(stack.shape)
        return _in_range()[0](stack)

    together = np.zeros(data.shape, np.float32)
    assert rescale_bright(together, data, predict, 100.0, 50.0, 8) == 3
    bounded = np.zeros(data.shape, np.float32)
    assert rescale_bright(bounded, data, predict, 100.0, 50.0, 8, batch_pixels=2 * 32 * 32) == 3
    assert shapes == [(3, 32, 32), (2, 32, 32), (1, 32, 32)]
    np.testing.assert_array_equal(bounded, together)
