"""The Sphinx documentation builds without a warning and covers what is registered and public."""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

import crmask

pytest.importorskip("sphinx", reason="building the docs needs the [docs] extra")
pytest.importorskip("numpydoc", reason="building the docs needs the [docs] extra")
pytest.importorskip("sphinx_click", reason="building the docs needs the [docs] extra")

DOCS = Path(__file__).resolve().parents[1] / "docs"

#: Core modules that are implementation details, not API.
PRIVATE_OR_CLI = {"cli"}


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> Path:
    """Build the HTML docs with warnings as errors, as CI does (offline: no intersphinx inventories)."""
    out = tmp_path_factory.mktemp("html")
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "CRMASK_DOCS_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(DOCS), str(out)],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert proc.returncode == 0, f"sphinx-build -W failed:\n{proc.stdout}\n{proc.stderr}"
    return out


def test_docs_build_without_warnings(html):
    for page in ("index", "getting_started", "choosing_detector", "batch", "plugins", "wfi", "cli", "api"):
        assert (html / f"{page}.html").exists(), page


def test_references_link_to_astropy_and_numpy_when_online(monkeypatch):
    import importlib.util

    def load_conf():
        spec = importlib.util.spec_from_file_location("crmask_docs_conf", DOCS / "conf.py")
        conf = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(conf)
        return conf

    monkeypatch.delenv("CRMASK_DOCS_OFFLINE", raising=False)
    online = load_conf()
    assert "sphinx.ext.intersphinx" in online.extensions
    assert online.intersphinx_mapping["astropy"][0] == "https://docs.astropy.org/en/stable/"
    assert online.intersphinx_mapping["numpy"][0] == "https://numpy.org/doc/stable/"
    monkeypatch.setenv("CRMASK_DOCS_OFFLINE", "1")
    assert load_conf().intersphinx_mapping == {}


def test_every_public_core_module_is_in_the_api_reference():
    api = (DOCS / "api.rst").read_text()
    # a module kept importable under an old name (crmask.metrics) is documented under its own (crmask.bench.metrics)
    modules = [importlib.import_module(f"crmask.{m.name}").__name__ for m in pkgutil.iter_modules(crmask.__path__)
               if not m.name.startswith("_") and m.name not in PRIVATE_OR_CLI]
    missing = [m for m in modules if f".. automodule:: {m}\n" not in api]
    assert not missing, f"add these modules to docs/api.rst: {missing}"


def test_every_registered_detector_is_documented(html):
    pages = (html / "choosing_detector.html").read_text() + (html / "wfi.html").read_text()
    for info in [*crmask.list_detectors(), *crmask.list_event_filters()]:
        assert f">{info.name}<" in pages, f"detector {info.name!r} is missing from the docs"


def _command_paths(group: click.Group, prefix: str = "crmask") -> list[str]:
    ctx = click.Context(group)
    paths = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        paths.append(f"{prefix}-{name}")
        if isinstance(command, click.Group):
            paths += _command_paths(command, f"{prefix}-{name}")
    return paths


def test_cli_reference_shows_every_command_including_plugin_commands(html):
    from crmask.cli import cli

    page = (html / "cli.html").read_text()
    paths = _command_paths(cli)
    assert {"crmask-detect", "crmask-list", "crmask-bench"} <= set(paths)
    missing = [p for p in paths if f'id="{p}"' not in page]
    assert not missing, f"commands missing from the CLI reference: {missing}"
    assert "--scheduler" in page


def test_getting_started_shows_the_readme_commands(html):
    readme = (DOCS.parent / "README.md").read_text()
    install = next(line for line in readme.splitlines() if line.startswith("python -m pip install"))
    page = (html / "getting_started.html").read_text()
    assert "examples/data/v_e_20180810_12_1_0_0.fits.gz" in page and "pytest" in page
    assert install.split("&&")[0].split('"')[1] in page  # the pinned torch requirement
