"""X-ray event filters for Athena-WFI-like DEPFET frames.

Modules
-------
physics
    Detector constants with sources; absorption, diffusion, Landau loss.
simulate
    `simulate_frames`: frames with X-rays, cosmic rays, read noise and truth.
events
    `reconstruct_events` (3x3 local maxima, grades, 5x5 ring), `add_truth`,
    FITS event files.
classic
    `ClassicGradeFilter`, registered as ``classic``.
metrics
    Event metrics with cosmic rays as the positive class (seed 000 §3.4).
dataset
    Class-balanced 64 x 64 sub-frame data sets in FITS.
camrf
    `CamRandomForestFilter`, registered as ``wfi-cam-rf``: DenseNet class
    activation maps feeding a random forest.
"""

from crmask import hookimpl

from .classic import ClassicGradeFilter

__all__ = ["ClassicGradeFilter"]


@hookimpl
def register_event_filters(register):
    """Register the WFI event filters."""
    register(ClassicGradeFilter)
    from .camrf import CamRandomForestFilter  # numpy/astropy only; torch loads on first use

    register(CamRandomForestFilter)


@hookimpl
def register_commands(cli):
    """Add the ``crmask wfi`` command group and ``crmask train wfi-cam-rf``."""
    from .cli import wfi
    from .train import train_command

    cli.add_command(wfi)
    cli.commands["train"].add_command(train_command())
