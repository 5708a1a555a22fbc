"""``crmask train wfi-cam-rf`` takes its options from `CamRfTrainConfig`: one name, default and help each."""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from astropy.table import Table
from click.testing import CliRunner

import crmask.cli
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
    monkeypatch.setattr(train, "run_training", lambda config, command: runs.append(config))
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


def test_the_recorded_command_is_the_one_the_user_ran(tmp_path, monkeypatch):
    commands = []
    monkeypatch.setattr(train, "run_training", lambda config, command: commands.append(command))
    args = ["--out", str(tmp_path / "model"), "--work", str(tmp_path / "my work"), "--epochs", "1"]
    for entry_point, argv in ((crmask.cli.main, ["train", "wfi-cam-rf", *args]), (train.main, args)):
        with pytest.raises(SystemExit) as info:
            entry_point(argv)
        assert info.value.code == 0
    assert commands == [f"crmask train wfi-cam-rf {shlex.join(args)}",  # was "python -m ... train train wfi-cam-rf"
                        f"python -m crmask_wfi.training.train {shlex.join(args)}"]


def test_the_model_card_records_the_command_else_the_call(tmp_path):
    from crmask_wfi.camrf.model_io import DENSENET_FILE, FOREST_FILE

    config = CamRfTrainConfig(out=tmp_path, work=tmp_path)
    for file in (DENSENET_FILE, FOREST_FILE):
        (tmp_path / file).write_bytes(b"weights")
    forest = SimpleNamespace(feature_names=("ENERGY",), training={"n_trees": 1}, n_nodes=3, max_depth=1)
    labels = np.array([True, False, False])

    def card(command):
        return train._model_card(config, command, None, {}, forest, (0.5, 0.9, 0.01), Table({"band": ["all"]}),
                                 labels, labels, 1.0, 2.0)

    command = f"crmask train wfi-cam-rf --out {tmp_path} --work {tmp_path}"
    assert card(command)["training"]["command"] == command
    assert card(None)["training"]["command"] == f"crmask_wfi.training.train.run_training({config!r})"
