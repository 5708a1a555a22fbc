"""Plugin discovery and lookup of image detectors and X-ray event filters.

Plugins are found only through the ``crmask`` entry-point group, so the
plugins shipped with crmask load exactly as a third-party package's do. Each
plugin registers its classes through one pluggy hook per kind:
``register_detectors`` (`crmask.Detector`) and ``register_event_filters``
(`crmask.EventFilter`); both kinds share one namespace of names. Their
shipped models come through ``register_models`` (`crmask.models`).

Failures are kept to the plugin that has them:

* an entry point whose module fails to import, or whose hook raises, is
  skipped with a `~crmask.exceptions.PluginWarning` naming it and the error;
  every other plugin keeps working;
* a module that defines no `crmask.hookimpl` function is skipped with a
  warning (a forgotten decorator would otherwise register nothing, silently);
* a plugin that breaks crmask's contract (an unknown hook, a registered
  object that is not a detector class, a class without a name, or a name
  another plugin registered) raises `~crmask.exceptions.PluginError` naming
  it: guessing which class should answer to a name would give wrong results
  without a word.

The environment variable ``CRMASK_PLUGINS`` (comma-separated entry-point
names, e.g. ``CRMASK_PLUGINS=lacosmic,unet``) loads only the plugins it
names; set but empty, it loads none.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import sys
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Mapping

import pluggy

from . import hookspecs
from .detector import Detector
from .events import EventFilter
from .exceptions import DetectorKindError, PluginError, PluginWarning, UnknownDetectorError, error_line

__all__ = [
    "PLUGINS_ENV",
    "DetectorInfo",
    "plugin_manager",
    "list_detectors",
    "list_event_filters",
    "get_detector",
    "get_detector_class",
    "resolve",
    "load_plugin_file",
    "plugin_file_of",
    "add_plugin_commands",
    "call_plugin_hook",
    "reload_plugins",
]

#: Environment variable naming the only plugins to load (comma-separated entry-point names).
PLUGINS_ENV = "CRMASK_PLUGINS"

#: For each kind: the hook that registers it and the base class its classes subclass.
_KINDS: dict[str, tuple[str, type]] = {
    "mask": ("register_detectors", Detector),
    "events": ("register_event_filters", EventFilter),
}

#: Module-name prefix of plugin files loaded by `load_plugin_file`.
_FILE_MODULE_PREFIX = "_crmask_plugin_file_"


@dataclass(frozen=True)
class DetectorInfo:
    """What ``crmask list`` shows about a registered detector or event filter.

    Attributes
    ----------
    name : str
    kind : str
        ``"mask"`` (image detector) or ``"events"`` (X-ray event filter).
    summary : str
    needs : tuple of str
        Calibration values the detector needs (``gain``, ``readnoise``).
    requires : tuple of str
        Python modules it imports at run time.
    missing : tuple of str
        The modules in ``requires`` that are not importable here.
    plugin : str
        Name of the plugin (entry point, or file given to `load_plugin_file`)
        that registered it.
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
    """A plugin manager with its plugins loaded, and the classes they registered."""

    def __init__(self) -> None:
        self.manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.manager.add_hookspecs(hookspecs)
        self.hook_names = frozenset(vars(self.manager.hook))
        self.classes: dict[str, type] = {}
        self.plugins: dict[str, str] = {}

    def hook_functions(self, module: ModuleType) -> list[str]:
        """Names of the functions in ``module`` decorated with `crmask.hookimpl`."""
        return [attr for attr in dir(module) if self.manager.parse_hookimpl_opts(module, attr) is not None]

    def add(self, module: ModuleType, plugin: str, origin: str) -> None:
        """Register ``module`` as ``plugin`` and call its registration hooks through pluggy.

        The classes are added only when every hook succeeded; a hook that
        raises leaves the registry as it was, with the plugin unregistered.

        Raises
        ------
        PluginError
            For an unknown hook, an invalid or duplicate registration.
        Exception
            Whatever a hook raised.
        """
        unknown = sorted(set(self.hook_functions(module)) - self.hook_names)
        if unknown:
            raise PluginError(
                f"crmask plugin {plugin!r} ({origin}) implements unknown hook(s) {', '.join(unknown)}; "
                f"crmask's hooks are {', '.join(sorted(self.hook_names))}"
            )
        try:
            self.manager.register(module, plugin)
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"crmask plugin {plugin!r} ({origin}): {exc}") from None
        found: dict[str, type] = {}
        try:
            for kind, (hook, _) in _KINDS.items():
                self.call(plugin, hook, register=self._register_function(plugin, kind, found))
        except BaseException:
            self.manager.unregister(name=plugin)
            raise
        for name, cls in found.items():
            if self.classes.get(name, cls) is not cls:
                self.manager.unregister(name=plugin)
                raise PluginError(
                    f"detector name {name!r} is registered twice: by plugin {self.plugins[name]!r} "
                    f"and by plugin {plugin!r}"
                )
        self.classes.update(found)
        self.plugins.update(dict.fromkeys(found, plugin))

    def call(self, plugin: str, hook: str, **kwargs: Any) -> None:
        """Call ``plugin``'s implementation of ``hook`` alone, through pluggy."""
        others = [obj for name, obj in self.manager.list_name_plugin() if name != plugin]
        self.manager.subset_hook_caller(hook, remove_plugins=others)(**kwargs)

    def _register_function(self, plugin: str, kind: str, found: dict[str, type]) -> Callable[[type], None]:
        hook, base = _KINDS[kind]
        # register_detectors accepted event filters before register_event_filters existed
        accepted = (Detector, EventFilter) if kind == "mask" else (base,)
        expected = " or ".join(f"crmask.{cls.__name__}" for cls in accepted)

        def register(cls: type) -> None:
            if not (isinstance(cls, type) and issubclass(cls, accepted)):
                raise PluginError(f"plugin {plugin!r} registered {cls!r}, which is not a {expected} subclass")
            if not issubclass(cls, base):
                warnings.warn(
                    f"crmask plugin {plugin!r} registers the event filter {cls.__name__} through {hook}; "
                    "register it through register_event_filters",
                    DeprecationWarning,
                    stacklevel=2,
                )
            name = getattr(cls, "name", "")
            if not isinstance(name, str) or not name:
                raise PluginError(f"plugin {plugin!r} registered {cls.__name__} without a name")
            if found.get(name, cls) is not cls:
                raise PluginError(f"detector name {name!r} is registered twice by plugin {plugin!r}")
            found[name] = cls

        return register


def _warn(message: str) -> None:
    warnings.warn(message, PluginWarning, stacklevel=2)


def _selected(selection: str | None, installed: list[str]) -> set[str] | None:
    """The entry-point names ``CRMASK_PLUGINS`` selects (`None`: all), warning about unknown ones."""
    if selection is None:
        return None
    names = {name.strip() for name in selection.split(",") if name.strip()}
    unknown = sorted(names - set(installed))
    if unknown:
        _warn(
            f"{PLUGINS_ENV} names {', '.join(unknown)}, which no installed crmask plugin is called; "
            f"installed plugins: {', '.join(sorted(set(installed))) or '(none)'}"
        )
    return names


@lru_cache(maxsize=1)
def _load(selection: str | None) -> _Registry:
    """Load every ``crmask`` entry point (or those ``selection`` names), each on its own."""
    registry = _Registry()
    entry_points = list(importlib.metadata.entry_points(group=hookspecs.PROJECT_NAME))
    wanted = _selected(selection, [ep.name for ep in entry_points])
    for ep in entry_points:
        if (wanted is not None and ep.name not in wanted) or registry.manager.has_plugin(ep.name):
            continue  # not selected, or the same name installed twice on the path
        origin = f"entry point {ep.value}"
        try:
            module = ep.load()
        except Exception as exc:
            _warn(f"crmask plugin {ep.name!r} ({origin}) failed to import and is skipped: {error_line(exc)}")
            continue
        if not registry.hook_functions(module):
            _warn(
                f"crmask plugin {ep.name!r} ({origin}) defines no hook implementation and adds nothing; "
                "decorate its register_detectors function with @crmask.hookimpl"
            )
            continue
        try:
            registry.add(module, ep.name, origin)
        except PluginError as exc:
            hint = f"until it is fixed, {PLUGINS_ENV}=NAME,... loads only the plugins named"
            raise PluginError(f"{exc} ({hint})") from None
        except Exception as exc:
            _warn(f"crmask plugin {ep.name!r} ({origin}) failed to register its classes and is skipped: "
                  f"{error_line(exc)}")
    return registry


def _registry() -> _Registry:
    return _load(os.environ.get(PLUGINS_ENV))


def plugin_manager() -> pluggy.PluginManager:
    """Return the pluggy plugin manager with the ``crmask`` plugins loaded.

    Raises
    ------
    PluginError
        If a plugin breaks crmask's contract (see the module notes).
    """
    return _registry().manager


def add_plugin_commands(cli: Any) -> None:
    """Let every plugin add its commands to the ``crmask`` click group ``cli``.

    A plugin whose ``register_commands`` raises is skipped with a
    `~crmask.exceptions.PluginWarning` naming it; the other commands work.
    """
    registry = _registry()
    for plugin, _ in registry.manager.list_name_plugin():
        try:
            registry.call(plugin, "register_commands", cli=cli)
        except Exception as exc:
            _warn(f"crmask plugin {plugin!r} failed to add its commands, which are skipped: "
                  f"{error_line(exc)}")


def call_plugin_hook(plugin: str, hook: str, **kwargs: Any) -> None:
    """Call the implementation of ``hook`` of the loaded plugin ``plugin`` alone, through pluggy.

    Nothing happens when the plugin does not implement the hook.
    """
    _registry().call(plugin, hook, **kwargs)


def reload_plugins() -> None:
    """Forget the loaded plugins so that the next lookup loads entry points again."""
    _load.cache_clear()


def load_plugin_file(path: str | os.PathLike) -> dict[str, type]:
    """Load a plugin that is not installed from a Python file, into the registry.

    The file is written like an installed plugin's module (its hooks
    decorated with `crmask.hookimpl`) and is registered under its path, so
    its classes are found by name as every other. Loading the same file again
    returns the classes loaded the first time.

    Returns
    -------
    dict
        The classes the file registered, by name.

    Raises
    ------
    PluginError
        If the file is missing, fails to import, defines no hook
        implementation, or its hooks fail.
    """
    path = Path(path).resolve()
    plugin = str(path)
    registry = _registry()
    if not registry.manager.has_plugin(plugin):
        if not path.is_file():
            raise PluginError(f"plugin file {path} does not exist")
        module_name = f"{_FILE_MODULE_PREFIX}{path.stem}_{hashlib.sha1(plugin.encode()).hexdigest()[:8]}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise PluginError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise PluginError(f"plugin file {path} failed to import: {error_line(exc)}") from exc
        if not registry.hook_functions(module):
            raise PluginError(
                f"plugin file {path} defines no hook implementation; decorate its "
                "register_detectors(register) function with @crmask.hookimpl"
            )
        try:
            registry.add(module, plugin, f"file {path}")
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(
                f"plugin file {path} failed to register its classes: {error_line(exc)}"
            ) from exc
    return {name: cls for name, cls in registry.classes.items() if registry.plugins[name] == plugin}


def plugin_file_of(cls: type) -> Path | None:
    """The file `load_plugin_file` loaded ``cls`` from; `None` for a class of an installed plugin.

    A process that did not load the file (a Dask worker) loads it again to
    find the class.
    """
    module = sys.modules.get(cls.__module__)
    if not cls.__module__.startswith(_FILE_MODULE_PREFIX) or module is None:
        return None
    return Path(module.__file__)


def _check_kind(name: str, cls: type, kind: str | None) -> None:
    if kind is not None and cls.kind != kind:
        raise DetectorKindError(name, cls.kind, kind)


def _check_kind_name(kind: str | None) -> None:
    if kind not in (None, *_KINDS):
        raise ValueError(f"kind must be 'mask', 'events' or None, got {kind!r}")


def get_detector_class(name: str, kind: str | None = None) -> type:
    """Return the class registered under ``name``.

    Parameters
    ----------
    name : str
        A name from `list_detectors` or `list_event_filters`.
    kind : {"mask", "events"}, optional
        The kind the class must be.

    Raises
    ------
    UnknownDetectorError
        If no plugin registered ``name``; the message lists the valid names.
    DetectorKindError
        If the class is not of ``kind``.
    """
    _check_kind_name(kind)
    registry = _registry()
    if name not in registry.classes:
        valid = [n for n, cls in registry.classes.items() if kind is None or cls.kind == kind]
        raise UnknownDetectorError(name, valid)
    cls = registry.classes[name]
    _check_kind(name, cls, kind)
    return cls


def get_detector(name: str, **params: Any) -> Detector | EventFilter:
    """Create the detector (or event filter) registered under ``name`` with ``params``.

    Parameters
    ----------
    name : str
        A name from `list_detectors` or `list_event_filters`.
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


def resolve(
    detector: str | Detector | EventFilter,
    kind: str = "mask",
    params: Mapping[str, Any] | None = None,
) -> Detector | EventFilter:
    """Turn a registered name (with parameters) or a configured instance into a detector of ``kind``.

    Every function that accepts "a detector name or instance" goes through
    here, so a detector of the wrong kind gives the same error everywhere.

    Parameters
    ----------
    detector : str, `~crmask.Detector` or `~crmask.EventFilter`
        A registered name, or a configured instance.
    kind : {"mask", "events"}
        ``"mask"`` for an image detector, ``"events"`` for an X-ray event filter.
    params : mapping, optional
        Parameters for a detector given by name.

    Returns
    -------
    `~crmask.Detector` or `~crmask.EventFilter`
        A new instance for a name; ``detector`` itself for an instance.

    Raises
    ------
    UnknownDetectorError
        If the name is not registered.
    DetectorKindError
        If the detector is of the other kind.
    ValueError
        For an invalid parameter, or parameters given with an instance.
    TypeError
        If ``detector`` is neither a name nor a detector.

    Examples
    --------
    >>> from crmask.registry import resolve
    >>> resolve("lacosmic", "mask", {"sigclip": 5.0}).get_params()["sigclip"]
    5.0
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be 'mask' or 'events', got {kind!r}")
    params = dict(params or {})
    if isinstance(detector, str):
        return get_detector_class(detector, kind)(**params)
    if isinstance(detector, (Detector, EventFilter)):
        if params:
            raise ValueError(
                "parameters were given together with a detector instance; "
                f"configure the instance instead (got {sorted(params)})"
            )
        _check_kind(detector.name, type(detector), kind)
        return detector
    wanted = _KINDS[kind][1].__name__
    raise TypeError(f"detector must be a name or a crmask.{wanted}, got {type(detector).__name__}")


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


def _describe(kind: str | None) -> list[DetectorInfo]:
    registry = _registry()
    return [
        DetectorInfo(
            name=name,
            kind=cls.kind,
            summary=cls.summary,
            needs=tuple(getattr(cls, "needs", ())),
            requires=tuple(cls.requires),
            missing=_missing_modules(tuple(cls.requires)),
            plugin=registry.plugins[name],
        )
        for name, cls in sorted(registry.classes.items())
        if kind is None or cls.kind == kind
    ]


def list_detectors(kind: str | None = "mask") -> list[DetectorInfo]:
    """Describe every registered image detector, sorted by name.

    Parameters
    ----------
    kind : {"mask", "events"} or None
        Kept for compatibility with earlier versions, where this function
        listed both kinds: ``"events"`` lists the event filters (as
        `list_event_filters` does), `None` both kinds.
    """
    _check_kind_name(kind)
    return _describe(kind)


def list_event_filters() -> list[DetectorInfo]:
    """Describe every registered X-ray event filter, sorted by name."""
    return _describe("events")
