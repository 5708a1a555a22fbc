"""The DenseNet frame classifier of Poliszczuk et al. (2024, §3.2).

A 64×64 sub-frame (in keV) is classified as empty, X-ray only, cosmic ray
only or mixed. The network keeps a 16×16 final resolution so that its last
convolutional features give class activation maps (`crmask_wfi.camrf.cam`):

* initial block: 7×7 convolution with stride 2, BatchNorm, ReLU and a 3×3
  max-pool with stride 2 (as in Huang et al. 2017), 64 features, 64 → 16 px;
* two dense blocks of five layers (BatchNorm, ReLU, 3×3 convolution with
  ``growth_rate`` outputs, dropout), each layer fed the concatenation of every
  earlier output of its block;
* between them a transition of BatchNorm, ReLU and a 1×1 convolution *without*
  the usual average pooling, which would halve the 16×16 resolution the CAMs
  need;
* a final BatchNorm and ReLU whose output ``a_i(x, y)`` is what the CAMs
  weigh, global average pooling, and one linear layer to the four classes.

The input transform (``asinh`` of the energy in units of the read noise,
then standardised with constants fitted on the training set) lives in
buffers of the module, so the saved weights are self-contained.

This module imports torch; import it only when the network is needed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..sim.physics import KEV_PER_ELECTRON, READNOISE_E
from ..sim.simfile import FRAME_CLASS_NAMES

__all__ = ["FRAME_CLASSES", "DenseNetConfig", "FrameDenseNet"]

#: Class names in the order of the network's outputs (the sub-frame classes of the data sets).
FRAME_CLASSES = FRAME_CLASS_NAMES


@dataclass(frozen=True)
class DenseNetConfig:
    """Architecture hyper-parameters (defaults: Poliszczuk et al. 2024, §3.2).

    Attributes
    ----------
    initial_features : int
        Channels of the initial convolution block.
    growth_rate : int
        Channels each dense layer adds.
    layers_per_block : tuple of int
        Number of layers in each dense block.
    dropout : float
        Dropout probability after every dense-layer convolution.
    n_classes : int
        Output classes (empty, X-ray, CR, mixed).
    input_scale_kev : float
        Energy unit of the ``asinh`` input transform, in keV (the 7 e⁻ read
        noise at 3.65 eV per pair).
    """

    initial_features: int = 64
    growth_rate: int = 12
    layers_per_block: tuple[int, ...] = (5, 5)
    dropout: float = 0.2
    n_classes: int = len(FRAME_CLASSES)
    input_scale_kev: float = READNOISE_E * KEV_PER_ELECTRON

    def to_dict(self) -> dict:
        """Return the configuration as JSON-serialisable values."""
        data = asdict(self)
        data["layers_per_block"] = list(self.layers_per_block)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "DenseNetConfig":
        """Build a configuration from `to_dict` output."""
        data = dict(data)
        data["layers_per_block"] = tuple(data["layers_per_block"])
        return cls(**data)


class _DenseLayer(nn.Sequential):
    def __init__(self, in_channels: int, growth_rate: int, dropout: float) -> None:
        super().__init__(
            nn.BatchNorm2d(in_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(in_channels, growth_rate, kernel_size=3, padding=1, bias=False),
            nn.Dropout(dropout),
        )


class _DenseBlock(nn.Module):
    def __init__(self, in_channels: int, n_layers: int, growth_rate: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            _DenseLayer(in_channels + i * growth_rate, growth_rate, dropout) for i in range(n_layers)
        )
        self.out_channels = in_channels + n_layers * growth_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, dim=1)))
        return torch.cat(features, dim=1)


class _Transition(nn.Sequential):
    """BatchNorm, ReLU and 1×1 convolution; no pooling (keeps 16×16)."""

    def __init__(self, channels: int) -> None:
        super().__init__(
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, kernel_size=1, bias=False),
        )


class FrameDenseNet(nn.Module):
    """Four-class 64×64 sub-frame classifier with CAM-ready last features.

    Parameters
    ----------
    config : DenseNetConfig, optional
        Architecture; default: Poliszczuk et al. (2024, §3.2).

    Notes
    -----
    `forward` takes frames in keV of shape ``(batch, 1, 64, 64)`` (any
    multiple of 4 works) and returns logits ``(batch, 4)``. `features`
    returns the last convolutional activations ``a_i(x, y)`` at a quarter of
    the input resolution; ``classifier`` holds the weights ``w_i^k`` and bias.
    """

    def __init__(self, config: DenseNetConfig | None = None) -> None:
        super().__init__()
        self.config = config or DenseNetConfig()
        cfg = self.config
        self.register_buffer("input_mean", torch.zeros(()))
        self.register_buffer("input_std", torch.ones(()))
        layers: list[nn.Module] = [
            nn.Conv2d(1, cfg.initial_features, kernel_size=7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(cfg.initial_features),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        ]
        channels = cfg.initial_features
        for index, n_layers in enumerate(cfg.layers_per_block):
            block = _DenseBlock(channels, n_layers, cfg.growth_rate, cfg.dropout)
            layers.append(block)
            channels = block.out_channels
            if index < len(cfg.layers_per_block) - 1:
                layers.append(_Transition(channels))
        layers += [nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*layers)
        self.classifier = nn.Linear(channels, cfg.n_classes)
        self.n_features = channels

    def transform(self, frames_kev: torch.Tensor) -> torch.Tensor:
        """Map energies in keV to the standardised network input."""
        scaled = torch.asinh(frames_kev / self.config.input_scale_kev)
        return (scaled - self.input_mean) / self.input_std

    def set_input_statistics(self, frames_kev: torch.Tensor) -> None:
        """Fit the input standardisation on a sample of training frames (keV)."""
        scaled = torch.asinh(frames_kev.double() / self.config.input_scale_kev)
        self.input_mean.fill_(float(scaled.mean()))
        self.input_std.fill_(float(scaled.std()))

    def features(self, frames_kev: torch.Tensor) -> torch.Tensor:
        """Last convolutional activations ``a_i(x, y)``, shape ``(batch, C, H/4, W/4)``."""
        return self.body(self.transform(frames_kev))

    def forward(self, frames_kev: torch.Tensor) -> torch.Tensor:
        """Class logits, shape ``(batch, n_classes)``."""
        return self.classifier(self.features(frames_kev).mean(dim=(2, 3)))

