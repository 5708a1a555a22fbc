"""Class-balanced 64 x 64 sub-frame data sets (Poliszczuk et al. 2024, §2).

Sub-frames have four classes: empty, X-ray only, CR only and mixed. At the
quadrant rates (one X-ray and one CR event per 512 x 512 frame) mixed
64 x 64 sub-frames are rare, so, as in Poliszczuk et al. (2024), each class gets the same
number of frames and, within a class, the number of events follows the
Poisson rate of the sub-frame area conditioned on the class: an X-ray-only
sub-frame holds k >= 1 X-rays with probability Poisson(k; lambda) / (1 -
exp(-lambda)), lambda = rate x 64^2 / 512^2 (99.2% one event, 0.8% two at
the default rates). CR events are drawn with their full geometry (tracks,
secondaries, primaries outside the sub-frame) and kept when they leave
charge in it. A frame whose pixel truth does not match its class (a photon
that crossed the sensor) is drawn again.

The result is a `~crmask_wfi.sim.simulate.SimulatedFrames`, saved with
`crmask_wfi.sim.simfile.write_simulation` (its ``FRAMES`` table holds the class).
"""

from __future__ import annotations

import numpy as np

from ..sim.simfile import (
    FRAME_CLASS_NAMES,
    FRAME_CR,
    FRAME_MIXED,
    FRAME_XRAY,
    concat_simulations,
    frame_classes,
)
from ..sim.physics import QUADRANT_SHAPE
from ..sim.simulate import DEFAULT_CR_RATE, DEFAULT_XRAY_RATE, SimulatedFrames, Spectrum, simulate_frames

__all__ = ["SUBFRAME_SHAPE", "build_dataset", "conditioned_counts"]

#: Sub-frame shape of Poliszczuk et al.'s (2024) frame classifier.
SUBFRAME_SHAPE = (64, 64)
_MAX_ROUNDS = 50


def conditioned_counts(rng: np.random.Generator, rate: float, present: np.ndarray) -> np.ndarray:
    """Poisson counts with mean ``rate``, conditioned on being >= 1 where ``present`` and 0 elsewhere."""
    present = np.asarray(present, dtype=bool)
    if rate <= 0 and present.any():
        raise ValueError("a class with events needs a positive event rate")
    k = np.arange(1, 64)
    log_pmf = k * np.log(max(rate, 1e-300)) - rate - np.cumsum(np.log(k))
    pmf = np.exp(log_pmf - log_pmf.max())
    counts = np.zeros(len(present), dtype=np.int64)
    counts[present] = rng.choice(k, size=int(present.sum()), p=pmf / pmf.sum())
    return counts


def build_dataset(
    n_per_class: int,
    *,
    shape: tuple[int, int] = SUBFRAME_SHAPE,
    xray_rate: float = DEFAULT_XRAY_RATE,
    cr_rate: float = DEFAULT_CR_RATE,
    spectrum: Spectrum = None,
    seed: int | None = None,
    **simulate_kwargs,
) -> SimulatedFrames:
    """Simulate a class-balanced data set of sub-frames.

    Parameters
    ----------
    n_per_class : int
        Frames of each of the four classes (empty, X-ray, CR, mixed).
    shape : tuple of int
        Sub-frame shape; default 64 x 64.
    xray_rate, cr_rate : float
        Events per 512 x 512 pixels per frame, as in `simulate_frames`.
    spectrum : see `simulate_frames`
    seed : int, optional
    **simulate_kwargs
        Passed to `simulate_frames` (``readnoise``, ``fano``, ...).

    Returns
    -------
    SimulatedFrames
        ``4 * n_per_class`` frames in random order; ``frame_classes(label)``
        gives each frame's class.
    """
    if not isinstance(n_per_class, (int, np.integer)) or n_per_class < 1:
        raise ValueError(f"n_per_class must be a positive integer, got {n_per_class!r}")
    rng = np.random.default_rng(seed)
    area = shape[0] * shape[1] / (QUADRANT_SHAPE[0] * QUADRANT_SHAPE[1])
    wanted = np.repeat(np.arange(len(FRAME_CLASS_NAMES), dtype=np.uint8), n_per_class)
    parts: list[SimulatedFrames] = []
    todo = wanted
    for _ in range(_MAX_ROUNDS):
        has_x = (todo == FRAME_XRAY) | (todo == FRAME_MIXED)
        has_cr = (todo == FRAME_CR) | (todo == FRAME_MIXED)
        sim = simulate_frames(
            len(todo), shape=shape, spectrum=spectrum, seed=rng,
            xray_counts=conditioned_counts(rng, xray_rate * area, has_x),
            cr_counts=conditioned_counts(rng, cr_rate * area, has_cr),
            **simulate_kwargs,
        )
        ok = frame_classes(sim.label) == todo
        parts.append(sim.subset(np.nonzero(ok)[0]))
        todo = todo[~ok]
        if len(todo) == 0:
            break
    else:
        raise ValueError("could not fill every class; check the rates and the spectrum")
    data = concat_simulations([p for p in parts if len(p)])
    data = data.subset(rng.permutation(len(data)))
    data.meta.update(seed=seed, xray_rate=float(xray_rate), cr_rate=float(cr_rate))
    return data
