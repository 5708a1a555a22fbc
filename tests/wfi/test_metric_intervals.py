"""95% intervals of the WFI event metrics: Wilson for proportions, bootstrap for the FOR improvement."""

import numpy as np
import pytest
from astropy.table import Table

from crmask_wfi.report.metrics import (
    event_metrics,
    for_improvement_interval,
    metrics_table,
    wilson_interval,
)


def wilson_by_hand(k, n, z=1.959963984540054):
    """Wilson (1927), eq. for the score interval."""
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return centre - half, centre + half


@pytest.mark.parametrize("k, n", [(0, 50), (3, 200), (50, 100), (134, 13886)])
def test_wilson_interval_is_the_score_interval(k, n):
    assert wilson_interval(k, n) == pytest.approx(wilson_by_hand(k, n), rel=1e-9, abs=1e-12)


def test_wilson_interval_of_nothing_is_nan():
    assert np.isnan(wilson_interval(0, 0)).all()


def events(n_cr, n_xray, cr_flagged, xray_flagged, energy=2.0):
    """A truth-matched event table: ``n_cr`` CR and ``n_xray`` X-ray events, the first ones flagged."""
    truth = ["cr"] * n_cr + ["xray"] * n_xray
    flag = [i < cr_flagged for i in range(n_cr)] + [i < xray_flagged for i in range(n_xray)]
    n = n_cr + n_xray
    return Table({"FRAME": np.arange(n), "X": np.zeros(n, int), "Y": np.zeros(n, int),
                  "ENERGY": np.full(n, energy), "TRUE_CLASS": truth, "CR_FLAG": flag})


def test_metrics_table_has_intervals_around_each_rate():
    reference = events(200, 10000, 0, 100)
    better = reference.copy()
    better["CR_FLAG"][:100] = True  # half the CRs rejected: FOR improvement about 50%
    table = metrics_table({"classic": reference, "ml": better}, bands=[(0.3, 10.0)])
    row = table[table["FILTER"] == "ml"][0]
    for rate in ("LOST_XRAY", "FOR", "FOR_IMPROVEMENT"):
        assert row[f"{rate}_LO"] < row[rate] < row[f"{rate}_HI"]
    m = event_metrics(better, (0.3, 10.0))
    assert (row["FOR_LO"], row["FOR_HI"]) == pytest.approx(
        tuple(100 * np.array(wilson_by_hand(m.fn, m.fn + m.tn))))
    ref_row = table[table["FILTER"] == "classic"][0]
    assert ref_row["FOR_IMPROVEMENT_LO"] == ref_row["FOR_IMPROVEMENT_HI"] == 0.0  # paired with itself


def test_for_improvement_interval_covers_the_truth_and_shrinks_with_more_events():
    widths = []
    for scale in (1, 16):
        reference = events(100 * scale, 10000 * scale, 0, 0)
        better = reference.copy()
        better["CR_FLAG"][: 50 * scale] = True
        low, high = for_improvement_interval(better, reference, (0.3, 10.0))
        assert low < 0.5 < high
        widths.append(high - low)
    assert widths[1] == pytest.approx(widths[0] / 4, rel=0.35)  # 1/sqrt(n)


def test_unpaired_tables_are_resampled_independently():
    reference = events(100, 10000, 0, 0)
    other = events(100, 9000, 50, 0)  # other events: no pairing possible
    low, high = for_improvement_interval(other, reference, (0.3, 10.0))
    assert low < 1 - (50 / 9050) / (100 / 10100) < high
