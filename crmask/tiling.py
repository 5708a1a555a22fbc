"""Overlap-tiled processing of images too large to handle at once.

Array models (the U-Nets) see a tile with ``overlap`` pixels of context on
every side and keep only its centre, so tiled and whole-image results agree
away from the image border and memory stays bounded by the tile size.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

__all__ = ["Tile", "iter_tiles", "apply_tiled", "PROGRESS_DELAY"]

#: Seconds a tiled run must take before its progress bar appears (``progress=True``).
PROGRESS_DELAY = 2.0


@dataclass(frozen=True)
class Tile:
    """One tile: the slices to read (with context) and the centre it owns.

    Attributes
    ----------
    read : tuple of slice
        Region of the image passed to the model (core plus overlap, clipped
        at the image border).
    core : tuple of slice
        Region of the output this tile is responsible for.
    core_in_read : tuple of slice
        The core's position inside the read region.
    """

    read: tuple[slice, slice]
    core: tuple[slice, slice]
    core_in_read: tuple[slice, slice]


def _axis_tiles(length: int, tile: int, overlap: int) -> Iterator[tuple[slice, slice, slice]]:
    step = tile - 2 * overlap
    for start in range(0, length, step):
        stop = min(start + step, length)
        read_start = max(0, start - overlap)
        read_stop = min(length, stop + overlap)
        yield (
            slice(read_start, read_stop),
            slice(start, stop),
            slice(start - read_start, stop - read_start),
        )


def iter_tiles(shape: tuple[int, int], tile: int, overlap: int) -> Iterator[Tile]:
    """Yield the tiles covering an image of ``shape``.

    Parameters
    ----------
    shape : tuple of int
        ``(ny, nx)``.
    tile : int
        Largest side of a read region, in pixels.
    overlap : int
        Context kept on each side of a tile's core; ``tile > 2 * overlap``.
    """
    if overlap < 0 or tile <= 2 * overlap:
        raise ValueError(f"need tile > 2 * overlap >= 0, got tile={tile}, overlap={overlap}")
    for ry, cy, iy in _axis_tiles(shape[0], tile, overlap):
        for rx, cx, ix in _axis_tiles(shape[1], tile, overlap):
            yield Tile(read=(ry, rx), core=(cy, cx), core_in_read=(iy, ix))


def apply_tiled(
    func: Callable[[np.ndarray], np.ndarray],
    image: np.ndarray,
    tile: int,
    overlap: int,
    dtype=np.float32,
    progress: bool | Callable[[Iterator[Tile]], Iterator[Tile]] = False,
) -> np.ndarray:
    """Apply ``func`` to ``image`` tile by tile and stitch the tile cores.

    Parameters
    ----------
    func : callable
        Maps a 2-D array to an array of the same shape.
    image : numpy.ndarray
        2-D input.
    tile, overlap : int
        See `iter_tiles`.
    dtype : numpy dtype
        Output dtype.
    progress : bool or callable
        `True` shows a tqdm bar of the tiles done (count, rate, time left)
        on stderr once the run has taken `PROGRESS_DELAY` seconds, so that
        quick images show nothing; a callable wraps the tile iterator
        instead. Off by default.

    Returns
    -------
    numpy.ndarray
        Output of the image's shape.
    """
    if image.ndim != 2:
        raise ValueError(f"apply_tiled needs a 2-D image, got {image.ndim}-D")
    out = np.empty(image.shape, dtype=dtype)
    tiles = iter_tiles(image.shape, tile, overlap)
    if progress is True:
        from tqdm.auto import tqdm

        tiles = list(tiles)
        tiles = tqdm(tiles, total=len(tiles), desc="tiles", unit="tile", delay=PROGRESS_DELAY, leave=False,
                     file=sys.stderr)
    elif callable(progress):
        tiles = progress(tiles)
    for t in tiles:
        result = func(image[t.read])
        if result.shape != image[t.read].shape:
            raise ValueError(f"tile function changed the shape {image[t.read].shape} to {result.shape}")
        out[t.core] = result[t.core_in_read]
    return out
