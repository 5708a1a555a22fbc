import numpy as np
import pytest

from crmask.params import Configurable, Param, parse_assignments, split_assignment, validate_params

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


def test_type_is_inferred_from_the_default():
    assert Param(5, "n").type is int and Param(5.0, "x").type is float
    assert Param(True, "f").type is bool and Param("a", "s").type is str
    assert Param(None, "g", allow_none=True).type is float
    # a user's 7 stays an int: no 7.0 handed to a library that needs an integer
    value = Param(5, "n", low=1).validate("n", 7)
    assert value == 7 and type(value) is int
    with pytest.raises(ValueError, match="'n' must be a int in"):
        Param(5, "n", low=1).validate("n", 7.5)
    explicit = Param(5, "x", type=float)
    assert explicit.default == 5.0 and type(explicit.default) is float
    with pytest.raises(TypeError, match="cannot infer a parameter type from the default"):
        Param([1, 2], "list")


def test_a_value_of_the_declared_type_is_kept_as_the_very_object():
    value = 4.25
    assert DECLARED["sigma"].validate("sigma", value) is value


def detector_class(**attributes):
    from crmask import Detector

    return type("Demo", (Detector,), {"name": "demo", "summary": "demo", "_detect": lambda self, image: None,
                                      **attributes})


def test_defaults_are_checked_when_the_class_is_made():
    from crmask import PluginError

    with pytest.raises(PluginError, match=r"Demo: the default of parameter 'niter' must be a int in \[1, 10\], got 0"):
        detector_class(parameters={"niter": Param(0, "iterations", low=1, high=10)})
    with pytest.raises(PluginError, match="Demo: parameter 'sigma' is declared as 4.5, not a crmask.Param"):
        detector_class(parameters={"sigma": 4.5})
    with pytest.raises(PluginError, match=r"Demo: needs \['flat'\], but only \['gain', 'readnoise'\] can be needed"):
        detector_class(needs=("flat",))


def test_needs_adds_the_calibration_parameters():
    from crmask.detector import CALIBRATION_PARAMS

    cls = detector_class(needs=("gain",), parameters={"sigma": Param(4.5, "threshold")})
    assert cls.parameters == {"sigma": Param(4.5, "threshold"), "gain": CALIBRATION_PARAMS["gain"]}
    assert cls(gain=2).get_params() == {"sigma": 4.5, "gain": 2.0}
    own = Param(2.0, "the gain of this camera", low=0.0, low_open=True)
    assert detector_class(needs=("gain",), parameters={"gain": own}).parameters == {"gain": own}


def _box_is_odd(self):
    if self.params["box"] % 2 == 0:
        raise ValueError("parameter 'box' must be odd")


def test_params_is_read_only_and_a_refused_set_params_changes_nothing():
    det = detector_class(parameters={"box": Param(5, "odd box", low=3)}, _check_params=_box_is_odd)()
    with pytest.raises(TypeError):
        det.params["box"] = 7
    with pytest.raises(ValueError, match="must be odd"):
        det.set_params(box=6)
    assert det.params["box"] == 5
    assert det.set_params(box=7) is det and det.get_params(deep=False) == {"box": 7}


def test_key_value_items_are_split_at_the_first_equals_sign():
    assert split_assignment(" device =cuda:0") == ("device", "cuda:0")
    assert split_assignment("mode=a=b") == ("mode", "a=b")
    for bad in ("sigma", "=3", " =3"):
        with pytest.raises(ValueError, match=rf"^expected NAME=V1, got {bad!r}$"):
            split_assignment(bad, "NAME=V1")


def test_key_value_items_are_parsed_against_the_declaration():
    assert parse_assignments("demo", DECLARED, ["sigma=3", "niter=2", "gain=none", "sigma=5"]) == {
        "sigma": 5.0, "niter": 2, "gain": None}
    assert parse_assignments("demo", DECLARED, []) == {}
    for item, message in [("sigma", "expected key=value, got 'sigma'"),
                          ("sigam=3", "unknown parameter 'sigam' for detector 'demo'; valid parameters are: "
                                      "flag, gain, mode, niter, sigma"),
                          ("niter=11", r"parameter 'niter' must be a int in \[1, 10\], got 11")]:
        with pytest.raises(ValueError, match=message) as error:
            parse_assignments("demo", DECLARED, ["sigma=3", item])
        assert "\n" not in str(error.value)


def test_an_event_filter_is_called_one_in_errors():
    class Filter(Configurable):
        name, kind = "demo-filter", "events"
        parameters = {"threshold": Param(0.5, "probability threshold", low=0.0, high=1.0)}

    with pytest.raises(ValueError, match="unknown parameter 'thresh' for event filter 'demo-filter'"):
        Filter(thresh=0.2)
    with pytest.raises(ValueError, match="unknown parameter 'thresh' for event filter 'demo-filter'"):
        parse_assignments(Filter.name, Filter.parameters, ["thresh=0.2"], what=Filter.kind_name())
