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
least `GATE` over its pixels above ``nsigma``), each pixel of it keeps the
larger of its two probabilities; elsewhere nothing changes. A structure is
a connected set of pixels above `EXTENT_SIGMA` holding at least one above
``nsigma``; a model card chooses ``nsigma`` and ``target`` on real
validation frames (``benchmarks/choose_bright_rescaling.py``).

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

__all__ = ["rescale_bright", "EXTENT_SIGMA", "GATE"]

#: Noise units a pixel needs to belong to a bright structure (its extent, the pixels whose probability can change).
EXTENT_SIGMA = 10.0
#: Mean probability the network must give a dimmed structure's pixels above ``nsigma`` for any pixel to change.
GATE = 0.5


def rescale_bright(
    probability: np.ndarray,
    data: np.ndarray,
    predict: Callable[[np.ndarray], np.ndarray],
    nsigma: float,
    target: float,
    context: int,
) -> int:
    """Raise ``probability`` where a structure brighter than ``nsigma`` is a cosmic ray once dimmed to ``target``.

    Parameters
    ----------
    probability : numpy.ndarray
        The network's probability map of ``data``; changed in place.
    data : numpy.ndarray
        The network input (noise units, `crmask_unet.detector.normalise`), same shape.
    predict : callable
        The network: maps a 2-D input array to its probability map.
    nsigma : float
        Noise units at which a structure is brighter than training; > `EXTENT_SIGMA`.
    target : float
        Noise units the brightest pixel of a dimmed structure reads; in (0, ``nsigma``].
    context : int
        Pixels of context passed to ``predict`` around each structure (the network's receptive radius).

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
    # only the structures that hold a bright pixel: label the extent, keep the labels seen at bright pixels
    labels, _ = ndimage.label(data > EXTENT_SIGMA, structure=np.ones((3, 3), bool))
    indices = np.unique(labels[bright])
    peaks = ndimage.maximum(data, labels, indices)
    boxes = ndimage.find_objects(labels)
    ny, nx = data.shape
    found = 0
    for index, peak in zip(indices, peaks):
        sy, sx = boxes[index - 1]
        y0, y1 = max(sy.start - context, 0), min(sy.stop + context, ny)
        x0, x1 = max(sx.start - context, 0), min(sx.stop + context, nx)
        factor = np.float32(peak / target)
        rng = np.random.default_rng([y0, x0])  # a seed per structure: the same result whatever else the image holds
        noise = rng.standard_normal((y1 - y0, x1 - x0), dtype=np.float32)
        noise *= np.sqrt(1 - 1 / factor**2)
        dimmed = predict(data[y0:y1, x0:x1] / factor + noise)[sy.start - y0:sy.stop - y0, sx.start - x0:sx.stop - x0]
        pixels = labels[sy, sx] == index
        if dimmed[pixels & bright[sy, sx]].mean() < GATE:
            continue
        view = probability[sy, sx]
        view[pixels] = np.maximum(view[pixels], dimmed[pixels])
        found += 1
    return found
