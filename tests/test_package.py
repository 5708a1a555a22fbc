"""The files a released package carries: licence and change log agree with pyproject.toml."""

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs tomllib (Python 3.11+)")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def project():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_license_file_is_the_declared_bsd_3_clause(project):
    assert project["license"] == {"text": "BSD-3-Clause"}
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("BSD 3-Clause License\n")
    assert re.search(r"^Copyright \(c\) \d{4}, crmask developers$", text, re.MULTILINE)
    assert "Neither the name of the copyright holder nor the names of its" in text


def test_changelog_has_unreleased_then_the_current_version(project):
    headings = re.findall(r"^## (.+)$", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert headings[:2] == ["Unreleased", project["version"]]


@pytest.mark.parametrize("old, new", [("crmask.metrics", "crmask.bench.metrics"),
                                      ("crmask.synthetic", "crmask.data.synthetic"),
                                      ("crmask.footprints", "crmask.data.footprints")])
def test_evaluation_modules_keep_their_old_names(old, new):
    """Synthetic frames, footprints and metrics left the image core; their old import paths give the same modules."""
    import importlib

    assert importlib.import_module(old) is importlib.import_module(new)
    exec(f"from {old} import __name__ as name", namespace := {})
    assert namespace["name"] == new
