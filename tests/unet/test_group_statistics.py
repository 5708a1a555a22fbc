"""Fixed group-normalisation statistics: equal to group norm on the calibration image, then independent of the image."""

from __future__ import annotations

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import crmask  # noqa: E402
from crmask_unet.group_statistics import KEY_PREFIX, fix_group_statistics, measure_group_statistics  # noqa: E402
from crmask_unet.weights import Normalisation, WeightsError, load_weights, save_weights  # noqa: E402


def _sky(rng, shape=(160, 200)) -> np.ndarray:
    return rng.normal(500.0, 20.0, shape).astype(np.float32)


def _input(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(((image - np.median(image)) / 100.0).astype(np.float32))[None, None]


@pytest.fixture
def calibrated(cosmic_weights, rng):
    """The random Cosmic-CoNN network, a calibration image with cosmic rays, and its statistics."""
    _, model = cosmic_weights
    image = _sky(rng)
    for y, x in rng.integers(10, 150, size=(40, 2)):
        image[y, x:x + 3] += 4000.0
    return model.eval(), image, measure_group_statistics(model, [_input(image)])


def test_fixed_statistics_reproduce_group_norm_on_the_calibration_image(calibrated, rng):
    model, image, stats = calibrated
    fixed = copy.deepcopy(model)
    assert fix_group_statistics(fixed, stats) == sum(isinstance(m, torch.nn.GroupNorm) for m in model.modules())
    assert not any(isinstance(m, torch.nn.GroupNorm) for m in fixed.modules())
    with torch.inference_mode():
        np.testing.assert_allclose(fixed(_input(image)).numpy(), model(_input(image)).numpy(), atol=1e-4, rtol=0)
        # an image without cosmic rays: group norm rescales it by its own, smaller spread; fixed statistics do not
        empty = _input(_sky(rng))
        assert (fixed(empty) - model(empty)).abs().max() > 1e-2


def test_fixed_statistics_make_a_pixel_independent_of_distant_cosmic_rays(calibrated, rng, tmp_path):
    model, _, stats = calibrated
    # input divided by a constant (no image median), so that only the normalisations can couple distant pixels
    scale = Normalisation("scale", 100.0)
    path = save_weights(tmp_path / "image.safetensors", model, "cosmic-conn", scale)
    fixed_path = save_weights(tmp_path / "fixed.safetensors", model, "cosmic-conn", scale, group_statistics=stats)
    sparse = _sky(rng)
    crowded = sparse.copy()
    for y, x in zip(rng.integers(5, 155, size=60), rng.integers(5, 66, size=60)):
        crowded[y, x:x + 3] += 4000.0  # cosmic rays in columns 5-68 only
    bad = np.zeros(sparse.shape, dtype=bool)
    far = np.s_[:, 110:]  # beyond the receptive radius (24 px) of every added cosmic ray
    for weights, independent in ((fixed_path, True), (path, False)):
        detector = crmask.get_detector("cosmic-conn", weights=str(weights), threads=1)
        change = np.abs(detector.probability(crowded, bad)[far] - detector.probability(sparse, bad)[far]).max()
        assert (change < 1e-5) if independent else (change > 1e-3), (weights, change)


def test_fixed_statistics_tile_like_batch_norm(cosmic_weights, calibrated, rng, tmp_path):
    model, image, stats = calibrated
    path = save_weights(tmp_path / "fixed.safetensors", model, "cosmic-conn", Normalisation("median", 100.0),
                        group_statistics=stats)
    bad = np.zeros(image.shape, dtype=bool)
    maps = [crmask.get_detector("cosmic-conn", weights=str(path), tile=tile, threads=1).probability(image, bad)
            for tile in (64, 96, 512)]
    for probability in maps[:2]:
        np.testing.assert_allclose(probability, maps[2], atol=1e-5, rtol=0)


def test_weights_carry_their_group_statistics(calibrated, tmp_path):
    model, _, stats = calibrated
    path = save_weights(tmp_path / "fixed.safetensors", model, "cosmic-conn", Normalisation("median", 100.0),
                        group_statistics=stats)
    loaded = load_weights(str(path))
    assert set(loaded.group_statistics) == set(stats)
    assert not any(key.startswith(KEY_PREFIX) for key in loaded.state_dict)
    for key, value in stats.items():
        assert torch.equal(loaded.group_statistics[key], value)
    plain = save_weights(tmp_path / "plain.safetensors", model, "cosmic-conn", Normalisation("median", 100.0))
    assert load_weights(str(plain)).group_statistics is None


@pytest.mark.parametrize("damage, message", [
    (lambda s: s.pop(next(iter(s))), "do not fit the network"),
    (lambda s: s.update({k: -torch.ones_like(v) for k, v in s.items() if k.endswith(".var")}), "negative variance"),
    (lambda s: s.__setitem__(next(k for k in s if k.endswith(".mean")), torch.zeros(3)), "shapes"),
])
def test_bad_group_statistics_are_refused(calibrated, damage, message):
    model, _, stats = calibrated
    broken = dict(stats)
    damage(broken)
    with pytest.raises(WeightsError, match=message):
        fix_group_statistics(copy.deepcopy(model), broken)


def test_a_network_without_group_norm_has_nothing_to_measure(deepcr_weights, rng):
    _, model = deepcr_weights
    with pytest.raises(ValueError, match="no group normalisation"):
        measure_group_statistics(model, [_input(_sky(rng))])
