"""Charge deposits in the sensor: pair creation, diffusion and sharing among pixels.

Internal building blocks of `crmask_wfi.sim.simulate`. A deposit is a point
(x, y in pixels, z in um from the back surface) with an energy; photons and
electron tracks are turned into such points, and `spread_charge` makes
Fano-limited pairs and shares them among the 3 x 3 nearest pixels after
diffusion. `rasterise` builds the charge, label and event-ID images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .physics import (
    PIXEL_PITCH_UM,
    SENSOR_THICKNESS_UM,
    SI_FLUORESCENCE_YIELD,
    SI_K_EDGE_KEV,
    SI_KALPHA_KEV,
    attenuation_length_um,
    diffusion_sigma_um,
    electron_range_um,
    pair_count,
    pixel_fractions,
)

__all__ = [
    "ELECTRON_STEP_UM",
    "PointDeposits",
    "PixelCharges",
    "spread_charge",
    "absorb_photons",
    "electron_tracks",
    "keep_in_frame",
    "rasterise",
]

#: Step along electron tracks (delta rays and secondary electrons), um.
ELECTRON_STEP_UM = 5.0


@dataclass
class PointDeposits:
    """Point-like charge deposits: one cloud each, before diffusion."""

    frame: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    energy: np.ndarray  # keV
    particle: np.ndarray  # row in the particle table

    @staticmethod
    def concat(parts: list["PointDeposits"]) -> "PointDeposits":
        """Join deposits (an empty list gives no deposits)."""
        names = ("frame", "x", "y", "z", "energy", "particle")
        if not parts:
            return PointDeposits(
                *(np.zeros(0, dtype=np.int64 if n in ("frame", "particle") else float) for n in names)
            )
        return PointDeposits(*(np.concatenate([getattr(p, n) for p in parts]) for n in names))


@dataclass
class PixelCharges:
    """Charge per (frame, pixel, particle) after diffusion and pair creation."""

    frame: np.ndarray
    iy: np.ndarray
    ix: np.ndarray
    electrons: np.ndarray
    particle: np.ndarray
    created: np.ndarray  # electrons created per input point (incl. outside the frame)


def spread_charge(
    rng: np.random.Generator, points: PointDeposits, sigma_full_um: float | np.ndarray, fano: float
) -> PixelCharges:
    """Create pairs for every point deposit and share them among the 3x3 nearest pixels.

    Pair counts are Fano-limited (`~crmask_wfi.sim.physics.pair_count`); each
    cloud's sigma follows its drift distance (``sigma_full_um`` after the full
    thickness: one value, or one per point) and the pairs are shared
    multinomially with the Gaussian fractions of the pixels.
    """
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
    return PixelCharges(
        frame=points.frame[nz[0]],
        iy=iy[nz[0]] + dy[nz[1]] - 1,
        ix=ix[nz[0]] + dx[nz[1]] - 1,
        electrons=counts[nz],
        particle=points.particle[nz[0]],
        created=electrons,
    )


def absorb_photons(
    rng: np.random.Generator,
    frame: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    energy: np.ndarray,
    from_front: np.ndarray,
    particle: np.ndarray,
) -> tuple[PointDeposits, np.ndarray]:
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
    main = PointDeposits(frame[idx], x[idx], y[idx], depth[idx], e_main, particle[idx])
    kalpha = PointDeposits(
        frame[k_idx],
        x[k_idx] + (radial * np.cos(phi))[inside],
        y[k_idx] + (radial * np.sin(phi))[inside],
        z_k[inside],
        np.full(len(k_idx), SI_KALPHA_KEV),
        particle[k_idx],
    )
    return PointDeposits.concat([main, kalpha]), depth


def electron_tracks(
    rng: np.random.Generator,
    frame: np.ndarray,
    start: tuple[np.ndarray, np.ndarray, np.ndarray],
    direction: tuple[np.ndarray, np.ndarray, np.ndarray],
    energy: np.ndarray,
    particle: np.ndarray,
) -> tuple[PointDeposits, np.ndarray]:
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
    points = PointDeposits(
        frame[owner],
        x[owner] + s * ux[owner] / PIXEL_PITCH_UM,
        y[owner] + s * uy[owner] / PIXEL_PITCH_UM,
        np.clip(z[owner] + s * uz[owner], 0.0, SENSOR_THICKNESS_UM),
        deposited[owner] / n_steps[owner],
        particle[owner],
    )
    return points, deposited


def keep_in_frame(pixels: PixelCharges, shape: tuple[int, int]) -> PixelCharges:
    """Drop the pixel charges that fall outside a frame of ``shape``."""
    ny, nx = shape
    keep = (pixels.iy >= 0) & (pixels.iy < ny) & (pixels.ix >= 0) & (pixels.ix < nx)
    return PixelCharges(pixels.frame[keep], pixels.iy[keep], pixels.ix[keep], pixels.electrons[keep],
                   pixels.particle[keep], pixels.created)


def rasterise(
    pixels: PixelCharges, event_of: np.ndarray, kind_of: np.ndarray, n_frames: int, shape: tuple[int, int]
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
