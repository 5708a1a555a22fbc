"""pluggy hook specifications of crmask.

A plugin is a module named in the ``crmask`` entry-point group that
implements one or more hooks, each decorated with `crmask.hookimpl` (one hook
per kind of class, as ``llm`` has ``register_models`` and
``register_embedding_models``)::

    # pyproject.toml
    [project.entry-points.crmask]
    mydetector = "my_package.plugin"

    # my_package/plugin.py
    import crmask

    @crmask.hookimpl
    def register_detectors(register):
        register(MyDetector)
"""

from __future__ import annotations

from typing import Callable

import click
import pluggy

__all__ = ["hookspec", "hookimpl", "PROJECT_NAME"]

#: Name of the pluggy project and of the entry-point group.
PROJECT_NAME = "crmask"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_detectors(register: Callable[[type], None]) -> None:
    """Register image detectors by calling ``register(cls)`` for each.

    ``cls`` must subclass `crmask.Detector` and have a ``name`` no other
    plugin registers. (An `crmask.EventFilter` registered here is still
    accepted, with a `DeprecationWarning`: use ``register_event_filters``.)
    """


@hookspec
def register_event_filters(register: Callable[[type], None]) -> None:
    """Register X-ray event filters by calling ``register(cls)`` for each.

    ``cls`` must subclass `crmask.EventFilter` and have a ``name`` no other
    plugin registers (image detectors and event filters share one namespace).
    """


@hookspec
def register_models(register: Callable[..., None]) -> None:
    """Register shipped models by calling ``register(card, aliases=())`` for each.

    ``card`` is the path (`str` or `os.PathLike`) of the model's JSON model
    card, which names the model ``arch.tag``, the detector or event filter
    that loads it and its files with their SHA-256 (`crmask.models`);
    ``aliases`` are other names it answers to (such as a name it had before).
    Called each time the models are listed, so a card read here is current.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands to the ``crmask`` command line.

    Called once, when the command line is first used (never at import).
    ``cli`` is the root group; ``cli.commands["train"]`` is the group that
    trainable detectors add their ``crmask train NAME`` command to.
    """
