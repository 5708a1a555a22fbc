"""benchmarks/choose_isolated_hits.py: which isolated-hit rule a model takes, and the maps the rule changes."""

import numpy as np
import pytest

from .conftest import load_benchmark


@pytest.fixture(scope="module")
def script():
    return load_benchmark("choose_isolated_hits")


def _row(hit_sigma, injected, sprat, flagged):
    return {"hit_sigma": hit_sigma, "injected_tpr": injected, "sprat_tpr": sprat, "hits_flagged": flagged}


def _scores(*grid, pixel=0.001):
    return {"grid": [_row(None, 0.98, 0.95, 0.5), *grid], "injected_pixel": pixel, "sprat_pixel": pixel}


def test_the_lowest_significance_within_one_pixel_of_cost_that_flags_more_hits_is_taken(script):
    scores = _scores(_row(5.0, 0.97, 0.95, 1.0),  # costs ten pixels of injected TPR
                     _row(7.0, 0.98, 0.9485, 1.0),  # costs 1.5 pixels on SPRAT 1-4
                     _row(10.0, 0.9991, 0.9495, 0.99),  # a gain, and half a pixel of cost: taken
                     _row(15.0, 0.98, 0.95, 0.98))
    assert script.choose(scores)["hit_sigma"] == 10.0


def test_no_rule_where_every_point_costs_or_gains_no_hit(script):
    assert script.choose(_scores(_row(5.0, 0.97, 0.95, 1.0), _row(10.0, 0.98, 0.95, 0.5))) is None


def test_the_rule_sets_the_hits_to_probability_one_and_nothing_else(script):
    rng = np.random.default_rng(3)
    electrons = rng.normal(1000.0, 10.0, (48, 48)).astype(np.float32)
    electrons[20, 20] += 500.0
    electrons[30, 30] += 500.0  # a hot pixel in the frame's bad-pixel mask: never a hit, as in the detector
    prob = np.full(electrons.shape, 0.25, dtype=np.float32)
    truth = np.zeros(electrons.shape, dtype=bool)
    bad = np.zeros(electrons.shape, dtype=bool)
    bad[30, 30] = True
    (_, ruled, kept_truth, kept_bad), = script._with_hits([(electrons, prob, truth, bad)], 10.0)
    assert ruled[20, 20] == 1.0 and np.count_nonzero(ruled != prob) == 1 and kept_truth is truth and kept_bad is bad
    assert script._with_hits([(electrons, prob, truth, bad)], None)[0][1] is prob
