"""Readers and noise models for the real data the benchmark sets are built from.

The data are described in ``../shared/data/README.md``:

* ``sprat_lhs6328/``: five 120 s Liverpool Telescope SPRAT exposures of one
  pointing (raw adu, no overscan, constant pedestal), per-exposure CR masks
  derived from the repeats, and a dark;
* ``gmos.fits``: a Gemini GMOS-S long-slit cut-out in electrons with two
  known cosmic rays;
* ``iraf_devpix/devpix_m51_B_600s.fits``: IRAF's ``dev$pix``, a reduced KPNO
  CCD frame of M51 with its own cosmic rays and bad lines;
* ``eso_midas/order.fits.gz``: a background-subtracted, 2×2-resampled VLT
  UVES echelle frame with about 1,500 cosmic rays;
* ``saao_a8280271.fits``: a raw SAAO 1.0 m frame with an overscan strip.

`load_real_frame` reads any of them as a `RealFrame`: bias removed, in adu,
with a calibrated noise model, a conservative mask of the frame's own
(unlabelled) cosmic rays and a mask of its fixed-pattern defects, ready for
injecting footprints or for cutting training negatives.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import astroscrappy
import astropy.units as u
import ccdproc
import numpy as np
from astropy.io import fits
from astropy.nddata import CCDData
from astropy.stats import sigma_clipped_stats
from ccdproc.utils.slices import slice_from_string
from scipy import ndimage

from .._deprecation import deprecated_module_attributes, renamed_keywords, renamed_property
from ..exceptions import FITSReadError

__all__ = [
    "SpratRun",
    "load_sprat",
    "GmosFrame",
    "load_gmos",
    "hot_pixels",
    "bad_columns",
    "warm_pixels",
    "source_mask",
    "repeat_significance",
    "restore_noise",
    "repeat_unsure",
    "sprat_defects",
    "line_defects",
    "sky_noise",
    "effective_readnoise",
    "own_cosmic_rays",
    "RealFrame",
    "REAL_SOURCES",
    "load_real_frame",
    "load_real_frames",
    "MEDIAN_VARIANCE",
]

#: SPRAT gain (e-/adu, ``EPERDN`` keyword) and read noise (e-, LT SPRAT instrument page).
SPRAT_GAIN = 2.45
SPRAT_READNOISE = 5.7
SPRAT_FRAMES = tuple(f"v_e_20180810_12_{k}_0_0" for k in range(1, 6))
#: Limit of a 16-bit converter (raw adu): SPRAT's and SAAO's saturation before the bias is removed.
ADC16_MAX = 65535.0

#: astroscrappy's GMOS test values (gain e-/adu, read noise e-) and the two known CR boxes (numpy slices).
GMOS_GAIN = 1.933
GMOS_READNOISE = 4.24
GMOS_CR_BOXES = ((slice(41, 72), slice(142, 161)), (slice(117, 147), slice(35, 43)))

#: Variance of the median of n Gaussian samples in units of one sample's
#: variance (order statistics; for n = 4 the mean of the middle two).
MEDIAN_VARIANCE = {3: 0.4487, 4: 0.2982, 5: 0.2868}


def _open_data(path: Path) -> tuple[np.ndarray, fits.Header]:
    if not path.exists():
        raise FITSReadError(f"{path}: no such file (see ../shared/data/README.md)")
    with fits.open(path, memmap=False) as hdul:
        return np.asarray(hdul[0].data, dtype=np.float64), hdul[0].header.copy()


@dataclass
class SpratRun:
    """The five SPRAT repeats, pedestal removed, with their shipped CR masks.

    Attributes
    ----------
    names : tuple of str
        Exposure names (file names without ``.fits.gz``).
    frames : numpy.ndarray
        ``(5, ny, nx)`` float64, adu, pedestal subtracted.
    masks : numpy.ndarray
        ``(5, ny, nx)`` bool, the shipped CR masks.
    headers : list of astropy.io.fits.Header
    pedestal : float
        The constant subtracted (adu): 3σ-clipped median of the median frame.
    dark : numpy.ndarray
        The dark, adu in ``dark_exptime``.
    dark_exptime : float
    gain, readnoise : float
        e-/adu and e-.
    """

    names: tuple[str, ...]
    frames: np.ndarray
    masks: np.ndarray
    headers: list[fits.Header]
    pedestal: float
    dark: np.ndarray
    dark_exptime: float
    gain: float = SPRAT_GAIN
    readnoise: float = SPRAT_READNOISE

    @property
    def median(self) -> np.ndarray:
        """Median of the repeats (adu): a cosmic-ray-free image with reduced noise."""
        return np.median(self.frames, axis=0)

    @property
    def exptime(self) -> float:
        return float(self.headers[0]["EXPTIME"])


def load_sprat(directory: str | os.PathLike) -> SpratRun:
    """Read ``sprat_lhs6328/``: frames, masks and dark.

    Raises
    ------
    FITSReadError
        If a file is missing, or the exposures differ in exposure time.
    """
    directory = Path(directory)
    raw, masks, headers = [], [], []
    for name in SPRAT_FRAMES:
        data, header = _open_data(directory / f"{name}.fits.gz")
        mask, _ = _open_data(directory / f"{name}_crmask.fits.gz")
        raw.append(data)
        masks.append(mask.astype(bool))
        headers.append(header)
    exptimes = {float(h["EXPTIME"]) for h in headers}
    if len(exptimes) != 1:
        raise FITSReadError(f"{directory}: SPRAT repeats have different exposure times {sorted(exptimes)}")
    frames = np.array(raw)
    pedestal = float(sigma_clipped_stats(np.median(frames, axis=0), sigma=3.0)[1])
    dark, dark_header = _open_data(directory / "v_dark_1.fits.gz")
    return SpratRun(
        names=SPRAT_FRAMES,
        frames=frames - pedestal,
        masks=np.array(masks),
        headers=headers,
        pedestal=pedestal,
        dark=dark,
        dark_exptime=float(dark_header["EXPTIME"]),
    )


@dataclass
class GmosFrame:
    """The GMOS-S cut-out converted to adu.

    Attributes
    ----------
    data : numpy.ndarray
        adu (the file's electrons divided by `GMOS_GAIN`).
    variance : numpy.ndarray
        The file's ``VAR`` extension converted to adu².
    known_crs : numpy.ndarray
        Bool mask of the bounding boxes of the two real cosmic rays.
    header : astropy.io.fits.Header
    """

    data: np.ndarray
    variance: np.ndarray
    known_crs: np.ndarray
    header: fits.Header
    gain: float = GMOS_GAIN
    readnoise: float = GMOS_READNOISE


def load_gmos(path: str | os.PathLike) -> GmosFrame:
    """Read ``gmos.fits`` (SCI and VAR, electrons) and convert it to adu."""
    path = Path(path)
    if not path.exists():
        raise FITSReadError(f"{path}: no such file (see ../shared/data/README.md)")
    with fits.open(path, memmap=False) as hdul:
        for name in ("SCI", "VAR"):
            if name not in hdul:
                raise FITSReadError(f"{path}: no {name} extension")
        sci = np.asarray(hdul["SCI"].data, dtype=np.float64)
        var = np.asarray(hdul["VAR"].data, dtype=np.float64)
        header = hdul[0].header.copy()
    known = np.zeros(sci.shape, dtype=bool)
    for box in GMOS_CR_BOXES:
        known[box] = True
    return GmosFrame(data=sci / GMOS_GAIN, variance=var / GMOS_GAIN**2, known_crs=known, header=header)


def hot_pixels(dark: np.ndarray, dark_exptime: float, exptime: float, readnoise_adu: float,
               nsigma: float = 5.0) -> np.ndarray:
    """Pixels whose dark charge in ``exptime`` exceeds ``nsigma`` read-noise sigmas above the median.

    Single hot pixels cannot be told from a one-pixel cosmic ray in one
    frame; a pipeline removes them with the dark, so benchmarks ignore them.
    """
    scaled = dark * (exptime / dark_exptime)
    return scaled - np.median(scaled) > nsigma * readnoise_adu


def warm_pixels(median_e: np.ndarray, readnoise: float, n: int, nsigma: float = 5.0) -> np.ndarray:
    """Isolated pixels that stand out in a median of ``n`` repeats: warm and hot pixels.

    A cosmic ray rarely survives a median of repeats, so a pixel above both
    its neighbours along each axis (5-pixel median filters along y and
    along x; a spectral trace or a sky line is extended along one of them) by
    ``nsigma`` times the median's noise is a fixed-pattern defect. Such
    pixels look like one-pixel cosmic rays in a single frame; a pipeline
    removes them with a dark, so benchmarks ignore them.

    Parameters
    ----------
    median_e : numpy.ndarray
        Median of the repeats, electrons, bias removed.
    readnoise : float
        Read noise, electrons.
    n : int
        Number of repeats in the median.
    """
    along_y = ndimage.median_filter(median_e, size=(5, 1), mode="nearest")
    along_x = ndimage.median_filter(median_e, size=(1, 5), mode="nearest")
    excess = np.minimum(median_e - along_y, median_e - along_x)
    background = np.clip(np.maximum(along_y, along_x), 0, None)
    scale = MEDIAN_VARIANCE.get(n, np.pi / (2 * n))
    return excess > nsigma * np.sqrt(scale * (readnoise**2 + background))


def bad_columns(dark: np.ndarray, nsigma: float = 5.0, width: int = 9) -> np.ndarray:
    """Columns whose median dark level departs from their neighbours' by ``nsigma`` robust sigmas.

    Returns
    -------
    numpy.ndarray
        Boolean mask of the image's shape, True on whole bad columns.
    """
    profile = np.median(dark, axis=0)
    residual = profile - ndimage.median_filter(profile, size=width, mode="nearest")
    # column-to-column scatter from neighbour differences (robust, not shrunk by the filter)
    steps = np.diff(profile)
    sigma = 1.4826 * np.median(np.abs(steps - np.median(steps))) / np.sqrt(2.0)
    bad = np.abs(residual) > nsigma * sigma if sigma > 0 else np.zeros(profile.shape, dtype=bool)
    return np.broadcast_to(bad[None, :], dark.shape).copy()


def source_mask(image_e: np.ndarray, readnoise: float, nsigma: float = 5.0, size: int = 15) -> np.ndarray:
    """Pixels where a source stands ``nsigma`` above the local background.

    The background is a ``size``×``size`` median filter, wider than a
    stellar core or a spectral trace, so what rises above it is starlight
    (the star mask used for star false positives).

    Parameters
    ----------
    image_e : numpy.ndarray
        A cosmic-ray-free image in electrons (e.g. a median of repeats).
    readnoise : float
        Read noise, electrons.
    """
    background = ndimage.median_filter(image_e, size=size, mode="nearest")
    sigma = np.sqrt(readnoise**2 + np.clip(background, 0, None))
    return image_e - background > nsigma * sigma


def repeat_significance(frames_e: np.ndarray, index: int, readnoise: float) -> np.ndarray:
    """Significance of exposure ``index`` above the median of the other repeats.

    The noise model is the one the shipped SPRAT masks were made with
    (``../shared/data/README.md``): read noise, Poisson noise of the model,
    noise of the median model, a 0.3 px shift term ``(0.3 |∇model|)²`` and a
    5% fractional term, after a per-column offset (3σ-clipped mean along the
    slit) that absorbs sky changes.

    Parameters
    ----------
    frames_e : numpy.ndarray
        ``(n, ny, nx)`` repeats of equal exposure time, electrons, bias removed.
    index : int
        The exposure to test.
    readnoise : float
        Read noise, electrons.

    Returns
    -------
    numpy.ndarray
        ``(frame - model) / sigma``.
    """
    others = np.delete(frames_e, index, axis=0)
    model = np.median(others, axis=0)
    residual = frames_e[index] - model
    offset = sigma_clipped_stats(residual, sigma=3.0, axis=0)[0]
    model = model + offset[None, :]
    poisson = np.clip(model, 0, None)
    median_var = MEDIAN_VARIANCE.get(len(others), np.pi / (2 * len(others))) * (readnoise**2 + poisson)
    gy, gx = np.gradient(model)
    variance = readnoise**2 + poisson + median_var + 0.09 * (gy**2 + gx**2) + (0.05 * model) ** 2
    return (frames_e[index] - model) / np.sqrt(variance)


def restore_noise(median: np.ndarray, n: int, gain: float, readnoise: float,
                  rng: np.random.Generator) -> np.ndarray:
    """Add noise to a median of ``n`` repeats so that it has one exposure's noise.

    The median of ``n`` exposures has variance ``MEDIAN_VARIANCE[n]`` times
    that of one exposure (read noise plus Poisson noise); Gaussian noise with
    the missing variance is added.

    Parameters
    ----------
    median : numpy.ndarray
        Median image, adu, bias removed.
    n : int
        Number of exposures in the median.
    gain, readnoise : float
        e-/adu and e-.
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray
        A new image in adu.
    """
    if n not in MEDIAN_VARIANCE:
        raise ValueError(f"median variance known for n in {sorted(MEDIAN_VARIANCE)}, got {n}")
    single_var_e = readnoise**2 + np.clip(median * gain, 0, None)
    extra = np.sqrt((1.0 - MEDIAN_VARIANCE[n]) * single_var_e) / gain
    return median + extra * rng.standard_normal(median.shape)


def repeat_unsure(frames_e: np.ndarray, index: int, truth: np.ndarray, readnoise: float, *,
                  nsigma: float = 4.0, near_sigma: float = 2.0, near: int = 2) -> np.ndarray:
    """Pixels of a repeat that may hold a cosmic ray a repeat-based mask missed.

    The shipped SPRAT masks are a lower bound (5σ seeds grown at 2σ), so a
    pixel outside them is doubtful where its `repeat_significance` exceeds
    ``nsigma``, or ``near_sigma`` within ``near`` pixels of a masked cosmic
    ray (the faint wings of a masked track).

    Parameters
    ----------
    frames_e : numpy.ndarray
        ``(n, ny, nx)`` repeats of equal exposure time, electrons, bias removed.
    index : int
        The exposure to test.
    truth : numpy.ndarray
        The exposure's cosmic-ray mask (bool).
    readnoise : float
        Read noise, electrons.
    nsigma, near_sigma : float
        Significance thresholds far from and near a masked cosmic ray.
    near : int
        Distance (pixels, 8-connected) that counts as near.

    Returns
    -------
    numpy.ndarray
        Bool mask; it may overlap ``truth``.
    """
    z = repeat_significance(frames_e, index, readnoise)
    close = ndimage.binary_dilation(truth, structure=np.ones((3, 3), dtype=bool), iterations=near)
    return (z > nsigma) | (close & (z > near_sigma))


def sprat_defects(run: SpratRun) -> np.ndarray:
    """SPRAT's fixed-pattern defects: hot pixels and bad columns of the dark, warm pixels of the median."""
    return (
        hot_pixels(run.dark, run.dark_exptime, run.exptime, run.readnoise / run.gain)
        | bad_columns(run.dark)
        | warm_pixels(run.median * run.gain, run.readnoise, len(run.frames))
    )


def line_defects(image: np.ndarray, nsigma: float = 5.0) -> np.ndarray:
    """Whole columns and rows whose median departs from their neighbours' (`bad_columns` along both axes)."""
    return bad_columns(image, nsigma) | bad_columns(image.T, nsigma).T


def sky_noise(image: np.ndarray, exclude: np.ndarray | None = None, *, size: int = 9,
              fraction: float = 0.1) -> tuple[float, float]:
    """Level and per-pixel noise of the faintest, source-free part of an image.

    Blank sky is taken as the pixels whose local level (a ``size``×``size``
    median filter, wider than a stellar core or an echelle order) is in the
    faintest ``fraction`` of the image. The noise is the 3σ-clipped standard
    deviation of those pixels about their local level, so a sky gradient
    does not inflate it. Unlike the scatter of neighbour differences, it is
    not biased by pixel-to-pixel correlation of the noise. Selecting the
    faintest pixels biases the level low by about 0.2 noise sigmas on a
    flat sky (the noise of the median filter); the noise is unbiased.

    Parameters
    ----------
    image : numpy.ndarray
        The image, bias removed.
    exclude : numpy.ndarray, optional
        Pixels never to use (defects).
    size : int
        Width of the median filter.
    fraction : float
        Fraction of the usable pixels taken as blank sky.

    Returns
    -------
    level, sigma : float
        Median local level and noise of the blank sky, in the unit of ``image``.
    """
    smooth = ndimage.median_filter(image, size=size, mode="nearest")
    usable = np.ones(image.shape, dtype=bool) if exclude is None else ~exclude
    blank = usable & (smooth <= np.quantile(smooth[usable], fraction))
    level = float(np.median(smooth[blank]))
    sigma = float(sigma_clipped_stats(image[blank] - smooth[blank], sigma=3.0)[2])
    return level, sigma


def effective_readnoise(gain: float, level: float, sigma: float) -> float:
    """Read noise (e-) for which ``sqrt(rn² + gain·level) / gain`` equals the measured ``sigma``.

    For frames whose noise is not the detector's alone (flat-fielded,
    resampled, bias-image subtracted), this folds the extra sky-level noise
    into an effective read noise, so the usual CCD noise model reproduces
    the measured sky noise.

    Parameters
    ----------
    gain : float
        e-/adu.
    level, sigma : float
        Sky level and measured sky noise, adu (e.g. from `sky_noise`).

    Raises
    ------
    ValueError
        If ``sigma`` is below the Poisson noise of ``level`` at this gain.
    """
    excess = (gain * sigma) ** 2 - gain * max(level, 0.0)
    if excess <= 0:
        raise ValueError(f"sky noise {sigma:.3g} adu is below the Poisson noise of a {level:.3g} adu sky "
                         f"at gain {gain:g} e-/adu: the gain is too low for this frame")
    return float(np.sqrt(excess))


#: Mirrored margin (pixels) around a frame for `own_cosmic_rays`.
_EDGE_PAD = 5


@renamed_keywords(saturation="satlevel")
def own_cosmic_rays(data_adu: np.ndarray, gain: float, readnoise: float, *, satlevel: float | None = None,
                    bad: np.ndarray | None = None, grow: int = 2) -> np.ndarray:
    """Conservative mask of a frame's own, unlabelled cosmic rays.

    L.A.Cosmic (van Dokkum 2001) as implemented by astroscrappy, with its
    default ``sigclip`` and ``objlim``, run on the data as given (sky left
    in, frame mirrored by a few pixels at its edges so that a cosmic ray
    running off the frame is still found), then grown by ``grow`` pixels
    (8-connected binary dilation) to take in the faint wings. Conservative: when in doubt a pixel is masked, so
    that it is never used as a clean (negative) pixel.

    Parameters
    ----------
    data_adu : numpy.ndarray
        The frame, adu, bias removed.
    gain : float
        e-/adu.
    readnoise : float
        Read noise, electrons.
    satlevel : float, optional
        Saturation level, adu (None: no saturation); ``saturation`` is its
        former spelling (deprecated).
    bad : numpy.ndarray, optional
        Defects astroscrappy should ignore (bool).
    grow : int
        Pixels of dilation.

    Returns
    -------
    numpy.ndarray
        Bool mask.
    """
    # astroscrappy compares its saturation level with the data in electrons
    satlevel_e = np.inf if satlevel is None else satlevel * gain
    # mirrored margins: a cosmic ray that runs off the frame still looks like one at the edge
    pad = _EDGE_PAD
    data = np.pad(np.asarray(data_adu, dtype=np.float32), pad, mode="reflect")
    inmask = None if bad is None else np.pad(np.asarray(bad, dtype=bool), pad, mode="reflect")
    mask, _ = astroscrappy.detect_cosmics(data, inmask=inmask, gain=gain, readnoise=readnoise, satlevel=satlevel_e)
    mask = mask[pad:-pad, pad:-pad]
    if grow > 0:
        mask = ndimage.binary_dilation(mask, structure=np.ones((3, 3), dtype=bool), iterations=grow)
    return mask


@dataclass
class RealFrame:
    """One real frame ready for injection or training, bias removed, in adu.

    Attributes
    ----------
    name : str
        Source key, one of `REAL_SOURCES` (e.g. ``"m51"``, ``"sprat-1"``).
    path : str
        The file, relative to the data directory.
    data : numpy.ndarray
        float64 adu, bias / pedestal / overscan removed, trimmed to the science area.
    gain : float
        e-/adu.
    readnoise : float
        Read noise (e-); an effective value where the frame's noise is not the detector's.
    satlevel : float or None
        Saturation level, adu, on the zero point of ``data`` (None if
        unknown). ``saturation`` is its former name (deprecated, as an
        attribute and as a keyword).
    own_crs : numpy.ndarray
        Bool: pixels that may hold the frame's own cosmic rays (grown); never
        to be used as negatives.
    labels : numpy.ndarray or None
        Bool: real cosmic-ray labels where known (the SPRAT repeat masks), else None.
    defects : numpy.ndarray
        Bool: fixed-pattern defects (hot and warm pixels, bad columns and
        lines, saturated pixels) to ignore.
    header : astropy.io.fits.Header
        A copy of the original primary header.
    calibration : str
        Where the gain and read noise come from.
    instrument : str
        Instrument name for benchmark headers (``INSTRUME``).
    exptime : float
        Exposure time, s.
    """

    name: str
    path: str
    data: np.ndarray
    gain: float
    readnoise: float
    satlevel: float | None
    own_crs: np.ndarray
    labels: np.ndarray | None
    defects: np.ndarray
    header: fits.Header
    calibration: str
    instrument: str
    exptime: float

    saturation = renamed_property("saturation", "satlevel")


RealFrame.__init__ = renamed_keywords(saturation="satlevel")(RealFrame.__init__)  # type: ignore[method-assign]

#: Sources `load_real_frame` reads.
REAL_SOURCES: tuple[str, ...] = ("sprat-1", "sprat-2", "sprat-3", "sprat-4", "sprat-5", "gmos", "m51", "uves", "saao")

_SPRAT_DIR = "sprat_lhs6328"
_GMOS_FILE = "gmos.fits"
_M51_FILE = "iraf_devpix/devpix_m51_B_600s.fits"
_UVES_FILE = "eso_midas/order.fits.gz"
_SAAO_FILE = "saao_a8280271.fits"

#: Gain of ``dev$pix`` (e-/DN): the value of the examples in IRAF's DAOPHOT task help pages
#: (``datapars.epadu = 14.0`` with ``readnoise = 75.0``, for the test image ``dev$ypix``), a tutorial value.
M51_GAIN = 14.0
#: UVES blue-arm conversion factor, ``HIERARCH ESO DET OUT1 CONAD`` (e-/adu).
UVES_GAIN = 2.03
#: Saturation of ``order.fits`` on its own zero point (adu). Its three
#: brightest pixels, 65302-65339 adu, are the 16-bit converter's 65535 less
#: the subtracted bias and background (196-233 adu); ``DATAMAX = 65340`` is
#: only the maximum value.
UVES_SATLEVEL = 65300.0


def _sprat_frame(run: SpratRun, index: int, defects: np.ndarray) -> RealFrame:
    labels = run.masks[index]
    frames_e = run.frames * run.gain
    own = repeat_unsure(frames_e, index, labels, run.readnoise) & ~labels
    saturated = run.frames[index] + run.pedestal >= ADC16_MAX
    header = run.headers[index]
    return RealFrame(
        name=f"sprat-{index + 1}",
        path=f"{_SPRAT_DIR}/{run.names[index]}.fits.gz",
        data=run.frames[index].copy(),
        gain=run.gain,
        readnoise=run.readnoise,
        satlevel=ADC16_MAX - run.pedestal,
        own_crs=own,
        labels=labels.copy(),
        defects=defects | saturated,
        header=header.copy(),
        calibration=(f"gain {run.gain} e-/adu from EPERDN; read noise {run.readnoise} e- from the LT SPRAT "
                     "instrument page (repeat differences give 2.42 adu, README)"),
        instrument="SPRAT",
        exptime=float(header["EXPTIME"]),
    )


def _load_sprat_frames(data_dir: Path, indices: list[int]) -> list[RealFrame]:
    run = load_sprat(data_dir / _SPRAT_DIR)
    defects = sprat_defects(run)
    return [_sprat_frame(run, index, defects) for index in indices]


def _load_gmos_frame(data_dir: Path) -> RealFrame:
    gmos = load_gmos(data_dir / _GMOS_FILE)
    own = gmos.known_crs | own_cosmic_rays(gmos.data, gmos.gain, gmos.readnoise)
    return RealFrame(
        name="gmos",
        path=_GMOS_FILE,
        data=gmos.data,
        gain=gmos.gain,
        readnoise=gmos.readnoise,
        satlevel=None,
        own_crs=own,
        labels=None,
        defects=np.zeros(gmos.data.shape, dtype=bool),
        header=gmos.header,
        calibration=(f"astroscrappy's GMOS test values, gain {gmos.gain} e-/adu and read noise "
                     f"{gmos.readnoise} e- (VAR = SCI + {gmos.readnoise}² e² confirms the read noise)"),
        instrument="GMOS-S",
        exptime=float(gmos.header.get("EXPTIME", 90.0)),
    )


def _cold_pixels(data: np.ndarray, gain: float, readnoise: float, nsigma: float = 5.0,
                 fraction: float = 0.5) -> np.ndarray:
    """Dead or cold pixels and short line segments, grown by one pixel.

    A pixel is cold where it lies ``nsigma`` noise sigmas below its 5×5
    median and below ``fraction`` of it: starlight and galaxy structure make
    dips of at most a few tens of per cent, so only dropped-out pixels pass
    both.
    """
    local = ndimage.median_filter(data, size=5, mode="nearest")
    sigma = np.sqrt(readnoise**2 + gain * np.clip(local, 0, None)) / gain
    cold = (data - local < -nsigma * sigma) & (data < fraction * local)
    return ndimage.binary_dilation(cold, structure=np.ones((3, 3), dtype=bool))


def _load_m51_frame(data_dir: Path) -> RealFrame:
    """IRAF ``dev$pix`` (M51, B, 600 s): reduced DN, no GAIN/RDNOISE.

    Gain: 14 e-/DN, the tutorial value of IRAF's DAOPHOT help pages
    (`M51_GAIN`). Its companion 75 e- read noise cannot hold: it alone
    would give 5.4 DN of noise, and the blank sky (level 41 DN, the
    faintest 10% of the 9×9 median) has 2.12 DN (3σ-clipped std about the
    local level). The effective read noise that reproduces it is
    ``sqrt((14 × 2.12)² - 14 × 41) ≈ 17.4`` e-. The noise is correlated
    between neighbours (correlation 0.35, from the flat-fielding or
    registration), so the scatter of horizontal differences / √2 (1.7 DN)
    underestimates the per-pixel noise and is not used.

    Defects: two bad lines (rows 109 and 317, whose medians drop 38 and 9 DN
    below their neighbours), cold pixels and line segments (e.g. row 77,
    x 414-421 at 6 DN on an 80 DN sky; the -1 DN pixel at (3, 76)), and
    pixels <= 0.
    """
    path = data_dir / _M51_FILE
    data, header = _open_data(path)
    lines = line_defects(data) | (data <= 0)
    level, sigma = sky_noise(data, exclude=lines)
    readnoise = effective_readnoise(M51_GAIN, level, sigma)
    defects = lines | _cold_pixels(data, M51_GAIN, readnoise)
    return RealFrame(
        name="m51",
        path=_M51_FILE,
        data=data,
        gain=M51_GAIN,
        readnoise=readnoise,
        satlevel=None,
        # cold pixels are left in for L.A.Cosmic: several are the undershoot beside a cosmic ray, and masking
        # them cut the cosmic ray short; a low pixel is never taken for a cosmic ray
        own_crs=own_cosmic_rays(data, M51_GAIN, readnoise, bad=lines),
        labels=None,
        defects=defects,
        header=header,
        calibration=(f"gain {M51_GAIN} e-/DN, the IRAF DAOPHOT help-page tutorial value; effective read "
                     f"noise {readnoise:.1f} e- from the blank-sky noise {sigma:.2f} DN at {level:.0f} DN"),
        instrument="KPNO CCD",
        exptime=float(header["EXPTIME"]),
    )


def _load_uves_frame(data_dir: Path) -> RealFrame:
    """ESO-MIDAS ``order.fits`` (VLT UVES blue arm, 5400 s): bias and background subtracted, resampled by 2.

    Gain: ``ESO DET OUT1 CONAD`` = 2.03 e-/adu. Resampling by 2 kept the
    detector's pixels (the inter-order noise is uncorrelated between
    neighbours, correlation < 0.01) and the adu, but the subtracted bias
    and background images and 5400 s of dark current add noise to the
    detector's ``RON`` of 3.9 e- (1.9 adu): the inter-order sky (level
    about -0.6 adu, the faintest 10% of the 9×9 median) has 2.95 adu
    (3σ-clipped std about the local level), hence an effective read noise
    of 2.03 × 2.95 ≈ 6.0 e-. Defects: pixels at saturation
    (`UVES_SATLEVEL`).
    """
    path = data_dir / _UVES_FILE
    data, header = _open_data(path)
    saturated = data >= UVES_SATLEVEL
    level, sigma = sky_noise(data, exclude=saturated)
    readnoise = effective_readnoise(UVES_GAIN, level, sigma)
    return RealFrame(
        name="uves",
        path=_UVES_FILE,
        data=data,
        gain=UVES_GAIN,
        readnoise=readnoise,
        satlevel=UVES_SATLEVEL,
        own_crs=own_cosmic_rays(data, UVES_GAIN, readnoise, satlevel=UVES_SATLEVEL, bad=saturated),
        labels=None,
        defects=saturated,
        header=header,
        calibration=(f"gain {UVES_GAIN} e-/adu from ESO DET OUT1 CONAD; effective read noise {readnoise:.1f} e- "
                     f"from the inter-order noise {sigma:.2f} adu (detector RON 3.9 e-)"),
        instrument=str(header.get("INSTRUME", "UVES")).strip(),
        exptime=float(header["EXPTIME"]),
    )


def _load_saao_frame(data_dir: Path) -> RealFrame:
    """SAAO 1.0 m raw frame: overscan level (``BIASSEC``, median) subtracted, trimmed to ``TRIMSEC``.

    ``GAIN`` and ``RDNOISE`` from the header. The overscan is flat (its
    row medians scatter by 1.2 adu, about the 1.0 adu noise of a 10-pixel
    median), so one level is subtracted rather than a noisy row-by-row one. Saturation is
    the 16-bit converter's 65535 less that level.
    """
    path = data_dir / _SAAO_FILE
    if not path.exists():
        raise FITSReadError(f"{path}: no such file (see ../shared/data/README.md)")
    ccd = CCDData.read(path, unit=u.adu)
    header = ccd.header.copy()
    bias_section = slice_from_string(header["BIASSEC"], fits_convention=True)
    overscan = float(np.median(ccd.data[bias_section]))
    trimmed = ccdproc.trim_image(ccd, fits_section=header["TRIMSEC"])
    data = np.asarray(trimmed.data, dtype=np.float64) - overscan
    gain, readnoise = float(header["GAIN"]), float(header["RDNOISE"])
    satlevel = ADC16_MAX - overscan
    defects = line_defects(data) | (data >= satlevel)
    return RealFrame(
        name="saao",
        path=_SAAO_FILE,
        data=data,
        gain=gain,
        readnoise=readnoise,
        satlevel=satlevel,
        own_crs=own_cosmic_rays(data, gain, readnoise, satlevel=satlevel, bad=defects),
        labels=None,
        defects=defects,
        header=header,
        calibration=f"GAIN {gain} e-/adu and RDNOISE {readnoise} e- from the header; overscan {overscan:g} adu",
        instrument=str(header.get("INSTRUME", "STE3 CCD")).strip(),
        exptime=float(header["EXPTIME"]),
    )


_LOADERS = {"gmos": _load_gmos_frame, "m51": _load_m51_frame, "uves": _load_uves_frame, "saao": _load_saao_frame}


def load_real_frames(data_dir: str | os.PathLike,
                     names: tuple[str, ...] | list[str] = REAL_SOURCES) -> dict[str, RealFrame]:
    """Read several real frames (see `load_real_frame`); the SPRAT run is read once for all its exposures.

    Returns
    -------
    dict
        `RealFrame` by source name, in the order of ``names``.

    Raises
    ------
    ValueError
        If a name is not in `REAL_SOURCES`.
    FITSReadError
        If a file is missing.
    """
    names = list(names)
    unknown = [name for name in names if name not in REAL_SOURCES]
    if unknown:
        raise ValueError(f"unknown real source(s) {unknown}; choose from {list(REAL_SOURCES)}")
    data_dir = Path(data_dir)
    sprat = [name for name in names if name.startswith("sprat-")]
    frames = {f.name: f for f in _load_sprat_frames(data_dir, [int(n.split("-")[1]) - 1 for n in sprat])} \
        if sprat else {}
    frames.update({name: _LOADERS[name](data_dir) for name in names if name in _LOADERS})
    return {name: frames[name] for name in names}


def load_real_frame(data_dir: str | os.PathLike, name: str) -> RealFrame:
    """Read one real frame, bias removed, in adu, with its noise model and masks.

    Parameters
    ----------
    data_dir : path-like
        The shared data directory (``../shared/data``).
    name : str
        One of `REAL_SOURCES`.

    Returns
    -------
    RealFrame

    Raises
    ------
    ValueError
        If ``name`` is not in `REAL_SOURCES`.
    FITSReadError
        If a file is missing.
    """
    return load_real_frames(data_dir, [name])[name]


#: ``UVES_SATURATION``, the former name of `UVES_SATLEVEL`, still works (deprecated).
__getattr__ = deprecated_module_attributes(__name__, renamed={"UVES_SATURATION": "UVES_SATLEVEL"})
