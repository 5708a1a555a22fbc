"""Find isolated one-pixel hits: pixels far above their local background and sharper than any point source.

A cosmic ray that crosses a thin CCD, or a thick one near normal incidence,
can leave nearly all its charge in one pixel, from a few sigma to
saturation. Such a pixel is brighter than its neighbours by more than any
point-spread function allows, which is how classic single-frame detectors
find it: IRAF's ``cosmicrays`` task (Valdes, ``crutil``) flags a pixel whose
neighbours hold only a small fraction of its flux, LACosmic (van Dokkum 2001)
one whose Laplacian stands above the fine structure of the image. A
learned detector may pass over the brightest of them when it was taught
that a lone bright pixel is a hot pixel (a defect, which only a dark frame
or a bad-pixel mask tells from a cosmic ray); `isolated_hits` finds them
from the image alone, so a detector can add them to its map.
"""

from __future__ import annotations

import numpy as np

from .growth import _reflect, background_statistics, local_background, local_noise

__all__ = ["isolated_hits", "PEAK_RATIO"]

#: How many times a hit's excess must exceed its brightest neighbour's. A point source sampled at a
#: full width at half maximum of 1.4 pixels or more, centred on a pixel, puts at most a third of its peak
#: pixel's flux in a neighbour (a pixel-integrated Gaussian), so no such star is taken for a hit.
PEAK_RATIO = 3.0


def isolated_hits(
    electrons: np.ndarray,
    *,
    nsigma: float,
    ratio: float = PEAK_RATIO,
    bad: np.ndarray | None = None,
    sigma: float | None = None,
    level: float | None = None,
    workers: int = 1,
) -> np.ndarray:
    """Pixels that stand alone far above their local background.

    A pixel is a hit when it is ``nsigma`` or more above its local
    background (as `crmask.growth.local_significance` measures it: the median of the
    window around it, the noise of the background plus the Poisson noise of
    a source under it) and its excess over that background is at least
    ``ratio`` times that of its brightest neighbour, or of the noise where
    no neighbour is above the background. Saturated stars (flat tops),
    stars sampled by more than a pixel and cosmic-ray tracks (whose
    neighbours share the charge) are not hits; a hot pixel is, which is why
    bad pixels listed in ``bad`` never are.

    Parameters
    ----------
    electrons : numpy.ndarray
        2-D image in electrons.
    nsigma : float
        Significance above the local background a hit needs (positive).
    ratio : float
        How many times its brightest neighbour's excess a hit's excess must
        be, at least 1 (default `PEAK_RATIO`).
    bad : numpy.ndarray, optional
        Pixels that are never hits, nor used for ``sigma`` and ``level`` (bool).
    sigma, level : float, optional
        Background noise and typical level of the image, electrons; default:
        `crmask.growth.background_statistics` of the good pixels.
    workers : int
        Threads that compute the local backgrounds; the result does not
        depend on it.

    Returns
    -------
    numpy.ndarray
        Boolean mask of the hits, the image's shape.

    Examples
    --------
    >>> import numpy as np
    >>> from crmask.isolated import isolated_hits
    >>> sky = np.random.default_rng(1).normal(100.0, 10.0, (64, 64))
    >>> sky[20, 30] += 500.0  # a one-pixel cosmic ray of 50 sigma
    >>> np.argwhere(isolated_hits(sky, nsigma=10.0)).tolist()
    [[20, 30]]
    """
    if not nsigma > 0:
        raise ValueError(f"nsigma must be positive, got {nsigma}")
    if not ratio >= 1:
        raise ValueError(f"ratio must be at least 1, got {ratio}")
    image = np.asarray(electrons)
    if image.ndim != 2:
        raise ValueError(f"isolated_hits needs a 2-D image, got {image.ndim}-D")
    image = image.astype(np.result_type(image.dtype, np.float32), copy=False)
    good = None if bad is None else ~np.asarray(bad, dtype=bool)
    if sigma is None or level is None:
        everywhere = np.ones(image.shape, dtype=bool) if good is None else good
        measured_sigma, measured_level = background_statistics(image, everywhere)
        sigma = measured_sigma if sigma is None else sigma
        level = measured_level if level is None else level
    # A hit's brightest neighbour is at most 1 / ratio of its excess above the background, and that excess is
    # nsigma noise (at least ``sigma``) or more: so it stands ``step`` above every neighbour. Its left and right
    # ones come first (one pass over the image leaves few pixels), then all eight at those pixels alone.
    step = (1 - 1 / ratio) * nsigma * sigma
    standing = np.subtract(image, _side_maximum(image)) >= step
    if good is not None:
        standing &= good
    ys, xs = np.nonzero(standing)
    neighbours = _ring_maximum(image, ys, xs)
    near = image[ys, xs] - neighbours >= step
    ys, xs, neighbours = ys[near], xs[near], neighbours[near]
    background = local_background(image, (ys, xs), workers)
    noise = local_noise(background, sigma, level)
    excess = image[ys, xs] - background
    keep = (excess >= nsigma * noise) & (excess >= ratio * np.maximum(neighbours - background, noise))
    hits = np.zeros(image.shape, dtype=bool)
    hits[ys[keep], xs[keep]] = True
    return hits


def _side_maximum(image: np.ndarray) -> np.ndarray:
    """The larger of each pixel's left and right neighbours (the image edge mirrored: ``-1 -> 1``)."""
    if image.shape[1] < 2:
        return np.full(image.shape, -np.inf, dtype=image.dtype)  # no horizontal neighbour
    side = np.empty_like(image)
    np.maximum(image[:, :-2], image[:, 2:], out=side[:, 1:-1])
    side[:, 0], side[:, -1] = image[:, 1], image[:, -2]
    return side


def _ring_maximum(image: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """The brightest of the eight neighbours of pixels ``(ys, xs)`` (the image edge mirrored), in their order."""
    brightest = np.full(len(ys), -np.inf, dtype=image.dtype)
    for dy, dx in ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)):
        np.maximum(brightest, image[_reflect(ys + dy, image.shape[0]), _reflect(xs + dx, image.shape[1])],
                   out=brightest)
    return brightest
