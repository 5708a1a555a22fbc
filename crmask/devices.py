"""Where a learned detector or event filter runs: one ``device`` parameter and one rule for it.

torch is imported only when a device is resolved, so importing crmask or a
plugin never imports it.
"""

from __future__ import annotations

from .params import Param

__all__ = ["DEVICE_CHOICES", "device_param", "resolve_device"]

#: Values of every ``device`` parameter.
DEVICE_CHOICES = ("auto", "cpu", "cuda")


def device_param() -> Param:
    """The ``device`` declaration shared by the learned detectors and event filters."""
    return Param("auto", "Where the network runs; auto: CUDA when torch sees a GPU, else the CPU", type=str,
                 choices=DEVICE_CHOICES)


def resolve_device(choice: str) -> str:
    """Turn a ``device`` parameter into ``"cpu"`` or ``"cuda"``.

    Parameters
    ----------
    choice : {"auto", "cpu", "cuda"}
        ``"auto"`` is CUDA when torch sees a GPU, else the CPU.

    Raises
    ------
    ValueError
        If ``choice`` is not one of `DEVICE_CHOICES`, or ``"cuda"`` is asked for
        and torch finds no CUDA device.
    """
    if choice not in DEVICE_CHOICES:
        raise ValueError(f"parameter 'device' must be one of {DEVICE_CHOICES}, got {choice!r}")
    if choice == "cpu":
        return "cpu"
    import torch

    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available():
        raise ValueError("parameter 'device' is 'cuda' but torch finds no CUDA device; use 'cpu' or 'auto'")
    return "cuda"
