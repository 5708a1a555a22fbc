"""ccdproc-style cosmic-ray cleaning of a `~astropy.nddata.CCDData`."""

from __future__ import annotations

from typing import Any, NamedTuple

import astropy.units as u
import numpy as np
from astropy.nddata import CCDData, FlagCollection

from .detector import Detector
from .inpaint import grow_mask, median_inpaint
from .io import CRPROB_EXTNAME
from .provenance import write_provenance
from .registry import resolve

__all__ = ["cosmicray_clean"]


def cosmicray_clean(
    ccd: CCDData | np.ndarray | u.Quantity,
    detector: str | Detector = "lacosmic",
    *,
    inpaint: bool = True,
    grow: int = 0,
    background=None,
    **params: Any,
) -> CCDData:
    """Detect and clean cosmic rays, as `ccdproc.cosmicray_lacosmic` does.

    Parameters
    ----------
    ccd : `~astropy.nddata.CCDData`, numpy.ndarray or `~astropy.units.Quantity`
        2-D image in adu or electron. Its ``mask`` (bad pixels) is passed to
        the detector as the input mask; those pixels are never reported as
        cosmic rays. A plain array (or a masked array) is taken in adu, as
        astroscrappy takes its ``indat``: give ``gain`` and ``readnoise``
        (``gain=1`` for an array in electrons); the result is then the one
        for ``CCDData(array, unit="adu")``. A Quantity keeps its unit.
    detector : str or `~crmask.Detector`
        A registered detector name (see `crmask.list_detectors`) or a
        configured instance.
    inpaint : bool
        Replace cosmic-ray pixels (by the detector's own cleaning, or by the
        median of clean neighbours); with `False` the data are returned
        unchanged and only the mask is set.
    grow : int
        Dilate the cosmic-ray mask by a disc of this radius in pixels.
    background : array-like, `~astropy.units.Quantity` or `~astropy.nddata.NDData`, optional
        Background (sky) model of the image's shape, in the image unit, for
        detectors that use one (``lacosmic``: astroscrappy's ``inbkg``); see
        `crmask.Detector.detect`.
    **params
        Detector parameters, e.g. ``sigclip=5``, ``gain=1.9``,
        ``readnoise=5.0``. Not allowed together with a detector instance.

    Returns
    -------
    `~astropy.nddata.CCDData`
        A copy of ``ccd`` with CR pixels OR'ed into ``mask``, data cleaned
        (unless ``inpaint=False``), unit, uncertainty, WCS and header kept,
        and the provenance (``CRMDET``, ``CRMVER``, ``CRMNPIX``, ``HISTORY``)
        added to the header. For a detector with a probability map (the
        U-Nets), ``flags`` is an `~astropy.nddata.FlagCollection` holding
        it, float32 in [0, 1], as ``flags["CRPROB"]`` (added to the input's
        own `~astropy.nddata.FlagCollection` if it has one; an input whose
        ``flags`` is a plain array keeps it, and the map is not kept). A
        CCDData also for an array input: one return type, so that the mask,
        the cleaned pixels and the provenance travel together and a pipeline
        never branches on what it was given; for an array,
        ``(result.mask, result.data)`` is astroscrappy's ``(crmask, cleanarr)``
        pair.

    Examples
    --------
    >>> import crmask
    >>> clean = crmask.cosmicray_clean(ccd, detector="lacosmic", sigclip=5)  # doctest: +SKIP
    >>> clean.header["CRMNPIX"]  # doctest: +SKIP
    >>> prob = crmask.cosmicray_clean(ccd, detector="deepcr").flags["CRPROB"]  # doctest: +SKIP
    >>> result = crmask.cosmicray_clean(array, gain=2.45, readnoise=5.7)  # doctest: +SKIP
    >>> crmask, cleaned = result.mask, result.data  # doctest: +SKIP
    """
    if isinstance(ccd, u.Quantity):
        ccd = CCDData(ccd.value, unit=ccd.unit)
    elif isinstance(ccd, np.ndarray):
        ccd = CCDData(ccd, unit=u.adu)
    return _clean(ccd, detector, params, inpaint=inpaint, grow=grow, background=background).ccd


class _Cleaned(NamedTuple):
    """What `_clean` made: the image `cosmicray_clean` returns, and what `~crmask.files.clean_file` adds."""

    ccd: CCDData
    crmask: np.ndarray
    probability: np.ndarray | None
    n_cr_pixels: int


def _clean(
    ccd: CCDData, detector: str | Detector, params: dict[str, Any], *, inpaint: bool, grow: int, background=None
) -> _Cleaned:
    """Detect and clean: the one path of `cosmicray_clean` and `crmask.files.clean_file`.

    Everything the detection worked out (float pixels, bad pixels, header,
    calibration, cosmic-ray count) is taken from its `~crmask.MaskResult`,
    never worked out again. ``crmask`` is the cosmic-ray pixels alone
    (grown, without the input's bad pixels).
    """
    det = resolve(detector, "mask", params)
    if isinstance(grow, bool) or not isinstance(grow, (int, np.integer)) or grow < 0:
        raise ValueError(f"grow must be a non-negative integer number of pixels, got {grow!r}")
    grow = int(grow)

    result = det.detect(ccd, background=background)
    image = result.image
    if grow:
        crmask = grow_mask(result.mask, grow) & ~image.bad
        meta = {**result.meta, "n_cr_pixels": int(np.count_nonzero(crmask))}
    else:
        crmask, meta = result.mask, result.meta

    out = ccd.copy()
    if inpaint and meta["n_cr_pixels"]:
        if result.cleaned is not None and not grow:
            filled = result.cleaned
        else:
            filled = median_inpaint(image.data, crmask, image.bad)
        data = out.data.astype(image.data.dtype, copy=False)
        data[crmask] = filled[crmask]
        out.data = data
    # Non-finite pixels are masked, never propagated silently.
    out.mask = image.bad | crmask
    if result.probability is not None and (out.flags is None or isinstance(out.flags, FlagCollection)):
        flags = out.flags if out.flags is not None else FlagCollection(shape=out.shape)
        flags[CRPROB_EXTNAME] = np.asarray(result.probability, dtype=np.float32)
        out.flags = flags
    # The prepared header is this detection's own copy of the input's: the output takes it over.
    out.header = image.header
    write_provenance(out.header, meta, grow=grow)
    return _Cleaned(out, crmask, result.probability, meta["n_cr_pixels"])
