"""The detector interface every crmask plugin implements.

Two kinds of detector exist:

* `Detector` (``kind = "mask"``): an image in, a `MaskResult` out;
* `EventFilter` (``kind = "events"``): X-ray frames in, an event
  `~astropy.table.Table` out.

Both declare their parameters once, in the class attribute ``parameters``,
and validate them at construction, as scikit-learn estimators do.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

import astropy.units as u
import numpy as np
from astropy.nddata import CCDData
from astropy.table import Table

from .ccd import FrameStack, PreparedImage, prepare_frames, prepare_image
from .params import Param, validate_params

__all__ = ["MaskResult", "Detector", "EventFilter", "CALIBRATION_PARAMS", "EVENT_COLUMNS"]

#: Parameter names with a fixed meaning: a detector that declares them gets
#: them resolved against the header (explicit value > header keyword), with
#: Quantities converted by `crmask.ccd.prepare_image`.
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

#: Columns every event filter's table has.
EVENT_COLUMNS = ("FRAME", "X", "Y", "ENERGY", "GRADE", "P_CR", "CR_FLAG")


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
        Probability threshold that produced ``mask``.
    meta : dict
        Provenance: detector name and version, parameters, runtime in seconds
        and number of CR pixels.
    """

    mask: np.ndarray
    probability: np.ndarray | None = None
    cleaned: np.ndarray | None = None
    threshold: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_cr_pixels(self) -> int:
        """Number of pixels flagged as cosmic rays."""
        return int(np.count_nonzero(self.mask))


class _Configurable:
    """Parameter handling shared by `Detector` and `EventFilter`."""

    #: Registry name of the detector (set by subclasses).
    name: ClassVar[str] = ""
    #: ``"mask"`` or ``"events"``.
    kind: ClassVar[str] = ""
    #: One-line description shown by ``crmask list``.
    summary: ClassVar[str] = ""
    #: Importable modules the detector needs at run time (checked by ``crmask list``).
    requires: ClassVar[tuple[str, ...]] = ()
    #: Declared parameters, the single source of truth for validation and the CLI.
    parameters: ClassVar[Mapping[str, Param]] = {}

    def __init__(self, **params: Any) -> None:
        self._params = validate_params(self.name, dict(self.parameters), params)
        self._check_params()

    def get_params(self) -> dict[str, Any]:
        """Return the detector's parameters (every declared one, with defaults filled in)."""
        return dict(self._params)

    def set_params(self, **params: Any):
        """Change parameters, validating them as the constructor does; returns ``self``."""
        self._params = validate_params(self.name, dict(self.parameters), {**self._params, **params})
        self._check_params()
        return self

    def _check_params(self) -> None:
        """Check constraints between parameters; raise `ValueError` naming them."""

    @classmethod
    def version(cls) -> str:
        """Version of the distribution that provides this detector."""
        from .provenance import distribution_version

        return distribution_version(cls)

    def _provenance(self, runtime: float) -> dict[str, Any]:
        return {
            "detector": self.name,
            "version": self.version(),
            "params": self.get_params(),
            "runtime": runtime,
        }

    def __repr__(self) -> str:
        changed = {k: v for k, v in self._params.items() if v != self.parameters[k].default}
        args = ", ".join(f"{k}={v!r}" for k, v in changed.items())
        return f"{type(self).__name__}({args})"


class Detector(_Configurable, ABC):
    """Base class of image cosmic-ray detectors.

    Subclasses set `name`, `summary`, `parameters` (and `needs` when they
    must know the gain or read noise) and implement `_detect`. Declaring a
    parameter named ``gain``, ``readnoise`` or ``satlevel`` (see
    `CALIBRATION_PARAMS`) lets `detect` resolve it against the header.

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

    def detect(self, ccd: CCDData) -> MaskResult:
        """Find cosmic rays in ``ccd``.

        Parameters
        ----------
        ccd : `~astropy.nddata.CCDData`
            2-D image in adu or electron. Pixels set in ``ccd.mask``, and
            non-finite pixels, are treated as bad: they are given to the
            detector as its input mask and never reported as cosmic rays.

        Returns
        -------
        MaskResult
        """
        image = prepare_image(
            ccd,
            gain=self._params.get("gain"),
            readnoise=self._params.get("readnoise"),
            saturation=self._params.get("satlevel"),
            gain_key=self._params.get("gain_key"),
            readnoise_key=self._params.get("readnoise_key"),
            saturation_key=self._params.get("satlevel_key"),
            needs=self.needs,
        )
        start = time.perf_counter()
        result = self._detect(image)
        runtime = time.perf_counter() - start
        self._check_result(result, image)
        result.mask = result.mask & ~image.bad
        calibration = {"gain": image.gain, "readnoise": image.readnoise, "satlevel": image.saturation}
        result.meta = {
            **self._provenance(runtime),
            "calibration": calibration,
            **result.meta,
            "n_cr_pixels": result.n_cr_pixels,
        }
        return result

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


def _near_mask(events: Table, mask: np.ndarray) -> np.ndarray:
    """Whether each event's 3 x 3 window (centred on ``X``, ``Y`` of frame ``FRAME``) holds a masked pixel."""
    frame, y, x = (np.asarray(events[c], dtype=np.intp) for c in ("FRAME", "Y", "X"))
    _, ny, nx = mask.shape
    near = np.zeros(len(events), dtype=bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            yy, xx = y + dy, x + dx
            inside = (yy >= 0) & (yy < ny) & (xx >= 0) & (xx < nx)
            near[inside] |= mask[frame[inside], yy[inside], xx[inside]]
    return near


class EventFilter(_Configurable, ABC):
    """Base class of X-ray event filters.

    ``filter(frames)`` returns an `~astropy.table.Table` with at least the
    columns in `EVENT_COLUMNS`; ``P_CR`` is the cosmic-ray score (NaN for
    filters without one) and ``CR_FLAG`` the decision. Filters with a score
    declare a ``threshold`` parameter and `flag` re-applies a new threshold
    to an existing table without running the filter again.
    """

    kind: ClassVar[str] = "events"
    #: Units the frames may come in.
    accepted_units: ClassVar[tuple[u.UnitBase, ...]] = (u.electron, u.keV)

    def filter(self, frames) -> Table:
        """Find events in ``frames`` and flag the cosmic-ray ones.

        Parameters
        ----------
        frames : `~astropy.nddata.CCDData`, sequence of CCDData, or `~astropy.units.Quantity`
            One or more equally shaped frames in one of `accepted_units`.
            Pixels in a CCDData's ``mask`` count as empty, and events centred
            on or next to one are not reported: their energy and grade are
            unknown.

        Returns
        -------
        astropy.table.Table
        """
        stack = prepare_frames(frames, self.accepted_units)
        start = time.perf_counter()
        table = self._filter(stack)
        runtime = time.perf_counter() - start
        missing = [c for c in EVENT_COLUMNS if c not in table.colnames]
        if missing:
            raise ValueError(f"{self.name}: event table lacks required column(s) {missing}")
        if stack.mask is not None:
            table = table[~_near_mask(table, stack.mask)]
        table.meta.update(self._provenance(runtime))
        return table

    def flag(self, table: Table, threshold: float | None = None) -> Table:
        """Re-apply a CR probability threshold to an event table, without refiltering.

        Parameters
        ----------
        table : astropy.table.Table
            A table returned by `filter`.
        threshold : float, optional
            New threshold on ``P_CR``; default: the ``threshold`` parameter.

        Returns
        -------
        astropy.table.Table
            A copy of ``table`` with ``CR_FLAG`` recomputed.
        """
        if "threshold" not in self.parameters:
            raise ValueError(f"event filter {self.name!r} has no CR probability threshold to change")
        if threshold is None:
            threshold = self._params["threshold"]
        threshold = self.parameters["threshold"].validate("threshold", threshold)
        flagged = table.copy()
        flagged["CR_FLAG"] = np.asarray(flagged["P_CR"]) >= threshold
        flagged.meta["threshold"] = threshold
        return flagged

    @abstractmethod
    def _filter(self, frames: FrameStack) -> Table:
        """Build the event table from validated frames (implemented by subclasses)."""
