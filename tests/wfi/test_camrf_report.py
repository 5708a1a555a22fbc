"""Per-energy-bin comparison of event filters (Poliszczuk et al. 2024, Figs. 3 and 4)."""

import numpy as np
import pytest
from astropy.table import Table

from crmask_wfi.report.figures import binned_metrics, plot_filter_comparison
from crmask_wfi.report.metrics import wilson_interval


def _tables():
    # Bin 1-2 keV: 8 X-rays + 2 CRs; bin 5-6 keV: 4 X-rays + 1 CR.
    energy = np.array([1.5] * 10 + [5.5] * 5)
    truth = np.array(["xray"] * 8 + ["cr"] * 2 + ["xray"] * 4 + ["cr"])
    classic = Table({"ENERGY": energy, "TRUE_CLASS": truth, "CR_FLAG": np.zeros(15, bool)})
    ml_flag = np.zeros(15, bool)
    ml_flag[8] = True   # one of the two 1-2 keV CRs rejected
    ml_flag[0] = True   # one X-ray lost in 1-2 keV
    ml = Table({"ENERGY": energy, "TRUE_CLASS": truth, "CR_FLAG": ml_flag})
    return {"classic": classic, "ml": ml}


def test_binned_metrics_by_hand():
    numbers = binned_metrics(_tables(), bins=np.array([1.0, 2.0, 5.0, 6.0]))
    ml = numbers[numbers["FILTER"] == "ml"]
    classic = numbers[numbers["FILTER"] == "classic"]
    assert list(classic["UNREJECTED_CR"]) == [2, 0, 1] and list(ml["UNREJECTED_CR"]) == [1, 0, 1]
    # 1-2 keV: FOR classic 2/10, ml 1/8 -> improvement 1 - (1/8)/(2/10) = 0.375; lost X-rays 1/8.
    assert ml["FOR_IMPROVEMENT"][0] == pytest.approx(0.375)
    assert ml["LOST_XRAY"][0] == pytest.approx(1 / 8)
    assert np.isnan(ml["FOR_IMPROVEMENT"][1])  # empty bin
    assert ml["FOR_IMPROVEMENT"][2] == pytest.approx(0.0)


def test_binned_metrics_have_intervals():
    numbers = binned_metrics(_tables(), bins=np.array([1.0, 2.0, 5.0, 6.0]))
    ml = numbers[numbers["FILTER"] == "ml"]
    assert (ml["LOST_XRAY_LO"][0], ml["LOST_XRAY_HI"][0]) == pytest.approx(wilson_interval(1, 8))
    assert (ml["FOR_LO"][0], ml["FOR_HI"][0]) == pytest.approx(wilson_interval(1, 8))
    assert ml["FOR_IMPROVEMENT_LO"][0] < 0.375 < ml["FOR_IMPROVEMENT_HI"][0]
    assert np.isnan(ml["FOR_IMPROVEMENT_LO"][1])  # empty bin


def test_plot_is_written(tmp_path):
    path = tmp_path / "fig3.png"
    numbers = plot_filter_comparison(_tables(), 10, (512, 512), path)
    assert path.read_bytes()[:4] == b"\x89PNG" and len(numbers) == 2 * 10
