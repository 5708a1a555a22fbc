"""Event reconstruction on X-ray frames (Poliszczuk et al. 2024, §3.1), truth matching and event files.

`reconstruct_events` finds every 3x3 local maximum at or above the event
threshold and describes it: energy (sum of the 3x3 pixels above the split
threshold), the 3x3 and 5x5 pixel values, the pattern and grade
(`crmask_wfi.events.grades`) and the 5x5-ring rejection. It does not decide which
events are valid: that is the filters' job (`crmask_wfi.events.classic`).

Frames are treated as surrounded by pixels of value 0, so events on the
edge are reconstructed from the pixels that exist.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from crmask.exceptions import FITSReadError, InvalidImageError
from crmask.io import write_atomic

from .grades import ACCEPTED_GRADES, GRADE_SINGLE, grade_of_pattern, pattern_from_window, ring_mask
from ..sim.simulate import LABEL_CR, LABEL_NAMES, LABEL_NOISE, LABEL_XRAY, SimulatedFrames

__all__ = [
    "EVENT_THRESHOLD_KEV",
    "SPLIT_THRESHOLD_KEV",
    "reconstruct_events",
    "reconstruct_scaled",
    "add_truth",
    "write_events",
    "read_events",
    "EVENTS_EXTNAME",
]

#: Event threshold (Poliszczuk et al. 2024, §3.1): a local maximum below it is no event.
EVENT_THRESHOLD_KEV = 0.26
#: Split threshold (Poliszczuk et al. 2024, §3.1): pixels above it are part of the event (3 sigma of 7 e- noise).
SPLIT_THRESHOLD_KEV = 0.08
#: EXTNAME of the event table in event files.
EVENTS_EXTNAME = "EVENTS"

_RING = ring_mask()
# Neighbours before the centre in raster order (bits 0-3) must be strictly lower, those after
# it (bits 4-7) lower or equal: of two equal neighbouring maxima, the first in raster order wins.
_EARLIER = np.zeros((3, 3), dtype=bool)
_EARLIER.flat[:4] = True
_LATER = np.zeros((3, 3), dtype=bool)
_LATER.flat[5:] = True


def reconstruct_events(
    frames_kev,
    *,
    event_threshold: float = EVENT_THRESHOLD_KEV,
    split_threshold: float = SPLIT_THRESHOLD_KEV,
) -> Table:
    """Find and describe the events in X-ray frames.

    Parameters
    ----------
    frames_kev : array_like
        One frame ``(ny, nx)`` or a stack ``(n, ny, nx)``, in keV.
    event_threshold : float
        A pixel is an event centre when it is the maximum of its 3x3 window
        and at least this (keV).
    split_threshold : float
        Pixels strictly above this (keV) belong to the event.

    Returns
    -------
    astropy.table.Table
        One row per event, sorted by frame, then row, then column:

        ``FRAME``, ``X``, ``Y``
            frame index and 0-based column, row of the centre pixel;
        ``ENERGY`` (keV)
            sum of the 3x3 pixels above the split threshold;
        ``PHA`` (keV)
            the centre pixel;
        ``PHAS``, ``PHAS5`` (keV)
            the 3x3 and 5x5 pixel values around the centre;
        ``PATTERN``
            8-bit set of 3x3 neighbours above the split threshold;
        ``GRADE``
            shape code (``crmask_wfi.events.grades.GRADE_NAMES``);
        ``SHAPE_OK``
            whether the shape is one the classic filter accepts;
        ``RING``
            number of the 16 pixels around the 3x3 window above the split
            threshold;
        ``RING_REJECT``
            a non-single event with ``RING > 0``.

        ``meta`` holds the two thresholds.
    """
    return reconstruct_scaled(
        frames_kev, 1.0, event_threshold=event_threshold, split_threshold=split_threshold
    )


def reconstruct_scaled(
    frames,
    kev_per_unit: float,
    *,
    event_threshold: float = EVENT_THRESHOLD_KEV,
    split_threshold: float = SPLIT_THRESHOLD_KEV,
) -> Table:
    """`reconstruct_events` on frames in another unit, without converting whole frames.

    Parameters
    ----------
    frames : array_like
        Frames in a unit worth ``kev_per_unit`` keV (e.g. electrons:
        `~crmask_wfi.sim.physics.KEV_PER_ELECTRON`).
    kev_per_unit : float
        keV per frame unit; thresholds (keV) are divided by it, and the
        output energies and pixel values are in keV.
    event_threshold, split_threshold : float
        In keV, as in `reconstruct_events`.
    """
    frames = np.asarray(frames)
    if frames.ndim == 2:
        frames = frames[np.newaxis]
    if frames.ndim != 3:
        raise InvalidImageError(f"frames must be 2-D or a 3-D stack, got {frames.ndim}-D")
    if frames.dtype.kind not in "fiu":
        raise InvalidImageError(f"frames must be numeric, got dtype {frames.dtype}")
    if not 0 <= split_threshold <= event_threshold:
        raise ValueError(
            f"thresholds must satisfy 0 <= split_threshold <= event_threshold, got "
            f"split_threshold={split_threshold}, event_threshold={event_threshold}"
        )
    if not kev_per_unit > 0:
        raise ValueError(f"kev_per_unit must be positive, got {kev_per_unit}")
    event_level = event_threshold / kev_per_unit
    frame, y, x = _pixels_at_least(frames, event_level)
    phas5 = _windows(frames, frame, y, x)
    phas = phas5[:, 1:4, 1:4]
    centre = phas[:, 1, 1][:, None]
    flat = phas.reshape(len(phas), 9)
    is_max = np.all(centre > flat[:, _EARLIER.ravel()], axis=1) & np.all(
        centre >= flat[:, _LATER.ravel()], axis=1
    )
    frame, y, x = frame[is_max], y[is_max], x[is_max]
    phas5 = phas5[is_max].astype(np.float64) * kev_per_unit
    phas = phas5[:, 1:4, 1:4]

    active = phas > split_threshold
    pattern = pattern_from_window(active)
    grade = grade_of_pattern(pattern)
    ring = np.count_nonzero(phas5[:, _RING] > split_threshold, axis=1)
    table = Table(
        {
            "FRAME": frame.astype(np.int32),
            "X": x.astype(np.int32),
            "Y": y.astype(np.int32),
            "ENERGY": np.where(active, phas, 0).sum(axis=(1, 2), dtype=np.float64),
            "PHA": phas[:, 1, 1].astype(np.float32),
            "PHAS": phas.astype(np.float32),
            "PHAS5": phas5.astype(np.float32),
            "PATTERN": pattern,
            "GRADE": grade,
            "SHAPE_OK": np.isin(grade, ACCEPTED_GRADES),
            "RING": ring.astype(np.uint8),
            "RING_REJECT": (grade != GRADE_SINGLE) & (ring > 0),
        }
    )
    for name in ("ENERGY", "PHA", "PHAS", "PHAS5"):
        table[name].unit = "keV"
    table.meta["EVTHRESH"] = float(event_threshold)
    table.meta["SPLTHRES"] = float(split_threshold)
    return table


def _pixels_at_least(frames: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frame, y, x) of pixels >= level in raster order, scanning only rows that reach it."""
    frame, y = np.nonzero(frames.max(axis=2) >= level)
    rows = frames[frame, y]
    hit, x = np.nonzero(rows >= level)
    return frame[hit], y[hit], x


def _windows(frames: np.ndarray, frame: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """5x5 pixel windows around (frame, y, x), with 0 outside the frame."""
    _, ny, nx = frames.shape
    dy, dx = np.mgrid[-2:3, -2:3]
    yy = y[:, None, None] + dy
    xx = x[:, None, None] + dx
    inside = (yy >= 0) & (yy < ny) & (xx >= 0) & (xx < nx)
    values = frames[frame[:, None, None], np.clip(yy, 0, ny - 1), np.clip(xx, 0, nx - 1)]
    return np.where(inside, values, 0)


def add_truth(events: Table, sim: SimulatedFrames) -> Table:
    """Add truth columns to events reconstructed from simulated frames.

    The class is the majority label of the event's 3x3 pixels above the split
    threshold (ties go to the centre pixel's label).

    Parameters
    ----------
    events : astropy.table.Table
        Output of `reconstruct_events` on ``sim``'s frames (in the same order).
    sim : SimulatedFrames

    Returns
    -------
    astropy.table.Table
        ``events`` with ``TRUE_CLASS`` (``"noise"``, ``"xray"`` or ``"cr"``),
        ``TRUE_ID`` (ID of the brightest pixel of that class, 0 for noise) and
        ``TRUE_ENERGY`` (the photon energy of an X-ray event, keV; NaN
        otherwise). The table is modified in place and returned.
    """
    if len(events) and int(np.max(events["FRAME"])) >= len(sim):
        last = int(np.max(events["FRAME"]))
        raise ValueError(f"events refer to frame {last}, the simulation has {len(sim)} frames")
    split = float(events.meta.get("SPLTHRES", 0.08))
    frame = np.asarray(events["FRAME"])[:, None, None]
    dy, dx = np.mgrid[-1:2, -1:2]
    ny, nx = sim.shape
    yy = np.asarray(events["Y"])[:, None, None] + dy
    xx = np.asarray(events["X"])[:, None, None] + dx
    inside = (yy >= 0) & (yy < ny) & (xx >= 0) & (xx < nx)
    yy, xx = np.clip(yy, 0, ny - 1), np.clip(xx, 0, nx - 1)
    labels = np.where(inside, sim.label[frame, yy, xx], LABEL_NOISE)
    ids = sim.event_id[frame, yy, xx]
    phas = np.asarray(events["PHAS"])
    active = (phas > split) & inside
    active[:, 1, 1] = True
    n_x = np.count_nonzero(active & (labels == LABEL_XRAY), axis=(1, 2))
    n_cr = np.count_nonzero(active & (labels == LABEL_CR), axis=(1, 2))
    cls = np.where(n_cr > n_x, LABEL_CR, np.where(n_x > n_cr, LABEL_XRAY, labels[:, 1, 1]))
    ranked = np.where(active & (labels == cls[:, None, None]), phas, -np.inf).reshape(len(phas), 9)
    brightest = np.argmax(ranked, axis=1) if len(phas) else np.zeros(0, dtype=int)
    true_id = np.where(cls == LABEL_NOISE, 0, ids.reshape(len(ids), 9)[np.arange(len(ids)), brightest])

    photons = sim.truth[sim.truth["PARTICLE"] == "photon"]
    energy_of = np.full(int(max(np.max(sim.truth["ID"], initial=0), np.max(true_id, initial=0))) + 1, np.nan)
    energy_of[np.asarray(photons["ID"])] = np.asarray(photons["ENERGY"])
    true_energy = np.where(cls == LABEL_XRAY, energy_of[true_id], np.nan)
    events["TRUE_CLASS"] = np.asarray(LABEL_NAMES)[cls].astype("U5")
    events["TRUE_ID"] = true_id.astype(np.int32)
    events["TRUE_ENERGY"] = true_energy
    events["TRUE_ENERGY"].unit = "keV"
    return events


def write_events(events: Table, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write an event table as a FITS event file (BINTABLE ``EVENTS``), atomically.

    Table ``meta`` (thresholds, filter provenance) goes into the header;
    nested values are written as their text form.
    """
    table = events.copy(copy_data=False)
    table.meta = {}
    hdu = fits.table_to_hdu(table)
    hdu.name = EVENTS_EXTNAME
    for key, value in events.meta.items():
        card_key = key.upper() if len(key) <= 8 else f"HIERARCH {key.upper()}"
        if not isinstance(value, (str, int, float, bool, np.number, np.bool_)) or value is None:
            value = repr(value)
        hdu.header[card_key] = value
    hdu.header["HDUCLASS"] = ("OGIP", "format convention")
    hdu.header["HDUCLAS1"] = "EVENTS"
    return write_atomic(fits.HDUList([fits.PrimaryHDU(), hdu]), path, overwrite=overwrite)


def read_events(path: str | os.PathLike) -> Table:
    """Read the ``EVENTS`` table of an event file written by `write_events`."""
    path = Path(path)
    try:
        return Table.read(path, hdu=EVENTS_EXTNAME)
    except FileNotFoundError:
        raise FITSReadError(f"{path}: no such file") from None
    except (OSError, KeyError, ValueError) as exc:
        raise FITSReadError(f"{path}: not an event file with an {EVENTS_EXTNAME} table: {exc}") from None
