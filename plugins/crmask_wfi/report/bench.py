"""Run event filters on simulated frames and compare them (``crmask wfi bench``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Mapping

import astropy.units as u
import numpy as np
from astropy.table import Table

from ..events.reconstruct import add_truth
from ..sim.physics import FRAME_TIME_S, PIXEL_PITCH_UM
from ..sim.simulate import SimulatedFrames

__all__ = [
    "EVALUATION_FRAMES",
    "filter_simulation",
    "filter_batches",
    "filter_simulated_batches",
    "background_spectrum",
    "plot_background_spectrum",
]

#: Frames simulated at a time by `filter_simulated_batches` (about 1 GB of 512 x 512 arrays).
BATCH_FRAMES = 100
#: Default evaluation size: 512 x 512 frames of the default simulation that hold >= 1,000 CR events
#: in 0.3-10 keV after the grade filter (134 in 16,000 frames in the shipped model's test, so ~0.84%
#: per frame), enough for intervals of a few tenths of a point on the lost X-ray fraction.
EVALUATION_FRAMES = 120_000


def filter_simulation(event_filter, sim: SimulatedFrames) -> Table:
    """Run an event filter on simulated frames and add the truth columns.

    Parameters
    ----------
    event_filter : crmask.EventFilter
        Any registered event filter, constructed.
    sim : SimulatedFrames
    """
    events = event_filter.filter(sim.signal * u.electron)
    return add_truth(events, sim)


def filter_batches(event_filters, batches: Iterable[SimulatedFrames]) -> dict[str, Table]:
    """Run every filter on each batch of frames with truth and join the truth-matched events.

    Frame numbers in the returned tables run over all batches, in order, so
    every filter's table numbers the same frames alike.

    Parameters
    ----------
    event_filters : sequence of crmask.EventFilter
        Constructed filters; their names key the result.
    batches : iterable of SimulatedFrames
        Simulated frames (`crmask_wfi.sim.simulate.simulate_frames`) or any
        with the same truth (`crmask_wfi.sim.geant4_frames.geant4_frames`),
        made one at a time so that memory stays bounded by a batch.

    Returns
    -------
    dict of str to Table
        Truth-matched event table per filter name.
    """
    from astropy.table import vstack

    parts: dict[str, list[Table]] = {f.name: [] for f in event_filters}
    start = 0
    for sim in batches:
        for event_filter in event_filters:
            events = filter_simulation(event_filter, sim)
            events["FRAME"] += start
            parts[event_filter.name].append(events)
        start += len(sim)
    return {name: vstack(tables, metadata_conflicts="silent") for name, tables in parts.items()}


def filter_simulated_batches(
    event_filters, n_frames: int, seed: int | None = 0, batch: int = BATCH_FRAMES, **simulate_kwargs
) -> dict[str, Table]:
    """Simulate ``n_frames`` frames in batches and run every filter on them (`filter_batches`).

    Memory stays bounded by the batch size; frame numbers in the returned
    tables run over all batches. The frames depend on ``seed`` and ``batch``.

    Returns
    -------
    dict of str to Table
        Truth-matched event table per filter name.
    """
    from ..sim.simulate import simulate_frames

    rng = np.random.default_rng(seed)
    sims = (simulate_frames(min(batch, n_frames - start), seed=rng, **simulate_kwargs)
            for start in range(0, n_frames, batch))
    return filter_batches(event_filters, sims)


def background_spectrum(
    events: Table, n_frames: int, frame_shape: tuple[int, int], bins: np.ndarray
) -> np.ndarray:
    """Unrejected cosmic-ray background per energy bin, counts cm^-2 s^-1 keV^-1.

    Counts the truth-CR events the filter accepted (``CR_FLAG`` false),
    divided by the frames' area, their exposure (`FRAME_TIME_S` each) and the
    bin width.
    """
    energy = np.asarray(events["ENERGY"], dtype=float)
    keep = (np.asarray(events["TRUE_CLASS"]).astype(str) == "cr") & ~np.asarray(events["CR_FLAG"], bool)
    counts, _ = np.histogram(energy[keep], bins=bins)
    area_cm2 = frame_shape[0] * frame_shape[1] * (PIXEL_PITCH_UM * 1e-4) ** 2
    return counts / (area_cm2 * n_frames * FRAME_TIME_S * np.diff(bins))


def plot_background_spectrum(
    results: Mapping[str, Table],
    n_frames: int,
    frame_shape: tuple[int, int],
    path: str | os.PathLike,
    band: tuple[float, float] = (0.3, 10.0),
    n_bins: int = 20,
) -> Path:
    """Draw the unrejected-background spectrum of each filter into a PNG file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bins = np.linspace(band[0], band[1], n_bins + 1)
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, events in results.items():
        rate = background_spectrum(events, n_frames, frame_shape, bins)
        ax.stairs(rate, bins, label=name)
    ax.set_xlabel("reconstructed energy (keV)")
    ax.set_ylabel("unrejected CR background (counts cm$^{-2}$ s$^{-1}$ keV$^{-1}$)")
    ax.set_title(f"{n_frames} simulated frames of {frame_shape[0]}x{frame_shape[1]} px")
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
