"""The ``crmask`` command line.

Plugins add commands through the ``register_commands`` hook, called the first
time the command line is used, never at import time.
"""

from __future__ import annotations

import sys
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

import click

from .exceptions import CrmaskError, CrmaskWarning, error_line
from .params import parse_assignments

__all__ = ["cli", "main", "parse_params"]


class _PluginGroup(click.Group):
    """A click group that asks plugins for their commands on first use."""

    #: The plugin manager whose plugins added their commands (plugins reloaded: ask again).
    _commands_from: object = None

    def _load_plugin_commands(self) -> None:
        from .registry import add_plugin_commands, plugin_manager

        manager = plugin_manager()
        if self._commands_from is not manager:
            self._commands_from = manager
            add_plugin_commands(self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._load_plugin_commands()
        return super().get_command(ctx, cmd_name)


@contextmanager
def _warnings_as_lines():
    """Echo each `CrmaskWarning` as one ``crmask: warning:`` line; other warnings go on as usual."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", CrmaskWarning)
            yield
    finally:
        for item in caught:
            if issubclass(item.category, CrmaskWarning):
                click.echo(f"crmask: warning: {item.message}", err=True)
            else:
                warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)


def _file_error(path, reason: str) -> str:
    """``crmask: error: PATH: reason``, the path said once (crmask's own errors often begin with it)."""
    reason = reason[len(f"{path}: "):] if reason.startswith(f"{path}: ") else reason
    return f"crmask: error: {path}: {reason}"


def _fail(message: str) -> None:
    raise click.ClickException(message)


def _stderr_is_terminal() -> bool:
    """Whether stderr is a terminal: progress bars are shown only there (not in pipes, logs or tests)."""
    return sys.stderr.isatty()


def parse_params(detector_name: str, items: tuple[str, ...], kind: str | None = None) -> dict[str, Any]:
    """Parse ``key=value`` strings against a detector's declared parameters.

    Parameters
    ----------
    detector_name : str
        A registered name.
    items : tuple of str
        ``key=value`` strings.
    kind : {"mask", "events"}, optional
        The kind the detector must be (checked before the parameters).

    Raises
    ------
    click.BadParameter
        For an item without ``=``, an unknown name or a value not allowed.
    UnknownDetectorError, DetectorKindError
        For a name that is not registered, or of another kind.
    """
    from .registry import get_detector_class

    cls = get_detector_class(detector_name, kind)
    try:
        return parse_assignments(detector_name, cls.parameters, items, what=cls.kind_name())
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--param") from None


@click.group(cls=_PluginGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="crmask")
def cli() -> None:
    """Detect cosmic rays in astronomical images and X-ray frames."""


@cli.group()
def train() -> None:
    """Train a detector (commands come from plugins)."""


def _add_core_groups() -> None:
    from .bench.cli import bench

    cli.add_command(bench)


@cli.command("list")
@click.option("--kind", type=click.Choice(["mask", "events"]),
              help="Only image detectors (mask) or only X-ray event filters (events).")
@click.option("-v", "--verbose", is_flag=True, help="Also list every parameter with its default.")
def list_command(kind: str | None, verbose: bool) -> None:
    """List registered image detectors and X-ray event filters: name, kind, needs, availability.

    Set CRMASK_PLUGINS to a comma-separated list of plugin names (such as
    CRMASK_PLUGINS=lacosmic) to load only those plugins.
    """
    from .registry import get_detector_class, list_detectors, list_event_filters

    infos = [info for info in (*list_detectors(), *list_event_filters()) if kind in (None, info.kind)]
    rows = [("NAME", "KIND", "NEEDS", "AVAILABLE", "PLUGIN", "SUMMARY")]
    for info in infos:
        available = "yes" if info.available else "no (missing " + ", ".join(info.missing) + ")"
        rows.append((info.name, info.kind, ",".join(info.needs) or "-", available, info.plugin, info.summary))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[5])
        if verbose and row is not rows[0]:
            for pname, spec in get_detector_class(row[0]).parameters.items():
                click.echo(f"      {pname} = {spec.default!r}  ({spec.allowed()}) {spec.doc}")


@cli.command("models")
@click.option("-d", "--detector", default=None, help="Only the models of this detector or event filter.")
@click.option("-v", "--verbose", is_flag=True,
              help="Also list each model's other names, model card and files with their SHA-256.")
def models_command(detector: str | None, verbose: bool) -> None:
    """List the shipped models: name (arch.tag), the detector that loads it, whether it is its default.

    A detector loads its default model unless given another as
    ``--param weights=NAME``; a model also answers to the names in -v's
    ``aliases`` line.
    """
    from .models import list_models
    from .registry import get_detector_class

    try:
        if detector is not None:
            get_detector_class(detector)
        models = list_models(detector)
    except CrmaskError as exc:
        _fail(str(exc))
    rows = [("NAME", "DETECTOR", "DEFAULT", "SUMMARY")]
    rows += [(info.name, info.detector, "yes" if info.default else "no", info.summary) for info in models]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row, info in zip(rows, (None, *models)):
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[3])
        if verbose and info is not None:
            if info.aliases:
                click.echo(f"      aliases: {', '.join(info.aliases)}")
            click.echo(f"      card: {info.card}")
            for file in info.files:
                click.echo(f"      file: {file.path}  sha256 {file.sha256}")


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-d", "--detector", default="lacosmic", show_default=True, help="Registered detector name.")
@click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Detector parameter (repeatable); see `crmask list -v`.")
@click.option("-o", "--outdir", required=True, type=click.Path(path_type=Path), help="Output directory.")
@click.option("--hdu", default=None, help="Image HDU index or EXTNAME (default: first with data).")
@click.option("--unit", type=click.Choice(["adu", "electron"]), default=None,
              help="Pixel unit of files without a BUNIT keyword.")
@click.option("--background", default=None, metavar="EXTNAME",
              help="Image extension holding a background (sky) model in the image unit, e.g. SKYFIT "
                   "(lacosmic: astroscrappy's inbkg).")
@click.option("--gain", type=float, default=None, help="Gain (e-/adu); shortcut for --param gain=...")
@click.option("--readnoise", type=float, default=None, help="Read noise (e-); shortcut for --param readnoise=...")
@click.option("--gain-key", default=None, metavar="KEYWORD",
              help="Header keyword holding the gain (default: GAIN, EGAIN or EPERDN); shortcut for --param gain_key=...")
@click.option("--readnoise-key", default=None, metavar="KEYWORD",
              help="Header keyword holding the read noise in e- (default: RDNOISE, READNOIS or RON); "
                   "shortcut for --param readnoise_key=...")
@click.option("--threshold", type=float, default=None, help="Probability threshold; shortcut for --param threshold=...")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default=None,
              help="Where array models (U-Nets) run; shortcut for --param device=...")
@click.option("--grow", type=click.IntRange(min=0), default=0, show_default=True, help="Grow the CR mask by this radius (pixels).")
@click.option("--no-inpaint", is_flag=True, help="Only mask CRs; leave the data unchanged.")
@click.option("--overwrite", is_flag=True, help="Replace existing output files.")
@click.option("--skip-existing", is_flag=True,
              help="Leave files whose output exists alone (to re-run a batch that stopped); not with --overwrite.")
@click.option("--plot", is_flag=True,
              help="Also write OUTDIR/<name>.png: the input image with the cosmic rays found drawn over it.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars (they are shown only when stderr is a terminal).")
@click.option("--scheduler", default=None, metavar="local|ADDRESS",
              help="Run on Dask: 'local' starts a local cluster, an address (tcp://host:8786) uses that scheduler.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes of the local cluster (--scheduler local); default: one per core.")
def detect(
    files: tuple[Path, ...],
    detector: str,
    params: tuple[str, ...],
    outdir: Path,
    hdu: str | None,
    unit: str | None,
    background: str | None,
    gain: float | None,
    readnoise: float | None,
    gain_key: str | None,
    readnoise_key: str | None,
    threshold: float | None,
    device: str | None,
    grow: int,
    no_inpaint: bool,
    overwrite: bool,
    skip_existing: bool,
    plot: bool,
    quiet: bool,
    scheduler: str | None,
    workers: int | None,
) -> None:
    """Detect and clean cosmic rays in FITS FILES, writing OUTDIR/<name>.fits.

    Each output holds the cleaned image with the provenance header, a MASK
    extension (all masked pixels) and a CRMASK extension (1 = cosmic ray).
    Existing outputs are never replaced without --overwrite (or are left
    alone, and their inputs skipped, with --skip-existing), and a file is
    never written over its own input. With --scheduler the files are spread
    over the workers of a Dask cluster (see crmask.batch.detect_many).
    When stderr is a terminal a progress bar counts the files (with the time
    left), and a U-Net shows its tiles on an image that takes over a few
    seconds; --quiet turns both off.
    """
    from .files import check_output_dir, clean_file, plan_outputs, split_existing
    from .registry import get_detector_class, resolve

    calibration = {"gain": gain, "readnoise": readnoise, "gain_key": gain_key, "readnoise_key": readnoise_key}
    tuning = {"threshold": threshold, "device": device}
    try:
        declared = get_detector_class(detector, "mask").parameters
        # the calibration of the files goes to every detector that uses it: the same command line serves
        # lacosmic and a U-Net, which needs no read noise; a detector's own options are errors where unknown
        unused = sorted(key for key, value in calibration.items() if value is not None and key not in declared)
        if unused:
            click.echo(f"crmask: note: {detector} does not use " + ", ".join(f"--{k.replace('_', '-')}" for k in unused)
                       + "; ignored", err=True)
        given = {**{k: v for k, v in calibration.items() if k in declared}, **tuning}
        shortcuts = tuple(f"{key}={value}" for key, value in given.items() if value is not None)
        det = resolve(detector, "mask", parse_params(detector, params + shortcuts, kind="mask"))
        if background is not None:
            det.check_background()
    except (CrmaskError, ValueError) as exc:
        _fail(str(exc))
    try:
        check_output_dir(outdir)
    except CrmaskError as exc:
        _fail(str(exc))
    hdu_key: int | str | None = int(hdu) if hdu is not None and hdu.isdigit() else hdu
    if skip_existing and overwrite:
        _fail("--skip-existing and --overwrite contradict each other; use one")
    if workers is not None and scheduler != "local":
        _fail("--workers applies only with --scheduler local")
    progress = not quiet and _stderr_is_terminal()
    if scheduler is not None:
        _detect_on_dask(files, det, outdir, scheduler, workers,
                        dict(hdu=hdu_key, unit=unit, background=background, grow=grow, inpaint=not no_inpaint,
                             overwrite=overwrite, skip_existing=skip_existing, plot=plot, progress=progress))
        return

    from tqdm.auto import tqdm

    planned, clashes = plan_outputs(files, outdir)
    for _, path, message in clashes:  # refused before any work, as on Dask
        click.echo(_file_error(path, message), err=True)
    failures = len(clashes)
    if skip_existing:
        planned, skipped = split_existing(planned)
        for _, path, target in skipped:
            click.echo(f"{path} -> {target}: skipped, the output exists")
    if progress and "progress" in det.parameters:
        det.set_params(progress=True)  # per-tile progress of a long inference, below the file bar
    with tqdm(planned, desc=f"crmask {det.name}", unit="file", disable=not progress, file=sys.stderr) as bar:
        for _, path, target in bar:
            try:
                with _warnings_as_lines():
                    n_cr = clean_file(path, target, det, hdu=hdu_key, unit=unit, background=background, grow=grow,
                                      inpaint=not no_inpaint, overwrite=overwrite, plot=plot)
            except Exception as exc:  # one bad file never stops the batch: say why in one line, go on
                failures += 1
                bar.write(_file_error(path, error_line(exc)), file=sys.stderr)
                continue
            bar.write(f"{path} -> {target}: {n_cr} CR pixels ({det.name})", file=sys.stdout)
    if failures:
        sys.exit(1)


def _detect_on_dask(files, det, outdir: Path, scheduler: str, workers: int | None, options: dict) -> None:
    """``crmask detect --scheduler``: run the files through `crmask.batch.detect_many`."""
    from .batch import detect_many

    try:
        result = detect_many(files, det, client=scheduler, outdir=outdir, n_workers=workers, **options)
    except (CrmaskError, ValueError) as exc:
        _fail(str(exc))
    for item in result:
        if item.ok:
            click.echo(f"{item.path} -> {item.output}: {item.n_cr_pixels} CR pixels ({result.detector})")
        elif item.status == "skipped":
            click.echo(f"{item.path} -> {item.output}: skipped, the output exists")
        else:
            click.echo(_file_error(item.path, item.error), err=True)
    if result.failed:
        sys.exit(1)


_add_core_groups()


def _show_crmask_warnings_in_one_line(show: Callable) -> Callable:
    """Wrap `warnings.showwarning` so that a `CrmaskWarning` (a plugin's too) prints as ``crmask: warning: ...``."""

    def showwarning(message, category, *args, **kwargs):
        if issubclass(category, CrmaskWarning):
            click.echo(f"crmask: warning: {message}", err=True)
        else:
            show(message, category, *args, **kwargs)

    return showwarning


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``crmask`` script; prints crmask errors and plugin warnings as one line each."""
    with warnings.catch_warnings():
        warnings.showwarning = _show_crmask_warnings_in_one_line(warnings.showwarning)
        try:
            cli.main(args=argv, prog_name="crmask", standalone_mode=True)
        except CrmaskError as exc:  # errors raised outside a command's own handling
            click.echo(f"crmask: error: {exc}", err=True)
            sys.exit(2)
