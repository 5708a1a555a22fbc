"""Synthetic CCD frames with exact cosmic-ray and star truth.

`make_frame` draws a realistic single exposure at any size, in electrons
first and then in adu:

1. **sky**: a level with a linear gradient across the frame;
2. **stars**: point sources with a Moffat (or Gaussian) PSF of the given
   seeing FWHM, fluxes from a power law ``N(>F) ∝ F^-slope``, plus a few
   stars bright enough to saturate;
3. **galaxies**: elliptical exponential discs convolved with a Gaussian of the
   seeing FWHM and, on request (``resolved_galaxies``), large resolved spiral
   galaxies: a bulge and a disc with spiral arms and dust lanes, and compact
   star-forming knots along the arms (the crowded structure of a nearby
   galaxy, where a detector must tell a cosmic ray from an H II region);
4. **dark current and hot pixels**: a uniform dark level and a fraction of
   pixels with log-normal excess charge (hot pixels are not cosmic rays);
5. **photon noise**: Poisson sampling of everything above;
6. **cosmic rays**: real footprints from a `~crmask.data.footprints.FootprintLibrary`
   (dots, short tracks and worms as they really look) and a parametric model
   of long tracks: straight grazing muons and curling electron "worms", whose
   direction performs a random walk; charge per unit length is log-normal and
   fluctuates along the track, and is spread by charge diffusion;
7. **saturation and bleeding**: charge above the full well flows along the
   column into the neighbouring pixels until it is absorbed;
8. **read noise and gain**: Gaussian read noise, then division by the gain;
   the result is bias-subtracted adu, clipped at ``SATURATE``.

Truth follows `crmask.data.footprints.truth_mask`: a pixel is a cosmic-ray pixel
where the cosmic-ray charge exceeds ``cr_threshold`` times the noise of the
cosmic-ray-free expected signal. The star mask marks pixels where starlight
exceeds ``star_threshold`` times the background noise (stellar cores and
bright wings), where a detector that mistakes stars for cosmic rays fails.

Everything is vectorised; a 2048×4096 frame takes a few seconds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import astropy.units as u
import numpy as np
from astropy.io.fits import Header
from astropy.nddata import CCDData
from scipy import ndimage

from .._deprecation import renamed_property
from .footprints import FootprintLibrary, noise_sigma, place_charge, truth_mask

__all__ = ["FrameSpec", "SyntheticFrame", "make_frame", "render_tracks", "bleed_columns", "resolved_spiral"]

INSTRUMENT = "crmask-synthetic"


@dataclass(frozen=True)
class FrameSpec:
    """Parameters of a synthetic frame (all charges in electrons, lengths in pixels).

    Attributes
    ----------
    exptime : float
        Exposure time (s), written to ``EXPTIME``.
    gain : float
        Electrons per adu.
    readnoise : float
        Read noise, electrons.
    full_well : float
        Pixel full well; charge above it bleeds along columns.
    adc_max : float
        Largest value of the converter, adu; ``SATURATE`` is the smaller of
        this and ``full_well / gain``.
    sky : float
        Mean sky level per pixel.
    sky_gradient : float
        Fractional change of the sky level across the frame (along x).
    dark : float
        Dark charge per pixel.
    seeing : float
        PSF full width at half maximum.
    psf : {"moffat", "gaussian"}
        PSF profile.
    moffat_beta : float
        Moffat beta.
    star_density : float
        Unsaturated stars per megapixel.
    star_flux_range : tuple of float
        Smallest and largest total flux of an unsaturated star.
    star_slope : float
        Slope of the cumulative flux distribution ``N(>F) ∝ F^-slope``.
    saturated_density : float
        Saturated stars per megapixel.
    saturated_peak : tuple of float
        Range of peak intensity of saturated stars, in units of the full well.
    galaxy_density : float
        Galaxies per megapixel.
    galaxy_flux_range : tuple of float
        Smallest and largest total galaxy flux.
    galaxy_scale : tuple of float
        Median and log-normal sigma of the exponential scale length.
    resolved_galaxies : float
        Mean number (Poisson) of large resolved spiral galaxies in the frame
        (`resolved_spiral`); with 0 none is drawn, and no random number.
    hot_fraction : float
        Fraction of hot pixels.
    hot_charge : float
        Median excess charge of a hot pixel (log-normal, sigma 1).
    cr_density : float
        Cosmic rays per megapixel.
    track_fraction : float
        Fraction of cosmic rays drawn from the parametric track model (all of
        them when no footprint library is given).
    worm_fraction : float
        Fraction of parametric tracks that curl (electrons) rather than run
        straight (grazing muons).
    track_length : tuple of float
        Range of projected track lengths (log-uniform).
    track_dqdl : float
        Median charge per pixel of track length (log-normal, sigma 0.5);
        worms deposit twice as much per pixel.
    worm_curl : float
        Standard deviation of a worm's change of direction per pixel (rad).
    diffusion : float
        Gaussian charge-diffusion sigma of the parametric tracks.
    cr_threshold : float
        Truth threshold in units of the per-pixel noise.
    star_threshold : float
        Star-mask threshold in units of the background noise.
    dilate : bool
        Grow the cosmic-ray truth mask by 3×3.
    """

    exptime: float = 300.0
    gain: float = 2.0
    readnoise: float = 5.0
    full_well: float = 150000.0
    adc_max: float = 65535.0
    sky: float = 400.0
    sky_gradient: float = 0.1
    dark: float = 5.0
    seeing: float = 3.0
    psf: str = "moffat"
    moffat_beta: float = 3.5
    star_density: float = 800.0
    star_flux_range: tuple[float, float] = (300.0, 3.0e6)
    star_slope: float = 0.6
    saturated_density: float = 3.0
    saturated_peak: tuple[float, float] = (1.5, 30.0)
    galaxy_density: float = 600.0
    galaxy_flux_range: tuple[float, float] = (300.0, 3.0e5)
    galaxy_scale: tuple[float, float] = (1.5, 0.5)
    resolved_galaxies: float = 0.0
    hot_fraction: float = 1.0e-4
    hot_charge: float = 2000.0
    cr_density: float = 150.0
    track_fraction: float = 0.15
    worm_fraction: float = 0.5
    track_length: tuple[float, float] = (15.0, 400.0)
    track_dqdl: float = 600.0
    worm_curl: float = 0.15
    diffusion: float = 0.5
    cr_threshold: float = 3.0
    star_threshold: float = 5.0
    dilate: bool = False

    def __post_init__(self) -> None:
        positive = ("exptime", "gain", "readnoise", "full_well", "adc_max", "seeing", "moffat_beta")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"FrameSpec.{name} must be > 0, got {getattr(self, name)!r}")
        if self.psf not in ("moffat", "gaussian"):
            raise ValueError(f"FrameSpec.psf must be 'moffat' or 'gaussian', got {self.psf!r}")
        if self.psf == "moffat" and self.moffat_beta <= 1:
            raise ValueError(f"FrameSpec.moffat_beta must be > 1, got {self.moffat_beta!r}")
        for name in ("track_fraction", "worm_fraction", "hot_fraction"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"FrameSpec.{name} must be in [0, 1], got {getattr(self, name)!r}")
        for name in ("sky", "dark", "star_density", "saturated_density", "galaxy_density", "resolved_galaxies",
                     "cr_density"):
            if getattr(self, name) < 0:
                raise ValueError(f"FrameSpec.{name} must be >= 0, got {getattr(self, name)!r}")
        for name in ("star_flux_range", "galaxy_flux_range", "track_length", "saturated_peak"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise ValueError(f"FrameSpec.{name} must be (low, high) with 0 < low <= high, got {(low, high)}")

    @property
    def satlevel(self) -> float:
        """Saturation level in adu (``SATURATE``)."""
        return min(self.adc_max, self.full_well / self.gain)

    saturate = renamed_property("saturate", "satlevel")

    def as_dict(self) -> dict[str, Any]:
        """The parameters as a JSON-friendly dict."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass
class SyntheticFrame:
    """A synthetic exposure and its truth.

    Attributes
    ----------
    ccd : `~astropy.nddata.CCDData`
        The frame in adu (bias subtracted), float32, with ``GAIN``,
        ``RDNOISE``, ``SATURATE``, ``EXPTIME``, ``INSTRUME`` and ``SEEING``.
    crmask : numpy.ndarray
        Cosmic-ray truth mask.
    faint : numpy.ndarray
        Pixels with cosmic-ray charge below the truth threshold.
    starmask : numpy.ndarray
        Pixels dominated by starlight.
    saturated : numpy.ndarray
        Pixels at the saturation level (cores and bleed trails).
    hot : numpy.ndarray
        Hot pixels.
    n_cosmic_rays : int
        Cosmic rays placed (footprints and tracks).
    """

    ccd: CCDData
    crmask: np.ndarray
    faint: np.ndarray
    starmask: np.ndarray
    saturated: np.ndarray
    hot: np.ndarray
    n_cosmic_rays: int = 0
    meta: dict[str, Any] = field(default_factory=dict)


def _flux_powerlaw(rng: np.random.Generator, n: int, low: float, high: float, slope: float) -> np.ndarray:
    """Draw ``n`` fluxes with ``N(>F) ∝ F^-slope`` truncated to ``[low, high]`` (inverse CDF)."""
    u_ = rng.random(n)
    a, b = low**-slope, high**-slope
    return (a - u_ * (a - b)) ** (-1.0 / slope)


def _scatter(shape: tuple[int, int], y: np.ndarray, x: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Sum ``values`` at integer pixels ``(y, x)``, dropping those outside ``shape``."""
    ny, nx = shape
    inside = (y >= 0) & (y < ny) & (x >= 0) & (x < nx)
    flat = y[inside] * nx + x[inside]
    return np.bincount(flat, weights=values[inside], minlength=ny * nx).reshape(shape)


def _render_psf(shape, y, x, flux, spec: FrameSpec, radius: int) -> np.ndarray:
    """Render point sources at sub-pixel positions with the PSF, on stamps of ``radius``."""
    if len(flux) == 0:
        return np.zeros(shape)
    offsets = np.arange(-radius, radius + 1)
    iy, ix = np.rint(y).astype(np.int64), np.rint(x).astype(np.int64)
    py = iy[:, None, None] + offsets[None, :, None]
    px = ix[:, None, None] + offsets[None, None, :]
    r2 = (py - y[:, None, None]) ** 2 + (px - x[:, None, None]) ** 2
    if spec.psf == "moffat":
        beta = spec.moffat_beta
        alpha = spec.seeing / (2.0 * np.sqrt(2.0 ** (1.0 / beta) - 1.0))
        profile = (beta - 1.0) / (np.pi * alpha**2) * (1.0 + r2 / alpha**2) ** -beta
    else:
        sigma = spec.seeing / (2.0 * np.sqrt(2.0 * np.log(2.0)))
        profile = np.exp(-r2 / (2.0 * sigma**2)) / (2.0 * np.pi * sigma**2)
    values = profile * flux[:, None, None]
    py, px = np.broadcast_arrays(py, px)
    return _scatter(shape, py.ravel(), px.ravel(), values.ravel())


def _psf_peak(spec: FrameSpec) -> float:
    """Peak of the unit-flux PSF."""
    if spec.psf == "moffat":
        beta = spec.moffat_beta
        alpha = spec.seeing / (2.0 * np.sqrt(2.0 ** (1.0 / beta) - 1.0))
        return (beta - 1.0) / (np.pi * alpha**2)
    sigma = spec.seeing / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    return 1.0 / (2.0 * np.pi * sigma**2)


def _stars(shape, spec: FrameSpec, rng: np.random.Generator) -> np.ndarray:
    ny, nx = shape
    mpix = ny * nx / 1e6
    n_faint = rng.poisson(spec.star_density * mpix)
    n_bright = rng.poisson(spec.saturated_density * mpix)
    faint = _render_psf(
        shape,
        rng.uniform(-0.5, ny - 0.5, n_faint),
        rng.uniform(-0.5, nx - 0.5, n_faint),
        _flux_powerlaw(rng, n_faint, *spec.star_flux_range, spec.star_slope),
        spec,
        radius=int(np.ceil(3 * spec.seeing)),
    )
    peak = np.exp(rng.uniform(*np.log(spec.saturated_peak), n_bright)) * spec.full_well
    bright = _render_psf(
        shape,
        rng.uniform(-0.5, ny - 0.5, n_bright),
        rng.uniform(-0.5, nx - 0.5, n_bright),
        peak / _psf_peak(spec),
        spec,
        radius=int(np.ceil(12 * spec.seeing)),
    )
    return faint + bright


def _galaxies(shape, spec: FrameSpec, rng: np.random.Generator) -> np.ndarray:
    ny, nx = shape
    n = rng.poisson(spec.galaxy_density * ny * nx / 1e6)
    if n == 0:
        return np.zeros(shape)
    median, spread = spec.galaxy_scale
    scale = np.clip(median * np.exp(spread * rng.standard_normal(n)), 0.3, 4.0)
    q = rng.uniform(0.3, 1.0, n)
    theta = rng.uniform(0, np.pi, n)
    flux = _flux_powerlaw(rng, n, *spec.galaxy_flux_range, 1.0)
    y, x = rng.uniform(0, ny, n), rng.uniform(0, nx, n)
    radius = 16
    offsets = np.arange(-radius, radius + 1)
    iy, ix = np.floor(y).astype(np.int64), np.floor(x).astype(np.int64)
    py = iy[:, None, None] + offsets[None, :, None]
    px = ix[:, None, None] + offsets[None, None, :]
    dy, dx = py - y[:, None, None], px - x[:, None, None]
    c, s = np.cos(theta)[:, None, None], np.sin(theta)[:, None, None]
    major = c * dx + s * dy
    minor = (-s * dx + c * dy) / q[:, None, None]
    r = np.hypot(major, minor) / scale[:, None, None]
    profile = np.exp(-r)
    profile *= (flux / profile.sum(axis=(1, 2)))[:, None, None]
    py, px = np.broadcast_arrays(py, px)
    image = _scatter(shape, py.ravel(), px.ravel(), profile.ravel())
    return ndimage.gaussian_filter(image, spec.seeing / 2.3548, mode="constant")


def render_tracks(
    shape: tuple[int, int],
    n: int,
    rng: np.random.Generator,
    *,
    length: tuple[float, float] = (15.0, 400.0),
    dqdl: float = 600.0,
    worm_fraction: float = 0.5,
    curl: float = 0.15,
    diffusion: float = 0.5,
    step: float = 0.5,
) -> np.ndarray:
    """Render parametric cosmic-ray tracks into a charge map (electrons).

    Each track starts at a random pixel with a random direction and a
    log-uniform projected length. Straight tracks model muons crossing the
    device at grazing incidence; "worms" (a fraction ``worm_fraction``) model
    low-energy electrons whose direction changes by a Gaussian angle of
    ``curl * sqrt(step)`` radians per step. The charge per pixel of length is
    log-normal around ``dqdl`` (doubled for worms) with gamma fluctuations
    along the track, deposited bilinearly at steps of ``step`` pixels and
    spread by a Gaussian of ``diffusion`` pixels.

    Parameters
    ----------
    shape : tuple of int
        ``(ny, nx)`` of the charge map.
    n : int
        Number of tracks.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        float64 charge map in electrons.
    """
    ny, nx = shape
    if n == 0:
        return np.zeros(shape)
    lengths = np.exp(rng.uniform(np.log(length[0]), np.log(length[1]), n))
    n_steps = np.ceil(lengths / step).astype(np.int64) + 1
    worm = rng.random(n) < worm_fraction
    per_length = dqdl * np.exp(0.5 * rng.standard_normal(n)) * np.where(worm, 2.0, 1.0)

    track = np.repeat(np.arange(n), n_steps)
    index = np.arange(n_steps.sum()) - np.repeat(np.cumsum(n_steps) - n_steps, n_steps)
    turn = np.where(worm[track], curl * np.sqrt(step), 0.0) * rng.standard_normal(track.size)
    turn[index == 0] = rng.uniform(0, 2 * np.pi, n)
    angle = _segment_cumsum(turn, n_steps)
    dy, dx = np.sin(angle) * step, np.cos(angle) * step
    dy[index == 0] = 0.0
    dx[index == 0] = 0.0
    y = _segment_cumsum(dy, n_steps) + np.repeat(rng.uniform(0, ny, n), n_steps)
    x = _segment_cumsum(dx, n_steps) + np.repeat(rng.uniform(0, nx, n), n_steps)
    charge = per_length[track] * step * rng.gamma(4.0, 0.25, track.size)

    y0, x0 = np.floor(y).astype(np.int64), np.floor(x).astype(np.int64)
    fy, fx = y - y0, x - x0
    image = np.zeros(shape)
    for oy, ox, w in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
        image += _scatter(shape, y0 + oy, x0 + ox, charge * w)
    if diffusion > 0:
        image = ndimage.gaussian_filter(image, diffusion, mode="constant", truncate=3.0)
    return image


def _segment_cumsum(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Cumulative sums restarting at every segment of ``counts`` values."""
    total = np.cumsum(values)
    starts = np.cumsum(counts) - counts
    offset = np.repeat(total[starts] - values[starts], counts)
    return total - offset


def bleed_columns(charge: np.ndarray, full_well: float) -> np.ndarray:
    """Let charge above ``full_well`` flow along columns (axis 0), in place.

    Every run of over-full pixels in a column is set to the full well and its
    excess charge is split in two halves that fill the column's pixels up to
    the full well, one after the other, moving away from the run (up and
    down), as charge overflowing a saturated CCD pixel does. Charge that
    reaches the end of the column is lost, as at the edge of a real device.

    Returns
    -------
    numpy.ndarray
        ``charge``, modified.
    """
    for column in np.flatnonzero((charge > full_well).any(axis=0)):
        values = charge[:, column]
        over = values > full_well
        edges = np.flatnonzero(np.diff(np.concatenate([[0], over.astype(np.int8), [0]])))
        for start, stop in zip(edges[::2], edges[1::2]):
            excess = float(np.sum(values[start:stop] - full_well))
            if excess <= 0:
                continue
            values[start:stop] = full_well
            _fill(values[stop:], excess / 2, full_well)
            _fill(values[:start][::-1], excess / 2, full_well)
        charge[:, column] = values
    return charge


def _fill(values: np.ndarray, excess: float, full_well: float) -> None:
    """Fill ``values`` (a view, in order) up to ``full_well`` with ``excess`` charge."""
    if values.size == 0:
        return
    room = np.cumsum(np.clip(full_well - values, 0, None))
    k = int(np.searchsorted(room, excess))
    np.maximum(values[:k], full_well, out=values[:k])
    if k < values.size:
        values[k] += excess - (room[k - 1] if k > 0 else 0.0)


def resolved_spiral(shape: tuple[int, int], spec: FrameSpec, rng: np.random.Generator) -> np.ndarray:
    """Expected charge (electrons per pixel) of one large resolved spiral galaxy, seen through ``spec``'s PSF.

    A nearby spiral as a CCD sees it, at random position (its centre in the
    middle 80% of the frame), orientation and inclination:

    * a disc, exponential with scale length 15-100 px (log-uniform) and
      central surface brightness 100-20,000 e- per pixel (log-uniform), its
      light gathered into two to four logarithmic spiral arms (pitch angle
      10-30 degrees, arm contrast 0.3-0.9);
    * dust lanes along the inner edge of each arm, dimming it by up to 70%;
    * a bulge, exponential with a sixth of the disc's scale length and
      0.5-5 times its central brightness;
    * 30-300 compact star-forming knots (H II regions), point sources of
      the PSF placed along the arms' crests, each 0.5-10 times the disc's
      light under it at its peak.

    Everything but the knots is convolved with a Gaussian of the seeing
    FWHM; the knots are rendered with the frame's PSF. Noise is added by
    `make_frame` with the rest of the scene.
    """
    ny, nx = shape
    y0, x0 = rng.uniform(0.1, 0.9) * ny, rng.uniform(0.1, 0.9) * nx
    scale = float(np.exp(rng.uniform(np.log(15.0), np.log(100.0))))
    brightness = float(np.exp(rng.uniform(np.log(100.0), np.log(2.0e4))))
    axis_ratio, angle = rng.uniform(0.3, 1.0), rng.uniform(0.0, np.pi)
    arms, pitch = int(rng.integers(2, 5)), np.deg2rad(rng.uniform(10.0, 30.0))
    contrast, dust, phase = rng.uniform(0.3, 0.9), rng.uniform(0.0, 0.7), rng.uniform(0.0, 2 * np.pi)
    bulge = rng.uniform(0.5, 5.0) * brightness

    dy = np.arange(ny, dtype=np.float64)[:, None] - y0
    dx = np.arange(nx, dtype=np.float64)[None, :] - x0
    major = np.cos(angle) * dx + np.sin(angle) * dy
    minor = (-np.sin(angle) * dx + np.cos(angle) * dy) / axis_ratio
    radius = np.hypot(major, minor) / scale
    # logarithmic spirals: constant phase along azimuth - ln(radius) / tan(pitch)
    spiral = arms * (np.arctan2(minor, major) - np.log(np.maximum(radius, 1e-3)) / np.tan(pitch)) + phase
    profile, arm = np.exp(-radius), np.cos(spiral)
    disc = brightness * profile * (1.0 + contrast * arm)
    disc *= 1.0 - dust * np.maximum(np.cos(spiral - 0.6), 0.0) ** 8  # lanes just inside each arm's crest
    light = disc + bulge * np.exp(-6.0 * radius)
    light = ndimage.gaussian_filter(light, spec.seeing / 2.3548, mode="nearest")

    n_knots = int(rng.integers(30, 301))
    weights = (profile * np.maximum(arm, 0.0) ** 2).ravel()
    where = rng.choice(weights.size, size=n_knots, p=weights / weights.sum())
    ky, kx = np.divmod(where, nx)
    peak = np.exp(rng.uniform(np.log(0.5), np.log(10.0), n_knots)) * disc.ravel()[where]
    knots = _render_psf(shape, ky + rng.uniform(-0.5, 0.5, n_knots), kx + rng.uniform(-0.5, 0.5, n_knots),
                        peak / _psf_peak(spec), spec, radius=int(np.ceil(3 * spec.seeing)))
    return light + knots


def make_frame(
    shape: tuple[int, int] = (512, 512),
    spec: FrameSpec | None = None,
    *,
    rng: np.random.Generator,
    footprints: FootprintLibrary | None = None,
) -> SyntheticFrame:
    """Draw one synthetic exposure with exact truth (see the module notes).

    Parameters
    ----------
    shape : tuple of int
        ``(ny, nx)``, e.g. ``(4096, 2048)`` for a DECam-sized CCD.
    spec : FrameSpec, optional
        Instrument, sky and population parameters; default `FrameSpec()`.
    rng : numpy.random.Generator
        Source of randomness; the same seed gives the same frame.
    footprints : FootprintLibrary, optional
        Real cosmic-ray footprints for the non-parametric cosmic rays;
        without it every cosmic ray comes from the track model.

    Returns
    -------
    SyntheticFrame

    Examples
    --------
    >>> import numpy as np
    >>> from crmask.data.synthetic import make_frame
    >>> frame = make_frame((256, 256), rng=np.random.default_rng(0))
    >>> frame.ccd.unit, frame.crmask.shape
    (Unit("adu"), (256, 256))
    """
    spec = FrameSpec() if spec is None else spec
    ny, nx = (int(v) for v in shape)
    if ny < 16 or nx < 16:
        raise ValueError(f"frame shape must be at least 16x16, got {shape}")
    shape = (ny, nx)

    sky = spec.sky * (1.0 + spec.sky_gradient * (np.arange(nx) / max(nx - 1, 1) - 0.5))
    stars = _stars(shape, spec, rng)
    galaxies = _galaxies(shape, spec, rng)
    if spec.resolved_galaxies > 0:
        for _ in range(rng.poisson(spec.resolved_galaxies)):
            galaxies = galaxies + resolved_spiral(shape, spec, rng)
    hot = rng.random(shape) < spec.hot_fraction
    hot_charge = np.where(hot, spec.hot_charge * np.exp(rng.standard_normal(shape)), 0.0)
    expected = stars + galaxies + sky[None, :] + spec.dark + hot_charge

    n_cr = int(rng.poisson(spec.cr_density * ny * nx / 1e6))
    n_tracks = n_cr if footprints is None else int(rng.binomial(n_cr, spec.track_fraction))
    cr = render_tracks(
        shape,
        n_tracks,
        rng,
        length=spec.track_length,
        dqdl=spec.track_dqdl,
        worm_fraction=spec.worm_fraction,
        curl=spec.worm_curl,
        diffusion=spec.diffusion,
    )
    if footprints is not None and n_cr > n_tracks:
        cr += place_charge(shape, footprints, n_cr - n_tracks, rng)[0]

    charge = rng.poisson(expected).astype(np.float64) + cr
    bleed_columns(charge, spec.full_well)
    data = (charge + spec.readnoise * rng.standard_normal(shape)) / spec.gain
    satlevel = spec.satlevel
    saturated = data >= satlevel * (1 - 1e-6)
    np.clip(data, None, satlevel, out=data)

    background_sigma = np.sqrt(spec.readnoise**2 + spec.sky + spec.dark)
    crmask, faint = truth_mask(cr, noise_sigma(expected, spec.readnoise), spec.cr_threshold, spec.dilate)
    starmask = stars > spec.star_threshold * background_sigma

    header = Header()
    header["INSTRUME"] = (INSTRUMENT, "crmask.data.synthetic.make_frame")
    header["EXPTIME"] = (spec.exptime, "exposure time (s)")
    header["GAIN"] = (spec.gain, "electrons per adu")
    header["RDNOISE"] = (spec.readnoise, "read noise (electrons)")
    header["SATURATE"] = (satlevel, "saturation level (adu)")
    header["SEEING"] = (spec.seeing, "PSF FWHM (pixels)")
    header["SKYLEVEL"] = (spec.sky, "mean sky (electrons per pixel)")
    header["NCRINJ"] = (n_cr, "cosmic rays placed")
    ccd = CCDData(data.astype(np.float32), unit=u.adu, header=header)
    return SyntheticFrame(
        ccd=ccd,
        crmask=crmask,
        faint=faint,
        starmask=starmask,
        saturated=saturated,
        hot=hot,
        n_cosmic_rays=n_cr,
        meta={"spec": spec.as_dict(), "n_tracks": n_tracks},
    )
