"""Event-level metrics of X-ray event filters (seed 000 §3.4).

Cosmic rays are the positive class and X-rays the negative one; events
whose truth is read noise are left out. A flagged event (``CR_FLAG``) is a
predicted cosmic ray; everything else is the detected X-ray signal.

* recall = TP / (TP + FN): completeness of CR rejection;
* precision = TP / (TP + FP);
* F1 = 2 precision recall / (precision + recall);
* lost X-ray fraction = FPR = FP / (FP + TN);
* CR in detected signal = FOR = FN / (FN + TN), the unrejected background;
* FOR relative improvement = 1 - FOR(filter) / FOR(reference).

Metrics are computed in bands of reconstructed energy, ``low <= ENERGY <= high``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Mapping

import numpy as np
from astropy.table import Table

__all__ = [
    "BANDS_KEV",
    "EventMetrics",
    "event_metrics",
    "for_improvement",
    "metrics_table",
]

#: Energy bands of seed 000: the standard band and the 4-8 keV band.
BANDS_KEV = ((0.3, 10.0), (4.0, 8.0))


@dataclass(frozen=True)
class EventMetrics:
    """Confusion counts and rates of one filter in one energy band.

    Rates with an empty denominator are NaN.
    """

    band: tuple[float, float]
    n_cr: int
    n_xray: int
    tp: int
    fp: int
    tn: int
    fn: int

    @staticmethod
    def _ratio(num: int, den: int) -> float:
        return num / den if den else float("nan")

    @property
    def recall(self) -> float:
        """TP / (TP + FN): fraction of CR events rejected."""
        return self._ratio(self.tp, self.tp + self.fn)

    @property
    def precision(self) -> float:
        """TP / (TP + FP): fraction of rejected events that are CRs."""
        return self._ratio(self.tp, self.tp + self.fp)

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else float("nan")

    @property
    def lost_xray(self) -> float:
        """FP / (FP + TN): fraction of X-ray events rejected (false positive rate)."""
        return self._ratio(self.fp, self.fp + self.tn)

    @property
    def false_omission(self) -> float:
        """FN / (FN + TN): fraction of CRs in the accepted signal (FOR, unrejected background)."""
        return self._ratio(self.fn, self.fn + self.tn)

    def as_dict(self) -> dict:
        """Counts and rates as a flat dictionary."""
        out = asdict(self)
        out.update(recall=self.recall, precision=self.precision, f1=self.f1,
                   lost_xray=self.lost_xray, false_omission=self.false_omission)
        return out


def event_metrics(
    events: Table, band: tuple[float, float] = BANDS_KEV[0], flag_column: str = "CR_FLAG"
) -> EventMetrics:
    """Confusion counts of a filtered, truth-matched event table in one energy band.

    Parameters
    ----------
    events : astropy.table.Table
        Needs ``ENERGY``, ``TRUE_CLASS`` (`crmask_wfi.events.reconstruct.add_truth`) and
        ``flag_column``.
    band : (float, float)
        Reconstructed-energy band in keV, inclusive.
    flag_column : str
        Boolean column: True for events the filter rejects as cosmic rays.
    """
    for column in ("ENERGY", "TRUE_CLASS", flag_column):
        if column not in events.colnames:
            raise ValueError(
                f"event table lacks column {column!r} (add truth with crmask_wfi.events.reconstruct.add_truth)"
            )
    low, high = band
    if not low < high:
        raise ValueError(f"band must be (low, high) with low < high, got {band}")
    energy = np.asarray(events["ENERGY"], dtype=float)
    in_band = (energy >= low) & (energy <= high)
    truth = np.asarray(events["TRUE_CLASS"]).astype(str)
    flag = np.asarray(events[flag_column], dtype=bool)
    cr = in_band & (truth == "cr")
    xray = in_band & (truth == "xray")
    return EventMetrics(
        band=(float(low), float(high)),
        n_cr=int(cr.sum()),
        n_xray=int(xray.sum()),
        tp=int((cr & flag).sum()),
        fp=int((xray & flag).sum()),
        tn=int((xray & ~flag).sum()),
        fn=int((cr & ~flag).sum()),
    )


def for_improvement(metrics: EventMetrics, reference: EventMetrics) -> float:
    """FOR relative improvement over a reference filter: 1 - FOR / FOR_ref (NaN if FOR_ref is 0)."""
    ref = reference.false_omission
    if not ref > 0:
        return float("nan")
    return 1.0 - metrics.false_omission / ref


def metrics_table(
    results: Mapping[str, Table],
    bands=BANDS_KEV,
    reference: str | None = "classic",
) -> Table:
    """Metric table of several filters (rows: filter x band), rates in percent.

    Parameters
    ----------
    results : mapping of str to Table
        Truth-matched event tables by filter name.
    bands : sequence of (low, high)
        Energy bands in keV.
    reference : str, optional
        Filter whose FOR the ``FOR_IMPROVEMENT`` column refers to (NaN when
        it is not among ``results``).
    """
    rows = []
    for band in bands:
        ref = event_metrics(results[reference], band) if reference in results else None
        for name, events in results.items():
            m = event_metrics(events, band)
            rows.append(
                {
                    "FILTER": name,
                    "BAND": f"{band[0]:g}-{band[1]:g} keV",
                    "N_XRAY": m.n_xray,
                    "N_CR": m.n_cr,
                    "RECALL": 100 * m.recall,
                    "PRECISION": 100 * m.precision,
                    "F1": 100 * m.f1,
                    "LOST_XRAY": 100 * m.lost_xray,
                    "FOR": 100 * m.false_omission,
                    "FOR_IMPROVEMENT": 100 * for_improvement(m, ref) if ref is not None else np.nan,
                }
            )
    table = Table(rows=rows)
    for column in ("RECALL", "PRECISION", "F1", "LOST_XRAY", "FOR", "FOR_IMPROVEMENT"):
        table[column].format = ".2f"
        table[column].unit = "%"
    return table
