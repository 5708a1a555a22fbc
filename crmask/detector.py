"""The image-detector interface: `Detector` (an image in, a `MaskResult` out).

Detectors declare their parameters once, in the class attribute
``parameters`` (checked when the class is made, see
`crmask.params.Configurable`), and validate them at construction, as
scikit-learn estimators do. X-ray event filters, the other kind a plugin can
register, live in `crmask.events`.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import astropy.units as u
import numpy as np
from astropy.nddata import CCDData

from .ccd import PreparedImage, prepare_image
from .exceptions import PluginError
from .params import Configurable, Param

__all__ = ["MaskResult", "Detector", "CALIBRATION_PARAMS"]

#: Parameter names with a fixed meaning, resolved against the header
#: (explicit value > header keyword, or the keyword named by ``*_key``), with
#: Quantities converted by `crmask.ccd.prepare_image`. A detector that
#: ``needs`` gain or read noise gets the matching one without declaring it;
#: ``satlevel`` is declared by detectors that use the saturation level.
CALIBRATION_PARAMS = {
    "gain": Param(None, "Gain in electron/adu (a number or a Quantity); default: the gain keyword "
                  "(ignored for images in electrons)",
                  low=0.0, low_open=True, allow_none=True, units=(u.electron / u.adu,)),
    "readnoise": Param(None, "Read noise in electrons (a number, or a Quantity in electron or adu); "
                       "default: the read-noise keyword",
                       low=0.0, low_open=True, allow_none=True, units=(u.electron, u.adu)),
    "satlevel": Param(None, "Saturation level in the image unit (a number, or a Quantity in adu or electron); "
                      "default: the saturation keyword",
                      low=0.0, low_open=True, allow_none=True, units=(u.adu, u.electron)),
    "gain_key": Param(None, "Header keyword holding the gain; default: GAIN, EGAIN or EPERDN",
                      type=str, allow_none=True),
    "readnoise_key": Param(None, "Header keyword holding the read noise (electrons); default: RDNOISE, "
                           "READNOIS or RON", type=str, allow_none=True),
    "satlevel_key": Param(None, "Header keyword holding the saturation level (image unit); default: SATURATE "
                          "or SATLEVEL", type=str, allow_none=True),
}


#: Calibration values a detector can list in ``needs``.
_NEEDABLE = frozenset({"gain", "readnoise"})
#: Per-pixel inputs besides the image a detector can list in ``inputs``.
_INPUTS = frozenset({"background"})


@dataclass
class MaskResult:
    """What an image detector returns.

    Attributes
    ----------
    mask : numpy.ndarray
        Boolean cosmic-ray mask with the image's shape.
    probability : numpy.ndarray or None
        Per-pixel CR probability (float32, in [0, 1]) for detectors that have
        one; `None` otherwise.
    cleaned : numpy.ndarray or None
        The image with CR pixels replaced, in the input unit, when the
        detector cleans; `None` otherwise.
    threshold : float or None
        Probability threshold that produced ``mask``: the one place a
        detector records it (`Detector.detect` copies it into ``meta``).
    meta : dict
        Provenance: detector name and version, parameters, runtime in
        seconds, the calibration used (``meta["calibration"]``), the
        threshold and the number of CR pixels.
    image : `~crmask.PreparedImage` or None
        The validated image the detection ran on, set by `Detector.detect`:
        its float pixels, its bad pixels (``image.bad``, never in ``mask``),
        its calibration (``image.gain``, ``image.readnoise``,
        ``image.satlevel``) and its header. Cleaning uses these instead of
        working them out again. `None` for a result made outside
        `Detector.detect`.
    """

    mask: np.ndarray
    probability: np.ndarray | None = None
    cleaned: np.ndarray | None = None
    threshold: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    image: PreparedImage | None = field(default=None, repr=False)

    @property
    def n_cr_pixels(self) -> int:
        """Number of pixels flagged as cosmic rays."""
        return int(np.count_nonzero(self.mask))


class Detector(Configurable, ABC):
    """Base class of image cosmic-ray detectors.

    Subclasses set `name`, `summary`, `parameters` (and `needs` when they
    must know the gain or read noise, and `inputs` when they use a
    background model) and implement `_detect`, reading their parameter
    values from ``self.params``. Each name in `needs` adds the
    matching calibration parameter (``gain``, ``readnoise``, see
    `CALIBRATION_PARAMS`) to ``parameters`` when the class is made, so users
    can pass it and `detect` resolves it against the header; declaring
    ``satlevel`` does the same for the saturation level.

    Examples
    --------
    >>> import crmask
    >>> det = crmask.get_detector("lacosmic", sigclip=5.0)  # doctest: +SKIP
    >>> result = det.detect(ccd)  # doctest: +SKIP
    >>> result.mask.sum()  # doctest: +SKIP
    """

    kind: ClassVar[str] = "mask"
    #: Calibration values that must be known: any of ``"gain"``, ``"readnoise"``.
    needs: ClassVar[tuple[str, ...]] = ()
    #: Per-pixel inputs given to `detect` besides the image that the detector uses: ``"background"``
    #: (a sky model, found in ``PreparedImage.background``).
    inputs: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        unknown = sorted(set(cls.needs) - _NEEDABLE)
        if unknown:
            raise PluginError(
                f"{cls.__qualname__}: needs {unknown}, but only {sorted(_NEEDABLE)} can be needed"
            )
        unknown = sorted(set(cls.inputs) - _INPUTS)
        if unknown:
            raise PluginError(f"{cls.__qualname__}: inputs {unknown}, but only {sorted(_INPUTS)} can be used")
        missing = {key: CALIBRATION_PARAMS[key] for key in cls.needs if key not in cls.parameters}
        if missing:
            cls.parameters = {**cls.parameters, **missing}
        super().__init_subclass__(**kwargs)

    def fingerprint(self) -> str:
        """What the detector computes with beyond its parameters, as a short string.

        A detector whose results depend on more than its parameters (a
        weights file that can be retrained under the same name, say)
        overrides this, so that `crmask bench` does not reuse results stored
        under another fingerprint. The default is empty: the parameters say
        it all.
        """
        return ""

    def detect(self, ccd: CCDData, *, background=None) -> MaskResult:
        """Find cosmic rays in ``ccd``.

        Parameters
        ----------
        ccd : `~astropy.nddata.CCDData`
            2-D image in adu or electron. Pixels set in ``ccd.mask``, and
            non-finite pixels, are treated as bad: they are given to the
            detector as its input mask and never reported as cosmic rays.
            Detectors that use its ``uncertainty`` find it as
            ``PreparedImage.variance()``.
        background : array-like, `~astropy.units.Quantity` or `~astropy.nddata.NDData`, optional
            Background (sky) model of the image's shape, in the image unit
            (see `crmask.ccd.prepare_image`), for detectors whose `inputs`
            include ``"background"``.

        Returns
        -------
        MaskResult
            With ``image``, the validated image it was found on, and ``meta``
            holding the provenance.

        Raises
        ------
        ValueError
            If a background is given to a detector that does not use one.
        """
        if background is not None:
            self.check_background()
        image = prepare_image(
            ccd,
            gain=self.params.get("gain"),
            readnoise=self.params.get("readnoise"),
            satlevel=self.params.get("satlevel"),
            gain_key=self.params.get("gain_key"),
            readnoise_key=self.params.get("readnoise_key"),
            satlevel_key=self.params.get("satlevel_key"),
            needs=self.needs,
            background=background,
        )
        start = time.perf_counter()
        result = self._detect(image)
        runtime = time.perf_counter() - start
        self._check_result(result, image)
        result.mask = result.mask & ~image.bad
        result.image = image
        calibration = {"gain": image.gain, "readnoise": image.readnoise, "satlevel": image.satlevel}
        result.meta = {
            **self._provenance(runtime),
            "calibration": calibration,
            **result.meta,
            "n_cr_pixels": result.n_cr_pixels,
        }
        if result.threshold is not None:
            result.meta["threshold"] = result.threshold
        return result

    @classmethod
    def check_background(cls) -> None:
        """Refuse a background model for a detector that does not use one (before any work is done).

        Raises
        ------
        ValueError
            If ``"background"`` is not in `inputs`.
        """
        if "background" not in cls.inputs:
            raise ValueError(f"detector {cls.name!r} does not use a background model; leave the background out")

    @abstractmethod
    def _detect(self, image: PreparedImage) -> MaskResult:
        """Detect cosmic rays in a validated image (implemented by subclasses)."""

    def _check_result(self, result: MaskResult, image: PreparedImage) -> None:
        if not isinstance(result, MaskResult):
            raise TypeError(f"{self.name}: _detect must return a MaskResult, got {type(result).__name__}")
        for attr in ("mask", "probability", "cleaned"):
            value = getattr(result, attr)
            if value is not None and np.shape(value) != image.shape:
                raise ValueError(
                    f"{self.name}: result {attr} has shape {np.shape(value)}, image has {image.shape}"
                )
        result.mask = np.asarray(result.mask, dtype=bool)
        if "threshold" in result.meta and result.meta["threshold"] != result.threshold:
            raise PluginError(
                f"{self.name}: _detect put threshold {result.meta['threshold']!r} in meta but "
                f"MaskResult.threshold is {result.threshold!r}; set MaskResult.threshold only"
            )


def __getattr__(name: str):
    # The X-ray types moved to crmask.events; their old import path keeps working.
    if name in ("EventFilter", "EVENT_COLUMNS"):
        from . import events

        return getattr(events, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
