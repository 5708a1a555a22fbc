"""Frame simulator for an Athena-WFI-like DEPFET quadrant.

`simulate_frames` draws X-ray photons and cosmic-ray (CR) events into
frames of electrons, with read noise and a truth label for every pixel.
It is the project's own, physically grounded model (constants and sources
in `crmask_wfi.sim.physics` and `crmask_wfi.sim.cosmics`; charge handling in
`crmask_wfi.sim.charge`), checked against a public Geant4 run of the WFI
(``../shared/data/wfi_geant4``); it is not a Geant4 simulation.

What is simulated
-----------------
X-ray photons
    Poisson number per frame (``xray_rate`` per 512 x 512 pixels), uniform
    position, energy from ``spectrum`` (log-uniform 0.2-10 keV by default).
    Absorption depth is exponential with the energy's attenuation length
    (photons deeper than the sensor pass undetected); above the Si K edge a
    fraction of absorptions emits a Si K-alpha photon that is reabsorbed
    nearby or escapes. Pairs are Fano-limited (3.65 eV per pair) and the
    cloud diffuses with sigma growing with drift distance.
Cosmic-ray events
    Primary protons cross the sensor at a Poisson rate (``cr_rate`` per
    512 x 512 pixels) from a cos(theta)-weighted isotropic direction;
    entry points cover the frame plus a margin, so primaries that miss the
    frame still send secondaries into it. Each primary deposits
    Landau-fluctuated energy in short steps along its path; large single
    transfers become delta-ray electrons with their own range. A Poisson
    number of secondary particles (electrons and photons from the
    surrounding mass) land near the projected track or its extension.
Frames
    7 e- Gaussian read noise; X-ray and CR pixels never coincide (an X-ray
    that would share a pixel with a CR is placed again), as in Poliszczuk et al. (2024).

Pixel coordinates are 0-based numpy indices: pixel ``(y, x)`` covers
``[x - 0.5, x + 0.5) x [y - 0.5, y + 0.5)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Union

import numpy as np
from astropy.table import Table

from crmask._deprecation import renamed_keywords

from .charge import PixelCharges, PointDeposits, absorb_photons, keep_in_frame, rasterise, spread_charge
from .cosmics import (
    CR_MARGIN_PX,
    cr_events_for_counts,
    draw_cr_events,
    primary_deposits,
    secondary_deposits,
    visible_events,
)
from .physics import (
    DIFFUSION_SIGMA_FULL_UM,
    ELECTRONS_PER_KEV,
    FANO_FACTOR,
    KEV_PER_ELECTRON,
    QUADRANT_SHAPE,
    READNOISE_E,
    electrons_to_kev,
    kev_to_electrons,
)

__all__ = [
    "SimulatedFrames",
    "simulate_frames",
    "compose_frames",
    "draw_xray_counts",
    "per_frame",
    "meta_value",
    "CR_TRUTH_COLUMNS",
    "LABEL_NOISE",
    "LABEL_XRAY",
    "LABEL_CR",
    "LABEL_NAMES",
    "ELECTRONS_PER_KEV",
    "KEV_PER_ELECTRON",
    "kev_to_electrons",
    "electrons_to_kev",
    "DEFAULT_ENERGY_RANGE_KEV",
    "DEFAULT_XRAY_RATE",
    "DEFAULT_CR_RATE",
    "CR_MARGIN_PX",
]

#: Pixel truth labels.
LABEL_NOISE, LABEL_XRAY, LABEL_CR = 0, 1, 2
#: Names of the labels, indexed by label value.
LABEL_NAMES = ("noise", "xray", "cr")

#: Default X-ray spectrum: log-uniform over this range (Poliszczuk et al. 2024, §2).
DEFAULT_ENERGY_RANGE_KEV = (0.2, 10.0)
#: Default X-ray photons per quadrant frame (Poliszczuk et al. 2024, §2: one X-ray and one CR event per frame).
DEFAULT_XRAY_RATE = 1.0
#: Default cosmic-ray primaries per quadrant frame (same reference).
DEFAULT_CR_RATE = 1.0
#: Area that the rates refer to: one quadrant (Poliszczuk et al. 2024, §2: one X-ray and one CR event per quadrant frame).
_RATE_AREA_PX = QUADRANT_SHAPE[0] * QUADRANT_SHAPE[1]

Spectrum = Union[None, float, tuple, Callable[[np.random.Generator, int], np.ndarray]]


@dataclass
class SimulatedFrames:
    """Frames drawn by `simulate_frames`, with pixel and particle truth.

    Attributes
    ----------
    signal : numpy.ndarray
        ``(n, ny, nx)`` float32, electrons per pixel including read noise.
    label : numpy.ndarray
        ``(n, ny, nx)`` uint8: `LABEL_NOISE` (0), `LABEL_XRAY` (1) or
        `LABEL_CR` (2), from the charge deposited before noise.
    event_id : numpy.ndarray
        ``(n, ny, nx)`` int32: ID of the event that put the most charge in
        the pixel, 0 for none. IDs are unique within one call.
    truth : astropy.table.Table
        One row per injected particle: ``FRAME``, ``ID`` (event ID; a CR
        primary and its secondaries share one), ``KIND`` (``"xray"`` or
        ``"cr"``), ``PARTICLE`` (``"photon"`` for sky X-rays, ``"proton"``,
        ``"electron"``, ``"gamma"``), ``ENERGY`` (incident energy, keV; NaN
        for the minimum-ionising protons), ``EDEP`` (keV deposited in the
        frame's pixels, before noise), ``NELEC`` (electrons created
        anywhere in the sensor), ``X``, ``Y`` (entry or interaction point,
        pixels), ``X_END``, ``Y_END`` (exit point of a track; equal to X, Y
        for point-like deposits), ``Z`` (interaction depth from the back
        surface, um; NaN for tracks) and ``THETA`` (incidence angle, deg;
        NaN for sky photons).
    meta : dict
        The simulation parameters (seed, shape, rates, read noise, ...).
    """

    signal: np.ndarray
    label: np.ndarray
    event_id: np.ndarray
    truth: Table
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.signal.shape[0]

    @property
    def shape(self) -> tuple[int, int]:
        """Frame shape ``(ny, nx)``."""
        return self.signal.shape[1:]  # type: ignore[return-value]

    @property
    def signal_kev(self) -> np.ndarray:
        """The frames in keV (``signal`` times `KEV_PER_ELECTRON`), float32."""
        return self.signal * np.float32(KEV_PER_ELECTRON)

    def subset(self, frames) -> "SimulatedFrames":
        """Return the frames with the given indices (truth rows renumbered to match)."""
        frames = np.atleast_1d(np.asarray(frames, dtype=int))
        new_index = np.full(len(self), -1)
        new_index[frames] = np.arange(len(frames))
        rows = np.isin(self.truth["FRAME"], frames)
        truth = self.truth[rows]
        truth["FRAME"] = new_index[np.asarray(truth["FRAME"])]
        truth.sort(["FRAME", "ID"])
        return SimulatedFrames(
            self.signal[frames], self.label[frames], self.event_id[frames], truth, dict(self.meta)
        )


# ----------------------------------------------------------------------------------------------
# Point deposits and charge spreading
# ----------------------------------------------------------------------------------------------
# X-ray photons (sky photons and secondary photons share the absorption model)
# ----------------------------------------------------------------------------------------------


def _check_spectrum(spectrum: Spectrum) -> Spectrum:
    """Validate the ``spectrum`` argument of `simulate_frames`; return it with None resolved."""
    if spectrum is None:
        return DEFAULT_ENERGY_RANGE_KEV
    if callable(spectrum):
        return spectrum
    if isinstance(spectrum, (int, float, np.integer, np.floating)) and not isinstance(spectrum, bool):
        if not (np.isfinite(spectrum) and spectrum > 0):
            raise ValueError(f"spectrum line energy must be positive (keV), got {spectrum!r}")
        return float(spectrum)
    if isinstance(spectrum, (tuple, list)) and len(spectrum) == 2:
        low, high = (float(v) for v in spectrum)
        if not 0 < low <= high < np.inf:
            raise ValueError(f"spectrum range must satisfy 0 < low <= high keV, got {tuple(spectrum)}")
        return (low, high)
    raise ValueError(
        "spectrum must be None, an energy in keV, a (low, high) keV range or a callable(rng, n); "
        f"got {spectrum!r}"
    )


def _draw_energies(rng: np.random.Generator, spectrum: Spectrum, n: int) -> np.ndarray:
    """Draw ``n`` photon energies (keV) from a spectrum checked by `_check_spectrum`."""
    if callable(spectrum):
        energies = np.asarray(spectrum(rng, n), dtype=float)
        if energies.shape != (n,):
            raise ValueError(f"spectrum callable must return {n} energies, got shape {energies.shape}")
        if np.any(~np.isfinite(energies) | (energies <= 0)):
            raise ValueError("spectrum callable returned energies that are not positive and finite (keV)")
        return energies
    if isinstance(spectrum, float):
        return np.full(n, spectrum)
    low, high = spectrum
    return np.exp(rng.uniform(np.log(low), np.log(high), n))


# ----------------------------------------------------------------------------------------------
# Cosmic rays
# ----------------------------------------------------------------------------------------------
# Frames
# ----------------------------------------------------------------------------------------------


def per_frame(name: str, value, n_frames: int) -> float | np.ndarray:
    """A frame parameter checked: one finite number >= 0 for all frames, or one per frame.

    Parameters
    ----------
    name : str
        The parameter, for the error message.
    value : float or array_like
        One value, or ``n_frames`` values.
    n_frames : int

    Returns
    -------
    float or numpy.ndarray
        The value as a float, or the values as a float array of ``n_frames``.

    Raises
    ------
    ValueError
        If a value is negative or not finite, or there are not ``n_frames`` of them.
    """
    values = np.asarray(value, dtype=float)
    if values.ndim == 0:
        if not np.isfinite(values) or values < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        return float(values)
    if values.shape != (n_frames,) or not np.all(np.isfinite(values) & (values >= 0)):
        raise ValueError(f"{name} must be a finite number >= 0 or {n_frames} of them (one per frame)")
    return values


def _at(value: float | np.ndarray, frame: np.ndarray) -> float | np.ndarray:
    """A `per_frame` parameter's value for each entry of ``frame`` (the one value if it is one)."""
    return value if np.ndim(value) == 0 else value[frame]


def meta_value(value: float | np.ndarray) -> float | str:
    """A `per_frame` parameter as `SimulatedFrames.meta` records it: its value, or ``"per frame"``."""
    return value if np.ndim(value) == 0 else "per frame"


def _poisson_counts(rng, rate: float | np.ndarray, n_frames: int, area: float) -> np.ndarray:
    return rng.poisson(rate * area / _RATE_AREA_PX, n_frames)


def draw_xray_counts(
    rng: np.random.Generator,
    xray_rate: float | np.ndarray,
    n_frames: int,
    shape: tuple[int, int] = QUADRANT_SHAPE,
) -> np.ndarray:
    """Poisson numbers of X-ray photons in ``n_frames`` frames of ``shape``.

    ``xray_rate`` is the mean per quadrant, one value or one per frame.
    """
    return _poisson_counts(rng, xray_rate, n_frames, shape[0] * shape[1])


def _check_counts(name: str, counts, n_frames: int) -> np.ndarray | None:
    if counts is None:
        return None
    counts = np.asarray(counts)
    if counts.shape != (n_frames,) or counts.dtype.kind not in "iu" or np.any(counts < 0):
        raise ValueError(f"{name} must be {n_frames} non-negative integers (one per frame)")
    return counts.astype(np.int64)


@renamed_keywords(read_noise="readnoise")
def simulate_frames(
    n_frames: int,
    *,
    shape: tuple[int, int] = QUADRANT_SHAPE,
    xray_rate: float | np.ndarray = DEFAULT_XRAY_RATE,
    cr_rate: float | np.ndarray = DEFAULT_CR_RATE,
    spectrum: Spectrum = None,
    seed: int | np.random.Generator | None = None,
    readnoise: float | np.ndarray = READNOISE_E,
    fano: float = FANO_FACTOR,
    diffusion_sigma_um: float | np.ndarray = DIFFUSION_SIGMA_FULL_UM,
    xray_counts=None,
    cr_counts=None,
) -> SimulatedFrames:
    """Simulate WFI frames with X-ray photons, cosmic-ray events and read noise.

    ``xray_rate``, ``cr_rate``, ``readnoise`` and ``diffusion_sigma_um``
    take one value for all frames or one per frame (an array of
    ``n_frames``); the same value for every frame gives the frames of that
    one value.

    Parameters
    ----------
    n_frames : int
        Number of frames.
    shape : tuple of int
        Frame shape ``(ny, nx)``; default one 512 x 512 quadrant.
    xray_rate : float
        Mean number of X-ray photons per 512 x 512 pixels per frame
        (scaled to ``shape``). Photons that cross the sensor undetected
        count too.
    cr_rate : float
        Mean number of cosmic-ray primaries crossing 512 x 512 pixels per
        frame (scaled to ``shape``); primaries entering the margin around
        the frame are drawn at the same density.
    spectrum : None, float, (low, high) or callable
        X-ray energies in keV: `None` for log-uniform 0.2-10 keV, a number
        for a line, a ``(low, high)`` pair for log-uniform over that range,
        or ``f(rng, n) -> energies``.
    seed : int or numpy.random.Generator, optional
        Seed; the same seed gives the same frames.
    readnoise : float
        Gaussian read noise in electrons RMS (0 for none). The former
        spelling ``read_noise`` still works (deprecated).
    fano : float
        Fano factor of the pair statistics.
    diffusion_sigma_um : float
        Charge-cloud sigma after drifting the full sensor thickness.
    xray_counts, cr_counts : array of int, optional
        Exact numbers of X-ray photons / visible CR events per frame,
        instead of Poisson draws (used to build class-balanced data sets).
        A visible CR event has its track or a secondary in the frame.

    Returns
    -------
    SimulatedFrames
        Its ``meta`` records each parameter given per frame as ``"per frame"``.

    Examples
    --------
    >>> from crmask_wfi.sim.simulate import simulate_frames
    >>> sim = simulate_frames(2, shape=(64, 64), xray_rate=64.0, cr_rate=0.0, seed=1)
    >>> sim.signal.shape, sim.signal.dtype.name
    ((2, 64, 64), 'float32')
    """
    if not isinstance(n_frames, (int, np.integer)) or n_frames < 1:
        raise ValueError(f"n_frames must be a positive integer, got {n_frames!r}")
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"shape must be (ny, nx) with positive sizes, got {shape!r}")
    shape = (int(shape[0]), int(shape[1]))
    xray_rate, cr_rate, readnoise, diffusion_sigma_um = (
        per_frame(name, value, n_frames) for name, value in (
            ("xray_rate", xray_rate), ("cr_rate", cr_rate), ("readnoise", readnoise),
            ("diffusion_sigma_um", diffusion_sigma_um)))
    if not np.isfinite(fano) or fano < 0:
        raise ValueError(f"fano must be a finite number >= 0, got {fano!r}")
    spectrum = _check_spectrum(spectrum)
    xray_counts = _check_counts("xray_counts", xray_counts, n_frames)
    cr_counts = _check_counts("cr_counts", cr_counts, n_frames)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    ny, nx = shape

    # Cosmic rays first: X-rays are then kept off the CR pixels.
    if cr_counts is None:
        enlarged = (nx + 2 * CR_MARGIN_PX) * (ny + 2 * CR_MARGIN_PX)
        n_drawn = _poisson_counts(rng, cr_rate, n_frames, enlarged)
        events = draw_cr_events(rng, np.repeat(np.arange(n_frames), n_drawn), shape)
        events = events.take(np.nonzero(visible_events(events, shape))[0])
    else:
        events = cr_events_for_counts(rng, cr_counts, shape)
    n_cr, n_sec = len(events), len(events.sec_event)
    n_photons = xray_counts if xray_counts is not None else draw_xray_counts(rng, xray_rate, n_frames, shape)

    # CR particle rows: primaries, then secondaries.
    secondaries, sec_depth = secondary_deposits(rng, events, n_cr + np.arange(n_sec))
    cr_points = PointDeposits.concat([primary_deposits(rng, events, np.arange(n_cr)), secondaries])
    cr_pixels = spread_charge(rng, cr_points, _at(diffusion_sigma_um, cr_points.frame), fano)
    nan_cr = np.full(n_cr, np.nan)
    cr_rows = {
        "FRAME": np.concatenate([events.frame, events.frame[events.sec_event]]),
        "PARTICLE": np.concatenate([np.full(n_cr, "proton"), events.sec_kind]),
        "ENERGY": np.concatenate([nan_cr, events.sec_energy]),
        "NELEC": np.bincount(cr_points.particle, weights=cr_pixels.created, minlength=n_cr + n_sec),
        "X": np.concatenate([events.x0, events.sec_x]),
        "Y": np.concatenate([events.y0, events.sec_y]),
        "X_END": np.concatenate([events.x1, events.sec_x]),
        "Y_END": np.concatenate([events.y1, events.sec_y]),
        "Z": np.concatenate([nan_cr, sec_depth]),
        "THETA": np.degrees(np.concatenate([events.theta, events.sec_theta])),
    }
    meta = {
        "seed": None if isinstance(seed, np.random.Generator) else seed,
        "shape": shape,
        "xray_rate": meta_value(xray_rate),
        "cr_rate": meta_value(cr_rate),
        "readnoise": meta_value(readnoise),
        "fano": float(fano),
        "diffusion_sigma_um": meta_value(diffusion_sigma_um),
    }
    return compose_frames(
        rng,
        keep_in_frame(cr_pixels, shape),
        np.concatenate([np.arange(n_cr), events.sec_event]),
        cr_rows,
        n_photons,
        shape=shape,
        spectrum=spectrum,
        readnoise=readnoise,
        fano=fano,
        diffusion_sigma_um=diffusion_sigma_um,
        meta=meta,
    )


#: Truth columns that the source of the cosmic rays gives `compose_frames`, one value per CR particle.
CR_TRUTH_COLUMNS = ("FRAME", "PARTICLE", "ENERGY", "NELEC", "X", "Y", "X_END", "Y_END", "Z", "THETA")


def compose_frames(
    rng: np.random.Generator,
    cr_pixels: PixelCharges,
    cr_event: np.ndarray,
    cr_rows: dict[str, np.ndarray],
    n_photons: np.ndarray,
    *,
    shape: tuple[int, int],
    spectrum: Spectrum = None,
    readnoise: float | np.ndarray = READNOISE_E,
    fano: float = FANO_FACTOR,
    diffusion_sigma_um: float | np.ndarray = DIFFUSION_SIGMA_FULL_UM,
    meta: dict[str, Any] | None = None,
) -> SimulatedFrames:
    """Frames from cosmic-ray pixel charges: add the X-ray photons and the read noise, and the truth.

    The one implementation of the sky X-rays (energy from ``spectrum``,
    absorption, charge cloud, Fano noise, placed off the cosmic-ray pixels),
    of the read noise and of the truth images and table, whatever made the
    cosmic rays: `simulate_frames`, or the Geant4 run
    (`crmask_wfi.sim.geant4_frames.geant4_frames`). Draws from ``rng`` in
    this order: the photons' energies, their placement, the read noise.

    Parameters
    ----------
    rng : numpy.random.Generator
    cr_pixels : crmask_wfi.sim.charge.PixelCharges
        Cosmic-ray charge in the frames' pixels (electrons); ``particle`` is
        the row of ``cr_rows`` that put it there.
    cr_event : numpy.ndarray of int
        Per CR particle row, its event (0-based; a primary and its
        secondaries share one). Event IDs in the output follow the X-rays'.
    cr_rows : dict of str to numpy.ndarray
        Per CR particle row, the truth columns `CR_TRUTH_COLUMNS` (``THETA``
        in degrees); ``ID``, ``KIND`` and ``EDEP`` are made here.
    n_photons : numpy.ndarray of int
        X-ray photons per frame; its length is the number of frames.
    shape : tuple of int
        Frame shape ``(ny, nx)``.
    spectrum, readnoise, fano, diffusion_sigma_um
        As in `simulate_frames`: ``readnoise`` and ``diffusion_sigma_um``
        one value or one per frame.
    meta : dict, optional
        The `SimulatedFrames.meta` of the result.

    Returns
    -------
    SimulatedFrames
    """
    spectrum = _check_spectrum(spectrum)
    n_frames = len(n_photons)
    readnoise = per_frame("readnoise", readnoise, n_frames)
    diffusion_sigma_um = per_frame("diffusion_sigma_um", diffusion_sigma_um, n_frames)
    ny, nx = shape
    n_x, n_cr = int(np.sum(n_photons)), len(cr_event)
    cr_occupied = np.zeros((n_frames, ny, nx), dtype=bool)
    cr_occupied[cr_pixels.frame, cr_pixels.iy, cr_pixels.ix] = True

    x_frame = np.repeat(np.arange(n_frames), n_photons)
    x_energy = _draw_energies(rng, spectrum, n_x)
    photons = _place_xrays(rng, x_frame, x_energy, shape, cr_occupied, diffusion_sigma_um, fano)

    # Particle rows: sky photons, then the cosmic rays.
    pixels = PixelCharges(
        *(np.concatenate([getattr(photons.pixels, n), getattr(cr_pixels, n)])
          for n in ("frame", "iy", "ix", "electrons")),
        particle=np.concatenate([photons.pixels.particle, n_x + cr_pixels.particle]),
        created=np.zeros(0, dtype=np.int64),
    )
    event_of = np.concatenate([np.arange(1, n_x + 1), n_x + 1 + np.asarray(cr_event)]).astype(np.int32)
    kind_of = np.repeat(np.array([LABEL_XRAY, LABEL_CR], dtype=np.uint8), [n_x, n_cr])
    charge, label, event_id = rasterise(pixels, event_of, kind_of, n_frames, shape)

    signal = charge
    if np.any(readnoise > 0):
        noise = rng.standard_normal(signal.shape, dtype=np.float32)
        noise *= np.float32(readnoise) if np.ndim(readnoise) == 0 else np.float32(readnoise)[:, None, None]
        signal += noise

    edep = electrons_to_kev(np.bincount(pixels.particle, weights=pixels.electrons, minlength=n_x + n_cr))
    truth = _truth_table(x_frame, x_energy, photons, event_of, edep, cr_rows)
    return SimulatedFrames(signal, label, event_id, truth, dict(meta or {}))


@dataclass
class _Photons:
    x: np.ndarray
    y: np.ndarray
    depth: np.ndarray
    pixels: PixelCharges  # in-frame pixels only
    created: np.ndarray  # electrons created per photon


#: Give up re-placing X-rays off CR pixels after this many rounds (a frame full of CR charge).
_MAX_PLACEMENT_ROUNDS = 100


def _place_xrays(
    rng: np.random.Generator,
    frame: np.ndarray,
    energy: np.ndarray,
    shape: tuple[int, int],
    cr_occupied: np.ndarray,
    sigma_full_um: float | np.ndarray,
    fano: float,
) -> _Photons:
    """Place and absorb sky photons, drawing again any whose charge would touch a CR pixel."""
    ny, nx = shape
    n = len(energy)
    x, y, depth = np.empty(n), np.empty(n), np.full(n, np.nan)
    created = np.zeros(n, dtype=np.int64)
    pixels: list[PixelCharges] = []
    todo = np.arange(n)
    for _ in range(_MAX_PLACEMENT_ROUNDS):
        if len(todo) == 0:
            break
        x[todo] = rng.uniform(-0.5, nx - 0.5, len(todo))
        y[todo] = rng.uniform(-0.5, ny - 0.5, len(todo))
        points, depth[todo] = absorb_photons(
            rng, frame[todo], x[todo], y[todo], energy[todo], np.zeros(len(todo), bool), todo
        )
        spread = spread_charge(rng, points, _at(sigma_full_um, points.frame), fano)
        inside = keep_in_frame(spread, shape)
        clash = np.unique(inside.particle[cr_occupied[inside.frame, inside.iy, inside.ix]])
        keep = ~np.isin(inside.particle, clash)
        pixels.append(PixelCharges(inside.frame[keep], inside.iy[keep], inside.ix[keep],
                              inside.electrons[keep], inside.particle[keep], spread.created))
        created[todo] = np.bincount(points.particle, weights=spread.created, minlength=n)[todo]
        todo = clash
    else:
        raise ValueError("could not place X-rays off the cosmic-ray pixels; lower cr_rate")
    return _Photons(
        x, y, depth,
        PixelCharges(*(np.concatenate([getattr(p, a) for p in pixels]) if pixels else np.zeros(0, np.int64)
                  for a in ("frame", "iy", "ix", "electrons", "particle")), created=created),
        created,
    )


def _truth_table(
    x_frame: np.ndarray,
    x_energy: np.ndarray,
    photons: _Photons,
    event_of: np.ndarray,
    edep: np.ndarray,
    cr_rows: dict[str, np.ndarray],
) -> Table:
    n_x, n_cr = len(x_frame), len(event_of) - len(x_frame)
    nan_x = np.full(n_x, np.nan)
    table = Table(
        {
            "FRAME": np.concatenate([x_frame, cr_rows["FRAME"]]).astype(np.int32),
            "ID": event_of,
            "KIND": np.repeat(["xray", "cr"], [n_x, n_cr]),
            "PARTICLE": np.concatenate([np.full(n_x, "photon"), cr_rows["PARTICLE"]]).astype("U8"),
            "ENERGY": np.concatenate([x_energy, cr_rows["ENERGY"]]),
            "EDEP": edep,
            "NELEC": np.concatenate([photons.created, cr_rows["NELEC"]]).astype(np.int64),
            "X": np.concatenate([photons.x, cr_rows["X"]]),
            "Y": np.concatenate([photons.y, cr_rows["Y"]]),
            "X_END": np.concatenate([photons.x, cr_rows["X_END"]]),
            "Y_END": np.concatenate([photons.y, cr_rows["Y_END"]]),
            "Z": np.concatenate([photons.depth, cr_rows["Z"]]),
            "THETA": np.concatenate([nan_x, cr_rows["THETA"]]),
        }
    )
    table["ENERGY"].unit = table["EDEP"].unit = "keV"
    table["Z"].unit = "um"
    table["THETA"].unit = "deg"
    table.sort(["FRAME", "ID"])
    return table
