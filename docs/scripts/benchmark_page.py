"""Generate the benchmark section of the "Choosing a detector" page.

Usage::

    python docs/scripts/benchmark_page.py OUTDIR

Runs ``examples/compare_detectors.py --all`` -- every registered image
detector that can run here, on a small benchmark set built from the shared
test data (or synthetic frames without it) -- and writes
``OUTDIR/benchmark.rst`` with its summary table, its ROC and
precision-recall plots (``OUTDIR/roc.png``, ``OUTDIR/pr.png``) and the
command that reproduces them. The Sphinx build calls it through
``docs/_ext/crmask_docs.py``; detectors that are not registered or cannot
run (no weights) are left out with a note, so the page grows as plugins land.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from astropy.table import Table

from crmask.bench.report import COLUMNS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "compare_detectors.py"


def _cell(fmt: str, value) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return "--"
    return fmt.format(value)


def table_rst(summary: Table) -> list[str]:
    """The report's summary table (its columns and formats) as a ``list-table``."""
    columns = [c for c in COLUMNS if c[0] in summary.colnames]
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row in [None, *summary]:
        cells = [header if row is None else _cell(fmt, row[key]) for key, header, fmt in columns]
        lines.append(f"   * - {cells[0]}")
        lines += [f"     - {cell}" for cell in cells[1:]]
    return lines + [""]


def main(outdir: Path) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="crmask-docs-bench-") as tmp:
        report = Path(tmp) / "report"
        proc = subprocess.run([sys.executable, str(EXAMPLE), "--all", "-o", str(report)],
                              capture_output=True, text=True, check=True)
        summary = Table.read(report / "summary.ecsv")
        for plot in ("roc.png", "pr.png"):
            shutil.copy(report / plot, outdir / plot)
    notes = [line for line in proc.stdout.splitlines() if line.startswith(("skipping", "shared data"))]
    lines = [
        "The numbers and curves below were produced while these pages were built, by::",
        "",
        "    python examples/compare_detectors.py --all -o report/",
        "",
        "on a small set (a few frames): they show how to read a benchmark, not which detector wins.",
        "For the full comparison with the peers (deepCR, Cosmic-CoNN, ccdproc) on the complete",
        "injected and repeats sets, run ``crmask bench build`` and ``benchmarks/run_peers.sh``.",
        "",
        *table_rst(summary),
    ]
    if notes:
        lines += ["Not included in this build:", ""] + [f"* {note}" for note in notes] + [""]
    lines += [
        ".. figure:: /_generated/roc.png",
        "   :width: 90%",
        "",
        "   Pixel ROC curves (true-positive rate against false-positive rate) of every detector.",
        "   Detectors with a probability map are swept over thresholds; LACosmic, which has none,",
        "   over ``sigclip`` and ``objlim``. The star marks the operating point.",
        "",
        ".. figure:: /_generated/pr.png",
        "   :width: 90%",
        "",
        "   Precision-recall curves of the same runs.",
        "",
    ]
    (outdir / "benchmark.rst").write_text("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
