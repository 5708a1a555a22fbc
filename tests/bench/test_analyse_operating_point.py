"""benchmarks/analyse_operating_point.py: false positives by place and events at the noise floor."""

from types import SimpleNamespace

import numpy as np
import pytest

from .conftest import load_benchmark


@pytest.fixture(scope="module")
def script():
    return load_benchmark("analyse_operating_point")


class _Given:
    """A stand-in detector returning a given probability map and its mask at 0.5."""

    def __init__(self, prob, electrons, with_map=True):
        self.result = SimpleNamespace(probability=prob if with_map else None, mask=prob >= 0.5,
                                      image=SimpleNamespace(in_electrons=electrons, bad=np.zeros(prob.shape, bool)))

    def detect(self, ccd):
        return self.result


def test_false_positives_by_place_and_events_at_the_noise_floor(script, rng):
    shape = (200, 200)  # 39994 negative pixels: FPR 1e-4 allows 3 false positives
    electrons = rng.normal(1000.0, 10.0, shape)
    truth = np.zeros(shape, dtype=bool)
    truth[20, 20:24] = True  # a bright track, found
    electrons[20, 20:24] += 500.0
    truth[60, 60] = True  # a single pixel at 3 sigma: at the noise floor, missed
    electrons[60, 60] = 1030.0
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
    image = SimpleNamespace(ccd=None, truth=truth, ignore=ignore, starmask=stars)
    report = script.analyse(_Given(prob, electrons), [image])
    assert report["budget"] == 3
    assert report["false_positives"] == {"beside truth": 1, "beside ignored": 1, "on stars": 1, "elsewhere": 0}
    assert report["events"] == {"found": 1, "total": 2, "floor_found": 0, "floor_total": 1}
    without_map = script.analyse(_Given(prob, electrons, with_map=False), [image])  # a mask-only detector
    assert without_map == {"false_positives": None, "events": report["events"]}
