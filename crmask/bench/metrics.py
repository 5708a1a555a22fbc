"""Pixel and event metrics of cosmic-ray masks against a known truth.

The definitions follow Bhavanam et al. (2022, §4): the true-positive
rate (TPR) at fixed false-positive rates (FPR) read off the ROC curve, the
precision at 95% TPR read off the precision-recall curve, and F1, IoU and
FDR at the detector's operating threshold, optionally after a 3×3 dilation
of the truth and of the prediction. Two measures the paper discusses but does
not tabulate are added: per-event completeness (the fraction of cosmic rays,
as connected groups of truth pixels, of which at least half the pixels were
found), also counted over the significant cosmic rays only (brightest pixel
at least `SIGNIFICANT_EVENT_SIGMA` times the noise, where the truth comes
from an injection of known charge), and false positives on stars (flagged
pixels inside stellar cores).

Every function takes an optional ``ignore`` mask: those pixels count for
nothing (neither positive nor negative, in no curve and no count).

One definition of the ROC serves the whole package (the benchmark, the
U-Net validation that writes a model card's ``tpr@1e-4``, and the X-ray
event filter's threshold choice): a threshold ``t`` flags every score
``>= t``, so tied scores are flagged together; the TPR quoted at a fixed FPR
(`Curve.tpr_at_fpr`) is read off the ROC envelope by linear interpolation,
while an operating threshold for a budget of false positives
(`threshold_at_fpr`) is a real threshold whose FPR is within the budget.

Curves are accumulated as counts so that results from many images add up
exactly: `score_histogram` bins a probability map on fixed thresholds, and a
`Curve` holds true- and false-positive counts per threshold (or per
parameter set, for detectors without a probability map, which are swept).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import ndimage

__all__ = [
    "Confusion",
    "Curve",
    "DEFAULT_THRESHOLDS",
    "dilate_mask",
    "dilate_score",
    "confusion",
    "score_histogram",
    "roc_curve",
    "precision_recall_curve",
    "threshold_at_fpr",
    "event_completeness",
    "SIGNIFICANT_EVENT_SIGMA",
    "star_false_positives",
]

_SQUARE = np.ones((3, 3), dtype=bool)

#: Significance (injected charge over the pixel's noise) of a cosmic ray's
#: brightest pixel from which it counts as a significant event: a test of
#: single pixels that keeps FPR at 1e-4 must cut at 3.72σ of Gaussian noise, and
#: finds a pixel with 3.72σ + 1.28σ ≈ 5σ of charge 90% of the time. A fainter
#: cosmic ray (the truth counts every pixel above 3σ, so many are single pixels
#: at 3-5σ) is not told from the noise at that FPR by any detector.
SIGNIFICANT_EVENT_SIGMA = 5.0

#: Probability thresholds at which ROC and PR curves are sampled: a linear
#: grid plus logarithmic grids towards 0 and 1, where well-trained networks
#: put most pixels.
DEFAULT_THRESHOLDS = np.unique(
    np.concatenate(
        [np.linspace(0.0, 1.0, 1001), np.logspace(-8, -3, 51), 1.0 - np.logspace(-8, -3, 51)]
    )
)


def _as_bool(mask: np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(mask)
    if array.dtype != bool:
        raise ValueError(f"{what} must be a boolean array, got dtype {array.dtype}")
    return array


def _check(truth: np.ndarray, other: np.ndarray, ignore: np.ndarray | None, what: str):
    truth = _as_bool(truth, "truth")
    other = np.asarray(other)
    if other.shape != truth.shape:
        raise ValueError(f"{what} shape {other.shape} does not match truth shape {truth.shape}")
    if ignore is None:
        ignore = np.zeros(truth.shape, dtype=bool)
    else:
        ignore = _as_bool(ignore, "ignore")
        if ignore.shape != truth.shape:
            raise ValueError(f"ignore shape {ignore.shape} does not match truth shape {truth.shape}")
    return truth, other, ignore


def dilate_mask(mask: np.ndarray) -> np.ndarray:
    """Grow a boolean mask by a 3×3 square (the dilation of Bhavanam et al. 2022)."""
    return ndimage.binary_dilation(_as_bool(mask, "mask"), structure=_SQUARE)


def dilate_score(score: np.ndarray) -> np.ndarray:
    """3×3 maximum filter of a score map.

    Thresholding the result at ``t`` equals dilating the mask ``score >= t``,
    so curves of dilated predictions come from one pass.
    """
    return ndimage.maximum_filter(np.asarray(score), size=3, mode="nearest")


@dataclass(frozen=True)
class Confusion:
    """Pixel counts of a binary prediction against the truth (ignored pixels excluded).

    Attributes
    ----------
    tp, fp, fn, tn : int
    """

    tp: int
    fp: int
    fn: int
    tn: int

    def __add__(self, other: "Confusion") -> "Confusion":
        return Confusion(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn)

    @property
    def positives(self) -> int:
        """Truth cosmic-ray pixels."""
        return self.tp + self.fn

    @property
    def negatives(self) -> int:
        """Truth clean pixels."""
        return self.fp + self.tn

    @property
    def tpr(self) -> float:
        """Recall, ``TP / (TP + FN)``."""
        return _ratio(self.tp, self.tp + self.fn)

    recall = tpr

    @property
    def fpr(self) -> float:
        """``FP / (FP + TN)``."""
        return _ratio(self.fp, self.fp + self.tn)

    @property
    def precision(self) -> float:
        """``TP / (TP + FP)``."""
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def f1(self) -> float:
        """``2 TP / (2 TP + FP + FN)``."""
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    @property
    def iou(self) -> float:
        """``TP / (TP + FP + FN)``."""
        return _ratio(self.tp, self.tp + self.fp + self.fn)

    @property
    def fdr(self) -> float:
        """False discovery rate, ``FP / (TP + FP)``."""
        return _ratio(self.fp, self.tp + self.fp)

    def as_dict(self) -> dict[str, int]:
        """The four counts as a dict."""
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn}


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else float("nan")


def confusion(
    truth: np.ndarray, pred: np.ndarray, ignore: np.ndarray | None = None, dilate: bool = False
) -> Confusion:
    """Count true/false positives/negatives of ``pred`` against ``truth``.

    Parameters
    ----------
    truth, pred : numpy.ndarray
        Boolean masks of one shape.
    ignore : numpy.ndarray, optional
        Boolean mask of pixels left out of every count.
    dilate : bool
        Dilate both masks by 3×3 first.

    Returns
    -------
    Confusion
    """
    truth, pred, ignore = _check(truth, pred, ignore, "prediction")
    pred = _as_bool(pred, "prediction")
    if dilate:
        truth, pred = dilate_mask(truth), dilate_mask(pred)
    keep = ~ignore
    tp = int(np.count_nonzero(truth & pred & keep))
    fp = int(np.count_nonzero(~truth & pred & keep))
    fn = int(np.count_nonzero(truth & ~pred & keep))
    tn = int(np.count_nonzero(keep)) - tp - fp - fn
    return Confusion(tp, fp, fn, tn)


def score_histogram(
    truth: np.ndarray,
    score: np.ndarray,
    thresholds: np.ndarray = DEFAULT_THRESHOLDS,
    ignore: np.ndarray | None = None,
    dilate: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Count positive and negative pixels per score bin.

    Bin ``k + 1`` holds the pixels with ``thresholds[k] <= score <
    thresholds[k + 1]`` (the last bin is open above) and bin 0 those below
    ``thresholds[0]``, so the pixels flagged at threshold ``thresholds[k]``
    are the bins ``k + 1`` onwards. Histograms of several images add up.

    Parameters
    ----------
    truth : numpy.ndarray
        Boolean truth mask.
    score : numpy.ndarray
        Cosmic-ray score (probability) per pixel; NaN counts as the lowest score.
    thresholds : numpy.ndarray
        Increasing thresholds.
    ignore : numpy.ndarray, optional
        Pixels to leave out.
    dilate : bool
        Dilate the truth by 3×3 and take the 3×3 maximum of the score.

    Returns
    -------
    positives, negatives : numpy.ndarray
        int64 counts of length ``len(thresholds) + 1``.
    """
    truth, score, ignore = _check(truth, score, ignore, "score")
    thresholds = np.asarray(thresholds, dtype=np.float64)
    if thresholds.ndim != 1 or np.any(np.diff(thresholds) <= 0):
        raise ValueError("thresholds must be a strictly increasing 1-D array")
    score = np.nan_to_num(np.asarray(score, dtype=np.float64), nan=-np.inf)
    if dilate:
        truth, score = dilate_mask(truth), dilate_score(score)
    keep = ~ignore
    bins = np.searchsorted(thresholds, score[keep], side="right")
    labels = truth[keep]
    size = len(thresholds) + 1
    positives = np.bincount(bins[labels], minlength=size).astype(np.int64)
    negatives = np.bincount(bins[~labels], minlength=size).astype(np.int64)
    return positives, negatives


@dataclass(frozen=True)
class Curve:
    """True- and false-positive counts at a series of operating points.

    For a probability map the points are thresholds (`from_histogram`); for a
    detector without one they are parameter sets of a sweep (`from_points`).

    Attributes
    ----------
    tp, fp : numpy.ndarray
        Counts at each point.
    positives, negatives : int
        Totals of truth positive and negative pixels.
    thresholds : numpy.ndarray or None
        Threshold of each point, for probability maps.
    """

    tp: np.ndarray
    fp: np.ndarray
    positives: int
    negatives: int
    thresholds: np.ndarray | None = None

    @classmethod
    def from_histogram(cls, positives: np.ndarray, negatives: np.ndarray, thresholds: np.ndarray) -> "Curve":
        """Build the curve of thresholded scores from `score_histogram` counts."""
        positives, negatives = np.asarray(positives), np.asarray(negatives)
        tp = np.cumsum(positives[::-1])[::-1][1:]
        fp = np.cumsum(negatives[::-1])[::-1][1:]
        return cls(tp=tp, fp=fp, positives=int(positives.sum()), negatives=int(negatives.sum()),
                   thresholds=np.asarray(thresholds, dtype=np.float64))

    @classmethod
    def from_scores(
        cls,
        truth: np.ndarray,
        score: np.ndarray,
        ignore: np.ndarray | None = None,
        thresholds: np.ndarray | None = None,
    ) -> "Curve":
        """Build the curve of one score map, at ``thresholds`` or, by default, at every distinct score.

        Parameters
        ----------
        truth : numpy.ndarray
            Boolean truth.
        score : numpy.ndarray
            Score per pixel (or per event) of the same shape.
        ignore : numpy.ndarray, optional
            Pixels to leave out.
        thresholds : numpy.ndarray, optional
            Increasing thresholds; `None` gives the exact curve, one point
            per distinct score that is not ignored.
        """
        truth, score, ignore = _check(truth, score, ignore, "score")
        if thresholds is None:
            thresholds = np.unique(np.asarray(score, dtype=np.float64)[~ignore])
        return cls.from_histogram(*score_histogram(truth, score, thresholds, ignore), thresholds)

    @classmethod
    def from_points(cls, points: Sequence[Confusion]) -> "Curve":
        """Build a curve from the confusion counts of a parameter sweep (one total for all)."""
        if not points:
            raise ValueError("a curve needs at least one point")
        totals = {(p.positives, p.negatives) for p in points}
        if len(totals) != 1:
            raise ValueError("sweep points were counted on different pixels")
        positives, negatives = totals.pop()
        return cls(tp=np.array([p.tp for p in points]), fp=np.array([p.fp for p in points]),
                   positives=positives, negatives=negatives)

    @property
    def tpr(self) -> np.ndarray:
        """True-positive rate (recall) at each point."""
        return self.tp / self.positives if self.positives else np.full(self.tp.shape, np.nan)

    @property
    def fpr(self) -> np.ndarray:
        """False-positive rate at each point."""
        return self.fp / self.negatives if self.negatives else np.full(self.fp.shape, np.nan)

    @property
    def precision(self) -> np.ndarray:
        """Precision at each point (NaN where nothing is flagged)."""
        flagged = self.tp + self.fp
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(flagged > 0, self.tp / np.maximum(flagged, 1), np.nan)

    def roc(self) -> tuple[np.ndarray, np.ndarray]:
        """The ROC curve through its non-dominated points, ``(fpr, tpr)``, from (0, 0) to (1, 1).

        Points are sorted by FPR; a point whose TPR does not exceed that of a
        point at the same or a lower FPR is dropped, since a detector can
        always be run at the better setting.
        """
        fpr = np.concatenate([[0.0], self.fpr, [1.0]])
        tpr = np.concatenate([[0.0], self.tpr, [1.0]])
        finite = np.isfinite(fpr) & np.isfinite(tpr)
        fpr, tpr = fpr[finite], tpr[finite]
        order = np.lexsort((-tpr, fpr))
        fpr, tpr = fpr[order], tpr[order]
        best_before = np.maximum.accumulate(np.r_[-np.inf, tpr[:-1]])
        keep = tpr > best_before
        return fpr[keep], tpr[keep]

    def auc(self) -> float:
        """Area under the ROC curve, by the trapezoidal rule from (0, 0) to (1, 1).

        For a probability map the curve goes through every threshold, so the
        area is `sklearn.metrics.roc_auc_score`'s on the same scores; for a
        parameter sweep it goes through the non-dominated settings (`roc`),
        with straight lines between them and to the ends. Most of the area
        lies at false-positive rates far above any a user would accept; read
        it together with `tpr_at_fpr`.
        """
        if self.thresholds is None:
            fpr, tpr = self.roc()
        else:
            fpr = np.concatenate([[0.0], self.fpr, [1.0]])
            tpr = np.concatenate([[0.0], self.tpr, [1.0]])
            finite = np.isfinite(fpr) & np.isfinite(tpr)
            order = np.lexsort((tpr[finite], fpr[finite]))
            fpr, tpr = fpr[finite][order], tpr[finite][order]
        return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))

    def average_precision(self) -> float:
        """Average precision: the precision at each point weighted by the recall it adds.

        ``AP = sum_n (R_n - R_{n+1}) P_n`` over the points by decreasing
        recall ``R`` (ending at ``R = 0``), taking the highest precision ``P``
        among points of equal recall; points that flag nothing are left out.
        For a probability map this is `sklearn.metrics.average_precision_score`
        (no interpolation); NaN when no point flags anything.
        """
        recall, precision = self.tpr, self.precision
        ok = np.isfinite(recall) & np.isfinite(precision)
        if not ok.any():
            return float("nan")
        order = np.lexsort((precision[ok], -recall[ok]))
        recall, precision = recall[ok][order], precision[ok][order]
        return float(np.sum((recall - np.concatenate([recall[1:], [0.0]])) * precision))

    def tpr_at_fpr(self, target: float) -> float:
        """TPR at an FPR of ``target``, linearly interpolated on the ROC envelope (`roc`).

        This is the quantity of the benchmark's ``TPR@FPR`` columns and of a
        U-Net model card's ``tpr@1e-4``: between two points of the envelope
        it is the TPR of flagging at one threshold or the other at random in
        the proportion that gives an FPR of ``target`` (Fawcett 2006).
        """
        fpr, tpr = self.roc()
        return float(np.interp(target, fpr, tpr))

    def precision_at_tpr(self, target: float = 0.95) -> float:
        """Highest precision among points with ``TPR >= target`` (NaN when none reaches it)."""
        ok = self.tpr >= target
        precision = self.precision[ok]
        precision = precision[np.isfinite(precision)]
        return float(precision.max()) if precision.size else float("nan")


def roc_curve(
    truth: np.ndarray, score: np.ndarray, ignore: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact ROC curve at every distinct score (as `sklearn.metrics.roc_curve` with ``drop_intermediate=False``).

    Returns
    -------
    fpr, tpr, thresholds : numpy.ndarray
        Decreasing thresholds, the first being ``inf`` (nothing flagged).
    """
    curve = Curve.from_scores(truth, score, ignore)
    tpr = np.concatenate([[0.0], curve.tpr[::-1]])
    fpr = np.concatenate([[0.0], curve.fpr[::-1]])
    return fpr, tpr, np.concatenate([[np.inf], curve.thresholds[::-1]])


def precision_recall_curve(
    truth: np.ndarray, score: np.ndarray, ignore: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact precision-recall pairs at every distinct score, by increasing threshold.

    Returns
    -------
    precision, recall, thresholds : numpy.ndarray
        Without scikit-learn's appended ``(1, 0)`` end point.
    """
    curve = Curve.from_scores(truth, score, ignore)
    return curve.precision, curve.tpr, curve.thresholds


def threshold_at_fpr(
    fpr: np.ndarray, tpr: np.ndarray, thresholds: np.ndarray, max_fpr: float
) -> tuple[float, float, float]:
    """The operating threshold of highest TPR among those with an FPR of at most ``max_fpr``.

    Among the points within the budget the one of highest TPR is taken; of
    equal TPRs the one of lowest FPR (it loses no true positive and flags
    fewer false ones), and of equal points the highest threshold. Unlike
    `Curve.tpr_at_fpr` nothing is interpolated: flagging ``score >=
    threshold`` gives back the point returned.

    Parameters
    ----------
    fpr, tpr, thresholds : numpy.ndarray
        Points of a curve in any order: `roc_curve`'s output, or a `Curve`'s
        ``fpr``, ``tpr`` and ``thresholds``.
    max_fpr : float
        Largest false-positive rate allowed, in [0, 1].

    Returns
    -------
    threshold, tpr, fpr : float
        The point chosen; ``(inf, 0, 0)`` (flag nothing) when no point is
        within the budget or none flags a true positive.

    Raises
    ------
    ValueError
        If ``max_fpr`` is outside [0, 1] or the arrays differ in length.

    Examples
    --------
    >>> fpr, tpr, thresholds = roc_curve(np.array([True, True, False, False]), np.array([0.9, 0.4, 0.6, 0.1]))
    >>> threshold_at_fpr(fpr, tpr, thresholds, 0.25)
    (0.9, 0.5, 0.0)
    >>> threshold_at_fpr(fpr, tpr, thresholds, 0.5)
    (0.4, 1.0, 0.5)
    """
    if not 0.0 <= max_fpr <= 1.0:
        raise ValueError(f"max_fpr must be in [0, 1], got {max_fpr}")
    fpr, tpr, thresholds = (np.asarray(a, dtype=np.float64).ravel() for a in (fpr, tpr, thresholds))
    if not fpr.size == tpr.size == thresholds.size:
        raise ValueError(f"fpr, tpr and thresholds differ in length ({fpr.size}, {tpr.size}, {thresholds.size})")
    allowed = np.flatnonzero(np.isfinite(tpr) & (fpr <= max_fpr) & (tpr > 0))
    if not allowed.size:
        return float("inf"), 0.0, 0.0
    best = allowed[np.lexsort((-thresholds[allowed], fpr[allowed], -tpr[allowed]))[0]]
    return float(thresholds[best]), float(tpr[best]), float(fpr[best])


def event_completeness(
    truth: np.ndarray,
    pred: np.ndarray,
    ignore: np.ndarray | None = None,
    min_fraction: float = 0.5,
    dilate: bool = False,
    significance: np.ndarray | None = None,
    min_significance: float = SIGNIFICANT_EVENT_SIGMA,
) -> tuple[int, int]:
    """Count cosmic rays of which at least ``min_fraction`` of the pixels were found.

    A cosmic ray is an 8-connected group of truth pixels; its ignored pixels
    do not count, and a group made only of ignored pixels is left out.

    Parameters
    ----------
    truth, pred : numpy.ndarray
        Boolean masks.
    ignore : numpy.ndarray, optional
        Pixels to leave out.
    min_fraction : float
        Fraction of a cosmic ray's pixels that must be flagged.
    dilate : bool
        Dilate both masks by 3×3 first.
    significance : numpy.ndarray, optional
        Significance of each truth pixel (injected charge over the noise,
        `crmask.bench.BenchImage.significance`). When given, only the cosmic
        rays whose brightest counted pixel reaches ``min_significance`` are
        counted.
    min_significance : float
        See ``significance``; default `SIGNIFICANT_EVENT_SIGMA`.

    Returns
    -------
    found, total : int

    Examples
    --------
    Two cosmic rays, one a single pixel at 4σ:

    >>> import numpy as np
    >>> truth = np.zeros((5, 8), bool); truth[1, 1:4] = True; truth[3, 6] = True
    >>> significance = np.where(truth, 20.0, 0.0); significance[3, 6] = 4.0
    >>> pred = truth.copy(); pred[3, 6] = False
    >>> event_completeness(truth, pred)
    (1, 2)
    >>> event_completeness(truth, pred, significance=significance)
    (1, 1)
    """
    truth, pred, ignore = _check(truth, pred, ignore, "prediction")
    pred = _as_bool(pred, "prediction")
    if not 0 < min_fraction <= 1:
        raise ValueError(f"min_fraction must be in (0, 1], got {min_fraction}")
    if significance is not None:
        significance = np.asarray(significance, dtype=np.float64)
        if significance.shape != truth.shape:
            raise ValueError(f"significance has shape {significance.shape}, the truth has {truth.shape}")
    if dilate:
        truth, pred = dilate_mask(truth), dilate_mask(pred)
    labels, n = ndimage.label(truth, structure=_SQUARE)
    if n == 0:
        return 0, 0
    counted = labels * ~ignore
    size = np.bincount(counted.ravel(), minlength=n + 1)[1:]
    hit = np.bincount((counted * pred).ravel(), minlength=n + 1)[1:]
    present = size > 0
    if significance is not None:
        peak = np.zeros(n + 1)
        np.maximum.at(peak, counted.ravel(), significance.ravel())
        present &= peak[1:] >= min_significance
    found = present & (hit >= min_fraction * size)
    return int(found.sum()), int(present.sum())


def star_false_positives(
    truth: np.ndarray,
    pred: np.ndarray,
    starmask: np.ndarray,
    ignore: np.ndarray | None = None,
    dilate: bool = False,
) -> tuple[int, int]:
    """Count flagged clean pixels inside stellar cores.

    Parameters
    ----------
    truth, pred, starmask : numpy.ndarray
        Boolean masks; ``starmask`` marks stellar cores.
    ignore : numpy.ndarray, optional
        Pixels to leave out.
    dilate : bool
        Dilate the truth and the prediction by 3×3 first.

    Returns
    -------
    false_positives, star_pixels : int
        Flagged pixels in ``starmask`` that are not cosmic rays, and the number
        of star pixels that could have been flagged so.
    """
    truth, pred, ignore = _check(truth, pred, ignore, "prediction")
    pred = _as_bool(pred, "prediction")
    starmask = _as_bool(starmask, "starmask")
    if starmask.shape != truth.shape:
        raise ValueError(f"starmask shape {starmask.shape} does not match truth shape {truth.shape}")
    if dilate:
        truth, pred = dilate_mask(truth), dilate_mask(pred)
    clean_star = starmask & ~truth & ~ignore
    return int(np.count_nonzero(pred & clean_star)), int(np.count_nonzero(clean_star))
