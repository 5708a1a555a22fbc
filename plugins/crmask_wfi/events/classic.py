"""The classic grade filter (Poliszczuk et al. 2024, §3.1), the baseline every WFI filter is compared with.

Event reconstruction (`crmask_wfi.events.reconstruct.reconstruct_events`), then three
cuts: the 3x3 shape must be a single, a non-diagonal double, an L-shaped
triple or a quad; a non-single must have no pixel above the split threshold
in the 5x5 ring around its 3x3 window; and the energy must be below the
minimum-ionising-particle (MIP) threshold. Events failing a cut are flagged
as cosmic rays. This is the "very faint" mode filtering of Suzaku XIS.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.table import Table

from crmask import EventFilter, Param
from crmask.events import FrameStack

from .reconstruct import EVENT_THRESHOLD_KEV, SPLIT_THRESHOLD_KEV, reconstruct_scaled
from ..sim.physics import KEV_PER_ELECTRON

__all__ = ["ClassicGradeFilter", "MIP_THRESHOLD_KEV", "apply_classic_cuts", "frames_in_kev", "kev_per_unit"]

#: Minimum-ionising-particle threshold (Poliszczuk et al. 2024, §3.1): events at or above it are rejected.
MIP_THRESHOLD_KEV = 10.0


def frames_in_kev(frames: FrameStack) -> np.ndarray:
    """Return a validated frame stack in keV (float32), converting electrons at 3.65 eV per pair."""
    return np.asarray(frames.data * kev_per_unit(frames), dtype=np.float32)


def kev_per_unit(frames: FrameStack) -> float:
    """keV per unit of a validated frame stack: 1 for keV, 3.65 eV per pair for electrons."""
    if frames.unit == u.keV:
        return 1.0
    if frames.unit == u.electron:
        return KEV_PER_ELECTRON
    raise ValueError(f"frames in {frames.unit} cannot be converted to keV; give electron or keV")


def apply_classic_cuts(events: Table, mip_threshold: float = MIP_THRESHOLD_KEV) -> Table:
    """Add the classic filter's decision to reconstructed events.

    Parameters
    ----------
    events : astropy.table.Table
        Output of `~crmask_wfi.events.reconstruct.reconstruct_events`.
    mip_threshold : float
        Events with ``ENERGY`` at or above this (keV) are rejected.

    Returns
    -------
    astropy.table.Table
        ``events`` with ``VALID`` (accepted shape, no ring rejection, energy
        below the MIP threshold), ``CR_FLAG`` (``~VALID``) and ``P_CR`` (NaN:
        the filter has no score). Modified in place and returned.
    """
    valid = (
        np.asarray(events["SHAPE_OK"])
        & ~np.asarray(events["RING_REJECT"])
        & (np.asarray(events["ENERGY"]) < mip_threshold)
    )
    events["VALID"] = valid
    events["P_CR"] = np.full(len(events), np.nan)
    events["CR_FLAG"] = ~valid
    events.meta["MIPTHRES"] = float(mip_threshold)
    return events


class ClassicGradeFilter(EventFilter):
    """Classic X-ray event grading: shapes, 5x5 ring and MIP threshold (Poliszczuk et al. 2024, §3.1).

    Frames may be in electrons (converted at 3.65 eV per pair) or keV. The
    output table has one row per 3x3 local maximum at or above the event
    threshold, with the columns of `~crmask_wfi.events.reconstruct.reconstruct_events`
    plus ``VALID``, ``CR_FLAG`` (``~VALID``) and ``P_CR`` (NaN).

    Examples
    --------
    >>> import astropy.units as u
    >>> from crmask_wfi.sim.simulate import simulate_frames
    >>> sim = simulate_frames(4, shape=(128, 128), seed=3)
    >>> events = ClassicGradeFilter().filter(sim.signal * u.electron)
    >>> {"FRAME", "X", "Y", "ENERGY", "GRADE", "VALID", "CR_FLAG"} <= set(events.colnames)
    True
    """

    name = "classic"
    summary = "Classic X-ray grade filter: 3x3 shapes, 5x5 ring, 10 keV MIP threshold (Poliszczuk et al. 2024, §3.1)"
    parameters = {
        "event_threshold": Param(EVENT_THRESHOLD_KEV, "Event threshold on the central pixel (keV)",
                                 low=0.0, low_open=True),
        "split_threshold": Param(SPLIT_THRESHOLD_KEV, "Split threshold for event pixels (keV)", low=0.0),
        "mip_threshold": Param(MIP_THRESHOLD_KEV, "Events at or above this energy are rejected (keV)",
                               low=0.0, low_open=True),
    }

    def _check_params(self) -> None:
        if self.params["split_threshold"] > self.params["event_threshold"]:
            raise ValueError(
                f"parameter 'split_threshold' ({self.params['split_threshold']}) must not exceed "
                f"'event_threshold' ({self.params['event_threshold']})"
            )

    def _filter(self, frames: FrameStack) -> Table:
        p = self.params
        events = reconstruct_scaled(
            frames.data, kev_per_unit(frames),
            event_threshold=p["event_threshold"], split_threshold=p["split_threshold"],
        )
        return apply_classic_cuts(events, p["mip_threshold"])
