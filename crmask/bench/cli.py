"""``crmask bench`` commands."""

import click


@click.group()
def bench() -> None:
    """Benchmark detectors on common data."""
