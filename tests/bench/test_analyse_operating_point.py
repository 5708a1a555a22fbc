"""benchmarks/analyse_operating_point.py: false positives by place, and all and significant events found."""

from types import SimpleNamespace

import numpy as np
import pytest

from .conftest import load_benchmark


@pytest.fixture(scope="module")
def script():
    return load_benchmark("analyse_operating_point")


class _Given:
    """A stand-in detector returning a given probability map and its mask at 0.5."""

    def __init__(self, prob, with_map=True):
        self.result = SimpleNamespace(probability=prob if with_map else None, mask=prob >= 0.5)

    def detect(self, ccd):
        return self.result


def test_false_positives_by_place_and_significant_events(script):
    shape = (200, 200)  # 39994 negative pixels: FPR 1e-4 allows 3 false positives
    truth = np.zeros(shape, dtype=bool)
    truth[20, 20:24] = True  # a bright track, found
    truth[60, 60] = True  # a single pixel at 3 sigma: at the noise floor, missed
    ignore = np.zeros(shape, dtype=bool)
    ignore[100, 100] = True
    stars = np.zeros(shape, dtype=bool)
    stars[150:155, 150:155] = True
    prob = np.zeros(shape, dtype=np.float32)
    prob[20, 20:24] = 0.99
    prob[21, 21] = 0.9  # beside truth
    prob[101, 101] = 0.8  # beside an ignored pixel
    prob[152, 152] = 0.7  # on a star
    prob[180, 30] = 0.6  # elsewhere, but ranked fourth: outside the budget
    significance = np.where(truth, 50.0, 0.0)  # the injected charge over the noise
    significance[60, 60] = 3.0
    image = SimpleNamespace(ccd=None, truth=truth, ignore=ignore, starmask=stars, significance=significance)
    report = script.analyse(_Given(prob), [image])
    assert report["budget"] == 3
    assert report["false_positives"] == {"beside truth": 1, "beside ignored": 1, "on stars": 1, "elsewhere": 0}
    assert report["events"] == {"found": 1, "total": 2, "significant_found": 1, "significant_total": 1}
    without_map = script.analyse(_Given(prob, with_map=False), [image])  # a mask-only detector
    assert without_map == {"false_positives": None, "events": report["events"]}
    image.significance = None  # a set without injected charge (the repeats): every cosmic ray, nothing more
    assert script.analyse(_Given(prob), [image])["events"] == {
        "found": 1, "total": 2, "significant_found": None, "significant_total": None}


def test_missed_truth_pixels_by_significance_and_the_cosmic_ray_holding_most(script):
    shape = (200, 200)
    truth = np.zeros(shape, dtype=bool)
    truth[20, 20:24] = True  # found whole
    truth[60, 60] = True  # a faint single pixel, missed
    truth[80, 80:90] = True  # a long track, six of its pixels missed
    prob = np.zeros(shape, dtype=np.float32)
    prob[20, 20:24] = 0.99
    prob[80, 80:84] = 0.95
    prob[80, 84:90] = 0.5
    for k, value in enumerate((0.9, 0.8, 0.7, 0.6)):  # negatives: the fourth sets the threshold of FPR 1e-4 (3)
        prob[150, 20 + 5 * k] = value
    significance = np.where(truth, 50.0, 0.0)
    significance[60, 60] = 3.5
    significance[80, 84:90] = 12.0
    image = SimpleNamespace(ccd=None, truth=truth, ignore=np.zeros(shape, dtype=bool), starmask=None,
                            significance=significance)
    missed = script.analyse(_Given(prob), [image])["missed"]
    assert missed["total"] == 7
    np.testing.assert_array_equal(missed["by_significance"], [1, 0, 6, 0])  # 3-5, 5-10, 10-20, >= 20 sigma
    assert (missed["largest"], missed["largest_size"]) == (6, 10)
    image.significance = None
    assert script.analyse(_Given(prob), [image])["missed"]["by_significance"] is None
