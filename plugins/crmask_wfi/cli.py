"""``crmask wfi``: simulate WFI frames, filter X-ray events, compare filters."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from crmask.cli import parse_params
from crmask.exceptions import CrmaskError

from .sim.physics import QUADRANT_SHAPE, READNOISE_E
from .sim.simulate import DEFAULT_CR_RATE, DEFAULT_ENERGY_RANGE_KEV, DEFAULT_XRAY_RATE
from .training.dataset import SUBFRAME_SHAPE

__all__ = ["wfi"]


def _shape(shape: tuple[int, int], between: str = " ") -> str:
    return between.join(map(str, shape))


def _event_filter(name: str, params: tuple[str, ...]):
    from crmask.registry import resolve

    try:
        return resolve(name, "events", parse_params(name, params, kind="events"))
    except (CrmaskError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def wfi() -> None:
    """Athena-WFI X-ray frames: simulation, event filters, benchmarks."""


@wfi.command()
@click.option("-n", "--frames", "n_frames", type=click.IntRange(min=1), default=100, show_default=True,
              help="Number of frames.")
@click.option("--shape", type=(int, int), default=None, metavar="NY NX",
              help=f"Frame shape  [default: {_shape(QUADRANT_SHAPE)}, one quadrant; {_shape(SUBFRAME_SHAPE)} "
                   "with --balanced]")
@click.option("--xray-rate", type=click.FloatRange(min=0), default=DEFAULT_XRAY_RATE, show_default=True,
              help=f"X-ray photons per {_shape(QUADRANT_SHAPE, 'x')} pixels per frame.")
@click.option("--cr-rate", type=click.FloatRange(min=0), default=DEFAULT_CR_RATE, show_default=True,
              help=f"Cosmic-ray primaries per {_shape(QUADRANT_SHAPE, 'x')} pixels per frame.")
@click.option("--energy", type=(float, float), default=DEFAULT_ENERGY_RANGE_KEV, show_default=True,
              metavar="LOW HIGH", help="X-ray energies: log-uniform between these (keV).")
@click.option("--readnoise", "--read-noise", "readnoise", type=click.FloatRange(min=0), default=READNOISE_E,
              show_default=True, help="Read noise, electrons RMS (--read-noise is its former spelling).")
@click.option("--balanced", type=click.IntRange(min=1), default=None,
              help="Instead: a class-balanced data set with this many frames per class (empty, X-ray, CR, "
                   "mixed); --frames is ignored.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the simulation.")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Output FITS file.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
def simulate(n_frames, shape, xray_rate, cr_rate, energy, readnoise, balanced, seed, output, overwrite):
    """Simulate frames with X-rays, cosmic rays and truth, written to OUTPUT (FITS)."""
    from .training.dataset import build_dataset
    from .sim.simfile import frame_classes, write_simulation
    from .sim.simulate import simulate_frames

    common = dict(xray_rate=xray_rate, cr_rate=cr_rate, spectrum=energy, seed=seed, readnoise=readnoise)
    try:
        if balanced is not None:
            sim = build_dataset(balanced, shape=shape or SUBFRAME_SHAPE, **common)
        else:
            sim = simulate_frames(n_frames, shape=shape or QUADRANT_SHAPE, **common)
        write_simulation(sim, output, overwrite=overwrite)
    except (CrmaskError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    import numpy as np

    classes = np.bincount(frame_classes(sim.label), minlength=4)
    click.echo(f"{output}: {len(sim)} frames of {sim.shape[0]}x{sim.shape[1]}, "
               f"{int((sim.truth['KIND'] == 'xray').sum())} X-ray photons, "
               f"{int((sim.truth['PARTICLE'] == 'proton').sum())} CR primaries; "
               f"frames empty/xray/cr/mixed = {'/'.join(map(str, classes))}")


@wfi.command("filter")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("-f", "--filter", "filter_name", default="classic", show_default=True,
              help="Registered event filter (`crmask list --kind events`).")
@click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Filter parameter (repeatable).")
@click.option("--unit", type=click.Choice(["electron", "keV"]), default=None,
              help="Pixel unit when INPUT has no BUNIT.")
@click.option("--chunk", "chunk_frames", type=click.IntRange(min=1), default=None,
              help="Frames read and filtered at a time (memory is bounded by it)  [default: 100]")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Output event file (FITS).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
def filter_command(input_path, filter_name, params, unit, chunk_frames, output, overwrite):
    """Find and filter X-ray events in INPUT, writing an event file.

    INPUT is a simulation file from `crmask wfi simulate` (truth columns are
    added) or any FITS image or cube of frames in electron or keV; a MASK
    extension (one per frame or one for all) masks pixels, and no event is
    reported on or next to a masked pixel. The frames are read and filtered
    in chunks, so memory does not grow with their number.
    """
    from crmask.io import check_not_input

    from .events.reconstruct import write_events
    from .events.stream import CHUNK_FRAMES, filter_file

    det = _event_filter(filter_name, params)
    try:
        check_not_input(output, input_path)
        _check_output(output, overwrite)
        events = filter_file(det, input_path, unit=unit, chunk_frames=chunk_frames or CHUNK_FRAMES)
        write_events(events, output, overwrite=overwrite)
    except CrmaskError as exc:
        raise click.ClickException(str(exc)) from None
    n_flag = int(events["CR_FLAG"].sum())
    click.echo(f"{input_path} -> {output}: {len(events)} events, "
               f"{n_flag} flagged as cosmic rays ({det.name})")


def _check_output(path: Path, overwrite: bool) -> None:
    """Refuse, before any work, an output file that cannot be written."""
    from crmask.exceptions import OutputDirectoryError, OutputExistsError

    parent = path.parent
    if path.is_dir():
        raise OutputDirectoryError(f"{path}: is a directory; give the output file's name")
    if not parent.exists():
        raise OutputDirectoryError(f"{path}: directory {parent} does not exist")
    if not parent.is_dir():
        raise OutputDirectoryError(f"{path}: {parent} is not a directory")
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path}: exists; use --overwrite to replace it")


@wfi.command()
@click.argument("input_path", metavar="[INPUT]", required=False,
                type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("-f", "--filter", "filters", multiple=True, default=("classic",), show_default=True,
              help="Event filter to compare (repeatable); the first is the FOR reference.")
@click.option("-n", "--frames", "n_frames", type=click.IntRange(min=1), default=None,
              help="Frames to simulate when no INPUT is given  [default: 120000, >= 1,000 CR events after "
                   "the grade filter]")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the simulation.")
@click.option("-o", "--outdir", type=click.Path(path_type=Path), required=True,
              help="Directory for metrics.ecsv and background_spectrum.png.")
def bench(input_path, filters, n_frames, seed, outdir):
    """Event metrics (CR = positive class) of one or more filters on simulated frames.

    INPUT is a simulation file; without it, N_FRAMES default 512x512 frames are
    simulated with SEED.
    """
    from .report.bench import (
        EVALUATION_FRAMES,
        filter_simulated_batches,
        filter_simulation,
        plot_background_spectrum,
    )
    from .report.metrics import metrics_table
    from .sim.simfile import read_simulation

    detectors = [_event_filter(name, ()) for name in filters]
    outdir.mkdir(parents=True, exist_ok=True)
    try:
        if input_path:
            sim = read_simulation(input_path)
            results = {det.name: filter_simulation(det, sim) for det in detectors}
            n_frames, shape = len(sim), sim.shape
        else:
            n_frames = n_frames or EVALUATION_FRAMES
            results = filter_simulated_batches(detectors, n_frames, seed=seed)
            shape = QUADRANT_SHAPE
    except CrmaskError as exc:
        raise click.ClickException(str(exc)) from None
    table = metrics_table(results, reference=detectors[0].name)
    table.write(outdir / "metrics.ecsv", overwrite=True)
    plot_background_spectrum(results, n_frames, shape, outdir / "background_spectrum.png")
    table.pprint_all()
    click.echo(f"wrote {outdir / 'metrics.ecsv'} and {outdir / 'background_spectrum.png'}")
    sys.stdout.flush()
