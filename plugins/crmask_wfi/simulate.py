"""Frame simulator for an Athena-WFI-like DEPFET quadrant.

`simulate_frames` draws X-ray photons and cosmic-ray (CR) events into
frames of electrons, with read noise and a truth label for every pixel.
It is the project's own, physically grounded model (constants and sources
in `crmask_wfi.physics`), checked against a public Geant4 run of the WFI
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
    that would share a pixel with a CR is placed again), as in seed 000.

Pixel coordinates are 0-based numpy indices: pixel ``(y, x)`` covers
``[x - 0.5, x + 0.5) x [y - 0.5, y + 0.5)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Union

import numpy as np
from astropy.table import Table

from .physics import (
    DIFFUSION_SIGMA_FULL_UM,
    ELECTRONS_PER_KEV,
    FANO_FACTOR,
    KEV_PER_ELECTRON,
    LANDAU_MODE,
    LANDAU_XI_KEV_PER_UM,
    MIP_BETAGAMMA,
    PIXEL_PITCH_UM,
    QUADRANT_SHAPE,
    READ_NOISE_E,
    SENSOR_THICKNESS_UM,
    SI_FLUORESCENCE_YIELD,
    SI_K_EDGE_KEV,
    SI_KALPHA_KEV,
    attenuation_length_um,
    diffusion_sigma_um,
    electron_range_um,
    electrons_to_kev,
    kev_to_electrons,
    landau_max_transfer_kev,
    landau_most_probable_kev,
    landau_standard,
    pair_count,
    pixel_fractions,
)

__all__ = [
    "SimulatedFrames",
    "simulate_frames",
    "LABEL_NOISE",
    "LABEL_XRAY",
    "LABEL_CR",
    "LABEL_NAMES",
    "ELECTRONS_PER_KEV",
    "KEV_PER_ELECTRON",
    "kev_to_electrons",
    "electrons_to_kev",
    "DEFAULT_ENERGY_RANGE_KEV",
    "CR_MARGIN_PX",
]

#: Pixel truth labels.
LABEL_NOISE, LABEL_XRAY, LABEL_CR = 0, 1, 2
#: Names of the labels, indexed by label value.
LABEL_NAMES = ("noise", "xray", "cr")

#: Default X-ray spectrum: log-uniform over this range (seed 000 §2).
DEFAULT_ENERGY_RANGE_KEV = (0.2, 10.0)
#: Area that the rates refer to: one quadrant (seed 000 §2: one X-ray and one CR event per quadrant frame).
_RATE_AREA_PX = QUADRANT_SHAPE[0] * QUADRANT_SHAPE[1]

#: Primaries enter over the frame enlarged by this margin (pixels) on every side, so that
#: secondaries of primaries that miss the frame are simulated; it covers the 35-152 px
#: track-to-secondary distances of the Geant4 WFI runs (WFI_PHYSICS.md) with room to spare.
CR_MARGIN_PX = 256
#: Length of the steps a primary track is cut into, um (much finer than the 130 um pixels).
CR_STEP_UM = 10.0
#: Single energy transfers above this (keV) become explicit delta-ray electrons; below it they
#: stay at the step (range of a 50 keV electron in Si ~ 22 um, a sixth of a pixel).
DELTA_RAY_MIN_KEV = 50.0
#: Step along electron tracks (delta rays and secondary electrons), um.
ELECTRON_STEP_UM = 5.0
#: Mean number of secondary particles per primary reaching the sensor: the Geant4 WFI runs have
#: 4.7% of primaries making more than one pixel island (WFI_PHYSICS.md), 1 - exp(-0.048) = 4.7%.
SECONDARY_MEAN_PER_PRIMARY = 0.048
#: Fraction of secondaries that deposit an X-ray-like 0.2-10 keV island: in the Geant4 WFI runs 0.74%
#: of primaries make a valid 0.2-10 keV single-pixel-like event and 4.7% more than one island
#: (WFI_PHYSICS.md), so 0.74 / 4.7 of the secondary islands are soft.
SECONDARY_SOFT_FRACTION = 0.74 / 4.7
#: Soft secondaries: energy uniform over this range (keV), since the grade-filtered particle background
#: of X-ray CCDs and DEPFETs is flat in energy (the WFI requirement is one level over 2-7 keV, JATIS 7(3)
#: 034001, 2021); half are photons (fluorescence of the camera materials), half low-energy electrons,
#: both stopping within a few um.
SECONDARY_SOFT_ENERGY_KEV = (0.2, 10.0)
SECONDARY_SOFT_PHOTON_FRACTION = 0.5
#: Hard secondaries: electrons (knock-on and Compton electrons; photons of these energies mostly
#: cross the sensor) with kinetic energy log-uniform over this range (keV). In the Geant4 run their
#: islands carry tens to hundreds of keV.
SECONDARY_HARD_ENERGY_KEV = (10.0, 10000.0)
#: Distance (pixels) from the primary track's centre to where a secondary lands, along the
#: projected track or its extension: log-normal with median 73 px and log-sigma 0.73, so that
#: 35-152 px (the "typical" range of the Geant4 WFI runs, WFI_PHYSICS.md) is the central 68%.
SECONDARY_DISTANCE_MEDIAN_PX = 73.0
SECONDARY_DISTANCE_LOG_SIGMA = 0.73
#: Spread of secondaries perpendicular to the track line, as a fraction of their distance.
SECONDARY_PERPENDICULAR_FRACTION = 0.15

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


@dataclass
class _Points:
    """Point-like charge deposits: one cloud each, before diffusion."""

    frame: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    energy: np.ndarray  # keV
    particle: np.ndarray  # row in the particle table

    @staticmethod
    def concat(parts: list["_Points"]) -> "_Points":
        names = ("frame", "x", "y", "z", "energy", "particle")
        if not parts:
            return _Points(
                *(np.zeros(0, dtype=np.int64 if n in ("frame", "particle") else float) for n in names)
            )
        return _Points(*(np.concatenate([getattr(p, n) for p in parts]) for n in names))

    def take(self, keep: np.ndarray) -> "_Points":
        return _Points(self.frame[keep], self.x[keep], self.y[keep], self.z[keep], self.energy[keep],
                       self.particle[keep])


@dataclass
class _Pixels:
    """Charge per (frame, pixel, particle) after diffusion and pair creation."""

    frame: np.ndarray
    iy: np.ndarray
    ix: np.ndarray
    electrons: np.ndarray
    particle: np.ndarray
    created: np.ndarray  # electrons created per input point (incl. outside the frame)


def _spread(rng: np.random.Generator, points: _Points, sigma_full_um: float, fano: float) -> _Pixels:
    """Create pairs for every point deposit and share them among the 3x3 nearest pixels."""
    electrons = pair_count(rng, points.energy, fano)
    ix = np.rint(points.x).astype(np.int64)
    iy = np.rint(points.y).astype(np.int64)
    sigma_px = diffusion_sigma_um(SENSOR_THICKNESS_UM - points.z, sigma_full_um) / PIXEL_PITCH_UM
    fx = pixel_fractions(points.x - ix, sigma_px)
    fy = pixel_fractions(points.y - iy, sigma_px)
    prob = (fy[:, :, None] * fx[:, None, :]).reshape(-1, 9)
    prob /= prob.sum(axis=1, keepdims=True)
    counts = rng.multinomial(electrons, prob) if len(electrons) else np.zeros((0, 9), dtype=np.int64)
    dy, dx = np.divmod(np.arange(9), 3)
    nz = np.nonzero(counts)
    return _Pixels(
        frame=points.frame[nz[0]],
        iy=iy[nz[0]] + dy[nz[1]] - 1,
        ix=ix[nz[0]] + dx[nz[1]] - 1,
        electrons=counts[nz],
        particle=points.particle[nz[0]],
        created=electrons,
    )


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


def _absorb_photons(
    rng: np.random.Generator,
    frame: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    energy: np.ndarray,
    from_front: np.ndarray,
    particle: np.ndarray,
) -> tuple[_Points, np.ndarray]:
    """Absorb photons entering the sensor; return their deposits and interaction depths.

    Depth (from the back surface) is NaN for photons that cross the sensor.
    Above the Si K edge, a fraction `SI_FLUORESCENCE_YIELD` of absorptions
    emits an isotropic Si K-alpha photon that travels its own attenuation
    length: absorbed inside the sensor it makes a second deposit, otherwise
    it escapes with its energy.
    """
    path = rng.standard_exponential(len(energy)) * attenuation_length_um(energy)
    absorbed = path < SENSOR_THICKNESS_UM
    depth = np.where(from_front, SENSOR_THICKNESS_UM - path, path)
    depth[~absorbed] = np.nan
    idx = np.nonzero(absorbed)[0]
    e_main = energy[idx].copy()
    fluor = (energy[idx] > SI_K_EDGE_KEV) & (rng.uniform(size=len(idx)) < SI_FLUORESCENCE_YIELD)
    f_idx = idx[fluor]
    e_main[fluor] -= SI_KALPHA_KEV
    cos_t = rng.uniform(-1.0, 1.0, len(f_idx))
    phi = rng.uniform(0.0, 2 * np.pi, len(f_idx))
    travel = rng.standard_exponential(len(f_idx)) * attenuation_length_um(SI_KALPHA_KEV)
    z_k = depth[f_idx] + travel * cos_t
    inside = (z_k >= 0) & (z_k < SENSOR_THICKNESS_UM)
    radial = travel * np.sqrt(1.0 - cos_t**2) / PIXEL_PITCH_UM
    k_idx = f_idx[inside]
    main = _Points(frame[idx], x[idx], y[idx], depth[idx], e_main, particle[idx])
    kalpha = _Points(
        frame[k_idx],
        x[k_idx] + (radial * np.cos(phi))[inside],
        y[k_idx] + (radial * np.sin(phi))[inside],
        z_k[inside],
        np.full(len(k_idx), SI_KALPHA_KEV),
        particle[k_idx],
    )
    return _Points.concat([main, kalpha]), depth


# ----------------------------------------------------------------------------------------------
# Cosmic rays
# ----------------------------------------------------------------------------------------------


@dataclass
class _CREvents:
    """Geometry of CR events drawn over the enlarged frame area."""

    frame: np.ndarray
    x0: np.ndarray
    y0: np.ndarray
    x1: np.ndarray
    y1: np.ndarray
    theta: np.ndarray  # rad
    z_entry: np.ndarray  # 0 (back) or thickness (front)
    t0: np.ndarray  # visible part of the track, as fractions of its length
    t1: np.ndarray
    sec_event: np.ndarray  # per secondary: index of its event
    sec_kind: np.ndarray  # "electron" or "gamma"
    sec_energy: np.ndarray
    sec_x: np.ndarray
    sec_y: np.ndarray
    sec_from_front: np.ndarray
    sec_theta: np.ndarray  # electrons: incidence angle (rad)
    sec_phi: np.ndarray

    def __len__(self) -> int:
        return len(self.frame)

    def take(self, keep: np.ndarray) -> "_CREvents":
        """Keep the events in ``keep`` (indices), with their secondaries."""
        keep = np.asarray(keep, dtype=np.int64)
        new = np.full(len(self), -1)
        new[keep] = np.arange(len(keep))
        sec = np.nonzero(np.isin(self.sec_event, keep))[0]
        sec = sec[np.argsort(new[self.sec_event[sec]], kind="stable")]
        fields = {}
        for name in ("frame", "x0", "y0", "x1", "y1", "theta", "z_entry", "t0", "t1"):
            fields[name] = getattr(self, name)[keep]
        for name in ("sec_kind", "sec_energy", "sec_x", "sec_y", "sec_from_front", "sec_theta", "sec_phi"):
            fields[name] = getattr(self, name)[sec]
        fields["sec_event"] = new[self.sec_event[sec]]
        return _CREvents(**fields)

    @staticmethod
    def concat(parts: list["_CREvents"]) -> "_CREvents":
        offsets = np.cumsum([0] + [len(p) for p in parts[:-1]])
        fields = {}
        for name in _CREvents.__dataclass_fields__:
            arrays = [getattr(p, name) for p in parts]
            if name == "sec_event":
                arrays = [a + off for a, off in zip(arrays, offsets)]
            fields[name] = np.concatenate(arrays)
        return _CREvents(**fields)


def _clip_segments(x0, y0, x1, y1, shape) -> tuple[np.ndarray, np.ndarray]:
    """Liang-Barsky clipping of segments to the frame; returns the visible [t0, t1]."""
    ny, nx = shape
    t0 = np.zeros(len(x0))
    t1 = np.ones(len(x0))
    dx, dy = x1 - x0, y1 - y0
    with np.errstate(divide="ignore", invalid="ignore"):
        for p, q in ((-dx, x0 + 0.5), (dx, nx - 0.5 - x0), (-dy, y0 + 0.5), (dy, ny - 0.5 - y0)):
            parallel = p == 0
            outside = parallel & (q < 0)
            t0[outside], t1[outside] = 1.0, 0.0
            r = np.where(parallel, 0.0, q / np.where(parallel, 1.0, p))
            entering = ~parallel & (p < 0)
            leaving = ~parallel & (p > 0)
            t0 = np.where(entering, np.maximum(t0, r), t0)
            t1 = np.where(leaving, np.minimum(t1, r), t1)
    return t0, t1


def _draw_cr_events(rng: np.random.Generator, frame: np.ndarray, shape: tuple[int, int]) -> _CREvents:
    """Draw primaries entering the enlarged frame, with their secondaries (geometry only)."""
    ny, nx = shape
    n = len(frame)
    x0 = rng.uniform(-0.5 - CR_MARGIN_PX, nx - 0.5 + CR_MARGIN_PX, n)
    y0 = rng.uniform(-0.5 - CR_MARGIN_PX, ny - 0.5 + CR_MARGIN_PX, n)
    # Isotropic flux through a plane: p(cos theta) ~ cos theta, i.e. cos theta = sqrt(U).
    cos_theta = np.sqrt(rng.uniform(0.0, 1.0, n))
    cos_theta = np.maximum(cos_theta, 1e-6)
    theta = np.arccos(cos_theta)
    phi = rng.uniform(0.0, 2 * np.pi, n)
    projected = SENSOR_THICKNESS_UM * np.tan(theta) / PIXEL_PITCH_UM
    x1 = x0 + projected * np.cos(phi)
    y1 = y0 + projected * np.sin(phi)
    t0, t1 = _clip_segments(x0, y0, x1, y1, shape)
    z_entry = np.where(rng.uniform(size=n) < 0.5, 0.0, SENSOR_THICKNESS_UM)

    n_sec = rng.poisson(SECONDARY_MEAN_PER_PRIMARY, n)
    sec_event = np.repeat(np.arange(n), n_sec)
    m = len(sec_event)
    soft = rng.uniform(size=m) < SECONDARY_SOFT_FRACTION
    is_gamma = soft & (rng.uniform(size=m) < SECONDARY_SOFT_PHOTON_FRACTION)
    sec_energy = np.where(
        soft,
        rng.uniform(*SECONDARY_SOFT_ENERGY_KEV, m),
        np.exp(rng.uniform(*np.log(SECONDARY_HARD_ENERGY_KEV), m)),
    )
    distance = SECONDARY_DISTANCE_MEDIAN_PX * np.exp(SECONDARY_DISTANCE_LOG_SIGMA * rng.standard_normal(m))
    along = distance * rng.choice([-1.0, 1.0], m)
    across = SECONDARY_PERPENDICULAR_FRACTION * distance * rng.standard_normal(m)
    ux, uy = np.cos(phi[sec_event]), np.sin(phi[sec_event])
    cx = 0.5 * (x0 + x1)[sec_event]
    cy = 0.5 * (y0 + y1)[sec_event]
    return _CREvents(
        frame=frame, x0=x0, y0=y0, x1=x1, y1=y1, theta=theta, z_entry=z_entry, t0=t0, t1=t1,
        sec_event=sec_event,
        sec_kind=np.where(is_gamma, "gamma", "electron"),
        sec_energy=sec_energy,
        sec_x=cx + along * ux - across * uy,
        sec_y=cy + along * uy + across * ux,
        sec_from_front=rng.uniform(size=m) < 0.5,
        sec_theta=np.arccos(np.sqrt(rng.uniform(0.0, 1.0, m))),
        sec_phi=rng.uniform(0.0, 2 * np.pi, m),
    )


def _in_frame(x: np.ndarray, y: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    ny, nx = shape
    return (x >= -0.5) & (x < nx - 0.5) & (y >= -0.5) & (y < ny - 0.5)


def _visible_events(events: _CREvents, shape: tuple[int, int]) -> np.ndarray:
    """Whether each event's track or one of its secondaries lands in the frame."""
    visible = events.t1 > events.t0
    landed = _in_frame(events.sec_x, events.sec_y, shape)
    visible[events.sec_event[landed]] = True
    return visible


def _electron_track(
    rng: np.random.Generator,
    frame: np.ndarray,
    start: tuple[np.ndarray, np.ndarray, np.ndarray],
    direction: tuple[np.ndarray, np.ndarray, np.ndarray],
    energy: np.ndarray,
    particle: np.ndarray,
) -> tuple[_Points, np.ndarray]:
    """Straight electron tracks (x, y in pixels, z in um), uniform dE/dx over the range.

    An electron stops after its range (`electron_range_um`) or leaves the
    sensor through a face, taking the energy it had left. Returns the point
    deposits and the energy deposited per track (keV).
    """
    x, y, z = start
    ux, uy, uz = direction
    rng_um = np.maximum(electron_range_um(energy), 1e-3)
    with np.errstate(divide="ignore"):
        to_face = np.where(uz > 0, (SENSOR_THICKNESS_UM - z) / uz, np.where(uz < 0, -z / uz, np.inf))
    length = np.minimum(rng_um, np.maximum(to_face, 0.0))
    deposited = energy * length / rng_um
    n_steps = np.clip(np.ceil(length / ELECTRON_STEP_UM), 1, 2000).astype(np.int64)
    owner = np.repeat(np.arange(len(energy)), n_steps)
    first = np.repeat(np.cumsum(n_steps) - n_steps, n_steps)
    frac = (np.arange(len(owner)) - first + 0.5) / n_steps[owner]
    s = frac * length[owner]
    points = _Points(
        frame[owner],
        x[owner] + s * ux[owner] / PIXEL_PITCH_UM,
        y[owner] + s * uy[owner] / PIXEL_PITCH_UM,
        np.clip(z[owner] + s * uz[owner], 0.0, SENSOR_THICKNESS_UM),
        deposited[owner] / n_steps[owner],
        particle[owner],
    )
    return points, deposited


def _primary_deposits(
    rng: np.random.Generator, events: _CREvents, particle: np.ndarray
) -> _Points:
    """Landau-fluctuated steps along the visible part of each primary, plus delta rays."""
    path_um = SENSOR_THICKNESS_UM / np.cos(events.theta)
    visible_um = path_um * np.clip(events.t1 - events.t0, 0.0, None)
    n_steps = np.where(visible_um > 0, np.maximum(np.ceil(visible_um / CR_STEP_UM), 1), 0).astype(np.int64)
    owner = np.repeat(np.arange(len(events)), n_steps)
    first = np.repeat(np.cumsum(n_steps) - n_steps, n_steps)
    step_um = visible_um[owner] / n_steps[owner]
    t = events.t0[owner] + (np.arange(len(owner)) - first + 0.5) / n_steps[owner] * (
        events.t1[owner] - events.t0[owner]
    )
    x = events.x0[owner] + t * (events.x1 - events.x0)[owner]
    y = events.y0[owner] + t * (events.y1 - events.y0)[owner]
    z_exit = SENSOR_THICKNESS_UM - events.z_entry
    z = events.z_entry[owner] + t * (z_exit - events.z_entry)[owner]

    # Energy loss per step: Landau (PDG eq. 34.12) truncated at the largest possible transfer.
    beta2 = MIP_BETAGAMMA**2 / (1 + MIP_BETAGAMMA**2)
    xi = LANDAU_XI_KEV_PER_UM * step_um / beta2
    most_probable = landau_most_probable_kev(step_um)
    t_max = landau_max_transfer_kev()
    lam = np.minimum(landau_standard(rng, len(owner)), t_max / xi + LANDAU_MODE)
    loss = np.maximum(most_probable + xi * (lam - LANDAU_MODE), 0.0)
    is_delta = loss - most_probable > DELTA_RAY_MIN_KEV
    delta_energy = loss[is_delta] - most_probable[is_delta]
    loss[is_delta] = most_probable[is_delta]
    steps = _Points(events.frame[owner], x, y, z, loss, particle[owner])

    # Delta rays leave nearly perpendicular to the track: cos(angle) = sqrt(T / T_max).
    d_owner = owner[is_delta]
    track = np.stack(
        [
            (events.x1 - events.x0)[d_owner] * PIXEL_PITCH_UM,
            (events.y1 - events.y0)[d_owner] * PIXEL_PITCH_UM,
            (z_exit - events.z_entry)[d_owner],
        ],
        axis=1,
    )
    track /= np.linalg.norm(track, axis=1, keepdims=True)
    ortho = rng.standard_normal(track.shape)
    ortho -= np.sum(ortho * track, axis=1, keepdims=True) * track
    ortho /= np.linalg.norm(ortho, axis=1, keepdims=True)
    cos_d = np.sqrt(np.clip(delta_energy / t_max, 0.0, 1.0))[:, None]
    direction = cos_d * track + np.sqrt(1 - cos_d**2) * ortho
    deltas, _ = _electron_track(
        rng,
        events.frame[d_owner],
        (x[is_delta], y[is_delta], z[is_delta]),
        tuple(direction.T),
        delta_energy,
        particle[d_owner],
    )
    return _Points.concat([steps, deltas])


def _secondary_deposits(
    rng: np.random.Generator, events: _CREvents, particle: np.ndarray
) -> tuple[_Points, np.ndarray]:
    """Deposits of secondary electrons and photons; returns the points and photon depths."""
    frame = events.frame[events.sec_event]
    is_gamma = events.sec_kind == "gamma"
    gi = np.nonzero(is_gamma)[0]
    photons, depth = _absorb_photons(
        rng, frame[gi], events.sec_x[gi], events.sec_y[gi], events.sec_energy[gi],
        events.sec_from_front[gi], particle[gi],
    )
    ei = np.nonzero(~is_gamma)[0]
    theta, phi = events.sec_theta[ei], events.sec_phi[ei]
    uz = np.where(events.sec_from_front[ei], -np.cos(theta), np.cos(theta))
    z0 = np.where(events.sec_from_front[ei], SENSOR_THICKNESS_UM, 0.0)
    electrons, _ = _electron_track(
        rng, frame[ei], (events.sec_x[ei], events.sec_y[ei], z0),
        (np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), uz),
        events.sec_energy[ei], particle[ei],
    )
    sec_depth = np.full(len(events.sec_event), np.nan)
    sec_depth[gi] = depth
    return _Points.concat([photons, electrons]), sec_depth


def _cr_for_counts(rng: np.random.Generator, counts: np.ndarray, shape: tuple[int, int]) -> _CREvents:
    """Draw exactly ``counts[f]`` visible CR events for each frame ``f`` (rejection sampling)."""
    ny, nx = shape
    accept = (nx * ny) / ((nx + 2 * CR_MARGIN_PX) * (ny + 2 * CR_MARGIN_PX))
    need = np.asarray(counts, dtype=np.int64).copy()
    parts = [_draw_cr_events(rng, np.zeros(0, dtype=np.int64), shape)]
    while need.sum() > 0:
        n_try = np.ceil(need / accept * 1.2 + 2).astype(np.int64) * (need > 0)
        draw = _draw_cr_events(rng, np.repeat(np.arange(len(need)), n_try), shape)
        visible = np.nonzero(_visible_events(draw, shape))[0]
        frames = draw.frame[visible]
        rank = np.arange(len(visible)) - np.searchsorted(frames, frames)  # frames are sorted
        keep = visible[rank < need[frames]]
        parts.append(draw.take(keep))
        need -= np.bincount(draw.frame[keep], minlength=len(need))
    return _CREvents.concat(parts)


# ----------------------------------------------------------------------------------------------
# Frames
# ----------------------------------------------------------------------------------------------


def _poisson_counts(rng, rate: float, n_frames: int, area: float) -> np.ndarray:
    return rng.poisson(rate * area / _RATE_AREA_PX, n_frames)


def _check_counts(name: str, counts, n_frames: int) -> np.ndarray | None:
    if counts is None:
        return None
    counts = np.asarray(counts)
    if counts.shape != (n_frames,) or counts.dtype.kind not in "iu" or np.any(counts < 0):
        raise ValueError(f"{name} must be {n_frames} non-negative integers (one per frame)")
    return counts.astype(np.int64)


def simulate_frames(
    n_frames: int,
    *,
    shape: tuple[int, int] = QUADRANT_SHAPE,
    xray_rate: float = 1.0,
    cr_rate: float = 1.0,
    spectrum: Spectrum = None,
    seed: int | np.random.Generator | None = None,
    read_noise: float = READ_NOISE_E,
    fano: float = FANO_FACTOR,
    diffusion_sigma_um: float = DIFFUSION_SIGMA_FULL_UM,
    xray_counts=None,
    cr_counts=None,
) -> SimulatedFrames:
    """Simulate WFI frames with X-ray photons, cosmic-ray events and read noise.

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
    read_noise : float
        Gaussian read noise in electrons RMS (0 for none).
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

    Examples
    --------
    >>> from crmask_wfi.simulate import simulate_frames
    >>> sim = simulate_frames(2, shape=(64, 64), xray_rate=64.0, cr_rate=0.0, seed=1)
    >>> sim.signal.shape, sim.signal.dtype.name
    ((2, 64, 64), 'float32')
    """
    if not isinstance(n_frames, (int, np.integer)) or n_frames < 1:
        raise ValueError(f"n_frames must be a positive integer, got {n_frames!r}")
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"shape must be (ny, nx) with positive sizes, got {shape!r}")
    shape = (int(shape[0]), int(shape[1]))
    for name, value in (("xray_rate", xray_rate), ("cr_rate", cr_rate), ("read_noise", read_noise),
                        ("fano", fano), ("diffusion_sigma_um", diffusion_sigma_um)):
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    spectrum = _check_spectrum(spectrum)
    xray_counts = _check_counts("xray_counts", xray_counts, n_frames)
    cr_counts = _check_counts("cr_counts", cr_counts, n_frames)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    ny, nx = shape

    # Cosmic rays first: X-rays are then kept off the CR pixels.
    if cr_counts is None:
        enlarged = (nx + 2 * CR_MARGIN_PX) * (ny + 2 * CR_MARGIN_PX)
        n_drawn = _poisson_counts(rng, cr_rate, n_frames, enlarged)
        events = _draw_cr_events(rng, np.repeat(np.arange(n_frames), n_drawn), shape)
        events = events.take(np.nonzero(_visible_events(events, shape))[0])
    else:
        events = _cr_for_counts(rng, cr_counts, shape)
    n_cr, n_sec = len(events), len(events.sec_event)
    n_photons = xray_counts if xray_counts is not None else _poisson_counts(rng, xray_rate, n_frames, nx * ny)
    n_x = int(n_photons.sum())

    # Particle rows: sky photons, then primaries, then secondaries.
    p_primary = n_x + np.arange(n_cr)
    p_secondary = n_x + n_cr + np.arange(n_sec)
    secondaries, sec_depth = _secondary_deposits(rng, events, p_secondary)
    cr_points = _Points.concat([_primary_deposits(rng, events, p_primary), secondaries])
    cr_pixels = _spread(rng, cr_points, diffusion_sigma_um, fano)
    cr_occupied = np.zeros((n_frames, ny, nx), dtype=bool)
    cr_in = _keep_in_frame(cr_pixels, shape)
    cr_occupied[cr_in.frame, cr_in.iy, cr_in.ix] = True

    x_frame = np.repeat(np.arange(n_frames), n_photons)
    x_energy = _draw_energies(rng, spectrum, n_x)
    photons = _place_xrays(rng, x_frame, x_energy, shape, cr_occupied, diffusion_sigma_um, fano)

    n_particles = n_x + n_cr + n_sec
    pixels = _Pixels(
        *(np.concatenate([getattr(photons.pixels, n), getattr(cr_in, n)])
          for n in ("frame", "iy", "ix", "electrons", "particle")),
        created=np.zeros(0, dtype=np.int64),
    )
    event_of = np.concatenate(
        [np.arange(1, n_x + 1), n_x + 1 + np.arange(n_cr), n_x + 1 + events.sec_event]
    ).astype(np.int32)
    kind_of = np.repeat(np.array([LABEL_XRAY, LABEL_CR], dtype=np.uint8), [n_x, n_cr + n_sec])
    charge, label, event_id = _rasterise(pixels, event_of, kind_of, n_frames, shape)

    signal = charge
    if read_noise > 0:
        noise = rng.standard_normal(signal.shape, dtype=np.float32)
        noise *= np.float32(read_noise)
        signal += noise

    created = np.bincount(cr_points.particle, weights=cr_pixels.created, minlength=n_particles)
    created[:n_x] = photons.created
    edep = electrons_to_kev(np.bincount(pixels.particle, weights=pixels.electrons, minlength=n_particles))
    truth = _truth_table(events, event_of, x_frame, x_energy, photons, sec_depth, edep, created)
    meta = {
        "seed": None if isinstance(seed, np.random.Generator) else seed,
        "shape": shape,
        "xray_rate": float(xray_rate),
        "cr_rate": float(cr_rate),
        "read_noise": float(read_noise),
        "fano": float(fano),
        "diffusion_sigma_um": float(diffusion_sigma_um),
    }
    return SimulatedFrames(signal, label, event_id, truth, meta)


def _keep_in_frame(pixels: _Pixels, shape: tuple[int, int]) -> _Pixels:
    ny, nx = shape
    keep = (pixels.iy >= 0) & (pixels.iy < ny) & (pixels.ix >= 0) & (pixels.ix < nx)
    return _Pixels(pixels.frame[keep], pixels.iy[keep], pixels.ix[keep], pixels.electrons[keep],
                   pixels.particle[keep], pixels.created)


@dataclass
class _Photons:
    x: np.ndarray
    y: np.ndarray
    depth: np.ndarray
    pixels: _Pixels  # in-frame pixels only
    created: np.ndarray  # electrons created per photon


#: Give up re-placing X-rays off CR pixels after this many rounds (a frame full of CR charge).
_MAX_PLACEMENT_ROUNDS = 100


def _place_xrays(
    rng: np.random.Generator,
    frame: np.ndarray,
    energy: np.ndarray,
    shape: tuple[int, int],
    cr_occupied: np.ndarray,
    sigma_full_um: float,
    fano: float,
) -> _Photons:
    """Place and absorb sky photons, drawing again any whose charge would touch a CR pixel."""
    ny, nx = shape
    n = len(energy)
    x, y, depth = np.empty(n), np.empty(n), np.full(n, np.nan)
    created = np.zeros(n, dtype=np.int64)
    pixels: list[_Pixels] = []
    todo = np.arange(n)
    for _ in range(_MAX_PLACEMENT_ROUNDS):
        if len(todo) == 0:
            break
        x[todo] = rng.uniform(-0.5, nx - 0.5, len(todo))
        y[todo] = rng.uniform(-0.5, ny - 0.5, len(todo))
        points, depth[todo] = _absorb_photons(
            rng, frame[todo], x[todo], y[todo], energy[todo], np.zeros(len(todo), bool), todo
        )
        spread = _spread(rng, points, sigma_full_um, fano)
        inside = _keep_in_frame(spread, shape)
        clash = np.unique(inside.particle[cr_occupied[inside.frame, inside.iy, inside.ix]])
        keep = ~np.isin(inside.particle, clash)
        pixels.append(_Pixels(inside.frame[keep], inside.iy[keep], inside.ix[keep],
                              inside.electrons[keep], inside.particle[keep], spread.created))
        created[todo] = np.bincount(points.particle, weights=spread.created, minlength=n)[todo]
        todo = clash
    else:
        raise ValueError("could not place X-rays off the cosmic-ray pixels; lower cr_rate")
    return _Photons(
        x, y, depth,
        _Pixels(*(np.concatenate([getattr(p, a) for p in pixels]) if pixels else np.zeros(0, np.int64)
                  for a in ("frame", "iy", "ix", "electrons", "particle")), created=created),
        created,
    )


def _rasterise(
    pixels: _Pixels, event_of: np.ndarray, kind_of: np.ndarray, n_frames: int, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Charge, label and event-ID images from per-particle pixel charges."""
    ny, nx = shape
    size = n_frames * ny * nx
    flat = (pixels.frame * ny + pixels.iy) * nx + pixels.ix
    charge = np.zeros(size, dtype=np.float32)
    touched, where = np.unique(flat, return_inverse=True)
    charge[touched] = np.bincount(where, weights=pixels.electrons, minlength=len(touched))
    charge = charge.reshape(n_frames, ny, nx)
    label = np.zeros(size, dtype=np.uint8)
    event_id = np.zeros(size, dtype=np.int32)
    if len(flat):
        events = event_of[pixels.particle].astype(np.int64)
        stride = int(events.max()) + 1
        pairs, inverse = np.unique(flat * stride + events, return_inverse=True)
        sums = np.bincount(inverse, weights=pixels.electrons)
        pair_flat, pair_event = np.divmod(pairs, stride)
        order = np.lexsort((sums, pair_flat))
        last = order[np.r_[pair_flat[order][1:] != pair_flat[order][:-1], True]]
        event_id[pair_flat[last]] = pair_event[last]
        first_particle = np.zeros(stride, dtype=np.int64)
        first_particle[event_of[::-1]] = np.arange(len(event_of))[::-1]
        label[pair_flat[last]] = kind_of[first_particle[pair_event[last]]]
    return charge, label.reshape(n_frames, ny, nx), event_id.reshape(n_frames, ny, nx)


def _truth_table(
    events: _CREvents,
    event_of: np.ndarray,
    x_frame: np.ndarray,
    x_energy: np.ndarray,
    photons: _Photons,
    sec_depth: np.ndarray,
    edep: np.ndarray,
    created: np.ndarray,
) -> Table:
    n_x, n_cr, n_sec = len(x_frame), len(events), len(events.sec_event)
    nan_cr = np.full(n_cr, np.nan)
    sec_frame = events.frame[events.sec_event]
    table = Table(
        {
            "FRAME": np.concatenate([x_frame, events.frame, sec_frame]).astype(np.int32),
            "ID": event_of,
            "KIND": np.repeat(["xray", "cr"], [n_x, n_cr + n_sec]),
            "PARTICLE": np.concatenate(
                [np.full(n_x, "photon"), np.full(n_cr, "proton"), events.sec_kind]
            ).astype("U8"),
            "ENERGY": np.concatenate([x_energy, nan_cr, events.sec_energy]),
            "EDEP": edep,
            "NELEC": created.astype(np.int64),
            "X": np.concatenate([photons.x, events.x0, events.sec_x]),
            "Y": np.concatenate([photons.y, events.y0, events.sec_y]),
            "X_END": np.concatenate([photons.x, events.x1, events.sec_x]),
            "Y_END": np.concatenate([photons.y, events.y1, events.sec_y]),
            "Z": np.concatenate([photons.depth, nan_cr, sec_depth]),
            "THETA": np.degrees(np.concatenate([np.full(n_x, np.nan), events.theta, events.sec_theta])),
        }
    )
    table["ENERGY"].unit = table["EDEP"].unit = "keV"
    table["Z"].unit = "um"
    table["THETA"].unit = "deg"
    table.sort(["FRAME", "ID"])
    return table
