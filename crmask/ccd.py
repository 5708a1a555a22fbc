"""Adaptors between `~astropy.nddata.CCDData` and the arrays detectors work on.

This module owns every decision about units and calibration, so that no
detector has to make them again:

* gain, read noise and saturation come from an explicit value (a number or
  an `~astropy.units.Quantity`, converted here and nowhere else), else from
  the header (``GAIN``; ``RDNOISE`` or ``READNOIS``; ``SATURATE``; or the
  keyword the user names, as ccdproc's ``Keyword`` does), else a
  `~crmask.exceptions.MissingCalibrationError` says which one is missing;
* an image in electrons has an effective gain of 1 and is never multiplied by
  the gain again; only ``adu`` (or ``count``) and ``electron`` images are
  accepted;
* integer, big-endian and masked input become a native-endian float array,
  with non-finite pixels added to the bad-pixel mask;
* a background (sky) model comes in the image unit, and the variance from
  ``ccd.uncertainty`` in the image unit squared, for the detectors that use
  them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable

import astropy.units as u
import numpy as np
from astropy.io.fits import Header
from astropy.nddata import (
    CCDData,
    InverseVariance,
    NDData,
    NDUncertainty,
    StdDevUncertainty,
    VarianceUncertainty,
)

from ._deprecation import deprecated_module_attributes, renamed_keywords, renamed_property
from .exceptions import InvalidImageError, MissingCalibrationError

__all__ = [
    "PreparedImage",
    "prepare_image",
    "input_bad_pixels",
    "pixel_noise",
    "background_noise",
    "header_from_meta",
    "image_unit_kind",
    "GAIN_KEYS",
    "READNOISE_KEYS",
    "SATLEVEL_KEYS",
]

#: Header keywords searched, in order, for each calibration value.
GAIN_KEYS = ("GAIN", "EGAIN", "EPERDN")
READNOISE_KEYS = ("RDNOISE", "READNOIS", "RON")
SATLEVEL_KEYS = ("SATURATE", "SATLEVEL")

_COUNT_UNITS = (u.adu, u.count)
_ELECTRON_UNITS = (u.electron,)


@dataclass(frozen=True)
class PreparedImage:
    """A validated 2-D image ready for a detector.

    Attributes
    ----------
    data : numpy.ndarray
        Native-endian floating-point pixels in the image's own unit; pixels
        that were not finite are replaced by the median of the finite ones.
    bad : numpy.ndarray
        Boolean mask of pixels to ignore: the input mask and non-finite pixels.
    unit : astropy.units.UnitBase
        ``adu`` (or ``count``) or ``electron``.
    gain : float or None
        Electrons per data unit; exactly 1 for images in electrons, `None`
        when the detector did not ask for it and the header has none.
    readnoise : float or None
        Read noise in electrons, `None` when not needed and not known.
    satlevel : float or None
        Saturation level in the data unit, `None` when not known. (The
        former name ``saturation`` still works, deprecated.)
    header : astropy.io.fits.Header
        The image header (a copy).
    background : numpy.ndarray or None
        Background (sky) model in the data unit, when one was given; bad
        pixels hold the median of the good ones.
    uncertainty : astropy.nddata.NDUncertainty or None
        The image's ``uncertainty`` (not copied); `variance` converts it.
    """

    data: np.ndarray
    bad: np.ndarray
    unit: u.UnitBase
    gain: float | None
    readnoise: float | None
    satlevel: float | None
    header: Header = field(repr=False)
    background: np.ndarray | None = field(default=None, repr=False)
    uncertainty: NDUncertainty | None = field(default=None, repr=False)

    saturation = renamed_property("saturation", "satlevel")

    @property
    def shape(self) -> tuple[int, int]:
        """Shape of the image, ``(ny, nx)``."""
        return self.data.shape  # type: ignore[return-value]

    @property
    def in_electrons(self) -> np.ndarray:
        """The pixels converted to electrons (needs a known gain), in float64 so that no value overflows."""
        if self.gain is None:
            raise MissingCalibrationError(_missing_message("gain", GAIN_KEYS))
        return np.multiply(self.data, self.gain, dtype=np.float64)

    def variance(self) -> np.ndarray | None:
        """Per-pixel variance in the data unit squared, from `uncertainty`; `None` without one.

        A `~astropy.nddata.VarianceUncertainty` is taken as it is, a
        `~astropy.nddata.StdDevUncertainty` squared and an
        `~astropy.nddata.InverseVariance` inverted (converted to the data
        unit squared where they carry a unit). Bad pixels hold the median of
        the good ones. Computed on each call, for the detectors that use it.

        Raises
        ------
        InvalidImageError
            For another kind of uncertainty, a unit that does not match the
            image's, or a non-finite or non-positive variance at a good pixel.
        """
        if self.uncertainty is None:
            return None
        name = type(self.uncertainty).__name__
        if not isinstance(self.uncertainty, (StdDevUncertainty, VarianceUncertainty, InverseVariance)):
            raise InvalidImageError(
                f"uncertainty of type {name} gives no variance; use StdDevUncertainty, VarianceUncertainty "
                "or InverseVariance"
            )
        try:
            with np.errstate(divide="ignore"):  # an inverse variance of 0 is refused below, by name
                variance = self.uncertainty.represent_as(VarianceUncertainty)
            values = variance.array if variance.unit is None else variance.quantity.to_value(self.unit**2)
        except u.UnitConversionError:
            raise InvalidImageError(
                f"uncertainty ({name}) has unit {self.uncertainty.unit}, which does not match the image unit "
                f"{self.unit}"
            ) from None
        return _fill_bad(_float_array(values, "uncertainty"), self.bad, f"uncertainty ({name})", positive=True)


def _missing_message(what: str, keys: Iterable[str]) -> str:
    names = "/".join(keys)
    return (
        f"{what} is not known: pass {what}=... explicitly or add a {names} keyword to the header"
    )


def _keys(user_key: str | None, defaults: tuple[str, ...]) -> tuple[str, ...]:
    """The header keywords to search: the one the user named, else the defaults."""
    return defaults if user_key is None else (user_key.upper(),)


def _header_value(header: Header, keys: Iterable[str], what: str) -> float | None:
    for key in keys:
        if key in header:
            value = header[key]
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise MissingCalibrationError(
                    f"header keyword {key}={value!r} is not a number, so the {what} is unknown"
                ) from None
            if not math.isfinite(number) or number <= 0:
                raise MissingCalibrationError(
                    f"header keyword {key}={value!r} is not a positive {what}"
                )
            return number
    return None


def _as_float(value, unit: u.UnitBase, what: str) -> float:
    """Return a positive float from a number or Quantity, converted to ``unit``."""
    if isinstance(value, u.Quantity):
        try:
            value = value.to_value(unit)
        except u.UnitConversionError:
            raise InvalidImageError(f"{what} has unit {value.unit}, which cannot be converted to {unit}") from None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidImageError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number) or number <= 0:
        raise InvalidImageError(f"{what} must be a positive finite number, got {value!r}")
    return number


def image_unit_kind(unit: u.UnitBase | None) -> str:
    """Classify ``unit`` as ``"counts"`` or ``"electrons"``, or raise.

    Raises
    ------
    InvalidImageError
        If the unit is neither a count unit (adu, count) nor electron.
    """
    if unit is None:
        raise InvalidImageError("image has no unit; set CCDData.unit to 'adu' or 'electron'")
    if any(unit == ok for ok in _COUNT_UNITS):
        return "counts"
    if any(unit == ok for ok in _ELECTRON_UNITS):
        return "electrons"
    raise InvalidImageError(
        f"image unit {unit} is not supported: cosmic-ray detection needs counts, so use 'adu' "
        "or 'electron' (multiply rates by the exposure time first)"
    )


def _float_array(data: np.ndarray, what: str = "image", copy: bool = True) -> np.ndarray:
    """Return ``data`` as a native-endian float array.

    With ``copy=False`` an array that is already native-endian floating point
    is returned as is (read-only use only).
    """
    array = np.asanyarray(data)
    if isinstance(array, np.ma.MaskedArray):
        array = array.filled(np.nan).astype(np.result_type(array.dtype, np.float32))
    array = np.asarray(array)
    if array.dtype.kind == "b" or array.dtype.kind not in "uif":
        raise InvalidImageError(
            f"{what} data has dtype {array.dtype}; a numeric (integer or float) array is needed"
        )
    dtype = np.result_type(array.dtype, np.float32).newbyteorder("=")
    return np.array(array, dtype=dtype, copy=True) if copy else np.asarray(array, dtype=dtype)


def pixel_noise(image: np.ndarray, good: np.ndarray, stride: int = 1) -> float:
    """Robust per-pixel noise of an image, in its own unit.

    The median absolute deviation (`~astropy.stats.mad_std`) of differences
    between horizontally adjacent good pixels, divided by sqrt(2), on every
    ``stride``-th row. Differences cancel smooth structure (sky gradients,
    galaxies, spectral traces and orders), and the median ignores the few
    pixels on edges of stars, lines and cosmic rays, so the result is the
    noise of a pixel, read noise included, not the spread of the scene.

    Parameters
    ----------
    image : numpy.ndarray
        2-D image.
    good : numpy.ndarray
        Boolean mask of the pixels to use.
    stride : int
        Use every ``stride``-th row.

    Returns
    -------
    float
        The noise; 0 when no two adjacent pixels are good.
    """
    from astropy.stats import mad_std

    rows, ok = image[::stride], good[::stride]
    pairs = ok[:, 1:] & ok[:, :-1]
    differences = np.diff(rows.astype(np.float64, copy=False), axis=1)[pairs]
    return float(mad_std(differences)) / np.sqrt(2.0) if differences.size else 0.0


def background_noise(electrons: np.ndarray, good: np.ndarray, stride: int = 4) -> float:
    """Robust per-pixel noise of an image's background, in electrons (`pixel_noise`), at least one.

    The noise of the sky, read noise included, whatever its origin
    (detector, stacking or resampling), on every ``stride``-th row. One
    electron at least, so that noise units stay finite on noiseless images.
    """
    sigma = pixel_noise(electrons, good, stride)
    return max(sigma, 1.0) if np.isfinite(sigma) else 1.0


def _fill_bad(values: np.ndarray, bad: np.ndarray, what: str, positive: bool = False) -> np.ndarray:
    """``values`` with bad pixels set to the median of the good ones; refuse a non-finite (or, with
    ``positive``, a non-positive) good pixel."""
    good = ~bad
    wrong = ~np.isfinite(values) | (values <= 0 if positive else False)
    count = int(np.count_nonzero(wrong & good))
    if count:
        kind = "non-finite or non-positive" if positive else "non-finite"
        raise InvalidImageError(f"{what} has {count} {kind} values at unmasked pixels; mask them or fix the {what}")
    values[bad] = np.median(values[good])
    return values


def _background_array(background, unit: u.UnitBase, shape: tuple[int, ...], bad: np.ndarray) -> np.ndarray:
    """A background model (array in the image unit, Quantity, or NDData with a unit) in the image unit."""
    if isinstance(background, NDData):
        given_unit = background.unit if background.unit is not None else unit
        background = u.Quantity(background.data, given_unit)
    if isinstance(background, u.Quantity):
        try:
            background = background.to_value(unit)
        except u.UnitConversionError:
            raise InvalidImageError(
                f"background has unit {background.unit}, which cannot be converted to the image unit {unit}"
            ) from None
    values = _float_array(background, "background")
    if values.shape != shape:
        raise InvalidImageError(f"background shape {values.shape} does not match image shape {shape}")
    return _fill_bad(values, bad, "background")


def header_from_meta(meta) -> Header:
    """Return a FITS header built from ``CCDData.meta`` (a Header or any dict).

    ccdproc steps leave ``meta`` as a plain dict whose values may be
    ``(value, comment)`` pairs; each item is assigned as `CCDData.to_hdu`
    does, so both forms work.
    """
    if isinstance(meta, Header):
        return meta.copy()
    header = Header()
    for key, value in (meta or {}).items():
        try:
            header[key] = value
        except (ValueError, TypeError) as exc:
            raise InvalidImageError(f"header keyword {key!r} has a value FITS cannot hold: {value!r} ({exc})") from None
    return header


def input_bad_pixels(ccd: CCDData) -> np.ndarray:
    """Pixels of ``ccd`` that are masked or not finite: never cosmic rays.

    The rule `prepare_image` applies (`PreparedImage.bad`); a detection
    carries the mask it used as ``MaskResult.image.bad``.

    Raises
    ------
    InvalidImageError
        For data that is not numeric, or a mask of another shape.
    """
    return _bad_pixels(np.isfinite(_float_array(ccd.data, copy=False)), ccd.mask)


def _bad_pixels(finite: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """The pixels to ignore: those not ``finite`` and those set in ``mask`` (of the same shape, checked)."""
    bad = ~finite
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != bad.shape:
            raise InvalidImageError(f"mask shape {mask.shape} does not match image shape {bad.shape}")
        bad |= mask.astype(bool)
    return bad


@renamed_keywords(saturation="satlevel", saturation_key="satlevel_key")
def prepare_image(
    ccd: CCDData,
    *,
    gain=None,
    readnoise=None,
    satlevel=None,
    gain_key: str | None = None,
    readnoise_key: str | None = None,
    satlevel_key: str | None = None,
    needs: Iterable[str] = (),
    background=None,
) -> PreparedImage:
    """Validate ``ccd`` and resolve its calibration values.

    Parameters
    ----------
    ccd : `~astropy.nddata.CCDData`
        A 2-D image in ``adu`` (or ``count``) or ``electron``. Its ``mask``
        marks bad pixels, which are never reported as cosmic rays.
    gain : float or `~astropy.units.Quantity`, optional
        Electrons per adu (a Quantity in ``electron / adu``, e.g.
        ``2.45 * u.electron / u.adu``). Overrides the header. Ignored (taken
        as 1) for an image already in electrons.
    readnoise : float or `~astropy.units.Quantity`, optional
        Read noise: a number in electrons, or a Quantity in electrons or in
        adu (converted with the gain; for an image in adu only). Overrides
        the header.
    satlevel : float or `~astropy.units.Quantity`, optional
        Saturation level: a number in the image unit, or a Quantity in adu
        or electrons (electrons are divided by the gain for an image in adu;
        adu are refused for an image in electrons, whose gain is not known).
        Overrides the header. The former spelling ``saturation`` still
        works (deprecated).
    gain_key, readnoise_key, satlevel_key : str, optional
        Header keyword holding that value, instead of the usual ones
        (`GAIN_KEYS`, `READNOISE_KEYS`, `SATLEVEL_KEYS`); a header without
        it is treated as one without a value. (``saturation_key``: the
        former spelling of ``satlevel_key``, deprecated.)
    needs : iterable of str
        Which of ``"gain"`` and ``"readnoise"`` must be known; a missing one
        raises `~crmask.exceptions.MissingCalibrationError`.
    background : array-like, `~astropy.units.Quantity` or `~astropy.nddata.NDData`, optional
        Background (sky) model of the image's shape: an array in the image
        unit, or a Quantity or NDData (e.g. CCDData) in a unit convertible
        to it (an NDData without a unit is in the image unit).

    Returns
    -------
    PreparedImage

    Raises
    ------
    InvalidImageError
        For data that is not 2-D, not numeric, all non-finite, constant, or in
        an unsupported unit, a mask, uncertainty or background of another
        shape, a calibration Quantity of the wrong physical type, or a
        background in a unit that does not convert to the image's or with a
        non-finite value at an unmasked pixel.
    MissingCalibrationError
        For a needed calibration value that is neither given nor in the header.

    Examples
    --------
    >>> import astropy.units as u
    >>> image = prepare_image(ccd, gain=2.45 * u.electron / u.adu, readnoise=5.7 * u.electron,
    ...                       satlevel=60000 * u.adu)  # doctest: +SKIP
    >>> image = prepare_image(ccd, gain_key="EGAIN", needs=("gain",))  # doctest: +SKIP
    """
    if not isinstance(ccd, CCDData):
        raise InvalidImageError(
            f"expected an astropy.nddata.CCDData, got {type(ccd).__name__}; "
            "wrap arrays as CCDData(data, unit='adu')"
        )
    kind = image_unit_kind(ccd.unit)
    raw = np.asanyarray(ccd.data)
    if raw.ndim != 2:
        raise InvalidImageError(f"image must be 2-D, got {raw.ndim}-D data of shape {raw.shape}")
    if min(raw.shape) < 3:
        raise InvalidImageError(f"image of shape {raw.shape} is too small: at least 3x3 pixels needed")
    data = _float_array(raw)
    finite = np.isfinite(data)
    bad = _bad_pixels(finite, ccd.mask)
    if ccd.uncertainty is not None and np.shape(ccd.uncertainty.array) != data.shape:
        raise InvalidImageError(
            f"uncertainty shape {np.shape(ccd.uncertainty.array)} does not match image shape {data.shape}"
        )
    good_values = data[~bad]
    if good_values.size == 0:
        raise InvalidImageError("image has no finite, unmasked pixels")
    if np.all(good_values == good_values[0]):
        raise InvalidImageError(
            f"image is constant (every good pixel is {float(good_values[0])!r}): nothing to detect; "
            "is this the right HDU?"
        )
    if not finite.all():
        data[~finite] = np.median(data[finite])
    background_values = None if background is None else _background_array(background, ccd.unit, data.shape, bad)

    header = header_from_meta(ccd.header)
    needs = set(needs)
    unknown_needs = needs - {"gain", "readnoise"}
    if unknown_needs:
        raise ValueError(f"unknown calibration need(s): {sorted(unknown_needs)}")

    gain_value = _resolve_gain(kind, gain, header, _keys(gain_key, GAIN_KEYS), "gain" in needs)
    readnoise_value = _resolve_readnoise(readnoise, header, _keys(readnoise_key, READNOISE_KEYS), gain_value,
                                         kind, "readnoise" in needs)
    if satlevel is not None:
        satlevel_value = _in_image_unit(satlevel, "satlevel", ccd.unit, kind, gain_value)
    else:
        satlevel_value = _header_value(header, _keys(satlevel_key, SATLEVEL_KEYS), "saturation level")

    return PreparedImage(
        data=data,
        bad=bad,
        unit=ccd.unit,
        gain=gain_value,
        readnoise=readnoise_value,
        satlevel=satlevel_value,
        header=header,
        background=background_values,
        uncertainty=ccd.uncertainty,
    )


def _resolve_gain(kind: str, gain, header: Header, keys: tuple[str, ...], needed: bool) -> float | None:
    if kind == "electrons":
        # Already in electrons: multiplying by the gain again would be wrong.
        if gain is not None:
            given = _as_float(gain, u.electron / u.adu, "gain")
            if given != 1.0:
                raise InvalidImageError(
                    f"image is already in electrons but gain={given} was given; "
                    "pass the image in adu, or leave the gain out"
                )
        return 1.0
    if gain is not None:
        return _as_float(gain, u.electron / u.adu, "gain")
    value = _header_value(header, keys, "gain")
    if value is None and needed:
        raise MissingCalibrationError(_missing_message("gain", keys))
    return value


def _gain_for(what: str, value: u.Quantity, kind: str, gain: float | None) -> float:
    """The gain that converts ``value`` (a Quantity in counts or electrons) to the other unit."""
    if kind == "electrons":
        raise InvalidImageError(
            f"{what} is given in {value.unit} but the image is in electrons, whose gain is not known here; "
            "give it in electrons"
        )
    if gain is None:
        raise MissingCalibrationError(f"{what} is given in {value.unit} but the gain is unknown; give the gain too")
    return gain


def _resolve_readnoise(readnoise, header: Header, keys: tuple[str, ...], gain: float | None, kind: str,
                       needed: bool) -> float | None:
    if readnoise is not None:
        if isinstance(readnoise, u.Quantity) and any(readnoise.unit == c for c in _COUNT_UNITS):
            electrons = readnoise.value * _gain_for("readnoise", readnoise, kind, gain)
            return _as_float(electrons, u.electron, "readnoise")
        return _as_float(readnoise, u.electron, "readnoise")
    value = _header_value(header, keys, "read noise")
    if value is None and needed:
        raise MissingCalibrationError(_missing_message("readnoise", keys))
    return value


def _in_image_unit(value, what: str, unit: u.UnitBase, kind: str, gain: float | None) -> float:
    """``value`` in the image unit: a number as it is, a Quantity in electrons divided by the gain for adu."""
    if isinstance(value, u.Quantity) and kind == "counts" and value.unit == u.electron:
        return _as_float(value.value / _gain_for(what, value, kind, gain), unit, what)
    return _as_float(value, unit, what)


_renamed = deprecated_module_attributes(__name__, renamed={"SATURATION_KEYS": "SATLEVEL_KEYS"})


def __getattr__(name: str):
    # The X-ray frame types moved to crmask.events; their old import path keeps working.
    if name in ("FrameStack", "prepare_frames"):
        from . import events

        return getattr(events, name)
    return _renamed(name)
