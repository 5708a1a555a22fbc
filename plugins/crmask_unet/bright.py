"""Structures brighter than anything a network was trained on, shown to it again dimmed.

A U-Net decides what it has seen in training, and its training cosmic rays
are not very bright: none of the real footprints it learns from has a pixel
above 2e4 e- (``docs/learned_detectors.rst``, "Very bright cosmic rays").
The bright compact structures of training are stellar cores, so the
shipped networks pass over cosmic rays of 1e4-3e4 e- per pixel that they
flag at 3e3 e-.

What a structure is does not change with its brightness: a cosmic ray
dimmed is still a cosmic ray, a star dimmed still a star. So each
structure brighter than ``nsigma`` (noise units of the network input,
`crmask_unet.detector.normalise`) is cut out with the network's context
around it, scaled so that its brightest pixel reads ``target``, given back
the unit noise the scaling took away (a fixed seed per structure, so the
result is reproducible), and passed through the network again. Where the
network calls the dimmed structure a cosmic ray (a mean probability of at
least `GATE` over its pixels above ``nsigma``), each pixel around it above
`EXTENT_SIGMA` (connected to it, within its window) keeps the larger of
its two probabilities; elsewhere nothing changes. A structure is a
connected set of pixels above ``nsigma``, so a cosmic ray on a galaxy or
a spectral trace is judged apart from the bright source beneath it; a
model card chooses ``nsigma`` and ``target`` on real validation frames
(``benchmarks/choose_bright_rescaling.py``).

This is test-time augmentation (like the mirror images of
`crmask_unet.inference.predict_mirrored`) restricted to the inputs outside
the range of training, where only it can change a decision. Clipping the
input instead (every pixel above some significance set to it) flattens
stellar cores into the plateaus of cosmic rays, and flags them.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import ndimage

__all__ = ["rescale_bright", "EXTENT_SIGMA", "GATE", "CORE_SIZE"]

#: Noise units a pixel needs to belong to a bright structure's extent (the pixels whose probability can change).
EXTENT_SIGMA = 10.0
#: Mean probability the network must give a dimmed structure's pixels above ``nsigma`` for any pixel to change.
GATE = 0.5
#: Side of the pixels above ``nsigma`` that the batched windows hold besides their context (`rescale_bright`).
CORE_SIZE = 16


def _window(start: int, stop: int, context: int, side: int, length: int) -> tuple[int, int]:
    """``side`` pixels (the whole axis where shorter) centred on ``start:stop`` within an axis of ``length``,
    or ``start:stop`` with ``context`` around it where it does not fit."""
    if stop - start + 2 * context > side:
        return max(start - context, 0), min(stop + context, length)
    if length <= side:
        return 0, length
    low = min(max((start + stop - side) // 2, 0), length - side)
    return low, low + side


def _dimmed(window: np.ndarray, factor: float, seed: tuple[int, int]) -> np.ndarray:
    """``window`` divided by ``factor`` with the unit noise that took away added back (seeded by its position)."""
    factor = np.float32(factor)
    dimmed = np.random.default_rng(seed).standard_normal(window.shape, dtype=np.float32)
    dimmed *= np.sqrt(1 - 1 / factor**2)
    dimmed += window / factor
    return dimmed


def rescale_bright(
    probability: np.ndarray,
    data: np.ndarray,
    predict: Callable[[np.ndarray], np.ndarray],
    nsigma: float,
    target: float,
    context: int,
    batch_pixels: int = 512 * 512,
) -> int:
    """Raise ``probability`` where a structure brighter than ``nsigma`` is a cosmic ray once dimmed to ``target``.

    A structure is a connected set of pixels above ``nsigma``. Each is cut
    out with at least ``context`` pixels around them (a window of ``2 * context +
    CORE_SIZE`` pixels where they fit in `CORE_SIZE`, so that windows go
    through the network together), and the pixels there above
    `EXTENT_SIGMA` connected to it may rise.

    Parameters
    ----------
    probability : numpy.ndarray
        The network's probability map of ``data``; changed in place.
    data : numpy.ndarray
        The network input (noise units, `crmask_unet.detector.normalise`), same shape.
    predict : callable
        The network: maps a stack of inputs, shape ``(n, height, width)``,
        to their probability maps, the same shape; a stack holds windows
        of one shape, at most ``batch_pixels`` pixels of them unless one
        window has more.
    nsigma : float
        Noise units at which a structure is brighter than training; > `EXTENT_SIGMA`.
    target : float
        Noise units the brightest pixel of a dimmed structure reads; in (0, ``nsigma``].
    context : int
        Pixels of context passed to ``predict`` around each structure (the network's receptive radius).
    batch_pixels : int
        Most pixels of windows given to ``predict`` at once (a window larger alone), which bounds the memory of
        the dimmed copies and of the network however many bright structures an image holds (default: those
        of the detectors' default tile).

    Returns
    -------
    int
        The number of structures the network called cosmic rays once dimmed.

    Raises
    ------
    ValueError
        If ``nsigma`` or ``target`` is out of range, or the arrays' shapes differ.
    """
    if not nsigma > EXTENT_SIGMA:
        raise ValueError(f"bright structures need nsigma > {EXTENT_SIGMA:g} (their extent), got {nsigma!r}")
    if not 0 < target <= nsigma:
        raise ValueError(f"the dimmed peak 'target' must be in (0, nsigma={nsigma:g}], got {target!r}")
    if probability.shape != data.shape:
        raise ValueError(f"probability {probability.shape} and data {data.shape} differ in shape")
    bright = data > nsigma
    if not bright.any():
        return 0
    # a structure: each connected set of pixels above nsigma (its core); the pixels it may raise are those of the
    # extent around it (connected pixels above EXTENT_SIGMA) within its window
    extent, _ = ndimage.label(data > EXTENT_SIGMA, structure=np.ones((3, 3), bool))
    cores, _ = ndimage.label(bright, structure=np.ones((3, 3), bool))
    ys, xs = np.nonzero(bright)
    owner = cores[ys, xs]
    order = np.argsort(owner, kind="stable")
    ys, xs, owner = ys[order], xs[order], owner[order]
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    side = 2 * context + CORE_SIZE
    windows: dict[tuple[int, int], list] = {}  # by shape: (core, extent index, rows, columns, peak)
    for core in np.split(np.arange(ys.size), starts[1:]):
        cy, cx = ys[core], xs[core]
        y0, y1 = _window(cy.min(), cy.max() + 1, context, side, data.shape[0])
        x0, x1 = _window(cx.min(), cx.max() + 1, context, side, data.shape[1])
        windows.setdefault((y1 - y0, x1 - x0), []).append(
            (owner[core[0]], extent[cy[0], cx[0]], slice(y0, y1), slice(x0, x1), data[cy, cx].max()))
    found = 0
    for shape, group in windows.items():
        per_call = max(batch_pixels // (shape[0] * shape[1]), 1)
        for first in range(0, len(group), per_call):
            chunk = group[first:first + per_call]
            stack = np.stack([_dimmed(data[rows, columns], peak / target, (rows.start, columns.start))
                              for _, _, rows, columns, peak in chunk])
            for (core, index, rows, columns, _), dimmed in zip(chunk, predict(stack)):
                if dimmed[cores[rows, columns] == core].mean() < GATE:
                    continue
                pixels = extent[rows, columns] == index
                view = probability[rows, columns]
                view[pixels] = np.maximum(view[pixels], dimmed[pixels])
                found += 1
    return found
