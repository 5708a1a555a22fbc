"""benchmarks/wfi_robustness.py: its rows come from the report's metric code, on tables with known answers."""

import numpy as np
import pytest
from astropy.table import Table

import crmask
from crmask_wfi.report.bench import filter_simulated_batches
from crmask_wfi.report.metrics import metrics_table, wilson_interval
from ..conftest import SHARED_DATA
from .conftest import load_benchmark

robustness = load_benchmark("wfi_robustness")


def events(n_xray, xray_flagged, n_cr, cr_flagged):
    """A truth-matched event table: X-rays then CRs at 1 keV, the first ones of each flagged."""
    n = n_xray + n_cr
    flag = np.zeros(n, bool)
    flag[:xray_flagged] = True
    flag[n_xray:n_xray + cr_flagged] = True
    return Table({"FRAME": np.arange(n), "X": np.zeros(n, int), "Y": np.zeros(n, int),
                  "ENERGY": np.ones(n), "TRUE_CLASS": ["xray"] * n_xray + ["cr"] * n_cr, "CR_FLAG": flag})


def test_a_row_has_both_filters_rates_and_flags_a_candidate_losing_over_two_percent():
    results = {"classic": events(100, 1, 10, 0), "wfi-cam-rf": events(100, 3, 10, 5)}
    row = robustness.condition_row(robustness.Condition("test"), results, n_frames=50)
    assert row["N_FRAMES"] == 50 and row["N_XRAY"] == 100
    assert row["CR_AFTER_GRADES"] == 10 and row["CANDIDATE_UNREJECTED_CR"] == 5
    assert row["REFERENCE_LOST_XRAY"] == pytest.approx(1.0)
    assert row["CANDIDATE_LOST_XRAY"] == pytest.approx(3.0)
    low, high = wilson_interval(3, 100)
    interval = (row["CANDIDATE_LOST_XRAY_LO"], row["CANDIDATE_LOST_XRAY_HI"])
    assert interval == pytest.approx((100 * low, 100 * high))
    assert row["FOR_IMPROVEMENT"] == pytest.approx(100 * (1 - (5 / 102) / (10 / 109)))
    assert row["FOR_IMPROVEMENT_LO"] < row["FOR_IMPROVEMENT"] < row["FOR_IMPROVEMENT_HI"]
    assert row["NOT_SHIPPABLE"]
    results["wfi-cam-rf"] = events(100, 2, 10, 5)  # exactly 2% lost: still shippable
    assert not robustness.condition_row(robustness.Condition("test"), results, 50)["NOT_SHIPPABLE"]


def test_markdown_flags_rows_and_says_how_the_geant4_primaries_were_placed():
    results = {"classic": events(100, 1, 10, 0), "wfi-cam-rf": events(100, 3, 10, 5)}
    table = Table(rows=[robustness.condition_row(robustness.Condition("dense"), results, 50)])
    table.meta.update(reference="classic", candidate="wfi-cam-rf", band_kev=[0.3, 10.0], frames=50, seed=0,
                      max_lost_xray_percent=2.0, threshold=0.5, geant4_primaries=447, geant4_placements=3)
    text = robustness.markdown(table)
    assert "| dense | 50 | 100 | 10 | 1.00% [" in text and "| 3.00% [" in text and "| **yes** |" in text
    assert "447 primaries placed 3 times" in text and "too narrow" in text


def test_frames_per_condition():
    pixels = Table({"PRIMID": np.arange(16), "DETID": np.arange(16) % 4, "ACTX": [632, 632, 59, 59] * 4,
                    "ACTY": [52, 610, 610, 52] * 4, "ENERGY": np.ones(16), "PARTYPE": np.ones(16, np.uint8)})
    nominal, dense, geant4 = (robustness.CONDITIONS[i] for i in (0, 3, -1))
    assert robustness.condition_frames(nominal, 1000, None) == 1000
    assert robustness.condition_frames(dense, 1000, None) == 200
    # 16 crossings fill 16 quadrant frames at 1 per frame: 60 frames asked take 4 placements
    assert robustness.condition_frames(geant4, 60, pixels) == 64
    assert robustness.condition_frames(geant4, 3, pixels) == 16


def test_simulated_rows_are_the_reports_metrics_of_the_same_frames():
    filters = [crmask.get_detector("classic"), crmask.get_detector("wfi-cam-rf", threads=1)]
    conditions = (robustness.CONDITIONS[0], robustness.CONDITIONS[4])  # nominal, CR rate x12
    table = robustness.robustness_table(filters, 40, None, seed=3, conditions=conditions, log=lambda _: None)
    assert table["CONDITION"].tolist() == [c.name for c in conditions]
    assert table["N_FRAMES"].tolist() == [40, 40]
    assert table.meta["threshold"] == filters[1].threshold and "geant4_placements" not in table.meta
    for row, condition in zip(table, conditions):
        direct = metrics_table(filter_simulated_batches(filters, 40, seed=3, **condition.simulate),
                               bands=[(0.3, 10.0)])
        assert row["N_XRAY"] == direct["N_XRAY"][0]
        assert row["REFERENCE_LOST_XRAY"] == pytest.approx(direct["LOST_XRAY"][0])
        assert row["CANDIDATE_LOST_XRAY"] == pytest.approx(direct["LOST_XRAY"][1])
        assert row["CR_AFTER_GRADES"] == direct["UNREJECTED_CR"][0]


@pytest.mark.slow
def test_the_script_writes_the_table_for_every_condition(tmp_path):
    if not (SHARED_DATA / "wfi_geant4").exists():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    assert robustness.main(["--data", str(SHARED_DATA), "-o", str(tmp_path), "--frames", "100"]) == 0
    table = Table.read(tmp_path / "robustness.ecsv")
    assert table["CONDITION"].tolist() == [c.name for c in robustness.CONDITIONS]
    assert table["N_FRAMES"].tolist() == [100, 100, 100, 20, 100, 100, 100, 408]
    assert table.meta["geant4_placements"] == 1 and table.meta["threshold"] == pytest.approx(0.831)
    assert np.array_equal(table["NOT_SHIPPABLE"], table["CANDIDATE_LOST_XRAY"] > 2.0)
    text = (tmp_path / "robustness.md").read_text()
    assert text.count("\n| ") == len(robustness.CONDITIONS) + 1 and "each placed once" in text


def test_the_geant4_row_names_the_half_of_the_run_it_places():
    assert robustness.geant4_conditions() == robustness.CONDITIONS
    named = robustness.geant4_conditions("held-out")
    assert [c.name for c in named[:-1]] == [c.name for c in robustness.CONDITIONS[:-1]]
    assert named[-1].name == "Geant4 run 0002 CRs, 1x CR rate, held-out primaries" and named[-1].geant4
    assert robustness.geant4_conditions("held-out", geant4_only=True) == (named[-1],)
    note = robustness.geant4_note(230, 96, "held-out")
    assert note.startswith("Geant4 row: the run's 230 held-out primaries (odd PRIMID, which no training saw) "
                           "placed 96 times")


@pytest.fixture
def split_model(tmp_path):
    """A small wfi-cam-rf model whose card says the training half of the Geant4 run trained it."""
    import torch

    from crmask_wfi.camrf.densenet import DenseNetConfig, FrameDenseNet
    from crmask_wfi.camrf.features import FEATURE_NAMES
    from crmask_wfi.camrf.forest import ForestModel, fit_balanced_forest
    from crmask_wfi.camrf.model_io import DENSENET_FILE, FOREST_FILE, save_densenet, write_model_card

    torch.manual_seed(0)
    save_densenet(FrameDenseNet(DenseNetConfig(initial_features=8, growth_rate=4, layers_per_block=(2, 2))).eval(),
                  tmp_path / DENSENET_FILE)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, len(FEATURE_NAMES))).astype(np.float32)
    ForestModel.from_sklearn(fit_balanced_forest(x, x[:, 0] > 1, n_trees=5, seed=0), FEATURE_NAMES).save(
        tmp_path / FOREST_FILE)
    write_model_card(tmp_path, {"name": "wfi-cam-rf.test", "threshold": 0.5,
                                "training_data": {"geant4": {"split": "by primary"}}})
    return tmp_path


@pytest.mark.slow
def test_a_model_trained_on_half_the_run_is_scored_on_the_other_half(split_model, tmp_path):
    if not (SHARED_DATA / "wfi_geant4").exists():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    out = tmp_path / "out"
    assert robustness.main(["--data", str(SHARED_DATA), "-o", str(out), "--frames", "10", "--weights",
                            str(split_model), "--geant4-only"]) == 0
    table = Table.read(out / "robustness.ecsv")
    assert table["CONDITION"].tolist() == ["Geant4 run 0002 CRs, 1x CR rate, held-out primaries"]
    assert table.meta["geant4_part"] == "held-out" and table.meta["geant4_primaries"] == 230
    assert table.meta["threshold"] == 0.5 and table.meta["weights"] == str(split_model)
    assert table["N_FRAMES"].tolist() == [208]  # one placement of the 230 odd primaries (208 crossings)
    text = (out / "robustness.md").read_text()
    assert f"(weights `{split_model}`)" in text and "230 held-out primaries" in text
