import json

import astropy.units as u
import numpy as np
import pytest
from astropy.nddata import CCDData
from astropy.table import Table
from click.testing import CliRunner

from crmask import PluginError, UnknownDetectorError
from crmask.bench.dataset import read_bench_image, write_bench_image, write_manifest
from crmask.bench.report import aggregate
from crmask.bench.runner import BenchDetector, load_detector_file, result_path, run_benchmark
from crmask.cli import cli

from .conftest import bench_header


def run(tiny_set, out, spike, warmup=False, **kwargs):
    specs = [BenchDetector("spike", "test-spike")]
    return run_benchmark([tiny_set], specs, out, extra_detectors={"test-spike": spike}, progress=False,
                         warmup=warmup, **kwargs)


def test_scores_a_known_answer(tiny_set, tmp_path, spike_detector):
    results = run(tiny_set, tmp_path / "out", spike_detector)
    assert len(results) == 3 and spike_detector.calls == 3
    (record,) = aggregate(results)
    # 400 adu CRs on a 100 adu sky with ~8 adu noise: every CR pixel is found; the 50 adu
    # star (6.7 sigma) fools this simple detector, and it is its only false positive.
    assert record["tpr"] == 1.0 and record["events_found"] == record["events_total"] > 0
    assert record["operating"].fp == record["star_fp"] > 0 and record["star_pixels"] == 27
    stricter = aggregate(run(tiny_set, tmp_path / "strict", spike_detector, thresholds=np.array([0.5, 0.999])))
    assert stricter[0]["curve"].fp[1] < record["star_fp"]
    stored = json.loads(result_path(tmp_path / "out", "tiny", "spike", "f0.fits").read_text())
    assert stored["n_ignored"] == 1
    assert stored["operating"]["tp"] == np.count_nonzero(read_bench_image(tiny_set / "f0.fits").truth)
    assert stored["peak_mb"] >= 0 and stored["wall_s"] > 0


def test_flagged_star_pixels_under_ignore_count_in_the_all_column_only(tiny_set, tmp_path, spike_detector):
    (before,) = aggregate(run(tiny_set, tmp_path / "before", spike_detector))
    assert before["star_fp"] > 0 and before["star_fp_all"] == before["star_fp"]  # no star pixel is ignored
    for path in sorted(tiny_set.glob("f*.fits")):  # an ignored own cosmic ray (grown) now covers the star
        image = read_bench_image(path)
        ignore = image.ignore.copy()
        ignore[57:62, 69:74] = True
        write_bench_image(path, image.ccd, image.truth, ignore, image.starmask, overwrite=True)
    (after,) = aggregate(run(tiny_set, tmp_path / "after", spike_detector))
    assert after["star_fp"] == 0 and after["star_fp_all"] == before["star_fp"]


def test_significant_events_leave_out_cosmic_rays_at_the_noise(tmp_path, rng, spike_detector):
    """A one-pixel cosmic ray at 4σ of charge is an event, but not a significant one."""
    sigma = np.sqrt(25 / 4 + 100 / 2)  # adu, for gain 2 and read noise 5 e-
    data = 100.0 + sigma * rng.standard_normal((64, 80))
    truth = np.zeros(data.shape, bool)
    truth[10, 10:13] = truth[40, 50:52] = truth[20, 60] = True
    charge = np.where(truth, 50 * sigma, 0.0)
    charge[20, 60] = 4 * sigma
    data += charge
    (tmp_path / "set").mkdir()
    write_bench_image(tmp_path / "set" / "f.fits", CCDData(data.astype(np.float32), unit=u.adu, header=bench_header()),
                      truth, significance=charge / sigma)
    write_manifest(tmp_path / "set", [{"FILE": "f.fits", "SOURCE": "test"}], {"set": "faint"})
    (record,) = aggregate(run(tmp_path / "set", tmp_path / "out", spike_detector))
    assert (record["events_found"], record["events_total"]) == (2, 3)
    assert (record["significant_events_found"], record["significant_events_total"]) == (2, 2)


def test_resume_after_interruption(tiny_set, tmp_path, spike_detector):
    out = tmp_path / "out"

    class Interrupt(Exception):
        pass

    def stop_after_two(result):
        if len(seen) == 1:
            raise Interrupt
        seen.append(result["file"])

    seen: list[str] = []
    with pytest.raises(Interrupt):
        run(tiny_set, out, spike_detector, on_result=stop_after_two)
    assert spike_detector.calls == 2  # f0 stored, f1 computed and stored, then interrupted
    spike_detector.calls = 0
    results = run(tiny_set, out, spike_detector)
    assert spike_detector.calls == 1  # only f2 is computed again
    assert [r["file"] for r in results] == ["f0.fits", "f1.fits", "f2.fits"]
    spike_detector.calls = 0
    run(tiny_set, out, spike_detector, dilate=True)  # another configuration: nothing reused
    assert spike_detector.calls == 3
    spike_detector.calls = 0
    run(tiny_set, out, spike_detector, resume=False, warmup=True)
    assert spike_detector.calls == 4  # one unmeasured warm-up run


def test_results_of_another_fingerprint_are_not_reused(tiny_set, tmp_path, spike_detector, monkeypatch):
    out = tmp_path / "out"
    run(tiny_set, out, spike_detector)
    spike_detector.calls = 0
    run(tiny_set, out, spike_detector)
    assert spike_detector.calls == 0  # same parameters, same fingerprint: all reused
    monkeypatch.setattr(spike_detector, "fingerprint", lambda self: "retrained", raising=False)
    run(tiny_set, out, spike_detector)
    assert spike_detector.calls == 3


def test_lacosmic_sweep_curve(tiny_set, tmp_path):
    specs = [BenchDetector("lacosmic", "lacosmic"), BenchDetector("strict", "lacosmic", {"sigclip": 50.0})]
    results = run_benchmark([tiny_set], specs, tmp_path / "out", sweep={"sigclip": (4.0, 1000.0)}, progress=False)
    records = {r["label"]: r for r in aggregate(results)}
    curve = records["lacosmic"]["curve"]
    assert curve.thresholds is None and len(curve.tp) == 2
    assert curve.tpr[0] > 0.9 and curve.tpr[1] == 0.0  # sigclip=1000 finds nothing
    assert records["strict"]["tpr"] < records["lacosmic"]["tpr"]


def test_former_name_detector_spec_gives_bench_detector_with_a_warning():
    import crmask.bench
    import crmask.bench.runner
    from crmask import batch

    for module in (crmask.bench.runner, crmask.bench):
        with pytest.warns(DeprecationWarning, match="'DetectorSpec' is deprecated; use 'BenchDetector'"):
            assert module.DetectorSpec is BenchDetector
    with pytest.warns(DeprecationWarning, match="use 'BenchDetector'"):
        from crmask.bench.runner import DetectorSpec
    assert DetectorSpec("tuned", "lacosmic") == BenchDetector("tuned", "lacosmic")
    assert batch.DetectorSpec is not BenchDetector  # the Dask worker recipe keeps its name
    with pytest.raises(AttributeError, match="no attribute 'NoSuchSpec'"):
        crmask.bench.runner.NoSuchSpec


def test_spec_and_plugin_errors(tiny_set, tmp_path):
    assert BenchDetector.parse("tuned=lacosmic") == BenchDetector("tuned", "lacosmic")
    with pytest.raises(ValueError, match="LABEL=NAME"):
        BenchDetector.parse("=lacosmic")
    with pytest.raises(UnknownDetectorError, match="no-such"):
        run_benchmark([tiny_set], [BenchDetector.parse("no-such")], tmp_path, progress=False)
    with pytest.raises(ValueError, match="used twice"):
        run_benchmark([tiny_set], [BenchDetector.parse("lacosmic")] * 2, tmp_path, progress=False)
    bad = tmp_path / "bad.py"
    bad.write_text("x = 1\n")
    with pytest.raises(PluginError, match="register_detectors"):
        load_detector_file(bad)


def test_cli_end_to_end(tiny_set, tmp_path):
    out = tmp_path / "report"
    args = ["bench", "--data", str(tiny_set), "--detector", "lacosmic", "--detector", "tuned=lacosmic",
            "--param", "tuned:objlim=1", "--sweep", "sigclip=3,6", "-q", "-o", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    for name in ("summary.md", "summary.ecsv", "roc.png", "pr.png"):
        assert (out / name).stat().st_size > 0
    table = Table.read(out / "summary.ecsv")
    assert list(table["label"]) == ["lacosmic", "tuned"]
    assert "objlim=1.0" in table["params"][1]
    assert "| tiny | lacosmic |" in (out / "summary.md").read_text()
    again = CliRunner().invoke(cli, ["bench", "report", "-o", str(out)])
    assert again.exit_code == 0 and "tuned" in again.output
    bad = CliRunner().invoke(cli, ["bench", "run", "--data", str(tiny_set), "--detector", "lacosmic",
                                   "--param", "nosuch=1", "-o", str(out)])
    assert bad.exit_code != 0 and "nosuch" in bad.output


@pytest.mark.parametrize(
    ("option", "message"),
    [(["--param", "tuned:"], "expected [LABEL:]key=value, got 'tuned:'"),
     (["--param", "tuned:=1"], "expected [LABEL:]key=value, got 'tuned:=1'"),
     (["--param", "objlim"], "expected [LABEL:]key=value, got 'objlim'"),
     (["--param", "other:objlim=1"], "'other:objlim=1' names detector 'other', which is not among"),
     (["--param", "tuned:objlim=x"], "tuned: parameter 'objlim' must be a float"),
     (["--sweep", "sigclip"], "expected NAME=V1,V2,..., got 'sigclip'"),
     (["--sweep", "sigclip=a,b"], "expected NAME=V1,V2,..., got 'sigclip=a,b'")],
)
def test_cli_key_value_errors_name_the_item(tiny_set, tmp_path, option, message):
    args = ["bench", "run", "--data", str(tiny_set), "--detector", "tuned=lacosmic", *option, "-o", str(tmp_path)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "results").exists()
