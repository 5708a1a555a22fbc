"""Physical constants and elementary processes of an Athena-WFI-like DEPFET.

Every number here is a named constant with its source. The functions are
the building blocks of `crmask_wfi.sim.simulate`: photon absorption depth,
charge-cloud diffusion, Fano-limited pair creation, charge sharing between
pixels, and the energy loss of minimum-ionising particles (Landau).

Geometry (stated once, used everywhere): the sensor is back-illuminated.
Depth ``z`` is measured in micrometres from the back (entrance) surface,
``z = 0``, to the front surface with the pixel electrodes, ``z =
SENSOR_THICKNESS_UM``. Charge created at depth ``z`` drifts ``SENSOR_THICKNESS_UM
- z`` to the pixel plane, so soft X-rays (absorbed near the back) spread most.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from crmask._deprecation import deprecated_module_attributes

__all__ = [
    "PIXEL_PITCH_UM",
    "SENSOR_THICKNESS_UM",
    "QUADRANT_SHAPE",
    "FRAME_TIME_S",
    "READNOISE_E",
    "PAIR_ENERGY_EV",
    "ELECTRONS_PER_KEV",
    "KEV_PER_ELECTRON",
    "FANO_FACTOR",
    "DIFFUSION_SIGMA_FULL_UM",
    "SI_K_EDGE_KEV",
    "SI_KALPHA_KEV",
    "SI_FLUORESCENCE_YIELD",
    "MIP_DEDX_MEAN_KEV_PER_UM",
    "LANDAU_XI_KEV_PER_UM",
    "electrons_to_kev",
    "kev_to_electrons",
    "attenuation_length_um",
    "diffusion_sigma_um",
    "pair_count",
    "pixel_fractions",
    "landau_standard",
    "landau_most_probable_kev",
    "landau_max_transfer_kev",
    "LANDAU_MODE",
    "MIP_BETAGAMMA",
    "electron_range_um",
]

# --- detector --------------------------------------------------------------
#: Pixel pitch of the WFI large detector array (Meidinger et al. 2020, JATIS 6(4) 046001).
PIXEL_PITCH_UM = 130.0
#: Fully depleted sensitive thickness of the DEPFET sensor (same reference).
SENSOR_THICKNESS_UM = 450.0
#: Pixels of one quadrant, ``(ny, nx)`` (same reference).
QUADRANT_SHAPE = (512, 512)
#: Frame time of one quadrant in the rolling-shutter readout (same reference).
FRAME_TIME_S = 5e-3
#: Gaussian read noise, electrons RMS; 7 e- as in Poliszczuk et al. (2024, §2);
#: the WFI's beginning-of-life ENC is about 3 e-.
READNOISE_E = 7.0

# --- charge creation ---------------------------------------------------------
#: Mean energy per electron-hole pair in silicon at about -60 C (Lowe & Sareen 2007, NIM A 576, 367:
#: 3.64-3.70 eV; 3.65 eV adopted).
PAIR_ENERGY_EV = 3.65
#: Electrons created per keV deposited (1000 / PAIR_ENERGY_EV).
ELECTRONS_PER_KEV = 1000.0 / PAIR_ENERGY_EV
#: keV deposited per electron created.
KEV_PER_ELECTRON = PAIR_ENERGY_EV / 1000.0
#: Fano factor of silicon (Lowe & Sareen 2007: 0.115-0.119; 0.117 adopted).
FANO_FACTOR = 0.117

#: Charge-cloud sigma after drifting the full thickness. Constant-field diffusion gives
#: sigma^2 = 2 (kT/q) d / E; with kT/q = 18.4 mV (213 K) and E = 120 V / 450 um this is
#: 7.9 um for d = 450 um, inside the 6-9 um quoted for the WFI (Treberspurg et al. 2018, JINST 13 P09014).
DIFFUSION_SIGMA_FULL_UM = 8.0

# --- X-ray absorption ---------------------------------------------------------
#: Silicon K absorption edge (Bearden & Burr 1967).
SI_K_EDGE_KEV = 1.839
#: Silicon K-alpha fluorescence energy (Bearden 1967).
SI_KALPHA_KEV = 1.740
#: Silicon K-shell fluorescence yield (Krause 1979, J. Phys. Chem. Ref. Data 8, 307).
SI_FLUORESCENCE_YIELD = 0.043

# Photoabsorption attenuation length of Si (Henke et al. 1993 / NIST XCOM, as tabulated in
# WFI_PHYSICS.md), split at the K edge so that log-log interpolation never crosses it.
_ATT_BELOW_EDGE = (
    np.array([0.2, 0.5, 1.0, 1.5, SI_K_EDGE_KEV - 1e-3]),
    np.array([0.068, 0.5, 2.7, 8.1, 13.9]),
)
_ATT_ABOVE_EDGE = (
    np.array([SI_K_EDGE_KEV, 3.0, 4.0, 6.4, 8.0, 10.0]),
    np.array([1.35, 4.6, 10.3, 35.1, 65.0, 127.0]),
)

# --- minimum-ionising particles ------------------------------------------------
#: Mean energy loss of a minimum-ionising particle in Si: 1.664 MeV cm^2/g x 2.329 g/cm^3
#: (PDG, Atomic and nuclear properties of materials: silicon).
MIP_DEDX_MEAN_KEV_PER_UM = 0.3876
#: Landau width per unit length, xi / x = (K/2)(Z/A) rho / beta^2 with K = 0.307075 MeV cm^2/mol,
#: Z/A = 0.49848, rho = 2.329 g/cm^3 and beta = 1 (PDG Review of Particle Physics, "Passage of
#: particles through matter", eq. 34.12): 0.1782 keV per 10 um.
LANDAU_XI_KEV_PER_UM = 0.017825
#: Mean excitation energy of silicon (PDG): 173 eV.
_SI_EXCITATION_KEV = 0.173
#: beta*gamma at the ionisation minimum used for the primaries (PDG: minimum near 3-3.5).
MIP_BETAGAMMA = 3.5
#: Density-effect correction delta at beta*gamma = 3.5 in Si (Sternheimer 1984 parameters: ~0.3).
_SI_DENSITY_DELTA = 0.3
#: Electron rest energy in keV.
_ELECTRON_MASS_KEV = 510.999
#: Mode of the standard Landau density phi(lambda) (Landau 1944; Kolbig & Schorr 1984).
LANDAU_MODE = -0.22278


def kev_to_electrons(energy_kev):
    """Convert deposited energy (keV) to the mean number of electrons."""
    return np.asarray(energy_kev) * ELECTRONS_PER_KEV


def electrons_to_kev(electrons):
    """Convert a charge in electrons to the energy (keV) that created it."""
    return np.asarray(electrons) * KEV_PER_ELECTRON


def attenuation_length_um(energy_kev) -> np.ndarray:
    """Photoabsorption attenuation length of silicon, in micrometres.

    Log-log interpolation of the tabulated values on each side of the Si K
    edge; outside the table the nearest segment is extrapolated (above
    10 keV it grows as E^3, the photoabsorption law).

    Parameters
    ----------
    energy_kev : array_like
        Photon energies in keV (positive).

    Returns
    -------
    numpy.ndarray
        Attenuation lengths in micrometres, same shape as ``energy_kev``.
    """
    energy = np.asarray(energy_kev, dtype=float)
    if np.any(~np.isfinite(energy) | (energy <= 0)):
        raise ValueError("photon energies must be positive and finite")
    log_e = np.log(energy)
    below = energy < SI_K_EDGE_KEV
    out = np.empty_like(log_e)
    for mask, (table_e, table_l) in ((below, _ATT_BELOW_EDGE), (~below, _ATT_ABOVE_EDGE)):
        out[mask] = _loglog_extrapolate(log_e[mask], np.log(table_e), np.log(table_l))
    return np.exp(out)


def _loglog_extrapolate(x: np.ndarray, xp: np.ndarray, yp: np.ndarray) -> np.ndarray:
    """Piecewise-linear interpolation that extrapolates the end segments."""
    index = np.clip(np.searchsorted(xp, x) - 1, 0, len(xp) - 2)
    slope = (yp[index + 1] - yp[index]) / (xp[index + 1] - xp[index])
    return yp[index] + slope * (x - xp[index])


def diffusion_sigma_um(drift_um, sigma_full_um: float = DIFFUSION_SIGMA_FULL_UM) -> np.ndarray:
    """Charge-cloud sigma at the pixel plane after drifting ``drift_um``.

    Diffusion in a constant field: sigma grows as the square root of the
    drift distance, reaching ``sigma_full_um`` after the full thickness.
    """
    drift = np.clip(np.asarray(drift_um, dtype=float), 0.0, SENSOR_THICKNESS_UM)
    return sigma_full_um * np.sqrt(drift / SENSOR_THICKNESS_UM)


def pair_count(rng: np.random.Generator, energy_kev, fano: float = FANO_FACTOR) -> np.ndarray:
    """Draw the number of electron-hole pairs created by depositing ``energy_kev``.

    Gaussian with mean E / w and variance F E / w (Fano 1947), rounded and
    clipped at zero.
    """
    mean = kev_to_electrons(np.asarray(energy_kev, dtype=float))
    draws = rng.normal(mean, np.sqrt(fano * mean))
    return np.clip(np.rint(draws), 0, None).astype(np.int64)


def pixel_fractions(offset: np.ndarray, sigma_px: np.ndarray) -> np.ndarray:
    """Fractions of a Gaussian charge cloud falling in the pixel and its two neighbours.

    Parameters
    ----------
    offset : numpy.ndarray
        Cloud centre relative to the centre of its pixel, in pixels,
        within [-0.5, 0.5].
    sigma_px : numpy.ndarray
        Cloud sigma in pixels (broadcast against ``offset``). Zero means a
        point charge.

    Returns
    -------
    numpy.ndarray
        Shape ``offset.shape + (3,)``: fractions in the pixels at -1, 0, +1.
        Charge beyond one pixel (more than 3 sigma away for sigma below 0.15
        pixel, the WFI case) is given to the outer pixels.
    """
    sigma = np.maximum(np.broadcast_to(sigma_px, np.shape(offset)), 1e-9)
    low = ndtr((-0.5 - offset) / sigma)
    high = ndtr((0.5 - offset) / sigma)
    return np.stack([low, high - low, 1.0 - high], axis=-1)


def landau_standard(rng: np.random.Generator, size) -> np.ndarray:
    """Draw from Landau's density phi(lambda) (Landau 1944): mode -0.2228, median 1.3558.

    phi(lambda) = (1/pi) int_0^inf exp(-t ln t - lambda t) sin(pi t) dt, the
    form in which the sum of n steps of width xi is a step of width n xi
    shifted by xi n ln n, so that the PDG most probable loss (which grows as
    xi ln xi) holds for any step length. It is the maximally skewed stable
    law with alpha = 1 and scale pi/2, drawn with the Chambers-Mallows-Stuck
    method (Chambers, Mallows & Stuck 1976, JASA 71, 340); in terms of
    `scipy.stats.landau` (scale 1), lambda = (pi/2) x + ln(pi/2).
    """
    half_pi = np.pi / 2
    u = rng.uniform(-half_pi, half_pi, size)
    w = rng.standard_exponential(size)
    unit = (1 / half_pi) * ((half_pi + u) * np.tan(u) - np.log(half_pi * w * np.cos(u) / (half_pi + u)))
    return half_pi * unit + np.log(half_pi)


def landau_most_probable_kev(path_um, betagamma: float = MIP_BETAGAMMA) -> np.ndarray:
    """Most probable energy loss (keV) of a singly charged particle crossing ``path_um`` of Si.

    PDG eq. 34.12: Delta_p = xi [ln(2 m c^2 beta^2 gamma^2 / I) + ln(xi / I) + 0.200 - beta^2 - delta].
    """
    beta2 = betagamma**2 / (1.0 + betagamma**2)
    xi = LANDAU_XI_KEV_PER_UM * np.asarray(path_um, dtype=float) / beta2
    log_term = np.log(2 * _ELECTRON_MASS_KEV * betagamma**2 / _SI_EXCITATION_KEV)
    return xi * (log_term + np.log(xi / _SI_EXCITATION_KEV) + 0.200 - beta2 - _SI_DENSITY_DELTA)


def landau_max_transfer_kev(betagamma: float = MIP_BETAGAMMA, mass_kev: float = 938272.0) -> float:
    """Largest energy a particle of mass ``mass_kev`` can give one electron (PDG eq. 34.4)."""
    gamma = np.sqrt(1.0 + betagamma**2)
    ratio = _ELECTRON_MASS_KEV / mass_kev
    return 2 * _ELECTRON_MASS_KEV * betagamma**2 / (1 + 2 * gamma * ratio + ratio**2)


def electron_range_um(energy_kev) -> np.ndarray:
    """Range of an electron of ``energy_kev`` in silicon, micrometres.

    Kanaya & Okayama (1972, J. Phys. D 5, 43): R = 0.0276 A E^1.67 / (Z^0.889 rho) um with
    E in keV, A = 28.09, Z = 14, rho = 2.33 g/cm^3; good to ~20% from 1 keV to a few hundred keV.
    """
    return 0.03187 * np.asarray(energy_kev, dtype=float) ** 1.67


#: ``READ_NOISE_E``, the former spelling of `READNOISE_E`, still works (deprecated).
__getattr__ = deprecated_module_attributes(__name__, renamed={"READ_NOISE_E": "READNOISE_E"})
