"""The published plugin as a package: entry point, extra, and what it does without its packages.

None of these tests needs deepCR, cosmic-conn or dfcosmic: they run in CI, where those are not installed.
"""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import crmask
from crmask.cli import cli

import crmask_published
from crmask_published.network import MissingPackageError

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs tomllib (Python 3.11+)")

ROOT = Path(__file__).resolve().parents[2]
NAMES = {"deepcr-acs-wfc", "deepcr-wfc3-uvis", "deepcr-decam", "cosmic-conn-ground", "cosmic-conn-nres",
         "cosmic-conn-hst", "dfcosmic"}
#: The published packages; each is made unimportable (None in sys.modules) to stand for an install
#: without the extra.
PACKAGES = ("deepCR", "cosmic_conn", "dfcosmic")


@pytest.fixture
def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.fixture
def without_packages(monkeypatch):
    for module in PACKAGES:
        monkeypatch.setitem(sys.modules, module, None)


def test_entry_point_is_declared_and_resolves_to_the_plugin(pyproject):
    target = pyproject["project"]["entry-points"]["crmask"]["published"]
    module = importlib.import_module(target)
    assert module is crmask_published
    found = []
    module.register_detectors(register=found.append)
    assert {cls.name for cls in found} == NAMES


def test_extra_pins_the_packages_and_stays_out_of_all(pyproject):
    extras = pyproject["project"]["optional-dependencies"]
    pinned = {"deepCR==0.3.1", "cosmic-conn==0.6.1", "dfcosmic==0.2.2", "tensorboard"}
    assert pinned <= set(extras["published"])
    assert "published" not in extras["all"][0]


def test_plugin_imports_none_of_the_packages():
    code = ("import sys, crmask_published; "
            "print(sorted(m for m in ('deepCR', 'cosmic_conn', 'dfcosmic') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_without_the_packages_the_detectors_are_listed_unavailable(registered, without_packages):
    infos = {info.name: info for info in crmask.list_detectors("mask")}
    assert NAMES <= set(infos)
    assert "deepCR" in infos["deepcr-acs-wfc"].missing and not infos["deepcr-acs-wfc"].available
    assert infos["cosmic-conn-hst"].missing == ("cosmic_conn",)
    assert infos["dfcosmic"].missing == ("dfcosmic",) and infos["dfcosmic"].plugin == "published"
    listing = CliRunner().invoke(cli, ["list", "--kind", "mask"])
    assert listing.exit_code == 0, listing.output
    line = next(row for row in listing.output.splitlines() if row.startswith("cosmic-conn-ground "))
    assert "no (missing cosmic_conn)" in line and "published" in line and " gain " in line
    decam = next(row for row in listing.output.splitlines() if row.startswith("deepcr-decam "))
    assert decam.split()[2] == "-"  # the DECam model takes adu: no gain needed


@pytest.mark.parametrize("cls", crmask_published.DETECTORS, ids=lambda cls: cls.name)
def test_without_its_package_a_detector_fails_in_one_line_naming_the_extra(cls, without_packages):
    with pytest.raises(MissingPackageError, match=r'needs .*pip install "crmask\[published\]"') as excinfo:
        cls()
    assert isinstance(excinfo.value, crmask.CrmaskError)
    assert "\n" not in str(excinfo.value)
