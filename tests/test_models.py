"""The registry of shipped models: names, defaults, aliases, cards, the register_models hook, ``crmask models``."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import crmask
from crmask import PluginError, PluginWarning, WeightsError
from crmask.cli import cli
from crmask.models import card_sha256, describe_models, file_sha256, find_model, list_models, verify_file
from crmask.registry import load_plugin_file

#: The model each shipped detector loads by default, and the files it loaded before the registry.
DEFAULTS = {
    "deepcr": ("deepcr.general-16", "deepcr-general-16.safetensors"),
    "att-deepcr": ("att-deepcr.general", "att-deepcr-general.safetensors"),
    "cosmic-conn": ("cosmic-conn.general", "cosmic-conn-general.safetensors"),
    "att-cosmic-conn": ("att-cosmic-conn.general", "att-cosmic-conn-general.safetensors"),
    "wfi-cam-rf": ("wfi-cam-rf.simulated", "densenet.safetensors"),
}

#: A plugin file with a detector whose ``weights`` default to a model it ships, and a model for ``lacosmic``.
MODEL_PLUGIN = """
from pathlib import Path

import numpy as np
import crmask

HERE = Path(__file__).parent


class Demo(crmask.Detector):
    name = "demo-net"
    summary = "Flags nothing"
    parameters = {"weights": crmask.Param("demo-net.tiny", "Shipped model", type=str)}

    def _detect(self, image):
        return crmask.MaskResult(mask=np.zeros(image.data.shape, bool))


@crmask.hookimpl
def register_detectors(register):
    register(Demo)


@crmask.hookimpl
def register_models(register):
    for card in sorted(HERE.glob("*.card.json")):
        register(card, aliases=[card.name.split(".")[0]])
"""


def _card(folder, stem: str, **fields) -> dict:
    """Write ``stem.card.json`` with a one-file weights record (``stem.bin``) and ``fields``."""
    weights = folder / f"{stem}.bin"
    weights.write_bytes(stem.encode())
    card = {"weights_file": weights.name, "sha256": file_sha256(weights), **fields}
    (folder / f"{stem}.card.json").write_text(json.dumps(card))
    return card


@pytest.fixture
def model_plugin(tmp_path, fresh_registry):
    """Load MODEL_PLUGIN from ``tmp_path``; return its folder (cards written there are registered)."""
    path = tmp_path / "model_plugin.py"
    path.write_text(MODEL_PLUGIN)
    load_plugin_file(path)
    return tmp_path


def test_shipped_models_are_named_arch_tag_and_served_by_their_detector():
    models = list_models()
    assert [m.name for m in models] == sorted(m.name for m in models)
    assert {m.name for m in models} >= {"deepcr.general-16", "deepcr.general", "deepcr.spectra", "deepcr.synthetic",
                                        "att-deepcr.general", "cosmic-conn.spectra", "att-cosmic-conn.synthetic",
                                        "wfi-cam-rf.simulated"}
    for info in models:
        assert info.name.split(".", 1)[0] == info.detector
        assert info.kind == crmask.get_detector_class(info.detector).kind
        assert info.summary and info.card.is_file() and info.files
    assert {m.plugin for m in models if m.detector == "deepcr"} == {"unet"}
    assert [m.kind for m in list_models("wfi-cam-rf")] == ["events"]


def test_each_detector_defaults_to_the_model_it_loaded_before():
    for detector, (name, file) in DEFAULTS.items():
        (default,) = [m for m in list_models(detector) if m.default]
        assert default.name == name and default.files[0].path.name == file
        assert crmask.get_detector_class(detector).parameters["weights"].default == name


def test_old_names_are_aliases_of_the_new_ones():
    info = find_model("deepcr-general-16")
    assert info == find_model("deepcr.general-16")
    assert info.name == "deepcr.general-16" and info.aliases == ("deepcr-general-16",)
    assert find_model("cosmic-conn-spectra").name == "cosmic-conn.spectra"
    assert find_model("no-such-model") is None


def test_every_shipped_file_matches_the_checksum_of_its_card():
    for info in list_models():
        card = info.read_card()
        for file in info.files:
            verify_file(file.path, file.sha256)
            assert card_sha256(card, file.path.relative_to(info.card.parent).as_posix()) == file.sha256


def test_a_model_of_another_detector_is_refused_naming_the_right_ones():
    assert find_model("cosmic-conn.general", "cosmic-conn").detector == "cosmic-conn"
    with pytest.raises(WeightsError, match=r"'cosmic-conn.general' are a 'cosmic-conn' model; detector 'deepcr' "
                                           r"needs 'deepcr' weights \(models for deepcr: .*deepcr.general-16"):
        find_model("cosmic-conn.general", "deepcr")


def test_describe_models_names_defaults_and_aliases():
    text = describe_models("deepcr")
    assert text.startswith("models for deepcr: deepcr.general (also deepcr-general), ")
    assert "deepcr.general-16 (default; also deepcr-general-16)" in text and "cosmic" not in text
    assert describe_models("lacosmic") == "no model is registered for lacosmic"


def test_card_sha256_reads_both_forms_of_the_card():
    assert card_sha256({"files": {"a.bin": "1" * 64, "b.bin": "2" * 64}}, "b.bin") == "2" * 64
    assert card_sha256({"files": {"a.bin": "1" * 64}}, "c.bin") is None
    assert card_sha256({"weights_file": "a.bin", "sha256": "3" * 64}, "a.bin") == "3" * 64
    assert card_sha256({"weights_file": "a.bin", "sha256": "3" * 64}, "b.bin") is None
    assert card_sha256({"sha256": "4" * 64}, "beside.bin") == "4" * 64  # a card beside its one file


def test_verify_file_refuses_a_changed_or_missing_file(tmp_path):
    path = tmp_path / "w.bin"
    path.write_bytes(b"weights")
    verify_file(path, file_sha256(path))
    with pytest.raises(WeightsError, match=r"w.bin does not match its model card \(sha256 .*modified or corrupted"):
        verify_file(path, "0" * 64)
    with pytest.raises(WeightsError, match="gone.bin is missing"):
        verify_file(tmp_path / "gone.bin", "0" * 64)


def test_a_third_party_plugin_ships_models_through_the_hook(model_plugin):
    _card(model_plugin, "tiny", name="demo-net.tiny", detector="demo-net", summary="A tiny model")
    _card(model_plugin, "survey", name="lacosmic.survey", detector="lacosmic")
    (tiny,) = list_models("demo-net")
    assert (tiny.name, tiny.kind, tiny.default, tiny.aliases, tiny.summary) == (
        "demo-net.tiny", "mask", True, ("tiny",), "A tiny model")
    assert tiny.plugin == str(model_plugin / "model_plugin.py")
    assert tiny.files[0].path == model_plugin / "tiny.bin" and tiny.files[0].sha256 == file_sha256(tiny.files[0].path)
    (survey,) = list_models("lacosmic")
    assert not survey.default and find_model("survey") == survey and survey.summary == ""
    assert [m.name for m in crmask.list_models() if m.plugin == tiny.plugin] == ["demo-net.tiny", "lacosmic.survey"]


def test_an_alias_equal_to_the_name_or_given_twice_is_listed_once(tmp_path, fresh_registry):
    (tmp_path / "self_alias_plugin.py").write_text(
        "from pathlib import Path\nimport crmask\n\n@crmask.hookimpl\ndef register_models(register):\n"
        "    register(Path(__file__).with_name('s.card.json'), aliases=['lacosmic.s', 'old', 'old'])\n")
    _card(tmp_path, "s", name="lacosmic.s", detector="lacosmic")
    load_plugin_file(tmp_path / "self_alias_plugin.py")
    assert list_models("lacosmic")[0].aliases == ("old",)


def test_a_card_listing_several_files_registers_them_all(model_plugin):
    for name in ("a.bin", "b.bin"):
        (model_plugin / name).write_bytes(name.encode())
    files = {name: file_sha256(model_plugin / name) for name in ("a.bin", "b.bin")}
    (model_plugin / "pair.card.json").write_text(json.dumps({"name": "demo-net.pair", "detector": "demo-net",
                                                             "files": files}))
    (pair,) = list_models("demo-net")
    assert [(f.path.name, f.sha256) for f in pair.files] == list(files.items())


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"name": "demo-net.x"}, "it needs a 'name' and a 'detector'"),
        ({"name": "other.x", "detector": "demo-net"}, "its name 'other.x' is not demo-net.TAG"),
        ({"name": "demo-net", "detector": "demo-net"}, "its name 'demo-net' is not demo-net.TAG"),
        ({"name": "nowhere.x", "detector": "nowhere"}, "detector 'nowhere' is not registered"),
        ({"name": "demo-net.x", "detector": "demo-net", "sha256": "abc"},
         "file 'bad.bin' needs a sha256 of 64 hex digits, got 'abc'"),
    ],
)
def test_a_card_that_cannot_be_used_is_skipped_with_a_warning_naming_it(model_plugin, fields, reason):
    _card(model_plugin, "bad", **fields)
    with pytest.warns(PluginWarning, match=f"model card .*bad.card.json is skipped: {reason}"):
        models = list_models()
    assert "deepcr.general-16" in [m.name for m in models] and "demo-net" not in [m.detector for m in models]


def test_a_card_that_is_not_json_or_lists_no_files_is_skipped(model_plugin):
    (model_plugin / "broken.card.json").write_text("{not json")
    (model_plugin / "empty.card.json").write_text(json.dumps({"name": "demo-net.e", "detector": "demo-net"}))
    with pytest.warns(PluginWarning) as record:
        assert not list_models("demo-net")
    messages = sorted(str(w.message) for w in record)
    assert "broken.card.json is not valid JSON" in messages[0]
    assert messages[1].endswith("empty.card.json is skipped: it lists no files ('files', or 'weights_file' and "
                                "'sha256')")


def test_two_models_answering_to_one_name_are_an_error(model_plugin):
    _card(model_plugin, "deepcr-general", name="deepcr.mine", detector="deepcr")  # alias of a shipped model
    with pytest.raises(PluginError, match=r"model name 'deepcr-general' is registered twice: for deepcr.general by "
                                          r"plugin 'unet' and for deepcr.mine by plugin '.*model_plugin.py'"):
        list_models()


def test_a_plugin_whose_models_hook_raises_is_skipped_with_a_warning(tmp_path, fresh_registry):
    path = tmp_path / "raising_plugin.py"
    path.write_text("import crmask\n\n@crmask.hookimpl\ndef register_models(register):\n"
                    "    raise OSError('no network')\n")
    load_plugin_file(path)
    with pytest.warns(PluginWarning, match="raising_plugin.py' failed to register its models, which are skipped: "
                                           "OSError: no network"):
        names = [m.name for m in list_models()]
    assert "deepcr.general-16" in names


def test_models_cli_lists_name_detector_default_and_summary():
    runner = CliRunner()
    result = runner.invoke(cli, ["models"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["NAME", "DETECTOR", "DEFAULT", "SUMMARY"]
    rows = {line.split()[0]: line.split()[1:3] for line in lines[1:]}
    assert rows["deepcr.general-16"] == ["deepcr", "yes"] and rows["deepcr.general"] == ["deepcr", "no"]
    assert rows["wfi-cam-rf.simulated"] == ["wfi-cam-rf", "yes"]
    assert "UNet-3-16, BatchNorm" in next(line for line in lines if line.startswith("deepcr.general-16 "))

    one = runner.invoke(cli, ["models", "--detector", "wfi-cam-rf", "-v"])
    assert one.exit_code == 0, one.output
    info = find_model("wfi-cam-rf.simulated")
    assert one.output.splitlines()[1].startswith("wfi-cam-rf.simulated ")
    for file in info.files:
        assert f"file: {file.path}  sha256 {file.sha256}" in one.output
    assert f"card: {info.card}" in one.output and "deepcr" not in one.output
    assert "aliases: deepcr-general-16" in runner.invoke(cli, ["models", "-d", "deepcr", "-v"]).output

    unknown = runner.invoke(cli, ["models", "-d", "deepcr-typo"])
    assert unknown.exit_code != 0
    assert "unknown detector 'deepcr-typo'; registered detectors are: " in unknown.output
    assert len(unknown.output.strip().splitlines()) == 1
