"""Declared detector parameters: validation and parsing from text.

A detector declares its parameters once, as a mapping of names to `Param`.
That declaration is the single source for construction-time validation,
``crmask detect --param key=value`` parsing, header provenance and benchmark
configurations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import astropy.units as u

__all__ = ["Param", "validate_params"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"expected a boolean (true/false), got {text!r}")


@dataclass(frozen=True)
class Param:
    """Declaration of one detector parameter.

    Parameters
    ----------
    default : object
        Value used when the parameter is not given.
    doc : str
        One-line description shown by ``crmask list`` and in the docs.
    type : type
        Python type of the value: `float`, `int`, `bool` or `str`.
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
    type: type = float
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] | None = None
    allow_none: bool = False
    units: tuple[u.UnitBase, ...] | None = None

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
        parsers: dict[type, Callable[[str], Any]] = {
            bool: _parse_bool,
            int: int,
            float: float,
            str: str,
        }
        try:
            value = parsers[self.type](text)
        except ValueError:
            raise ValueError(f"parameter {name!r} must be {self.allowed()}, got {text!r}") from None
        return self.validate(name, value)


def validate_params(owner: str, declared: dict[str, Param], given: dict[str, Any]) -> dict[str, Any]:
    """Merge ``given`` over the declared defaults and validate every value.

    Parameters
    ----------
    owner : str
        Name of the detector, used in error messages.
    declared : dict of str to Param
        The detector's parameter declarations.
    given : dict
        Values given by the caller.

    Returns
    -------
    dict
        Every declared parameter with its validated value.

    Raises
    ------
    ValueError
        If a name is not declared or a value is not allowed.
    """
    unknown = sorted(set(given) - set(declared))
    if unknown:
        valid = ", ".join(sorted(declared)) or "(none)"
        names = ", ".join(repr(u) for u in unknown)
        raise ValueError(f"unknown parameter {names} for detector {owner!r}; valid parameters are: {valid}")
    params = {name: spec.default for name, spec in declared.items()}
    for name, value in given.items():
        params[name] = declared[name].validate(name, value)
    return params
