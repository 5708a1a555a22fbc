"""Group normalisation with statistics measured once on training frames instead of on each image.

A group normalisation (Wu & He 2018) divides each group of feature maps by
the mean and spread of that group over the image it is applied to. In a
cosmic-ray detector the spread of the first feature maps is set by the
cosmic rays themselves: trained on frames with 1000 per megapixel, a
Cosmic-CoNN-style network (Xu et al. 2023) scales the sky noise of a frame
with a few tens of them up to the level of a cosmic ray and flags it, and
its output depends on how the image is cut into tiles.

`measure_group_statistics` records each group normalisation's per-group
mean and variance over calibration inputs (the model's own training frames)
and `fix_group_statistics` replaces every group normalisation by a
`torch.nn.BatchNorm2d` in evaluation mode holding them, per channel, as
running statistics. The network then treats every image alike, whatever its
cosmic-ray density or tiling, and the normalisations fold into the
convolutions before them (`crmask_unet.inference.fold_batch_norm`), as
batch normalisation does at inference.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import torch
from torch import nn

from crmask.exceptions import WeightsError

__all__ = ["KEY_PREFIX", "measure_group_statistics", "fix_group_statistics", "split_group_statistics",
           "fixed_group_statistics"]

#: Prefix of the statistics' tensor names in a weights file:
#: ``group_statistics.<module>.mean`` and ``group_statistics.<module>.var``, per channel.
KEY_PREFIX = "group_statistics."


def _group_norms(network: nn.Module) -> dict[str, nn.GroupNorm]:
    return {name: module for name, module in network.named_modules() if isinstance(module, nn.GroupNorm)}


def measure_group_statistics(network: nn.Module, inputs: Iterable[torch.Tensor]) -> dict[str, torch.Tensor]:
    """Mean over ``inputs`` of each group normalisation's per-group mean and variance, per channel.

    Parameters
    ----------
    network : torch.nn.Module
        A network with `torch.nn.GroupNorm` layers (not changed).
    inputs : iterable of torch.Tensor
        Network inputs of shape ``(1, 1, ny, nx)``, each one image.

    Returns
    -------
    dict of torch.Tensor
        ``{KEY_PREFIX + name + ".mean": tensor, KEY_PREFIX + name + ".var": tensor}``
        for every group normalisation, each of shape ``(channels,)``, float32.

    Raises
    ------
    ValueError
        If the network has no group normalisation or ``inputs`` is empty.
    """
    norms = _group_norms(network)
    if not norms:
        raise ValueError("the network has no group normalisation to measure")
    sums = {name: [torch.zeros(m.num_groups, dtype=torch.float64), torch.zeros(m.num_groups, dtype=torch.float64)]
            for name, m in norms.items()}

    def recorder(name: str, module: nn.GroupNorm):
        def hook(_, args, __):
            grouped = args[0].detach().to(torch.float64).reshape(args[0].shape[0], module.num_groups, -1)
            sums[name][0] += grouped.mean(-1).sum(0)
            sums[name][1] += grouped.var(-1, unbiased=False).sum(0)
        return hook

    handles = [module.register_forward_hook(recorder(name, module)) for name, module in norms.items()]
    count = 0
    was_training = network.training
    network.eval()
    try:
        with torch.inference_mode():
            for x in inputs:
                network(x)
                count += x.shape[0]
    finally:
        for handle in handles:
            handle.remove()
        network.train(was_training)
    if count == 0:
        raise ValueError("no calibration input given")
    stats = {}
    for name, module in norms.items():
        per_channel = module.num_channels // module.num_groups
        for key, total in zip(("mean", "var"), sums[name]):
            stats[f"{KEY_PREFIX}{name}.{key}"] = (total / count).repeat_interleave(per_channel).to(torch.float32)
    return stats


def fix_group_statistics(network: nn.Module, stats: Mapping[str, torch.Tensor]) -> int:
    """Replace every group normalisation of ``network`` by its fixed statistics, in place.

    Each `torch.nn.GroupNorm` (without affine parameters, as `crmask_unet.parts.make_norm`
    builds them) becomes a `torch.nn.BatchNorm2d` without affine parameters, in
    evaluation mode, whose running mean and variance are ``stats``.

    Returns
    -------
    int
        Number of normalisations replaced.

    Raises
    ------
    WeightsError
        If ``stats`` lacks a normalisation of the network, names one it does
        not have, or has a tensor of the wrong shape or with a negative or
        non-finite variance.
    """
    norms = _group_norms(network)
    expected = {f"{KEY_PREFIX}{name}.{key}" for name in norms for key in ("mean", "var")}
    if set(stats) != expected:
        missing, unknown = sorted(expected - set(stats)), sorted(set(stats) - expected)
        raise WeightsError(f"group statistics do not fit the network: missing {missing[:3]}, unknown {unknown[:3]}")
    for name, module in norms.items():
        if module.affine:
            raise WeightsError(f"group normalisation {name!r} has affine parameters; fixed statistics need none")
        mean, var = stats[f"{KEY_PREFIX}{name}.mean"], stats[f"{KEY_PREFIX}{name}.var"]
        if mean.shape != (module.num_channels,) or var.shape != (module.num_channels,):
            raise WeightsError(f"group statistics of {name!r} have shapes {tuple(mean.shape)} and {tuple(var.shape)}; "
                               f"({module.num_channels},) is needed")
        if not (torch.isfinite(mean).all() and torch.isfinite(var).all() and (var >= 0).all()):
            raise WeightsError(f"group statistics of {name!r} are not finite or have a negative variance")
        fixed = nn.BatchNorm2d(module.num_channels, eps=module.eps, affine=False).eval()
        fixed.running_mean.copy_(mean)
        fixed.running_var.copy_(var)
        parent_name, _, child = name.rpartition(".")
        setattr(network.get_submodule(parent_name) if parent_name else network, child, fixed)
    return len(norms)


def split_group_statistics(tensors: dict[str, torch.Tensor]) -> tuple[dict, dict | None]:
    """Split a weights file's tensors into the network's state dict and its group statistics (or `None`)."""
    stats = {key: value for key, value in tensors.items() if key.startswith(KEY_PREFIX)}
    state = {key: value for key, value in tensors.items() if not key.startswith(KEY_PREFIX)}
    return state, (stats or None)


def fixed_group_statistics(network: nn.Module, twin: nn.Module) -> tuple[dict, dict | None]:
    """Split a network whose group normalisations were fixed into its twin's state dict and the statistics.

    ``twin`` is the same architecture with its group normalisations (e.g. a
    fresh `crmask_unet.model.UNet` of the same configuration). Every module
    of ``network`` that is a group normalisation in ``twin`` but a batch
    normalisation here (`fix_group_statistics`) gives its running statistics;
    the rest of ``network``'s state is the twin's, which it loads strictly.

    Returns
    -------
    state : dict of torch.Tensor
        The state dict ``twin`` takes (the weights, without the statistics).
    statistics : dict of torch.Tensor or None
        As `measure_group_statistics` returns them; `None` if nothing was fixed.

    Raises
    ------
    WeightsError
        If the rest of ``network``'s state does not fit ``twin``.
    """
    fixed = [name for name in _group_norms(twin) if isinstance(network.get_submodule(name), nn.BatchNorm2d)]
    if not fixed:
        return network.state_dict(), None
    statistics = {}
    for name in fixed:
        module = network.get_submodule(name)
        statistics[f"{KEY_PREFIX}{name}.mean"] = module.running_mean.detach().clone()
        statistics[f"{KEY_PREFIX}{name}.var"] = module.running_var.detach().clone()
    state = {key: value for key, value in network.state_dict().items() if key.rpartition(".")[0] not in fixed}
    try:
        twin.load_state_dict(state)
    except RuntimeError as exc:
        raise WeightsError(f"the network does not fit its group-norm twin: {exc}") from None
    return state, statistics
