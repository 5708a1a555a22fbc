"""A trained U-Net made ready for fast inference, with the same output.

Three rewrites that change no result beyond float rounding:

- every batch normalisation that directly follows a convolution is folded into
  that convolution's weights and bias (``torch.nn.utils.fusion.fuse_conv_bn_eval``),
  which removes one pass over the feature maps per layer;
- the first convolution after each skip connection, which reads the
  concatenation of the skip and the upsampled features, is split into one
  convolution of each whose outputs are added (`SplitUp`): the concatenated
  copy is never made (about 13% of a UNet-3-16's time on one CPU thread);
- the network and its input use the channels-last memory format, for which
  oneDNN's CPU convolutions are about twice as fast as in the default layout
  with the few channels of these U-Nets (``benchmarks/bench_unet_speed.py``).

`predict_mirrored` is no rewrite: it averages the probabilities of an
image and its mirror images (test-time augmentation), which changes the
result, so a model card chooses it (``mirrors``) on real validation frames.

Group normalisation (Cosmic-CoNN) and the batch normalisation that follows
an attention gate's product have no convolution to fold into and stay as
they are. Reduced precision (bfloat16) is left out: it changes probabilities
by about 1e-2.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from .mirrors import MIRRORS

__all__ = ["fold_batch_norm", "SplitUp", "prepare_for_inference", "predict_mirrored", "MEMORY_FORMAT"]

#: Memory format of the prepared network and of its input.
MEMORY_FORMAT = torch.channels_last


def predict_mirrored(network: nn.Module, tensor: torch.Tensor, mirrors: str = "none") -> torch.Tensor:
    """Cosmic-ray probability of ``tensor`` averaged over a set of its mirror images.

    The images (`crmask_unet.mirrors.MIRRORS`) go through ``network`` as
    one batch, each is flipped back, and their mean is returned. A cosmic
    ray is a cosmic ray in a mirror, but a network's errors are not
    mirror-symmetric, so the mean is steadier than one map (test-time
    augmentation).

    Parameters
    ----------
    network : torch.nn.Module
        A network with ``predict_proba`` (`crmask_unet.model.UNet`).
    tensor : torch.Tensor
        Input of shape ``(N, 1, H, W)``.
    mirrors : str
        Name of the set of images (a key of `crmask_unet.mirrors.MIRRORS`):
        ``"none"`` the image only, ``"left-right"``, ``"up-down"`` or
        ``"half-turn"`` the image and one mirror image, ``"all"`` the four.

    Returns
    -------
    torch.Tensor
        Probabilities, shape ``(N, 1, H, W)``.
    """
    if mirrors not in MIRRORS:
        raise ValueError(f"mirrors must be one of {list(MIRRORS)}, got {mirrors!r}")
    axes = MIRRORS[mirrors]
    batch = torch.cat([tensor.flip(dims) if dims else tensor for dims in axes])
    prob = network.predict_proba(batch.contiguous(memory_format=MEMORY_FORMAT))
    images = [p.flip(dims) if dims else p for p, dims in zip(prob.split(len(tensor)), axes)]
    return images[0] if len(images) == 1 else torch.stack(images).mean(0)


def fold_batch_norm(module: nn.Module) -> int:
    """Fold every ``BatchNorm2d`` that follows a ``Conv2d`` in an ``nn.Sequential`` into the convolution.

    The module is changed in place and must be in evaluation mode (the
    running statistics are folded); each folded normalisation becomes an
    ``nn.Identity``, so the modules keep their positions.

    Parameters
    ----------
    module : torch.nn.Module
        Network in evaluation mode.

    Returns
    -------
    int
        Number of batch normalisations folded.

    Raises
    ------
    ValueError
        If ``module`` is in training mode.
    """
    if module.training:
        raise ValueError("fold_batch_norm needs a network in evaluation mode (it folds the running statistics)")
    folded = 0
    for sequence in [m for m in module.modules() if isinstance(m, nn.Sequential)]:
        for i in range(len(sequence) - 1):
            conv, norm = sequence[i], sequence[i + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
                sequence[i] = fuse_conv_bn_eval(conv, norm)
                sequence[i + 1] = nn.Identity()
                folded += 1
    return folded


class SplitUp(nn.Module):
    """An `~crmask_unet.parts.Up` block that convolves its two inputs apart instead of concatenating them.

    ``conv(cat([skip, g]))`` equals ``conv_skip(skip) + conv_g(g)`` with the
    convolution's weights split along the input channels (the bias kept once).

    Parameters
    ----------
    up : crmask_unet.parts.Up
        The block to rewrite (its modules are shared, not copied).
    """

    def __init__(self, up: nn.Module) -> None:
        super().__init__()
        first = up.conv[0]
        half = first.in_channels // 2
        self.up, self.gate = up.up, up.gate
        self.conv_skip = nn.Conv2d(half, first.out_channels, first.kernel_size, padding=first.padding)
        self.conv_g = nn.Conv2d(half, first.out_channels, first.kernel_size, padding=first.padding, bias=False)
        with torch.no_grad():
            self.conv_skip.weight.copy_(first.weight[:, :half])
            self.conv_skip.bias.copy_(first.bias)
            self.conv_g.weight.copy_(first.weight[:, half:])
        self.rest = nn.Sequential(*list(up.conv)[1:])

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        g = self.up(x)
        if self.gate is not None:
            skip = self.gate(skip, g)
        return self.rest(self.conv_skip(skip).add_(self.conv_g(g)))


def prepare_for_inference(network: nn.Module) -> nn.Module:
    """Return a copy of ``network`` for inference: batch norms folded, concatenations split, channels-last.

    Feed it input converted with ``tensor.contiguous(memory_format=MEMORY_FORMAT)``.
    The original network is not changed.

    Parameters
    ----------
    network : torch.nn.Module
        Trained U-Net.

    Returns
    -------
    torch.nn.Module
    """
    prepared = copy.deepcopy(network).eval()
    fold_batch_norm(prepared)
    prepared.ups = nn.ModuleList(SplitUp(up) for up in prepared.ups)
    for parameter in prepared.parameters():
        parameter.requires_grad_(False)
    return prepared.to(memory_format=MEMORY_FORMAT)
