"""Replace cosmic-ray or bad pixels by an estimate from their clean neighbours."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["median_inpaint", "interpolate_bad_pixels", "grow_mask"]

#: Most box pixels `median_inpaint` gathers at once (float32 or float64 each): the masked pixels are taken in
#: chunks of at most this many box pixels, so a large mask (a masked amplifier) costs bounded memory.
MAX_BOX_ELEMENTS = 2**22


def median_inpaint(
    data: np.ndarray, mask: np.ndarray, bad: np.ndarray | None = None, size: int = 5, max_size: int = 41
) -> np.ndarray:
    """Replace masked pixels by the median of the good pixels around them.

    Like astroscrappy's ``medmask`` clean type: each pixel in ``mask`` gets
    the median of the pixels in a ``size`` × ``size`` box that are neither in
    ``mask`` nor in ``bad``. Pixels whose box holds no such pixel (inside a
    long track or a wide masked region) are retried with boxes growing by 2
    up to ``max_size``, and finally take the median of every good pixel.
    The boxes are gathered a chunk of pixels at a time (`MAX_BOX_ELEMENTS`),
    so memory stays bounded however large the mask.

    Parameters
    ----------
    data : numpy.ndarray
        2-D image.
    mask : numpy.ndarray
        Boolean mask of pixels to replace.
    bad : numpy.ndarray, optional
        Boolean mask of other pixels not to use as neighbours.
    size, max_size : int
        First and largest (odd) box size.

    Returns
    -------
    numpy.ndarray
        A float copy of ``data`` with the masked pixels replaced.
    """
    if size % 2 == 0 or max_size % 2 == 0:
        raise ValueError(f"box sizes must be odd, got size={size}, max_size={max_size}")
    cleaned = np.array(data, dtype=np.result_type(data.dtype, np.float32), copy=True)
    unusable = mask if bad is None else (mask | bad)
    todo = np.argwhere(mask)
    current = size
    while todo.size and current <= max_size:
        half = current // 2
        source = np.where(unusable, np.nan, cleaned)
        padded = np.pad(source, half, mode="constant", constant_values=np.nan)
        view = sliding_window_view(padded, (current, current))
        has_good = np.zeros(len(todo), dtype=bool)
        step = max(1, MAX_BOX_ELEMENTS // current**2)
        for start in range(0, len(todo), step):
            chunk = todo[start : start + step]
            windows = view[chunk[:, 0], chunk[:, 1]]
            found = np.isfinite(windows).any(axis=(1, 2))
            if found.any():
                rows, cols = chunk[found].T
                cleaned[rows, cols] = np.nanmedian(windows[found], axis=(1, 2))
            has_good[start : start + step] = found
        todo = todo[~has_good]
        current += 2
    if todo.size:
        fallback = np.median(cleaned[~unusable]) if (~unusable).any() else 0.0
        cleaned[todo[:, 0], todo[:, 1]] = fallback
    return cleaned


def _nearest_good(bad: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest good pixel before (-1 if none) and after (the length if none) each pixel along ``axis``."""
    length = bad.shape[axis]
    index = np.arange(length, dtype=np.int32).reshape((-1, 1) if axis == 0 else (1, -1))
    before = np.maximum.accumulate(np.where(bad, np.int32(-1), index), axis=axis)
    after = np.flip(np.minimum.accumulate(np.flip(np.where(bad, np.int32(length), index), axis), axis=axis), axis)
    return before, after


def _across(data: np.ndarray, bad: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """For every bad pixel, the linear interpolation between the nearest good pixels along ``axis``, and its cost.

    The cost is the gap between the two good pixels. A pixel with good
    pixels on one side only gets the nearest one, at a cost above any gap
    (the image's size plus the distance to it); with none, NaN at an
    infinite cost.
    """
    before, after = _nearest_good(bad, axis)
    where = np.nonzero(bad)
    lo, hi = before[where], after[where]
    position = where[axis]
    has_lo, has_hi = lo >= 0, hi < bad.shape[axis]

    def values(at: np.ndarray) -> np.ndarray:
        index = list(where)
        index[axis] = np.clip(at, 0, bad.shape[axis] - 1)
        return data[tuple(index)].astype(np.float64)

    low, high = values(lo), values(hi)
    both = has_lo & has_hi
    weight = np.where(both, (position - lo) / np.maximum(hi - lo, 1), 0.0)
    value = np.where(both, (1 - weight) * low + weight * high, np.where(has_lo, low, np.where(has_hi, high, np.nan)))
    one_side = np.where(has_lo, position - lo, np.where(has_hi, hi - position, np.inf)) + sum(bad.shape)
    cost = np.where(both, (hi - lo).astype(np.float64), one_side)
    return value, cost


def interpolate_bad_pixels(data: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """Replace bad pixels by linear interpolation across the narrower side of their bad region.

    As IRAF's ``fixpix``: each bad pixel is interpolated between the
    nearest good pixels along its row or along its column, whichever has
    the shorter gap (across a bad column along the row, across a bad line
    along the column), so a spectral trace or a galaxy crossed by a dead
    column or line continues through it. A box median (`median_inpaint`)
    would instead cut a dip into a narrow trace, whose edges a detector
    takes for cosmic rays. A pixel with good pixels on one side only, in
    both directions, takes the nearest one; a pixel with none in its row
    or column takes the median of every good pixel.

    Parameters
    ----------
    data : numpy.ndarray
        2-D image.
    bad : numpy.ndarray
        Boolean mask of the pixels to replace.

    Returns
    -------
    numpy.ndarray
        A float copy of ``data`` (float32 or wider) with the bad pixels replaced.
    """
    bad = np.asarray(bad, dtype=bool)
    filled = np.array(data, dtype=np.result_type(data.dtype, np.float32), copy=True)
    if not bad.any():
        return filled
    along_rows, cost_rows = _across(filled, bad, axis=1)
    along_columns, cost_columns = _across(filled, bad, axis=0)
    value = np.where(cost_columns < cost_rows, along_columns, along_rows)
    if np.isnan(value).any():  # no good pixel in the row nor in the column
        value[np.isnan(value)] = np.median(filled[~bad]) if (~bad).any() else 0.0
    filled[bad] = value
    return filled


def grow_mask(mask: np.ndarray, radius: int) -> np.ndarray:
    """Dilate a boolean mask by a disc of ``radius`` pixels (0 returns a copy)."""
    from scipy import ndimage

    if radius < 0:
        raise ValueError(f"grow radius must be >= 0, got {radius}")
    if radius == 0:
        return np.array(mask, dtype=bool, copy=True)
    y, x = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    disc = x**2 + y**2 <= radius**2
    return ndimage.binary_dilation(mask, structure=disc)
