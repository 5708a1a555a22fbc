"""Plugin discovery and detector lookup.

Plugins are found only through the ``crmask`` entry-point group, so the
plugins shipped with crmask load exactly as a third-party package's do.
"""

from __future__ import annotations

import importlib.util

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pluggy

from . import hookspecs
from .detector import Detector, EventFilter
from .exceptions import PluginError, UnknownDetectorError

__all__ = [
    "DetectorInfo",
    "plugin_manager",
    "list_detectors",
    "get_detector",
    "get_detector_class",
    "reload_plugins",
]


@dataclass(frozen=True)
class DetectorInfo:
    """What ``crmask list`` shows about a registered detector.

    Attributes
    ----------
    name : str
    kind : str
        ``"mask"`` or ``"events"``.
    summary : str
    needs : tuple of str
        Calibration values the detector needs (``gain``, ``readnoise``).
    requires : tuple of str
        Python modules it imports at run time.
    missing : tuple of str
        The modules in ``requires`` that are not importable here.
    plugin : str
        Name of the plugin (entry point) that registered it.
    """

    name: str
    kind: str
    summary: str
    needs: tuple[str, ...]
    requires: tuple[str, ...]
    missing: tuple[str, ...]
    plugin: str

    @property
    def available(self) -> bool:
        """Whether every module the detector requires is importable here."""
        return not self.missing


class _Registry:
    def __init__(self) -> None:
        self.classes: dict[str, type] = {}
        self.plugins: dict[str, str] = {}

    def make_register(self, plugin_name: str):
        def register(cls: type) -> None:
            if not (isinstance(cls, type) and issubclass(cls, (Detector, EventFilter))):
                raise PluginError(
                    f"plugin {plugin_name!r} registered {cls!r}, which is not a "
                    "crmask.Detector or crmask.EventFilter subclass"
                )
            name = getattr(cls, "name", "")
            if not isinstance(name, str) or not name:
                raise PluginError(f"plugin {plugin_name!r} registered {cls.__name__} without a name")
            if name in self.classes and self.classes[name] is not cls:
                raise PluginError(
                    f"detector name {name!r} is registered twice: by plugin "
                    f"{self.plugins[name]!r} and by plugin {plugin_name!r}"
                )
            self.classes[name] = cls
            self.plugins[name] = plugin_name

        return register


@lru_cache(maxsize=1)
def plugin_manager() -> pluggy.PluginManager:
    """Return the plugin manager with every ``crmask`` entry point loaded.

    Raises
    ------
    PluginError
        If a plugin implements a hook that crmask does not define, or fails
        to import.
    """
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    try:
        manager.load_setuptools_entrypoints(hookspecs.PROJECT_NAME)
    except Exception as exc:  # a broken third-party plugin must name itself
        raise PluginError(f"a crmask plugin failed to load: {type(exc).__name__}: {exc}") from exc
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"a crmask plugin implements an unknown hook: {exc}") from exc
    return manager


@lru_cache(maxsize=1)
def _registry() -> _Registry:
    registry = _Registry()
    for impl in plugin_manager().hook.register_detectors.get_hookimpls():
        impl.function(register=registry.make_register(impl.plugin_name))
    return registry


def reload_plugins() -> None:
    """Forget the loaded plugins so that the next lookup loads entry points again."""
    _registry.cache_clear()
    plugin_manager.cache_clear()


def get_detector_class(name: str) -> type:
    """Return the class registered under ``name``.

    Raises
    ------
    UnknownDetectorError
        If no plugin registered ``name``; the message lists the valid names.
    """
    classes = _registry().classes
    if name not in classes:
        raise UnknownDetectorError(name, list(classes))
    return classes[name]


def get_detector(name: str, **params: Any) -> Detector | EventFilter:
    """Create the detector registered under ``name`` with ``params``.

    Parameters
    ----------
    name : str
        A name from `list_detectors`.
    **params
        Detector parameters; unknown names or values out of range raise
        `ValueError` naming the parameter and what is allowed.

    Examples
    --------
    >>> import crmask
    >>> det = crmask.get_detector("lacosmic", sigclip=5.0)
    >>> det.get_params()["sigclip"]
    5.0
    """
    return get_detector_class(name)(**params)


def _missing_modules(modules: tuple[str, ...]) -> tuple[str, ...]:
    missing = []
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(module)
    return tuple(missing)


def list_detectors(kind: str | None = None) -> list[DetectorInfo]:
    """Describe every registered detector, sorted by name.

    Parameters
    ----------
    kind : {"mask", "events"}, optional
        Only detectors of this kind.
    """
    if kind not in (None, "mask", "events"):
        raise ValueError(f"kind must be 'mask', 'events' or None, got {kind!r}")
    registry = _registry()
    infos = []
    for name in sorted(registry.classes):
        cls = registry.classes[name]
        if kind is not None and cls.kind != kind:
            continue
        infos.append(
            DetectorInfo(
                name=name,
                kind=cls.kind,
                summary=cls.summary,
                needs=tuple(getattr(cls, "needs", ())),
                requires=tuple(cls.requires),
                missing=_missing_modules(tuple(cls.requires)),
                plugin=registry.plugins[name],
            )
        )
    return infos


