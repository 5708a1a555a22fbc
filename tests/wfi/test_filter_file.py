"""``crmask wfi filter``: masks, chunked reading, and one-line errors for bad input and outputs."""

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import CCDData
from astropy.table import Table
from click.testing import CliRunner

from crmask.cli import cli
from crmask_wfi.events.classic import ClassicGradeFilter
from crmask_wfi.events.reconstruct import add_truth, read_events
from crmask_wfi.events.stream import filter_file
from crmask_wfi.sim.simfile import write_simulation
from crmask_wfi.sim.simulate import simulate_frames

#: Single-pixel 2 keV events (frame, y, x) on empty frames: each is one accepted single.
SINGLES = [(0, 10, 10), (0, 40, 40), (1, 10, 10), (1, 40, 40)]


def single_frames():
    frames = np.zeros((2, 64, 64), np.float32)
    for f, y, x in SINGLES:
        frames[f, y, x] = 2.0
    return frames


def positions(events):
    return sorted(zip(events["FRAME"].tolist(), events["Y"].tolist(), events["X"].tolist()))


def test_no_event_on_or_next_to_a_masked_pixel():
    frames = single_frames()
    assert positions(ClassicGradeFilter().filter(frames * u.keV)) == SINGLES
    mask = np.zeros(frames.shape, bool)
    mask[0, 40, 40] = True  # on an event
    mask[1, 11, 10] = True  # next to one
    frames[0, 40, 40] = np.nan  # a masked pixel's value does not matter
    events = ClassicGradeFilter().filter(CCDData(frames, unit="keV", mask=mask))
    assert positions(events) == [(0, 10, 10), (1, 40, 40)]


@pytest.fixture(scope="module")
def sim():
    return simulate_frames(7, shape=(128, 128), xray_rate=160.0, cr_rate=40.0, seed=8)


def assert_same_events(a: Table, b: Table):
    assert a.colnames == b.colnames and len(a) > 0
    for name in a.colnames:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.mark.parametrize("chunk", [1, 3, 7, 100])
def test_chunked_simulation_file_gives_the_events_of_all_frames_at_once(sim, tmp_path, chunk):
    path = write_simulation(sim, tmp_path / "sim.fits")
    det = ClassicGradeFilter()
    whole = add_truth(det.filter(sim.signal * u.electron), sim)
    assert_same_events(filter_file(det, path, chunk_frames=chunk), whole)


@pytest.mark.parametrize("mask_shape", ["per-frame", "one-for-all"])
def test_chunked_cube_with_mask_gives_the_events_of_all_frames_at_once(sim, tmp_path, mask_shape):
    rng = np.random.default_rng(3)
    mask = rng.random(sim.signal.shape if mask_shape == "per-frame" else sim.shape) < 0.01
    path = tmp_path / "cube.fits"
    hdu = fits.PrimaryHDU(sim.signal)
    hdu.header["BUNIT"] = "electron"
    fits.HDUList([hdu, fits.ImageHDU(mask.astype(np.uint8), name="MASK")]).writeto(path)
    det = ClassicGradeFilter()
    whole = det.filter(CCDData(sim.signal, unit="electron", mask=np.broadcast_to(mask, sim.signal.shape)))
    unmasked = det.filter(sim.signal * u.electron)
    assert len(whole) < len(unmasked)  # the mask removes events
    assert_same_events(filter_file(det, path, chunk_frames=3), whole)


def run(*args):
    return CliRunner().invoke(cli, ["wfi", "filter", *map(str, args)])


def one_line_error(result, *fragments):
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture()
def cube(tmp_path):
    path = tmp_path / "cube.fits"
    hdu = fits.PrimaryHDU(single_frames())
    hdu.header["BUNIT"] = "keV"
    hdu.writeto(path)
    return path


def test_cli_filter_applies_the_mask_extension(cube, tmp_path):
    mask = np.zeros((2, 64, 64), np.uint8)
    mask[0, 40, 40] = 1
    with fits.open(cube, mode="append") as hdul:
        hdul.append(fits.ImageHDU(mask, name="MASK"))
    result = run(cube, "--chunk", "1", "-o", tmp_path / "events.fits")
    assert result.exit_code == 0, result.output
    assert positions(read_events(tmp_path / "events.fits")) == [s for s in SINGLES if s != (0, 40, 40)]


def test_cli_mask_extension_of_the_wrong_shape(cube, tmp_path):
    with fits.open(cube, mode="append") as hdul:
        hdul.append(fits.ImageHDU(np.zeros((32, 32), np.uint8), name="MASK"))
    one_line_error(run(cube, "-o", tmp_path / "events.fits"),
                   "MASK extension has shape (32, 32)", "(2, 64, 64)")


def test_cli_missing_weights_directory(cube, tmp_path):
    pytest.importorskip("torch")
    missing = tmp_path / "nonexistent"
    one_line_error(run(cube, "-f", "wfi-cam-rf", "-p", f"weights={missing}", "-o", tmp_path / "e.fits"),
                   str(missing))


def test_cli_output_in_a_missing_directory(cube, tmp_path):
    one_line_error(run(cube, "-o", tmp_path / "nodir" / "e.fits"), "does not exist")
    assert not (tmp_path / "nodir").exists()


def test_cli_output_under_a_file(cube, tmp_path):
    one_line_error(run(cube, "-o", cube / "e.fits"), "is not a directory")


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_cli_output_onto_a_directory(cube, tmp_path, overwrite):
    (tmp_path / "out").mkdir()
    one_line_error(run(cube, "-o", tmp_path / "out", *overwrite), "is a directory")
    assert (tmp_path / "out").is_dir() and not any((tmp_path / "out").iterdir())


def test_cli_truncated_or_non_fits_input(cube, tmp_path):
    truncated = tmp_path / "truncated.fits"
    truncated.write_bytes(cube.read_bytes()[:2880 + 4000])  # the header and part of the first frame
    one_line_error(run(truncated, "-o", tmp_path / "e.fits"), "not a readable FITS file")
    junk = tmp_path / "junk.fits"
    junk.write_text("not FITS")
    one_line_error(run(junk, "-o", tmp_path / "e.fits"), "not a readable FITS file")
