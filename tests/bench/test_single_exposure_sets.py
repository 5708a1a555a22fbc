"""The m51, uves and saao sets: real footprints injected into single real exposures."""

import numpy as np
import pytest
from astropy.io import fits
from click.testing import CliRunner

from crmask.bench.build import SETS, SINGLE_EXPOSURE_SETS, build_single_exposure
from crmask.bench.cli import BUILD_SETS
from crmask.bench.dataset import count_events, load_set
from crmask.bench.sources import load_real_frame
from crmask.cli import cli

from ..conftest import SHARED_DATA, shared_path


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    shared_path("cr_footprints_itl.fits.gz")
    out = tmp_path_factory.mktemp("single")
    return {source: build_single_exposure(SHARED_DATA, out / source, source, seed=5, n_frames=2)
            for source in SINGLE_EXPOSURE_SETS}


@pytest.fixture(scope="module")
def real():
    shared_path("cr_footprints_itl.fits.gz")
    return {source: load_real_frame(SHARED_DATA, source) for source in SINGLE_EXPOSURE_SETS}


@pytest.mark.parametrize("source", SINGLE_EXPOSURE_SETS)
def test_the_frames_defects_are_its_bad_pixel_mask(built, real, source):
    frame = real[source]
    for image in load_set(built[source]):
        mask = np.zeros(frame.data.shape, dtype=bool) if image.ccd.mask is None else image.ccd.mask
        np.testing.assert_array_equal(mask, frame.defects)  # handed to every detector, as a reduction would
        assert not (mask & image.truth).any() and image.ignore[mask].all()


@pytest.mark.parametrize("source", SINGLE_EXPOSURE_SETS)
def test_truth_is_injected_outside_the_frames_own_crs(built, real, source):
    bench, frame = load_set(built[source]), real[source]
    assert bench.name == source and len(bench) == 2
    assert bench.manifest.meta["params"]["footprints"].startswith("test")
    for image in bench:
        header = image.ccd.header
        assert (header["GAIN"], header["RDNOISE"]) == (frame.gain, pytest.approx(frame.readnoise))
        assert {"EXPTIME", "INSTRUME"} <= set(header) and ("SATURATE" in header) == (frame.satlevel is not None)
        assert image.truth.any() and not (image.truth & image.ignore).any()
        assert not (image.truth & frame.own_crs).any()
        assert (image.ignore >= (frame.own_crs | frame.defects) & ~image.truth).all()
        assert image.starmask.any() and not (image.starmask & frame.defects).any()
        # the real exposure is kept, its own cosmic rays included; truth pixels carry injected charge
        injected = image.ccd.data != frame.data.astype(np.float32)
        assert (image.truth <= injected).all()
        assert (image.ccd.data[image.truth] > frame.data[image.truth]).all()
        np.testing.assert_array_equal(image.ccd.data[frame.own_crs & ~injected],
                                      frame.data[frame.own_crs & ~injected].astype(np.float32))


@pytest.mark.parametrize("source", SINGLE_EXPOSURE_SETS)
def test_manifest_counts_equal_the_masks(built, real, source):
    bench = load_set(built[source])
    for row, image in zip(bench.manifest, bench):
        assert row["NCRPIX"] == image.truth.sum() and row["NCREVT"] == count_events(image.truth)
        assert row["NIGNORE"] == image.ignore.sum() and row["NSTARPIX"] == image.starmask.sum()
    assert set(bench.manifest.meta["sources_sha256"]) == {"cr_footprints_itl.fits.gz", real[source].path}


def test_same_seed_same_files(built, tmp_path):
    again = build_single_exposure(SHARED_DATA, tmp_path / "again", "saao", seed=5, n_frames=2)
    other = build_single_exposure(SHARED_DATA, tmp_path / "other", "saao", seed=6, n_frames=1)
    for name in ("saao_000.fits", "saao_001.fits"):
        with fits.open(again / name) as a, fits.open(built["saao"] / name) as b:
            for hdu_a, hdu_b in zip(a, b):
                np.testing.assert_array_equal(hdu_a.data, hdu_b.data)
    assert not np.array_equal(fits.getdata(other / "saao_000.fits"), fits.getdata(built["saao"] / "saao_000.fits"))
    with pytest.raises(ValueError, match="no single-exposure set"):
        build_single_exposure(SHARED_DATA, tmp_path, "gmos")


def test_cli_builds_a_single_exposure_set(tmp_path):
    shared_path("cr_footprints_itl.fits.gz")
    assert BUILD_SETS == SETS
    result = CliRunner().invoke(cli, ["bench", "build", "--data", str(SHARED_DATA), "--set", "m51",
                                      "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert load_set(tmp_path / "m51").files == [f"m51_{k:03d}.fits" for k in range(4)]
