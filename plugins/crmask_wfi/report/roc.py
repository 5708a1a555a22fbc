"""ROC of the event classifier and the choice of its operating threshold (Poliszczuk et al. 2024, §3.4, Fig. 2).

The ROC pairs, for every threshold ``t`` on ``P_CR`` (flag when
``P_CR >= t``), the completeness of the cosmic-ray class (recall, true
positive rate) with the fraction of X-ray events lost (false positive rate,
eq. 6). The operating threshold is the one that keeps the most cosmic rays
while losing at most ``max_lost_xray`` of the X-rays on a validation set.
Both are `crmask.bench.metrics`'s (`~crmask.bench.metrics.roc_curve`,
`~crmask.bench.metrics.threshold_at_fpr`), the definitions the image detectors'
benchmark uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crmask.bench.metrics import roc_curve as _roc_curve
from crmask.bench.metrics import threshold_at_fpr

__all__ = ["RocCurve", "roc_curve", "choose_threshold", "plot_roc"]


@dataclass(frozen=True)
class RocCurve:
    """Points of a ROC curve, by decreasing threshold.

    Attributes
    ----------
    threshold : numpy.ndarray
        Thresholds on ``P_CR`` (the first is above every score: nothing flagged).
    cr_completeness : numpy.ndarray
        Fraction of cosmic-ray events flagged (recall, TPR).
    lost_xray : numpy.ndarray
        Fraction of X-ray events flagged (FPR).
    """

    threshold: np.ndarray
    cr_completeness: np.ndarray
    lost_xray: np.ndarray


def roc_curve(p_cr: np.ndarray, is_cr: np.ndarray) -> RocCurve:
    """ROC of scores ``p_cr`` against the truth ``is_cr``.

    Raises
    ------
    ValueError
        If either class is absent.
    """
    is_cr = np.asarray(is_cr, dtype=bool)
    n_cr, n_x = int(is_cr.sum()), int((~is_cr).sum())
    if n_cr == 0 or n_x == 0:
        raise ValueError(f"a ROC needs both classes; got {n_cr} cosmic-ray and {n_x} X-ray events")
    lost, completeness, threshold = _roc_curve(is_cr, np.asarray(p_cr, dtype=np.float64))
    return RocCurve(threshold=threshold, cr_completeness=completeness, lost_xray=lost)


def choose_threshold(curve: RocCurve, max_lost_xray: float) -> tuple[float, float, float]:
    """The threshold of highest CR completeness that loses at most ``max_lost_xray`` of the X-rays.

    Of thresholds with equal completeness the one that loses the fewest
    X-rays is taken (`crmask.bench.metrics.threshold_at_fpr`).

    Returns
    -------
    threshold, cr_completeness, lost_xray : float
        The threshold and the ROC point it gives. A threshold above every
        score (1 + the largest) is returned when no point qualifies.
    """
    threshold, completeness, lost = threshold_at_fpr(curve.lost_xray, curve.cr_completeness, curve.threshold,
                                                     max_lost_xray)
    if not np.isfinite(threshold):
        threshold = 1.0 + float(curve.threshold[1]) if len(curve.threshold) > 1 else 1.0
    return threshold, completeness, lost


def plot_roc(curve: RocCurve, operating_point: tuple[float, float, float], path, *, title: str = "") -> None:
    """Draw the ROC (CR completeness vs lost X-ray signal) with the operating point, as PNG.

    Parameters
    ----------
    curve : RocCurve
    operating_point : tuple of float
        ``(threshold, cr_completeness, lost_xray)`` from `choose_threshold`.
    path : str or Path
        Output PNG file.
    title : str
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    threshold, completeness, lost = operating_point
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    ax.plot(100 * curve.lost_xray, 100 * curve.cr_completeness, color="C0", label="CAM + random forest")
    diagonal = np.linspace(0, 100, 1001)  # dense, so that it stays straight on the symlog axis
    ax.plot(diagonal, diagonal, color="C3", lw=0.8, ls="--", label="random")
    ax.plot(100 * lost, 100 * completeness, "o", color="C1",
            label=f"threshold {threshold:.3f}: {100 * completeness:.1f}% CR, {100 * lost:.2f}% lost X-rays")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    ax.set_xlabel("lost X-ray signal (FPR) [%]")
    ax.set_ylabel("cosmic-ray completeness (recall) [%]")
    ax.set_title(title or "Event classifier ROC")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
