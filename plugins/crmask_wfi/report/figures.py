"""Figures comparing event filters by energy (Poliszczuk et al. 2024, Figs. 3 and 4).

`plot_filter_comparison` draws, from truth-matched and filtered event
tables that share their events:

a. the spectrum of the unrejected cosmic-ray background (CR events not
   flagged) of every filter, in counts cm⁻² s⁻¹ keV⁻¹
   (`crmask_wfi.report.bench.background_spectrum`);
b. the FOR relative improvement of every filter over the reference in each
   energy bin;
c. the lost X-ray fraction of every filter in each bin;

b and c with their 95% intervals as error bars.

The numbers come from `crmask_wfi.report.metrics.event_metrics` on each bin.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
from astropy.table import Table

from .bench import background_spectrum
from .metrics import metrics_table

__all__ = ["DEFAULT_BINS_KEV", "binned_metrics", "plot_filter_comparison"]

#: Energy bin edges of the figures, keV: 0.3-1 keV, then 1 keV wide up to 10 keV.
DEFAULT_BINS_KEV = np.array([0.3, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0])


def binned_metrics(results: Mapping[str, Table], bins=DEFAULT_BINS_KEV, reference: str = "classic") -> Table:
    """Per-bin unrejected CR counts, FOR improvement and lost X-ray fraction of each filter.

    Returns
    -------
    astropy.table.Table
        One row per (filter, bin): ``FILTER``, ``LOW``, ``HIGH``,
        ``UNREJECTED_CR``, ``FOR``, ``FOR_IMPROVEMENT``, ``LOST_XRAY``
        (fractions), each rate with the bounds ``<RATE>_LO`` and
        ``<RATE>_HI`` of its 95% interval (`crmask_wfi.report.metrics`).
    """
    bins = np.asarray(bins, dtype=float)
    table = metrics_table(results, bands=list(zip(bins[:-1], bins[1:])), reference=reference)
    per_bin = len(results)  # metrics_table's rows: bands in order, each with every filter
    numbers = Table({"FILTER": table["FILTER"], "LOW": np.repeat(bins[:-1], per_bin),
                     "HIGH": np.repeat(bins[1:], per_bin), "UNREJECTED_CR": table["UNREJECTED_CR"]})
    for rate in ("FOR", "LOST_XRAY", "FOR_IMPROVEMENT"):
        for column in (rate, f"{rate}_LO", f"{rate}_HI"):
            numbers[column] = np.asarray(table[column], dtype=float) / 100  # percent to fractions
    return numbers


def _error_bars(rows: Table, rate: str) -> np.ndarray:
    """Distances (percent) from each rate to the bounds of its interval, as matplotlib's ``yerr``."""
    value = np.asarray(rows[rate], dtype=float)
    return 100 * np.abs(np.vstack([value - np.asarray(rows[f"{rate}_LO"], dtype=float),
                                   np.asarray(rows[f"{rate}_HI"], dtype=float) - value]))


def plot_filter_comparison(
    results: Mapping[str, Table],
    n_frames: int,
    frame_shape: tuple[int, int],
    path,
    *,
    bins=DEFAULT_BINS_KEV,
    reference: str = "classic",
) -> Table:
    """Draw the unrejected-background spectrum, per-bin FOR improvement and lost X-rays as PNG.

    Parameters
    ----------
    results : mapping of str to Table
        Event tables by filter name (``ENERGY``, ``TRUE_CLASS``, ``CR_FLAG``).
    n_frames : int
        Frames the events come from.
    frame_shape : tuple of int
        Their shape, for the background per unit area.
    path : str or Path
        Output PNG.
    bins : array of float
        Energy bin edges in keV.
    reference : str
        Filter the improvement refers to.

    Returns
    -------
    astropy.table.Table
        The plotted numbers (`binned_metrics`).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    numbers = binned_metrics(results, bins, reference)
    centres = 0.5 * (bins[:-1] + bins[1:])
    widths = np.diff(bins)
    fig, axes = plt.subplots(3, 1, figsize=(6, 8.5), sharex=True)
    for index, name in enumerate(results):
        rows = numbers[numbers["FILTER"] == name]
        color = f"C{index}"
        axes[0].stairs(background_spectrum(results[name], n_frames, frame_shape, bins), bins,
                       color=color, label=name)
        axes[2].errorbar(centres, 100 * np.asarray(rows["LOST_XRAY"]), yerr=_error_bars(rows, "LOST_XRAY"),
                         fmt="o-", color=color, capsize=2, label=name)
        if name != reference:
            axes[1].bar(centres, 100 * np.asarray(rows["FOR_IMPROVEMENT"], dtype=float), width=0.8 * widths,
                        yerr=_error_bars(rows, "FOR_IMPROVEMENT"), capsize=2,
                        color=color, alpha=0.7, label=f"{name} vs {reference}")
    axes[0].set_ylabel("counts cm$^{-2}$ s$^{-1}$ keV$^{-1}$")
    axes[0].set_title("a. unrejected cosmic-ray background")
    axes[1].axhline(0, color="k", lw=0.8)
    axes[1].set_ylabel("FOR relative improvement [%]")
    axes[1].set_title("b. relative improvement in background rejection")
    axes[2].set_ylabel("lost X-ray signal [%]")
    axes[2].set_xlabel("reconstructed energy [keV]")
    axes[2].set_title("c. lost X-ray signal")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return numbers
