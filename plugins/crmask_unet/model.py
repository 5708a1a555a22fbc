"""The U-Net of deepCR and Cosmic-CoNN, with optional attention gates.

``UNet(UNetConfig(depth=3, width=32, norm="batch"))`` is deepCR's UNet-3-32
(Zhang & Bloom 2020), ``norm="group"`` Cosmic-CoNN's (Xu et al. 2021), and
``attention=True`` adds an additive attention gate at every skip connection
(Bhavanam et al. 2022). The four default configurations have exactly the
trainable-parameter counts of Bhavanam et al. (2022, Table 3).
"""

from __future__ import annotations

import torch
from torch import nn

from .config import ARCHITECTURES, UNetConfig
from .parts import DoubleConv, Down, Up

__all__ = ["UNetConfig", "UNet", "ARCHITECTURES", "count_parameters"]


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
