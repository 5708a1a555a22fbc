"""U-Net cosmic-ray detectors after deepCR and Cosmic-CoNN, with optional attention gates."""

from crmask import hookimpl


@hookimpl
def register_detectors(register):
    """Register the U-Net detectors (added as they are implemented)."""
