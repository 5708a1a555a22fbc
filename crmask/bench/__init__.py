"""Benchmark data sets, runner and reports (``crmask bench``).

* `crmask.bench.dataset`: the set format (FITS with ``CRMASK``/``IGNORE``/
  ``STARMASK`` extensions and ``manifest.ecsv``) and its readers;
* `crmask.bench.build`: the ``injected``, ``repeats`` and ``synthetic`` sets
  built from the real data in ``../shared/data``;
* `crmask.bench.runner`: runs any registered mask detector over sets, with
  per-file results that let an interrupted run resume;
* `crmask.bench.report`: tables (Markdown, ECSV) and ROC/PR plots.

The metrics themselves are in `crmask.bench.metrics`.
"""

from .dataset import BenchImage, BenchSet, load_set, read_bench_image, write_bench_image
from .runner import DetectorSpec, run_benchmark

__all__ = [
    "BenchImage",
    "BenchSet",
    "DetectorSpec",
    "load_set",
    "read_bench_image",
    "run_benchmark",
    "write_bench_image",
]
