import numpy as np
import pytest
from astropy.io import fits
from click.testing import CliRunner

import crmask
from crmask.cli import cli

from .conftest import EXAMPLE_FRAME

ARGS = ["--unit", "adu", "--readnoise", "5.7"]


@pytest.fixture
def runner():
    return CliRunner()


def test_list_shows_lacosmic_with_needs_and_availability(runner):
    result = runner.invoke(cli, ["list"])
    assert result.exit_code == 0
    line = next(line for line in result.output.splitlines() if line.startswith("lacosmic"))
    assert "mask" in line and "gain,readnoise" in line and "yes" in line
    verbose = runner.invoke(cli, ["list", "-v"])
    assert "sigclip = 4.5" in verbose.output


def test_detect_writes_crmask_extension_and_refuses_to_overwrite(runner, tmp_path):
    result = runner.invoke(cli, ["detect", str(EXAMPLE_FRAME), *ARGS, "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    out = tmp_path / "v_e_20180810_12_1_0_0.fits"
    with fits.open(out) as hdul:
        crmask = hdul["CRMASK"].data
        assert crmask.shape == (254, 1024) and crmask.sum() == hdul[0].header["CRMNPIX"] > 0
        assert hdul[0].header["CRMDET"] == "lacosmic" and hdul[0].header["CRMRDN"] == 5.7
    before = out.read_bytes()
    again = runner.invoke(cli, ["detect", str(EXAMPLE_FRAME), *ARGS, "-o", str(tmp_path)])
    assert again.exit_code == 1
    assert "exists; use --overwrite" in again.output
    assert out.read_bytes() == before
    forced = runner.invoke(cli, ["detect", str(EXAMPLE_FRAME), *ARGS, "--param", "sigclip=6", "-o", str(tmp_path), "--overwrite"])
    assert forced.exit_code == 0, forced.output
    assert "sigclip=6.0" in "".join(fits.getheader(out)["HISTORY"])


def test_detect_never_writes_over_its_input(runner, tmp_path):
    source = tmp_path / "frame.fits"
    fits.PrimaryHDU(fits.getdata(EXAMPLE_FRAME).astype(np.float32), header=fits.getheader(EXAMPLE_FRAME)).writeto(source)
    original = source.read_bytes()
    result = runner.invoke(cli, ["detect", str(source), *ARGS, "-o", str(tmp_path), "--overwrite"])
    assert result.exit_code == 1 and "would replace its own input" in result.output
    assert source.read_bytes() == original


def test_one_bad_file_does_not_stop_the_others(runner, tmp_path):
    corrupt = tmp_path / "corrupt.fits"
    corrupt.write_bytes(b"SIMPLE  = T" + b"\0" * 50)
    result = runner.invoke(cli, ["detect", str(corrupt), str(EXAMPLE_FRAME), *ARGS, "-o", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "corrupt.fits: not a readable FITS file" in result.output
    assert (tmp_path / "o" / "v_e_20180810_12_1_0_0.fits").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--detector", "nope"], "unknown detector 'nope'; registered detectors are:"),
        (["--param", "sigclp=3"], "unknown parameter 'sigclp' for detector 'lacosmic'"),
        (["--param", "sigclip=-1"], "parameter 'sigclip' must be a float in"),
        (["--param", "sigclip"], "expected key=value"),
    ],
)
def test_bad_options_exit_non_zero_with_a_one_line_message(runner, tmp_path, extra, message):
    result = runner.invoke(cli, ["detect", str(EXAMPLE_FRAME), *ARGS, "-o", str(tmp_path), *extra])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_missing_calibration_and_missing_file_messages(runner, tmp_path):
    result = runner.invoke(cli, ["detect", str(EXAMPLE_FRAME), "--unit", "adu", "-o", str(tmp_path)])
    assert result.exit_code == 1 and "readnoise is not known" in result.output
    missing = runner.invoke(cli, ["detect", str(tmp_path / "x.fits"), *ARGS, "-o", str(tmp_path / "out")])
    assert missing.exit_code == 1 and "x.fits: no such file" in missing.output


def test_unwritable_output_directory_fails_before_work(runner, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = runner.invoke(cli, ["detect", str(EXAMPLE_FRAME), *ARGS, "-o", str(blocker / "sub")])
    assert result.exit_code != 0 and "is not writable" in result.output


def _small_frame(path, bunit):
    data = np.random.default_rng(5).normal(100.0, 5.0, (32, 32)).astype(np.float32)
    fits.PrimaryHDU(data, header=fits.Header({"BUNIT": bunit})).writeto(path)
    return path


def test_detect_reads_bunit_electrons_and_rejects_a_rate_in_one_line(runner, tmp_path):
    good = _small_frame(tmp_path / "good.fits", "ELECTRONS")
    result = runner.invoke(cli, ["detect", str(good), "--readnoise", "5", "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert fits.getheader(tmp_path / "out" / "good.fits")["BUNIT"] == "electron"
    rate = _small_frame(tmp_path / "rate.fits", "electron/s")
    rejected = runner.invoke(cli, ["detect", str(rate), "--readnoise", "5", "-o", str(tmp_path / "out")])
    assert rejected.exit_code == 1
    assert rejected.output.strip().splitlines() == [
        f"crmask: error: {rate}: image unit electron / s is not supported: cosmic-ray detection needs counts, "
        "so use 'adu' or 'electron' (multiply rates by the exposure time first)"
    ]


def test_hdu_past_the_end_is_a_one_line_error(runner, tmp_path):
    frame = _small_frame(tmp_path / "one.fits", "adu")
    result = runner.invoke(cli, ["detect", str(frame), *ARGS, "--hdu", "3", "-o", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.output.strip().splitlines() == [
        f"crmask: error: {frame}: no HDU 3; the file has 1 HDU: 0:PRIMARY"  # the path said once
    ]


def test_two_inputs_with_one_output_name_never_replace_each_other(runner, tmp_path):
    """Serial ``detect A/x.fits B/x.fits.gz --overwrite`` refuses the second before any work, as Dask does."""
    first, second = tmp_path / "a" / "frame.fits", tmp_path / "b" / "frame.fits.gz"
    for path in (first, second):
        path.parent.mkdir()
    data = fits.getdata(EXAMPLE_FRAME).astype(np.float32)
    fits.PrimaryHDU(data, header=fits.getheader(EXAMPLE_FRAME)).writeto(first)
    fits.PrimaryHDU(data[:, ::-1], header=fits.getheader(EXAMPLE_FRAME)).writeto(second)
    result = runner.invoke(cli, ["detect", str(first), str(second), *ARGS, "--no-inpaint", "-o", str(tmp_path / "o"),
                                 "--overwrite"])
    assert result.exit_code == 1
    assert f"{second}: output {tmp_path / 'o' / 'frame.fits'} would also be written from {first}" in result.output
    np.testing.assert_array_equal(fits.getdata(tmp_path / "o" / "frame.fits"), fits.getdata(first))


def test_an_unexpected_error_in_one_file_is_one_line_and_the_batch_goes_on(runner, tmp_path, monkeypatch):
    import crmask.files

    real = crmask.files.clean_file

    def fails_for_the_first(path, *args, **kwargs):
        if "first" in str(path):
            raise RuntimeError("something nobody planned for")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(crmask.files, "clean_file", fails_for_the_first)
    inputs = []
    for name in ("first", "second"):
        path = tmp_path / f"{name}.fits"
        fits.PrimaryHDU(fits.getdata(EXAMPLE_FRAME).astype(np.float32), header=fits.getheader(EXAMPLE_FRAME)).writeto(path)
        inputs.append(str(path))
    result = runner.invoke(cli, ["detect", *inputs, *ARGS, "-o", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "first.fits: RuntimeError: something nobody planned for" in result.output
    assert "Traceback" not in result.output
    assert (tmp_path / "o" / "second.fits").exists()


def _two_frames(tmp_path):
    frames = []
    for name in ("a.fits", "b.fits"):
        path = tmp_path / name
        fits.PrimaryHDU(fits.getdata(EXAMPLE_FRAME), header=fits.getheader(EXAMPLE_FRAME)).writeto(path)
        frames.append(str(path))
    return frames


def test_detect_shows_a_file_progress_bar_only_on_a_terminal_and_not_with_quiet(runner, tmp_path, monkeypatch):
    frames = _two_frames(tmp_path)
    plain = runner.invoke(cli, ["detect", *frames, *ARGS, "-o", str(tmp_path / "plain")])
    assert plain.exit_code == 0 and "2/2" not in plain.stderr  # not a terminal (a test, a pipe, a log)
    monkeypatch.setattr("crmask.cli._stderr_is_terminal", lambda: True)
    shown = runner.invoke(cli, ["detect", *frames, *ARGS, "-o", str(tmp_path / "bar")])
    assert shown.exit_code == 0, shown.output
    assert "crmask lacosmic" in shown.stderr and "2/2" in shown.stderr and "file/s" in shown.stderr
    assert shown.stdout.count("CR pixels (lacosmic)") == 2
    quiet = runner.invoke(cli, ["detect", *frames, *ARGS, "-o", str(tmp_path / "quiet"), "--quiet"])
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_detect_turns_on_the_tile_progress_of_a_unet_on_a_terminal(runner, tmp_path, monkeypatch):
    pytest.importorskip("torch", reason="the U-Net detectors need torch")
    cls = crmask.get_detector_class("deepcr")
    seen = []
    monkeypatch.setattr(cls, "_detect", lambda self, image: seen.append(self.get_params()["progress"])
                        or crmask.MaskResult(mask=np.zeros(image.shape, bool)))
    monkeypatch.setattr("crmask.cli._stderr_is_terminal", lambda: True)
    frames = _two_frames(tmp_path)
    assert runner.invoke(cli, ["detect", *frames, "-d", "deepcr", "--unit", "adu", "-o", str(tmp_path / "o")]).exit_code == 0
    assert runner.invoke(cli, ["detect", *frames, "-d", "deepcr", "--unit", "adu", "-o", str(tmp_path / "q"),
                               "-q"]).exit_code == 0
    assert seen == [True, True, False, False]


def test_calibration_a_detector_does_not_use_is_a_note_and_the_path_is_said_once(runner, tmp_path):
    pytest.importorskip("torch")
    # the same command line as for lacosmic: deepcr needs no read noise, so --readnoise is noted and ignored
    result = runner.invoke(cli, ["detect", str(EXAMPLE_FRAME), *ARGS, "--detector", "deepcr", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "crmask: note: deepcr does not use --readnoise; ignored" in result.output
    assert fits.getheader(tmp_path / "v_e_20180810_12_1_0_0.fits")["CRMDET"] == "deepcr"
    # a detector's own option it lacks is still an error, and a file's error names the file once
    wrong = runner.invoke(cli, ["detect", str(EXAMPLE_FRAME), *ARGS, "--threshold", "0.5", "-o", str(tmp_path)])
    assert wrong.exit_code != 0 and "unknown parameter 'threshold' for detector 'lacosmic'" in wrong.output
    unitless = EXAMPLE_FRAME  # no BUNIT keyword
    failed = runner.invoke(cli, ["detect", str(unitless), "--readnoise", "5.7", "-o", str(tmp_path / "o")])
    assert failed.exit_code == 1
    assert f"crmask: error: {unitless}: no BUNIT keyword" in failed.output
    assert failed.output.count(str(unitless)) == 1
