"""FITS files of simulated WFI frames with their truth.

Layout (all HDUs named; pixel coordinates 0-based as in `crmask_wfi.sim.simulate`):

========== ======== ===========================================================
HDU        type     content
========== ======== ===========================================================
PRIMARY    header   simulation parameters (``SIMSEED``, ``XRATE``, ``CRRATE``,
                    ``RDNOISE``, ``FANO``, ``DIFFSIG``) and ``CREATOR``
SIGNAL     image    float32 ``(n, ny, nx)`` frames, ``BUNIT = 'electron'``,
                    read noise included
LABEL      image    uint8 pixel truth: 0 noise, 1 X-ray, 2 cosmic ray
EVENTID    image    int32 ID of the event that put most charge in the pixel
TRUTH      table    one row per injected particle (`SimulatedFrames.truth`)
FRAMES     table    per frame: ``FRAME``, ``CLASS`` (0 empty, 1 X-ray only,
                    2 CR only, 3 mixed, from ``LABEL``), ``N_XRAY``, ``N_CR``
                    (events with charge in the frame)
========== ======== ===========================================================
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from crmask.exceptions import FITSReadError
from crmask.io import write_atomic

from .simulate import LABEL_CR, LABEL_XRAY, SimulatedFrames

__all__ = [
    "FRAME_EMPTY",
    "FRAME_XRAY",
    "FRAME_CR",
    "FRAME_MIXED",
    "FRAME_CLASS_NAMES",
    "frame_classes",
    "concat_simulations",
    "write_simulation",
    "read_simulation",
    "is_simulation_file",
    "SIMULATION_HDUS",
]

#: HDUs every simulation file has (besides the primary).
SIMULATION_HDUS = ("SIGNAL", "LABEL", "EVENTID", "TRUTH")

FRAME_EMPTY, FRAME_XRAY, FRAME_CR, FRAME_MIXED = range(4)
#: Frame class names (Poliszczuk et al. 2024, §2), indexed by class code.
FRAME_CLASS_NAMES = ("empty", "xray", "cr", "mixed")

_HEADER_KEYS = {
    "seed": "SIMSEED",
    "xray_rate": "XRATE",
    "cr_rate": "CRRATE",
    "readnoise": "RDNOISE",
    "fano": "FANO",
    "diffusion_sigma_um": "DIFFSIG",
}


def frame_classes(label: np.ndarray) -> np.ndarray:
    """Class of each frame from its pixel labels: 0 empty, 1 X-ray only, 2 CR only, 3 mixed."""
    label = np.asarray(label)
    axes = tuple(range(1, label.ndim))
    has_x = np.any(label == LABEL_XRAY, axis=axes)
    has_cr = np.any(label == LABEL_CR, axis=axes)
    return (has_x.astype(np.uint8) + 2 * has_cr.astype(np.uint8)).astype(np.uint8)


def concat_simulations(parts: list[SimulatedFrames]) -> SimulatedFrames:
    """Join simulations frame-wise, renumbering frames and event IDs so that both stay unique."""
    if not parts:
        raise ValueError("no simulations to join")
    if len({p.shape for p in parts}) > 1:
        raise ValueError(f"simulations have different frame shapes: {sorted({p.shape for p in parts})}")
    signals, labels, ids, truths = [], [], [], []
    frame_offset = id_offset = 0
    for part in parts:
        part_ids = part.event_id.astype(np.int64)
        ids.append(np.where(part_ids > 0, part_ids + id_offset, 0).astype(np.int32))
        truth = part.truth.copy()
        truth["FRAME"] += frame_offset
        truth["ID"] += id_offset
        truths.append(truth)
        signals.append(part.signal)
        labels.append(part.label)
        frame_offset += len(part)
        id_offset += int(max(np.max(part.truth["ID"], initial=0), part_ids.max(initial=0)))
    from astropy.table import vstack

    return SimulatedFrames(
        np.concatenate(signals), np.concatenate(labels), np.concatenate(ids), vstack(truths),
        dict(parts[0].meta),
    )


def _frames_table(sim: SimulatedFrames) -> Table:
    n = len(sim)
    ny, nx = sim.shape
    n_x = np.zeros(n, dtype=np.int32)
    n_cr = np.zeros(n, dtype=np.int32)
    for label, counts in ((LABEL_XRAY, n_x), (LABEL_CR, n_cr)):
        frame, flat = np.nonzero((sim.label == label).reshape(n, ny * nx))
        pairs = np.unique(np.stack([frame, sim.event_id.reshape(n, -1)[frame, flat]]), axis=1)
        counts[:] = np.bincount(pairs[0], minlength=n)
    return Table({"FRAME": np.arange(n, dtype=np.int32), "CLASS": frame_classes(sim.label),
                  "N_XRAY": n_x, "N_CR": n_cr})


def write_simulation(sim: SimulatedFrames, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write ``sim`` to a FITS file in the layout above, atomically."""
    from crmask import __version__

    primary = fits.PrimaryHDU()
    primary.header["CREATOR"] = (f"crmask {__version__} crmask_wfi.sim.simulate", "software")
    for key, card in _HEADER_KEYS.items():
        value = sim.meta.get(key)
        primary.header[card] = value if value is not None else "none"
    signal = fits.ImageHDU(sim.signal, name="SIGNAL")
    signal.header["BUNIT"] = "electron"
    hdul = fits.HDUList([
        primary,
        signal,
        fits.ImageHDU(sim.label, name="LABEL"),
        fits.ImageHDU(sim.event_id, name="EVENTID"),
        fits.table_to_hdu(sim.truth),
        fits.table_to_hdu(_frames_table(sim)),
    ])
    hdul[4].name = "TRUTH"
    hdul[5].name = "FRAMES"
    return write_atomic(hdul, path, overwrite=overwrite)


def is_simulation_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a FITS file with the ``SIGNAL``, ``LABEL`` and ``TRUTH`` HDUs."""
    try:
        with fits.open(path) as hdul:
            return all(name in hdul for name in SIMULATION_HDUS)
    except (OSError, ValueError):
        return False


def read_simulation(path: str | os.PathLike) -> SimulatedFrames:
    """Read a file written by `write_simulation`.

    Raises
    ------
    FITSReadError
        If the file is missing, unreadable or lacks one of the HDUs.
    """
    path = Path(path)
    if not path.exists():
        raise FITSReadError(f"{path}: no such file")
    try:
        with fits.open(path, memmap=False) as hdul:
            missing = [n for n in SIMULATION_HDUS if n not in hdul]
            if missing:
                raise FITSReadError(f"{path}: not a crmask WFI simulation file (no {', '.join(missing)} HDU)")
            signal = np.asarray(hdul["SIGNAL"].data, dtype=np.float32)
            label = np.asarray(hdul["LABEL"].data, dtype=np.uint8)
            event_id = np.asarray(hdul["EVENTID"].data, dtype=np.int32)
            truth = Table.read(hdul["TRUTH"])
            header = hdul[0].header
            meta = {key: header.get(card) for key, card in _HEADER_KEYS.items()}
    except FITSReadError:
        raise
    except (OSError, ValueError, TypeError) as exc:
        raise FITSReadError(f"{path}: not a readable FITS file: {exc}") from None
    if meta.get("seed") == "none":
        meta["seed"] = None
    meta["shape"] = signal.shape[1:]
    truth.meta = {}
    return SimulatedFrames(signal, label, event_id, truth, meta)
