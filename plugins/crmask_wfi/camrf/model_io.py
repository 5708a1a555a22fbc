"""Files of the CAM + random forest filter: network weights, forest, model card.

A model is a directory holding

* ``densenet.safetensors``: the DenseNet state dict (no pickle), with the
  architecture (`~crmask_wfi.camrf.densenet.DenseNetConfig`) as JSON in the
  safetensors metadata together with ``format`` / ``format_version``;
* ``forest.safetensors``: the random forest (`crmask_wfi.camrf.forest`);
* ``model_card.json``: the model card (`crmask.models`): name, detector,
  the two files with their SHA-256, architecture, training data and command,
  metrics and the operating threshold.

The model shipped with crmask lives in `SHIPPED_MODEL_DIR` and is registered
as `SHIPPED_MODEL` (``crmask models``). Loading checks each file against the
SHA-256 its card records (`verify_model_files`).
"""

from __future__ import annotations

import json
from pathlib import Path

from crmask.exceptions import WeightsError
from crmask.models import card_sha256, describe_models, find_model, read_card, verify_file

__all__ = [
    "ModelDirectoryError",
    "SHIPPED_MODEL",
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
    "verify_model_files",
]

#: Name of the shipped model (``arch.tag``), the filter's default ``weights``.
SHIPPED_MODEL = "wfi-cam-rf.simulated"
#: Directory of the trained model shipped with the plugin.
SHIPPED_MODEL_DIR = Path(__file__).resolve().parents[1] / "weights" / "cam_rf"
DENSENET_FILE = "densenet.safetensors"
FOREST_FILE = "forest.safetensors"
CARD_FILE = "model_card.json"
#: ``format`` metadata of a DenseNet weights file.
DENSENET_FORMAT = "crmask-wfi-densenet"
#: Version of that layout, checked on load.
DENSENET_FORMAT_VERSION = 1


class ModelDirectoryError(WeightsError, FileNotFoundError):
    """A ``wfi-cam-rf`` model is unknown, or its directory is missing or lacks one of its files."""


def resolve_model_dir(weights: str | Path | None) -> Path:
    """Return the model directory for a ``weights`` parameter.

    Parameters
    ----------
    weights : str, Path or None
        A shipped model name (``crmask models``), a model directory, or
        `None` for the shipped model.

    Raises
    ------
    ModelDirectoryError
        If ``weights`` names no shipped model and no directory, or the
        directory lacks one of its three files.
    WeightsError
        If ``weights`` names a model of another detector.
    """
    from .filter import CamRandomForestFilter

    detector = CamRandomForestFilter.name
    is_name = isinstance(weights, str) and "/" not in weights and "\\" not in weights
    info = find_model(weights, detector) if is_name else None
    if weights is None:
        directory = SHIPPED_MODEL_DIR
    else:
        directory = info.card.parent if info is not None else Path(weights)
    if not directory.is_dir():
        problem = (f"weights {weights!r} is neither a shipped model nor a model directory" if is_name
                   else f"model directory {directory} does not exist")
    else:
        missing = [file for file in (DENSENET_FILE, FOREST_FILE, CARD_FILE)
                   if not (directory / file).is_file()]
        problem = f"model directory {directory} lacks {', '.join(missing)}" if missing else ""
    if problem:
        raise ModelDirectoryError(f"{problem}; train one with `crmask train {detector}` or use a shipped "
                                  f"model ({describe_models(detector)})")
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
    WeightsError
        If the file is not a crmask DenseNet file of a known format version,
        or its tensors do not match the stored architecture.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    from .densenet import DenseNetConfig, FrameDenseNet

    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
    if metadata.get("format") != DENSENET_FORMAT:
        raise WeightsError(f"{path} is not a {DENSENET_FORMAT} file (format={metadata.get('format')!r})")
    if metadata.get("format_version") != str(DENSENET_FORMAT_VERSION):
        raise WeightsError(
            f"{path} has DenseNet format version {metadata.get('format_version')}; "
            f"this crmask reads version {DENSENET_FORMAT_VERSION}"
        )
    model = FrameDenseNet(DenseNetConfig.from_dict(json.loads(metadata["config"])))
    try:
        model.load_state_dict(load_file(str(path)))
    except RuntimeError as exc:
        raise WeightsError(f"{path}: weights do not match the stored architecture: {exc}") from None
    return model.to(device).eval()


def read_model_card(directory: str | Path) -> dict:
    """Read ``model_card.json`` of a model directory.

    Raises
    ------
    WeightsError
        If it is not a JSON object.
    """
    return read_card(Path(directory) / CARD_FILE)


def verify_model_files(directory: str | Path, card: dict) -> None:
    """Check the DenseNet and forest files against the SHA-256 the model card records for them.

    A card without checksums (a model trained before cards recorded them)
    is not checked.

    Raises
    ------
    WeightsError
        If a file differs from its checksum: it was modified or corrupted.
    """
    for file in (DENSENET_FILE, FOREST_FILE):
        sha256 = card_sha256(card, file)
        if sha256 is not None:
            verify_file(Path(directory) / file, sha256)


def write_model_card(directory: str | Path, card: dict) -> None:
    """Write ``model_card.json`` (sorted keys, indented) into a model directory."""
    (Path(directory) / CARD_FILE).write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
