"""benchmarks/choose_bright_rescaling.py: which bright rescaling a model takes."""

import pytest

from .conftest import load_benchmark


@pytest.fixture(scope="module")
def script():
    return load_benchmark("choose_bright_rescaling")


def _row(bright_sigma, injected, sprat, flagged):
    return {"bright_sigma": bright_sigma, "injected_tpr": injected, "sprat_tpr": sprat, "bright_flagged": flagged}


def _scores(*grid, pixel=0.001):
    return {"grid": [_row(None, 0.98, 0.95, 0.6), *grid], "injected_pixel": pixel, "sprat_pixel": pixel,
            "bright_pixel": pixel}


def test_the_most_cosmic_ray_pixels_within_one_pixel_of_cost_are_taken(script):
    scores = _scores(_row(30.0, 0.97, 0.95, 1.0),  # costs ten pixels of injected TPR
                     _row(50.0, 0.98, 0.9485, 1.0),  # costs 1.5 pixels on SPRAT 1-4
                     _row(75.0, 0.9795, 0.96, 0.99),  # half a pixel of cost, and the largest sum: taken
                     _row(100.0, 0.98, 0.95, 0.99))  # four pixels fewer found
    assert script.choose(scores)["bright_sigma"] == 75.0


def test_of_sums_within_one_pixel_of_each_measure_the_highest_significance_is_taken(script):
    scores = _scores(_row(75.0, 0.98, 0.952, 0.99), _row(150.0, 0.98, 0.95, 0.9905),  # 1.5 pixels fewer: taken
                     _row(100.0, 0.98, 0.95, 0.99), _row(200.0, 0.98, 0.95, 0.988))  # 4 pixels fewer
    assert script.choose(scores)["bright_sigma"] == 150.0


def test_no_rescaling_where_every_point_costs_or_flags_no_more(script):
    assert script.choose(_scores(_row(30.0, 0.97, 0.95, 1.0), _row(100.0, 0.99, 0.96, 0.6))) is None
