"""Event-level metrics of X-ray event filters (Poliszczuk et al. 2024, §3.4).

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
Every rate has a 95% interval: Wilson's score interval (Wilson 1927, via
`astropy.stats.binom_conf_interval`) for the proportions, and a percentile
bootstrap of the events (Efron & Tibshirani 1993) for the FOR improvement,
paired when both tables hold the same events.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Mapping

import numpy as np
from astropy.stats import binom_conf_interval
from astropy.table import Table

__all__ = [
    "BANDS_KEV",
    "CONFIDENCE",
    "EventMetrics",
    "event_metrics",
    "for_improvement",
    "for_improvement_interval",
    "metrics_table",
    "wilson_interval",
]

#: Energy bands of Poliszczuk et al. (2024): the standard band and the 4-8 keV band.
BANDS_KEV = ((0.3, 10.0), (4.0, 8.0))
#: Confidence level of every interval.
CONFIDENCE = 0.95
#: Bootstrap resamples of the FOR improvement interval.
N_BOOTSTRAP = 10_000


def wilson_interval(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of the proportion ``k / n`` ((NaN, NaN) when ``n`` is 0)."""
    if n == 0:
        return float("nan"), float("nan")
    low, high = binom_conf_interval(k, n, confidence_level=confidence, interval="wilson")
    return float(low), float(high)


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

    @property
    def lost_xray_interval(self) -> tuple[float, float]:
        """95% Wilson interval of `lost_xray`."""
        return wilson_interval(self.fp, self.fp + self.tn)

    @property
    def false_omission_interval(self) -> tuple[float, float]:
        """95% Wilson interval of `false_omission`."""
        return wilson_interval(self.fn, self.fn + self.tn)

    def as_dict(self) -> dict:
        """Counts and rates (with the intervals of the lost X-ray fraction and FOR) as a flat dictionary."""
        out = asdict(self)
        out.update(recall=self.recall, precision=self.precision, f1=self.f1,
                   lost_xray=self.lost_xray, false_omission=self.false_omission,
                   lost_xray_interval=self.lost_xray_interval,
                   false_omission_interval=self.false_omission_interval)
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


def _accepted_class(events: Table, band: tuple[float, float], flag_column: str = "CR_FLAG") -> np.ndarray:
    """Per event: 0 an accepted CR (FN), 1 an accepted X-ray (TN), 2 anything else."""
    energy = np.asarray(events["ENERGY"], dtype=float)
    truth = np.asarray(events["TRUE_CLASS"]).astype(str)
    accepted = (energy >= band[0]) & (energy <= band[1]) & ~np.asarray(events[flag_column], dtype=bool)
    return np.where(accepted & (truth == "cr"), 0, np.where(accepted & (truth == "xray"), 1, 2))


def _same_events(a: Table, b: Table) -> bool:
    columns = ("FRAME", "X", "Y")
    if not all(c in a.colnames and c in b.colnames for c in columns):
        return False
    return len(a) == len(b) and all(np.array_equal(a[c], b[c]) for c in columns)


def for_improvement_interval(
    events: Table,
    reference: Table,
    band: tuple[float, float] = BANDS_KEV[0],
    confidence: float = CONFIDENCE,
    n_boot: int = N_BOOTSTRAP,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of `for_improvement` of ``events`` over ``reference``.

    The events are resampled with replacement (as multinomial counts of
    their accepted-CR / accepted-X-ray / other classes); when both tables
    hold the same events (``FRAME``, ``X``, ``Y``), one resample serves both,
    so the interval reflects the paired comparison.

    Returns
    -------
    (float, float)
        Lower and upper bounds (fractions), NaN when no resample has a
        reference FOR above 0.
    """
    rng = np.random.default_rng(seed)
    mine, ref = _accepted_class(events, band), _accepted_class(reference, band)
    if _same_events(events, reference):
        joint = np.bincount(3 * mine + ref, minlength=9)
        draws = rng.multinomial(joint.sum(), joint / max(joint.sum(), 1), size=n_boot).reshape(n_boot, 3, 3)
        counts_mine, counts_ref = draws.sum(axis=2), draws.sum(axis=1)
    else:
        counts_mine, counts_ref = (
            rng.multinomial(len(c), np.bincount(c, minlength=3) / max(len(c), 1), size=n_boot)
            for c in (mine, ref)
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        for_mine = counts_mine[:, 0] / (counts_mine[:, 0] + counts_mine[:, 1])
        for_ref = counts_ref[:, 0] / (counts_ref[:, 0] + counts_ref[:, 1])
        improvement = 1.0 - for_mine / for_ref
    improvement = improvement[np.isfinite(improvement)]
    if not len(improvement):
        return float("nan"), float("nan")
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(improvement, [tail, 100 - tail])
    return float(low), float(high)


def metrics_table(
    results: Mapping[str, Table],
    bands=BANDS_KEV,
    reference: str | None = "classic",
) -> Table:
    """Metric table of several filters (rows: filter x band), rates in percent with 95% intervals.

    Parameters
    ----------
    results : mapping of str to Table
        Truth-matched event tables by filter name.
    bands : sequence of (low, high)
        Energy bands in keV.
    reference : str, optional
        Filter whose FOR the ``FOR_IMPROVEMENT`` column refers to (NaN when
        it is not among ``results``).

    Returns
    -------
    astropy.table.Table
        Counts (``N_XRAY``, ``N_CR``, ``UNREJECTED_CR``: cosmic-ray events
        the filter accepts), rates and, for ``LOST_XRAY``, ``FOR`` and
        ``FOR_IMPROVEMENT``, the bounds ``<RATE>_LO`` and ``<RATE>_HI`` of
        their 95% intervals.
    """
    rows = []
    for band in bands:
        ref = event_metrics(results[reference], band) if reference in results else None
        for name, events in results.items():
            m = event_metrics(events, band)
            improvement, interval = np.nan, (np.nan, np.nan)
            if ref is not None:
                improvement = for_improvement(m, ref)
                interval = for_improvement_interval(events, results[reference], band)
            rows.append(
                {
                    "FILTER": name,
                    "BAND": f"{band[0]:g}-{band[1]:g} keV",
                    "N_XRAY": m.n_xray,
                    "N_CR": m.n_cr,
                    "UNREJECTED_CR": m.fn,
                    "RECALL": 100 * m.recall,
                    "PRECISION": 100 * m.precision,
                    "F1": 100 * m.f1,
                    "LOST_XRAY": 100 * m.lost_xray,
                    "LOST_XRAY_LO": 100 * m.lost_xray_interval[0],
                    "LOST_XRAY_HI": 100 * m.lost_xray_interval[1],
                    "FOR": 100 * m.false_omission,
                    "FOR_LO": 100 * m.false_omission_interval[0],
                    "FOR_HI": 100 * m.false_omission_interval[1],
                    "FOR_IMPROVEMENT": 100 * improvement,
                    "FOR_IMPROVEMENT_LO": 100 * interval[0],
                    "FOR_IMPROVEMENT_HI": 100 * interval[1],
                }
            )
    table = Table(rows=rows)
    for column in table.colnames[table.colnames.index("RECALL"):]:
        table[column].format = ".2f"
        table[column].unit = "%"
    return table
