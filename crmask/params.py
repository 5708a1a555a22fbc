"""Declared detector parameters: validation, parsing from text, and the base class that holds them.

A detector declares its parameters once, as a mapping of names to `Param`.
That declaration is the single source for class-creation and
construction-time validation, ``key=value`` parsing (`split_assignment` and
`parse_assignments`, for ``crmask detect --param`` and ``crmask bench
--param``), header provenance and benchmark configurations. `Configurable` is the base of
every registered class (image detectors and X-ray event filters): it checks
the declarations when the class is made and gives instances scikit-learn's
``get_params`` / ``set_params`` protocol, so `sklearn.base.clone` works.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, ClassVar, Iterable, Mapping

import astropy.units as u

from .exceptions import PluginError

__all__ = ["Param", "validate_params", "split_assignment", "parse_assignments", "Configurable"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"expected a boolean (true/false), got {text!r}")


#: How each parameter type is read from command-line text.
_PARSERS: dict[type, Callable[[str], Any]] = {bool: _parse_bool, int: int, float: float, str: str}


def _infer_type(default: Any) -> type:
    """The parameter type of ``default``: `bool`, `int`, `float` or `str`; `float` for `None`."""
    import numpy as np

    if default is None:
        return float
    for kind, accepted in ((bool, (bool, np.bool_)), (int, (int, np.integer)), (float, (float, np.floating)),
                           (str, (str,))):
        if isinstance(default, accepted):
            return kind
    raise TypeError(
        f"cannot infer a parameter type from the default {default!r}; give type=float, int, bool or str"
    )


@dataclass(frozen=True)
class Param:
    """Declaration of one detector parameter.

    Parameters
    ----------
    default : object
        Value used when the parameter is not given.
    doc : str
        One-line description shown by ``crmask list`` and in the docs.
    type : type, optional
        Python type of the value: `float`, `int`, `bool` or `str`. By
        default the type of ``default`` (so ``Param(5, ...)`` is an `int`
        parameter and ``Param(5.0, ...)`` a `float` one), or `float` when
        the default is `None`. Values are coerced to it: a float parameter
        given ``7`` holds ``7.0``; an int parameter refuses ``7.5``.
    low, high : float, optional
        Inclusive bounds for numeric parameters, unless ``low_open`` or
        ``high_open`` make them exclusive.
    choices : tuple of str, optional
        Allowed values of a string parameter.
    allow_none : bool
        Whether `None` is a valid value (meaning "not set" or "automatic").
    units : tuple of astropy units, optional
        For a `float` parameter, the units a `~astropy.units.Quantity` value
        may be given in (any unit convertible to one of them); the Quantity
        is kept as given, for the code that knows the image to convert it
        (`crmask.ccd.prepare_image` for the calibration values). The bounds
        apply to its value.
    """

    default: Any
    doc: str
    type: type | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] | None = None
    allow_none: bool = False
    units: tuple[u.UnitBase, ...] | None = None

    def __post_init__(self) -> None:
        if self.type is None:
            object.__setattr__(self, "type", _infer_type(self.default))
        if self.type not in _PARSERS:
            raise TypeError(f"Param type must be one of float, int, bool or str, got {self.type!r}")
        if self.type is float and isinstance(self.default, int) and not isinstance(self.default, bool):
            object.__setattr__(self, "default", float(self.default))

    def allowed(self) -> str:
        """Describe the allowed values in words, for error messages."""
        if self.choices is not None:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        elif self.type is bool:
            text = "true or false"
        elif self.low is not None or self.high is not None:
            lo = "(" if self.low_open else "["
            hi = ")" if self.high_open else "]"
            low = "-inf" if self.low is None else repr(self.low)
            high = "inf" if self.high is None else repr(self.high)
            text = f"a {self.type.__name__} in {lo}{low}, {high}{hi}"
        else:
            text = f"a {self.type.__name__}"
        if self.units:
            text += " (or a Quantity in " + " or ".join(unit.to_string() for unit in self.units) + ")"
        return text + (" or None" if self.allow_none else "")

    def validate(self, name: str, value: Any) -> Any:
        """Return ``value`` coerced to the declared type, or raise `ValueError`."""
        if value is None:
            if self.allow_none:
                return None
            raise ValueError(f"parameter {name!r} must be {self.allowed()}, got None")
        coerced = self._coerce(name, value)
        if self.choices is not None and coerced not in self.choices:
            raise ValueError(f"parameter {name!r} must be {self.allowed()}, got {value!r}")
        if self.type in (int, float):
            number = float(coerced.value) if isinstance(coerced, u.Quantity) else coerced
            if not math.isfinite(number):
                raise ValueError(f"parameter {name!r} must be finite, got {value!r}")
            too_low = self.low is not None and (
                number <= self.low if self.low_open else number < self.low
            )
            too_high = self.high is not None and (
                number >= self.high if self.high_open else number > self.high
            )
            if too_low or too_high:
                raise ValueError(f"parameter {name!r} must be {self.allowed()}, got {value!r}")
        return coerced

    def _coerce(self, name: str, value: Any) -> Any:
        import numpy as np

        kind = self.type
        if self.units and isinstance(value, u.Quantity):
            return self._coerce_quantity(name, value)
        if type(value) is kind:
            return value  # the very object given, as scikit-learn's clone expects
        if kind is bool:
            ok = isinstance(value, (bool, np.bool_))
        elif kind is int:
            ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
        elif kind is float:
            ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
                value, bool
            )
        else:
            ok = isinstance(value, kind)
        if not ok:
            raise ValueError(
                f"parameter {name!r} must be {self.allowed()}, got {value!r} "
                f"of type {type(value).__name__}"
            )
        return kind(value)

    def _coerce_quantity(self, name: str, value: u.Quantity) -> u.Quantity:
        """Check that a Quantity is a scalar in one of `units`; its value must pass the bounds (checked after)."""
        if not value.isscalar:
            raise ValueError(f"parameter {name!r} must be a scalar Quantity, got shape {value.shape}")
        if not any(value.unit.is_equivalent(unit) for unit in self.units):
            allowed = " or ".join(unit.to_string() for unit in self.units)
            raise ValueError(
                f"parameter {name!r} has unit {value.unit.to_string()} ({value.unit.physical_type}); "
                f"give it in {allowed}"
            )
        return value

    def parse(self, name: str, text: str) -> Any:
        """Parse the text form of a value (from the command line) and validate it."""
        if self.allow_none and text.strip().lower() in {"none", "null", ""}:
            return None
        try:
            value = _PARSERS[self.type](text)
        except ValueError:
            raise ValueError(f"parameter {name!r} must be {self.allowed()}, got {text!r}") from None
        return self.validate(name, value)


def _unknown(names: list[str], owner: str, declared: Mapping[str, Param], what: str) -> ValueError:
    valid = ", ".join(sorted(declared)) or "(none)"
    listed = ", ".join(repr(n) for n in names)
    return ValueError(f"unknown parameter {listed} for {what} {owner!r}; valid parameters are: {valid}")


def validate_params(
    owner: str, declared: Mapping[str, Param], given: Mapping[str, Any], *, what: str = "detector"
) -> dict[str, Any]:
    """Merge ``given`` over the declared defaults and validate every value.

    Parameters
    ----------
    owner : str
        Name of the detector, used in error messages.
    declared : dict of str to Param
        The detector's parameter declarations.
    given : dict
        Values given by the caller.
    what : str
        What ``owner`` is, in error messages (``"detector"``, ``"event filter"``).

    Returns
    -------
    dict
        Every declared parameter with its validated value, in its declared type.

    Raises
    ------
    ValueError
        If a name is not declared or a value is not allowed.
    """
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise _unknown(unknown, owner, declared, what)
    return {name: spec.validate(name, given.get(name, spec.default)) for name, spec in declared.items()}


def split_assignment(item: str, form: str = "key=value") -> tuple[str, str]:
    """Split a ``key=value`` string at its first ``=``: ``(key, value text)``, the key stripped.

    Parameters
    ----------
    item : str
        The text, e.g. ``"sigclip=4.5"`` or ``"device=cuda:0"``.
    form : str
        The expected form, named in the error (e.g. ``"[LABEL:]key=value"``).

    Raises
    ------
    ValueError
        ``expected <form>, got '<item>'`` when there is no ``=`` or no key.
    """
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ValueError(f"expected {form}, got {item!r}")
    return key, text


def parse_assignments(
    owner: str, declared: Mapping[str, Param], items: Iterable[str], *, what: str = "detector"
) -> dict[str, Any]:
    """Parse ``key=value`` strings (command-line parameters) against declared parameters.

    Parameters
    ----------
    owner : str
        Name of the detector, used in error messages.
    declared : dict of str to Param
        The detector's parameter declarations.
    items : iterable of str
        ``key=value`` strings; a later item overrides an earlier one.
    what : str
        What ``owner`` is, in error messages (``"detector"``, ``"event filter"``).

    Returns
    -------
    dict
        The parameters given, parsed (`Param.parse`) and validated; defaults
        are not filled in.

    Raises
    ------
    ValueError
        One line naming the bad item: no ``=``, an unknown name (with the
        valid ones) or a value not allowed.

    Examples
    --------
    >>> parse_assignments("demo", {"sigma": Param(4.5, "threshold")}, ["sigma=3"])
    {'sigma': 3.0}
    """
    params: dict[str, Any] = {}
    for item in items:
        key, text = split_assignment(item)
        if key not in declared:
            raise _unknown([key], owner, declared, what)
        params[key] = declared[key].parse(key, text)
    return params


class Configurable:
    """Base of every class a plugin registers: declared parameters, checked early.

    Subclasses set the class attributes below. The declarations are checked
    when the class is made (every value of ``parameters`` is a `Param` and
    every default is allowed), so a mistake fails at import with the class
    and parameter named, not at a user's first call. Instances validate
    their parameters at construction, as scikit-learn estimators do, and
    follow scikit-learn's parameter protocol: `get_params`, `set_params`,
    and ``type(det)(**det.get_params())`` makes an equal detector, so
    `sklearn.base.clone` works.
    """

    #: Registry name (set by subclasses).
    name: ClassVar[str] = ""
    #: ``"mask"`` (image detector) or ``"events"`` (X-ray event filter).
    kind: ClassVar[str] = ""
    #: One-line description shown by ``crmask list``.
    summary: ClassVar[str] = ""
    #: Importable modules needed at run time (checked by ``crmask list``).
    requires: ClassVar[tuple[str, ...]] = ()
    #: Declared parameters, the single source of truth for validation and the CLI.
    parameters: ClassVar[Mapping[str, Param]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for pname, spec in cls.parameters.items():
            if not isinstance(spec, Param):
                raise PluginError(
                    f"{cls.__qualname__}: parameter {pname!r} is declared as {spec!r}, not a crmask.Param"
                )
            try:
                spec.validate(pname, spec.default)
            except ValueError as exc:
                raise PluginError(f"{cls.__qualname__}: the default of {exc}") from None

    def __init__(self, **params: Any) -> None:
        self._params = validate_params(self.name, self.parameters, params, what=self.kind_name())
        self._check_params()

    @property
    def params(self) -> Mapping[str, Any]:
        """The parameter values, read-only (change them with `set_params`)."""
        return MappingProxyType(self._params)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Return every declared parameter with its value (defaults filled in).

        Parameters
        ----------
        deep : bool
            Accepted for scikit-learn's protocol; parameters are plain values,
            so it changes nothing.
        """
        return dict(self._params)

    def set_params(self, **params: Any):
        """Change parameters, validating them as the constructor does; returns ``self``.

        On an invalid value the detector keeps its previous parameters.
        """
        previous = self._params
        self._params = validate_params(self.name, self.parameters, {**previous, **params}, what=self.kind_name())
        try:
            self._check_params()
        except Exception:
            self._params = previous
            raise
        return self

    def _check_params(self) -> None:
        """Check constraints between parameters; raise `ValueError` naming them."""

    @classmethod
    def kind_name(cls) -> str:
        """What the class is, in words for messages: ``"event filter"`` or ``"detector"``."""
        return "event filter" if cls.kind == "events" else "detector"

    @classmethod
    def version(cls) -> str:
        """Version of the distribution that provides this class."""
        from .provenance import distribution_version

        return distribution_version(cls)

    def _provenance(self, runtime: float) -> dict[str, Any]:
        return {
            "detector": self.name,
            "version": self.version(),
            "params": self.get_params(),
            "runtime": runtime,
        }

    def __repr__(self) -> str:
        changed = {k: v for k, v in self._params.items() if v != self.parameters[k].default}
        args = ", ".join(f"{k}={v!r}" for k, v in changed.items())
        return f"{type(self).__name__}({args})"
