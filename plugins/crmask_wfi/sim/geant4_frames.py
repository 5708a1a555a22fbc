"""Quadrant frames with the Geant4 run's cosmic rays and the simulator's X-rays.

The public Geant4 WFI run (`crmask_wfi.sim.geant4`) gives the energy every
cosmic-ray primary deposited in each pixel of a four-sensor DEPFET array:
real transport physics (delta rays, secondaries, multiple scattering) that
the project's simulator lacks. `geant4_frames` places each primary's pixel
charges into 512 x 512 quadrant frames at a chosen cosmic-ray rate and adds
X-ray photons and read noise from the simulator
(`crmask_wfi.sim.simulate.compose_frames`, the one implementation of both),
with the truth of `~crmask_wfi.sim.simulate.SimulatedFrames`, so that
`crmask_wfi.report` scores the frames like simulated ones.

The rate is set by spreading the primaries over frames. The run's own 5 ms
frames are not used: they hold 7.3 crossing primaries per quadrant (409
crossings in 14 frames of four), about 12 times the physical proton rate
(0.64, ``../shared/WFI_PHYSICS.md``, whose notes find the run's time
normalisation too short) and 7 times the simulator's default, which counts
all species.
Geant4 put each step's energy into pixels with no charge cloud: its cosmic
rays have no diffusion, the X-rays do.
"""

from __future__ import annotations

import numpy as np
from astropy.table import Table

from crmask.exceptions import FITSReadError

from .charge import PixelCharges
from .physics import (
    DIFFUSION_SIGMA_FULL_UM,
    ELECTRONS_PER_KEV,
    FANO_FACTOR,
    QUADRANT_SHAPE,
    READNOISE_E,
)
from .simulate import (
    DEFAULT_CR_RATE,
    DEFAULT_XRAY_RATE,
    SimulatedFrames,
    Spectrum,
    compose_frames,
    draw_xray_counts,
    meta_value,
    per_frame,
)

__all__ = ["SENSOR_ORIGINS", "frame_count", "geant4_frames"]

#: ``(ACTX, ACTY)`` of pixel (0, 0) of each sensor's 512 x 512 visible area in the run's array grid, by
#: ``DETID`` (0-3: DEPFET A-D): the visible areas that ``convert_to_fits_mit.py`` of erwocky/geant4-scripts
#: (2021, MIT licence) lists for the array's layout (C B over D A).
SENSOR_ORIGINS = {0: (632, 52), 1: (632, 610), 2: (59, 610), 3: (59, 52)}

#: Columns of the Geant4 pixel table that `geant4_frames` reads.
_PIXEL_COLUMNS = ("PRIMID", "DETID", "ACTX", "ACTY", "ENERGY", "PARTYPE")
#: ``PARTYPE`` bits of the pixel table (``convert_to_fits_mit.py``) and the truth ``PARTICLE`` names.
_PARTICLE_BITS = ((1, "proton"), (2, "electron"), (4, "gamma"), (8, "positron"))


def frame_count(pixels: Table, cr_rate: float = DEFAULT_CR_RATE) -> int:
    """Quadrant frames over which `geant4_frames` spreads the run's primaries at ``cr_rate``.

    ``cr_rate`` counts, as in `~crmask_wfi.sim.simulate.simulate_frames`,
    the primaries crossing a quadrant per frame: here a primary crosses a
    sensor when it left a track there (a pixel with a proton deposit).
    The count is a multiple of the four sensors, at least four.
    """
    if not (np.isfinite(cr_rate) and cr_rate > 0):
        raise ValueError(f"cr_rate must be a finite number > 0, got {cr_rate!r}")
    n_sensors = len(SENSOR_ORIGINS)
    return n_sensors * max(1, int(np.rint(_crossings(pixels) / (n_sensors * cr_rate))))


def geant4_frames(
    pixels: Table,
    *,
    cr_rate: float = DEFAULT_CR_RATE,
    xray_rate: float | np.ndarray = DEFAULT_XRAY_RATE,
    spectrum: Spectrum = None,
    seed: int | np.random.Generator | None = None,
    readnoise: float | np.ndarray = READNOISE_E,
    fano: float = FANO_FACTOR,
    diffusion_sigma_um: float | np.ndarray = DIFFUSION_SIGMA_FULL_UM,
) -> SimulatedFrames:
    """Quadrant frames holding every primary of a Geant4 pixel table, plus simulated X-rays and read noise.

    The array's frames are `frame_count` ``/ 4``; each primary goes into one
    of them, drawn uniformly, with its pixels in every sensor it touched, so
    the number of primaries per frame is Poisson-like with mean ``cr_rate``
    per quadrant and a secondary lands in the frame of its primary, in
    whichever sensor it reached. Sensor ``DETID`` of array frame ``k`` is
    quadrant frame ``4 k + DETID``. Pixel energies become charge at 3.65 eV
    per pair, exactly (no Fano noise, no diffusion: Geant4 gave no charge
    cloud).

    Parameters
    ----------
    pixels : astropy.table.Table
        The run's pixel energies (`crmask_wfi.sim.geant4.read_pixels`), with
        ``PRIMID``, ``DETID``, ``ACTX``, ``ACTY``, ``ENERGY`` (keV) and
        ``PARTYPE``.
    cr_rate : float
        Primaries crossing a quadrant per frame (`frame_count`); the default
        is the simulator's.
    xray_rate, spectrum, seed, readnoise, fano, diffusion_sigma_um
        As in `~crmask_wfi.sim.simulate.simulate_frames`: ``xray_rate``,
        ``readnoise`` and ``diffusion_sigma_um`` (the X-rays' charge cloud)
        one value or one per frame (`frame_count` of them). For an integer
        ``seed`` the X-ray photons and the read noise are those of
        ``simulate_frames(frame_count(pixels, cr_rate), cr_rate=0.0, seed=seed, ...)``,
        but for a photon that would touch a cosmic-ray pixel: that one is
        placed again, as in the simulator. Which frame each primary goes into
        is drawn from a child of the generator (`numpy.random.Generator.spawn`).

    Returns
    -------
    SimulatedFrames
        Truth as in `~crmask_wfi.sim.simulate.SimulatedFrames`; one
        cosmic-ray row per primary and sensor: ``PARTICLE`` ``proton`` where
        the primary crossed that sensor, else the particle of its most
        energetic pixel there (``electron``, ``gamma``, ...), ``ENERGY``, ``Z`` and
        ``THETA`` NaN, ``X``, ``Y``, ``X_END``, ``Y_END`` the two track
        pixels farthest apart (both the energy-weighted centre of its pixels
        where the primary did not cross that sensor). ``meta`` adds
        ``source`` (``"geant4"``) and ``primaries``.

    Raises
    ------
    crmask.exceptions.FITSReadError
        If the table lacks a column or has a pixel outside its sensor.
    ValueError
        If a rate, the read noise, the Fano factor or the diffusion is out of range.
    """
    if not np.isfinite(fano) or fano < 0:
        raise ValueError(f"fano must be a finite number >= 0, got {fano!r}")
    n_frames = frame_count(_checked(pixels), cr_rate)
    xray_rate, readnoise, diffusion_sigma_um = (
        per_frame(name, value, n_frames) for name, value in (
            ("xray_rate", xray_rate), ("readnoise", readnoise), ("diffusion_sigma_um", diffusion_sigma_um)))
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n_photons = draw_xray_counts(rng, xray_rate, n_frames)

    group, key = _groups(pixels)
    primid = key // len(SENSOR_ORIGINS)
    detid = key % len(SENSOR_ORIGINS)
    primaries, primary_of = np.unique(primid, return_inverse=True)
    array_frame = rng.spawn(1)[0].integers(0, n_frames // len(SENSOR_ORIGINS), len(primaries))
    frame_of = len(SENSOR_ORIGINS) * array_frame[primary_of] + detid

    origin = np.array([SENSOR_ORIGINS[d] for d in range(len(SENSOR_ORIGINS))])
    detector = np.asarray(pixels["DETID"], dtype=np.int64)
    energy = np.asarray(pixels["ENERGY"], dtype=float)
    cr_pixels = PixelCharges(
        frame=frame_of[group],
        iy=np.asarray(pixels["ACTY"], dtype=np.int64) - origin[detector, 1],
        ix=np.asarray(pixels["ACTX"], dtype=np.int64) - origin[detector, 0],
        electrons=energy * ELECTRONS_PER_KEV,
        particle=group,
        created=np.zeros(0, dtype=np.int64),
    )
    cr_rows = _truth_rows(pixels, group, len(key))
    cr_rows["FRAME"] = frame_of
    meta = {
        "seed": None if isinstance(seed, np.random.Generator) else seed,
        "shape": QUADRANT_SHAPE,
        "xray_rate": meta_value(xray_rate),
        "cr_rate": float(cr_rate),
        "readnoise": meta_value(readnoise),
        "fano": float(fano),
        "diffusion_sigma_um": meta_value(diffusion_sigma_um),
        "source": "geant4",
        "primaries": len(primaries),
    }
    return compose_frames(
        rng, cr_pixels, np.arange(len(key)), cr_rows, n_photons, shape=QUADRANT_SHAPE, spectrum=spectrum,
        readnoise=readnoise, fano=fano, diffusion_sigma_um=diffusion_sigma_um, meta=meta,
    )


def _checked(pixels: Table) -> Table:
    """The pixel table, checked: its columns, sensors and that every pixel lies in its sensor."""
    missing = [c for c in _PIXEL_COLUMNS if c not in pixels.colnames]
    if missing:
        raise FITSReadError(f"not a Geant4 pixel table: no column {', '.join(missing)}")
    detector = np.asarray(pixels["DETID"], dtype=np.int64)
    if np.any((detector < 0) | (detector >= len(SENSOR_ORIGINS))):
        raise FITSReadError(f"Geant4 pixel table: DETID outside 0-{len(SENSOR_ORIGINS) - 1}")
    origin = np.array([SENSOR_ORIGINS[d] for d in range(len(SENSOR_ORIGINS))])
    x = np.asarray(pixels["ACTX"], dtype=np.int64) - origin[detector, 0]
    y = np.asarray(pixels["ACTY"], dtype=np.int64) - origin[detector, 1]
    outside = (x < 0) | (x >= QUADRANT_SHAPE[1]) | (y < 0) | (y >= QUADRANT_SHAPE[0])
    if np.any(outside):
        i = int(np.argmax(outside))
        raise FITSReadError(
            f"Geant4 pixel table: pixel ACTX={pixels['ACTX'][i]}, ACTY={pixels['ACTY'][i]} lies outside "
            f"sensor {detector[i]}"
        )
    return pixels


def _groups(pixels: Table) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel, its (primary, sensor) group; and each group's key ``4 PRIMID + DETID``, sorted."""
    key = np.asarray(pixels["PRIMID"], dtype=np.int64) * len(SENSOR_ORIGINS) + np.asarray(
        pixels["DETID"], dtype=np.int64
    )
    keys, group = np.unique(key, return_inverse=True)
    return group, keys


def _crossings(pixels: Table) -> int:
    """Number of (primary, sensor) pairs with a track: a pixel with a proton deposit."""
    group, _ = _groups(pixels)
    return len(np.unique(group[(np.asarray(pixels["PARTYPE"]) & 1) > 0]))


def _truth_rows(pixels: Table, group: np.ndarray, n_groups: int) -> dict[str, np.ndarray]:
    """The cosmic-ray truth columns of each (primary, sensor) group, but ``FRAME``."""
    origin = np.array([SENSOR_ORIGINS[d] for d in range(len(SENSOR_ORIGINS))])
    detector = np.asarray(pixels["DETID"], dtype=np.int64)
    x = (np.asarray(pixels["ACTX"], dtype=np.int64) - origin[detector, 0]).astype(float)
    y = (np.asarray(pixels["ACTY"], dtype=np.int64) - origin[detector, 1]).astype(float)
    energy = np.asarray(pixels["ENERGY"], dtype=float)
    partype = np.asarray(pixels["PARTYPE"], dtype=np.int64)
    track = (partype & 1) > 0
    edep = np.bincount(group, weights=energy, minlength=n_groups)
    ends = np.full((n_groups, 4), np.nan)
    particle = np.empty(n_groups, dtype="U8")
    for g in range(n_groups):
        mine = np.nonzero(group == g)[0]
        on_track = mine[track[mine]]
        if len(on_track):
            d2 = (x[on_track, None] - x[on_track]) ** 2 + (y[on_track, None] - y[on_track]) ** 2
            a, b = np.unravel_index(np.argmax(d2), d2.shape)
            ends[g] = x[on_track[a]], y[on_track[a]], x[on_track[b]], y[on_track[b]]
        else:
            cx, cy = np.average(x[mine], weights=energy[mine]), np.average(y[mine], weights=energy[mine])
            ends[g] = cx, cy, cx, cy
        bits = 1 if len(on_track) else partype[mine[np.argmax(energy[mine])]]
        particle[g] = next((name for bit, name in _PARTICLE_BITS if bits & bit), "other")
    nan = np.full(n_groups, np.nan)
    return {
        "PARTICLE": particle,
        "ENERGY": nan,
        "NELEC": np.rint(edep * ELECTRONS_PER_KEV),
        "X": ends[:, 0],
        "Y": ends[:, 1],
        "X_END": ends[:, 2],
        "Y_END": ends[:, 3],
        "Z": nan,
        "THETA": nan,
    }
