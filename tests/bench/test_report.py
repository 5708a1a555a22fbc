import numpy as np
import pytest

from crmask.bench.measure import measure
from crmask.bench.report import aggregate, markdown_table


def result(file, tp, fp, fn, tn, wall, npix, curve=None, found=1, total=2, peak=10.0):
    return {
        "set": "s", "label": "d", "detector": "d", "params": {"k": 1}, "file": file, "npix": npix,
        "wall_s": wall, "cpu_s": wall, "peak_mb": peak, "threads_available": 2,
        "operating": {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "events_found": found, "events_total": total,
                      "star_fp": 1, "star_pixels": 10},
        "curve": curve,
    }


def test_counts_are_summed_before_ratios():
    results = [result("a", 9, 1, 1, 89, 1.0, 100, peak=5.0), result("b", 1, 0, 29, 70, 3.0, 100)]
    (r,) = aggregate(results)
    assert r["tpr"] == pytest.approx(10 / 40)  # pooled pixels, not the mean of 0.9 and 1/30
    assert np.isnan(r["precision_95"])  # no curve
    assert r["f1"] == pytest.approx(2 * 10 / (2 * 10 + 1 + 30))
    assert r["event_completeness"] == pytest.approx(0.5) and r["star_fp"] == 2
    assert r["s_per_mpix"] == pytest.approx(4.0 / 200e-6) and r["peak_mb"] == 10.0
    assert "| s | d |" in markdown_table([r]) and "–" in markdown_table([r])


def test_threshold_curves_add_up():
    thresholds = [0.0, 0.5]
    a = {"kind": "threshold", "thresholds": thresholds, "positives": [0, 2, 8], "negatives": [90, 0, 0]}
    b = {"kind": "threshold", "thresholds": thresholds, "positives": [0, 0, 10], "negatives": [80, 9, 1]}
    (r,) = aggregate([result("a", 8, 0, 2, 90, 1, 100, a), result("b", 10, 1, 0, 89, 1, 100, b)])
    np.testing.assert_array_equal(r["curve"].tp, [20, 18])
    np.testing.assert_array_equal(r["curve"].fp, [10, 1])
    assert r["curve"].positives == 20 and r["curve"].negatives == 180


def test_measure_sees_a_large_allocation():
    with measure() as m:
        block = np.ones(16 * 2**20 // 8 * 4)  # 64 MiB, touched
        block += 1
    del block
    assert m.peak_mb > 48 and m.wall_s > 0 and m.cores_used >= 0
