"""Event filters over a FITS file of frames, in chunks of frames (``crmask wfi filter``).

The frames are read lazily (`astropy.io.fits.ImageHDU.section` reads the
bytes of the requested frames only; no memory map, whose pages would count
against the process), so memory is bounded by ``chunk_frames`` whatever the
number of frames. After each chunk the C heap's freed memory is handed
back to the system (glibc's ``malloc_trim``, as Dask workers do): without
it, the network's many temporary buffers fragment the heap, and a
``wfi-cam-rf`` run grew by ~15 MB per chunk of 100 frames. A ``MASK`` extension of the frames' shape, or of one
frame's shape for every frame, is applied as `CCDData.mask
<astropy.nddata.CCDData>`. Every event depends on its own frame only, so
the events are those of filtering all frames at once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.nddata import CCDData
from astropy.table import Table, vstack

from crmask.exceptions import CrmaskError, FITSReadError, InvalidImageError
from crmask.io import _parse_unit, _select_hdu

from ..sim.simfile import SIMULATION_HDUS
from ..sim.simulate import SimulatedFrames
from .reconstruct import add_truth

__all__ = ["CHUNK_FRAMES", "filter_file"]

#: Frames filtered at a time by default (about 100 MB of 512 x 512 float32 frames).
CHUNK_FRAMES = 100


def filter_file(
    event_filter, path: str | os.PathLike, *, unit: str | None = None, chunk_frames: int = CHUNK_FRAMES
) -> Table:
    """Run an event filter over every frame of a FITS file, ``chunk_frames`` at a time.

    Parameters
    ----------
    event_filter : crmask.EventFilter
        A constructed event filter.
    path : path-like
        A simulation file (`crmask_wfi.sim.simfile`; truth columns are added)
        or a FITS image or cube of frames (the first HDU with image data).
    unit : str, optional
        Pixel unit when the HDU has no ``BUNIT``.
    chunk_frames : int
        Frames read and filtered at a time.

    Returns
    -------
    astropy.table.Table
        The events of all frames, ``FRAME`` counting from the file's first
        frame; ``meta`` of the first chunk with the summed ``runtime``.

    Raises
    ------
    FITSReadError
        If the file is missing or unreadable.
    InvalidImageError
        If the frames are not 2-D or 3-D, are empty, have no unit, or the
        ``MASK`` extension has another shape.
    """
    if chunk_frames < 1:
        raise ValueError(f"chunk_frames must be at least 1, got {chunk_frames}")
    path = Path(path)
    if not path.is_file():
        raise FITSReadError(f"{path}: no such file")
    try:
        with fits.open(path, memmap=False) as hdul:
            return _filter_hdul(event_filter, hdul, path, unit, chunk_frames)
    except CrmaskError:
        raise
    except (OSError, EOFError) as exc:
        raise _unreadable(path, exc) from None


def _unreadable(path: Path, exc: BaseException) -> FITSReadError:
    return FITSReadError(f"{path}: not a readable FITS file (corrupt or truncated?): {exc}")


def _filter_hdul(event_filter, hdul: fits.HDUList, path: Path, unit: str | None, chunk_frames: int) -> Table:
    simulation = all(name in hdul for name in SIMULATION_HDUS)
    hdu = hdul["SIGNAL"] if simulation else hdul[_select_hdu(hdul, None, path)]
    shape = tuple(hdu.shape)
    if len(shape) not in (2, 3):
        raise InvalidImageError(f"{path}: HDU {hdu.name} is {len(shape)}-D; frames must be 2-D or a 3-D cube")
    if 0 in shape:
        raise InvalidImageError(f"{path}: HDU {hdu.name} holds no frames (shape {shape})")
    frames_shape = shape if len(shape) == 3 else (1, *shape)
    pixel_unit = _frame_unit(hdu.header, unit, path)
    mask_hdu = hdul["MASK"] if "MASK" in hdul and hdul["MASK"] is not hdu else None
    common_mask = None
    if mask_hdu is not None:
        if tuple(mask_hdu.shape) not in (frames_shape, frames_shape[1:]):
            raise InvalidImageError(
                f"{path}: MASK extension has shape {tuple(mask_hdu.shape)}, the frames {shape}; "
                "give one mask per frame or one for all"
            )
        if len(mask_hdu.shape) == 2:
            common_mask = _frames(mask_hdu, 0, 1, path)[0]
    truth = None
    if simulation:
        try:
            truth = Table.read(hdul["TRUTH"])
        except (OSError, ValueError, TypeError) as exc:
            raise _unreadable(path, exc) from None
    parts, runtime = [], 0.0
    for start in range(0, frames_shape[0], chunk_frames):
        stop = min(start + chunk_frames, frames_shape[0])
        data = _frames(hdu, start, stop, path)
        mask = None
        if mask_hdu is not None:
            mask = common_mask if common_mask is not None else _frames(mask_hdu, start, stop, path)
            mask = np.broadcast_to(np.asarray(mask, dtype=bool), data.shape)
        events = event_filter.filter(CCDData(data, unit=pixel_unit, mask=mask))
        if simulation:
            in_chunk = (truth["FRAME"] >= start) & (truth["FRAME"] < stop)
            chunk_truth = truth[in_chunk]
            chunk_truth["FRAME"] -= start
            sim = SimulatedFrames(data, _frames(hdul["LABEL"], start, stop, path),
                                  _frames(hdul["EVENTID"], start, stop, path), chunk_truth, {})
            events = add_truth(events, sim)
        events["FRAME"] += start
        runtime += events.meta.get("runtime", 0.0)
        parts.append(events)
        _release_freed_memory()
    table = vstack(parts, metadata_conflicts="silent")
    table.meta = dict(parts[0].meta, runtime=runtime)
    return table


def _frames(hdu, start: int, stop: int, path: Path) -> np.ndarray:
    """Frames ``start:stop`` of a 2-D (one frame) or 3-D image HDU, read without loading the rest."""
    try:
        if len(hdu.shape) == 2:
            return np.asarray(hdu.section[:, :])[np.newaxis]
        return np.asarray(hdu.section[start:stop])
    except (OSError, ValueError, TypeError, EOFError) as exc:
        raise _unreadable(path, exc) from None


def _frame_unit(header: fits.Header, unit: str | None, path: Path):
    hint = "give the unit explicitly (--unit)"
    text = unit if unit is not None else header.get("BUNIT")
    if text is None:
        raise InvalidImageError(f"{path}: no BUNIT keyword; {hint}")
    try:
        return _parse_unit(text)
    except ValueError:
        raise InvalidImageError(f"{path}: unit {text!r} is not a valid unit; {hint}") from None


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim``, or None on other C libraries."""
    name = ctypes.util.find_library("c")
    library = ctypes.CDLL(name) if name else None
    return getattr(library, "malloc_trim", None)


def _release_freed_memory() -> None:
    """Return the C heap's free pages to the system (a no-op without glibc)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
