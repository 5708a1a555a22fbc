"""Files of the CAM + random forest filter: network weights, forest, model card.

A model is a directory holding

* ``densenet.safetensors``: the DenseNet state dict (no pickle), with the
  architecture (`~crmask_wfi.camrf.densenet.DenseNetConfig`) as JSON in the
  safetensors metadata together with ``format`` / ``format_version``;
* ``forest.safetensors``: the random forest (`crmask_wfi.camrf.forest`);
* ``model_card.json``: architecture, training data and command, metrics and
  the operating threshold.

The weights shipped with crmask live in `SHIPPED_MODEL_DIR`.
"""

from __future__ import annotations

import json
from pathlib import Path

from crmask.exceptions import CrmaskError

__all__ = [
    "ModelDirectoryError",
    "SHIPPED_MODEL_DIR",
    "DENSENET_FILE",
    "FOREST_FILE",
    "CARD_FILE",
    "DENSENET_FORMAT",
    "DENSENET_FORMAT_VERSION",
    "save_densenet",
    "load_densenet",
    "read_model_card",
    "write_model_card",
    "resolve_model_dir",
]

#: Directory of the trained model shipped with the plugin.
SHIPPED_MODEL_DIR = Path(__file__).resolve().parents[1] / "weights" / "cam_rf"
DENSENET_FILE = "densenet.safetensors"
FOREST_FILE = "forest.safetensors"
CARD_FILE = "model_card.json"
#: ``format`` metadata of a DenseNet weights file.
DENSENET_FORMAT = "crmask-wfi-densenet"
#: Version of that layout, checked on load.
DENSENET_FORMAT_VERSION = 1


class ModelDirectoryError(CrmaskError, FileNotFoundError):
    """A ``wfi-cam-rf`` model directory is missing or lacks one of its files."""


def resolve_model_dir(weights: str | Path | None) -> Path:
    """Return the model directory for a ``weights`` parameter (None: the shipped model).

    Raises
    ------
    ModelDirectoryError
        If the directory or one of its three files is missing.
    """
    directory = SHIPPED_MODEL_DIR if weights is None else Path(weights)
    hint = "train one with `crmask train wfi-cam-rf` or use the shipped weights (weights=None)"
    if not directory.is_dir():
        raise ModelDirectoryError(f"model directory {directory} does not exist; {hint}")
    missing = [name for name in (DENSENET_FILE, FOREST_FILE, CARD_FILE) if not (directory / name).is_file()]
    if missing:
        raise ModelDirectoryError(f"model directory {directory} lacks {', '.join(missing)}; {hint}")
    return directory


def save_densenet(model, path: str | Path, metadata: dict | None = None) -> None:
    """Write a `~crmask_wfi.camrf.densenet.FrameDenseNet` to a safetensors file.

    Parameters
    ----------
    model : FrameDenseNet
    path : str or Path
    metadata : dict, optional
        Extra JSON-serialisable provenance stored under the ``training`` key.
    """
    from safetensors.torch import save_file

    state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    save_file(
        state,
        str(path),
        metadata={
            "format": DENSENET_FORMAT,
            "format_version": str(DENSENET_FORMAT_VERSION),
            "config": json.dumps(model.config.to_dict(), sort_keys=True),
            "training": json.dumps(metadata or {}, sort_keys=True),
        },
    )


def load_densenet(path: str | Path, device: str = "cpu"):
    """Read a DenseNet written by `save_densenet`, in evaluation mode.

    Raises
    ------
    ValueError
        If the file is not a crmask DenseNet file of a known format version,
        or its tensors do not match the stored architecture.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    from .densenet import DenseNetConfig, FrameDenseNet

    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
    if metadata.get("format") != DENSENET_FORMAT:
        raise ValueError(f"{path} is not a {DENSENET_FORMAT} file (format={metadata.get('format')!r})")
    if metadata.get("format_version") != str(DENSENET_FORMAT_VERSION):
        raise ValueError(
            f"{path} has DenseNet format version {metadata.get('format_version')}; "
            f"this crmask reads version {DENSENET_FORMAT_VERSION}"
        )
    model = FrameDenseNet(DenseNetConfig.from_dict(json.loads(metadata["config"])))
    try:
        model.load_state_dict(load_file(str(path)))
    except RuntimeError as exc:
        raise ValueError(f"{path}: weights do not match the stored architecture: {exc}") from None
    return model.to(device).eval()


def read_model_card(directory: str | Path) -> dict:
    """Read ``model_card.json`` of a model directory."""
    return json.loads((Path(directory) / CARD_FILE).read_text())


def write_model_card(directory: str | Path, card: dict) -> None:
    """Write ``model_card.json`` (sorted keys, indented) into a model directory."""
    (Path(directory) / CARD_FILE).write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
