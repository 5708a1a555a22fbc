"""One-line CLI errors and warnings for the cases of issue 12 (3, 4, 7, 9, 12)."""

import gzip
import shutil

import numpy as np
import pytest
from astropy.io import fits
from click.testing import CliRunner

from crmask.cli import cli

ARGS = ["--readnoise", "5", "--gain", "1"]


@pytest.fixture
def runner():
    return CliRunner()


def _frame(rng, shape=(32, 32)):
    return rng.normal(300.0, 17.0, shape).astype(np.float32)


def _one_line(result):
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.output.strip().splitlines()


def test_several_image_hdus_say_which_was_cleaned(runner, tmp_path, rng):
    path = tmp_path / "m.fits"
    header = fits.Header({"BUNIT": "adu"})
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(_frame(rng), header, name="SCI"),
                  fits.ImageHDU(_frame(rng), header, name="VAR")]).writeto(path)
    result = runner.invoke(cli, ["detect", str(path), *ARGS, "-o", str(tmp_path / "out")])
    assert result.exit_code == 0
    lines = _one_line(result)
    assert lines[0] == (f"crmask: warning: {path}: cleaned HDU 1 (SCI); other image HDUs not cleaned: 2:VAR "
                        "(choose one with --hdu, hdu=...)")
    assert len(lines) == 2 and lines[1].endswith("CR pixels (lacosmic)")
    with fits.open(tmp_path / "out" / "m.fits") as out:
        assert "VAR" in out  # kept, not cleaned


def test_ambiguous_hdu_name_is_a_one_line_error(runner, tmp_path, rng):
    path = tmp_path / "m.fits"
    fits.HDUList([fits.PrimaryHDU(), *(fits.ImageHDU(_frame(rng), name="SCI", ver=v) for v in (1, 2))]).writeto(path)
    result = runner.invoke(cli, ["detect", str(path), *ARGS, "--unit", "adu", "--hdu", "SCI", "-o", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert _one_line(result) == [f"crmask: error: {path}: HDU 'SCI' is ambiguous: 1:SCI (EXTVER 1), "
                                 "2:SCI (EXTVER 2); give its index"]


@pytest.mark.parametrize("name", ["MASK", "UNCERT"])
def test_companion_of_the_wrong_shape_is_a_one_line_error(runner, tmp_path, rng, name):
    path = tmp_path / "f.fits"
    fits.HDUList([fits.PrimaryHDU(_frame(rng), fits.Header({"BUNIT": "adu"})),
                  fits.ImageHDU(np.zeros((16, 32), dtype=np.uint8), name=name)]).writeto(path)
    result = runner.invoke(cli, ["detect", str(path), *ARGS, "-o", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert _one_line(result) == [f"crmask: error: {path}: {name} extension has shape (16, 32), "
                                 "the image has (32, 32)"]
    assert not (tmp_path / "o" / "f.fits").exists()


def test_corrupt_gzip_is_a_one_line_error_and_no_output(runner, tmp_path, rng):
    plain = tmp_path / "f.fits"
    fits.PrimaryHDU(_frame(rng, (256, 256)), fits.Header({"BUNIT": "adu"})).writeto(plain)
    raw = bytearray(gzip.compress(plain.read_bytes()))
    raw[len(raw) // 2:len(raw) // 2 + 50] = bytes(50)
    gz = tmp_path / "g.fits.gz"
    gz.write_bytes(bytes(raw))
    result = runner.invoke(cli, ["detect", str(gz), *ARGS, "-o", str(tmp_path / "o")])
    assert result.exit_code == 1
    [line] = _one_line(result)
    assert line.startswith(f"crmask: error: {gz}: corrupt compressed file")
    assert list((tmp_path / "o").iterdir()) == []


def test_invalid_model_card_json_names_the_file(runner, tmp_path, rng):
    pytest.importorskip("torch")
    from crmask_unet.weights import WEIGHTS_DIR

    weights = tmp_path / "mine.safetensors"
    shutil.copy(WEIGHTS_DIR / "deepcr-general.safetensors", weights)
    card = tmp_path / "mine.json"
    card.write_text('{"sha256": "abc",')
    path = tmp_path / "f.fits"
    fits.PrimaryHDU(_frame(rng), fits.Header({"BUNIT": "adu"})).writeto(path)
    result = runner.invoke(cli, ["detect", str(path), "--gain", "1", "-d", "deepcr", "-p", f"weights={weights}",
                                 "-o", str(tmp_path / "o")])
    assert result.exit_code != 0
    [line] = [x for x in _one_line(result) if x.startswith("Error") or x.startswith("crmask: error")]
    assert f"model card {card} is not valid JSON" in line


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--patch", "256", "--frame-size", "128"], "--patch 256 is larger than --frame-size 128"),
        (["--resume"], "--resume needs --checkpoint-dir"),
    ],
)
def test_train_unet_option_conflicts_are_one_line_errors(runner, tmp_path, extra, message):
    pytest.importorskip("torch")
    result = runner.invoke(cli, ["train", "unet", "-o", str(tmp_path / "w.safetensors"), *extra])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_train_on_cuda_without_cuda_is_a_one_line_error(runner, tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = runner.invoke(cli, ["train", "unet", "-o", str(tmp_path / "w.safetensors"), "--device", "cuda"])
    assert result.exit_code == 2
    assert "torch finds no CUDA device" in result.output and "Traceback" not in result.output
