import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import crmask
from crmask import DetectorKindError, MissingCalibrationError, PluginError, PluginWarning, UnknownDetectorError
from crmask.cli import cli
from crmask.registry import reload_plugins
from crmask.testing import check_detector, conformance_image

EXAMPLE_PLUGIN = Path(__file__).resolve().parents[1] / "examples" / "crmask_example_plugin"


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


def test_plugin_that_fails_to_import_is_skipped_with_a_warning_naming_it(tmp_path, monkeypatch, fresh_registry):
    (tmp_path / "broken_plugin.py").write_text("raise ImportError('needs libfoo')\n")
    install_entry_point(tmp_path, "broken_plugin", "[crmask]\nbroken = broken_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(PluginWarning) as record:
        names = [d.name for d in crmask.list_detectors()]
    (message,) = [str(w.message) for w in record if "broken" in str(w.message)]
    assert message == ("crmask plugin 'broken' (entry point broken_plugin) failed to import and is skipped: "
                       "ImportError: needs libfoo")
    assert "lacosmic" in names and "classic" in [d.name for d in crmask.list_event_filters()]
    ccd, truth = conformance_image()
    clean = crmask.cosmicray_clean(ccd, "lacosmic")
    assert clean.header["CRMDET"] == "lacosmic" and (clean.mask & truth).sum() == truth.sum()


def test_plugin_whose_hook_raises_is_skipped_whole_and_named(tmp_path, monkeypatch, fresh_registry):
    (tmp_path / "half_plugin.py").write_text(
        "import crmask\nfrom crmask_lacosmic import LACosmic\n\n"
        "class Half(LACosmic):\n    name = 'half'\n\n"
        "@crmask.hookimpl\ndef register_detectors(register):\n"
        "    register(Half)\n    raise RuntimeError('no licence server')\n"
    )
    install_entry_point(tmp_path, "half_plugin", "[crmask]\nhalf = half_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(PluginWarning, match="crmask plugin 'half' .*failed to register its classes and is skipped: "
                                           "RuntimeError: no licence server"):
        names = [d.name for d in crmask.list_detectors()]
    assert "lacosmic" in names and "half" not in names  # nothing of a plugin that failed half-way
    assert "half" not in dict(crmask.registry.plugin_manager().list_name_plugin())


def test_module_without_a_hookimpl_gives_a_warning(tmp_path, monkeypatch, fresh_registry):
    (tmp_path / "undecorated_plugin.py").write_text("def register_detectors(register):\n    pass\n")
    install_entry_point(tmp_path, "undecorated_plugin", "[crmask]\nundecorated = undecorated_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(PluginWarning, match="crmask plugin 'undecorated' .*defines no hook implementation.*"
                                           "@crmask.hookimpl"):
        names = [d.name for d in crmask.list_detectors()]
    assert "lacosmic" in names


def test_crmask_plugins_loads_only_the_named_plugins(monkeypatch, fresh_registry):
    result = CliRunner().invoke(cli, ["list"], env={"CRMASK_PLUGINS": "lacosmic"})
    assert result.exit_code == 0, result.output
    names = [line.split()[0] for line in result.output.splitlines()[1:]]
    assert names == ["lacosmic"]
    everything = CliRunner().invoke(cli, ["list"])
    assert {"lacosmic", "deepcr", "classic"} <= {line.split()[0] for line in everything.output.splitlines()[1:]}
    monkeypatch.setenv("CRMASK_PLUGINS", "lacosmic, no-such-plugin")
    with pytest.warns(PluginWarning, match="CRMASK_PLUGINS names no-such-plugin, which no installed crmask plugin "
                                           "is called; installed plugins: .*lacosmic"):
        assert [d.name for d in crmask.list_detectors()] == ["lacosmic"]
    monkeypatch.setenv("CRMASK_PLUGINS", "")
    assert crmask.list_detectors() == [] and crmask.list_event_filters() == []


#: A third-party detector that needs the gain and read noise and declares no calibration parameter.
NEEDS_PLUGIN = """
import numpy as np
import crmask


class Above(crmask.Detector):
    \"\"\"Pixels more than ``nsigma`` read-noise sigmas above the median, in electrons.\"\"\"

    name = "needs-demo"
    summary = "Pixels above the median by nsigma read noises"
    needs = ("gain", "readnoise")
    parameters = {"nsigma": crmask.Param(100, "Threshold in read-noise sigmas", low=1)}

    def _detect(self, image):
        electrons = image.in_electrons
        above = electrons - np.median(electrons) > self.params["nsigma"] * image.readnoise
        return crmask.MaskResult(mask=above)


@crmask.hookimpl
def register_detectors(register):
    register(Above)
"""


def test_third_party_plugin_needs_gain_and_readnoise_without_declaring_them(tmp_path, monkeypatch, fresh_registry):
    (tmp_path / "needs_plugin.py").write_text(NEEDS_PLUGIN)
    install_entry_point(tmp_path, "needs_plugin", "[crmask]\nneeds = needs_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    cls = crmask.get_detector_class("needs-demo")
    assert list(cls.parameters) == ["nsigma", "gain", "readnoise"]
    check_detector("needs-demo")
    ccd, truth = conformance_image()
    del ccd.header["GAIN"], ccd.header["RDNOISE"]
    with pytest.raises(MissingCalibrationError, match="pass gain=... explicitly"):
        crmask.get_detector("needs-demo").detect(ccd)
    det = crmask.get_detector("needs-demo", gain=2.0, readnoise=5.0, nsigma=7)
    assert det.params["nsigma"] == 7 and type(det.params["nsigma"]) is int  # an int stays an int
    result = det.detect(ccd)
    assert result.meta["calibration"]["gain"] == 2.0 and result.meta["calibration"]["readnoise"] == 5.0
    # 3000 adu CRs are 6000 e-, far above 7 x 5 e- of read noise; the cores of the two brightest stars too
    assert (result.mask & truth).sum() == truth.sum()
    clean = crmask.cosmicray_clean(ccd, "needs-demo", gain=2.0, readnoise=5.0)
    assert clean.header["CRMDET"] == "needs-demo"


def test_event_filters_have_their_own_hook_and_list():
    detectors = {d.name for d in crmask.list_detectors()}
    filters = {d.name: d for d in crmask.list_event_filters()}
    assert "lacosmic" in detectors and "classic" not in detectors
    assert filters["classic"].kind == "events" and filters["classic"].plugin == "wfi"
    # the keyword of earlier versions still works
    assert {d.name for d in crmask.list_detectors(kind="events")} == set(filters)
    assert {d.name for d in crmask.list_detectors(kind=None)} == detectors | set(filters)


def test_event_filter_registered_through_register_detectors_still_works_with_a_deprecation(
    tmp_path, monkeypatch, fresh_registry
):
    (tmp_path / "old_filter_plugin.py").write_text(
        "import crmask\nfrom crmask_wfi import ClassicGradeFilter\n\n"
        "class Old(ClassicGradeFilter):\n    name = 'old-classic'\n\n"
        "@crmask.hookimpl\ndef register_detectors(register):\n    register(Old)\n"
    )
    install_entry_point(tmp_path, "old_filter_plugin", "[crmask]\nold = old_filter_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(DeprecationWarning, match="register it through register_event_filters"):
        filters = [d.name for d in crmask.list_event_filters()]
    assert "old-classic" in filters


KIND_MESSAGE = "'classic' is an X-ray event filter, not an image detector; `crmask list --kind mask` lists those"


def test_a_detector_of_the_wrong_kind_gives_one_error_everywhere(tmp_path):
    from crmask.batch import DetectorSpec
    from crmask.bench.runner import detector_class

    ccd, _ = conformance_image()
    classic = crmask.get_detector("classic")
    for call in (
        lambda: crmask.resolve("classic"),
        lambda: crmask.resolve(classic, "mask"),
        lambda: crmask.cosmicray_clean(ccd, "classic"),
        lambda: crmask.cosmicray_clean(ccd, classic),
        lambda: DetectorSpec.from_detector("classic"),
        lambda: detector_class("classic"),
    ):
        with pytest.raises(DetectorKindError) as excinfo:
            call()
        assert str(excinfo.value) == KIND_MESSAGE
    with pytest.raises(DetectorKindError, match="'lacosmic' is an image detector, not an X-ray event filter; "
                                                "`crmask list --kind events` lists those"):
        crmask.resolve("lacosmic", "events")
    detect = CliRunner().invoke(cli, ["detect", "x.fits", "-d", "classic", "-o", str(tmp_path)])
    assert detect.exit_code != 0 and KIND_MESSAGE in detect.output
    frames = tmp_path / "frames.fits"
    frames.write_bytes(b"")  # never read: the filter is refused first
    wfi = CliRunner().invoke(cli, ["wfi", "filter", str(frames), "-f", "lacosmic", "-o", str(tmp_path / "e.fits")])
    assert wfi.exit_code != 0 and "'lacosmic' is an image detector, not an X-ray event filter" in wfi.output


def test_resolve_returns_an_instance_as_it_is_and_refuses_parameters_with_it():
    det = crmask.get_detector("lacosmic", sigclip=6.0)
    assert crmask.resolve(det) is det
    assert crmask.resolve("lacosmic", "mask", {"sigclip": 6.0}).get_params() == det.get_params()
    with pytest.raises(ValueError, match="parameters were given together with a detector instance"):
        crmask.resolve(det, "mask", {"sigclip": 5.0})
    with pytest.raises(TypeError, match="detector must be a name or a crmask.EventFilter, got int"):
        crmask.resolve(3, "events")


def test_sklearn_clone_of_a_detector():
    base = pytest.importorskip("sklearn.base")
    det = crmask.get_detector("lacosmic", sigclip=5)
    copy = base.clone(det)
    assert copy is not det and type(copy) is type(det)
    assert copy.get_params() == det.get_params() and copy.get_params()["sigclip"] == 5.0


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


def test_a_plugin_file_loads_into_the_registry(tmp_path, fresh_registry):
    from crmask.registry import load_plugin_file, plugin_file_of

    path = tmp_path / "file_plugin.py"
    path.write_text(NEEDS_PLUGIN)
    classes = load_plugin_file(path)
    assert list(classes) == ["needs-demo"]
    assert crmask.get_detector_class("needs-demo") is classes["needs-demo"]
    assert load_plugin_file(path) == classes  # loaded once: the same class again, no duplicate
    assert plugin_file_of(classes["needs-demo"]) == path and plugin_file_of(type(crmask.get_detector("lacosmic"))) is None
    info = {d.name: d for d in crmask.list_detectors()}["needs-demo"]
    assert info.plugin == str(path) and info.needs == ("gain", "readnoise")
    undecorated = tmp_path / "undecorated.py"
    undecorated.write_text("def register_detectors(register):\n    pass\n")
    with pytest.raises(PluginError, match=r"undecorated.py defines no hook implementation.*@crmask.hookimpl"):
        load_plugin_file(undecorated)
    with pytest.raises(PluginError, match="does not exist"):
        load_plugin_file(tmp_path / "missing.py")


def test_the_x_ray_types_keep_their_old_import_paths():
    from crmask import events
    from crmask.ccd import FrameStack, prepare_frames
    from crmask.detector import EVENT_COLUMNS, EventFilter

    assert (FrameStack, prepare_frames, EventFilter, EVENT_COLUMNS) == (
        events.FrameStack, events.prepare_frames, events.EventFilter, events.EVENT_COLUMNS)
    assert crmask.EventFilter is events.EventFilter and crmask.prepare_frames is events.prepare_frames


def test_the_command_line_prints_a_plugin_warning_in_one_line(tmp_path, monkeypatch, capsys, fresh_registry):
    from crmask.cli import main

    (tmp_path / "broken_cli_plugin.py").write_text("raise ImportError('needs libbar')\n")
    install_entry_point(tmp_path, "broken_cli_plugin", "[crmask]\nbroken-cli = broken_cli_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(SystemExit) as exit_info:
        main(["list", "--kind", "mask"])
    assert exit_info.value.code == 0
    out, err = capsys.readouterr()
    expected = ("crmask: warning: crmask plugin 'broken-cli' (entry point broken_cli_plugin) failed to import and "
                "is skipped: ImportError: needs libbar")
    assert expected in err.splitlines()
    # one line per warning (another broken plugin installed here adds its own line)
    assert all(line.startswith("crmask: warning: crmask plugin ") for line in err.splitlines())
    assert any(line.startswith("lacosmic ") for line in out.splitlines())


def test_plugin_whose_commands_fail_is_named_and_the_other_commands_work(tmp_path, monkeypatch, fresh_registry):
    (tmp_path / "bad_commands_plugin.py").write_text(
        "import crmask\n\n@crmask.hookimpl\ndef register_commands(cli):\n    raise KeyError('no such group')\n"
    )
    install_entry_point(tmp_path, "bad_commands_plugin", "[crmask]\nbad-commands = bad_commands_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(PluginWarning, match="crmask plugin 'bad-commands' failed to add its commands, which are "
                                           "skipped: KeyError: 'no such group'"):
        result = CliRunner().invoke(cli, ["wfi", "--help"])
    assert result.exit_code == 0 and "simulate" in result.output
