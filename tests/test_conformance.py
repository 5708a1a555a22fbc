"""Every registered detector passes the conformance suite (crmask.testing)."""

import pytest

import crmask
from crmask.testing import iter_checks

CASES = [
    pytest.param(info.name, check_name, id=f"{info.name}-{check_name}")
    for info in crmask.list_detectors()
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
    for info in crmask.list_detectors():
        if info.plugin == "published":
            extra = set(info.missing) - PUBLISHED_EXTRA_MODULES
            assert not extra, f"{info.name} requires modules missing here: {sorted(extra)}"
        else:
            assert info.available, f"{info.name} requires modules missing here: {info.missing}"
        cls = crmask.get_detector_class(info.name)
        assert cls.__doc__ and cls.__doc__.strip(), f"{info.name} has no docstring"
