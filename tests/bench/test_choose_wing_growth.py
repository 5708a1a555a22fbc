"""benchmarks/choose_wing_growth.py: the resolution of a cost and what growth a model may take."""

from types import SimpleNamespace

import numpy as np
import pytest

from .conftest import load_benchmark


@pytest.fixture(scope="module")
def script():
    return load_benchmark("choose_wing_growth")


def _map(shape, crs, ignored=()):
    """(electrons, probability, truth, ignore) of a frame with cosmic-ray pixels ``crs``, ``ignored`` left out."""
    truth, ignore = np.zeros(shape, dtype=bool), np.zeros(shape, dtype=bool)
    for y, x in crs:
        truth[y, x] = True
    for y, x in ignored:
        ignore[y, x] = True
    return np.zeros(shape), np.zeros(shape), truth, ignore


def test_one_pixel_is_the_tpr_of_one_counted_cosmic_ray_pixel(script):
    maps = [_map((8, 8), [(1, 1), (1, 2), (5, 5)], ignored=[(5, 5)]), _map((4, 4), [(0, 0), (3, 3)])]
    assert script.one_pixel(maps) == pytest.approx(1 / 4)  # 2 + 2 counted, the ignored one not


def test_growth_costing_less_than_one_pixel_is_taken_and_one_costing_more_is_not(script, monkeypatch):
    """Stand-in costs by weight: the largest weight costing at most one pixel is written; none, no growth."""
    monkeypatch.setattr(script, "injected_maps", lambda score, frames, footprints: ["maps"])
    monkeypatch.setattr(script, "one_pixel", lambda maps: 0.001)
    costs = {0.2: 0.0, 0.3: 0.0004, 0.4: 0.0009, 0.5: 0.0011, 0.7: 0.02, 1.0: 0.3}
    monkeypatch.setattr(script, "_tpr", lambda maps, nsigma, weight: 0.9 - (costs[weight] if nsigma else 0.0))
    written = {}
    monkeypatch.setattr(script, "replace_weights", lambda path, stats, metadata: written.update(metadata) or "sha")
    monkeypatch.setattr("crmask_unet.weights.read_card",
                        lambda path: {"detector": "deepcr", "weights_file": "w.safetensors"})
    monkeypatch.setattr("crmask.get_detector", lambda name, **params: SimpleNamespace(probability=None))
    monkeypatch.setattr("pathlib.Path.write_text", lambda self, text: None)  # the shipped card stays as it is
    record = script.apply("deepcr-general", 1.0, frames=None, footprints=None, max_cost=0.0)
    assert record["wings"] == {"nsigma": 1.0, "weight": 0.4}
    assert written["wings"] == '{"nsigma": 1.0, "weight": 0.4}'
    costs.update({0.2: 0.002, 0.3: 0.003, 0.4: 0.004})
    record = script.apply("deepcr-general", 1.0, frames=None, footprints=None, max_cost=0.0)
    assert record["wings"] is None and written["wings"] is None  # no weight qualifies: the growth is removed
