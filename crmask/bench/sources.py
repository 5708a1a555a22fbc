"""Readers and noise models for the real data the benchmark sets are built from.

The data are described in ``../shared/data/README.md``:

* ``sprat_lhs6328/``: five 120 s Liverpool Telescope SPRAT exposures of one
  pointing (raw adu, no overscan, constant pedestal), per-exposure CR masks
  derived from the repeats, and a dark;
* ``gmos.fits``: a Gemini GMOS-S long-slit cut-out in electrons with two
  known cosmic rays.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.stats import sigma_clipped_stats
from scipy import ndimage

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
    "MEDIAN_VARIANCE",
]

#: SPRAT gain (e-/adu, ``EPERDN`` keyword) and read noise (e-, LT SPRAT instrument page).
SPRAT_GAIN = 2.45
SPRAT_READNOISE = 5.7
SPRAT_FRAMES = tuple(f"v_e_20180810_12_{k}_0_0" for k in range(1, 6))

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
