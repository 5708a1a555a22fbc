"""benchmarks/score_study.py: the gate that decides whether a run replaces a shipped model."""

import json
import sys
from types import SimpleNamespace

import numpy as np
import pytest

import crmask
import crmask.bench.sources

from .conftest import load_benchmark


@pytest.fixture
def gate(tmp_path, monkeypatch):
    """`replaces_shipped` over a study folder and a weights folder in ``tmp_path``, with stand-in scores.

    ``usable`` (weights file name -> whether it has a threshold within the bound), ``found`` (weights file
    name -> pixels found per validation cosmic ray) and ``hits`` (weights file name -> whether each one-pixel
    hit is flagged) are what the stand-ins of `validation_scores`, `operating_point` and `flagged_hits` report.
    """
    script = load_benchmark("score_study")
    weights_dir = tmp_path / "weights"
    weights_dir.mkdir()
    monkeypatch.setattr(script, "WEIGHTS_DIR", weights_dir)
    card = {"detector": "cosmic-conn", "training_data": {"real": {"validate": {"saao": "saao.fits"}}}}
    for run in ("better", "same", "flooding"):
        (tmp_path / "study" / run).mkdir(parents=True)
        (tmp_path / "study" / run / f"{run}.safetensors").write_bytes(b"")
        (tmp_path / "study" / run / f"{run}.json").write_text(json.dumps({**card, "weights_file": f"{run}.safetensors"}))
    usable, found, hits = {}, {}, {}
    pixels = np.full(200, 4)
    monkeypatch.setattr(crmask, "get_detector", lambda name, weights, **kwargs: SimpleNamespace(
        weights=str(weights), mirrors=lambda: kwargs.get("mirrors") or "none", hit_rule=lambda: None))
    monkeypatch.setattr(crmask.bench.sources, "load_real_frames", lambda data, names: {})
    monkeypatch.setitem(sys.modules, "fix_group_statistics", SimpleNamespace(
        validation_scores=lambda detector, *args: {"usable": usable[detector.weights.rsplit("/", 1)[-1]]}))
    monkeypatch.setitem(sys.modules, "validation_difference", SimpleNamespace(
        VALIDATION_SOURCES=(), validation_samples=lambda frames, footprints: None, paired_difference=load_benchmark("validation_difference").paired_difference,
        operating_point=lambda detector, samples: (
            np.stack([pixels, found[detector.weights.rsplit("/", 1)[-1]]], 1), 0.5)))
    monkeypatch.setitem(sys.modules, "one_pixel_hits", SimpleNamespace(
        GATE_SIGNIFICANCE=10.0, gate_hits=lambda frames: None,
        flagged_hits=lambda detector, validation_hits, threshold, rule: hits[detector.weights.rsplit("/", 1)[-1]]))

    def ship(shipped: str, run: str, shipped_usable: bool, run_usable: bool, shipped_found, run_found,
             shipped_hits=np.zeros(300, dtype=bool), run_hits=np.zeros(300, dtype=bool)):
        (weights_dir / "cosmic-conn-general.json").write_text(json.dumps(
            {**card, "weights_file": "cosmic-conn-general.safetensors", "study_run": shipped}))
        usable.update({"cosmic-conn-general": shipped_usable, "cosmic-conn-general.safetensors": shipped_usable,
                       f"{run}.safetensors": run_usable})
        found.update({"cosmic-conn-general.safetensors": shipped_found, f"{run}.safetensors": run_found})
        hits.update({"cosmic-conn-general.safetensors": shipped_hits, f"{run}.safetensors": run_hits})
        return script.replaces_shipped(tmp_path / "study", run, "cosmic-conn-general", tmp_path)

    return ship


def test_a_run_replaces_a_usable_model_only_beyond_chance(gate):
    three = np.full(200, 3)
    wins, why = gate("old", "better", True, True, three, np.full(200, 4))  # every cosmic ray one pixel more
    assert wins and "95% interval" in why
    wins, _ = gate("old", "same", True, True, three, three.copy())
    assert not wins


def test_the_operating_point_comes_first(gate):
    three = np.full(200, 3)
    wins, why = gate("old", "same", False, True, three, three.copy())  # the shipped model floods: replaced
    assert wins and "has no threshold" in why
    wins, why = gate("old", "flooding", True, False, three, np.full(200, 4))  # a higher TPR does not ship a flood
    assert not wins and "no threshold" in why
    wins, why = gate("same", "same", True, True, three, three.copy())
    assert not wins and "already" in why


def test_one_pixel_hits_decide_only_between_networks_of_the_same_tpr(gate):
    three, tenth = np.full(200, 3), np.arange(300) % 10 == 0
    most = np.arange(300) % 10 != 0
    wins, why = gate("old", "same", True, True, three, three.copy(), tenth, most)  # same TPR, 90% of hits, not 10%
    assert wins and "one-pixel hits" in why and "0.900 against 0.100" in why
    wins, _ = gate("old", "same", True, True, three, three.copy(), most, most.copy())
    assert not wins
    fewer = np.where(np.arange(200) < 100, 2, 3)  # a TPR lower beyond chance is not bought back by hits
    wins, why = gate("old", "same", True, True, three, fewer, tenth, most)
    assert not wins and "one-pixel hits" not in why
