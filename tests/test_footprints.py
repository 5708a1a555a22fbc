import numpy as np
import pytest
from astropy.io import fits

from crmask import FITSReadError, InvalidImageError
from crmask.data.footprints import (
    FootprintLibrary,
    inject_footprints,
    load_footprints,
    place_charge,
    truth_mask,
)

from .conftest import shared_path


@pytest.fixture(scope="module")
def itl():
    return load_footprints(shared_path("cr_footprints_itl.fits.gz"))


def write_catalogue(path, rows):
    """Write a span catalogue in the imSim format: rows of (fp_id, x0, y0, values)."""
    cols = [
        fits.Column("fp_id", "I", array=[r[0] for r in rows]),
        fits.Column("x0", "I", array=[r[1] for r in rows]),
        fits.Column("y0", "I", array=[r[2] for r in rows]),
        fits.Column("pixel_values", "PJ()", array=[np.array(r[3], dtype=np.int32) for r in rows]),
    ]
    table = fits.BinTableHDU.from_columns(cols, name="COSMIC_RAYS")
    table.header["EXPTIME"] = 10.0
    table.header["NUM_PIX"] = 1000
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(path)
    return path


def test_spans_rebuild_stamps(tmp_path):
    path = write_catalogue(tmp_path / "cat.fits", [(0, 5, 7, [1, 2, 3]), (0, 6, 8, [4]), (1, 2, 3, [9])])
    lib = load_footprints(path)
    assert list(lib.fp_id) == [0, 1]
    np.testing.assert_array_equal(lib.stamp(0), [[1, 2, 3], [0, 4, 0]])
    np.testing.assert_array_equal(lib.stamp(1), [[9]])
    np.testing.assert_array_equal(lib.total_charge, [10, 9])
    assert lib.rate == pytest.approx(2 / (10.0 * 1000))


def test_itl_catalogue_matches_readme(itl):
    # Numbers stated in ../shared/data/README.md for the file.
    assert len(itl) == 1764
    assert itl.npix.sum() == 28804
    assert itl.charge.min() == 49 and itl.charge.max() == 27790
    assert np.median(itl.npix) == 7
    assert itl.height.max() == 182 and itl.width.max() == 79


def test_train_test_split_is_disjoint_and_complete(itl):
    path = shared_path("cr_footprints_itl.fits.gz")
    test, train = load_footprints(path, "test"), load_footprints(path, "train")
    assert np.all(test.fp_id % 5 == 0) and np.all(train.fp_id % 5 != 0)
    assert len(test) + len(train) == len(itl)
    assert test.npix.sum() + train.npix.sum() == itl.npix.sum()
    k = int(np.flatnonzero(itl.fp_id == test.fp_id[3])[0])
    np.testing.assert_array_equal(test.stamp(3), itl.stamp(k))
    with pytest.raises(ValueError, match="subset"):
        load_footprints(path, "validation")


def test_load_errors(tmp_path):
    with pytest.raises(FITSReadError, match="no such file|not a readable"):
        load_footprints(tmp_path / "missing.fits")
    path = tmp_path / "other.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros((2, 2)), name="SCI")]).writeto(path)
    with pytest.raises(FITSReadError, match="no COSMIC_RAYS table"):
        load_footprints(path)


def test_placement_conserves_charge_and_transforms_are_symmetries(itl, rng):
    lib = itl.select([int(np.argmax(itl.npix))])  # one big, asymmetric footprint
    stamp = lib.stamp(0)
    charge, placements = place_charge((400, 400), lib, 40, rng)
    inside = placements["CHARGE"]
    # Every footprint fully inside the frame keeps its whole charge.
    h, w = stamp.shape
    full = (
        (placements["Y"] >= 0) & (placements["X"] >= 0)
        & (placements["Y"] + max(h, w) <= 400) & (placements["X"] + max(h, w) <= 400)
    )
    np.testing.assert_allclose(np.asarray(inside)[full], stamp.sum())
    assert charge.sum() == pytest.approx(np.sum(inside), rel=1e-6)


def dihedral(stamp, code):
    out = stamp[::-1] if code & 1 else stamp
    out = out[:, ::-1] if code & 2 else out
    return out.T if code & 4 else out


def test_each_placement_is_a_symmetry_of_the_stamp(itl):
    lib = itl.select([int(np.argmax(itl.npix))])
    stamp = lib.stamp(0)
    seen = set()
    for seed in range(40):
        single, row = place_charge((800, 800), lib, 1, np.random.default_rng(seed))
        y, x, code = int(row["Y"][0]), int(row["X"][0]), int(row["TRANSFORM"][0])
        expected = dihedral(stamp, code)
        if y < 0 or x < 0 or y + expected.shape[0] > 800 or x + expected.shape[1] > 800:
            continue  # clipped at the edge: covered by the charge test above
        np.testing.assert_array_equal(single[y:y + expected.shape[0], x:x + expected.shape[1]], expected)
        assert single.sum() == pytest.approx(stamp.sum())
        seen.add(code)
    assert seen == set(range(8))


def test_injection_units_and_truth(itl, rng):
    test = itl.subset("test")
    gain, readnoise = 2.5, 5.0
    clean = np.full((300, 300), 100.0, dtype=np.float32)  # adu
    inj = inject_footprints(clean, test, 50, gain=gain, readnoise=readnoise, rng=rng)
    # electrons -> adu with the gain
    np.testing.assert_allclose(inj.data - clean, inj.charge / gain, rtol=1e-5, atol=1e-3)
    sigma = np.sqrt(readnoise**2 + 100.0 * gain)
    np.testing.assert_array_equal(inj.mask, inj.charge > 3 * sigma)
    np.testing.assert_array_equal(inj.faint, (inj.charge > sigma) & ~inj.mask)
    np.testing.assert_allclose(inj.significance, inj.charge / sigma, rtol=1e-6)
    assert inj.mask.sum() > 0 and set(inj.placements["FP_ID"]) <= set(test.fp_id)
    same = inject_footprints(clean, test, 50, gain=gain, readnoise=readnoise, rng=np.random.default_rng(20261125))
    np.testing.assert_array_equal(same.data, inj.data)  # seeded: reproducible


def test_bright_background_hides_faint_pixels(itl, rng):
    bright = np.full((200, 200), 1.0e5, dtype=np.float32)
    inj = inject_footprints(bright, itl, 30, gain=1.0, readnoise=5.0, rng=rng)
    sigma = np.sqrt(25 + 1.0e5)
    assert not inj.mask[inj.charge <= 3 * sigma].any()
    assert inj.faint.any()


def test_truth_dilation_and_saturation(rng):
    charge = np.zeros((7, 7))
    charge[3, 3] = 100.0
    mask, faint = truth_mask(charge, 1.0, dilate=True)
    assert mask.sum() == 9 and mask[2:5, 2:5].all() and not faint.any()
    lib = FootprintLibrary(
        fp_id=np.array([0]), offsets=np.array([0, 1]), dy=np.array([0]), dx=np.array([0]),
        charge=np.array([1e6], dtype=np.float32), height=np.array([1]), width=np.array([1]),
    )
    inj = inject_footprints(np.zeros((10, 10)), lib, 3, gain=1.0, readnoise=1.0, rng=rng, satlevel=1000.0)
    assert inj.data.max() == 1000.0


def test_injection_input_errors(itl, rng):
    with pytest.raises(InvalidImageError, match="2-D"):
        inject_footprints(np.zeros(10), itl, 1, gain=1.0, readnoise=1.0, rng=rng)
    with pytest.raises(InvalidImageError, match="gain"):
        inject_footprints(np.zeros((10, 10)), itl, 1, gain=0.0, readnoise=1.0, rng=rng)
    with pytest.raises(ValueError, match=">= 0"):
        place_charge((10, 10), itl, -1, rng)


def test_brightening_scales_a_fraction_of_the_footprints_and_moves_none(itl):
    lib = itl.select([int(np.argmax(itl.npix))])
    total, side = lib.stamp(0).sum(), max(lib.stamp(0).shape)
    plain_charge, plain = place_charge((2000, 2000), lib, 400, np.random.default_rng(5))
    charge, bright = place_charge((2000, 2000), lib, 400, np.random.default_rng(5), brighten=(0.25, 30.0))
    for column in ("FP_ID", "Y", "X", "TRANSFORM"):  # the brightening draws come after the placements
        np.testing.assert_array_equal(bright[column], plain[column])
    inside = (plain["Y"] >= 0) & (plain["X"] >= 0) & (plain["Y"] + side <= 2000) & (plain["X"] + side <= 2000)
    factor = np.asarray(bright["CHARGE"])[inside] / total
    brightened = factor > 1 + 1e-9
    assert 0.15 < brightened.mean() < 0.35  # a quarter of them, by chance
    assert factor.min() == pytest.approx(1.0) and factor.max() <= 30.0
    assert np.median(np.log(factor[brightened])) == pytest.approx(np.log(30.0) / 2, abs=0.5)  # log-uniform in [1, 30]
    assert charge.sum() == pytest.approx(np.sum(bright["CHARGE"]), rel=1e-6)
    assert charge.sum() > plain_charge.sum()
    with pytest.raises(ValueError, match="brighten needs a fraction in"):
        place_charge((64, 64), lib, 3, np.random.default_rng(5), brighten=(0.5, 0.5))
