"""crmask.batch: many files on a local Dask cluster, and what happens when things go wrong."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from click.testing import CliRunner

import crmask
from crmask import batch, files
from crmask.cli import cli
from crmask.exceptions import OutputDirectoryError, OutputExistsError, UnknownDetectorError
from crmask.io import read_ccd
from crmask_lacosmic import LACosmic

distributed = pytest.importorskip("distributed", reason="crmask.batch needs dask.distributed (crmask[dask])")

GAIN, READNOISE, SKY = 2.0, 5.0, 200.0
N_FILES = 10


class DiesOnceLACosmic(LACosmic):
    """LACosmic whose first call in a whole batch kills its worker process.

    The first caller creates ``marker`` (atomically, so exactly one caller
    wins) and is killed with SIGKILL in the middle of its task, as the
    kernel's OOM killer would.
    """

    name = "test-dies-once"
    parameters = {**LACosmic.parameters, "marker": crmask.Param("", "File whose creation triggers the kill", type=str)}

    def _detect(self, image):
        try:
            handle = os.open(self.params["marker"], os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return super()._detect(image)
        os.write(handle, str(os.getpid()).encode())
        os.close(handle)
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable: the process was killed")


def _frame(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A sky frame in adu with 12 bright cosmic-ray hits; returns (data, truth)."""
    electrons = rng.poisson(SKY * GAIN, size=(256, 256)) + rng.normal(0, READNOISE, size=(256, 256))
    data = (electrons / GAIN).astype(np.float32)
    truth = np.zeros(data.shape, dtype=bool)
    for y, x in rng.integers(10, 246, size=(12, 2)):
        length = rng.integers(1, 4)
        truth[y, x:x + length] = True
    data[truth] += rng.uniform(800, 3000, size=truth.sum()).astype(np.float32)
    return data, truth


def _write_frame(path: Path, data: np.ndarray) -> Path:
    header = fits.Header({"BUNIT": "adu", "GAIN": GAIN, "RDNOISE": READNOISE, "EXPTIME": 60.0})
    fits.writeto(path, data, header)
    return path


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    """Ten FITS frames with known cosmic rays: list of (path, truth)."""
    rng = np.random.default_rng(8)
    folder = tmp_path_factory.mktemp("raw")
    result = []
    for index in range(N_FILES):
        data, truth = _frame(rng)
        result.append((_write_frame(folder / f"frame{index:02d}.fits", data), truth))
    return result


@pytest.fixture(scope="module")
def client():
    """A local cluster of 2 worker processes, shared by this module's tests."""
    with batch.open_client(n_workers=2, retries=2) as active:
        yield active


def _expected_crmask(path: Path) -> np.ndarray:
    """The CR mask the same detection gives in this process, without Dask."""
    clean = crmask.cosmicray_clean(read_ccd(path), detector="lacosmic")
    return clean.mask


def _check_output(path: Path, output: Path, truth: np.ndarray, run_id: str, detector: str = "lacosmic") -> None:
    with fits.open(output, checksum=True) as hdul:
        found = hdul["CRMASK"].data.astype(bool)
        assert hdul[0].header["CRMDET"] == detector
        assert hdul[0].header[files.RUN_KEYWORD] == run_id
        assert hdul[0].header["CRMNPIX"] == found.sum()
        cleaned = hdul[0].data
    np.testing.assert_array_equal(found, _expected_crmask(path))
    assert found[truth].all(), "every injected cosmic-ray pixel is flagged"
    assert (found & ~truth).sum() < 0.001 * truth.size
    assert np.all(cleaned[truth] < SKY + 10 * READNOISE), "cosmic-ray pixels were cleaned"


def test_detect_many_on_two_workers_writes_every_output(frames, client, tmp_path):
    paths = [path for path, _ in frames]
    result = batch.detect_many(paths, "lacosmic", client, outdir=tmp_path / "out", progress=False)

    assert result.ok and len(result) == N_FILES
    assert [f.path for f in result] == [str(p) for p in paths], "results come back in input order"
    workers = set(client.scheduler_info()["workers"])
    assert {f.worker for f in result} == workers, "both workers took files"
    for (path, truth), item in zip(frames, result):
        assert Path(item.output) == tmp_path / "out" / path.name
        assert item.peak_memory_mb > 0 and item.seconds > 0 and item.cpu_seconds > 0
        _check_output(path, Path(item.output), truth, result.run_id)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in paths), "no stray files"

    table = result.to_table()
    assert list(table["status"]) == ["done"] * N_FILES
    assert table.meta["detector"] == "lacosmic"


def test_detector_is_built_once_per_worker(frames, client, tmp_path):
    batch.detect_many([p for p, _ in frames], "lacosmic", client, outdir=tmp_path, sigclip=6.0, progress=False)
    spec = batch.DetectorSpec.from_detector("lacosmic", {"sigclip": 6.0})
    builds = client.run(batch._detector_builds)
    assert len(builds) == 2
    assert all(per_worker[spec.key] == 1 for per_worker in builds.values()), builds


def test_spec_cache_returns_the_same_detector():
    spec = batch.DetectorSpec.from_detector("lacosmic", {"sigclip": 7.5})
    assert spec.cached() is spec.cached()
    assert spec.cached().get_params()["sigclip"] == 7.5
    assert batch.DetectorSpec.from_detector(spec.build()) == spec


#: A detector file: its module exists only in the process that loads it, so workers must load the file.
_PLUGIN = """
import numpy as np
from crmask import Detector, MaskResult, Param, hookimpl


class AboveLevel(Detector):
    name = "test-above-level"
    summary = "pixels above a level"
    parameters = {"level": Param(600.0, "level in adu")}

    def _detect(self, image):
        return MaskResult(mask=np.asarray(image.data) > self.params["level"])


@hookimpl
def register_detectors(register):
    register(AboveLevel)
"""


def test_a_plugin_file_detector_runs_on_the_workers(frames, client, tmp_path, fresh_registry):
    import pickle

    from crmask.registry import load_plugin_file

    plugin = tmp_path / "above_level.py"
    plugin.write_text(_PLUGIN)
    load_plugin_file(plugin)
    spec = batch.DetectorSpec.from_detector("test-above-level", {"level": 500.0})
    assert pickle.loads(pickle.dumps(spec)) == spec
    result = batch.detect_many([p for p, _ in frames[:4]], "test-above-level", client, outdir=tmp_path / "out",
                               level=500.0, progress=False)
    assert result.ok, [f.error for f in result.failed]
    # the 800-3000 adu hits on a 200 adu sky are the only pixels above 500 adu
    assert [f.n_cr_pixels for f in result] == [int(truth.sum()) for _, truth in frames[:4]]


def test_batch_completes_when_a_worker_is_killed_mid_batch(frames, client, tmp_path):
    marker = tmp_path / "killed.pid"
    pids_before = set(client.run(os.getpid).values())
    detector = DiesOnceLACosmic(marker=str(marker))

    result = batch.detect_many([p for p, _ in frames], detector, client, outdir=tmp_path / "out", progress=False)

    assert marker.exists(), "a worker was killed while it processed a file"
    assert int(marker.read_text()) in pids_before
    assert result.ok, [f.error for f in result.failed]
    for (path, truth), item in zip(frames, result):
        _check_output(path, Path(item.output), truth, result.run_id, detector="test-dies-once")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [p.name for p, _ in frames]
    client.wait_for_workers(2, timeout=60)


def test_corrupt_and_missing_files_are_reported_and_the_rest_done(frames, client, tmp_path):
    garbage = tmp_path / "garbage.fits"
    garbage.write_bytes(b"not a FITS file at all\n" * 100)
    truncated = tmp_path / "truncated.fits"
    whole = frames[0][0].read_bytes()
    truncated.write_bytes(whole[: len(whole) // 2])
    good = [p for p, _ in frames[:4]]
    paths = [good[0], garbage, good[1], truncated, tmp_path / "missing.fits", good[2], good[3]]

    result = batch.detect_many(paths, "lacosmic", client, outdir=tmp_path / "out", progress=False)

    failed = {Path(f.path).name: f.error for f in result.failed}
    assert set(failed) == {"garbage.fits", "truncated.fits", "missing.fits"}
    assert "not a readable FITS file" in failed["garbage.fits"]
    assert "not a readable FITS file" in failed["truncated.fits"]
    assert "no such file" in failed["missing.fits"]
    for (path, truth), item in zip(frames[:4], result.done):
        _check_output(path, Path(item.output), truth, result.run_id)
    assert len(list((tmp_path / "out").iterdir())) == 4


def test_unwritable_outdir_fails_before_any_work(frames, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    # An unreachable scheduler: the error must come before any connection is tried.
    with pytest.raises(OutputDirectoryError, match="output directory .*a-file/out is not writable"):
        batch.detect_many([frames[0][0]], "lacosmic", "tcp://127.0.0.1:1", outdir=blocker / "out")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only directory")
def test_read_only_outdir_fails_before_any_work(frames, tmp_path):
    outdir = tmp_path / "ro"
    outdir.mkdir()
    outdir.chmod(0o500)
    with pytest.raises(OutputDirectoryError, match="not writable"):
        batch.detect_many([frames[0][0]], "lacosmic", "tcp://127.0.0.1:1", outdir=outdir)


def test_bad_detector_or_parameter_fails_before_any_work(frames, tmp_path):
    with pytest.raises(UnknownDetectorError, match="lacosmic"):
        batch.detect_many([frames[0][0]], "no-such-detector", "tcp://127.0.0.1:1", outdir=tmp_path)
    with pytest.raises(ValueError, match="sigclip"):
        batch.detect_many([frames[0][0]], "lacosmic", "tcp://127.0.0.1:1", outdir=tmp_path, sigclip=-1)
    with pytest.raises(ValueError, match="instance"):
        batch.detect_many([frames[0][0]], crmask.get_detector("lacosmic"), outdir=tmp_path, sigclip=5)
    with pytest.raises(ValueError, match="'deepcr' does not use a background model"):
        batch.detect_many([frames[0][0]], "deepcr", "tcp://127.0.0.1:1", outdir=tmp_path, background="SKYFIT")


def test_existing_outputs_are_kept_unless_overwrite(frames, client, tmp_path):
    paths = [p for p, _ in frames[:3]]
    first = batch.detect_many(paths, "lacosmic", client, outdir=tmp_path, progress=False)
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}

    again = batch.detect_many(paths, "lacosmic", client, outdir=tmp_path, progress=False)
    assert len(again.failed) == 3
    assert all("exists; use --overwrite" in f.error for f in again.failed)
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == before

    replaced = batch.detect_many(paths, "lacosmic", client, outdir=tmp_path, overwrite=True, progress=False)
    assert replaced.ok
    for (path, truth), item in zip(frames, replaced):
        _check_output(path, Path(item.output), truth, replaced.run_id)
    assert replaced.run_id != first.run_id


def test_inputs_with_the_same_output_name_are_not_silently_merged(frames, client, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    twin = other / frames[0][0].name
    twin.write_bytes(frames[0][0].read_bytes())
    result = batch.detect_many([frames[0][0], twin], "lacosmic", client, outdir=tmp_path / "out", progress=False)
    assert [f.status for f in result] == ["done", "failed"]
    assert "would also be written from" in result.files[1].error


def test_clean_file_replaces_only_its_own_runs_output(frames, tmp_path):
    path = frames[0][0]
    target = tmp_path / "out.fits"
    detector = crmask.get_detector("lacosmic")
    files.clean_file(path, target, detector, run_id="run-a")
    # A re-run of the same batch (its worker died after writing) replaces the file ...
    files.clean_file(path, target, detector, run_id="run-a")
    # ... another run does not.
    with pytest.raises(OutputExistsError, match="exists"):
        files.clean_file(path, target, detector, run_id="run-b")
    with pytest.raises(OutputExistsError, match="replace its own input"):
        files.clean_file(path, path, detector, overwrite=True)


def test_cli_detect_on_an_existing_scheduler(frames, client, tmp_path):
    paths = [str(p) for p, _ in frames[:3]]
    address = client.scheduler.address
    result = CliRunner().invoke(cli, ["detect", *paths, "-o", str(tmp_path), "--scheduler", address])
    assert result.exit_code == 0, result.output
    for (path, truth), line in zip(frames, result.stdout.splitlines()):
        assert line.startswith(f"{path} -> {tmp_path / path.name}:")
        with fits.open(tmp_path / path.name) as hdul:
            np.testing.assert_array_equal(hdul["CRMASK"].data.astype(bool), _expected_crmask(path))


def test_cli_detect_on_a_new_local_cluster(frames, tmp_path):
    paths = [str(p) for p, _ in frames[:2]]
    args = ["detect", *paths, "-o", str(tmp_path), "--scheduler", "local", "--workers", "1"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    for path, truth in frames[:2]:
        with fits.open(tmp_path / path.name) as hdul:
            np.testing.assert_array_equal(hdul["CRMASK"].data.astype(bool), _expected_crmask(path))


def test_cli_detect_reports_a_corrupt_file_and_exits_nonzero(frames, client, tmp_path):
    garbage = tmp_path / "garbage.fits"
    garbage.write_bytes(b"\0" * 100)
    address = client.scheduler.address
    args = ["detect", str(frames[0][0]), str(garbage), "-o", str(tmp_path / "out"), "--scheduler", address]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert "garbage.fits: not a readable FITS file" in result.stderr
    assert (tmp_path / "out" / frames[0][0].name).exists()


def test_cli_workers_needs_a_local_scheduler(frames, tmp_path):
    result = CliRunner().invoke(cli, ["detect", str(frames[0][0]), "-o", str(tmp_path), "--workers", "2"])
    assert result.exit_code != 0
    assert "--workers applies only with --scheduler local" in result.output
