"""benchmarks/choose_flips.py: the rule that chooses how many mirror images a shipped model averages over."""

import numpy as np
import pytest

from .conftest import load_benchmark

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def script():
    return load_benchmark("choose_flips")


def _counts(found_fraction: float, n: int = 400, seed: int = 0) -> np.ndarray:
    """``(pixels, pixels found)`` of ``n`` stand-in cosmic rays of 4 pixels, ``found_fraction`` of the pixels found."""
    rng = np.random.default_rng(seed)
    found = rng.random((n, 4)) < found_fraction
    return np.stack([np.full(n, 4), found.sum(1)], axis=1)


@pytest.fixture
def stand_ins(script, monkeypatch):
    """Patch the script's scoring and timing with stand-ins; the caller sets TPR and speed ratio per flips."""
    tpr, speed = {}, {}

    class Detector:
        def __init__(self, flips):
            self.flips = flips

    monkeypatch.setattr(script, "event_counts", lambda detector, samples: _counts(tpr[detector.flips]))
    monkeypatch.setattr(script, "speed_ratios", lambda name, weights, flips, repeats: {1: speed[flips], 2: speed[flips]})
    monkeypatch.setattr("crmask.get_detector", lambda name, **params: Detector(params["flips"]))
    monkeypatch.setattr("crmask_unet.weights.read_card", lambda path: {"detector": "deepcr"})
    return tpr, speed


def test_more_mirror_images_are_taken_while_they_gain_beyond_chance_within_the_speed_goal(script, stand_ins):
    tpr, speed = stand_ins
    tpr.update({1: 0.90, 2: 0.97, 4: 0.99})
    speed.update({2: 0.3, 4: 0.45})
    record = script.choose("deepcr-general", samples=None, repeats=1)
    assert record["flips"] == 4
    assert [s.get("outcome") for s in record["steps"]] == [None, "taken", "taken"]


def test_mirror_images_beyond_the_speed_goal_are_not_taken(script, stand_ins):
    tpr, speed = stand_ins
    tpr.update({1: 0.90, 2: 0.97, 4: 0.99})
    speed.update({2: 0.3, 4: script.SPEED_GOAL * 1.01})
    assert script.choose("deepcr-general", samples=None, repeats=1)["flips"] == 2
    speed[2] = script.SPEED_GOAL * 1.01
    record = script.choose("deepcr-general", samples=None, repeats=1)
    assert record["flips"] == 1 and record["steps"][1]["outcome"].startswith("slower")


def test_a_gain_within_chance_is_not_taken_and_nothing_is_timed(script, stand_ins):
    tpr, speed = stand_ins
    tpr.update({1: 0.90, 2: 0.90, 4: 0.99})  # the same cosmic rays found: no gain
    record = script.choose("deepcr-general", samples=None, repeats=1)
    assert record["flips"] == 1
    assert record["steps"][1]["outcome"] == "no gain beyond chance" and "speed_ratio" not in record["steps"][1]
    assert len(record["steps"]) == 2  # 4 mirror images are not tried without 2
