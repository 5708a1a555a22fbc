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


class _Brightness(crmask.Detector):
    """A detector with a probability map: the excess over the median, 4000 adu being certain."""

    name = "brightness-demo"
    summary = "probability from the excess over the median"
    parameters = {"threshold": crmask.Param(0.5, "probability threshold", low=0.0, high=1.0)}

    def _detect(self, image):
        excess = (image.data - np.median(image.data[~image.bad])) / 4000.0
        probability = np.clip(excess, 0.0, 1.0).astype(np.float32)
        threshold = self.params["threshold"]
        return crmask.MaskResult(mask=probability >= threshold, probability=probability, threshold=threshold)


def _frame_with_bad_pixels():
    """The conformance image with a masked column, a masked cosmic ray and a NaN and an infinite pixel."""
    ccd, _ = conformance_image()
    bad = np.zeros(ccd.shape, dtype=bool)
    bad[:, 0] = True
    bad[10, 100] = True  # a cosmic-ray pixel
    ccd.mask = bad
    ccd.data[5, 5] = np.nan
    ccd.data[40, 60] = np.inf
    return ccd


PROVENANCE_KEYWORDS = ("CRMDET", "CRMVER", "CRMNPIX", "CRMGROW", "CRMTHR", "CRMGAIN", "CRMRDN")


@pytest.mark.parametrize("grow", [0, 2])
@pytest.mark.parametrize("inpaint", [True, False])
@pytest.mark.parametrize("make_detector", [lambda: crmask.get_detector("lacosmic"), _Brightness],
                         ids=["lacosmic", "probability"])
def test_cosmicray_clean_and_clean_file_give_the_same_documented_result(tmp_path, make_detector, inpaint,
                                                                        grow):
    from astropy.io import fits
    from scipy import ndimage

    from crmask.files import clean_file
    from crmask.inpaint import median_inpaint

    frame = _frame_with_bad_pixels()
    source = tmp_path / "in.fits"
    frame.write(source, hdu_mask="MASK")
    ccd = read_ccd(source)
    bad = ccd.mask | ~np.isfinite(ccd.data)
    detection = make_detector().detect(ccd)
    disc = np.hypot(*np.mgrid[-grow:grow + 1, -grow:grow + 1]) <= grow
    crmask_expected = detection.mask
    if grow:
        crmask_expected = ndimage.binary_dilation(detection.mask, structure=disc) & ~bad
    assert crmask_expected.any() and not (crmask_expected & bad).any()

    clean = crmask.cosmicray_clean(ccd, make_detector(), inpaint=inpaint, grow=grow)
    n_cr = clean_file(source, tmp_path / "out.fits", make_detector(), inpaint=inpaint, grow=grow)

    np.testing.assert_array_equal(clean.mask, bad | crmask_expected)
    assert clean.header["CRMNPIX"] == n_cr == crmask_expected.sum()
    expected = ccd.data.copy()
    if inpaint:
        filled = detection.cleaned if detection.cleaned is not None and not grow else median_inpaint(
            ccd.data, crmask_expected, bad)
        expected[crmask_expected] = filled[crmask_expected]
        assert not np.array_equal(expected[crmask_expected], ccd.data[crmask_expected])
    np.testing.assert_array_equal(clean.data, expected)  # NaN and inf kept where they were
    # the big-endian pixels read from FITS come back native when cleaned, as they are otherwise
    assert ccd.data.dtype == ">f4" and clean.data.dtype == (np.float32 if inpaint else ">f4")
    with fits.open(tmp_path / "out.fits") as hdul:
        np.testing.assert_array_equal(hdul[0].data, clean.data)
        np.testing.assert_array_equal(hdul["MASK"].data.astype(bool), clean.mask)
        np.testing.assert_array_equal(hdul["CRMASK"].data.astype(bool), crmask_expected)
        if detection.probability is not None:
            np.testing.assert_array_equal(hdul["CRPROB"].data, clean.flags["CRPROB"])
            np.testing.assert_array_equal(hdul["CRPROB"].data, detection.probability)
            assert clean.header["CRMTHR"] == 0.5
        else:
            assert "CRPROB" not in hdul and "CRMTHR" not in clean.header
        header = hdul[0].header
        for keyword in PROVENANCE_KEYWORDS:
            assert (keyword in header) == (keyword in clean.header), keyword
            assert header.get(keyword) == clean.header.get(keyword), keyword
        assert list(header["HISTORY"]) == list(clean.header["HISTORY"])


def test_cleaning_uses_the_detections_prepared_image_and_prepares_it_once(tmp_path, monkeypatch):
    """The bad pixels and header cleaning uses are those of the detection, never worked out again."""
    import dataclasses

    from astropy.io import fits

    import crmask.detector
    from crmask.files import clean_file

    ccd, truth = conformance_image()
    track = (32, 110)  # a cosmic-ray pixel, finite and unmasked
    assert truth[track]
    prepared = []
    prepare = crmask.detector.prepare_image

    def prepare_and_mark(*args, **kwargs):
        image = prepare(*args, **kwargs)
        bad = image.bad.copy()
        bad[track] = True
        header = image.header.copy()
        header["PREPARED"] = True
        prepared.append(dataclasses.replace(image, bad=bad, header=header))
        return prepared[-1]

    monkeypatch.setattr(crmask.detector, "prepare_image", prepare_and_mark)
    clean = crmask.cosmicray_clean(ccd)
    assert len(prepared) == 1
    assert clean.mask[track] and clean.header["PREPARED"]
    assert clean.data[track] == ccd.data[track]  # a bad pixel is not cleaned
    assert clean.header["CRMNPIX"] == np.count_nonzero(clean.mask & ~prepared[0].bad) > 0

    ccd.write(tmp_path / "in.fits")
    n_cr = clean_file(tmp_path / "in.fits", tmp_path / "out.fits", crmask.get_detector("lacosmic"))
    assert len(prepared) == 2
    with fits.open(tmp_path / "out.fits") as hdul:
        assert hdul["MASK"].data[track] == 1 and hdul["CRMASK"].data[track] == 0
        assert hdul[0].header["PREPARED"] and hdul[0].header["CRMNPIX"] == n_cr == hdul["CRMASK"].data.sum()


def test_threshold_is_set_in_mask_result_threshold_only():
    ccd = _frame_with_bad_pixels()
    result = _Brightness(threshold=0.6).detect(ccd)
    assert result.threshold == 0.6 and result.meta["threshold"] == 0.6  # recorded for the provenance
    assert crmask.cosmicray_clean(ccd, _Brightness(threshold=0.6)).header["CRMTHR"] == 0.6

    class Contradicting(_Brightness):
        name = "contradicting-demo"

        def _detect(self, image):
            result = super()._detect(image)
            result.meta["threshold"] = 0.9
            return result

    message = r"contradicting-demo: _detect put threshold 0\.9 in meta but MaskResult\.threshold is 0\.5"
    with pytest.raises(crmask.PluginError, match=message):
        Contradicting().detect(ccd)


def test_detect_result_carries_the_prepared_image():
    ccd = _frame_with_bad_pixels()
    ccd.header["OBJECT"] = "field"
    result = crmask.get_detector("lacosmic", gain=2.5, readnoise=4.0).detect(ccd)
    image = result.image
    assert isinstance(image, crmask.PreparedImage)
    np.testing.assert_array_equal(image.bad, ccd.mask | ~np.isfinite(ccd.data))
    assert not (result.mask & image.bad).any()
    assert np.isfinite(image.data).all() and image.header["OBJECT"] == "field"
    assert (image.gain, image.readnoise) == (2.5, 4.0)
    assert result.meta["calibration"] == {"gain": 2.5, "readnoise": 4.0, "satlevel": None}
