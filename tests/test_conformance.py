"""Every registered detector passes the conformance suite (crmask.testing)."""

import pytest

import crmask
from crmask.testing import iter_checks

REGISTERED = [*crmask.list_detectors(), *crmask.list_event_filters()]

CASES = [
    pytest.param(info.name, check_name, id=f"{info.name}-{check_name}")
    for info in REGISTERED
    if info.available
    for check_name, _ in iter_checks(info.name)
]


@pytest.mark.parametrize(("name", "check_name"), CASES)
def test_conformance(name, check_name):
    dict(iter_checks(name))[check_name]()


#: Modules of the optional ``published`` extra, which ``all`` leaves out (GPL-3 packages): the published
#: plugin's detectors may lack these, and only these (tests/published covers them where they are installed).
PUBLISHED_EXTRA_MODULES = {"deepCR", "tensorboard", "cosmic_conn", "dfcosmic"}


def test_every_registered_detector_is_importable_and_documented():
    for info in REGISTERED:
        if info.plugin == "published":
            extra = set(info.missing) - PUBLISHED_EXTRA_MODULES
            assert not extra, f"{info.name} requires modules missing here: {sorted(extra)}"
        else:
            assert info.available, f"{info.name} requires modules missing here: {info.missing}"
        cls = crmask.get_detector_class(info.name)
        assert cls.__doc__ and cls.__doc__.strip(), f"{info.name} has no docstring"


class _Niter(crmask.Detector):
    """A detector whose constructor stores a parameter as given, skipping the declared type."""

    name = "niter-demo"
    summary = "flags nothing"
    parameters = {"niter": crmask.Param(4, "iterations", low=1)}

    def __init__(self, **params):
        super().__init__(**params)
        self._params["niter"] = float(self._params["niter"])  # what a library wrapper might do

    def _detect(self, image):
        return crmask.MaskResult(mask=image.bad.copy())


@pytest.mark.parametrize(
    ("check_name", "message"),
    [
        ("param_types", "niter-demo: parameter 'niter' holds a float, declared int"),
        ("clone", r"niter-demo: cls\(\*\*get_params\(\)\) refused its own parameters: parameter 'niter'"),
    ],
)
def test_conformance_catches_values_that_lose_their_declared_type(check_name, message):
    with pytest.raises(AssertionError, match=message):
        dict(iter_checks(_Niter))[check_name]()
