"""Pixel-pattern grades of X-ray events (Poliszczuk et al. 2024, §3.1).

An event is a 3x3 window centred on a local maximum. Its *pattern* is the
8-bit set of neighbours above the split threshold, bit ``k`` for the
neighbour at ``NEIGHBOUR_OFFSETS[k]`` (``(dy, dx)``)::

    bit:   0 1 2        offsets: (-1,-1) (-1,0) (-1,1)
           3 . 4                 ( 0,-1)   .    ( 0,1)
           5 6 7                 ( 1,-1) ( 1,0) ( 1,1)

The accepted shapes are exactly these, with no other pixel of the 3x3
window above the split threshold:

``single``
    the centre alone;
``double``
    the centre and one side neighbour (not a corner);
``triple``
    the L: the centre, one vertical and one horizontal side neighbour (the
    maximum sits at the corner of the L, the only L a single Gaussian charge
    cloud makes: a corner pixel gets less charge than both sides next to it);
``quad``
    a 2x2 square: the L plus the corner between its two sides.

Every other pattern is ``other`` and rejected.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "NEIGHBOUR_OFFSETS",
    "GRADE_SINGLE",
    "GRADE_DOUBLE",
    "GRADE_TRIPLE",
    "GRADE_QUAD",
    "GRADE_OTHER",
    "GRADE_NAMES",
    "ACCEPTED_GRADES",
    "pattern_from_window",
    "grade_of_pattern",
    "ring_mask",
]

#: ``(dy, dx)`` of the neighbour each pattern bit stands for.
NEIGHBOUR_OFFSETS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))

GRADE_SINGLE, GRADE_DOUBLE, GRADE_TRIPLE, GRADE_QUAD, GRADE_OTHER = range(5)
#: Grade names, indexed by grade code.
GRADE_NAMES = ("single", "double", "triple", "quad", "other")
#: Grades of the shapes the classic filter accepts.
ACCEPTED_GRADES = (GRADE_SINGLE, GRADE_DOUBLE, GRADE_TRIPLE, GRADE_QUAD)

_BIT = {offset: 1 << k for k, offset in enumerate(NEIGHBOUR_OFFSETS)}


def _build_table() -> np.ndarray:
    table = np.full(256, GRADE_OTHER, dtype=np.uint8)
    table[0] = GRADE_SINGLE
    sides_v = ((-1, 0), (1, 0))
    sides_h = ((0, -1), (0, 1))
    for side in sides_v + sides_h:
        table[_BIT[side]] = GRADE_DOUBLE
    for sv in sides_v:
        for sh in sides_h:
            l_shape = _BIT[sv] | _BIT[sh]
            table[l_shape] = GRADE_TRIPLE
            table[l_shape | _BIT[(sv[0], sh[1])]] = GRADE_QUAD
    return table


#: Grade of every 8-bit pattern.
_GRADE_OF_PATTERN = _build_table()
_WEIGHTS = np.zeros((3, 3), dtype=np.int64)
for _offset, _bit in _BIT.items():
    _WEIGHTS[_offset[0] + 1, _offset[1] + 1] = _bit


def pattern_from_window(active: np.ndarray) -> np.ndarray:
    """Pattern bits of 3x3 windows of active (above split threshold) pixels.

    Parameters
    ----------
    active : numpy.ndarray
        Boolean array of shape ``(..., 3, 3)``; the centre is ignored.

    Returns
    -------
    numpy.ndarray
        uint8 patterns, shape ``active.shape[:-2]``.
    """
    active = np.asarray(active, dtype=bool)
    if active.shape[-2:] != (3, 3):
        raise ValueError(f"windows must end with shape (3, 3), got {active.shape}")
    return np.tensordot(active, _WEIGHTS, axes=([-2, -1], [0, 1])).astype(np.uint8)


def grade_of_pattern(pattern) -> np.ndarray:
    """Grade code (``GRADE_*``) of each 8-bit pattern."""
    return _GRADE_OF_PATTERN[np.asarray(pattern, dtype=np.uint8)]


def ring_mask() -> np.ndarray:
    """Boolean 5x5 mask of the 16 pixels around the central 3x3 window."""
    ring = np.ones((5, 5), dtype=bool)
    ring[1:4, 1:4] = False
    return ring
