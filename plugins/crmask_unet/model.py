"""The U-Net of deepCR and Cosmic-CoNN, with optional attention gates.

``UNet(UNetConfig(depth=3, width=32, norm="batch"))`` is deepCR's UNet-3-32
(Zhang & Bloom 2020), ``norm="group"`` Cosmic-CoNN's (Xu et al. 2021), and
``attention=True`` adds an additive attention gate at every skip connection
(Bhavanam et al. 2022). The four default configurations have exactly the
trainable-parameter counts of Bhavanam et al. (2022, Table 3).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from .config import ARCHITECTURES
from .parts import NORMS, DoubleConv, Down, Up

__all__ = ["UNetConfig", "UNet", "ARCHITECTURES", "count_parameters"]


@dataclass(frozen=True)
class UNetConfig:
    """Shape of a U-Net.

    Attributes
    ----------
    depth : int
        Number of resolution levels (2 pooling steps for depth 3).
    width : int
        Feature maps at the first level; doubled at every level down.
    norm : {"batch", "group", "none"}
        Feature normalisation after every 3x3 convolution.
    attention : bool
        Whether skip connections pass through an attention gate.
    groups : int
        Groups of group normalisation.
    bn_momentum : float
        Momentum of batch-normalisation running statistics (deepCR: 0.005).
    group_eps : float
        The ``eps`` of group normalisation, added to each group's variance
        (PyTorch's default 1e-5). A large value, such as 1, is a variance
        floor: a tile whose features hardly vary (sky without cosmic rays)
        is no longer scaled up to unit variance, so its noise is not
        amplified into detections.
    """

    depth: int = 3
    width: int = 32
    norm: str = "batch"
    attention: bool = False
    groups: int = 8
    bn_momentum: float = 0.005
    group_eps: float = 1e-5

    def __post_init__(self) -> None:
        if not 1 <= self.depth <= 6:
            raise ValueError(f"depth must be in [1, 6], got {self.depth}")
        if self.width < 2 or self.width % 2:
            raise ValueError(f"width must be an even number >= 2, got {self.width}")
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {self.norm!r}")
        if not self.group_eps > 0:
            raise ValueError(f"group_eps must be positive, got {self.group_eps}")

    @property
    def multiple(self) -> int:
        """Image sides must be multiples of this (one per pooling step)."""
        return 2 ** (self.depth - 1)

    @property
    def receptive_radius(self) -> int:
        """Pixels of context each output pixel depends on, per side (an upper bound)."""
        radius = 0
        for level in range(self.depth):  # two 3x3 convs per level, both ways
            radius += 2 * 2**level * (2 if level < self.depth - 1 else 1)
        return radius + self.multiple

    def to_dict(self) -> dict[str, Any]:
        """The configuration as plain JSON-serialisable values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "UNetConfig":
        """Build a configuration from `to_dict` output; unknown keys raise `ValueError`."""
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown U-Net configuration key(s): {sorted(unknown)}")
        return cls(**values)


class UNet(nn.Module):
    """U-Net that maps a ``(N, 1, H, W)`` image to ``(N, 1, H, W)`` CR logits.

    ``H`` and ``W`` must be multiples of ``config.multiple``. `forward`
    returns logits (apply a sigmoid for probabilities); `predict_proba` does
    so under `torch.inference_mode` in evaluation mode.
    """

    def __init__(self, config: UNetConfig = UNetConfig()) -> None:
        super().__init__()
        self.config = config
        norm_kw = {"groups": config.groups, "momentum": config.bn_momentum, "eps": config.group_eps}
        widths = [config.width * 2**level for level in range(config.depth)]
        self.inc = DoubleConv(1, widths[0], config.norm, **norm_kw)
        self.downs = nn.ModuleList(
            Down(widths[i], widths[i + 1], config.norm, **norm_kw) for i in range(config.depth - 1)
        )
        self.ups = nn.ModuleList(
            Up(widths[i + 1], widths[i], config.norm, config.attention, **norm_kw)
            for i in reversed(range(config.depth - 1))
        )
        self.outc = nn.Conv2d(widths[0], 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.config.multiple
        if x.ndim != 4 or x.shape[1] != 1 or x.shape[-2] % m or x.shape[-1] % m:
            raise ValueError(
                f"UNet needs input of shape (N, 1, H, W) with H and W multiples of {m}, got {tuple(x.shape)}"
            )
        skips = [self.inc(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        y = skips.pop()
        for up in self.ups:
            y = up(y, skips.pop())
        return self.outc(y)

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Return CR probabilities for ``x`` (evaluation mode, no gradients)."""
        self.eval()
        with torch.inference_mode():
            return torch.sigmoid(self.forward(x))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
