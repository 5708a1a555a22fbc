"""Build the benchmark sets from the real data, reproducibly.

Six sets, each a directory in the format of `crmask.bench.dataset`:

``injected``
    Real cosmic rays with exact truth on real cosmic-ray-free frames. The
    base frames are the median of the five SPRAT repeats (with Gaussian
    noise added back so that it has one exposure's noise) and the GMOS-S
    cut-out (a single exposure: its two known cosmic rays, any other that
    L.A.Cosmic finds, grown, and a border of ``border`` pixels are ignored; it
    has sky lines but no star, so no star mask). Footprints reserved for
    testing (``fp_id % 5 == 0``) are injected with
    `crmask.data.footprints.inject_footprints`, converted from electrons with the
    frame's gain; truth pixels stand 3σ above the noise (Bhavanam et al. 2022, §2.1.1),
    fainter footprint pixels (1–3σ) and fixed-pattern defects (hot and warm
    pixels, bad columns) are ignored.
``repeats``
    The five real SPRAT exposures with the cosmic-ray masks derived from the
    repeats (shipped with the data). Ignored: a border of ``border`` pixels
    (where the detectors' filters and the repeat model are both unreliable),
    fixed-pattern defects (hot pixels and bad columns from the dark, warm
    pixels that stand out in the median of the repeats), saturated pixels, and pixels outside the mask whose repeat
    significance says they may hold a cosmic ray the mask missed (above 4σ,
    or above 2σ within two pixels of a masked cosmic ray): the shipped masks
    are a lower bound (5σ seeds).
``m51``, ``uves``, ``saao``
    Real test footprints injected into single real exposures
    (`crmask.bench.sources.load_real_frame`): IRAF's ``dev$pix`` (M51, a
    galaxy with stars and bad lines), a UVES echelle frame (orders and
    about 1,500 cosmic rays of its own) and a raw SAAO 1.0 m frame (overscan
    removed). The frames keep their own cosmic rays, which are ignored along
    with faint footprint pixels and fixed-pattern defects; truth is the
    injected mask outside them. The star mask is `source_mask` of the frame
    with its own cosmic rays inpainted, so stars, the galaxy's knots and
    echelle orders count as star false positives.
``synthetic``
    Frames from `crmask.data.synthetic.make_frame` at any size; saturated, hot
    and faint-CR pixels are ignored.

The real sets hand the frames' known defects to the detectors as the images'
bad-pixel mask (``MASK``, `~astropy.nddata.CCDData` ``mask``), as a
reduction's bad-pixel mask would: SPRAT's hot pixels and bad columns (and,
in the repeats, each exposure's saturated pixels), M51's bad lines and cold
pixels, UVES's saturated pixels. Those pixels are ignored and never truth:
no detector reports a masked pixel.

Every random choice comes from ``numpy.random.default_rng((seed, index))``
(``(seed, stream, index)`` for the single-exposure sets, ``stream`` the
set's position in `SETS`), so a set is the same for the same seed whatever
else is built.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path
from typing import Any, Callable, Iterable

import astropy.units as u
import numpy as np
from astropy.io.fits import Header
from astropy.nddata import CCDData
from scipy import ndimage

from ..data.footprints import inject_footprints, load_footprints
from ..inpaint import median_inpaint
from ..data.synthetic import FrameSpec, make_frame
from .dataset import count_events, write_bench_image, write_manifest
from .sources import (
    ADC16_MAX,
    load_real_frame,
    load_sprat,
    repeat_unsure,
    restore_noise,
    source_mask,
    sprat_defects,
)

__all__ = ["SETS", "SINGLE_EXPOSURE_SETS", "frame_border", "build_injected", "build_repeats", "build_single_exposure",
           "build_synthetic", "build_sets"]

#: Sets of real footprints injected into one real exposure each (`build_single_exposure`).
SINGLE_EXPOSURE_SETS = ("m51", "uves", "saao")
#: Names of the sets `build_sets` can make.
SETS = ("injected", "repeats", "synthetic") + SINGLE_EXPOSURE_SETS

_SPRAT = "sprat_lhs6328"
_FOOTPRINTS = "cr_footprints_itl.fits.gz"
_GMOS = "gmos.fits"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _provenance(data_dir: Path, files: Iterable[str]) -> dict[str, str]:
    return {name: _sha256(data_dir / name) for name in files}


def _version() -> str:
    from .. import __version__

    return __version__


def _header(instrument: str, exptime: float, gain: float, readnoise: float,
            satlevel: float | None = None) -> Header:
    header = Header()
    header["INSTRUME"] = instrument
    header["EXPTIME"] = (exptime, "exposure time (s)")
    header["GAIN"] = (gain, "electrons per adu")
    header["RDNOISE"] = (readnoise, "read noise (electrons)")
    if satlevel is not None:
        header["SATURATE"] = (satlevel, "saturation level (adu)")
    return header


def _row(name: str, source: str, seed: int | None, truth, ignore, starmask) -> dict[str, Any]:
    return {
        "FILE": name,
        "SOURCE": source,
        "SEED": -1 if seed is None else seed,
        "NCRPIX": int(truth.sum()),
        "NCREVT": count_events(truth),
        "NIGNORE": int(ignore.sum()),
        "NSTARPIX": int(starmask.sum()) if starmask is not None else 0,
    }


def frame_border(shape: tuple[int, int], width: int) -> np.ndarray:
    """Boolean mask of the outer ``width`` pixels of a frame (all False for ``width <= 0``)."""
    edge = np.zeros(shape, dtype=bool)
    if width > 0:
        edge[:width], edge[-width:], edge[:, :width], edge[:, -width:] = True, True, True, True
    return edge


def build_injected(
    data_dir: str | os.PathLike,
    outdir: str | os.PathLike,
    *,
    seed: int = 0,
    n_sprat: int = 8,
    n_gmos: int = 16,
    cr_density: float = 250.0,
    border: int = 2,
    dilate: bool = False,
    overwrite: bool = False,
) -> Path:
    """Build the ``injected`` set (see the module notes).

    Parameters
    ----------
    data_dir : path-like
        The shared data directory (``../shared/data``).
    outdir : path-like
        Directory to create the set in.
    seed : int
        Seed of every random choice.
    n_sprat, n_gmos : int
        Frames made from the SPRAT median and from the GMOS-S cut-out. One
        GMOS-S frame (150 x 200 pixels) holds about 7 cosmic rays and 27,000
        clean pixels, so at FPR 1e-4 its TPR rests on 3 false positives; 16
        frames hold about 120 cosmic rays and allow about 45. (Sets built
        before had 2; the first two frames are the same.)
    cr_density : float
        Cosmic rays injected per megapixel.
    border : int
        Width of the ignored border of the GMOS-S frames (a single exposure).
    dilate : bool
        Dilate the truth masks by 3×3.
    overwrite : bool
        Replace existing files.

    Returns
    -------
    pathlib.Path
        The set directory.
    """
    data_dir, outdir = Path(data_dir), Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    library = load_footprints(data_dir / _FOOTPRINTS, subset="test")
    rows = []

    sprat = load_sprat(data_dir / _SPRAT)
    median = sprat.median
    hot = sprat_defects(sprat)
    stars = source_mask(median * sprat.gain, sprat.readnoise, size=(31, 1)) & ~hot
    for index in range(n_sprat):
        rng = np.random.default_rng((seed, index))
        base = restore_noise(median, len(sprat.frames), sprat.gain, sprat.readnoise, rng)
        n = int(rng.poisson(cr_density * median.size / 1e6))
        inj = inject_footprints(base, library, n, gain=sprat.gain, readnoise=sprat.readnoise, rng=rng,
                                background=median, dilate=dilate)
        truth = inj.mask & ~hot
        ignore = (inj.faint | hot) & ~truth
        header = _header("SPRAT", sprat.exptime, sprat.gain, sprat.readnoise, ADC16_MAX - sprat.pedestal)
        header["PEDESTAL"] = (sprat.pedestal, "adu subtracted from the raw frames")
        header["NCRINJ"] = (n, "cosmic rays injected")
        name = f"sprat_median_{index:03d}.fits"
        write_bench_image(outdir / name, CCDData(inj.data, unit=u.adu, header=header, mask=hot), truth, ignore,
                          stars, overwrite=overwrite, significance=inj.significance)
        rows.append(_row(name, "median of 5 SPRAT repeats + ITL footprints", index, truth, ignore, stars))

    gmos = load_real_frame(data_dir, "gmos")
    # a single exposure: its own cosmic rays (the two known ones and any other L.A.Cosmic finds) and a
    # border, where an own cosmic ray can run off the frame unseen, are ignored
    own = gmos.own_crs | frame_border(gmos.data.shape, border)
    background = ndimage.median_filter(gmos.data, size=3)
    for index in range(n_gmos):
        rng = np.random.default_rng((seed, n_sprat + index))
        n = int(rng.poisson(cr_density * gmos.data.size / 1e6))
        inj = inject_footprints(gmos.data, library, n, gain=gmos.gain, readnoise=gmos.readnoise, rng=rng,
                                background=background, dilate=dilate)
        truth = inj.mask & ~own
        ignore = (inj.faint | own) & ~truth
        header = _header(gmos.instrument, gmos.exptime, gmos.gain, gmos.readnoise)
        header["NCRINJ"] = (n, "cosmic rays injected")
        name = f"gmos_{index:03d}.fits"
        # The cut-out holds sky lines but no stellar trace: no star mask.
        write_bench_image(outdir / name, CCDData(inj.data, unit=u.adu, header=header), truth, ignore,
                          overwrite=overwrite, significance=inj.significance)
        rows.append(_row(name, "GMOS-S cut-out + ITL footprints", n_sprat + index, truth, ignore, None))

    write_manifest(outdir, rows, {
        "set": "injected",
        "builder": "crmask.bench.build.build_injected",
        "crmask_version": _version(),
        "params": {"seed": seed, "n_sprat": n_sprat, "n_gmos": n_gmos, "cr_density": cr_density, "border": border,
                   "dilate": dilate, "footprints": "test (fp_id % 5 == 0)", "truth_threshold_sigma": 3.0},
        "sources_sha256": _provenance(data_dir, [_FOOTPRINTS, _GMOS] + [
            f"{_SPRAT}/{n}.fits.gz" for n in sprat.names] + [f"{_SPRAT}/v_dark_1.fits.gz"]),
    })
    return outdir


def build_repeats(
    data_dir: str | os.PathLike,
    outdir: str | os.PathLike,
    *,
    border: int = 2,
    dilate: bool = False,
    overwrite: bool = False,
) -> Path:
    """Build the ``repeats`` set: the real SPRAT exposures with their shipped masks.

    Parameters
    ----------
    data_dir, outdir : path-like
        Shared data directory and the directory to create.
    border : int
        Width of the ignored frame border.
    dilate : bool
        Dilate the truth masks by 3×3.
    overwrite : bool
        Replace existing files.
    """
    data_dir, outdir = Path(data_dir), Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    sprat = load_sprat(data_dir / _SPRAT)
    hot = sprat_defects(sprat)
    stars = source_mask(sprat.median * sprat.gain, sprat.readnoise, size=(31, 1)) & ~hot
    edge = frame_border(sprat.median.shape, border)
    frames_e = sprat.frames * sprat.gain
    rows = []
    for index, name in enumerate(sprat.names):
        truth = sprat.masks[index]
        if dilate:
            truth = ndimage.binary_dilation(truth, structure=np.ones((3, 3), dtype=bool))
        unsure = repeat_unsure(frames_e, index, truth, sprat.readnoise)
        defects = hot | (sprat.frames[index] + sprat.pedestal >= ADC16_MAX)
        truth = truth & ~defects
        ignore = (edge | defects | unsure) & ~truth
        header = _header("SPRAT", sprat.exptime, sprat.gain, sprat.readnoise, ADC16_MAX - sprat.pedestal)
        header["PEDESTAL"] = (sprat.pedestal, "adu subtracted from the raw frame")
        header["ORIGFILE"] = f"{name}.fits.gz"
        out = f"{name}.fits"
        ccd = CCDData(sprat.frames[index].astype(np.float32), unit=u.adu, header=header, mask=defects)
        write_bench_image(outdir / out, ccd, truth, ignore, stars, overwrite=overwrite)
        rows.append(_row(out, f"SPRAT exposure {name}, mask from the repeats", None, truth, ignore, stars))
    write_manifest(outdir, rows, {
        "set": "repeats",
        "builder": "crmask.bench.build.build_repeats",
        "crmask_version": _version(),
        "params": {"border": border, "dilate": dilate, "ignore_sigma": 4.0, "ignore_near_sigma": 2.0},
        "sources_sha256": _provenance(data_dir, [f"{_SPRAT}/{n}.fits.gz" for n in sprat.names]
                                      + [f"{_SPRAT}/{n}_crmask.fits.gz" for n in sprat.names]),
    })
    return outdir


def build_single_exposure(
    data_dir: str | os.PathLike,
    outdir: str | os.PathLike,
    source: str,
    *,
    seed: int = 0,
    n_frames: int = 4,
    cr_density: float = 250.0,
    border: int = 2,
    dilate: bool = False,
    overwrite: bool = False,
) -> Path:
    """Build a set of real footprints injected into one real exposure (``m51``, ``uves`` or ``saao``).

    Each frame is the real exposure itself, its own cosmic rays included
    (a single exposure has no cosmic-ray-free median), with test footprints
    (``fp_id % 5 == 0``) injected with the frame's gain and read noise; the
    frames differ by their injection seed. Truth is the injected mask
    (3σ, Bhavanam et al. 2022, §2.1.1) outside the frame's own cosmic rays
    and a border of ``border`` pixels (where an own cosmic ray can run off
    the frame unseen); IGNORE holds the faint footprint pixels, the own
    cosmic rays, the border and the defects, less the truth; STARMASK is `source_mask` of the frame with its own cosmic
    rays inpainted (`crmask.inpaint.median_inpaint`), less the defects.

    Parameters
    ----------
    data_dir : path-like
        The shared data directory (``../shared/data``).
    outdir : path-like
        Directory to create the set in.
    source : str
        One of `SINGLE_EXPOSURE_SETS`: the `crmask.bench.sources.load_real_frame` source and the set's name.
    seed : int
        Seed of every random choice.
    n_frames : int
        Frames to make.
    cr_density : float
        Cosmic rays injected per megapixel.
    border : int
        Width of the ignored frame border.
    dilate : bool
        Dilate the truth masks by 3×3.
    overwrite : bool
        Replace existing files.

    Returns
    -------
    pathlib.Path
        The set directory.
    """
    if source not in SINGLE_EXPOSURE_SETS:
        raise ValueError(f"no single-exposure set {source!r}; choose from {list(SINGLE_EXPOSURE_SETS)}")
    data_dir, outdir = Path(data_dir), Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    library = load_footprints(data_dir / _FOOTPRINTS, subset="test")
    frame = load_real_frame(data_dir, source)
    own = frame.own_crs | frame_border(frame.data.shape, border)
    clean = median_inpaint(frame.data, frame.own_crs, bad=frame.defects)
    background = ndimage.median_filter(clean, size=3, mode="nearest")
    stars = source_mask(clean * frame.gain, frame.readnoise) & ~frame.defects
    stream = SETS.index(source)
    rows = []
    for index in range(n_frames):
        rng = np.random.default_rng((seed, stream, index))
        n = int(rng.poisson(cr_density * frame.data.size / 1e6))
        inj = inject_footprints(frame.data, library, n, gain=frame.gain, readnoise=frame.readnoise, rng=rng,
                                background=background, dilate=dilate, satlevel=frame.satlevel)
        truth = inj.mask & ~own & ~frame.defects
        ignore = (inj.faint | own | frame.defects) & ~truth
        header = _header(frame.instrument, frame.exptime, frame.gain, frame.readnoise, frame.satlevel)
        header["ORIGFILE"] = frame.path
        header["NCRINJ"] = (n, "cosmic rays injected")
        name = f"{source}_{index:03d}.fits"
        ccd = CCDData(inj.data, unit=u.adu, header=header, mask=frame.defects)
        write_bench_image(outdir / name, ccd, truth, ignore, stars, overwrite=overwrite,
                          significance=inj.significance)
        rows.append(_row(name, f"{frame.path} (single exposure) + ITL footprints", index, truth, ignore, stars))
    write_manifest(outdir, rows, {
        "set": source,
        "builder": "crmask.bench.build.build_single_exposure",
        "crmask_version": _version(),
        "params": {"seed": seed, "stream": stream, "n_frames": n_frames, "cr_density": cr_density, "border": border,
                   "dilate": dilate, "footprints": "test (fp_id % 5 == 0)", "truth_threshold_sigma": 3.0,
                   "gain": frame.gain, "readnoise": frame.readnoise, "satlevel": frame.satlevel,
                   "calibration": frame.calibration,
                   "own_crs": "astroscrappy defaults (sigclip 4.5, objlim 5), grown 2 px, ignored"},
        "sources_sha256": _provenance(data_dir, [_FOOTPRINTS, frame.path]),
    })
    return outdir


def build_synthetic(
    outdir: str | os.PathLike,
    *,
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
    n_frames: int = 2,
    shape: tuple[int, int] = (1024, 1024),
    spec: FrameSpec | None = None,
    overwrite: bool = False,
) -> Path:
    """Build the ``synthetic`` set with `crmask.data.synthetic.make_frame`.

    Parameters
    ----------
    outdir : path-like
        Directory to create.
    data_dir : path-like, optional
        Shared data directory; when given, real test footprints are used for
        the non-parametric cosmic rays.
    seed : int
    n_frames : int
    shape : tuple of int
        ``(ny, nx)`` of every frame, e.g. ``(4096, 2048)``.
    spec : FrameSpec, optional
    overwrite : bool
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    spec = FrameSpec() if spec is None else spec
    library = load_footprints(Path(data_dir) / _FOOTPRINTS, subset="test") if data_dir is not None else None
    rows = []
    for index in range(n_frames):
        frame = make_frame(shape, spec, rng=np.random.default_rng((seed, index)), footprints=library)
        ignore = (frame.faint | frame.saturated | frame.hot) & ~frame.crmask
        name = f"synthetic_{shape[0]}x{shape[1]}_{index:03d}.fits"
        write_bench_image(outdir / name, frame.ccd, frame.crmask, ignore, frame.starmask, overwrite=overwrite)
        rows.append(_row(name, "crmask.data.synthetic.make_frame", index, frame.crmask, ignore, frame.starmask))
    write_manifest(outdir, rows, {
        "set": "synthetic",
        "builder": "crmask.bench.build.build_synthetic",
        "crmask_version": _version(),
        "params": {"seed": seed, "n_frames": n_frames, "shape": list(shape), "spec": spec.as_dict(),
                   "footprints": "test (fp_id % 5 == 0)" if library is not None else "none"},
    })
    return outdir


def build_sets(
    data_dir: str | os.PathLike,
    outdir: str | os.PathLike,
    sets: Iterable[str] = SETS,
    *,
    seed: int = 0,
    synthetic_shape: tuple[int, int] = (1024, 1024),
    synthetic_frames: int = 2,
    dilate: bool = False,
    overwrite: bool = False,
    log: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Build the named sets under ``outdir/<set>``; returns their directories."""
    sets = list(sets)
    unknown = sorted(set(sets) - set(SETS))
    if unknown:
        raise ValueError(f"unknown benchmark set(s) {unknown}; choose from {list(SETS)}")
    data_dir, outdir = Path(data_dir), Path(outdir)
    builders: dict[str, Callable[[], Path]] = {
        "injected": lambda: build_injected(data_dir, outdir / "injected", seed=seed, dilate=dilate,
                                           overwrite=overwrite),
        "repeats": lambda: build_repeats(data_dir, outdir / "repeats", dilate=dilate, overwrite=overwrite),
        "synthetic": lambda: build_synthetic(outdir / "synthetic", data_dir=data_dir, seed=seed,
                                             n_frames=synthetic_frames, shape=synthetic_shape,
                                             spec=FrameSpec(dilate=dilate), overwrite=overwrite),
    }
    builders.update({
        source: functools.partial(build_single_exposure, data_dir, outdir / source, source, seed=seed,
                                  dilate=dilate, overwrite=overwrite)
        for source in SINGLE_EXPOSURE_SETS
    })
    built = {}
    for name in sets:
        built[name] = builders[name]()
        if log is not None:
            log(f"built {name} set in {built[name]}")
    return built
