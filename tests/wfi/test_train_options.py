"""``crmask train wfi-cam-rf`` takes its options from `CamRfTrainConfig`: one name, default and help each."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from click.testing import CliRunner

from crmask.cli import cli
from crmask_wfi.training import train
from crmask_wfi.training.config import CamRfTrainConfig
from crmask_wfi.report.bench import EVALUATION_FRAMES


def _command():
    return train.train_command()


def test_every_config_field_is_an_option_with_the_dataclass_default():
    options = {p.name: p for p in _command().params}
    for field in dataclasses.fields(CamRfTrainConfig):
        assert field.name in options, field.name
        if field.default is dataclasses.MISSING:
            assert options[field.name].required, field.name
        else:
            assert options[field.name].default == field.default, field.name
        assert options[field.name].help, field.name
    assert set(options) - {"help"} == {f.name for f in dataclasses.fields(CamRfTrainConfig)}


def test_help_lists_every_field():
    text = CliRunner().invoke(cli, ["train", "wfi-cam-rf", "--help"]).output
    for field in dataclasses.fields(CamRfTrainConfig):
        assert "--" + field.name.replace("_", "-") in text, field.name
    assert "[default: 2024]" in text and f"[default: {EVALUATION_FRAMES};" in text


def test_the_command_runs_the_training_of_the_configuration_it_parsed(tmp_path, monkeypatch):
    runs = []
    monkeypatch.setattr(train, "run_training", runs.append)
    args = ["train", "wfi-cam-rf", "--out", str(tmp_path / "model"), "--work", str(tmp_path / "work"),
            "--epochs", "1", "--context-features", "--device", "cuda"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert runs == [CamRfTrainConfig(out=tmp_path / "model", work=tmp_path / "work", epochs=1,
                                     context_features=True, device="cuda")]
    assert runs[0].report_dir == tmp_path / "work"
    assert CamRfTrainConfig(out=Path("o"), work=Path("w"), report=Path("r")).report_dir == Path("r")


def test_missing_directories_and_bad_counts_are_one_line_errors(tmp_path, monkeypatch):
    monkeypatch.setattr(train, "run_training", lambda config: None)
    result = CliRunner().invoke(cli, ["train", "wfi-cam-rf", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "Missing option '--work'" in result.output
    result = CliRunner().invoke(cli, ["train", "wfi-cam-rf", "--out", str(tmp_path), "--work", str(tmp_path),
                                      "--n-trees", "0"])
    assert result.exit_code == 2 and "0 is not in the range x>=1" in result.output
    assert "Traceback" not in result.output
