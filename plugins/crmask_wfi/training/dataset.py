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

The rates, the read noise and the charge cloud may differ from frame to
frame (training under varied conditions, `crmask_wfi.training.mix`): each
frame to draw keeps its values when it is drawn again.

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
from ..sim.simulate import (
    DEFAULT_CR_RATE,
    DEFAULT_XRAY_RATE,
    SimulatedFrames,
    Spectrum,
    meta_value,
    per_frame,
    simulate_frames,
)

__all__ = ["SUBFRAME_SHAPE", "build_dataset", "conditioned_counts"]

#: Sub-frame shape of Poliszczuk et al.'s (2024) frame classifier.
SUBFRAME_SHAPE = (64, 64)
_MAX_ROUNDS = 50
#: Parameters of `simulate_frames` that may take one value per frame.
_PER_FRAME = ("readnoise", "diffusion_sigma_um")


def conditioned_counts(rng: np.random.Generator, rate: float | np.ndarray, present: np.ndarray) -> np.ndarray:
    """Poisson counts with mean ``rate``, conditioned on being >= 1 where ``present`` and 0 elsewhere.

    ``rate`` is one mean for all entries or one per entry. The counts are
    drawn by inverting the conditioned distribution with one uniform number
    per present entry, as `numpy.random.Generator.choice` does, so one rate
    gives the draws of ``rng.choice(k, p=...)``.
    """
    present = np.asarray(present, dtype=bool)
    rates = np.broadcast_to(np.asarray(rate, dtype=float), present.shape)[present]
    if np.any(rates <= 0):
        raise ValueError("a class with events needs a positive event rate")
    k = np.arange(1, 64)
    log_pmf = k * np.log(rates)[:, None] - rates[:, None] - np.cumsum(np.log(k))
    pmf = np.exp(log_pmf - log_pmf.max(axis=1, keepdims=True))
    cdf = np.cumsum(pmf / pmf.sum(axis=1, keepdims=True), axis=1)
    cdf /= cdf[:, -1:]
    counts = np.zeros(len(present), dtype=np.int64)
    counts[present] = k[np.sum(cdf <= rng.random(len(rates))[:, None], axis=1)]
    return counts


def _of_slots(value: float | np.ndarray, slots: np.ndarray) -> float | np.ndarray:
    """A `per_frame` value for the frames to draw at ``slots``."""
    return value if np.ndim(value) == 0 else value[slots]


def build_dataset(
    n_per_class: int,
    *,
    shape: tuple[int, int] = SUBFRAME_SHAPE,
    xray_rate: float | np.ndarray = DEFAULT_XRAY_RATE,
    cr_rate: float | np.ndarray = DEFAULT_CR_RATE,
    spectrum: Spectrum = None,
    seed: int | np.random.Generator | None = None,
    **simulate_kwargs,
) -> SimulatedFrames:
    """Simulate a class-balanced data set of sub-frames.

    Parameters
    ----------
    n_per_class : int
        Frames of each of the four classes (empty, X-ray, CR, mixed).
    shape : tuple of int
        Sub-frame shape; default 64 x 64.
    xray_rate, cr_rate : float or numpy.ndarray
        Events per 512 x 512 pixels per frame, as in `simulate_frames`: one
        value, or one per frame to draw (``4 * n_per_class``: the empty
        frames, then the X-ray, CR and mixed ones).
    spectrum : see `simulate_frames`
    seed : int or numpy.random.Generator, optional
    **simulate_kwargs
        Passed to `simulate_frames` (``readnoise``, ``fano``, ...);
        ``readnoise`` and ``diffusion_sigma_um`` may also take one value per
        frame to draw.

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
    xray_rate, cr_rate = (per_frame(name, value, len(wanted))
                          for name, value in (("xray_rate", xray_rate), ("cr_rate", cr_rate)))
    varied = {name: per_frame(name, simulate_kwargs.pop(name), len(wanted))
              for name in _PER_FRAME if name in simulate_kwargs}
    parts: list[SimulatedFrames] = []
    slots = np.arange(len(wanted))  # the frames still to draw
    for _ in range(_MAX_ROUNDS):
        todo = wanted[slots]
        has_x = (todo == FRAME_XRAY) | (todo == FRAME_MIXED)
        has_cr = (todo == FRAME_CR) | (todo == FRAME_MIXED)
        sim = simulate_frames(
            len(todo), shape=shape, spectrum=spectrum, seed=rng,
            xray_counts=conditioned_counts(rng, _of_slots(xray_rate, slots) * area, has_x),
            cr_counts=conditioned_counts(rng, _of_slots(cr_rate, slots) * area, has_cr),
            **simulate_kwargs, **{name: _of_slots(value, slots) for name, value in varied.items()},
        )
        ok = frame_classes(sim.label) == todo
        parts.append(sim.subset(np.nonzero(ok)[0]))
        slots = slots[~ok]
        if len(slots) == 0:
            break
    else:
        raise ValueError("could not fill every class; check the rates and the spectrum")
    data = concat_simulations([p for p in parts if len(p)])
    data = data.subset(rng.permutation(len(data)))
    data.meta.update(seed=seed, xray_rate=meta_value(xray_rate), cr_rate=meta_value(cr_rate))
    return data
