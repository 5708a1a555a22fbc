"""Options made from a configuration dataclass, and the shared --data option."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from crmask.cli_options import (
    DATA_ENV,
    RecordedCommand,
    attribute_docs,
    cli_metadata,
    command_arguments,
    config_from_options,
    config_options,
    data_folder,
    data_option,
    parse_args_with_data,
    recorded_command,
)
from crmask.exceptions import MissingDataError


@dataclass(frozen=True)
class Config:
    """A run.

    Attributes
    ----------
    out : pathlib.Path
        Where the result goes.
    epochs : int
        Passes over the data, ``>= 1``.
    rate : float
        Learning rate (see `Config`);
        positive.

        Not part of the help.
    kind : {"a", "b"}
        Which kind.
    shuffle : bool
        Shuffle each pass.
    low, high : float
        Range of the augmentation.
    limit : int or None
        Stop after this many steps.
    label : str
    """

    out: Path
    epochs: int = field(default=10, metadata=cli_metadata(low=1))
    rate: float = field(default=0.5, metadata=cli_metadata(low=0, low_open=True))
    kind: str = field(default="a", metadata=cli_metadata(choices=("a", "b"), name="--type", aliases=("-k",)))
    shuffle: bool = True
    low: float = -1.0
    high: float = 2.0
    limit: int | None = None
    label: str = field(default="run", metadata=cli_metadata("Name of the run."))

    def __post_init__(self) -> None:
        if self.low >= self.high:
            raise ValueError(f"low must be below high, got {self.low} and {self.high}")


@click.command()
@config_options(Config)
@click.option("--verbose", is_flag=True, help="Not a field.")
def command(**options) -> None:
    click.echo(repr(config_from_options(Config, options)))


def _run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(command, list(args))


def test_attribute_docs_take_each_entrys_first_paragraph_without_markup():
    docs = attribute_docs(Config)
    assert docs["epochs"] == "Passes over the data, >= 1."
    assert docs["rate"] == "Learning rate (see Config); positive."
    assert docs["low"] == docs["high"] == "Range of the augmentation."
    assert docs["label"] == ""
    assert attribute_docs(int) == {}


def test_every_field_is_an_option_with_the_dataclass_default_and_help():
    params = {p.name: p for p in command.params}
    assert set(params) == {"out", "epochs", "rate", "kind", "shuffle", "low", "high", "limit", "label", "verbose"}
    assert params["out"].required and params["epochs"].default == 10 and params["limit"].default is None
    assert params["kind"].opts == ["--type", "-k"] and params["shuffle"].secondary_opts == ["--no-shuffle"]
    assert params["label"].help == "Name of the run." and params["epochs"].help == "Passes over the data, >= 1."
    text = " ".join(_run("--help").output.split())
    for option in ("--out", "--epochs", "--rate", "--type", "--shuffle / --no-shuffle", "--low", "--high",
                   "--limit", "--label"):
        assert option in text
    assert "[default: 10; x>=1]" in text and "[default: 0.5; x>0]" in text


def test_options_make_the_dataclass():
    result = _run("--out", "o", "--epochs", "3", "-k", "b", "--no-shuffle", "--limit", "7", "--verbose")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == repr(Config(out=Path("o"), epochs=3, kind="b", shuffle=False, limit=7))
    assert _run("--out", "o").output.strip() == repr(Config(out=Path("o")))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "Missing option '--out'"),
        (("--out", "o", "--epochs", "0"), "0 is not in the range x>=1"),
        (("--out", "o", "--rate", "0"), "0.0 is not in the range x>0"),
        (("--out", "o", "--type", "c"), "'c' is not one of 'a', 'b'"),
        (("--out", "o", "--low", "3"), "low must be below high, got 3.0 and 2.0"),
    ],
)
def test_bad_values_are_one_line_usage_errors(args, message):
    result = _run(*args)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_a_field_without_help_or_of_an_unknown_type_is_refused_when_the_command_is_made():
    @dataclass
    class Undocumented:
        epochs: int = 1

    @dataclass
    class Odd:
        """Odd.

        Attributes
        ----------
        shape : tuple of int
            Frame shape.
        """

        shape: tuple[int, int] = (1, 1)

    with pytest.raises(TypeError, match="Undocumented.epochs has no help"):
        config_options(Undocumented)
    with pytest.raises(TypeError, match="Odd.shape: no command-line type"):
        config_options(Odd)
    with pytest.raises(TypeError, match="has no fields"):
        config_options(Config, exclude=("nope",))


def test_excluded_fields_are_set_by_the_command():
    @click.command()
    @config_options(Config, exclude=("out",))
    def fixed(**options):
        click.echo(config_from_options(Config, options, out=Path("fixed")).out)

    assert CliRunner().invoke(fixed, []).output.strip() == "fixed"


@click.command()
@data_option()
def needs_data(data_dir: Path) -> None:
    click.echo(data_dir)


@click.command()
@data_option(required=False)
def may_use_data(data_dir: Path | None) -> None:
    click.echo(repr(data_dir))


def test_data_folder_comes_from_the_option_else_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(DATA_ENV, raising=False)
    assert CliRunner().invoke(needs_data, ["--data", str(tmp_path)]).output.strip() == str(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    assert CliRunner().invoke(needs_data, [], env={DATA_ENV: str(other)}).output.strip() == str(other)
    assert CliRunner().invoke(needs_data, ["--data", str(tmp_path)], env={DATA_ENV: str(other)}).output.strip() \
        == str(tmp_path)
    assert data_folder(tmp_path) == tmp_path
    assert data_folder(required=False) is None
    assert CliRunner().invoke(may_use_data, []).output.strip() == "None"


def test_no_data_folder_is_a_one_line_error_naming_the_option_and_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv(DATA_ENV, raising=False)
    result = CliRunner().invoke(needs_data, [])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "no data folder: give --data DIR or set the environment variable CRMASK_DATA" in result.output
    missing = tmp_path / "missing"
    result = CliRunner().invoke(needs_data, [], env={DATA_ENV: str(missing)})
    assert result.exit_code == 2 and f"{missing}: no such folder (CRMASK_DATA must name" in result.output
    with pytest.raises(MissingDataError, match="no such folder [(]--data must name"):
        data_folder(missing)
    assert "CRMASK_DATA" in CliRunner().invoke(needs_data, ["--help"]).output


def _script_parser() -> argparse.ArgumentParser:
    """A benchmark script's parser: a ``--list`` mode that needs no data."""
    parser = argparse.ArgumentParser(prog="script")
    parser.add_argument("--list", action="store_true")
    return parser


def test_a_script_takes_the_data_folder_from_the_option_else_the_environment(tmp_path, monkeypatch):
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv(DATA_ENV, str(other))
    assert parse_args_with_data(_script_parser(), ["--data", str(tmp_path)]).data == tmp_path
    opts = parse_args_with_data(_script_parser(), ["--list"])
    assert opts.data == other and opts.list
    monkeypatch.delenv(DATA_ENV)
    assert parse_args_with_data(_script_parser(), ["--list"], required=False).data is None
    assert parse_args_with_data(_script_parser(), ["--list"], required=lambda opts: not opts.list).data is None


def test_a_script_without_its_data_folder_stops_with_one_usage_line(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(DATA_ENV, raising=False)
    with pytest.raises(SystemExit) as stop:
        parse_args_with_data(_script_parser(), [], required=lambda opts: not opts.list)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "Traceback" not in err
    assert err.splitlines()[-1] == ("script: error: no data folder: give --data DIR or set the environment variable "
                                    "CRMASK_DATA (the shared real-data folder)")
    missing = tmp_path / "missing"
    with pytest.raises(SystemExit) as stop:  # a folder named must exist, needed or not
        parse_args_with_data(_script_parser(), ["--list", "--data", str(missing)], required=False)
    assert stop.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (f"script: error: {missing}: no such folder (--data must name "
                                                        "the shared real-data folder)")


def _recording_group(seen: list) -> click.Group:
    """``train run``, a `RecordedCommand` that appends what it records to ``seen``."""

    @click.group()
    def group():
        pass

    @group.command("run", cls=RecordedCommand)
    @config_options(Config)
    def run(**options):
        seen.append((command_arguments(), recorded_command(), recorded_command(["--epochs", "1"])))

    return group


def test_a_recorded_command_is_the_command_line_as_it_was_run():
    seen = []
    group = _recording_group(seen)
    args = ["--out", "my model", "--epochs", "3", "--type=b"]
    result = CliRunner().invoke(group, ["run", *args], prog_name="crmask train")
    assert result.exit_code == 0, result.output
    assert seen == [(args, "crmask train run --out 'my model' --epochs 3 --type=b",
                     "crmask train run --epochs 1")]
    with pytest.raises(SystemExit) as info:  # the command alone, under its own program name
        group.commands["run"].main(["--out", "m"], prog_name="python -m trainer")
    assert info.value.code == 0
    assert seen[-1] == (["--out", "m"], "python -m trainer --out m", "python -m trainer --epochs 1")


def test_only_a_recorded_command_can_say_how_it_was_run():
    @click.command()
    def plain():
        recorded_command()

    result = CliRunner().invoke(plain, [])
    assert isinstance(result.exception, TypeError)
    assert "make it with cls=crmask.cli_options.RecordedCommand" in str(result.exception)
