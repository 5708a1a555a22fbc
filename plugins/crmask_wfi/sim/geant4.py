"""The public Geant4 WFI run (``wfi_geant4`` in the shared data folder) as a reference for the simulator.

The run (erwocky/geant4-scripts, MIT licence) tracks galactic cosmic-ray
protons through a WFI-like DEPFET array and lists every step in the silicon
(``*_StepLog_*.gdat.gz``) and the energy per pixel per primary
(``geant_events_*_pix.fits.gz``, no charge cloud). Its primaries have a
spectrum (0.01-95 GeV), so they are not all minimum-ionising.

This module reads both and computes the cosmic-ray statistics that the
simulator can be compared with on equal terms: energy loss per micrometre
of proton path, and per primary the pixel islands (8-connected, pixels above
a threshold), their energy, size and projected extent; and where the
secondaries land relative to their primary's track, in pixels
(`secondary_island_distances`, `secondary_step_distances`).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
from astropy.table import Table
from scipy import ndimage

from crmask._deprecation import deprecated_module_attributes
from crmask.exceptions import FITSReadError

from .physics import ELECTRONS_PER_KEV, PIXEL_PITCH_UM
from .simulate import LABEL_CR, SimulatedFrames

__all__ = [
    "GEANT4_SUBDIR",
    "GEANT4_PIXELS_FILE",
    "ISLAND_THRESHOLD_KEV",
    "read_step_log",
    "read_pixels",
    "proton_losses",
    "geant4_islands",
    "simulation_islands",
    "summarise_islands",
    "secondary_island_distances",
    "secondary_step_distances",
]

#: The run's folder in the shared real-data folder (``--data`` or ``CRMASK_DATA``, `crmask.cli_options.data_folder`).
GEANT4_SUBDIR = "wfi_geant4"
#: The run's pixel table (run 0002, with frame and blob numbers) in `GEANT4_SUBDIR`.
GEANT4_PIXELS_FILE = "geant_events_202010061731570002_pix.fits.gz"
#: Pixels at or above this energy (keV) make islands, for both Geant4 and the simulator.
ISLAND_THRESHOLD_KEV = 0.1

_STEP_TEXT_COLUMNS = {"Volume", "Particle", "Process"}


def _require(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.exists():
        raise FITSReadError(
            f"{path}: no such file (the Geant4 reference run is {GEANT4_SUBDIR} in the shared data folder)"
        )
    return path


def read_step_log(path: str | os.PathLike) -> Table:
    """Read a Geant4 ``StepLog`` text file (gzip or plain) into a Table.

    Columns keep the file's names; ``SLen`` is in um, ``Edep`` in keV, the
    ``LPre-*``/``LPost-*`` local coordinates in mm.
    """
    path = _require(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as handle:
        names = handle.readline().split()
        rows = [line.split() for line in handle if line.strip()]
    if not rows or any(len(r) != len(names) for r in rows):
        raise FITSReadError(f"{path}: not a Geant4 step log with columns {names}")
    columns = list(zip(*rows))
    data = {}
    for name, values in zip(names, columns):
        if name in _STEP_TEXT_COLUMNS:
            data[name] = np.array(values)
        elif name in ("Event", "Parent", "ID", "Step"):
            data[name] = np.array(values, dtype=np.int64)
        else:
            data[name] = np.array(values, dtype=float)
    return Table(data)


def read_pixels(path: str | os.PathLike) -> Table:
    """Read the per-pixel energies (``rawpix_*`` or ``*_pix`` FITS table)."""
    path = _require(path)
    try:
        return Table.read(path, hdu=1)
    except (OSError, ValueError) as exc:
        raise FITSReadError(f"{path}: not a Geant4 pixel table: {exc}") from None


def proton_losses(steps: Table) -> Table:
    """Energy deposited by each primary proton per sensor it crosses.

    ``EDEP`` counts the primary's own steps (``Parent == 0``): energy given
    to secondary electrons above Geant4's production cut is not in it.
    ``EDEP_ALL`` adds every other step of the same event in the same sensor
    (delta rays, secondaries), as the pixels see it.

    Returns
    -------
    astropy.table.Table
        ``EVENT``, ``VOLUME``, ``EDEP``, ``EDEP_ALL`` (keV), ``PATH`` (um),
        ``DEPTH`` (um of sensor depth spanned), ``PROJECTED`` (px, in the
        sensor plane), ``LOSS`` and ``LOSS_ALL`` (keV/um of primary path).
    """
    primary = steps[(steps["Parent"] == 0) & (steps["Particle"] == "proton")]
    keys = np.char.add(np.char.add(primary["Event"].astype(str), ":"), np.asarray(primary["Volume"]))
    unique, inverse = np.unique(keys, return_inverse=True)
    n = len(unique)
    edep = np.bincount(inverse, weights=primary["Edep"], minlength=n)
    all_keys = np.char.add(np.char.add(steps["Event"].astype(str), ":"), np.asarray(steps["Volume"]))
    position = np.searchsorted(unique, all_keys)
    known = (position < n) & (unique[np.minimum(position, n - 1)] == all_keys) if n else np.zeros(0, bool)
    edep_all = np.bincount(position[known], weights=np.asarray(steps["Edep"])[known], minlength=n)
    path = np.bincount(inverse, weights=primary["SLen"], minlength=n)
    extent = {}
    for axis in ("X", "Y", "Z"):
        lo = np.full(n, np.inf)
        hi = np.full(n, -np.inf)
        for col in (f"LPre-{axis}", f"LPost-{axis}"):
            np.minimum.at(lo, inverse, np.asarray(primary[col]))
            np.maximum.at(hi, inverse, np.asarray(primary[col]))
        extent[axis] = (hi - lo) * 1000.0  # mm -> um
    event, volume = zip(*(k.split(":") for k in unique)) if n else ((), ())
    table = Table(
        {
            "EVENT": np.array(event, dtype=np.int64),
            "VOLUME": np.array(volume),
            "EDEP": edep,
            "EDEP_ALL": edep_all,
            "PATH": path,
            "DEPTH": extent["Z"],
            "PROJECTED": np.hypot(extent["X"], extent["Y"]) / PIXEL_PITCH_UM,
            "LOSS": np.divide(edep, path, out=np.full(n, np.nan), where=path > 0),
            "LOSS_ALL": np.divide(edep_all, path, out=np.full(n, np.nan), where=path > 0),
        }
    )
    return table


def _islands_of(
    xs: np.ndarray, ys: np.ndarray, energy: np.ndarray
) -> tuple[int, list[float], list[int], float]:
    """Islands of one primary's pixels: count, energies, sizes, extent of the most energetic (px)."""
    x0, y0 = xs.min(), ys.min()
    image = np.zeros((ys.max() - y0 + 1, xs.max() - x0 + 1))
    np.add.at(image, (ys - y0, xs - x0), energy)
    labels, n = ndimage.label(image > 0, structure=np.ones((3, 3)))
    sums = ndimage.sum_labels(image, labels, np.arange(1, n + 1))
    sizes = ndimage.sum_labels(np.ones_like(image), labels, np.arange(1, n + 1))
    main = int(np.argmax(sums)) + 1
    yy, xx = np.nonzero(labels == main)
    extent = float(np.hypot(xx.max() - xx.min(), yy.max() - yy.min()))
    return n, sums.tolist(), sizes.astype(int).tolist(), extent


def _island_table(groups) -> Table:
    rows = []
    for key, xs, ys, energy in groups:
        keep = energy >= ISLAND_THRESHOLD_KEV
        if not keep.any():
            continue
        n, sums, sizes, extent = _islands_of(xs[keep], ys[keep], energy[keep])
        order = np.argsort(sums)[::-1]
        rows.append(
            {
                "KEY": key,
                "N_ISLANDS": n,
                "ENERGY": float(np.sum(sums)),
                "N_PIX": int(keep.sum()),
                "MAIN_EXTENT": extent,
                "MAIN_ENERGY": sums[order[0]],
                "SECONDARY_ENERGY": float(np.sum(np.asarray(sums)[order[1:]])),
                "N_XRAY_LIKE": int(
                    np.sum([(0.2 <= sums[i] <= 10.0) and sizes[i] <= 4 for i in order[1:]])
                ),
            }
        )
    return Table(rows=rows) if rows else Table(names=("KEY", "N_ISLANDS"))


def geant4_islands(pixels: Table) -> Table:
    """Island statistics per primary and sensor of the Geant4 pixel table.

    Returns
    -------
    astropy.table.Table
        Per primary: ``N_ISLANDS``, ``ENERGY`` (keV above threshold),
        ``N_PIX``, ``MAIN_EXTENT`` (px, diagonal extent of the most energetic
        island), ``MAIN_ENERGY``, ``SECONDARY_ENERGY`` (keV in the other
        islands) and ``N_XRAY_LIKE`` (other islands of 0.2-10 keV and at
        most 4 pixels).
    """
    prim = np.asarray(pixels["PRIMID"]) * 16 + np.asarray(pixels["DETID"])
    order = np.argsort(prim, kind="stable")
    prim = prim[order]
    starts = np.r_[0, np.nonzero(np.diff(prim))[0] + 1, len(prim)]
    xs = np.asarray(pixels["ACTX"], dtype=np.int64)[order]
    ys = np.asarray(pixels["ACTY"], dtype=np.int64)[order]
    energy = np.asarray(pixels["ENERGY"], dtype=float)[order]
    groups = ((int(prim[a]), xs[a:b], ys[a:b], energy[a:b]) for a, b in zip(starts[:-1], starts[1:]))
    return _island_table(groups)


def simulation_islands(sim: SimulatedFrames) -> Table:
    """The statistics of `geant4_islands` for the CR events of a noiseless simulation.

    Pixel charge is attributed to the event that put most of it there; run
    the simulation with ``readnoise=0`` and a CR rate low enough that
    events seldom overlap.
    """
    frame, y, x = np.nonzero((sim.label == LABEL_CR) & (sim.event_id > 0))
    ids = sim.event_id[frame, y, x]
    energy = sim.signal[frame, y, x] / ELECTRONS_PER_KEV
    order = np.argsort(ids, kind="stable")
    ids, x, y, energy = ids[order], x[order], y[order], energy[order]
    starts = np.r_[0, np.nonzero(np.diff(ids))[0] + 1, len(ids)]
    groups = ((int(ids[a]), x[a:b], y[a:b], energy[a:b]) for a, b in zip(starts[:-1], starts[1:]))
    return _island_table(groups)


def summarise_islands(islands: Table) -> dict[str, float]:
    """Headline numbers of an island table: medians, percentiles and fractions."""
    n = len(islands)
    extent = np.asarray(islands["MAIN_EXTENT"], dtype=float)
    return {
        "primaries": n,
        "median_extent_px": float(np.median(extent)),
        "p90_extent_px": float(np.percentile(extent, 90)),
        "median_energy_kev": float(np.median(islands["ENERGY"])),
        "median_pixels": float(np.median(islands["N_PIX"])),
        "multi_island_fraction": float(np.mean(np.asarray(islands["N_ISLANDS"]) > 1)),
        "xray_like_secondary_fraction": float(np.mean(np.asarray(islands["N_XRAY_LIKE"]) > 0)),
    }


#: ``PARTYPE`` bit of the pixel table for a proton's deposit (the primary's track).
_PROTON_BIT = 1


def secondary_island_distances(pixels: Table) -> Table:
    """Islands of a primary's pixels that its own track does not touch, and their distance to it.

    Per primary and sensor, pixels at or above `ISLAND_THRESHOLD_KEV` form
    8-connected islands; the track is the pixels with a proton deposit
    (``PARTYPE`` bit 1). An island without a track pixel is a secondary's.

    Returns
    -------
    astropy.table.Table
        One row per secondary island: ``PRIMID``, ``DETID``, ``X``, ``Y``
        (its energy-weighted centroid, ``ACTX``/``ACTY`` pixels), ``ENERGY``
        (keV), ``N_PIX``, ``DISTANCE`` (px, from the centroid to the nearest
        track pixel in the same sensor; NaN when the primary left no track
        pixel in that sensor) and ``XRAY_LIKE`` (0.2-10 keV and at most 4
        pixels, as in `geant4_islands`).
    """
    keep = np.asarray(pixels["ENERGY"], dtype=float) >= ISLAND_THRESHOLD_KEV
    pixels = pixels[keep]
    key = np.asarray(pixels["PRIMID"], dtype=np.int64) * 16 + np.asarray(pixels["DETID"], dtype=np.int64)
    rows = []
    for k in np.unique(key):
        mine = pixels[key == k]
        xs, ys = np.asarray(mine["ACTX"], dtype=np.int64), np.asarray(mine["ACTY"], dtype=np.int64)
        energy = np.asarray(mine["ENERGY"], dtype=float)
        track = (np.asarray(mine["PARTYPE"]) & _PROTON_BIT) > 0
        x0, y0 = xs.min(), ys.min()
        occupied = np.zeros((ys.max() - y0 + 1, xs.max() - x0 + 1), bool)
        occupied[ys - y0, xs - x0] = True
        labels, _ = ndimage.label(occupied, structure=np.ones((3, 3)))
        island = labels[ys - y0, xs - x0]
        for label in np.unique(island[~track]):
            members = island == label
            if np.any(members & track):
                continue
            w = energy[members]
            cx, cy = np.average(xs[members], weights=w), np.average(ys[members], weights=w)
            distance = float(np.min(np.hypot(xs[track] - cx, ys[track] - cy))) if track.any() else np.nan
            rows.append((int(k) // 16, int(k) % 16, float(cx), float(cy), float(w.sum()), int(members.sum()),
                         distance, bool(0.2 <= w.sum() <= 10.0 and members.sum() <= 4)))
    return Table(rows=rows, names=("PRIMID", "DETID", "X", "Y", "ENERGY", "N_PIX", "DISTANCE", "XRAY_LIKE"),
                 dtype=(np.int64, np.int64, float, float, float, int, float, bool))


def secondary_step_distances(steps: Table) -> Table:
    """Where each secondary particle deposits its energy, relative to its primary's track, in pixels.

    The primary's track in a sensor is the segment from the first to the
    last point of its steps there (a GeV proton crosses 450 um straight);
    a secondary is every other particle of the event (delta-ray electrons,
    photons and the electrons they free), located at the energy-weighted
    mean of its steps' end points in that sensor.

    Returns
    -------
    astropy.table.Table
        One row per secondary particle and sensor with energy: ``EVENT``,
        ``VOLUME``, ``PARTICLE``, ``EDEP`` (keV), ``DISTANCE`` (px, in the
        sensor plane, from the track segment; NaN when the primary has no
        step in that sensor).
    """
    scale = 1000.0 / PIXEL_PITCH_UM  # local coordinates in mm -> pixels
    primary = (np.asarray(steps["Parent"]) == 0) & (np.asarray(steps["Particle"]) == "proton")
    tracks = {}
    for event, volume in set(zip(steps["Event"][primary].tolist(), steps["Volume"][primary].tolist())):
        mine = steps[primary & (steps["Event"] == event) & (steps["Volume"] == volume)]
        mine.sort("Step")
        start = np.array([mine["LPre-X"][0], mine["LPre-Y"][0]]) * scale
        end = np.array([mine["LPost-X"][-1], mine["LPost-Y"][-1]]) * scale
        tracks[event, volume] = (start, end)
    secondary = steps[~primary & (np.asarray(steps["Edep"]) > 0)]
    rows = []
    keys = zip(secondary["Event"].tolist(), secondary["Volume"].tolist(), secondary["ID"].tolist())
    groups: dict = {}
    for index, key in enumerate(keys):
        groups.setdefault(key, []).append(index)
    for (event, volume, _), indices in groups.items():
        mine = secondary[indices]
        w = np.asarray(mine["Edep"], dtype=float)
        point = scale * np.array([np.average(mine[f"LPost-{axis}"], weights=w) for axis in ("X", "Y")])
        distance = _segment_distance(point, *tracks[event, volume]) if (event, volume) in tracks else np.nan
        rows.append((event, volume, str(mine["Particle"][0]), float(w.sum()), distance))
    return Table(rows=rows, names=("EVENT", "VOLUME", "PARTICLE", "EDEP", "DISTANCE"),
                 dtype=(np.int64, str, str, float, float))


def _segment_distance(point: np.ndarray, start: np.ndarray, end: np.ndarray) -> float:
    """Distance from ``point`` to the segment ``start``-``end`` (2-D)."""
    direction = end - start
    length2 = float(direction @ direction)
    t = 0.0 if length2 == 0 else float(np.clip((point - start) @ direction / length2, 0.0, 1.0))
    return float(np.hypot(*(point - start - t * direction)))


#: ``GEANT4_DIR`` (``../shared/data/wfi_geant4``, relative to the current directory) still works (deprecated).
__getattr__ = deprecated_module_attributes(__name__, removed={
    "GEANT4_DIR": (Path("../shared/data") / GEANT4_SUBDIR, "crmask.cli_options.data_folder() / GEANT4_SUBDIR"),
})
