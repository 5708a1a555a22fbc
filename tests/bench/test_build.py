import numpy as np
import pytest
from astropy.io import fits
from click.testing import CliRunner

from crmask.bench.build import build_injected, build_repeats, build_sets, build_synthetic
from crmask.bench.dataset import load_set
from crmask.bench.sources import (
    MEDIAN_VARIANCE,
    bad_columns,
    hot_pixels,
    load_sprat,
    repeat_significance,
    restore_noise,
    sprat_defects,
    warm_pixels,
)
from crmask.cli import cli
from crmask.data.synthetic import FrameSpec

from ..conftest import SHARED_DATA, shared_path


@pytest.fixture(scope="module")
def injected(tmp_path_factory):
    shared_path("cr_footprints_itl.fits.gz")
    out = tmp_path_factory.mktemp("sets") / "injected"
    return build_injected(SHARED_DATA, out, seed=3, n_sprat=2, n_gmos=1)


def test_injected_set_truth_and_units(injected):
    bench = load_set(injected)
    assert bench.name == "injected" and len(bench) == 3
    assert bench.manifest.meta["params"]["footprints"].startswith("test")
    for image in bench:
        assert image.ccd.unit == "adu" and {"GAIN", "RDNOISE", "EXPTIME", "INSTRUME"} <= set(image.ccd.header)
        assert image.truth.sum() > 0 and not (image.truth & image.ignore).any()
        assert (image.starmask is not None and image.starmask.any()) == image.name.startswith("sprat")
        # SPRAT's hot pixels and bad columns (from the dark) are the bad-pixel mask; GMOS-S has no known defect
        mask = np.zeros(image.ccd.shape, dtype=bool) if image.ccd.mask is None else image.ccd.mask
        assert mask.any() == image.name.startswith("sprat")
        assert not (mask & image.truth).any() and image.ignore[mask].all()
    sprat = next(iter(bench))
    gain, rn = sprat.ccd.header["GAIN"], sprat.ccd.header["RDNOISE"]
    # truth pixels stand far above the noise of the frame in electrons
    e = sprat.ccd.data * gain
    background = np.median(e[~sprat.truth & ~sprat.starmask])
    assert np.median(e[sprat.truth] - background) > 3 * np.sqrt(rn**2 + max(background, 0))


def test_gmos_own_cosmic_rays_are_never_negatives(injected):
    gmos = next(image for image in load_set(injected) if image.name.startswith("gmos"))
    # the known cosmic ray of box (117:147, 35:43) runs on to the frame's last row (x = 36, 797-945 e- against
    # a 30-45 e- sky): beyond the box, and at the edge where L.A.Cosmic does not see it
    tail = (slice(146, 150), 36)
    assert (gmos.ignore[tail] | gmos.truth[tail]).all()
    assert not gmos.truth[slice(117, 147), slice(35, 43)].any()


def test_injected_set_is_reproducible(injected, tmp_path):
    again = build_injected(SHARED_DATA, tmp_path / "again", seed=3, n_sprat=2, n_gmos=1)
    other = build_injected(SHARED_DATA, tmp_path / "other", seed=4, n_sprat=2, n_gmos=1)
    name = "sprat_median_001.fits"
    np.testing.assert_array_equal(fits.getdata(again / name), fits.getdata(injected / name))
    assert not np.array_equal(fits.getdata(other / name), fits.getdata(injected / name))


def test_repeats_set_keeps_the_shipped_masks(tmp_path):
    directory = shared_path("sprat_lhs6328")
    bench = load_set(build_repeats(SHARED_DATA, tmp_path / "repeats"))
    counts = [69, 26, 42, 15, 20]  # ../shared/data/README.md table
    hot = sprat_defects(load_sprat(directory))
    for image, count, name in zip(bench, counts, bench.files):
        shipped = fits.getdata(directory / name.replace(".fits", "_crmask.fits.gz")).astype(bool)
        # the dark's defects are the bad-pixel mask (no SPRAT pixel saturates); a masked pixel is never truth
        np.testing.assert_array_equal(image.ccd.mask, hot)
        np.testing.assert_array_equal(image.truth, shipped & ~hot)
        assert image.truth.sum() + np.count_nonzero(shipped & hot) == count
        assert image.ignore[:2].all() and image.ignore[:, -2:].all()  # border
        assert not (image.truth & image.ignore).any()
        assert abs(np.median(image.ccd.data)) < 5  # pedestal removed


def test_synthetic_set_without_shared_data(tmp_path):
    out = build_synthetic(tmp_path / "syn", n_frames=2, shape=(64, 96), spec=FrameSpec(cr_density=2000.0))
    bench = load_set(out)
    assert [im.truth.shape for im in bench] == [(64, 96), (64, 96)]
    bad = CliRunner().invoke(cli, ["bench", "build", "--data", str(tmp_path), "--synthetic-shape", "big",
                                   "-o", str(tmp_path)])
    assert bad.exit_code != 0 and "NYxNX" in bad.output
    with pytest.raises(ValueError, match="unknown benchmark set"):
        build_sets(tmp_path, tmp_path, ["nosuch"])


def test_cli_build_needs_a_data_folder_from_the_option_or_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("CRMASK_DATA", raising=False)
    result = CliRunner().invoke(cli, ["bench", "build", "--set", "synthetic", "-o", str(tmp_path / "sets")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "no data folder: give --data DIR or set the environment variable CRMASK_DATA" in result.output
    assert not (tmp_path / "sets").exists()
    assert "CRMASK_DATA" in CliRunner().invoke(cli, ["bench", "build", "--help"]).output


def test_cli_build_takes_the_data_folder_from_crmask_data(tmp_path):
    shared_path("cr_footprints_itl.fits.gz")
    result = CliRunner().invoke(cli, ["bench", "build", "--set", "synthetic", "--synthetic-shape", "32x48",
                                      "--synthetic-frames", "1", "-o", str(tmp_path / "env")],
                                env={"CRMASK_DATA": str(SHARED_DATA)})
    assert result.exit_code == 0, result.output
    assert len(load_set(tmp_path / "env" / "synthetic")) == 1


def test_cli_builds_the_synthetic_set_with_real_footprints(tmp_path):
    shared_path("cr_footprints_itl.fits.gz")  # the CLI's synthetic set always uses the real test footprints
    result = CliRunner().invoke(cli, ["bench", "build", "--data", str(SHARED_DATA), "--set", "synthetic",
                                      "--synthetic-shape", "32x48", "--synthetic-frames", "1",
                                      "-o", str(tmp_path / "cli")])
    assert result.exit_code == 0, result.output
    assert len(load_set(tmp_path / "cli" / "synthetic")) == 1


def test_restore_noise_gives_single_exposure_noise(rng):
    gain, rn = 2.0, 5.0
    truth = np.full((200, 200), 50.0)  # adu
    single_sigma = np.sqrt(rn**2 + 50.0 * gain) / gain
    stack = truth + single_sigma * rng.standard_normal((5, 200, 200))
    restored = restore_noise(np.median(stack, axis=0), 5, gain, rn, rng)
    assert np.median(stack, axis=0).std() == pytest.approx(np.sqrt(MEDIAN_VARIANCE[5]) * single_sigma, rel=0.03)
    assert restored.std() == pytest.approx(single_sigma, rel=0.03)


def test_repeat_significance_is_unit_normal_without_crs(rng):
    frames = 200.0 + np.sqrt(25 + 200.0) * rng.standard_normal((5, 100, 120))
    frames[2, 50, 60] += 500.0
    z = repeat_significance(frames, 2, 5.0)
    assert z[50, 60] > 10
    # read + Poisson + model noise, less the 5% fractional term: a little under unit width
    assert 0.8 < np.delete(z.ravel(), 50 * 120 + 60).std() < 1.05


def test_hot_pixels():
    dark = np.full((10, 10), 10.0)
    dark[3, 4] = 200.0
    assert np.argwhere(hot_pixels(dark, 600.0, 120.0, readnoise_adu=2.0)).tolist() == [[3, 4]]


def test_bad_columns(rng):
    dark = 10.0 + rng.normal(size=(50, 40))
    dark[:, 17] += 30.0
    bad = bad_columns(dark)
    assert bad[:, 17].all() and bad.sum() == 50


def test_warm_pixels_but_not_traces_or_sky_lines(rng):
    image = 100.0 + np.sqrt(25 + 100.0) * np.sqrt(MEDIAN_VARIANCE[5]) * rng.standard_normal((60, 80))
    image[30, :] += 400.0  # a trace along x
    image[:, 50] += 400.0  # a sky line along y
    image[10, 20] += 100.0  # a warm pixel
    warm = warm_pixels(image, 5.0, 5)
    assert warm[10, 20] and warm.sum() <= 2  # (30, 50), on both, may stand out too
