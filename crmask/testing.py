"""Conformance checks every registered detector must pass.

Plugin authors run them on their own detectors, as scikit-learn's
``check_estimator`` is used::

    from crmask.testing import check_detector
    check_detector("my-detector")

The crmask test suite runs them over every detector in the registry.
"""

from __future__ import annotations

import math
from typing import Callable, Iterator

import astropy.units as u
import numpy as np
from astropy.nddata import CCDData

from .detector import Detector, MaskResult
from .events import EVENT_COLUMNS, EventFilter
from .exceptions import InvalidImageError
from .params import Param
from .registry import get_detector_class

__all__ = ["conformance_image", "iter_checks", "check_detector"]

_CR_AMPLITUDE = 3000.0  # adu: far above a 200 adu sky with 2 e-/adu gain


def conformance_image(seed: int = 0, shape: tuple[int, int] = (96, 128)) -> tuple[CCDData, np.ndarray]:
    """Return a small test image with known cosmic rays, and its CR truth mask.

    A 200 adu sky with Poisson and 5 e- read noise (gain 2 e-/adu), three
    Gaussian stars (sigma 1.6 px, seeing-blurred and so never CRs) and six
    sharp hits: single pixels, a diagonal pair and straight tracks of 3-6
    pixels, each ``3000`` adu per pixel.
    """
    rng = np.random.default_rng(seed)
    ny, nx = shape
    gain, readnoise, sky = 2.0, 5.0, 200.0
    yy, xx = np.mgrid[:ny, :nx]
    model = np.full(shape, sky)
    for y0, x0, flux in ((24, 30, 6e4), (60, 90, 2e4), (70, 40, 1e4)):
        model += flux / (2 * np.pi * 1.6**2) * np.exp(-((yy - y0) ** 2 + (xx - x0) ** 2) / (2 * 1.6**2))
    electrons = rng.poisson(model * gain) + rng.normal(0, readnoise, shape)
    data = (electrons / gain).astype(np.float32)
    truth = np.zeros(shape, dtype=bool)
    hits = [
        [(10, 100)],
        [(85, 15)],
        [(45, 60), (46, 61)],
        [(15, 70), (15, 71), (15, 72)],
        [(30 + i, 110) for i in range(6)],
        [(80 + i, 100 + i) for i in range(4)],
    ]
    for hit in hits:
        for y, x in hit:
            truth[y, x] = True
    data[truth] += _CR_AMPLITUDE
    header = {"GAIN": gain, "RDNOISE": readnoise, "EXPTIME": 60.0, "INSTRUME": "crmask-conformance"}
    return CCDData(data, unit=u.adu, header=header), truth


def _check_declaration(cls: type) -> None:
    assert isinstance(cls.name, str) and cls.name, "detector has no name"
    assert cls.kind in ("mask", "events"), f"kind must be 'mask' or 'events', got {cls.kind!r}"
    assert cls.summary, f"{cls.name}: summary (one-line description) is empty"
    for pname, spec in cls.parameters.items():
        assert isinstance(spec, Param), f"{cls.name}: parameter {pname!r} is not a crmask.Param"
        assert spec.doc, f"{cls.name}: parameter {pname!r} has no doc"
        spec.validate(pname, spec.default)


def _check_params_round_trip(cls: type) -> None:
    det = cls()
    params = det.get_params()
    assert set(params) == set(cls.parameters), f"{cls.name}: get_params() keys differ from declared parameters"
    clone = cls(**params)
    assert clone.get_params() == params, f"{cls.name}: cls(**get_params()) changed the parameters"
    repr(det)


def _check_clone(cls: type) -> None:
    # scikit-learn's clone: cls(**get_params(deep=False)) must keep every value, the very object
    params = cls().get_params(deep=False)
    try:
        kept = cls(**params).get_params(deep=False)
    except ValueError as exc:
        raise AssertionError(f"{cls.name}: cls(**get_params()) refused its own parameters: {exc}") from None
    for pname, value in params.items():
        assert kept[pname] is value, (
            f"{cls.name}: the constructor changed parameter {pname!r} (sklearn.base.clone fails)"
        )


def _numeric_sample(spec: Param):
    """A valid value of a numeric parameter given as another numeric type (numpy int, Python int), or None."""
    base = spec.default if spec.default is not None else (spec.low if spec.low is not None else 1)
    if spec.type is int:
        candidates = [np.int64(base)]
    elif spec.type is float:
        candidates = [int(math.ceil(base)), int(math.floor(base)) + 1]
    else:
        return None
    for value in candidates:
        try:
            spec.validate("sample", value)
        except ValueError:
            continue
        return value
    return None


def _check_param_types(cls: type) -> None:
    for pname, value in cls().get_params().items():
        declared = cls.parameters[pname].type
        assert value is None or type(value) is declared, (
            f"{cls.name}: parameter {pname!r} holds a {type(value).__name__}, declared {declared.__name__}"
        )
    for pname, spec in cls.parameters.items():
        value = _numeric_sample(spec)
        if value is None:
            continue
        try:
            got = cls(**{pname: value}).get_params()[pname]
        except ValueError:
            continue  # a constraint between parameters (such as an odd size) refuses this value
        assert type(got) is spec.type, (
            f"{cls.name}: {pname}={value!r} was kept as a {type(got).__name__}, declared {spec.type.__name__}"
        )


def _check_unknown_param(cls: type) -> None:
    try:
        cls(no_such_parameter=1)
    except ValueError as exc:
        assert "no_such_parameter" in str(exc), f"{cls.name}: error does not name the parameter: {exc}"
    else:
        raise AssertionError(f"{cls.name}: an unknown parameter was accepted")


def _check_out_of_range(cls: type) -> None:
    for pname, spec in cls.parameters.items():
        if spec.choices is not None:
            bad = "not-a-valid-choice"
        elif spec.type in (int, float) and spec.low is not None:
            bad = spec.type(spec.low - 1)
        else:
            continue
        try:
            cls(**{pname: bad})
        except ValueError as exc:
            assert pname in str(exc), f"{cls.name}: error for {pname}={bad!r} does not name it: {exc}"
        else:
            raise AssertionError(f"{cls.name}: accepted out-of-range {pname}={bad!r}")


def _check_finds_obvious_crs(cls: type) -> None:
    ccd, truth = conformance_image()
    before = ccd.data.copy()
    result = cls().detect(ccd)
    assert isinstance(result, MaskResult)
    assert result.mask.dtype == bool and result.mask.shape == ccd.shape
    np.testing.assert_array_equal(ccd.data, before, err_msg=f"{cls.name}: detect() modified its input")
    found = np.count_nonzero(result.mask & truth) / truth.sum()
    assert found >= 0.5, f"{cls.name}: found only {found:.0%} of obvious cosmic-ray pixels"
    if result.probability is not None:
        prob = result.probability
        assert prob.shape == ccd.shape and np.all((prob >= 0) & (prob <= 1)), f"{cls.name}: probability not in [0, 1]"
    for key in ("detector", "version", "params", "runtime", "n_cr_pixels"):
        assert key in result.meta, f"{cls.name}: result.meta lacks {key!r}"


def _check_bad_pixels_never_flagged(cls: type) -> None:
    ccd, truth = conformance_image()
    bad = np.zeros(ccd.shape, dtype=bool)
    bad[28:40, 105:115] = True  # covers the vertical track
    ccd.mask = bad
    ccd.data[5, 5] = np.nan
    result = cls().detect(ccd)
    assert not (result.mask & bad).any(), f"{cls.name}: flagged pixels of the input mask"
    assert not result.mask[5, 5], f"{cls.name}: flagged a NaN pixel"


def _check_electrons(cls: type) -> None:
    ccd, truth = conformance_image()
    electrons = CCDData(ccd.data * 2.0, unit=u.electron, header={"RDNOISE": 5.0})
    result = cls().detect(electrons)
    assert np.count_nonzero(result.mask & truth) >= 0.5 * truth.sum(), f"{cls.name}: failed on an image in electrons"


def _check_rejects_bad_shape(cls: type) -> None:
    cube = CCDData(np.ones((2, 16, 16), dtype=np.float32), unit=u.adu, header={"GAIN": 1.0, "RDNOISE": 5.0})
    try:
        cls().detect(cube)
    except InvalidImageError as exc:
        assert "2-D" in str(exc)
    else:
        raise AssertionError(f"{cls.name}: accepted a 3-D image")


def _check_deterministic(cls: type) -> None:
    ccd, _ = conformance_image(seed=1)
    first, second = cls().detect(ccd), cls().detect(ccd)
    np.testing.assert_array_equal(first.mask, second.mask, err_msg=f"{cls.name}: not deterministic")


def _check_event_filter(cls: type) -> None:
    frame = np.zeros((32, 32), dtype=np.float32)
    frame[10, 10] = 2.0  # one 2 keV single-pixel event
    table = cls().filter(CCDData(frame, unit=u.keV))
    missing = [c for c in EVENT_COLUMNS if c not in table.colnames]
    assert not missing, f"{cls.name}: event table lacks {missing}"


#: Checks of the parameter declarations (`crmask.params.Configurable`), shared by both kinds.
_CONFIGURABLE_CHECKS = (
    _check_declaration,
    _check_params_round_trip,
    _check_clone,
    _check_param_types,
    _check_unknown_param,
    _check_out_of_range,
)
_MASK_CHECKS = (
    *_CONFIGURABLE_CHECKS,
    _check_finds_obvious_crs,
    _check_bad_pixels_never_flagged,
    _check_electrons,
    _check_rejects_bad_shape,
    _check_deterministic,
)
_EVENT_CHECKS = (*_CONFIGURABLE_CHECKS, _check_event_filter)


def iter_checks(detector: str | type) -> Iterator[tuple[str, Callable[[], None]]]:
    """Yield ``(check_name, check)`` pairs for a detector name or class."""
    cls = get_detector_class(detector) if isinstance(detector, str) else detector
    if issubclass(cls, Detector):
        checks = _MASK_CHECKS
    elif issubclass(cls, EventFilter):
        checks = _EVENT_CHECKS
    else:
        raise TypeError(f"{cls!r} is not a crmask Detector or EventFilter")
    for check in checks:
        yield check.__name__.removeprefix("_check_"), (lambda c=check: c(cls))


def check_detector(detector: str | type) -> None:
    """Run every conformance check; raise `AssertionError` at the first failure."""
    for _, check in iter_checks(detector):
        check()
