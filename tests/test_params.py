import numpy as np
import pytest

from crmask.params import Param, validate_params

DECLARED = {
    "sigma": Param(4.5, "threshold", low=0.0, low_open=True),
    "niter": Param(4, "iterations", type=int, low=1, high=10),
    "mode": Param("a", "mode", type=str, choices=("a", "b")),
    "flag": Param(True, "flag", type=bool),
    "gain": Param(None, "gain", low=0.0, low_open=True, allow_none=True),
}


def test_defaults_filled_and_values_coerced():
    params = validate_params("demo", DECLARED, {"sigma": 3, "niter": np.int64(2)})
    assert params == {"sigma": 3.0, "niter": 2, "mode": "a", "flag": True, "gain": None}
    assert isinstance(params["sigma"], float) and isinstance(params["niter"], int)


def test_unknown_parameter_names_it_and_lists_valid_ones():
    with pytest.raises(ValueError, match=r"unknown parameter 'sigam' for detector 'demo'.*valid parameters are: flag, gain, mode, niter, sigma"):
        validate_params("demo", DECLARED, {"sigam": 1})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("sigma", 0.0, r"'sigma' must be a float in \(0.0, inf\], got 0.0"),
        ("sigma", -1, r"'sigma' must be a float in \(0.0, inf\]"),
        ("sigma", float("nan"), "'sigma' must be finite"),
        ("niter", 11, r"'niter' must be a int in \[1, 10\], got 11"),
        ("niter", 2.5, "'niter' must be .* of type float"),
        ("mode", "c", "'mode' must be one of 'a', 'b', got 'c'"),
        ("flag", "yes", "'flag' must be true or false"),
        ("sigma", None, "'sigma' must be .* got None"),
    ],
)
def test_invalid_values_name_the_parameter_and_the_allowed_range(name, value, message):
    with pytest.raises(ValueError, match=message):
        validate_params("demo", DECLARED, {name: value})


def test_none_allowed_only_where_declared():
    assert validate_params("demo", DECLARED, {"gain": None})["gain"] is None


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [("sigma", "5", 5.0), ("niter", "3", 3), ("flag", "false", False), ("flag", "on", True), ("gain", "none", None), ("mode", "b", "b")],
)
def test_parse_from_command_line_text(name, text, expected):
    assert DECLARED[name].parse(name, text) == expected


def test_parse_rejects_text_of_the_wrong_type():
    with pytest.raises(ValueError, match="'niter' must be a int in"):
        DECLARED["niter"].parse("niter", "four")
