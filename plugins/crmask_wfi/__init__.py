"""X-ray event filters for Athena-WFI-like DEPFET frames."""

from crmask import hookimpl


@hookimpl
def register_detectors(register):
    """Register the WFI event filters (added as they are implemented)."""
