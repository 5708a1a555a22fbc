"""benchmarks/choose_wing_growth.py: the resolution of a cost and what growth a model may take."""

from types import SimpleNamespace

import numpy as np
import pytest

from ..conftest import shared_path
from .conftest import load_benchmark


@pytest.fixture(scope="module")
def script():
    return load_benchmark("choose_wing_growth")


def _map(shape, crs, ignored=()):
    """(electrons, probability, truth, ignore, bad) of a frame with cosmic-ray pixels ``crs``, ``ignored`` left
    out, no bad pixel."""
    truth, ignore = np.zeros(shape, dtype=bool), np.zeros(shape, dtype=bool)
    for y, x in crs:
        truth[y, x] = True
    for y, x in ignored:
        ignore[y, x] = True
    return np.zeros(shape), np.zeros(shape), truth, ignore, np.zeros(shape, dtype=bool)


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


def test_the_validation_maps_hand_each_frame_its_defects(script):
    from crmask.bench.sources import load_real_frames

    data = shared_path("sprat_lhs6328").parent
    shared_path("cr_footprints_itl.fits.gz")
    frames = load_real_frames(data, ["sprat-1", "sprat-2", "sprat-3", "sprat-4", "saao"])
    seen = []

    def probability(electrons, bad):
        seen.append(bad)
        return np.full(electrons.shape, 0.9, dtype=np.float32)

    real, injected = script.validation_maps(probability, frames, data / "cr_footprints_itl.fits.gz")
    # SPRAT 1-4, then two injections each of SPRAT 4 and SAAO: each scored with, and carrying, its frame's defects
    expected = [frames[name].defects for name in ("sprat-1", "sprat-2", "sprat-3", "sprat-4", "sprat-4", "sprat-4",
                                                  "saao", "saao")]
    assert len(seen) == len(real) + len(injected) == len(expected)
    for bad, (*_, carried), defects in zip(seen, [*real, *injected], expected):
        np.testing.assert_array_equal(bad, defects)
        np.testing.assert_array_equal(carried, defects)
    assert frames["sprat-4"].defects.any()  # the dark's hot pixels and bad columns


def test_growth_never_reaches_a_bad_pixel(script):
    electrons = np.random.default_rng(4).normal(100.0, 1.0, (16, 16))
    electrons[8, 7:10] += 50.0  # a track and its two bright neighbours, one of them a bad pixel
    prob = np.zeros(electrons.shape, dtype=np.float32)
    prob[8, 8] = 1.0
    truth = np.zeros(electrons.shape, dtype=bool)
    truth[8, 7:10] = True
    bad = np.zeros(electrons.shape, dtype=bool)
    bad[8, 9] = True
    ignore = bad.copy()
    grown = script._tpr([(electrons, prob, truth, ignore, np.zeros_like(bad))], 3.0, 1.0)
    held = script._tpr([(electrons, prob, truth, ignore, bad)], 3.0, 1.0)
    assert grown == 1.0 and held == 1.0  # the counted pixels (8, 7) and (8, 8) are found either way
    without = script._tpr([(electrons, prob, truth, np.zeros_like(bad), bad)], 3.0, 1.0)
    assert without == pytest.approx(2 / 3, abs=1e-3)  # counted, the bad pixel is not grown into: missed
