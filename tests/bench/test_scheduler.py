"""``crmask bench --scheduler``: the benchmark on a local Dask cluster gives the serial run's report."""

import time

import pytest
from astropy.table import Table
from click.testing import CliRunner

from crmask.bench.runner import result_path
from crmask.cli import cli

pytest.importorskip("distributed")

#: Summary columns that depend on where and how fast a run went, not on what it found.
TIMING = {"s_per_mpix", "peak_mb", "cores_used", "threads_available"}


#: A detector file (``--plugin``): its module exists only in the client, so workers must load the file.
PLUGIN = """
import numpy as np
from crmask import Detector, MaskResult, Param, hookimpl


class Above(Detector):
    name = "above"
    summary = "pixels above a level"
    parameters = {"level": Param(300.0, "level in adu")}

    def _detect(self, image):
        return MaskResult(mask=np.asarray(image.data) > self.params["level"])


@hookimpl
def register_detectors(register):
    register(Above)
"""


def bench(tiny_set, out, *extra):
    args = ["bench", "run", "--data", str(tiny_set), "--detector", "lacosmic", "--detector", "strict=lacosmic",
            "--param", "strict:sigclip=50", "-q", "-o", str(out), *extra]
    return CliRunner().invoke(cli, args)


def test_local_cluster_reports_the_serial_metrics(tiny_set, tmp_path, fresh_registry):
    plugin = tmp_path / "above.py"
    plugin.write_text(PLUGIN)
    detectors = ("--plugin", str(plugin), "--detector", "above")
    serial = bench(tiny_set, tmp_path / "serial", *detectors)
    assert serial.exit_code == 0, serial.output
    on_dask = bench(tiny_set, tmp_path / "dask", *detectors, "--scheduler", "local", "--workers", "2")
    assert on_dask.exit_code == 0, on_dask.output

    expected, got = Table.read(tmp_path / "serial" / "summary.ecsv"), Table.read(tmp_path / "dask" / "summary.ecsv")
    assert list(got["label"]) == ["lacosmic", "strict", "above"]
    assert got["tpr"][0] > 0.9 and got["tpr"][1] < got["tpr"][0]  # the strict threshold finds fewer CRs
    # 400 adu CRs on a 100 adu sky: a 300 adu cut finds every CR pixel and nothing else
    assert got["tpr"][2] == 1.0 and got["fpr"][2] == 0.0
    for name in sorted(set(expected.colnames) - TIMING):
        if got[name].dtype.kind == "f":
            assert list(got[name]) == pytest.approx(list(expected[name]), nan_ok=True), name
        else:
            assert list(got[name]) == list(expected[name]), name
    for label in ("lacosmic", "strict", "above"):
        for k in range(3):
            assert result_path(tmp_path / "dask", "tiny", label, f"f{k}.fits").stat().st_size > 0
    for name in ("summary.md", "roc.png", "pr.png"):
        assert (tmp_path / "dask" / name).stat().st_size > 0


def test_unreachable_scheduler_is_one_clear_line(tiny_set, tmp_path):
    start = time.perf_counter()
    result = bench(tiny_set, tmp_path / "out", "--scheduler", "tcp://127.0.0.1:9")
    assert result.exit_code != 0
    assert result.output.strip().splitlines() == [result.output.strip()]
    assert "cannot connect to the Dask scheduler at tcp://127.0.0.1:9" in result.output
    assert "Traceback" not in result.output
    assert time.perf_counter() - start < 30


def test_workers_need_a_local_cluster(tiny_set, tmp_path):
    result = bench(tiny_set, tmp_path / "out", "--workers", "2")
    assert result.exit_code != 0 and "--workers applies only with --scheduler local" in result.output
