"""`TrainConfig`: everything that determines a U-Net training run, and the options of ``crmask train unet``.

This module imports neither torch nor the training code, so that the
command line can build its options from `TrainConfig` at no cost;
`crmask_unet.training` runs the training it describes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crmask.cli_options import cli_metadata

from .weights import SCHEMES, Normalisation

if TYPE_CHECKING:
    from .model import UNetConfig

__all__ = ["TrainConfig", "ARCHITECTURES", "LR_SCHEDULES", "LOSSES", "DEFAULT_SCALES", "COSINE_FLOOR"]

#: The two published architectures and the normalisation each uses.
ARCHITECTURES = {"deepcr": "batch", "cosmic-conn": "group"}
#: Learning-rate schedules of `TrainConfig`.
LR_SCHEDULES = ("plateau", "cosine")
#: Losses of `TrainConfig`.
LOSSES = ("bce", "median-bce")
#: Electrons per network input unit of each architecture's original (`TrainConfig.scale`'s default).
DEFAULT_SCALES = {"deepcr": 100.0, "cosmic-conn": 1.0}
#: Final learning rate of the cosine schedule, as a fraction of the initial one.
COSINE_FLOOR = 0.01


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (recorded in the model card).

    Each attribute is also an option of ``crmask train unet``
    (`crmask.cli_options.config_options`), with this default and this text
    as its help.

    Attributes
    ----------
    arch : {"deepcr", "cosmic-conn"}
        Batch-norm deepCR or group-norm Cosmic-CoNN U-Net.
    attention : bool
        Attention gates on the skip connections.
    depth : int
        Levels of the U-Net (poolings); the receptive field grows with it
        (UNet-3-32 is the published shape).
    width : int
        Channels of level 1.
    patch : int
        Side of the square training patches, in pixels.
    batch_size : int
        Patches per optimisation step.
    epochs : int
        Training epochs (each ends with a validation and a checkpoint).
    steps_per_epoch : int
        Optimisation steps per epoch.
    lr : float
        Initial Adam learning rate (0.005 in the paper).
    loss : {"bce", "median-bce"}
        Plain binary cross-entropy, or Cosmic-CoNN's median-weighted BCE
        (Xu et al. 2023) whose weight floor rises linearly to 1 over
        ``alpha_epochs``.
    alpha_epochs : int
        Epochs over which the median-weighted loss becomes plain BCE.
    border_weight : float
        Loss weight of the non-CR pixels bordering each cosmic ray
        (`crmask_unet.losses.border_weights`, after Ronneberger et al.
        2015); 1: plain BCE.
    border_width : int
        Width of that border, pixels.
    scale : float or None
        Electrons per unit of network input (the normalisation's scale);
        default: the architecture's own, as the originals: 100 for deepCR,
        1 for Cosmic-CoNN (`DEFAULT_SCALES`; `None` is replaced by it when
        the configuration is made).
    input_scheme : {"scale", "median", "noise"} or None
        Input normalisation (see `crmask_unet.detector.normalise`): deepCR's
        scale, Cosmic-CoNN's median subtraction, or noise units
        (background-subtracted, over the per-pixel noise); default: the
        architecture's own (``"scale"`` for deepCR, ``"median"`` for
        Cosmic-CoNN). With ``"noise"`` the sky augmentation adds the Poisson
        noise of the added sky (an offset without noise would not change
        noise-unit input).
    bn_momentum : float
        Batch-norm running-statistics momentum (0.005 in deepCR).
    group_eps : float
        Variance floor of group normalisation (cosmic-conn,
        `crmask_unet.model.UNetConfig`); 1 keeps sky noise from being scaled
        up in tiles without cosmic rays.
    bn_train_fraction : float
        Fraction of epochs with batch statistics before they are frozen
        (deepcr).
    sky_low : float
        Lowest factor of deepCR's sky augmentation.
    sky_high : float
        Highest factor of deepCR's sky augmentation.
    lr_schedule : {"plateau", "cosine"}
        ``"plateau"``: the learning rate drops tenfold after ``patience``
        epochs without 0.1 % validation-loss improvement (the papers').
        ``"cosine"``: it falls from ``lr`` to `COSINE_FLOOR` times ``lr``
        along a half cosine over all the steps of ``epochs`` (a run extended
        on resume continues along the longer run's curve).
    patience : int
        Epochs without 0.1 % validation-loss improvement before the learning
        rate drops tenfold (``"plateau"`` only).
    seed : int
        Seed of the weights' initialisation and of every batch (``crmask
        train unet`` also draws its frames and injections with it).
    """

    arch: str = field(default="cosmic-conn", metadata=cli_metadata(choices=tuple(ARCHITECTURES)))
    attention: bool = False
    depth: int = field(default=3, metadata=cli_metadata(low=1, high=6))
    width: int = field(default=32, metadata=cli_metadata(low=2, high=256))
    patch: int = field(default=128, metadata=cli_metadata(low=16, high=2048))
    batch_size: int = field(default=8, metadata=cli_metadata(low=1, high=1024))
    epochs: int = field(default=10, metadata=cli_metadata(low=1, high=10000))
    steps_per_epoch: int = field(default=100, metadata=cli_metadata(low=1, high=10**6))
    lr: float = 0.005
    loss: str = field(default="bce", metadata=cli_metadata(choices=LOSSES))
    alpha_epochs: int = field(default=5, metadata=cli_metadata(low=1))
    border_weight: float = field(default=1.0, metadata=cli_metadata(low=0, low_open=True))
    border_width: int = field(default=1, metadata=cli_metadata(low=1, high=8))
    scale: float | None = None
    input_scheme: str | None = field(default=None, metadata=cli_metadata(choices=SCHEMES, name="--input"))
    bn_momentum: float = field(default=0.005, metadata=cli_metadata(low=0, high=1))
    group_eps: float = field(default=1e-5, metadata=cli_metadata(low=0, low_open=True))
    bn_train_fraction: float = field(default=0.4, metadata=cli_metadata(low=0, high=1))
    sky_low: float = -0.9
    sky_high: float = 3.0
    lr_schedule: str = field(default="plateau", metadata=cli_metadata(choices=LR_SCHEDULES))
    patience: int = field(default=4, metadata=cli_metadata(low=0))
    seed: int = 0

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"arch must be one of {sorted(ARCHITECTURES)}, got {self.arch!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be 'bce' or 'median-bce', got {self.loss!r}")
        for name in ("patch", "batch_size", "epochs", "steps_per_epoch", "alpha_epochs", "border_width"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.patch % self.unet_config().multiple:
            raise ValueError(f"patch {self.patch} must be a multiple of {self.unet_config().multiple}")
        if self.input_scheme is not None and self.input_scheme not in SCHEMES:
            raise ValueError(f"input_scheme must be one of {SCHEMES}, got {self.input_scheme!r}")
        if self.scale is None:
            object.__setattr__(self, "scale", DEFAULT_SCALES[self.arch])
        if not (self.lr > 0 and self.scale > 0 and self.border_weight > 0):
            raise ValueError("lr, scale and border_weight must be positive")

    def unet_config(self) -> UNetConfig:
        """The U-Net configuration this training builds."""
        from .model import UNetConfig

        return UNetConfig(depth=self.depth, width=self.width, norm=ARCHITECTURES[self.arch],
                          attention=self.attention, bn_momentum=self.bn_momentum,
                          group_eps=self.group_eps)

    def normalisation(self) -> Normalisation:
        """``input_scheme``, else the original's: deepCR divides by a scale, Cosmic-CoNN subtracts the median."""
        scheme = self.input_scheme or ("scale" if self.arch == "deepcr" else "median")
        return Normalisation(scheme, 1.0 if scheme == "noise" else self.scale)
