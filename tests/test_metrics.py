import numpy as np
import pytest

from crmask.bench.metrics import (
    DEFAULT_THRESHOLDS,
    Confusion,
    Curve,
    confusion,
    dilate_mask,
    dilate_score,
    event_completeness,
    precision_recall_curve,
    roc_curve,
    score_histogram,
    star_false_positives,
    threshold_at_fpr,
)

sklearn_metrics = pytest.importorskip("sklearn.metrics")


@pytest.fixture
def scored(rng):
    truth = rng.random((60, 70)) < 0.1
    score = np.clip(np.where(truth, 0.7, 0.3) + 0.25 * rng.standard_normal(truth.shape), 0, 1)
    score = np.round(score, 2)  # ties, as a real probability map has
    ignore = rng.random(truth.shape) < 0.05
    return truth, score, ignore


def test_roc_matches_sklearn(scored):
    truth, score, ignore = scored
    keep = ~ignore
    fpr, tpr, thr = roc_curve(truth, score, ignore)
    sk_fpr, sk_tpr, sk_thr = sklearn_metrics.roc_curve(truth[keep], score[keep], drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    np.testing.assert_allclose(thr[1:], sk_thr[1:])


def test_precision_recall_matches_sklearn(scored):
    truth, score, ignore = scored
    keep = ~ignore
    precision, recall, thr = precision_recall_curve(truth, score, ignore)
    sk_p, sk_r, sk_t = sklearn_metrics.precision_recall_curve(truth[keep], score[keep])
    np.testing.assert_allclose(thr, sk_t)
    np.testing.assert_allclose(precision, sk_p[:-1])
    np.testing.assert_allclose(recall, sk_r[:-1])


def test_confusion_scores_match_sklearn(scored):
    truth, score, ignore = scored
    pred = score >= 0.5
    c = confusion(truth, pred, ignore)
    keep = ~ignore
    assert c.f1 == pytest.approx(sklearn_metrics.f1_score(truth[keep], pred[keep]))
    assert c.iou == pytest.approx(sklearn_metrics.jaccard_score(truth[keep], pred[keep]))
    assert c.precision == pytest.approx(sklearn_metrics.precision_score(truth[keep], pred[keep]))
    assert c.fdr == pytest.approx(1 - c.precision)
    tn, fp, fn, tp = sklearn_metrics.confusion_matrix(truth[keep], pred[keep]).ravel()
    assert c.as_dict() == {"tp": tp, "fp": fp, "fn": fn, "tn": tn}


def test_hand_computed_confusion_and_dilation():
    truth = np.zeros((5, 5), bool)
    truth[2, 2] = True
    pred = np.zeros((5, 5), bool)
    pred[2, 3] = True  # off by one pixel
    c = confusion(truth, pred)
    assert c.as_dict() == {"tp": 0, "fp": 1, "fn": 1, "tn": 23}
    assert c.f1 == 0 and c.fdr == 1
    d = confusion(truth, pred, dilate=True)  # 3x3 around (2,2) vs 3x3 around (2,3): 6 shared
    assert d.as_dict() == {"tp": 6, "fp": 3, "fn": 3, "tn": 13}
    assert d.iou == pytest.approx(6 / 12)
    assert Confusion(1, 2, 3, 4) + Confusion(1, 1, 1, 1) == Confusion(2, 3, 4, 5)


def test_histogram_curve_and_dilated_score(scored):
    truth, score, ignore = scored
    thresholds = np.linspace(0, 1, 11)
    curve = Curve.from_histogram(*score_histogram(truth, score, thresholds, ignore), thresholds)
    for k, t in enumerate(thresholds):
        c = confusion(truth, score >= t, ignore)
        assert (curve.tp[k], curve.fp[k]) == (c.tp, c.fp)
    # thresholding the 3x3 max of the score equals dilating the thresholded mask
    dilated = Curve.from_histogram(*score_histogram(truth, score, thresholds, ignore, dilate=True), thresholds)
    c = confusion(truth, score >= 0.5, ignore, dilate=True)
    assert (dilated.tp[5], dilated.fp[5]) == (c.tp, c.fp)
    np.testing.assert_array_equal(dilate_score(score) >= 0.5, dilate_mask(score >= 0.5))


def test_tpr_at_fpr_and_precision_at_tpr_hand_computed():
    # 100 positives, 10000 negatives; three sweep points
    points = [Confusion(50, 0, 50, 10000), Confusion(80, 10, 20, 9990), Confusion(96, 100, 4, 9900)]
    curve = Curve.from_points(points)
    # FPR 1e-4 lies between (0, 0.5) and (1e-3, 0.8): 0.5 + 0.1 * 0.3
    assert curve.tpr_at_fpr(1e-4) == pytest.approx(0.53)
    assert curve.tpr_at_fpr(1e-3) == pytest.approx(0.8)
    assert curve.precision_at_tpr(0.95) == pytest.approx(96 / 196)
    assert np.isnan(curve.precision_at_tpr(0.99))
    # a dominated point does not lower the envelope
    worse = Curve.from_points(points + [Confusion(10, 5, 90, 9995)])
    assert worse.tpr_at_fpr(1e-4) == pytest.approx(0.53)
    with pytest.raises(ValueError, match="different pixels"):
        Curve.from_points([Confusion(1, 0, 0, 5), Confusion(1, 0, 1, 5)])


def test_tpr_at_fpr_against_sklearn_curve(scored):
    truth, score, ignore = scored
    keep = ~ignore
    values = np.unique(score[keep])
    curve = Curve.from_histogram(*score_histogram(truth, score, values, ignore), values)
    sk_fpr, sk_tpr, _ = sklearn_metrics.roc_curve(truth[keep], score[keep])
    for target in (0.01, 0.05, 0.2):
        assert curve.tpr_at_fpr(target) == pytest.approx(np.interp(target, sk_fpr, sk_tpr))


def test_event_completeness_hand_computed():
    truth = np.zeros((10, 10), bool)
    truth[1, 1:5] = True  # event A, 4 px
    truth[6:9, 6] = True  # event B, 3 px
    truth[8, 1] = True  # event C, 1 px, ignored
    pred = np.zeros_like(truth)
    pred[1, 1:3] = True  # 2 of 4: exactly half -> found
    pred[6, 6] = True  # 1 of 3 -> missed
    ignore = np.zeros_like(truth)
    ignore[8, 1] = True
    assert event_completeness(truth, pred, ignore) == (1, 2)
    assert event_completeness(truth, pred) == (1, 3)
    assert event_completeness(truth, pred, ignore, min_fraction=0.25) == (2, 2)
    diagonal = np.eye(4, dtype=bool)  # 8-connected: one event
    assert event_completeness(diagonal, diagonal) == (1, 1)


def test_event_completeness_counts_significant_events_by_their_brightest_pixel():
    truth = np.zeros((10, 10), bool)
    truth[1, 1:5] = True  # event A: 3σ wings, 40σ core
    truth[6, 6] = True  # event B: one pixel at 4.9σ
    truth[8, 1:3] = True  # event C: 5σ, its brightest pixel ignored
    significance = np.where(truth, 3.0, 0.0)
    significance[1, 2] = 40.0
    significance[6, 6] = 4.9
    significance[8, 1] = 5.0
    ignore = np.zeros_like(truth)
    pred = np.zeros_like(truth)
    pred[1, 1:3] = True
    assert event_completeness(truth, pred, significance=significance) == (1, 2)  # A and C
    assert event_completeness(truth, pred, significance=significance, min_significance=4.0) == (1, 3)
    ignore[8, 1] = True  # C's counted pixels peak at 3σ
    assert event_completeness(truth, pred, ignore, significance=significance) == (1, 1)
    with pytest.raises(ValueError, match="significance has shape"):
        event_completeness(truth, pred, significance=significance[:5])


def test_star_false_positives_hand_computed():
    truth = np.zeros((6, 6), bool)
    truth[2, 2] = True
    star = np.zeros_like(truth)
    star[1:4, 1:4] = True
    pred = np.zeros_like(truth)
    pred[2, 2] = pred[2, 3] = pred[0, 0] = True  # a CR hit, a star pixel, a sky pixel
    assert star_false_positives(truth, pred, star) == (1, 8)


def test_input_errors():
    truth = np.zeros((4, 4), bool)
    with pytest.raises(ValueError, match="shape"):
        confusion(truth, np.zeros((3, 4), bool))
    with pytest.raises(ValueError, match="boolean"):
        confusion(truth.astype(np.uint8), truth)
    with pytest.raises(ValueError, match="ignore shape"):
        score_histogram(truth, np.zeros((4, 4)), ignore=np.zeros((2, 2), bool))
    with pytest.raises(ValueError, match="increasing"):
        score_histogram(truth, np.zeros((4, 4)), thresholds=np.array([0.5, 0.1]))


def test_auc_and_average_precision_equal_sklearn_on_a_probability_map(scored):
    truth, score, ignore = scored
    keep = ~ignore
    values = np.unique(score[keep])
    curve = Curve.from_histogram(*score_histogram(truth, score, values, ignore), values)
    assert curve.auc() == pytest.approx(sklearn_metrics.roc_auc_score(truth[keep], score[keep]), abs=1e-12)
    assert curve.average_precision() == pytest.approx(
        sklearn_metrics.average_precision_score(truth[keep], score[keep]), abs=1e-12)


def test_auc_and_average_precision_of_a_sweep_hand_computed():
    # 100 positives, 10000 negatives; the last point is dominated and left out of the ROC area.
    points = [Confusion(50, 0, 50, 10000), Confusion(80, 10, 20, 9990), Confusion(96, 100, 4, 9900),
              Confusion(40, 500, 60, 9500)]
    curve = Curve.from_points(points)
    # (0,0) -> (0,.5) -> (.001,.8) -> (.01,.96) -> (1,1)
    area = 0.001 * (0.5 + 0.8) / 2 + 0.009 * (0.8 + 0.96) / 2 + 0.99 * (0.96 + 1.0) / 2
    assert curve.auc() == pytest.approx(area)
    # recall .96 (P 96/196), .8 (P 80/90), .5 (P 1), .4 (P 40/540)
    ap = 0.16 * 96 / 196 + 0.3 * 80 / 90 + 0.1 * 1.0 + 0.4 * 40 / 540
    assert curve.average_precision() == pytest.approx(ap)
    assert np.isnan(Curve.from_points([Confusion(0, 0, 5, 5)]).average_precision())


def test_tpr_at_fpr_of_a_probability_map_hand_computed(hand_made_scores):
    truth, probability, ignore, expected = hand_made_scores
    curve = Curve.from_histogram(*score_histogram(truth, probability, DEFAULT_THRESHOLDS, ignore),
                                 DEFAULT_THRESHOLDS)
    assert (curve.positives, curve.negatives) == (100, 10_000)
    assert curve.tpr_at_fpr(1e-4) == pytest.approx(expected, abs=1e-12)
    assert curve.tpr_at_fpr(1e-3) == 1.0
    exact = Curve.from_scores(truth, probability, ignore)
    assert exact.tpr_at_fpr(1e-4) == pytest.approx(expected, abs=1e-12)


def test_threshold_at_fpr_is_the_best_real_threshold_within_the_budget(hand_made_scores):
    truth, probability, ignore, _ = hand_made_scores
    fpr, tpr, thresholds = roc_curve(truth, probability, ignore)
    # 0.9555, 0.8555 and 0.6555 all keep 60% within 3e-4; the highest loses no cosmic ray and flags nothing clean
    threshold, rate, false_rate = threshold_at_fpr(fpr, tpr, thresholds, 3e-4)
    assert threshold == pytest.approx(0.9555) and rate == 0.6 and false_rate == 0.0
    threshold, rate, false_rate = threshold_at_fpr(fpr, tpr, thresholds, 4e-4)
    assert threshold == pytest.approx(0.5555) and rate == 1.0 and false_rate == pytest.approx(4e-4)
    flagged = (probability >= threshold) & ~ignore
    assert confusion(truth, flagged, ignore).fpr == false_rate  # the point is reached, not interpolated
    # the same choice from a Curve's points, in increasing order
    curve = Curve.from_scores(truth, probability, ignore)
    assert threshold_at_fpr(curve.fpr, curve.tpr, curve.thresholds, 4e-4) == (threshold, rate, false_rate)
    assert threshold_at_fpr(fpr, tpr, thresholds, 0.0) == (pytest.approx(0.9555), 0.6, 0.0)
    assert threshold_at_fpr(np.array([0.5]), np.array([0.5]), np.array([0.3]), 0.1) == (np.inf, 0.0, 0.0)
    with pytest.raises(ValueError, match="max_fpr"):
        threshold_at_fpr(fpr, tpr, thresholds, 1.5)
    with pytest.raises(ValueError, match="differ in length"):
        threshold_at_fpr(fpr, tpr[1:], thresholds, 0.1)
