"""benchmarks/choose_mirrors.py: the rule that chooses which mirror images a shipped model averages over."""

import numpy as np
import pytest

from .conftest import load_benchmark

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def script():
    return load_benchmark("choose_mirrors")


def _counts(found_fraction: float, n: int = 400, seed: int = 0) -> np.ndarray:
    """``(pixels, pixels found)`` of ``n`` stand-in cosmic rays of 4 pixels, ``found_fraction`` of the pixels found."""
    rng = np.random.default_rng(seed)
    found = rng.random((n, 4)) < found_fraction
    return np.stack([np.full(n, 4), found.sum(1)], axis=1)


@pytest.fixture
def stand_ins(script, monkeypatch):
    """Patch the script's scoring and timing with stand-ins; the caller sets TPR and speed ratio per set of images."""
    tpr, speed = {}, {}

    class Detector:
        def __init__(self, mirrors):
            self.mirrors = mirrors

    monkeypatch.setattr(script, "event_counts", lambda detector, samples: _counts(tpr[detector.mirrors]))
    monkeypatch.setattr(script, "speed_ratios",
                        lambda name, weights, mirrors, repeats: {1: speed[mirrors], 2: speed[mirrors]})
    monkeypatch.setattr("crmask.get_detector", lambda name, **params: Detector(params["mirrors"]))
    monkeypatch.setattr("crmask_unet.weights.read_card", lambda path: {"detector": "deepcr"})
    return tpr, speed


def test_the_best_pair_then_all_four_are_taken_while_they_gain_beyond_chance_within_the_speed_goal(script, stand_ins):
    tpr, speed = stand_ins
    tpr.update({"none": 0.90, "left-right": 0.93, "up-down": 0.97, "half-turn": 0.95, "all": 0.99})
    speed.update({"up-down": 0.3, "all": 0.45})
    record = script.choose("deepcr-general", samples=None, repeats=1)
    assert record["mirrors"] == "all"
    assert [(s["mirrors"], s["over"], s["outcome"]) for s in record["steps"]] == [
        ("up-down", "none", "taken"), ("all", "up-down", "taken")]


def test_images_beyond_the_speed_goal_are_not_taken(script, stand_ins):
    tpr, speed = stand_ins
    tpr.update({"none": 0.90, "left-right": 0.97, "up-down": 0.93, "half-turn": 0.93, "all": 0.99})
    speed.update({"left-right": 0.3, "all": script.SPEED_GOAL * 1.01})
    assert script.choose("deepcr-general", samples=None, repeats=1)["mirrors"] == "left-right"
    speed["left-right"] = script.SPEED_GOAL * 1.01
    record = script.choose("deepcr-general", samples=None, repeats=1)
    assert record["mirrors"] == "none" and record["steps"][0]["outcome"].startswith("slower")
    assert len(record["steps"]) == 1  # four images are not tried without two


def test_a_gain_within_chance_is_not_taken_and_nothing_is_timed(script, stand_ins):
    tpr, speed = stand_ins
    tpr.update({"none": 0.90, "left-right": 0.90, "up-down": 0.90, "half-turn": 0.90, "all": 0.99})
    record = script.choose("deepcr-general", samples=None, repeats=1)  # the same cosmic rays found: no gain
    assert record["mirrors"] == "none"
    assert record["steps"][0]["outcome"] == "no gain beyond chance" and "speed_ratio" not in record["steps"][0]


def test_the_accuracy_half_alone_times_nothing_and_chooses_nothing(script, stand_ins):
    tpr, speed = stand_ins  # no speed given: timing any step would fail
    tpr.update({"none": 0.90, "left-right": 0.93, "up-down": 0.97, "half-turn": 0.95, "all": 0.99})
    record = script.choose("deepcr-general", samples=None, repeats=None)
    assert record["mirrors"] is None
    assert [(s["mirrors"], s["over"], s["outcome"]) for s in record["steps"]] == [
        ("up-down", "none", "gain beyond chance; speed not measured"),
        ("all", "up-down", "gain beyond chance; speed not measured")]
    assert all("speed_ratio" not in s for s in record["steps"])


def test_no_speed_refuses_to_apply(script, tmp_path, capsys):
    with pytest.raises(SystemExit):
        script.main(["--data", str(tmp_path), "--no-speed", "--apply", "deepcr-general-16"])
    assert "--no-speed makes no choice to apply" in capsys.readouterr().err
