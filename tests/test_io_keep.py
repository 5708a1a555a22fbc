"""Reading and writing keep every input HDU, refuse corrupt files and leave no orphan (issue 12)."""

import gzip
import os
import signal
import subprocess
import sys
import warnings

import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import CCDData, StdDevUncertainty, VarianceUncertainty

from crmask import CrmaskWarning, FITSReadError, InvalidImageError
from crmask.files import clean_file
from crmask.io import read_ccd, read_ccd_and_others, write_atomic, write_cleaned
from crmask.registry import get_detector

from .conftest import shared_path


def _cards(header):
    """Header cards but the checksums every crmask output gets."""
    return [tuple(card) for card in header.cards if card.keyword not in ("CHECKSUM", "DATASUM")]


def _sky(rng, shape=(48, 48)):
    return rng.normal(500.0, 20.0, shape).astype(np.float32)


def _reduced_file(path, rng, uncert_shape=(48, 48), mask_shape=(48, 48)):
    """A reduced frame as CCDData.write leaves it (MASK, UNCERT with UTYPE) plus a FLAGS and a table HDU."""
    data = _sky(rng)
    header = fits.Header({"BUNIT": "adu", "GAIN": 1.0, "RDNOISE": 5.0})
    mask = np.zeros(mask_shape, dtype=np.uint8)
    mask[3, 4] = 1
    uncert = fits.ImageHDU(np.full(uncert_shape, 20.0, dtype=np.float32), name="UNCERT")
    uncert.header["UTYPE"] = "StdDevUncertainty"
    flags = fits.ImageHDU(np.arange(48 * 48, dtype=np.int16).reshape(48, 48), name="FLAGS")
    table = fits.BinTableHDU.from_columns([fits.Column(name="A", format="D", array=[1.0, 2.0])], name="OBJCAT")
    table.header["MYKEY"] = ("kept", "a user keyword")
    fits.HDUList([fits.PrimaryHDU(data, header=header), fits.ImageHDU(mask, name="MASK"), uncert, flags,
                  table]).writeto(path)
    return path


def test_uncertainty_and_mask_are_read_as_ccddata_read_reads_them(tmp_path, rng):
    path = _reduced_file(tmp_path / "red.fits", rng)
    ours, theirs = read_ccd(path), CCDData.read(path)
    assert isinstance(ours.uncertainty, StdDevUncertainty) and isinstance(theirs.uncertainty, StdDevUncertainty)
    np.testing.assert_array_equal(ours.uncertainty.array, theirs.uncertainty.array)
    np.testing.assert_array_equal(ours.mask, theirs.mask)
    with fits.open(path, mode="update") as hdul:
        hdul["UNCERT"].header["UTYPE"] = "VarianceUncertainty"
    assert isinstance(read_ccd(path).uncertainty, VarianceUncertainty)


@pytest.mark.parametrize(("kwargs", "name"), [({"uncert_shape": (40, 48)}, "UNCERT"), ({"mask_shape": (48, 40)}, "MASK")])
def test_companion_extension_of_the_wrong_shape_is_named(tmp_path, rng, kwargs, name):
    path = _reduced_file(tmp_path / "red.fits", rng, **kwargs)
    with pytest.raises(InvalidImageError, match=rf"red.fits: {name} extension has shape \(40, 48\)|"
                                                rf"red.fits: {name} extension has shape \(48, 40\)"):
        read_ccd(path)


def test_clean_file_keeps_every_other_hdu_in_order_with_its_header(tmp_path, rng):
    path = _reduced_file(tmp_path / "red.fits", rng)
    target = tmp_path / "out" / "red.fits"
    target.parent.mkdir()
    clean_file(path, target, get_detector("lacosmic"))
    with fits.open(path) as inp, fits.open(target) as out:
        assert [h.name for h in out] == ["PRIMARY", "MASK", "UNCERT", "CRMASK", "FLAGS", "OBJCAT"]
        np.testing.assert_array_equal(out["UNCERT"].data, inp["UNCERT"].data)
        assert out["UNCERT"].header["UTYPE"] == "StdDevUncertainty"
        np.testing.assert_array_equal(out["FLAGS"].data, inp["FLAGS"].data)
        assert list(out["OBJCAT"].data["A"]) == [1.0, 2.0]
        assert out["OBJCAT"].header.comments["MYKEY"] == "a user keyword"
        assert out["MASK"].data[3, 4] == 1  # the input mask is carried


def test_gmos_keeps_var_and_skyfit(tmp_path):
    source = shared_path("gmos.fits")
    target = tmp_path / "gmos.fits"
    with pytest.warns(CrmaskWarning, match=r"gmos.fits: cleaned HDU 1 \(SCI\); other image HDUs not cleaned: "
                                           r"2:VAR, 3:SKYFIT"):
        clean_file(source, target, get_detector("lacosmic", readnoise=4.24), unit="electron")
    with fits.open(source) as inp, fits.open(target) as out:
        names = [h.name for h in out]
        assert names == ["SCI", "MASK", "CRMASK", "", "VAR", "SKYFIT"]  # the cleaned SCI keeps its EXTNAME
        for name in ("VAR", "SKYFIT"):
            np.testing.assert_array_equal(out[name].data, inp[name].data)
            assert _cards(out[name].header) == _cards(inp[name].header)
        # The header-only primary, as an extension with the same cards.
        structural = ("SIMPLE", "EXTEND", "XTENSION", "PCOUNT", "GCOUNT")
        assert [c for c in _cards(out[3].header) if c[0] not in structural] == \
            [c for c in _cards(inp[0].header) if c[0] not in structural]


def test_input_products_of_an_earlier_run_are_replaced_not_duplicated(tmp_path, rng):
    path = _reduced_file(tmp_path / "red.fits", rng)
    first, second = tmp_path / "a" / "red.fits", tmp_path / "b" / "red.fits"
    first.parent.mkdir(), second.parent.mkdir()
    det = get_detector("lacosmic")
    clean_file(path, first, det)
    clean_file(first, second, det)
    with fits.open(second) as out:
        assert [h.name for h in out] == ["PRIMARY", "MASK", "UNCERT", "CRMASK", "FLAGS", "OBJCAT"]


def test_read_ccd_and_others_returns_what_write_cleaned_keeps(tmp_path, rng):
    path = _reduced_file(tmp_path / "red.fits", rng)
    ccd, others = read_ccd_and_others(path)
    assert [h.name for h in others] == ["FLAGS", "OBJCAT"]
    out = write_cleaned(ccd, np.zeros(ccd.shape, dtype=bool), tmp_path / "w.fits", others=others)
    assert [h.name for h in fits.open(out)] == ["PRIMARY", "MASK", "UNCERT", "CRMASK", "FLAGS", "OBJCAT"]


def test_probability_is_written_as_crprob_float32(tmp_path):
    ccd = CCDData(np.ones((4, 5)), unit="adu")
    prob = np.linspace(0, 1, 20).reshape(4, 5)
    path = write_cleaned(ccd, prob > 0.5, tmp_path / "p.fits", probability=prob)
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "CRMASK", "CRPROB"]
        assert hdul["CRPROB"].data.dtype == np.dtype(">f4")
        np.testing.assert_allclose(hdul["CRPROB"].data, prob.astype(np.float32))


# Case 4: corrupt compressed files and FITS checksums.

def _gz_frame(path, rng):
    data = _sky(rng, (256, 256))
    fits.PrimaryHDU(data, header=fits.Header({"BUNIT": "adu"})).writeto(path)
    return path


def test_gzip_with_a_crc_error_is_a_one_line_error(tmp_path, rng):
    gz = tmp_path / "f.fits.gz"
    gz.write_bytes(gzip.compress(_gz_frame(tmp_path / "f.fits", rng).read_bytes()))
    raw = bytearray(gz.read_bytes())
    middle = len(raw) // 2
    raw[middle:middle + 50] = bytes(50)
    gz.write_bytes(bytes(raw))
    with pytest.raises(gzip.BadGzipFile):  # what `gzip -t` reports
        gzip.decompress(bytes(raw))
    with pytest.raises(FITSReadError, match=r"f.fits.gz: corrupt compressed file"):
        read_ccd(gz)


def test_intact_gzip_is_read(tmp_path, rng):
    plain = _gz_frame(tmp_path / "f.fits", rng)
    gz = tmp_path / "g.fits.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    np.testing.assert_array_equal(read_ccd(gz).data, read_ccd(plain).data)


def test_checksum_mismatch_is_a_one_line_error(tmp_path, rng):
    path = tmp_path / "c.fits"
    fits.PrimaryHDU(_sky(rng), header=fits.Header({"BUNIT": "adu"})).writeto(path, checksum=True)
    raw = bytearray(path.read_bytes())
    raw[2880 + 1000] ^= 0xFF  # one flipped byte in the data
    path.write_bytes(bytes(raw))
    with pytest.raises(FITSReadError, match=r"c.fits: HDU \(.PRIMARY., 1\) fails its CHECKSUM and DATASUM: the file is corrupt"):
        read_ccd(path)


# Case 12: which HDU is cleaned.

def test_ambiguous_extname_lists_the_matches(tmp_path):
    path = tmp_path / "m.fits"
    sci = [fits.ImageHDU(np.ones((4, 4)), name="SCI", ver=v) for v in (1, 2)]
    fits.HDUList([fits.PrimaryHDU(), *sci]).writeto(path)
    with pytest.raises(FITSReadError) as info:
        read_ccd(path, hdu="SCI", unit="adu")
    assert str(info.value) == f"{path}: HDU 'SCI' is ambiguous: 1:SCI (EXTVER 1), 2:SCI (EXTVER 2); give its index"


def test_single_image_hdu_and_companions_give_no_warning(tmp_path, rng):
    path = _reduced_file(tmp_path / "red.fits", rng)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_ccd(path)


# Case 11: orphans of a killed write.

_KILLED_WRITE = """
import os, signal, sys
import numpy as np
from astropy.io import fits
from crmask.io import write_atomic

def die(self, name, **kwargs):
    open(name, "wb").write(b"SIMPLE  =  half a file")
    os.kill(os.getpid(), signal.SIGKILL)

fits.HDUList.writeto = die
write_atomic(fits.HDUList([fits.PrimaryHDU(np.zeros((4, 4)))]), sys.argv[1])
"""


def test_a_killed_write_leaves_a_recognisable_orphan_that_the_next_write_removes(tmp_path):
    target = tmp_path / "out.fits"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", _KILLED_WRITE, str(target)], env=env)
    assert proc.returncode == -signal.SIGKILL
    orphans = [p.name for p in tmp_path.iterdir()]
    assert len(orphans) == 1 and orphans[0].startswith(".out.fits.crmask-") and orphans[0].endswith(".tmp")
    other = tmp_path / ".other.fits.crmask-somehost-1-abcdefgh.tmp"  # another target's: not touched
    other.mkdir()
    write_atomic(fits.HDUList([fits.PrimaryHDU(np.ones((4, 4)))]), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name, "out.fits"]
    assert fits.getdata(target).sum() == 16


def test_a_live_writers_temporary_directory_is_kept(tmp_path):
    import socket

    target = tmp_path / "out.fits"
    live = tmp_path / f".out.fits.crmask-{socket.gethostname()}-{os.getppid()}-abcdefgh.tmp"
    live.mkdir()
    write_atomic(fits.HDUList([fits.PrimaryHDU(np.ones((4, 4)))]), target)
    assert live.exists()


def test_cosmicray_clean_keeps_the_probability_map_in_flags(rng):
    pytest.importorskip("torch")
    from crmask import cosmicray_clean

    ccd = CCDData(_sky(rng), unit="adu", header={"GAIN": 1.0, "RDNOISE": 5.0})
    det = get_detector("deepcr", threads=1)
    clean = cosmicray_clean(ccd, det)
    assert clean.flags["CRPROB"].dtype == np.float32
    np.testing.assert_array_equal(clean.flags["CRPROB"], det.detect(ccd).probability)
    assert cosmicray_clean(ccd, "lacosmic").flags is None  # no probability map, no flags


def test_clean_file_writes_the_unet_probability_as_crprob(tmp_path, rng):
    pytest.importorskip("torch")
    path = tmp_path / "f.fits"
    fits.PrimaryHDU(_sky(rng), header=fits.Header({"BUNIT": "adu", "GAIN": 1.0})).writeto(path)
    det = get_detector("deepcr", threads=1)
    clean_file(path, tmp_path / "out.fits", det)
    with fits.open(tmp_path / "out.fits") as out:
        assert [h.name for h in out] == ["PRIMARY", "MASK", "CRMASK", "CRPROB"]
        np.testing.assert_array_equal(out["CRPROB"].data, det.detect(read_ccd(path)).probability)
