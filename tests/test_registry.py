import sys
from pathlib import Path

import pytest

import crmask
from crmask import PluginError, UnknownDetectorError
from crmask.registry import reload_plugins
from crmask.testing import check_detector, conformance_image

EXAMPLE_PLUGIN = Path(__file__).resolve().parents[1] / "examples" / "crmask_example_plugin"


@pytest.fixture
def fresh_registry():
    reload_plugins()
    yield
    reload_plugins()


def install_entry_point(site: Path, dist: str, entry_points: str) -> None:
    """Create an installed distribution's metadata (what pip writes) in ``site``."""
    info = site / f"{dist}-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(entry_points)


def test_builtin_plugin_is_found_through_its_entry_point():
    info = {d.name: d for d in crmask.list_detectors()}["lacosmic"]
    assert info.kind == "mask" and info.plugin == "lacosmic" and info.available
    assert info.needs == ("gain", "readnoise")


def test_unknown_detector_lists_the_valid_names():
    with pytest.raises(UnknownDetectorError) as excinfo:
        crmask.get_detector("deepcr-typo")
    assert "unknown detector 'deepcr-typo'" in str(excinfo.value)
    assert "lacosmic" in excinfo.value.available


def test_list_detectors_rejects_a_bad_kind():
    with pytest.raises(ValueError, match="kind must be 'mask', 'events' or None"):
        crmask.list_detectors(kind="image")


def test_third_party_example_plugin_loads_by_entry_point_and_runs_by_name(tmp_path, monkeypatch, fresh_registry):
    install_entry_point(tmp_path, "crmask_example_plugin", "[crmask]\nmedian-sigma = crmask_example_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(EXAMPLE_PLUGIN))
    reload_plugins()
    names = {d.name: d for d in crmask.list_detectors()}
    assert names["median-sigma"].plugin == "median-sigma"
    check_detector("median-sigma")
    ccd, truth = conformance_image()
    clean = crmask.cosmicray_clean(ccd, detector="median-sigma", nsigma=10)
    assert clean.header["CRMDET"] == "median-sigma"
    assert (clean.mask & truth).sum() == truth.sum()


def test_plugin_with_an_unknown_hook_fails_loudly(tmp_path, monkeypatch, fresh_registry):
    (tmp_path / "bad_hook_plugin.py").write_text(
        "import crmask\n\n@crmask.hookimpl\ndef register_detector(register):\n    pass\n"
    )
    install_entry_point(tmp_path, "bad_hook_plugin", "[crmask]\nbad = bad_hook_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError, match="unknown hook.*register_detector"):
        crmask.list_detectors()


def test_plugin_that_fails_to_import_names_itself(tmp_path, monkeypatch, fresh_registry):
    (tmp_path / "broken_plugin.py").write_text("raise ImportError('needs libfoo')\n")
    install_entry_point(tmp_path, "broken_plugin", "[crmask]\nbroken = broken_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError, match="failed to load: ImportError: needs libfoo"):
        crmask.list_detectors()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("register(int)", "which is not a crmask.Detector or crmask.EventFilter subclass"),
        ("from crmask_lacosmic import LACosmic\n    class Dup(LACosmic):\n        pass\n    register(Dup)",
         r"detector name 'lacosmic' is registered twice: by plugin '(lacosmic|dup)' and by plugin '(dup|lacosmic)'"),
    ],
)
def test_invalid_or_duplicate_registrations_are_errors(tmp_path, monkeypatch, fresh_registry, body, message):
    module = f"plugin_{len(body)}"  # a fresh module name per case (sys.modules caches imports)
    (tmp_path / f"{module}.py").write_text(f"import crmask\n\n@crmask.hookimpl\ndef register_detectors(register):\n    {body}\n")
    install_entry_point(tmp_path, module, f"[crmask]\ndup = {module}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError, match=message):
        crmask.list_detectors()


def test_importing_crmask_imports_no_heavy_dependency():
    import subprocess

    code = "import crmask, sys; crmask.list_detectors(); print(sorted(m for m in ('torch', 'sklearn') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
