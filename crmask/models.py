"""The registry of shipped models: trained weights that detectors and event filters load by name.

Models are named ``arch.tag`` as in timm (Wightman 2019): ``arch`` is the
detector or event filter that loads the model and ``tag`` says how it was
trained (``deepcr.general-16``, ``cosmic-conn.spectra``,
``wfi-cam-rf.simulated``). A model is the *default* of its detector when
the detector's ``weights`` parameter defaults to its name, so each detector
name stands for its default model.

Plugins contribute their models through the ``register_models`` hook, as
llm's plugins contribute language models (Willison 2023), by naming each
model's card::

    @crmask.hookimpl
    def register_models(register):
        register(Path(__file__).parent / "weights" / "survey.json", aliases=("old-name",))

A model card is a JSON object; the registry reads

``name``
    ``arch.tag``, ``arch`` being the ``detector``.
``detector``
    The registered detector or event filter that loads the model.
``summary``
    One line for ``crmask models`` (optional).
``files``
    ``{path relative to the card: SHA-256}``; a model of one file may give
    ``weights_file`` and ``sha256`` instead.

Cards also record how the model was made (``training``, with its
``command``), its metrics and its threshold; the loaders check every file
against its SHA-256 before use (`verify_file`). The hooks are called each
time the models are listed (cards are small), so a card is always read as it
is on disk. A card that cannot be read, or names a detector that is not
registered, is skipped with a `~crmask.exceptions.PluginWarning`; two models
answering to one name are a `~crmask.exceptions.PluginError`.

References
----------
Wightman, R. 2019, PyTorch Image Models (timm), ``timm.models._registry``.
Willison, S. 2023, LLM, plugin hook ``register_models``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from .exceptions import PluginError, PluginWarning, UnknownDetectorError, WeightsError, error_line

__all__ = [
    "ModelFile",
    "ModelInfo",
    "list_models",
    "find_model",
    "describe_models",
    "read_card",
    "card_sha256",
    "file_sha256",
    "verify_file",
]

_SHA256 = re.compile(r"[0-9a-f]{64}")
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")


@dataclass(frozen=True)
class ModelFile:
    """A file of a model and the SHA-256 its card records.

    Attributes
    ----------
    path : Path
    sha256 : str
        Hex digest.
    """

    path: Path
    sha256: str


@dataclass(frozen=True)
class ModelInfo:
    """What ``crmask models`` shows about a shipped model.

    Attributes
    ----------
    name : str
        ``arch.tag``, e.g. ``deepcr.general-16``.
    detector : str
        The detector or event filter that loads it (the ``arch`` of its name).
    kind : str
        That detector's kind: ``"mask"`` or ``"events"``.
    files : tuple of ModelFile
    card : Path
        Its JSON model card.
    summary : str
    default : bool
        Whether ``detector`` loads it when no ``weights`` are given.
    aliases : tuple of str
        Other names it answers to.
    plugin : str
        The plugin that registered it.
    """

    name: str
    detector: str
    kind: str
    files: tuple[ModelFile, ...]
    card: Path
    summary: str
    default: bool
    aliases: tuple[str, ...]
    plugin: str

    def read_card(self) -> dict[str, Any]:
        """The model card, as a dict."""
        return read_card(self.card)


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_file(path: str | os.PathLike, sha256: str) -> None:
    """Check that a model file exists and has the SHA-256 its model card records.

    Raises
    ------
    WeightsError
        If the file is missing or its checksum differs.
    """
    if not Path(path).is_file():
        raise WeightsError(f"weights file {path} is missing; reinstall or retrain it")
    actual = file_sha256(path)
    if actual != sha256:
        raise WeightsError(
            f"weights file {path} does not match its model card (sha256 {actual[:12]}... expected "
            f"{sha256[:12]}...): it was modified or corrupted; reinstall or retrain it"
        )


def read_card(path: str | os.PathLike) -> dict[str, Any]:
    """Read a JSON model card.

    Raises
    ------
    WeightsError
        Naming the file, if it is not valid JSON or not a JSON object.
    """
    try:
        card = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WeightsError(f"model card {path} is not valid JSON: {exc}") from None
    if not isinstance(card, dict):
        raise WeightsError(f"model card {path} is not a JSON object")
    return card


def card_sha256(card: Mapping[str, Any], file: str) -> str | None:
    """The SHA-256 a model card records for ``file`` (relative to the card), or `None`.

    ``files[file]`` when the card lists its files; else its ``sha256`` when
    its ``weights_file`` is ``file`` or it names none (a card beside the one
    weights file it describes).
    """
    if "files" in card:
        files = card["files"]
        return files.get(file) if isinstance(files, Mapping) else None
    if card.get("weights_file", file) == file:
        return card.get("sha256")
    return None


def _card_files(card: Mapping[str, Any], folder: Path) -> tuple[ModelFile, ...]:
    """The files a card lists, with their checksums; `ValueError` saying what is wrong."""
    if "files" in card:
        files = card["files"]
        if not isinstance(files, Mapping) or not files:
            raise ValueError("'files' must map each file to its sha256")
    elif "weights_file" in card:
        files = {card["weights_file"]: card.get("sha256")}
    else:
        raise ValueError("it lists no files ('files', or 'weights_file' and 'sha256')")
    for file, sha256 in files.items():
        if not (isinstance(file, str) and isinstance(sha256, str) and _SHA256.fullmatch(sha256)):
            raise ValueError(f"file {file!r} needs a sha256 of 64 hex digits, got {sha256!r}")
    return tuple(ModelFile(folder / file, sha256) for file, sha256 in files.items())


def _model_info(card_path: Path, aliases: tuple[str, ...], plugin: str) -> ModelInfo | None:
    """The model a card describes, or `None` (with a warning) when it cannot be used here."""
    from .registry import get_detector_class

    try:
        card = read_card(card_path)
        detector, name = card.get("detector"), card.get("name")
        if not isinstance(detector, str) or not isinstance(name, str):
            raise ValueError("it needs a 'name' and a 'detector'")
        arch, _, tag = name.partition(".")
        if arch != detector or not _TAG.fullmatch(tag):
            raise ValueError(f"its name {name!r} is not {detector}.TAG")
        files = _card_files(card, card_path.parent)
        cls = get_detector_class(detector)
    except (WeightsError, ValueError, UnknownDetectorError) as exc:
        reason = f"detector {exc.name!r} is not registered" if isinstance(exc, UnknownDetectorError) else exc
        warnings.warn(f"crmask plugin {plugin!r}: model card {card_path} is skipped: {reason}", PluginWarning,
                      stacklevel=3)
        return None
    aliases = tuple(dict.fromkeys(alias for alias in aliases if alias != name))
    weights = getattr(cls, "parameters", {}).get("weights")
    default = weights is not None and weights.default in (name, *aliases)
    return ModelInfo(name=name, detector=detector, kind=cls.kind, files=files, card=card_path,
                     summary=str(card.get("summary", "")), default=default, aliases=aliases, plugin=plugin)


def _check_unique(models: list[ModelInfo]) -> None:
    owners: dict[str, ModelInfo] = {}
    for info in models:
        for name in (info.name, *info.aliases):
            other = owners.setdefault(name, info)
            if other is not info:
                raise PluginError(
                    f"model name {name!r} is registered twice: for {other.name} by plugin {other.plugin!r} "
                    f"and for {info.name} by plugin {info.plugin!r}"
                )


def _register_function(plugin: str, models: list[ModelInfo]) -> Callable[..., None]:
    """The ``register`` a plugin's ``register_models`` hook calls: adds the model of a card to ``models``."""

    def register(card: str | os.PathLike, *, aliases: Iterable[str] = ()) -> None:
        names = (aliases,) if isinstance(aliases, str) else tuple(aliases)
        if not all(isinstance(alias, str) and alias for alias in names):
            raise PluginError(f"plugin {plugin!r} registered model aliases {aliases!r}; they must be names")
        info = _model_info(Path(card), names, plugin)
        if info is not None:
            models.append(info)

    return register


def list_models(detector: str | None = None) -> list[ModelInfo]:
    """Describe every shipped model (of ``detector``), sorted by name.

    Parameters
    ----------
    detector : str, optional
        Only the models this detector or event filter loads.

    Raises
    ------
    PluginError
        If two models answer to one name, or a plugin's ``register``
        call is malformed.

    Examples
    --------
    >>> import crmask
    >>> [m.name for m in crmask.list_models("deepcr") if m.default]  # doctest: +SKIP
    ['deepcr.general-16']
    """
    from .registry import call_plugin_hook, plugin_manager

    models: list[ModelInfo] = []
    for plugin, _ in plugin_manager().list_name_plugin():
        try:
            call_plugin_hook(plugin, "register_models", register=_register_function(plugin, models))
        except PluginError:
            raise
        except Exception as exc:
            warnings.warn(f"crmask plugin {plugin!r} failed to register its models, which are skipped: "
                          f"{error_line(exc)}", PluginWarning, stacklevel=2)
    _check_unique(models)
    return sorted((info for info in models if detector in (None, info.detector)), key=lambda info: info.name)


def describe_models(detector: str | None = None) -> str:
    """One line naming the models (of ``detector``), their defaults and aliases, for error messages."""
    models = list_models(detector)
    if not models:
        return f"no model is registered{f' for {detector}' if detector else ''}"

    def notes(info: ModelInfo) -> str:
        words = ["default"] if info.default else []
        words += [f"also {alias}" for alias in info.aliases]
        return f" ({'; '.join(words)})" if words else ""

    return f"models{f' for {detector}' if detector else ''}: " + ", ".join(
        info.name + notes(info) for info in models)


def find_model(name: str, detector: str | None = None) -> ModelInfo | None:
    """The shipped model called ``name`` (or answering to it as an alias); `None` if there is none.

    Parameters
    ----------
    name : str
    detector : str, optional
        The detector that is to load the model.

    Raises
    ------
    WeightsError
        If the model is one that another detector loads.
    """
    for info in list_models():
        if name == info.name or name in info.aliases:
            if detector is not None and info.detector != detector:
                raise WeightsError(f"weights {name!r} are a {info.detector!r} model; detector {detector!r} needs "
                                   f"{detector!r} weights ({describe_models(detector)})")
            return info
    return None
