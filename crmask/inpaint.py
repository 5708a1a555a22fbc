"""Replace cosmic-ray or bad pixels by an estimate from their clean neighbours."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["median_inpaint", "grow_mask"]

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
