"""X-ray event filters: frames in, an event table out.

The types here are apart from the image core (`crmask.detector`,
`crmask.ccd`): an `EventFilter` takes a stack of X-ray frames
(`prepare_frames` makes the `FrameStack`) and returns an
`~astropy.table.Table` of events with at least the columns in
`EVENT_COLUMNS`. Plugins register event filters with the
``register_event_filters`` hook; `crmask.list_event_filters` lists them.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Iterable

import astropy.units as u
import numpy as np
from astropy.nddata import CCDData
from astropy.table import Table

from .ccd import _float_array
from .exceptions import InvalidImageError
from .params import Configurable

__all__ = ["EventFilter", "FrameStack", "prepare_frames", "EVENT_COLUMNS"]

#: Columns every event filter's table has.
EVENT_COLUMNS = ("FRAME", "X", "Y", "ENERGY", "GRADE", "P_CR", "CR_FLAG")


@dataclass(frozen=True)
class FrameStack:
    """A validated stack of equally shaped 2-D frames for an event filter.

    Attributes
    ----------
    data : numpy.ndarray
        Float array of shape ``(n_frames, ny, nx)``; it may share memory with
        the input frames, so filters must not write into it.
    unit : astropy.units.UnitBase
        Unit shared by every frame.
    mask : numpy.ndarray or None
        Boolean array of the shape of ``data``, true at masked pixels (from
        ``CCDData.mask``), or None when no frame has a mask. Masked pixels
        hold 0 in ``data``: their value is unknown, so they count as empty.
    """

    data: np.ndarray
    unit: u.UnitBase
    mask: np.ndarray | None = None

    def __len__(self) -> int:
        return self.data.shape[0]


def prepare_frames(frames, accepted_units: Iterable[u.UnitBase]) -> FrameStack:
    """Stack ``frames`` into a `FrameStack`, checking shapes and units.

    Parameters
    ----------
    frames : `~astropy.nddata.CCDData`, sequence of CCDData, or `~astropy.units.Quantity`
        One frame, several frames of one shape, or a 2-D/3-D Quantity.
    accepted_units : iterable of astropy units
        Units the filter can work in; the frames are converted to the first
        one they are equivalent to.

    Raises
    ------
    InvalidImageError
        For an empty sequence, mismatched shapes or units, non-numeric data or
        non-finite unmasked pixels.
    """
    accepted = list(accepted_units)
    if isinstance(frames, (CCDData, u.Quantity)):
        frames = [frames]
    frames = list(frames)
    if not frames:
        raise InvalidImageError("no frames given")
    arrays, masks = [], []
    units = set()
    for index, frame in enumerate(frames):
        mask = None
        if isinstance(frame, CCDData):
            array, unit, mask = frame.data, frame.unit, frame.mask
        elif isinstance(frame, u.Quantity):
            array, unit = frame.value, frame.unit
        else:
            raise InvalidImageError(
                f"frame {index} is a {type(frame).__name__}; give CCDData or a Quantity with a unit"
            )
        array = _float_array(array, what=f"frame {index}", copy=False)
        if array.ndim == 2:
            array = array[np.newaxis]
        if array.ndim != 3:
            raise InvalidImageError(f"frame {index} must be 2-D (or a 3-D stack), got {array.ndim}-D")
        if mask is not None:
            mask = np.asarray(mask, dtype=bool).reshape(array.shape)  # CCDData checked its shape
            if mask.any():
                array = np.where(mask, 0.0, array).astype(array.dtype, copy=False)
        finite = np.isfinite(array).reshape(len(array), -1).all(axis=1)
        if not finite.all():
            first = sum(len(a) for a in arrays) + int(np.argmin(finite))  # counted over the whole stack
            raise InvalidImageError(f"frame {first} has NaN or infinite pixels (outside its mask)")
        arrays.append(array)
        masks.append(mask)
        units.add(unit)
    shapes = {a.shape[1:] for a in arrays}
    if len(shapes) > 1:
        raise InvalidImageError(f"frames have different shapes: {sorted(shapes)}")
    if len(units) > 1:
        raise InvalidImageError(f"frames have different units: {sorted(map(str, units))}")
    unit = units.pop()
    if unit is None or not any(unit == ok for ok in accepted):
        allowed = ", ".join(str(a) for a in accepted)
        raise InvalidImageError(f"frame unit {unit} is not supported; use one of: {allowed}")
    data = arrays[0] if len(arrays) == 1 else np.concatenate(arrays, axis=0)
    mask = None
    if any(m is not None for m in masks):
        mask = np.concatenate([np.zeros(a.shape, bool) if m is None else m for a, m in zip(arrays, masks)])
    return FrameStack(data=data, unit=unit, mask=mask)


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


class EventFilter(Configurable, ABC):
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
            threshold = self.params["threshold"]
        threshold = self.parameters["threshold"].validate("threshold", threshold)
        flagged = table.copy()
        flagged["CR_FLAG"] = np.asarray(flagged["P_CR"]) >= threshold
        flagged.meta["threshold"] = threshold
        return flagged

    @abstractmethod
    def _filter(self, frames: FrameStack) -> Table:
        """Build the event table from validated frames (implemented by subclasses)."""
