"""Training losses: binary cross-entropy, Cosmic-CoNN's median-weighted variant and border weights."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["border_weights", "median_weights", "weighted_bce"]


def median_weights(clean: np.ndarray, alpha: float) -> np.ndarray:
    """Per-pixel weights of the non-CR class from a CR-free image (Xu et al. 2023).

    Pixels of empty sky get weight ``alpha`` and pixels on sources up to 1:
    the CR-free image, less its median, is clipped to [sigma, 5 sigma]
    (sigma: robust standard deviation), smoothed by a 5x5 Gaussian
    (sigma 2 px), scaled to a maximum of 1 and floored at ``alpha``. This
    makes the network learn first where sources make false positives
    likely. With ``alpha >= 1`` every weight is 1 (plain BCE).

    Parameters
    ----------
    clean : numpy.ndarray
        CR-free image (electrons); Cosmic-CoNN uses the median of repeats.
    alpha : float
        Floor of the weights, in [0, 1].
    """
    if alpha >= 1:
        return np.ones(clean.shape, dtype=np.float32)
    level = clean - np.median(clean)
    sigma = 1.4826 * np.median(np.abs(level)) + 1e-7
    weight = np.clip(level, sigma, max(5 * sigma, sigma)) - sigma
    weight = ndimage.gaussian_filter(weight, sigma=2.0, truncate=1.0)
    peak = weight.max()
    if peak > 0:
        weight /= peak
    return np.clip(weight, alpha, 1.0).astype(np.float32)


def border_weights(mask: np.ndarray, weight: float, width: int = 1) -> np.ndarray:
    """Per-pixel weights of the non-CR class that stress the pixels bordering each cosmic ray.

    Pixels within ``width`` pixels (8-connected) of a cosmic-ray pixel and
    not one themselves get ``weight``, every other pixel 1, so that a
    network learns where a track ends instead of painting a halo around it:
    the weight map of Ronneberger, Fischer & Brox (2015) for the borders
    between touching cells, as a ring. With ``weight == 1`` every weight
    is 1 (plain BCE).

    Parameters
    ----------
    mask : numpy.ndarray
        Boolean cosmic-ray truth.
    weight : float
        Weight of the border pixels (> 0).
    width : int
        Width of the border ring, pixels (>= 1).
    """
    weights = np.ones(np.shape(mask), dtype=np.float32)
    if weight == 1:
        return weights
    mask = np.asarray(mask, dtype=bool)
    ring = ndimage.binary_dilation(mask, structure=np.ones((3, 3), dtype=bool), iterations=width) & ~mask
    weights[ring] = weight
    return weights


def weighted_bce(logits, target, negative_weight, valid):
    """Mean binary cross-entropy over ``valid`` pixels, negatives weighted by ``negative_weight``.

    Parameters
    ----------
    logits, target, negative_weight, valid : torch.Tensor
        Same shape; ``target`` and ``valid`` in {0, 1}.
    """
    import torch.nn.functional as F

    weight = valid * (target + (1 - target) * negative_weight)
    loss = F.binary_cross_entropy_with_logits(logits, target, weight=weight, reduction="sum")
    return loss / valid.sum().clamp(min=1)
