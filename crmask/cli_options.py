"""Command-line options made from a configuration dataclass, and the data-folder option.

A training command takes the fields of its configuration dataclass as
options, so that the dataclass is the one source of their names, types,
defaults and help. `config_options` adds one click option per field:

* the name is ``--`` and the field name with hyphens (``steps_per_epoch``
  is ``--steps-per-epoch``), unless the field's metadata names another;
* the type comes from the annotation: `bool` is an on/off flag
  (``--attention/--no-attention``), `int`, `float`, `str` and
  `pathlib.Path` a value, ``X | None`` a value that may be left unset;
  bounds and choices come from the metadata (`cli_metadata`);
* the default is the field's (a field without one is a required option);
* the help is the metadata's, else the field's entry in the numpydoc
  ``Attributes`` section of the class docstring.

`config_from_options` makes the dataclass from the parsed options::

    @dataclass(frozen=True)
    class Config:
        '''A run.

        Attributes
        ----------
        epochs : int
            Passes over the data.
        '''

        epochs: int = field(default=10, metadata=cli_metadata(low=1))

    @click.command()
    @config_options(Config)
    def run(**options):
        config = config_from_options(Config, options)

The shared real-data folder is given the same way everywhere: ``--data``
(`data_option` in a click command, `parse_args_with_data` in an `argparse`
script), else the environment variable ``CRMASK_DATA`` (`data_folder`);
there is no default folder.

A model card records the command that trained the model. A command made
with ``cls=RecordedCommand`` keeps the arguments it was given, and
`recorded_command` gives its command line as it was run, however the command
was started (``crmask train NAME ...``, ``python -m MODULE ...``, a
`click.testing.CliRunner`)::

    @click.command(cls=RecordedCommand)
    @config_options(Config)
    def run(**options):
        train(config_from_options(Config, options), command=recorded_command())
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import os
import re
import shlex
import types
import typing
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, TypeVar

import click

from .exceptions import CrmaskError, MissingDataError

__all__ = [
    "OptionSpec",
    "cli_metadata",
    "config_options",
    "config_from_options",
    "attribute_docs",
    "DATA_ENV",
    "data_folder",
    "data_option",
    "parse_args_with_data",
    "RecordedCommand",
    "command_arguments",
    "recorded_command",
]

#: Key of the `OptionSpec` in a dataclass field's metadata.
METADATA_KEY = "crmask.cli"
#: Environment variable naming the shared real-data folder when ``--data`` is not given.
DATA_ENV = "CRMASK_DATA"
#: Key of the arguments a `RecordedCommand` was given, in its click context's ``meta``.
_ARGUMENTS_KEY = "crmask.cli.arguments"

F = TypeVar("F", bound=Callable[..., Any])


@dataclasses.dataclass(frozen=True)
class OptionSpec:
    """How one dataclass field appears on the command line; every part is optional.

    Attributes
    ----------
    help : str or None
        Help text; default: the field's entry in the class docstring's
        ``Attributes`` section.
    name : str or None
        Option name, such as ``"--input"``; default: ``--`` and the field
        name with hyphens.
    aliases : tuple of str
        More names of the same option (a former spelling, a short form).
    choices : tuple of str or None
        Values a string field allows.
    low, high : float or None
        Bounds of a numeric field, inclusive unless ``low_open`` or
        ``high_open``.
    low_open, high_open : bool
        Whether ``low`` and ``high`` are excluded.
    metavar : str or None
        Name of the value in the help (click's default: its type).
    """

    help: str | None = None
    name: str | None = None
    aliases: tuple[str, ...] = ()
    choices: tuple[str, ...] | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    metavar: str | None = None


def cli_metadata(help: str | None = None, **spec: Any) -> dict[str, OptionSpec]:
    """Field metadata that shapes the field's option: ``field(default=..., metadata=cli_metadata(low=1))``.

    Parameters
    ----------
    help : str, optional
        Help text, when the class docstring's does not suit the command line.
    **spec
        The other attributes of `OptionSpec` (``name``, ``aliases``,
        ``choices``, ``low``, ``high``, ``low_open``, ``high_open``,
        ``metavar``).
    """
    if "choices" in spec and spec["choices"] is not None:
        spec["choices"] = tuple(spec["choices"])
    return {METADATA_KEY: OptionSpec(help=help, **spec)}


_SECTION = re.compile(r"^(\w[\w ]*)\n-{3,}$", re.MULTILINE)
_ROLE = re.compile(r":\w+:`~?([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")
_REFERENCE = re.compile(r"`~?([^`]+)`")


def attribute_docs(cls: type) -> dict[str, str]:
    """The descriptions of the numpydoc ``Attributes`` section of ``cls``'s docstring, by attribute.

    An entry naming several attributes (``low, high : float``) describes
    each of them. Each description is its first paragraph on one line,
    with reStructuredText quotes and roles removed (``*x*`` stays).

    Parameters
    ----------
    cls : type

    Returns
    -------
    dict of str to str
    """
    doc = inspect.cleandoc(cls.__doc__ or "")
    headers = list(_SECTION.finditer(doc))
    for index, header in enumerate(headers):
        if header.group(1) == "Attributes":
            end = headers[index + 1].start() if index + 1 < len(headers) else len(doc)
            return _entries(doc[header.end():end])
    return {}


def _entries(section: str) -> dict[str, str]:
    docs: dict[str, str] = {}
    names: list[str] = []
    paragraph: list[str] | None = None
    for line in section.splitlines():
        if line and not line[0].isspace():  # "name[, name] : type"
            names = [n.strip() for n in line.split(" : ")[0].split(",")]
            paragraph = []
            for name in names:
                docs[name] = ""
        elif paragraph is not None and line.strip():
            paragraph.append(line.strip())
            text = _plain(" ".join(paragraph))
            for name in names:
                docs[name] = text
        elif paragraph:  # a blank line ends the first paragraph
            paragraph = None
    return docs


def _plain(text: str) -> str:
    """Text with reStructuredText roles, literals and references unquoted."""
    return _REFERENCE.sub(r"\1", _LITERAL.sub(r"\1", _ROLE.sub(r"\1", text)))


def _base_type(annotation: Any) -> tuple[Any, bool]:
    """``(type, optional)``: the annotation without `None`, and whether it allowed `None`."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(annotation)) == 2:
            return args[0], True
    return annotation, False


def _click_type(base: Any, spec: OptionSpec, where: str) -> click.ParamType:
    if spec.choices is not None:
        if base is not str:
            raise TypeError(f"{where}: choices need a str field, got {base!r}")
        return click.Choice(spec.choices)
    bounded = spec.low is not None or spec.high is not None
    if base is int:
        return click.IntRange(spec.low, spec.high, min_open=spec.low_open, max_open=spec.high_open) \
            if bounded else click.INT
    if base is float:
        return click.FloatRange(spec.low, spec.high, min_open=spec.low_open, max_open=spec.high_open) \
            if bounded else click.FLOAT
    if bounded:
        raise TypeError(f"{where}: bounds need an int or float field, got {base!r}")
    if base is str:
        return click.STRING
    if base is Path:
        return click.Path(path_type=Path)
    raise TypeError(f"{where}: no command-line type for {base!r} (bool, int, float, str or Path)")


def _field_option(cls: type, field: dataclasses.Field, annotation: Any, docs: Mapping[str, str]) -> Callable:
    where = f"{cls.__name__}.{field.name}"
    spec = field.metadata.get(METADATA_KEY, OptionSpec())
    help_text = spec.help or docs.get(field.name)
    if not help_text:
        raise TypeError(f"{where} has no help: describe it under Attributes in the docstring, or give "
                        "cli_metadata(help=...)")
    name = spec.name or "--" + field.name.replace("_", "-")
    if field.default is not dataclasses.MISSING:
        given = {"default": field.default, "show_default": field.default is not None}
    elif field.default_factory is not dataclasses.MISSING:
        given = {"default": field.default_factory(), "show_default": True}
    else:
        given = {"required": True}
    base, optional = _base_type(annotation)
    if base is bool and not optional:
        if spec.aliases:
            raise TypeError(f"{where}: an on/off flag takes no aliases")
        return click.option(f"{name}/--no-{name[2:]}", field.name, help=help_text, **given)
    return click.option(name, *spec.aliases, field.name, type=_click_type(base, spec, where), metavar=spec.metavar,
                        help=help_text, **given)


def config_options(cls: type, *, exclude: tuple[str, ...] = ()) -> Callable[[F], F]:
    """A decorator that adds one click option per field of the dataclass ``cls``, in field order.

    Parameters
    ----------
    cls : type
        A dataclass; its fields' metadata may hold `cli_metadata`.
    exclude : tuple of str
        Fields that get no option (the command sets them itself).

    Returns
    -------
    callable
        Applied to a click command function, as `click.option` is.

    Raises
    ------
    TypeError
        For a field without help or of a type with no command-line form
        (a programming error, raised when the command is defined).
    """
    hints = typing.get_type_hints(cls)
    docs = attribute_docs(cls)
    unknown = sorted(set(exclude) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise TypeError(f"{cls.__name__} has no fields {unknown}")
    options = [_field_option(cls, f, hints[f.name], docs) for f in dataclasses.fields(cls)
               if f.init and f.name not in exclude]

    def decorate(function: F) -> F:
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


def config_from_options(cls: type, options: Mapping[str, Any], **overrides: Any) -> Any:
    """Make ``cls`` from the parsed options of its fields (other options are left out).

    Parameters
    ----------
    cls : type
        The dataclass given to `config_options`.
    options : mapping
        The keyword arguments of the click command.
    **overrides
        Fields set by the command itself (those it excluded).

    Raises
    ------
    click.UsageError
        When the dataclass refuses the values (its ``ValueError`` or crmask
        error, as one line).
    """
    values = {f.name: options[f.name] for f in dataclasses.fields(cls) if f.init and f.name in options}
    try:
        return cls(**{**values, **overrides})
    except (ValueError, CrmaskError) as exc:
        raise click.UsageError(str(exc)) from None


def data_folder(value: str | os.PathLike | None = None, *, required: bool = True) -> Path | None:
    """The shared real-data folder: ``value``, else the environment variable ``CRMASK_DATA``.

    Parameters
    ----------
    value : path, optional
        The folder given on the command line (``--data``).
    required : bool
        Whether a folder must be given; if not, `None` is returned when
        neither ``value`` nor ``CRMASK_DATA`` names one.

    Raises
    ------
    MissingDataError
        When a required folder is given by neither, or the folder named
        does not exist.
    """
    source = "--data"
    if value is None or str(value) == "":
        value, source = os.environ.get(DATA_ENV) or None, DATA_ENV
    if value is None:
        if required:
            raise MissingDataError(f"no data folder: give --data DIR or set the environment variable {DATA_ENV} "
                                   "(the shared real-data folder)")
        return None
    path = Path(value)
    if not path.is_dir():
        raise MissingDataError(f"{path}: no such folder ({source} must name the shared real-data folder)")
    return path


def data_option(*, required: bool = True,
                help: str = "The shared real-data folder (see its README.md).") -> Callable[[F], F]:
    """The ``--data`` option (parameter ``data_dir``): a folder, else ``CRMASK_DATA``, else an error.

    Parameters
    ----------
    required : bool
        Whether the command always needs the folder. If not, ``data_dir``
        is `None` when neither is given, and the command says when it
        needs one (with `data_folder`).
    help : str
        What the folder is for; the environment variable is added.
    """

    def check(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
        try:
            return data_folder(value, required=required)
        except MissingDataError as exc:
            raise click.UsageError(str(exc), ctx) from None

    return click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                        callback=check, metavar="DIR", help=f"{help} Default: the environment variable {DATA_ENV}.")


def parse_args_with_data(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None = None,
    *,
    required: bool | Callable[[argparse.Namespace], bool] = True,
    help: str = "shared real-data folder",
) -> argparse.Namespace:
    """Parse ``argv`` with ``parser`` and a ``--data`` option added to it, the folder resolved into ``data``.

    The `argparse` counterpart of `data_option`, for the scripts in
    ``benchmarks/``: the folder is ``--data``, else the environment variable
    ``CRMASK_DATA`` (`data_folder`). A required folder that neither names,
    or a folder named that does not exist, is the parser's one-line usage
    error (exit status 2).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The script's parser, without a ``--data`` option.
    argv : sequence of str, optional
        The arguments (default: ``sys.argv[1:]``).
    required : bool or callable
        Whether the folder must be given; a callable is asked with the
        parsed options (for a folder that only some modes need). A folder
        not required and not given is `None`.
    help : str
        What the folder is for; the environment variable is added.

    Returns
    -------
    argparse.Namespace
        The options, ``data`` a `~pathlib.Path` or `None`.
    """
    parser.add_argument("--data", type=Path, default=None, metavar="DIR", help=f"{help} (default: {DATA_ENV})")
    opts = parser.parse_args(argv)
    needed = required(opts) if callable(required) else required
    try:
        opts.data = data_folder(opts.data, required=needed)
    except MissingDataError as exc:
        parser.error(str(exc))
    return opts


class RecordedCommand(click.Command):
    """A click command that keeps the arguments it was given, for `command_arguments` and `recorded_command`.

    click parses the arguments into option values and does not keep them;
    a training command needs them to record how it was run.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[_ARGUMENTS_KEY] = list(args)
        return super().parse_args(ctx, args)


def command_arguments(ctx: click.Context | None = None) -> list[str]:
    """The arguments a running `RecordedCommand` was given, after its name, as given.

    Parameters
    ----------
    ctx : click.Context, optional
        The command's context; default: the current one.

    Raises
    ------
    TypeError
        When the command is not a `RecordedCommand`.
    """
    ctx = ctx if ctx is not None else click.get_current_context()
    if _ARGUMENTS_KEY not in ctx.meta:
        raise TypeError(f"command {ctx.command_path!r} does not keep its arguments; make it with "
                        "cls=crmask.cli_options.RecordedCommand")
    return list(ctx.meta[_ARGUMENTS_KEY])


def recorded_command(args: list[str] | None = None, ctx: click.Context | None = None) -> str:
    """The command line of a running `RecordedCommand`, shell-quoted, for a model card.

    Parameters
    ----------
    args : list of str, optional
        The arguments to write after the command's path; default: those it
        was given (`command_arguments`).
    ctx : click.Context, optional
        The command's context; default: the current one.

    Returns
    -------
    str
        The program and command names (click's ``command_path``, e.g.
        ``crmask train wfi-cam-rf`` or ``python -m crmask_wfi.training.train``)
        and the arguments, e.g. ``crmask train wfi-cam-rf --out model --work 'my work'``.
    """
    ctx = ctx if ctx is not None else click.get_current_context()
    args = command_arguments(ctx) if args is None else list(args)
    return " ".join([ctx.command_path, shlex.join(args)]) if args else ctx.command_path
