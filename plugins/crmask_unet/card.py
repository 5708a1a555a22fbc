"""Model cards: what a shipped or user-trained model is and how it was made."""

from __future__ import annotations

import json
import platform
from dataclasses import asdict
from pathlib import Path
from typing import Any

from crmask.provenance import git_commit

from .model import count_parameters
from .training import MIN_EVENT_COMPLETENESS, TrainConfig, TrainResult
from .weights import detector_name, file_sha256, model_name, save_weights

__all__ = ["save_trained"]

#: How ``summary`` names each input normalisation.
_NORM_WORDS = {"scale": "input in units of {scale:g} e-", "median": "median-subtracted input",
               "noise": "noise-unit input"}
_NORM_DESCRIPTIONS = {
    "scale": "image in electrons divided by scale",
    "median": "image in electrons minus its median, divided by scale",
    "noise": "image in electrons minus its median, over the per-pixel noise sqrt(sigma_b^2 + source charge), "
             "sigma_b the background noise measured on the image",
}


def save_trained(
    result: TrainResult,
    config: TrainConfig,
    path: str | Path,
    *,
    command: str,
    training_data: dict[str, Any],
    selected_on: str = "synthetic",
    source_commit: str | None = None,
) -> tuple[Path, Path]:
    """Write a trained model (safetensors) and its JSON model card beside it.

    The card (`crmask.models`) names the model ``<detector>.<tag>``, the tag
    being the file name less a leading ``<detector>-``
    (`crmask_unet.weights.model_name`), so a card written into the plugin's
    ``weights`` folder registers the model under that name and the file name.

    Parameters
    ----------
    result : TrainResult
    config : TrainConfig
    path : path
        Weights file to write (``.safetensors``); the card is ``<stem>.json``.
    command : str
        Exact command that reproduces the model.
    training_data : dict
        Description of the training and validation data.
    selected_on : str
        Which validation set chose the epoch and the threshold (``"real"``
        or ``"synthetic"``).
    source_commit : str, optional
        Git commit of the code the training ran (`crmask.provenance.git_commit`
        when it started); default: the commit now.

    Returns
    -------
    weights_path, card_path : Path
    """
    import torch

    import crmask

    path = Path(path)
    detector = detector_name(config.arch, config.attention)
    norm = config.normalisation()
    save_weights(path, result.model, config.arch, norm, threshold=result.threshold)
    description = (f"UNet-{config.depth}-{config.width}, "
                   f"{'BatchNorm' if config.arch == 'deepcr' else 'GroupNorm (no affine)'}"
                   f"{', additive attention gates' if config.attention else ''}")
    summary = (f"{description}, {_NORM_WORDS[norm.scheme].format(scale=norm.scale)}; epoch and threshold chosen on "
               f"{selected_on} validation frames")
    initial = training_data.get("initial_weights")
    if initial is not None:
        summary += f"; fine-tuned from {initial['weights']}"
        if initial.get("fixed_group_statistics"):
            summary += " under its fixed group statistics"
    card = {
        "name": model_name(detector, path.stem),
        "detector": detector,
        "summary": summary,
        "weights_file": path.name,
        "sha256": file_sha256(path),
        "architecture": {
            **result.model.config.to_dict(),
            "arch": config.arch,
            "trainable_parameters": count_parameters(result.model),
            "description": description,
        },
        "normalisation": {
            "scheme": norm.scheme,
            "scale": norm.scale,
            "description": _NORM_DESCRIPTIONS[norm.scheme],
        },
        "training_data": training_data,
        "training": {**asdict(config), "command": command},
        "epochs": config.epochs,
        "validation": {"selected_on": selected_on, "best_epoch": result.best, "history": result.history},
        "threshold": result.threshold,
        "threshold_rule": f"maximum pixel F1 on the {selected_on} validation frames (grid 0.05..0.95) among "
                          f"thresholds that find >= {MIN_EVENT_COMPLETENESS:.0%} of their cosmic rays",
        "software": {"crmask": crmask.__version__, "git_commit": source_commit or git_commit(Path(__file__).parent),
                     "torch": torch.__version__, "python": platform.python_version()},
    }
    card_path = path.with_suffix(".json")
    card_path.write_text(json.dumps(card, indent=1) + "\n")
    return path, card_path
