"""``crmask train unet`` takes its training options from `TrainConfig`: one name, default and help each."""

from __future__ import annotations

import dataclasses

import pytest
from click.testing import CliRunner

pytest.importorskip("torch")

from crmask.cli import cli  # noqa: E402
from crmask.cli_options import config_from_options  # noqa: E402
from crmask_unet.cli import train_unet  # noqa: E402
from crmask_unet.config import TrainConfig  # noqa: E402
from crmask_unet.training import TrainConfig as TrainingTrainConfig  # noqa: E402


def _options() -> dict:
    return {p.name: p for p in train_unet.params}


def _parsed(*args: str) -> TrainConfig:
    ctx = train_unet.make_context("unet", [*args, "-o", "m.safetensors"])
    return config_from_options(TrainConfig, ctx.params)


def test_every_config_field_is_an_option_with_the_dataclass_default():
    options = _options()
    for field in dataclasses.fields(TrainConfig):
        assert field.name in options, field.name
        assert options[field.name].default == field.default, field.name
        assert options[field.name].help, field.name


def test_help_lists_every_field_and_every_option_has_help():
    text = CliRunner().invoke(cli, ["train", "unet", "--help"]).output
    names = {field.name: "--" + field.name.replace("_", "-") for field in dataclasses.fields(TrainConfig)}
    names["input_scheme"] = "--input"  # the option's name since it was added
    for field, option in names.items():
        assert f"  {option} " in text, field
    assert all(p.help for p in train_unet.params if p.name != "help")
    assert "[default: cosmic-conn]" in text


def test_the_command_line_and_the_dataclass_make_the_same_configuration():
    assert _parsed() == TrainConfig()
    assert TrainConfig().arch == "cosmic-conn" and TrainConfig().scale == 1.0
    deepcr = _parsed("--arch", "deepcr", "--input", "noise", "--patience", "2", "--sky-high", "2.5")
    assert deepcr == TrainConfig(arch="deepcr", input_scheme="noise", patience=2, sky_high=2.5)
    assert deepcr.scale == 100.0  # deepCR's own, as --scale's help says
    assert _parsed("--arch", "deepcr", "--scale", "7").scale == 7.0
    assert TrainingTrainConfig is TrainConfig  # the public path crmask_unet.training.TrainConfig


def test_a_configuration_the_dataclass_refuses_is_a_one_line_usage_error(tmp_path):
    result = CliRunner().invoke(cli, ["train", "unet", "--patch", "34", "--frame-size", "64",
                                      "-o", str(tmp_path / "m.safetensors")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "patch 34 must be a multiple of 4" in result.output


def test_without_data_or_footprints_the_error_names_the_option_and_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("CRMASK_DATA", raising=False)
    result = CliRunner().invoke(cli, ["train", "unet", "-o", str(tmp_path / "m.safetensors")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "give --footprints or --data (or set CRMASK_DATA)" in result.output
    result = CliRunner().invoke(cli, ["train", "unet", "-o", str(tmp_path / "m.safetensors")],
                                env={"CRMASK_DATA": str(tmp_path / "missing")})
    assert result.exit_code == 2 and "missing: no such folder (CRMASK_DATA must name" in result.output
    assert list(tmp_path.iterdir()) == []


def test_brightened_cosmic_rays_need_real_training_frames(tmp_path):
    result = CliRunner().invoke(cli, ["train", "unet", "--bright-fraction", "0.1",
                                      "-o", str(tmp_path / "m.safetensors")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "--bright-fraction brightens the cosmic rays injected into real training frames" in result.output
