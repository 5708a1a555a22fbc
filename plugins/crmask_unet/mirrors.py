"""Mirror images a U-Net's probability can be averaged over (test-time augmentation), by name.

Torch-free, so that a detector checks its ``mirrors`` parameter without
importing torch; `crmask_unet.inference.predict_mirrored` runs them.
"""

from __future__ import annotations

__all__ = ["MIRRORS", "PAIRS"]

#: Axes (of an ``(N, C, H, W)`` tensor) each image of a set is flipped along; every set holds the image itself.
MIRRORS: dict[str, tuple[tuple[int, ...], ...]] = {
    "none": ((),),
    "left-right": ((), (3,)),
    "up-down": ((), (2,)),
    "half-turn": ((), (2, 3)),
    "all": ((), (3,), (2,), (2, 3)),
}

#: The sets of two images.
PAIRS: tuple[str, ...] = ("left-right", "up-down", "half-turn")
