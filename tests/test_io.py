import os
import stat

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import CCDData

from crmask import FITSReadError, InvalidImageError, OutputExistsError
from crmask.io import output_path, read_ccd, write_atomic, write_cleaned

from .conftest import EXAMPLE_FRAME, shared_path


def test_reads_primary_uint16_bzero_frame_with_unit():
    ccd = read_ccd(EXAMPLE_FRAME, unit="adu")
    assert ccd.shape == (254, 1024) and ccd.unit == "adu"
    assert ccd.header["GAIN"] == 2.45 and "BZERO" not in ccd.header
    assert ccd.data.dtype == np.uint16 and ccd.data.min() > 900  # BZERO applied: unsigned values


def test_reads_named_extension_and_inherits_primary_keywords():
    ccd = read_ccd(shared_path("gmos.fits"), hdu="SCI", unit="electron")
    assert ccd.shape == (150, 200)
    assert ccd.header["INSTRUME"] == "GMOS-S"  # from the primary header


def test_missing_unit_is_a_clear_error():
    with pytest.raises(InvalidImageError, match="no BUNIT keyword; give the unit explicitly"):
        read_ccd(EXAMPLE_FRAME)


def test_missing_file_directory_and_bad_hdu(tmp_path):
    with pytest.raises(FITSReadError, match="no such file"):
        read_ccd(tmp_path / "nope.fits", unit="adu")
    with pytest.raises(FITSReadError, match="is a directory"):
        read_ccd(tmp_path, unit="adu")
    with pytest.raises(FITSReadError, match="no HDU 'SCI'; the file has 1 HDU: 0:PRIMARY"):
        read_ccd(EXAMPLE_FRAME, hdu="SCI", unit="adu")


def test_corrupt_and_truncated_files(tmp_path):
    garbage = tmp_path / "garbage.fits"
    garbage.write_bytes(b"this is not a FITS file at all" * 100)
    with pytest.raises(FITSReadError, match="not a readable FITS file"):
        read_ccd(garbage, unit="adu")
    good = tmp_path / "good.fits"
    fits.PrimaryHDU(np.ones((200, 200), dtype=np.float32)).writeto(good)
    truncated = tmp_path / "truncated.fits"
    truncated.write_bytes(good.read_bytes()[:10000])
    with pytest.raises(FITSReadError, match="truncated.fits: not a readable FITS file"):
        read_ccd(truncated, unit="adu")


def test_header_only_file_has_no_image(tmp_path):
    path = tmp_path / "empty.fits"
    fits.PrimaryHDU().writeto(path)
    with pytest.raises(FITSReadError, match="no HDU holds image data"):
        read_ccd(path, unit="adu")


def test_output_path_strips_fits_suffixes(tmp_path):
    assert output_path("a/b/frame.fits.gz", tmp_path) == tmp_path / "frame.fits"
    assert output_path("frame.FIT", tmp_path) == tmp_path / "frame.fits"


def test_write_refuses_to_overwrite_and_leaves_the_file_intact(tmp_path):
    target = tmp_path / "out.fits"
    target.write_bytes(b"precious")
    hdul = fits.HDUList([fits.PrimaryHDU(np.zeros((4, 4)))])
    with pytest.raises(OutputExistsError, match="exists; use --overwrite"):
        write_atomic(hdul, target)
    assert target.read_bytes() == b"precious"
    write_atomic(hdul, target, overwrite=True)
    assert fits.getdata(target).shape == (4, 4)
    assert [p.name for p in tmp_path.iterdir()] == ["out.fits"]  # no temporary file left


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "out.fits"
    hdul = fits.HDUList([fits.PrimaryHDU(np.zeros((4, 4)))])

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(fits.HDUList, "writeto", crash)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(hdul, target)
    assert list(tmp_path.iterdir()) == []


def test_write_cleaned_round_trip(tmp_path):
    data = np.arange(20.0).reshape(4, 5)
    mask = np.zeros((4, 5), dtype=bool)
    mask[1, 2] = True
    ccd = CCDData(data, unit="adu", mask=mask, header={"GAIN": 2.0})
    path = write_cleaned(ccd, mask, tmp_path / "c.fits")
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "MASK", "CRMASK"]
        assert hdul["CRMASK"].data.dtype == np.uint8 and hdul["CRMASK"].data[1, 2] == 1
    back = read_ccd(path)
    assert back.unit == "adu" and back.mask[1, 2] and back.mask.sum() == 1


def _frame_with_bunit(path, bunit):
    header = fits.Header({"BUNIT": bunit})
    fits.PrimaryHDU(np.ones((4, 5), dtype=np.float32), header=header).writeto(path)
    return path


@pytest.mark.parametrize(
    ("bunit", "expected"),
    [("adu", u.adu), ("ADU", u.adu), ("electron", u.electron), ("ELECTRONS", u.electron), ("electrons", u.electron)],
)
def test_bunit_spellings_that_ccddata_reads_are_read(tmp_path, bunit, expected):
    path = _frame_with_bunit(tmp_path / "f.fits", bunit)
    assert CCDData.read(path).unit == expected  # astropy's own reader agrees
    ccd = read_ccd(path)
    assert ccd.unit == expected and "BUNIT" not in ccd.header


def test_explicit_unit_is_parsed_like_bunit(tmp_path):
    path = _frame_with_bunit(tmp_path / "f.fits", "Jy")
    assert read_ccd(path, unit="ADU").unit == u.adu


def test_unparseable_bunit_is_a_one_line_error(tmp_path):
    path = _frame_with_bunit(tmp_path / "f.fits", "furlongs")
    with pytest.raises(InvalidImageError) as info:
        read_ccd(path)
    assert str(info.value) == f"{path}: BUNIT 'furlongs' is not a valid unit; give the unit explicitly (e.g. unit='adu' or --unit adu)"


def test_hdu_index_past_the_end_names_the_file_and_its_hdus(tmp_path):
    path = tmp_path / "two.fits"
    fits.HDUList([fits.PrimaryHDU(np.zeros((4, 4))), fits.ImageHDU(np.zeros((4, 4)), name="SCI")]).writeto(path)
    with pytest.raises(FITSReadError) as info:
        read_ccd(path, hdu=3, unit="adu")
    assert str(info.value) == f"{path}: no HDU 3; the file has 2 HDUs: 0:PRIMARY, 1:SCI"
    assert read_ccd(path, hdu=1, unit="adu").header["EXTNAME"] == "SCI"


def test_written_files_get_the_mode_of_the_umask(tmp_path):
    hdul = fits.HDUList([fits.PrimaryHDU(np.zeros((4, 4)))])
    target = tmp_path / "out.fits"
    old = os.umask(0o022)
    try:
        write_atomic(hdul, target)
        assert stat.S_IMODE(target.stat().st_mode) == 0o644
        os.umask(0o027)
        write_atomic(hdul, target, overwrite=True)
        assert stat.S_IMODE(target.stat().st_mode) == 0o640
        ccd = CCDData(np.zeros((4, 4)), unit="adu")
        write_cleaned(ccd, np.zeros((4, 4), dtype=bool), tmp_path / "c.fits")
        assert stat.S_IMODE((tmp_path / "c.fits").stat().st_mode) == 0o640
    finally:
        os.umask(old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.fits", "out.fits"]
