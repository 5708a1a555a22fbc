"""ROC of the event classifier and the choice of the operating threshold."""

import numpy as np
import pytest

from crmask_wfi.report.roc import choose_threshold, plot_roc, roc_curve


def test_roc_points_on_a_hand_made_ranking():
    # Scores: CRs at 0.9, 0.6, 0.6; X-rays at 0.6, 0.3, 0.2, 0.1, 0.1.
    p = np.array([0.9, 0.6, 0.6, 0.6, 0.3, 0.2, 0.1, 0.1])
    cr = np.array([1, 1, 1, 0, 0, 0, 0, 0], bool)
    curve = roc_curve(p, cr)
    np.testing.assert_array_equal(curve.threshold, [np.inf, 0.9, 0.6, 0.3, 0.2, 0.1])
    np.testing.assert_allclose(curve.cr_completeness, [0, 1 / 3, 1, 1, 1, 1])
    np.testing.assert_allclose(curve.lost_xray, [0, 0, 1 / 5, 2 / 5, 3 / 5, 1])


def test_threshold_is_the_most_complete_point_within_the_loss_budget():
    p = np.array([0.9, 0.6, 0.6, 0.6, 0.3, 0.2, 0.1, 0.1])
    cr = np.array([1, 1, 1, 0, 0, 0, 0, 0], bool)
    curve = roc_curve(p, cr)
    assert choose_threshold(curve, 0.2) == pytest.approx((0.6, 1.0, 0.2))
    assert choose_threshold(curve, 0.19) == pytest.approx((0.9, 1 / 3, 0.0))
    # Flagging with the chosen threshold reproduces the ROC point.
    threshold, completeness, lost = choose_threshold(curve, 0.45)
    flagged = p >= threshold
    assert flagged[cr].mean() == completeness and flagged[~cr].mean() == lost


def test_no_qualifying_point_flags_nothing():
    p = np.array([0.8, 0.9])
    cr = np.array([True, False])
    threshold, completeness, lost = choose_threshold(roc_curve(p, cr), 0.0)
    assert threshold > 0.9 and completeness == 0 and lost == 0


def test_one_class_only_raises():
    with pytest.raises(ValueError, match="both classes"):
        roc_curve(np.array([0.1, 0.2]), np.array([False, False]))


def test_roc_plot_is_written(tmp_path, rng):
    p = rng.uniform(size=200)
    cr = p + rng.normal(0, 0.3, 200) > 0.8
    curve = roc_curve(p, cr)
    path = tmp_path / "roc.png"
    plot_roc(curve, choose_threshold(curve, 0.05), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
