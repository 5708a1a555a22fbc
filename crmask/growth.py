"""Grow a cosmic-ray probability map into the faint wings of the tracks it found.

A cosmic ray deposits charge beyond the pixels a detector is sure of: charge
diffusion and the ends of a track leave a few pixels around it only one or
two sigma above the background. Classic detectors flag them by growing each
detection into its significant neighbours (van Dokkum 2001, ``sigfrac`` of
LACosmic; McCully et al. 2018, astroscrappy). `grow_probability` does the
same for a probability map, so that the map stays one score per pixel that
a threshold or a ROC curve reads.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .ccd import background_noise

__all__ = ["background_statistics", "grow_probability", "local_background", "local_noise", "local_significance",
           "square_maximum"]

#: Side of the window whose median is a pixel's local background.
BACKGROUND_WINDOW = 7
#: Pixels whose windows `local_background` reads at a time (bounds its memory).
_BLOCK = 1 << 16


def _indices(where) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, columns)`` of a boolean mask (`numpy.nonzero` order), or the index arrays as given."""
    if isinstance(where, tuple):
        ys, xs = where
        return np.asarray(ys), np.asarray(xs)
    return np.nonzero(where)


def local_background(electrons: np.ndarray, where, workers: int = 1) -> np.ndarray:
    """Local background of some pixels: the median of the `BACKGROUND_WINDOW`-square window around each.

    The image edge is reflected (as `numpy.pad`'s ``"reflect"``). Only the
    windows of ``where`` (a boolean mask, or ``(rows, columns)`` index arrays
    as `numpy.nonzero` gives them) are read, a block of pixels at a time, the
    blocks shared among ``workers`` threads (numpy releases the GIL while it
    gathers and partitions a block; the result does not depend on
    ``workers``). Returns the values at those pixels, in their order, in the
    image's floating-point type (at least float32).
    """
    image = np.asarray(electrons)
    image = image.astype(np.result_type(image.dtype, np.float32), copy=False)
    ys, xs = _indices(where)
    offsets = np.arange(BACKGROUND_WINDOW) - BACKGROUND_WINDOW // 2
    middle = BACKGROUND_WINDOW**2 // 2  # an odd number of pixels: the median is one of them
    background = np.empty(len(ys), dtype=image.dtype)

    def median_of(start: int) -> None:
        block = slice(start, start + _BLOCK)
        rows = _reflect(ys[block, None] + offsets, image.shape[0])
        cols = _reflect(xs[block, None] + offsets, image.shape[1])
        windows = image[rows[:, :, None], cols[:, None, :]].reshape(len(rows), -1)
        windows.partition(middle, axis=1)
        background[block] = windows[:, middle]

    starts = range(0, len(ys), _BLOCK)
    if workers > 1 and len(starts) > 1:
        with ThreadPoolExecutor(min(workers, len(starts))) as pool:
            list(pool.map(median_of, starts))
    else:
        for start in starts:
            median_of(start)
    return background


def _reflect(index: np.ndarray, size: int) -> np.ndarray:
    """Indices reflected into ``[0, size)`` about the edge pixels (``-1 -> 1``, ``size -> size - 2``)."""
    index = np.abs(index)
    index = np.where(index >= size, 2 * (size - 1) - index, index)
    return np.clip(index, 0, size - 1)  # images narrower than half a window: the edge pixel repeats


def square_maximum(values: np.ndarray) -> np.ndarray:
    """The maximum of each pixel's 3x3 neighbourhood, itself included (edge pixels: their neighbours in the image).

    Computed as two one-dimensional maxima of shifted views, a few passes
    over the image whatever its content; for a boolean image it is the 3x3
    binary dilation.
    """
    values = np.asarray(values)
    if values.ndim != 2:
        raise ValueError(f"square_maximum needs a 2-D array, got {values.ndim}-D")
    rows = values.copy()
    np.maximum(rows[1:], values[:-1], out=rows[1:])
    np.maximum(rows[:-1], values[1:], out=rows[:-1])
    out = rows.copy()
    np.maximum(out[:, 1:], rows[:, :-1], out=out[:, 1:])
    np.maximum(out[:, :-1], rows[:, 1:], out=out[:, :-1])
    return out


def local_significance(electrons: np.ndarray, where, sigma: float, level: float,
                       background: np.ndarray | None = None) -> np.ndarray:
    """Significance of some pixels above their local background.

    The background of a pixel is the median of the `BACKGROUND_WINDOW`-square
    window around it (the image edge reflected); its noise is the background
    noise ``sigma`` plus the Poisson noise of whatever local background lies
    above the image's typical ``level`` (a star, a trace, a galaxy).

    Parameters
    ----------
    electrons : numpy.ndarray
        2-D image in electrons.
    where : numpy.ndarray or tuple of numpy.ndarray
        The pixels to measure, a boolean mask or ``(rows, columns)`` index
        arrays; only those are computed.
    sigma : float
        Noise of the image's background, electrons.
    level : float
        The image's typical (median) level, electrons.
    background : numpy.ndarray, optional
        `local_background` of the same pixels, when already computed.

    Returns
    -------
    numpy.ndarray
        float32 significance at the pixels of ``where``, in its order
        (`numpy.nonzero` order for a mask).
    """
    ys, xs = _indices(where)
    if background is None:
        background = local_background(electrons, (ys, xs))
    values = np.asarray(electrons)[ys, xs]
    return ((values - background) / local_noise(background, sigma, level)).astype(np.float32)


def local_noise(background: np.ndarray, sigma: float, level: float) -> np.ndarray:
    """Noise of pixels on a local ``background``: ``sigma`` and the Poisson noise of what lies above ``level``.

    The noise `local_significance` divides by (all in electrons).
    """
    return np.sqrt(np.float32(sigma) ** 2 + np.clip(background - np.float32(level), 0, None))


def background_statistics(electrons: np.ndarray, good: np.ndarray) -> tuple[float, float]:
    """Noise and typical level of an image's background, electrons: ``(sigma, level)``.

    The noise by `crmask.ccd.background_noise`, the level as the median of
    the ``good`` pixels of every fourth row (0 where there are none).
    """
    rows = good[::4]
    level = float(np.median(np.asarray(electrons)[::4][rows])) if rows.any() else 0.0
    return background_noise(electrons, good), level


def grow_probability(
    probability: np.ndarray,
    electrons: np.ndarray,
    *,
    nsigma: float,
    weight: float,
    bad: np.ndarray | None = None,
    sigma: float | None = None,
    level: float | None = None,
    source_sigma: float = 3.0,
    floor: float = 0.05,
    workers: int = 1,
) -> np.ndarray:
    """Raise the probability of significant pixels next to a likely cosmic ray.

    A pixel ``nsigma`` or more above its local background (`local_significance`)
    gets at least ``weight`` times the highest probability of its eight
    neighbours. At a threshold ``t`` it is flagged when a neighbour has
    probability ``t / weight`` or more: the wings of confident detections
    are added, those of doubtful ones are not. Pixels on sources (a local
    background more than ``source_sigma`` background sigma above the
    image's level: stars, traces, galaxies) are not grown into: on a peaked
    profile the window median is no background, and a detection on a star
    would spread over it.

    Parameters
    ----------
    probability : numpy.ndarray
        2-D cosmic-ray probability map.
    electrons : numpy.ndarray
        The image in electrons, same shape.
    nsigma : float
        Significance a neighbour needs to be grown into.
    weight : float
        Fraction, in (0, 1], of the neighbouring probability a grown pixel gets.
    bad : numpy.ndarray, optional
        Pixels that are never grown into, nor used for ``sigma`` and ``level`` (bool).
    sigma, level : float, optional
        Background noise and typical level of the image, electrons (see
        `local_significance`); default: measured on the good pixels of every
        fourth row, the noise by `crmask.ccd.background_noise` and the level
        as their median.
    source_sigma : float
        Local backgrounds this many ``sigma`` above ``level`` count as sources.
    floor : float
        No pixel is raised to less than this, which keeps the work
        proportional to the confident detections: thresholds below it are no
        operating point.
    workers : int
        Threads that compute the local backgrounds (`local_background`);
        the result does not depend on it.

    Returns
    -------
    numpy.ndarray
        A new float32 probability map, never lower than ``probability``.
    """
    if not 0 < weight <= 1:
        raise ValueError(f"weight must be in (0, 1], got {weight}")
    probability = np.asarray(probability, dtype=np.float32)
    if probability.shape != np.shape(electrons):
        raise ValueError(f"probability shape {probability.shape} differs from image shape {np.shape(electrons)}")
    neighbours = square_maximum(probability)
    # only pixels beside a probability of at least ``floor / weight`` can be raised to ``floor``: work on those alone
    near = neighbours >= floor / weight
    if bad is not None:
        near &= ~bad
    ys, xs = np.nonzero(near)
    offered = np.float32(weight) * neighbours[ys, xs]
    raise_ = offered > probability[ys, xs]
    ys, xs, offered = ys[raise_], xs[raise_], offered[raise_]
    grown = probability.copy()
    if len(ys):
        if sigma is None or level is None:
            good = np.ones(probability.shape, dtype=bool) if bad is None else ~bad
            measured_sigma, measured_level = background_statistics(electrons, good)
            sigma = measured_sigma if sigma is None else sigma
            level = measured_level if level is None else level
        background = local_background(electrons, (ys, xs), workers)
        z = local_significance(electrons, (ys, xs), sigma, level, background)
        keep = (z >= nsigma) & (background - level <= source_sigma * sigma)
        grown[ys[keep], xs[keep]] = offered[keep]
    return grown
