import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import CCDData

from crmask import FITSReadError, InvalidImageError
from crmask.bench.dataset import MANIFEST, load_set, read_bench_image, write_bench_image, write_manifest

from .conftest import bench_header


def test_round_trip(tmp_path, rng):
    data = rng.normal(size=(20, 30)).astype(np.float32)
    truth = rng.random((20, 30)) < 0.1
    ignore = rng.random((20, 30)) < 0.05
    path = write_bench_image(tmp_path / "a.fits", CCDData(data, unit=u.adu, header=bench_header()), truth, ignore)
    image = read_bench_image(path)
    np.testing.assert_array_equal(image.ccd.data, data)
    np.testing.assert_array_equal(image.truth, truth)
    np.testing.assert_array_equal(image.ignore, ignore)
    assert image.starmask is None and image.ccd.unit == u.adu and image.ccd.header["GAIN"] == 2.0
    assert image.ccd.mask is None  # no bad-pixel mask given, none written
    write_manifest(tmp_path, [{"FILE": "a.fits", "SOURCE": "test"}], {"set": "demo"})
    bench = load_set(tmp_path)
    assert bench.name == "demo" and len(bench) == 1
    assert [im.name for im in bench] == ["a.fits"]
    assert image.significance is None


def test_the_images_bad_pixel_mask_is_stored_and_read_back(tmp_path, rng):
    data = rng.normal(size=(20, 30)).astype(np.float32)
    bad = np.zeros(data.shape, dtype=bool)
    bad[7] = True  # a bad line
    ccd = CCDData(data, unit=u.adu, header=bench_header(), mask=bad)
    image = read_bench_image(write_bench_image(tmp_path / "a.fits", ccd, np.zeros(data.shape, bool), bad))
    np.testing.assert_array_equal(image.ccd.mask, bad)
    np.testing.assert_array_equal(image.ignore, bad)


def test_significance_is_stored_on_the_truth(tmp_path, rng):
    truth = rng.random((20, 30)) < 0.1
    significance = rng.uniform(0, 50, size=(20, 30))
    ccd = CCDData(np.zeros((20, 30), np.float32), unit=u.adu, header=bench_header())
    image = read_bench_image(write_bench_image(tmp_path / "a.fits", ccd, truth, significance=significance))
    np.testing.assert_allclose(image.significance, np.where(truth, significance, 0), rtol=1e-6)
    with pytest.raises(InvalidImageError, match="CRSIGNIF shape"):
        write_bench_image(tmp_path / "b.fits", ccd, truth, significance=significance[:10])
    path = _write(tmp_path / "c.fits", {"CRMASK": np.zeros((10, 12), np.uint8),
                                        "CRSIGNIF": np.full((10, 12), -1.0, np.float32)})
    with pytest.raises(InvalidImageError, match="CRSIGNIF must hold finite non-negative floats"):
        read_bench_image(path)


def _write(path, masks, header=None):
    hdus = [fits.PrimaryHDU(np.zeros((10, 12), np.float32), header=header or bench_header())]
    hdus[0].header["BUNIT"] = "adu"
    hdus += [fits.ImageHDU(m, name=name) for name, m in masks.items()]
    fits.HDUList(hdus).writeto(path)
    return path


def test_missing_truth_extension(tmp_path):
    path = _write(tmp_path / "b.fits", {"IGNORE": np.zeros((10, 12), np.uint8)})
    with pytest.raises(FITSReadError, match="no CRMASK"):
        read_bench_image(path)


def test_shape_mismatch(tmp_path):
    path = _write(tmp_path / "c.fits", {"CRMASK": np.zeros((10, 11), np.uint8)})
    with pytest.raises(InvalidImageError, match=r"CRMASK has shape \(10, 11\)"):
        read_bench_image(path)


def test_non_boolean_mask(tmp_path):
    mask = np.zeros((10, 12), np.uint8)
    mask[2, 3] = 2
    path = _write(tmp_path / "d.fits", {"CRMASK": np.zeros((10, 12), np.uint8), "IGNORE": mask})
    with pytest.raises(InvalidImageError, match="IGNORE is not a boolean mask"):
        read_bench_image(path)
    path = _write(tmp_path / "e.fits", {"CRMASK": np.zeros((10, 12), np.float32)})
    with pytest.raises(InvalidImageError, match="dtype float32"):
        read_bench_image(path)


def test_missing_keyword(tmp_path):
    header = bench_header()
    del header["RDNOISE"]
    path = _write(tmp_path / "f.fits", {"CRMASK": np.zeros((10, 12), np.uint8)}, header)
    with pytest.raises(InvalidImageError, match="RDNOISE"):
        read_bench_image(path)


def test_set_errors(tmp_path):
    with pytest.raises(FITSReadError, match="no such benchmark set"):
        load_set(tmp_path / "none")
    with pytest.raises(FITSReadError, match=MANIFEST):
        load_set(tmp_path)
    write_manifest(tmp_path, [{"FILE": "gone.fits", "SOURCE": "x"}], {})
    with pytest.raises(FITSReadError, match="gone.fits"):
        load_set(tmp_path)
