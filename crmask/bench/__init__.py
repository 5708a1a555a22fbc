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

from .._deprecation import deprecated_module_attributes
from .dataset import BenchImage, BenchSet, load_set, read_bench_image, write_bench_image
from .runner import BenchDetector, run_benchmark

__all__ = [
    "BenchDetector",
    "BenchImage",
    "BenchSet",
    "load_set",
    "read_bench_image",
    "run_benchmark",
    "write_bench_image",
]

#: ``DetectorSpec``, the former name of `BenchDetector`, still works (deprecated).
__getattr__ = deprecated_module_attributes(__name__, renamed={"DetectorSpec": "BenchDetector"})
