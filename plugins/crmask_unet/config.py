"""`TrainConfig`: everything that determines a U-Net training run; `UNetConfig`: the network's shape.

This module imports neither torch nor the training code, so that the
command line can build its options from `TrainConfig` (and check them) at no cost;
`crmask_unet.training` runs the training it describes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from crmask.cli_options import cli_metadata

from .weights import SCHEMES, Normalisation

__all__ = ["TrainConfig", "UNetConfig", "NORMS", "ARCHITECTURES", "LR_SCHEDULES", "LOSSES", "DEFAULT_SCALES",
           "COSINE_FLOOR", "HOT_PIXELS"]

#: The two published architectures and the normalisation each uses.
ARCHITECTURES = {"deepcr": "batch", "cosmic-conn": "group"}
#: Feature normalisations: deepCR uses BatchNorm, Cosmic-CoNN GroupNorm.
NORMS = ("batch", "group", "none")
#: Learning-rate schedules of `TrainConfig`.
LR_SCHEDULES = ("plateau", "cosine")
#: Losses of `TrainConfig`.
LOSSES = ("bce", "median-bce")
#: Electrons per network input unit of each architecture's original (`TrainConfig.scale`'s default).
DEFAULT_SCALES = {"deepcr": 100.0, "cosmic-conn": 1.0}
#: Final learning rate of the cosine schedule, as a fraction of the initial one.
COSINE_FLOOR = 0.01
#: What training makes of the synthetic frames' hot pixels (`crmask_unet.data.synthetic_pool`).
HOT_PIXELS = ("clean", "ignore")


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
    ema_decay : float or None
        Decay of an exponential moving average of the weights and
        normalisation statistics, updated after every step (Polyak &
        Juditsky 1992; the model EMA of timm); the average is what is
        validated, kept and saved. None: the weights as trained.
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
    ema_decay: float | None = field(default=None, metadata=cli_metadata(low=0, high=1, low_open=True,
                                                                        high_open=True))

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
        if self.ema_decay is not None and not 0 < self.ema_decay < 1:
            raise ValueError(f"ema_decay must be in (0, 1), got {self.ema_decay}")

    def unet_config(self) -> UNetConfig:
        """The U-Net configuration this training builds."""
        return UNetConfig(depth=self.depth, width=self.width, norm=ARCHITECTURES[self.arch],
                          attention=self.attention, bn_momentum=self.bn_momentum,
                          group_eps=self.group_eps)

    def normalisation(self) -> Normalisation:
        """``input_scheme``, else the original's: deepCR divides by a scale, Cosmic-CoNN subtracts the median."""
        scheme = self.input_scheme or ("scale" if self.arch == "deepcr" else "median")
        return Normalisation(scheme, 1.0 if scheme == "noise" else self.scale)
