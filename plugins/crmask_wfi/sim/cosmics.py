"""Cosmic-ray events: primary tracks, delta rays and secondary particles.

Internal building blocks of `crmask_wfi.sim.simulate`. Geometry is drawn first
(`draw_cr_events`), so that events can be kept or rejected by whether they
reach the frame before any charge is made; `primary_deposits` and
`secondary_deposits` then turn the kept events into point deposits
(`crmask_wfi.sim.charge`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .charge import PointDeposits, absorb_photons, electron_tracks
from .physics import (
    LANDAU_MODE,
    LANDAU_XI_KEV_PER_UM,
    MIP_BETAGAMMA,
    PIXEL_PITCH_UM,
    SENSOR_THICKNESS_UM,
    landau_max_transfer_kev,
    landau_most_probable_kev,
    landau_standard,
)

__all__ = [
    "CR_MARGIN_PX",
    "CREvents",
    "draw_cr_events",
    "visible_events",
    "cr_events_for_counts",
    "primary_deposits",
    "secondary_deposits",
]

#: Primaries enter over the frame enlarged by this margin (pixels) on every side, so that
#: secondaries of primaries that miss the frame are simulated; it covers the 35-152 px
#: track-to-secondary distances of the Geant4 WFI runs (WFI_PHYSICS.md) with room to spare.
CR_MARGIN_PX = 256
#: Length of the steps a primary track is cut into, um (much finer than the 130 um pixels).
CR_STEP_UM = 10.0
#: Single energy transfers above this (keV) become explicit delta-ray electrons; below it they
#: stay at the step (range of a 50 keV electron in Si ~ 22 um, a sixth of a pixel).
DELTA_RAY_MIN_KEV = 50.0
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


@dataclass
class CREvents:
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

    def take(self, keep: np.ndarray) -> "CREvents":
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
        return CREvents(**fields)

    @staticmethod
    def concat(parts: list["CREvents"]) -> "CREvents":
        """Join event sets, renumbering the secondaries' event indices."""
        offsets = np.cumsum([0] + [len(p) for p in parts[:-1]])
        fields = {}
        for name in CREvents.__dataclass_fields__:
            arrays = [getattr(p, name) for p in parts]
            if name == "sec_event":
                arrays = [a + off for a, off in zip(arrays, offsets)]
            fields[name] = np.concatenate(arrays)
        return CREvents(**fields)


def clip_segments(x0, y0, x1, y1, shape) -> tuple[np.ndarray, np.ndarray]:
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


def draw_cr_events(rng: np.random.Generator, frame: np.ndarray, shape: tuple[int, int]) -> CREvents:
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
    t0, t1 = clip_segments(x0, y0, x1, y1, shape)
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
    return CREvents(
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


def in_frame(x: np.ndarray, y: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Whether points (in pixels) lie inside a frame of ``shape``."""
    ny, nx = shape
    return (x >= -0.5) & (x < nx - 0.5) & (y >= -0.5) & (y < ny - 0.5)


def visible_events(events: CREvents, shape: tuple[int, int]) -> np.ndarray:
    """Whether each event's track or one of its secondaries lands in the frame."""
    visible = events.t1 > events.t0
    landed = in_frame(events.sec_x, events.sec_y, shape)
    visible[events.sec_event[landed]] = True
    return visible




def primary_deposits(
    rng: np.random.Generator, events: CREvents, particle: np.ndarray
) -> PointDeposits:
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
    steps = PointDeposits(events.frame[owner], x, y, z, loss, particle[owner])

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
    deltas, _ = electron_tracks(
        rng,
        events.frame[d_owner],
        (x[is_delta], y[is_delta], z[is_delta]),
        tuple(direction.T),
        delta_energy,
        particle[d_owner],
    )
    return PointDeposits.concat([steps, deltas])


def secondary_deposits(
    rng: np.random.Generator, events: CREvents, particle: np.ndarray
) -> tuple[PointDeposits, np.ndarray]:
    """Deposits of secondary electrons and photons; returns the points and photon depths."""
    frame = events.frame[events.sec_event]
    is_gamma = events.sec_kind == "gamma"
    gi = np.nonzero(is_gamma)[0]
    photons, depth = absorb_photons(
        rng, frame[gi], events.sec_x[gi], events.sec_y[gi], events.sec_energy[gi],
        events.sec_from_front[gi], particle[gi],
    )
    ei = np.nonzero(~is_gamma)[0]
    theta, phi = events.sec_theta[ei], events.sec_phi[ei]
    uz = np.where(events.sec_from_front[ei], -np.cos(theta), np.cos(theta))
    z0 = np.where(events.sec_from_front[ei], SENSOR_THICKNESS_UM, 0.0)
    electrons, _ = electron_tracks(
        rng, frame[ei], (events.sec_x[ei], events.sec_y[ei], z0),
        (np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), uz),
        events.sec_energy[ei], particle[ei],
    )
    sec_depth = np.full(len(events.sec_event), np.nan)
    sec_depth[gi] = depth
    return PointDeposits.concat([photons, electrons]), sec_depth


def cr_events_for_counts(
    rng: np.random.Generator, counts: np.ndarray, shape: tuple[int, int]
) -> CREvents:
    """Draw exactly ``counts[f]`` visible CR events for each frame ``f`` (rejection sampling)."""
    ny, nx = shape
    accept = (nx * ny) / ((nx + 2 * CR_MARGIN_PX) * (ny + 2 * CR_MARGIN_PX))
    need = np.asarray(counts, dtype=np.int64).copy()
    parts = [draw_cr_events(rng, np.zeros(0, dtype=np.int64), shape)]
    while need.sum() > 0:
        n_try = np.ceil(need / accept * 1.2 + 2).astype(np.int64) * (need > 0)
        draw = draw_cr_events(rng, np.repeat(np.arange(len(need)), n_try), shape)
        visible = np.nonzero(visible_events(draw, shape))[0]
        frames = draw.frame[visible]
        rank = np.arange(len(visible)) - np.searchsorted(frames, frames)  # frames are sorted
        keep = visible[rank < need[frames]]
        parts.append(draw.take(keep))
        need -= np.bincount(draw.frame[keep], minlength=len(need))
    return CREvents.concat(parts)
