"""A trained U-Net made ready for fast inference, with the same output.

Two rewrites that change no result beyond float rounding:

- every batch normalisation that directly follows a convolution is folded into
  that convolution's weights and bias (``torch.nn.utils.fusion.fuse_conv_bn_eval``),
  which removes one pass over the feature maps per layer;
- the network and its input use the channels-last memory format, for which
  oneDNN's CPU convolutions are about twice as fast as in the default layout
  with the few channels of these U-Nets (``benchmarks/bench_unet_speed.py``).

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

__all__ = ["fold_batch_norm", "prepare_for_inference", "MEMORY_FORMAT"]

#: Memory format of the prepared network and of its input.
MEMORY_FORMAT = torch.channels_last


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


def prepare_for_inference(network: nn.Module) -> nn.Module:
    """Return a copy of ``network`` for inference: batch norms folded, channels-last, evaluation mode.

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
    for parameter in prepared.parameters():
        parameter.requires_grad_(False)
    return prepared.to(memory_format=MEMORY_FORMAT)
