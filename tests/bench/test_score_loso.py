"""benchmarks/score_loso.py: leave-one-source-out runs named, paired by seed and tabulated."""

import pytest

from .conftest import load_benchmark


@pytest.fixture(scope="module")
def score_loso():
    return load_benchmark("score_loso")


def test_run_names(score_loso):
    assert score_loso.parse_run("loso-m51") == {"arch": "deepcr", "border": False, "source": "m51", "seed": 1}
    assert score_loso.parse_run("loso-border-cosmic-conn-saao-s3") == {
        "arch": "cosmic-conn", "border": True, "source": "saao", "seed": 3}
    # the wing-growth rerun and the main-split runs are not leave-one-source-out runs of the table
    assert score_loso.parse_run("loso-sprat-for-wings") is None
    assert score_loso.parse_run("border-cosmic-conn-s1") is None


def test_border_weight_paired_by_seed(score_loso):
    tpr = "tpr_1e-4"
    records = {
        ("m51", "loso-cosmic-conn-m51"): {tpr: 0.2}, ("m51", "loso-border-cosmic-conn-m51"): {tpr: 0.4},
        ("m51", "loso-cosmic-conn-m51-s2"): {tpr: 0.6}, ("m51", "loso-border-cosmic-conn-m51-s2"): {tpr: 0.5},
        # seed 3 has no border-weight partner: it counts for its recipe's mean, not for the difference
        ("m51", "loso-cosmic-conn-m51-s3"): {tpr: 0.4},
        ("gmos injected", "loso-cosmic-conn-m51"): {tpr: 0.9},
        ("gmos injected", "loso-border-cosmic-conn-m51"): {tpr: 0.8},
        ("m51", "lacosmic"): {tpr: 0.5},
    }
    runs = ["loso-cosmic-conn-m51", "loso-border-cosmic-conn-m51", "loso-cosmic-conn-m51-s2",
            "loso-border-cosmic-conn-m51-s2", "loso-cosmic-conn-m51-s3"]
    rows = score_loso.table(score_loso.scores(runs, records), records, ["lacosmic"])
    by_source = {row[1]: row for row in rows}
    assert [row[0] for row in rows] == ["cosmic-conn", "cosmic-conn"]
    # without: 0.2, 0.6, 0.4 -> mean 0.4, population sd 0.163; with: 0.4, 0.5; differences +0.2 and -0.1
    assert by_source["m51"][2:] == ["0.400 ± 0.163 (3)", "0.450 ± 0.050 (2)", "+0.050 [-0.100, +0.200], 1/2 up",
                                    "0.500"]
    assert by_source["gmos injected"][2:5] == ["0.900 ± 0.000 (1)", "0.800 ± 0.000 (1)",
                                               "-0.100 [-0.100, -0.100], 0/1 up"]
    assert by_source["gmos injected"][5] == "–"
