"""X-ray event filters for Athena-WFI-like DEPFET frames.

Subpackages
-----------
sim
    The frame simulator (``physics``, ``charge``, ``cosmics``, ``simulate``),
    its FITS files (``simfile``) and its Geant4 reference (``geant4``).
events
    Event reconstruction and grades (``reconstruct``, ``grades``) and the
    ``classic`` grade filter (``classic``).
camrf
    The ``wfi-cam-rf`` filter: DenseNet (``densenet``), class activation
    maps (``cam``), event features (``features``, ``context``), random
    forest (``forest``), model files (``model_io``) and the filter
    (``filter``). The shipped model, ``wfi-cam-rf.simulated``, is in
    ``weights/cam_rf``.
training
    Sub-frame data sets (``dataset``) and training (``train_densenet``,
    ``train``: ``crmask train wfi-cam-rf``).
report
    Metrics (``metrics``), ROC and threshold (``roc``), filters on
    simulations (``bench``) and figures (``figures``).

Modules
-------
cli
    The ``crmask wfi`` command group.
"""

from crmask import hookimpl

from .events.classic import ClassicGradeFilter

__all__ = ["ClassicGradeFilter"]


@hookimpl
def register_event_filters(register):
    """Register the WFI event filters."""
    register(ClassicGradeFilter)
    from .camrf import CamRandomForestFilter  # numpy/astropy only; torch loads on first use

    register(CamRandomForestFilter)


@hookimpl
def register_models(register):
    """Register the shipped ``wfi-cam-rf`` model (``weights/cam_rf``)."""
    from .camrf.model_io import CARD_FILE, SHIPPED_MODEL_DIR

    register(SHIPPED_MODEL_DIR / CARD_FILE)


@hookimpl
def register_commands(cli):
    """Add the ``crmask wfi`` command group and ``crmask train wfi-cam-rf``."""
    from .cli import wfi
    from .training.train import train_command

    cli.add_command(wfi)
    cli.commands["train"].add_command(train_command())
