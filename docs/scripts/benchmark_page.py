"""Placeholder."""
import sys
from pathlib import Path
out = Path(sys.argv[1])
(out / "benchmark.rst").write_text("Benchmark not yet generated.\n")
