"""Shared fixtures: seeded random generators, the shared real-data directory, a registry reloaded around a test.

Also the bad input files and the before-and-after checks of the two fault matrices
(``test_faults.py`` for image detectors, ``wfi/test_event_filter_faults.py`` for event filters).
"""

import hashlib
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pytest
from click.testing import CliRunner, Result

#: Real test data shared with CI (absent in a user's fresh clone).
SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
SPRAT = SHARED_DATA / "sprat_lhs6328"
EXAMPLE_FRAME = Path(__file__).resolve().parents[1] / "examples" / "data" / "v_e_20180810_12_1_0_0.fits.gz"


def shared_path(*parts: str) -> Path:
    """Return a path under ../shared/data, skipping the test when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared test data not found at {path} (../shared/data beside the checkout)")
    return path


def truncated_file(path: Path, make: Callable[[Path], Path], keep: int) -> Path:
    """Write to ``path`` the first ``keep`` bytes of the file ``make(path)`` writes: a FITS file cut short."""
    full = make(path.with_name("full.fits"))
    path.write_bytes(full.read_bytes()[:keep])
    full.unlink()
    return path


def empty_file(path: Path) -> Path:
    """Write an empty file to ``path``."""
    path.write_bytes(b"")
    return path


def text_file(path: Path, line: str) -> Path:
    """Write ``line`` 200 times to ``path``: a text file, not FITS."""
    path.write_text(line * 200)
    return path


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def folder_snapshot(folder: Path) -> dict[str, str]:
    """SHA-256 of every file in ``folder``, by name: the same before and after a run that left it alone."""
    return {p.name: file_sha256(p) for p in folder.iterdir() if p.is_file()}


def run_cli(args: Iterable[object]) -> tuple[Result, list[str]]:
    """Run ``crmask ARGS`` in this process; it must end without a traceback.

    Returns
    -------
    result : click.testing.Result
    lines : list of str
        The lines it printed, less its warnings (``crmask: warning: ...``).
    """
    from crmask.cli import cli

    result = CliRunner().invoke(cli, [str(arg) for arg in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in result.output.strip().splitlines() if not line.startswith("crmask: warning: ")]
    return result, lines


def temporary_files(folder: Path) -> list[str]:
    """Names of the hidden files in ``folder``: temporary files of atomic writes that a run left behind."""
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


@pytest.fixture
def fresh_registry():
    """Reload the plugin registry before and after a test, so that plugin files it loads stay its own."""
    from crmask.registry import reload_plugins

    reload_plugins()
    yield
    reload_plugins()


@pytest.fixture
def rng():
    return np.random.default_rng(20261125)


@pytest.fixture
def hand_made_scores():
    """A probability map whose TPR at an FPR of 1e-4 is known: ``(truth, probability, ignore, 0.7)``.

    100 cosmic-ray pixels (60 at 0.9555, 40 at 0.5555) and 10,000 clean
    pixels (one at 0.8555, two at 0.6555, one tied with the weaker cosmic rays
    at 0.5555, the rest at 0.0555) are scored; a column of 100 clean pixels
    at 0.9955 is ignored. The ROC envelope runs (0, 0), (0, 0.6),
    (4e-4, 1), so the TPR at an FPR of 1e-4 is 0.6 + 0.4 / 4 = 0.7. Counting
    the ignored column, or splitting the tie at 0.5555, changes it.
    """
    shape = (100, 102)
    probability = np.full(shape, 0.0555, dtype=np.float32)
    truth = np.zeros(shape, dtype=bool)
    truth[:60, 0] = truth[:40, 1] = True
    probability[:60, 0] = 0.9555
    probability[:40, 1] = 0.5555
    probability[60, 0] = 0.8555
    probability[61:63, 0] = 0.6555
    probability[40, 1] = 0.5555
    ignore = np.zeros(shape, dtype=bool)
    ignore[:, -1] = True
    probability[ignore] = 0.9955
    return truth, probability, ignore, 0.7
