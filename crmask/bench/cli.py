"""``crmask bench`` commands.

``crmask bench --data SET --detector NAME -o REPORT`` (or ``crmask bench run
...``) scores detectors; ``crmask bench build`` makes the sets from the real
data; ``crmask bench report`` redraws a report from stored results.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any, Callable

import click

from ..cli_options import data_option
from ..exceptions import CrmaskError
from ..params import split_assignment

__all__ = ["bench", "BUILD_SETS"]

#: The sets ``crmask bench build`` makes (`crmask.bench.build.SETS`, named here so that the CLI loads fast).
BUILD_SETS = ("injected", "repeats", "synthetic", "m51", "uves", "saao")


def _parse_shape(text: str) -> tuple[int, int]:
    try:
        ny, nx = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"expected NYxNX such as 2048x4096, got {text!r}") from None
    if ny < 16 or nx < 16:
        raise click.BadParameter(f"frame must be at least 16x16, got {text!r}")
    return ny, nx


def _parse_sweep(items: tuple[str, ...]) -> dict[str, tuple[float, ...]]:
    form = "NAME=V1,V2,..."
    sweep: dict[str, tuple[float, ...]] = {}
    for item in items:
        try:
            key, values = split_assignment(item, form)
            parsed = tuple(float(v) for v in values.split(",") if v.strip())
        except ValueError:
            parsed = ()
        if not parsed:
            raise click.BadParameter(f"expected {form}, got {item!r}", param_hint="--sweep")
        sweep[key] = parsed
    return sweep


def _apply_params(specs, classes: dict[str, type], items: tuple[str, ...]):
    """Attach ``[LABEL:]key=value`` items to the detector specs, validating each value."""
    from .runner import BenchDetector

    form = "[LABEL:]key=value"
    params: dict[str, dict[str, Any]] = {s.label: dict(s.params) for s in specs}
    for item in items:
        try:
            target, text = split_assignment(item, form)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--param") from None
        label, colon, key = (part.strip() for part in target.partition(":"))
        if not colon:
            labels, key = list(params), label
        elif not key or not label:
            raise click.BadParameter(f"expected {form}, got {item!r}", param_hint="--param")
        elif label not in params:
            raise click.BadParameter(f"{item!r} names detector {label!r}, which is not among "
                                     f"--detector {sorted(params)}", param_hint="--param")
        else:
            labels = [label]
        takers = [label for label in labels if key in classes[label].parameters]
        if not takers:
            raise click.BadParameter(f"no selected detector has a parameter {key!r}", param_hint="--param")
        for label in takers:
            try:
                params[label][key] = classes[label].parameters[key].parse(key, text)
            except ValueError as exc:
                raise click.BadParameter(f"{label}: {exc}", param_hint="--param") from None
    return [BenchDetector(s.label, s.name, params[s.label]) for s in specs]


def _run_options(func: Callable) -> Callable:
    options = [
        click.option("--data", "data", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
                     help="Benchmark set directory (repeatable)."),
        click.option("--detector", "detectors", multiple=True, metavar="[LABEL=]NAME",
                     help="Registered detector to run (repeatable); LABEL=NAME runs it under another label."),
        click.option("--param", "params", multiple=True, metavar="[LABEL:]KEY=VALUE",
                     help="Detector parameter, for one label or for every detector that has it."),
        click.option("--plugin", "plugins", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="Python file written as a plugin module (an @crmask.hookimpl register_detectors) "
                          "adding detectors that are not installed (repeatable)."),
        click.option("--sweep", "sweeps", multiple=True, metavar="KEY=V1,V2,...",
                     help="Parameter sweep for detectors without a probability map (default: sigclip x objlim)."),
        click.option("--no-sweep", is_flag=True, help="Do not sweep; such detectors get no ROC curve."),
        click.option("--dilate", is_flag=True, help="Dilate truth and predictions by 3x3 before scoring."),
        click.option("--no-resume", is_flag=True, help="Recompute results already stored in OUTDIR."),
        click.option("--threads", type=click.IntRange(min=1), default=None,
                     help="Limit OpenMP/BLAS/torch threads of the detectors (default: libraries' own choice)."),
        click.option("--scheduler", default=None, metavar="local|ADDRESS",
                     help="Evaluate the files on Dask: 'local' starts a local cluster, an address "
                          "(tcp://host:8786) uses that scheduler (sets and OUTDIR on a shared file system)."),
        click.option("--workers", type=click.IntRange(min=1), default=None,
                     help="Worker processes of the local cluster (--scheduler local); default: one per core."),
        click.option("-q", "--quiet", is_flag=True, help="No progress bar."),
        click.option("-o", "--outdir", type=click.Path(file_okay=False, path_type=Path), help="Report directory."),
    ]
    return functools.reduce(lambda f, option: option(f), reversed(options), func)


def _run(data, detectors, params, plugins, sweeps, no_sweep, dilate, no_resume, threads, scheduler, workers, quiet,
         outdir) -> None:
    from .report import markdown_table, aggregate, write_report
    from ..registry import load_plugin_file
    from .runner import BenchDetector, detector_class, run_benchmark

    missing = [name for name, value in (("--data", data), ("--detector", detectors), ("-o/--outdir", outdir))
               if not value]
    if missing:
        raise click.UsageError(f"missing option(s) {', '.join(missing)}")
    if workers is not None and scheduler != "local":
        raise click.UsageError("--workers applies only with --scheduler local")
    if threads is not None:
        # Read by OpenMP and BLAS runtimes when they load; limit_threads covers those already loaded.
        for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[variable] = str(threads)
    for plugin in plugins:
        load_plugin_file(plugin)
    try:
        specs = [BenchDetector.parse(d) for d in detectors]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--detector") from None
    classes = {s.label: detector_class(s.name) for s in specs}
    specs = _apply_params(specs, classes, params)
    sweep = {} if no_sweep else (_parse_sweep(sweeps) if sweeps else None)
    results = run_benchmark(data, specs, outdir, dilate=dilate, sweep=sweep,
                            resume=not no_resume, progress=not quiet, threads=threads,
                            scheduler=scheduler, n_workers=workers)
    paths = write_report(results, outdir)
    click.echo(markdown_table(aggregate(results)))
    click.echo(f"report: {paths['markdown']}, {paths['ecsv']}, {paths['roc']}, {paths['pr']}")


@click.group(invoke_without_command=True)
@_run_options
@click.pass_context
def bench(ctx: click.Context, **options) -> None:
    """Benchmark detectors on common data.

    Without a subcommand, runs the benchmark (the same as ``crmask bench run``):

        crmask bench --data sets/injected --detector lacosmic -o report/
    """
    if ctx.invoked_subcommand is not None:
        return
    if not options["data"] and not options["detectors"]:
        click.echo(ctx.get_help())
        return
    _guarded(_run, **options)


@bench.command("run")
@_run_options
def run(**options) -> None:
    """Run detectors on benchmark sets and write the report to OUTDIR.

    Writes OUTDIR/summary.md and summary.ecsv (one row per set and
    detector), roc.png and pr.png (all detectors on one plot per set), and
    OUTDIR/results/SET/LABEL/FILE.json per file; an interrupted run resumes
    from those. With --scheduler the files are evaluated on the workers of
    a Dask cluster; the report is the same as a serial run's.
    """
    _guarded(_run, **options)


@bench.command("build")
@data_option(help="The shared real-data folder (see its README.md) the sets are built from.")
@click.option("-o", "--outdir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory to create the sets in (one subdirectory per set).")
@click.option("--set", "sets", multiple=True, type=click.Choice(BUILD_SETS),
              help="Set to build (repeatable; default: all).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random choice.")
@click.option("--synthetic-shape", default="1024x1024", show_default=True, help="NYxNX of synthetic frames.")
@click.option("--synthetic-frames", type=click.IntRange(min=1), default=2, show_default=True,
              help="Frames of the synthetic set.")
@click.option("--dilate", is_flag=True, help="Dilate every truth mask by 3x3.")
@click.option("--overwrite", is_flag=True, help="Replace existing files.")
def build(data_dir: Path, outdir: Path, sets, seed: int, synthetic_shape: str, synthetic_frames: int,
          dilate: bool, overwrite: bool) -> None:
    """Build the benchmark sets from the real data.

    injected: real footprints on SPRAT and GMOS-S cosmic-ray-free frames;
    repeats: real SPRAT exposures with masks from the repeats; m51, uves,
    saao: real footprints on single real exposures (their own cosmic rays
    ignored); synthetic: simulated frames.
    """
    from .build import SETS, build_sets

    shape = _parse_shape(synthetic_shape)
    _guarded(build_sets, data_dir, outdir, sets or SETS, seed=seed, synthetic_shape=shape,
             synthetic_frames=synthetic_frames, dilate=dilate, overwrite=overwrite, log=click.echo)


@bench.command("report")
@click.option("-o", "--outdir", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="Report directory of an earlier run.")
def report(outdir: Path) -> None:
    """Rewrite the report of OUTDIR from its stored per-file results."""
    from .report import aggregate, markdown_table, write_report

    files = sorted((outdir / "results").glob("*/*/*.json"))
    if not files:
        raise click.ClickException(f"{outdir}: no stored results under results/")
    results = [json.loads(f.read_text()) for f in files]
    write_report(results, outdir)
    click.echo(markdown_table(aggregate(results)))


def _guarded(func: Callable, *args, **kwargs) -> Any:
    try:
        return func(*args, **kwargs)
    except (CrmaskError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
