import astropy.units as u
import ccdproc
import numpy as np
import pytest
from astropy.nddata import CCDData, StdDevUncertainty
from astropy.wcs import WCS

import crmask
from crmask.io import read_ccd
from crmask.testing import conformance_image

from .conftest import EXAMPLE_FRAME, shared_path


@pytest.mark.parametrize(
    "params",
    [{}, {"sigclip": 3.5, "objlim": 2.0}, {"niter": 2, "sigfrac": 0.5, "cleantype": "medmask"}],
)
def test_lacosmic_mask_equals_ccdproc_pixel_for_pixel(params):
    ccd = read_ccd(shared_path("sprat_lhs6328", "v_e_20180810_12_3_0_0.fits.gz"), unit="adu")
    expected = ccdproc.cosmicray_lacosmic(ccd, gain=2.45, readnoise=5.7, **params)
    result = crmask.cosmicray_clean(ccd, "lacosmic", readnoise=5.7, **params)
    assert expected.mask.sum() > 0
    np.testing.assert_array_equal(result.mask, expected.mask)
    # ccdproc returns electrons (gain applied); crmask keeps the input unit.
    assert result.unit == u.adu
    np.testing.assert_allclose(result.data, expected.data / 2.45, rtol=1e-6)
    # crmask's data are ccdproc's with gain_apply=False: its cleaned values at the cosmic rays, in adu, and
    # the input itself elsewhere (ccdproc's are the input times and divided by the gain in float32).
    in_adu = ccdproc.cosmicray_lacosmic(ccd, gain=2.45, readnoise=5.7, gain_apply=False, **params)
    np.testing.assert_array_equal(in_adu.mask, expected.mask)
    np.testing.assert_array_equal(result.data[result.mask], in_adu.data[result.mask])
    np.testing.assert_array_equal(result.data[~result.mask], ccd.data[~result.mask])
    np.testing.assert_allclose(result.data, in_adu.data, rtol=1e-6)


def test_lacosmic_mask_equals_ccdproc_on_the_gmos_frame_in_electrons():
    ccd = read_ccd(shared_path("gmos.fits"), hdu="SCI", unit="electron")
    expected = ccdproc.cosmicray_lacosmic(ccd, gain=1.0, readnoise=3.8, sigclip=5)
    result = crmask.cosmicray_clean(ccd, "lacosmic", readnoise=3.8, sigclip=5)
    np.testing.assert_array_equal(result.mask, expected.mask)
    assert result.mask.sum() > 0


def test_existing_mask_is_kept_passed_as_inmask_and_never_reported():
    ccd, truth = conformance_image()
    bad = np.zeros(ccd.shape, dtype=bool)
    bad[:, 0] = True
    bad[10, 100] = True  # a bad pixel on top of a cosmic ray
    ccd.mask = bad
    out = crmask.cosmicray_clean(ccd)
    assert out.mask[bad].all()  # OR'ed, not replaced
    assert (out.mask & truth & ~bad).sum() == (truth & ~bad).sum()
    assert out.header["CRMNPIX"] == int((out.mask & ~bad).sum())
    assert out.data[10, 100] == ccd.data[10, 100]  # bad pixels are not cleaned either


def test_inpaint_false_leaves_data_untouched_and_inpaint_cleans():
    ccd, truth = conformance_image()
    masked_only = crmask.cosmicray_clean(ccd, inpaint=False)
    np.testing.assert_array_equal(masked_only.data, ccd.data)
    cleaned = crmask.cosmicray_clean(ccd)
    assert np.all(cleaned.data[truth] < 400)  # sky is 200 adu, CRs were +3000
    np.testing.assert_array_equal(cleaned.data[~cleaned.mask], ccd.data[~cleaned.mask])


def test_unit_uncertainty_wcs_and_header_kept():
    ccd, _ = conformance_image()
    ccd.uncertainty = StdDevUncertainty(np.full(ccd.shape, 3.0))
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, 2.0]
    ccd.wcs = wcs
    ccd.header["OBJECT"] = "field"
    out = crmask.cosmicray_clean(ccd, sigclip=5.0)
    assert out.unit == ccd.unit
    np.testing.assert_array_equal(out.uncertainty.array, ccd.uncertainty.array)
    assert out.wcs.wcs.crval.tolist() == [150.0, 2.0]
    assert out.header["OBJECT"] == "field"
    assert out.header["CRMDET"] == "lacosmic"
    assert out.header["CRMVER"] == crmask.__version__
    assert "sigclip=5.0" in "".join(out.header["HISTORY"])


def test_grow_dilates_the_cr_mask():
    ccd, truth = conformance_image()
    plain = crmask.cosmicray_clean(ccd)
    grown = crmask.cosmicray_clean(ccd, grow=1)
    assert grown.mask.sum() > plain.mask.sum()
    assert grown.mask[plain.mask].all()
    assert grown.header["CRMGROW"] == 1
    with pytest.raises(ValueError, match="grow must be a non-negative integer"):
        crmask.cosmicray_clean(ccd, grow=-1)


def test_electron_and_adu_images_give_the_same_mask():
    ccd, _ = conformance_image()
    electrons = CCDData(ccd.data * 2.0, unit="electron", header={"RDNOISE": 5.0})
    np.testing.assert_array_equal(crmask.cosmicray_clean(ccd).mask, crmask.cosmicray_clean(electrons).mask)


def test_missing_readnoise_is_a_clear_error_and_explicit_beats_header():
    data = CCDData(conformance_image()[0].data, unit="adu", header={"GAIN": 2.0})
    with pytest.raises(crmask.MissingCalibrationError, match="readnoise is not known"):
        crmask.cosmicray_clean(data)
    out = crmask.cosmicray_clean(data, readnoise=5.0)
    assert out.mask.any()


def test_detector_instance_and_errors():
    ccd, _ = conformance_image()
    det = crmask.get_detector("lacosmic", sigclip=6.0)
    assert crmask.cosmicray_clean(ccd, det).header["CRMDET"] == "lacosmic"
    with pytest.raises(ValueError, match="configure the instance instead"):
        crmask.cosmicray_clean(ccd, det, sigclip=3.0)
    with pytest.raises(crmask.UnknownDetectorError, match="unknown detector 'lacosmik'; registered detectors are: .*lacosmic"):
        crmask.cosmicray_clean(ccd, "lacosmik")
    with pytest.raises(ValueError, match="parameter 'sigclip' must be a float in"):
        crmask.cosmicray_clean(ccd, sigclip=-2)


def test_bundled_example_frame_runs():
    ccd = read_ccd(EXAMPLE_FRAME, unit="adu")
    out = crmask.cosmicray_clean(ccd, readnoise=5.7)
    assert out.header["CRMNPIX"] > 0
