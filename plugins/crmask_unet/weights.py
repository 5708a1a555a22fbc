"""Saving and loading U-Net weights without pickle.

A weights file is a ``.safetensors`` file whose metadata holds the U-Net
configuration and the input normalisation, so the file alone rebuilds the
model, architecture included. Shipped models live in this package's
``weights/`` folder, each with a JSON model card (`crmask.models`) that
names it ``arch.tag`` (``deepcr.general-16``), records how it was trained
and the SHA-256 of its weights file, checked on every load. They are
registered in `crmask.models`, where each also answers to the name of its
files (``deepcr-general-16``), its name before the registry.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crmask.exceptions import WeightsError
from crmask.models import card_sha256, describe_models, file_sha256, find_model, read_card, verify_file

from .mirrors import MIRRORS

__all__ = [
    "WeightsError",
    "Normalisation",
    "LoadedWeights",
    "WEIGHTS_DIR",
    "SCHEMES",
    "shipped_cards",
    "shipped_models",
    "read_card",
    "detector_name",
    "model_name",
    "resolve_weights",
    "save_weights",
    "load_weights",
    "file_sha256",
    "tensor_digest",
]

#: Folder of the shipped models.
WEIGHTS_DIR = Path(__file__).parent / "weights"
_FORMAT = "crmask-unet/1"
#: Input normalisation schemes: deepCR's fixed scale, Cosmic-CoNN's median subtraction, and noise units.
SCHEMES = ("scale", "median", "noise")


@dataclass(frozen=True)
class Normalisation:
    """How an image in electrons becomes network input.

    Attributes
    ----------
    scheme : {"scale", "median", "noise"}
        ``"scale"`` (deepCR): divide by ``scale``. ``"median"``
        (Cosmic-CoNN): subtract the image median, then divide by ``scale``
        (1 in Cosmic-CoNN). ``"noise"``: background-subtracted image in
        units of its per-pixel noise (`crmask_unet.detector.normalise`).
    scale : float
        Electrons per unit of network input.
    """

    scheme: str
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise ValueError(f"normalisation scheme must be one of {SCHEMES}, got {self.scheme!r}")
        if not self.scale > 0:
            raise ValueError(f"normalisation scale must be positive, got {self.scale!r}")


@dataclass(frozen=True)
class LoadedWeights:
    """A model read from a weights file: configuration, tensors and metadata."""

    config: Any  # UNetConfig
    normalisation: Normalisation
    arch: str
    state_dict: dict
    threshold: float | None
    source: str
    #: Wing growth chosen for the model (``{"nsigma": ..., "weight": ...}``, see
    #: `crmask.growth.grow_probability`), or `None`.
    wings: dict[str, float] | None = None
    #: Fixed group-normalisation statistics (`crmask_unet.group_statistics`), or `None`: group
    #: normalisations then use each image's own statistics.
    group_statistics: dict | None = None
    #: Mirror images the probability is averaged over (a key of `crmask_unet.mirrors.MIRRORS`), as chosen for the
    #: model.
    mirrors: str = "none"
    #: Isolated one-pixel hits flagged beside the network (``{"nsigma": ..., "ratio": ...}``, see
    #: `crmask.isolated.isolated_hits`), or `None`.
    hits: dict[str, float] | None = None
    #: Bright structures shown to the network again dimmed (``{"nsigma": ..., "target": ...}``, see
    #: `crmask_unet.bright.rescale_bright`), or `None`.
    bright: dict[str, float] | None = None

    @property
    def detector(self) -> str:
        """The detector these weights are for (`detector_name` of their architecture)."""
        return detector_name(self.arch, self.config.attention)

    def network(self):
        """The U-Net of these weights in evaluation mode, its group statistics fixed where it carries them.

        Raises
        ------
        WeightsError
            If the tensors do not fit the configuration, or the group statistics the network.
        """
        from .group_statistics import fix_group_statistics
        from .model import UNet

        network = UNet(self.config)
        try:
            network.load_state_dict(self.state_dict)
        except RuntimeError as exc:
            raise WeightsError(f"weights {self.source} do not fit their configuration: {exc}") from None
        if self.group_statistics is not None:
            fix_group_statistics(network, self.group_statistics)
        return network.eval()


def detector_name(arch: str, attention: bool) -> str:
    """The detector that loads a U-Net of architecture ``arch``: ``deepcr`` or ``att-deepcr``, and so on."""
    return ("att-" if attention else "") + arch


def model_name(detector: str, stem: str) -> str:
    """The ``arch.tag`` name of a model of ``detector`` saved as ``<stem>.safetensors``.

    >>> model_name("deepcr", "deepcr-general-16")
    'deepcr.general-16'
    """
    return f"{detector}.{stem.removeprefix(detector + '-')}"


def shipped_cards() -> list[Path]:
    """Model cards of the shipped models (``WEIGHTS_DIR/*.json``), in file-name order."""
    return sorted(WEIGHTS_DIR.glob("*.json"))


def shipped_models() -> dict[str, dict[str, Any]]:
    """Model cards of the shipped models, by model name (``arch.tag``)."""
    cards = {}
    for path in shipped_cards():
        card = read_card(path)
        cards[card.get("name", path.stem)] = card
    return cards


def _locate(weights: str, detector: str | None) -> tuple[Path, dict[str, Any] | None, str | None]:
    """Weights file, model card and the SHA-256 it records, of a shipped model name or a file path."""
    if "/" not in weights and "\\" not in weights:
        info = find_model(weights, detector)
        if info is not None:
            if len(info.files) != 1:
                raise WeightsError(f"model {info.name!r} has {len(info.files)} files; "
                                   "U-Net weights are one file")
            (file,) = info.files
            return file.path, info.read_card(), file.sha256
    path = Path(weights).expanduser()
    if path.is_file():
        sidecar = path.with_suffix(".json")
        card = read_card(sidecar) if sidecar.is_file() else None
        return path, card, None if card is None else card_sha256(card, path.name)
    raise WeightsError(f"weights {weights!r} is neither a shipped model nor an existing file; "
                       f"{describe_models(detector)}")


def resolve_weights(weights: str, detector: str | None = None) -> tuple[Path, dict[str, Any] | None]:
    """Turn a shipped model name (or alias) or a file path into a path and its model card.

    Parameters
    ----------
    weights : str
        A name from `crmask.list_models`, or a ``.safetensors`` file (whose
        card, if any, is the ``.json`` file beside it).
    detector : str, optional
        The detector that is to load the weights: a shipped model of another
        detector is refused, and an unknown name lists this detector's models.

    Raises
    ------
    WeightsError
        If ``weights`` is neither a shipped model nor an existing file, or
        is a shipped model of another detector.
    """
    return _locate(weights, detector)[:2]


def tensor_digest(tensors: dict) -> str:
    """SHA-256 over a state dict's names, dtypes, shapes and bytes, in name order.

    Stored in every weights file saved by `save_weights` and checked by
    `load_weights`, so a corrupted file is refused even without its model card.
    """
    import torch

    digest = hashlib.sha256()
    for key in sorted(tensors):
        tensor = tensors[key].detach().cpu().contiguous()
        digest.update(f"{key}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def save_weights(
    path: str | Path,
    model,
    arch: str,
    normalisation: Normalisation,
    threshold: float | None = None,
    extra: dict[str, str] | None = None,
    wings: dict[str, float] | None = None,
    group_statistics: dict | None = None,
    mirrors: str | None = None,
    hits: dict[str, float] | None = None,
    bright: dict[str, float] | None = None,
) -> Path:
    """Write ``model``'s weights and configuration to a safetensors file.

    Parameters
    ----------
    path : str or Path
        Output file (``.safetensors``).
    model : crmask_unet.model.UNet
    arch : {"deepcr", "cosmic-conn"}
    normalisation : Normalisation
    threshold : float, optional
        Default probability threshold to record.
    extra : dict of str, optional
        More metadata (strings).
    wings : dict, optional
        Wing growth to record, ``{"nsigma": float, "weight": float}``.
    group_statistics : dict of torch.Tensor, optional
        Fixed group-normalisation statistics to store beside the weights
        (`crmask_unet.group_statistics.measure_group_statistics`). A
        ``model`` whose group normalisations are already fixed
        (`LoadedWeights.network`, or a network trained from one) carries
        its own, which are stored.
    mirrors : str, optional
        Mirror images to average the probability over (a key of
        `crmask_unet.mirrors.MIRRORS`), to record.
    hits : dict, optional
        Isolated one-pixel hits to flag, ``{"nsigma": float, "ratio": float}``
        (`crmask.isolated.isolated_hits`), to record.
    bright : dict, optional
        Bright structures to show the network again dimmed, ``{"nsigma": float, "target": float}``
        (`crmask_unet.bright.rescale_bright`), to record; noise-unit models only.

    Raises
    ------
    WeightsError
        If statistics are given for a model that carries its own, or a rule is invalid.
    """
    from safetensors.torch import save_file

    from .group_statistics import fixed_group_statistics
    from .model import UNet

    state, carried = fixed_group_statistics(model, UNet(model.config))
    if carried is not None and group_statistics is not None:
        raise WeightsError("the model carries fixed group statistics of its own; give no others")
    group_statistics = carried if carried is not None else group_statistics

    metadata = {
        "format": _FORMAT,
        "arch": arch,
        "config": json.dumps(model.config.to_dict()),
        "normalisation": json.dumps({"scheme": normalisation.scheme, "scale": normalisation.scale}),
        **({"threshold": repr(float(threshold))} if threshold is not None else {}),
        **({"wings": json.dumps(_check_wings(wings, path))} if wings is not None else {}),
        **({"mirrors": _check_mirrors(mirrors, path)} if mirrors is not None else {}),
        **({"hits": json.dumps(_check_hits(hits, path))} if hits is not None else {}),
        **({"bright": json.dumps(_check_bright(bright, normalisation.scheme, path))} if bright is not None else {}),
        **(extra or {}),
    }
    tensors = {k: v.detach().cpu().contiguous() for k, v in {**state, **(group_statistics or {})}.items()}
    metadata["tensors_sha256"] = tensor_digest(tensors)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=metadata)
    return path


def _check_wings(wings: Any, path: str | Path) -> dict[str, float]:
    """A valid wing-growth record ``{"nsigma": >= 0, "weight": in (0, 1]}``, as floats."""
    try:
        nsigma, weight = float(wings["nsigma"]), float(wings["weight"])
    except (KeyError, TypeError, ValueError):
        raise WeightsError(f"{path}: wing growth must be {{'nsigma': float, 'weight': float}}, got {wings!r}") from None
    if not (nsigma >= 0 and 0 < weight <= 1):
        raise WeightsError(f"{path}: wing growth needs nsigma >= 0 and weight in (0, 1], got {wings!r}")
    return {"nsigma": nsigma, "weight": weight}


def _check_hits(hits: Any, path: str | Path) -> dict[str, float]:
    """A valid isolated-hit rule ``{"nsigma": > 0, "ratio": >= 1}`` (`crmask.isolated.isolated_hits`)."""
    try:
        nsigma, ratio = float(hits["nsigma"]), float(hits["ratio"])
    except (KeyError, TypeError, ValueError):
        raise WeightsError(f"{path}: isolated hits must be {{'nsigma': float, 'ratio': float}}, got {hits!r}") from None
    if not (nsigma > 0 and ratio >= 1):
        raise WeightsError(f"{path}: isolated hits need nsigma > 0 and ratio >= 1, got {hits!r}")
    return {"nsigma": nsigma, "ratio": ratio}


def _check_bright(bright: Any, scheme: str, path: str | Path) -> dict[str, float]:
    """A valid rescaling of bright structures ``{"nsigma": > EXTENT_SIGMA, "target": in (0, nsigma]}`` of a
    noise-unit model (`crmask_unet.bright.rescale_bright`)."""
    from .bright import EXTENT_SIGMA

    try:
        nsigma, target = float(bright["nsigma"]), float(bright["target"])
    except (KeyError, TypeError, ValueError):
        raise WeightsError(f"{path}: bright rescaling must be {{'nsigma': float, 'target': float}}, "
                           f"got {bright!r}") from None
    if not (nsigma > EXTENT_SIGMA and 0 < target <= nsigma):
        raise WeightsError(f"{path}: bright rescaling needs nsigma > {EXTENT_SIGMA:g} and target in (0, nsigma], "
                           f"got {bright!r}")
    if scheme != "noise":
        raise WeightsError(f"{path}: bright rescaling needs noise-unit input, not {scheme!r}")
    return {"nsigma": nsigma, "target": target}


def _check_mirrors(mirrors: Any, path: str | Path) -> str:
    """A valid name of a set of mirror images (a key of `crmask_unet.mirrors.MIRRORS`)."""
    if mirrors not in MIRRORS:
        raise WeightsError(f"{path}: mirrors must be one of {list(MIRRORS)}, got {mirrors!r}")
    return mirrors


def load_weights(weights: str) -> LoadedWeights:
    """Read a shipped model (by name) or a safetensors file, refusing anything else.

    Raises
    ------
    WeightsError
        For a missing file, a file that is not safetensors (a pickled
        PyTorch checkpoint, for instance: pickle is never executed), a
        file whose checksum differs from its model card, tensors that
        differ from the checksum in the file's own metadata (files saved by
        `save_weights`) or are not finite, a threshold outside [0, 1], an
        unknown set of mirror images (``mirrors``), an invalid rule
        (``wings``, ``hits``, ``bright``), or missing metadata.
    """
    from safetensors import SafetensorError, safe_open

    from .group_statistics import split_group_statistics
    from .model import UNetConfig

    path, _, sha256 = _locate(weights, None)
    if sha256 is not None:
        verify_file(path, sha256)
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            state = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(
            f"{path} is not a valid safetensors weights file ({exc}); pickled checkpoints (.pt/.pth) "
            "are refused because loading them can run arbitrary code"
        ) from None
    if metadata.get("format") != _FORMAT:
        raise WeightsError(f"{path} lacks crmask U-Net metadata (format {_FORMAT!r}); save it with save_weights")
    try:
        config = UNetConfig.from_dict(json.loads(metadata["config"]))
        norm = Normalisation(**json.loads(metadata["normalisation"]))
        threshold = float(metadata["threshold"]) if "threshold" in metadata else None
        wings = _check_wings(json.loads(metadata["wings"]), path) if "wings" in metadata else None
        mirrors = _check_mirrors(metadata["mirrors"], path) if "mirrors" in metadata else "none"
        hits = _check_hits(json.loads(metadata["hits"]), path) if "hits" in metadata else None
        bright = (_check_bright(json.loads(metadata["bright"]), norm.scheme, path) if "bright" in metadata
                  else None)
        arch = metadata["arch"]
    except (KeyError, TypeError, ValueError) as exc:
        raise WeightsError(f"{path} has invalid crmask U-Net metadata: {exc}") from None
    if threshold is not None and not 0.0 <= threshold <= 1.0:  # also refuses nan
        raise WeightsError(f"{path} has threshold {threshold!r} in its metadata; a probability in [0, 1] is needed")
    if "tensors_sha256" in metadata and tensor_digest(state) != metadata["tensors_sha256"]:
        raise WeightsError(f"{path}: its tensors do not match the checksum in its metadata (corrupted file)")
    broken = sorted(key for key, tensor in state.items() if tensor.is_floating_point() and not tensor.isfinite().all())
    if broken:
        raise WeightsError(f"{path} holds non-finite values in {len(broken)} tensor(s), e.g. {broken[0]!r}")
    state, group_statistics = split_group_statistics(state)
    return LoadedWeights(config=config, normalisation=norm, arch=arch, state_dict=state,
                         threshold=threshold, source=str(path), wings=wings, group_statistics=group_statistics,
                         mirrors=mirrors, hits=hits, bright=bright)
