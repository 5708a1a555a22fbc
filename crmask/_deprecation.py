"""Former spellings of public names, kept working with a `DeprecationWarning` that gives the new one.

crmask spells each calibration quantity one way, as ccdproc and astroscrappy
do: ``gain``, ``readnoise``, ``satlevel``. Keywords, attributes and module
constants that spelled them otherwise (``read_noise``, ``saturation``) still
work through these helpers.
"""

from __future__ import annotations

import functools
import sys
import warnings
from typing import Any, Callable, Mapping, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def _warn(old: str, new: str, where: str) -> None:
    warnings.warn(f"{where}: {old!r} is deprecated; use {new!r}", DeprecationWarning, stacklevel=3)


def renamed_keywords(**renamed: str) -> Callable[[F], F]:
    """Decorate a function so that keyword ``old`` is taken as ``new`` (``renamed_keywords(old="new")``).

    Raises
    ------
    TypeError
        When a call gives both spellings.
    """

    def decorate(function: F) -> F:
        where = function.__qualname__

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            for old, new in renamed.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{where}() got both {old!r} and {new!r}; give {new!r} only")
                    _warn(old, new, where)
                    kwargs[new] = kwargs.pop(old)
            return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def deprecated_module_attributes(module: str, renamed: Mapping[str, str] | None = None,
                                 removed: Mapping[str, tuple[Any, str]] | None = None) -> Callable[[str], Any]:
    """A module ``__getattr__`` for the module's former attributes, each with a `DeprecationWarning`.

    Parameters
    ----------
    module : str
        The module's ``__name__``.
    renamed : mapping of str to str, optional
        Former name -> the attribute that replaces it.
    removed : mapping of str to (object, str), optional
        Former name -> its value and what to use instead.
    """
    renamed, removed = dict(renamed or {}), dict(removed or {})

    def __getattr__(name: str) -> Any:
        if name in renamed:
            _warn(name, renamed[name], module)
            return getattr(sys.modules[module], renamed[name])
        if name in removed:
            value, instead = removed[name]
            _warn(name, instead, module)
            return value
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__


def renamed_property(old: str, new: str) -> property:
    """A read-only property ``old`` that gives attribute ``new``, with a warning."""

    def getter(self) -> Any:
        _warn(old, new, type(self).__name__)
        return getattr(self, new)

    return property(getter, doc=f"Deprecated spelling of `{new}`.")
