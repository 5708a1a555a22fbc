"""The ten event features of the CAM + random forest filter (Poliszczuk et al. 2024, §4.2).

For each reconstructed event the 5×5 windows of the X-ray and cosmic-ray
class activation maps centred on its brightest pixel give, with the event
energy and the network's X-ray and CR probabilities for the sub-frame holding
the event:

=====  ==================  =================================================
index  name                definition
=====  ==================  =================================================
0      ``ENERGY``          reconstructed event energy (keV)
1      ``NN_P_XRAY``       softmax probability of the X-ray-only class
2      ``NN_P_CR``         softmax probability of the CR-only class
3      ``MAX_CAM_X``       max CAM_x in the window
4      ``MAX_CAM_CR``      max CAM_cr
5      ``MEDIAN_CAM_CR``   median CAM_cr
6      ``F1``              max CAM_cr − min CAM_x
7      ``F2``              max CAM_cr / max CAM_x − min CAM_cr / min CAM_x
8      ``F3``              max CAM_cr / max CAM_x − min CAM_cr / max CAM_x
9      ``F4``              max CAM_cr / min CAM_x − min CAM_cr / max CAM_x
=====  ==================  =================================================

``F1``–``F4`` are eq. 9 of Poliszczuk et al. (2024). CAM values have either sign and may be
zero, so every division goes through `guarded_ratio`, which keeps the sign of
the denominator and bounds its magnitude below by `RATIO_EPS`. Window pixels
outside the frame are left out of the statistics.

Only numpy is needed here.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FEATURE_NAMES", "RATIO_EPS", "WINDOW_HALF_WIDTH", "guarded_ratio", "window_offsets",
           "event_features"]

#: Feature names, in the order of the columns of `event_features`.
FEATURE_NAMES = (
    "ENERGY", "NN_P_XRAY", "NN_P_CR", "MAX_CAM_X", "MAX_CAM_CR", "MEDIAN_CAM_CR", "F1", "F2", "F3", "F4",
)

#: Smallest denominator magnitude in `guarded_ratio` (CAM units, i.e. logit contributions).
RATIO_EPS = 1e-6

#: Half-size of the CAM window: 5×5 around the event centre (Poliszczuk et al. 2024, §3.3).
WINDOW_HALF_WIDTH = 2


def guarded_ratio(numerator: np.ndarray, denominator: np.ndarray, eps: float = RATIO_EPS) -> np.ndarray:
    """``numerator / denominator`` with ``|denominator|`` bounded below by ``eps``.

    The denominator keeps its sign (zero counts as positive), so the ratio
    stays finite and monotonic in the numerator.

    Examples
    --------
    >>> guarded_ratio(np.array([1.0, 1.0, 1.0]), np.array([2.0, 0.0, -1e-9]), eps=1e-3)
    array([    0.5,  1000. , -1000. ])
    """
    denominator = np.asarray(denominator, dtype=np.float64)
    sign = np.where(denominator < 0, -1.0, 1.0)
    return np.asarray(numerator, dtype=np.float64) / (sign * np.maximum(np.abs(denominator), eps))


def window_offsets(half_width: int = WINDOW_HALF_WIDTH) -> tuple[np.ndarray, np.ndarray]:
    """Row and column offsets of the pixels of a square window, shape ``((2h+1)**2,)`` each."""
    steps = np.arange(-half_width, half_width + 1)
    dy, dx = np.meshgrid(steps, steps, indexing="ij")
    return dy.ravel(), dx.ravel()


def event_features(
    energy: np.ndarray,
    p_xray: np.ndarray,
    p_cr: np.ndarray,
    cam_x_window: np.ndarray,
    cam_cr_window: np.ndarray,
) -> np.ndarray:
    """Build the feature matrix of the event classifier.

    Parameters
    ----------
    energy : numpy.ndarray, shape (n,)
        Event energies in keV.
    p_xray, p_cr : numpy.ndarray, shape (n,)
        Network probabilities of the X-ray-only and CR-only classes.
    cam_x_window, cam_cr_window : numpy.ndarray, shape (n, w)
        X-ray and CR CAM values in each event's window (``w = 25`` for
        5×5); NaN marks pixels outside the frame. Every row needs at least
        one finite value.

    Returns
    -------
    numpy.ndarray, float32, shape (n, 10)
        Columns as in `FEATURE_NAMES`.

    Raises
    ------
    ValueError
        If the shapes disagree or a window has no finite value.
    """
    cam_x = np.asarray(cam_x_window, dtype=np.float64)
    cam_cr = np.asarray(cam_cr_window, dtype=np.float64)
    energy = np.asarray(energy, dtype=np.float64)
    n = energy.shape[0]
    if cam_x.shape != cam_cr.shape or cam_x.ndim != 2 or cam_x.shape[0] != n:
        raise ValueError(
            f"CAM windows must both have shape (n_events={n}, window), got {cam_x.shape} and {cam_cr.shape}"
        )
    if n and not (np.isfinite(cam_x).any(axis=1).all() and np.isfinite(cam_cr).any(axis=1).all()):
        raise ValueError("every event needs at least one finite CAM value in its window")
    if n == 0:
        return np.empty((0, len(FEATURE_NAMES)), dtype=np.float32)
    max_x, min_x = np.nanmax(cam_x, axis=1), np.nanmin(cam_x, axis=1)
    max_cr, min_cr = np.nanmax(cam_cr, axis=1), np.nanmin(cam_cr, axis=1)
    median_cr = np.nanmedian(cam_cr, axis=1)
    f1 = max_cr - min_x
    f2 = guarded_ratio(max_cr, max_x) - guarded_ratio(min_cr, min_x)
    f3 = guarded_ratio(max_cr, max_x) - guarded_ratio(min_cr, max_x)
    f4 = guarded_ratio(max_cr, min_x) - guarded_ratio(min_cr, max_x)
    columns = (energy, p_xray, p_cr, max_x, max_cr, median_cr, f1, f2, f3, f4)
    return np.column_stack([np.asarray(c, dtype=np.float64) for c in columns]).astype(np.float32)
