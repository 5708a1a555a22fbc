"""Building blocks of the U-Nets: normalisation, double convolutions, attention gates.

The blocks follow the deepCR / Cosmic-CoNN U-Net (Zhang & Bloom 2020; Xu et al.
2021) and the additive attention gate of Oktay et al. (2018) as used by
Bhavanam et al. (2022). They are kept apart from `model.py` so that the
network's shape (depth, width, normalisation, attention) is chosen in one
place.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import NORMS

__all__ = ["NORMS", "make_norm", "DoubleConv", "Down", "Up", "AttentionGate"]


def make_norm(norm: str, channels: int, groups: int = 8, momentum: float = 0.1, eps: float = 1e-5) -> nn.Module:
    """Return the normalisation layer for ``channels`` feature maps.

    Parameters
    ----------
    norm : {"batch", "group", "none"}
        ``"batch"``: `~torch.nn.BatchNorm2d` with learnable scale and shift.
        ``"group"``: `~torch.nn.GroupNorm` with ``min(groups, channels)``
        groups and no learnable parameters (the reading of Cosmic-CoNN that
        reproduces its published parameter count). ``"none"``: identity.
    channels : int
        Number of feature maps.
    groups : int
        Number of groups for group normalisation.
    momentum : float
        Running-statistics momentum of batch normalisation.
    eps : float
        Added to the variance of group normalisation (batch normalisation
        keeps PyTorch's 1e-5).
    """
    if norm == "batch":
        return nn.BatchNorm2d(channels, momentum=momentum)
    if norm == "group":
        n_groups = min(groups, channels)
        while channels % n_groups:
            n_groups -= 1
        return nn.GroupNorm(n_groups, channels, eps=eps, affine=False)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")


class DoubleConv(nn.Sequential):
    """Two (3x3 convolution with bias, normalisation, ReLU) layers."""

    def __init__(self, in_channels: int, out_channels: int, norm: str, **norm_kw) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1),
            make_norm(norm, out_channels, **norm_kw),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1),
            make_norm(norm, out_channels, **norm_kw),
            nn.ReLU(inplace=True),
        )


class Down(nn.Sequential):
    """2x2 max-pooling followed by a `DoubleConv`."""

    def __init__(self, in_channels: int, out_channels: int, norm: str, **norm_kw) -> None:
        super().__init__(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels, norm, **norm_kw))


class AttentionGate(nn.Module):
    """Additive attention gate on a skip connection (Oktay et al. 2018).

    ``alpha = sigmoid(psi(relu(W_g g + W_x x)))`` and the gate returns
    ``x * alpha``: 1x1 convolutions (with bias) bring the skip features ``x``
    and the gating signal ``g`` to ``inter_channels``, their sum goes through
    a ReLU and a 1x1 convolution to one channel. With ``norm="batch"`` a
    BatchNorm follows ``W_g``, ``W_x`` and ``psi`` and normalises the gated
    features, as in the common Attention U-Net implementation; with group
    normalisation (no learnable parameters) or ``"none"`` the gate has no
    normalisation, since a one-channel group norm would rescale the attention
    map by its own spatial statistics.

    Parameters
    ----------
    channels : int
        Channels of ``x`` and of ``g``.
    inter_channels : int
        Channels of the intermediate sum (``F_int``).
    norm : {"batch", "group", "none"}
    """

    def __init__(self, channels: int, inter_channels: int, norm: str, **norm_kw) -> None:
        super().__init__()
        gate_norm = norm if norm == "batch" else "none"
        self.w_g = nn.Sequential(nn.Conv2d(channels, inter_channels, 1), make_norm(gate_norm, inter_channels, **norm_kw))
        self.w_x = nn.Sequential(nn.Conv2d(channels, inter_channels, 1), make_norm(gate_norm, inter_channels, **norm_kw))
        self.psi = nn.Sequential(nn.Conv2d(inter_channels, 1, 1), make_norm(gate_norm, 1, **norm_kw), nn.Sigmoid())
        self.out_norm = make_norm(gate_norm, channels, **norm_kw)
        self.relu = nn.ReLU(inplace=True)

    def attention(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Return the attention coefficients, shape ``(N, 1, H, W)``."""
        return self.psi(self.relu(self.w_g(g) + self.w_x(x)))

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        return self.out_norm(x * self.attention(x, g))


class Up(nn.Module):
    """Transposed-convolution upsampling, optional attention gate, concatenation, `DoubleConv`."""

    def __init__(self, in_channels: int, out_channels: int, norm: str, attention: bool, **norm_kw) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2)
        self.gate = AttentionGate(out_channels, out_channels // 2, norm, **norm_kw) if attention else None
        self.conv = DoubleConv(2 * out_channels, out_channels, norm, **norm_kw)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        g = self.up(x)
        if self.gate is not None:
            skip = self.gate(skip, g)
        return self.conv(torch.cat([skip, g], dim=1))
