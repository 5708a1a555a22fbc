"""lacosmic's per-pixel inputs: astroscrappy's ``inbkg``, ``invar`` and ``psfk`` (issue 15).

Every mask is compared with astroscrappy's ``detect_cosmics`` called directly
on the same arrays with the same parameters: the known answer.
"""

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import (
    CCDData,
    InverseVariance,
    NDData,
    StdDevUncertainty,
    UnknownUncertainty,
    VarianceUncertainty,
)
from click.testing import CliRunner
from scipy import ndimage

import crmask
from crmask import FITSReadError, InvalidImageError, get_detector
from crmask.cli import cli
from crmask.io import read_ccd

from .conftest import shared_path

astroscrappy = pytest.importorskip("astroscrappy")

#: astroscrappy's tests/test_gmos.py runs on the GMOS cut-out with these values.
GMOS_READNOISE, GMOS_TEST_GAIN = 4.24, 1.933
#: crmask's saturation level when the header has none (ccdproc's default), given to astroscrappy too.
SATLEVEL = 65535.0


def _gmos():
    """The GMOS-S cut-out's science, variance and sky model (electrons), as astroscrappy's test reads them."""
    with fits.open(shared_path("gmos.fits")) as hdul:
        return hdul["SCI"].data, hdul["VAR"].data, hdul["SKYFIT"].data


@pytest.mark.parametrize("inputs", [("inbkg",), ("invar",), ("inbkg", "invar")])
def test_gmos_in_electrons_equals_astroscrappy_with_its_skyfit_and_var(inputs):
    sci, var, sky = _gmos()
    kwargs = {"inbkg": sky, "invar": var}
    given = {key: kwargs[key] for key in inputs}
    expected, cleaned = astroscrappy.detect_cosmics(sci, gain=1.0, readnoise=GMOS_READNOISE, satlevel=SATLEVEL,
                                                    **given)
    ccd = read_ccd(shared_path("gmos.fits"), hdu="SCI", unit="electron")
    if "invar" in inputs:
        ccd.uncertainty = VarianceUncertainty(var)
    det = get_detector("lacosmic", readnoise=GMOS_READNOISE, use_uncertainty="invar" in inputs)
    result = det.detect(ccd, background=given.get("inbkg"))
    assert expected.sum() > 0
    np.testing.assert_array_equal(result.mask, expected)
    np.testing.assert_array_equal(result.cleaned, cleaned)
    assert (result.meta["inbkg"], result.meta["invar"]) == ("inbkg" in inputs, "invar" in inputs)
    # The sky model changes the answer: without it astroscrappy flags other pixels.
    if "inbkg" in inputs:
        plain, _ = astroscrappy.detect_cosmics(sci, gain=1.0, readnoise=GMOS_READNOISE, satlevel=SATLEVEL)
        assert not np.array_equal(plain, expected)


def test_gmos_as_astroscrappys_own_test_runs_it_finds_its_two_cosmic_rays():
    # astroscrappy's test_gmos: gain 1.933 on these pixels, inbkg=SKYFIT, invar=VAR: exactly its 2 CRs.
    sci, var, sky = _gmos()
    expected, _ = astroscrappy.detect_cosmics(sci, inbkg=sky, invar=var, gain=GMOS_TEST_GAIN,
                                              readnoise=GMOS_READNOISE, satlevel=SATLEVEL)
    ccd = CCDData(sci, unit="adu", uncertainty=VarianceUncertainty(var))
    clean = crmask.cosmicray_clean(ccd, "lacosmic", gain=GMOS_TEST_GAIN, readnoise=GMOS_READNOISE,
                                   use_uncertainty=True, background=sky * u.adu)
    np.testing.assert_array_equal(clean.mask, expected)
    labels, count = ndimage.label(clean.mask)
    assert count == 2
    assert ndimage.find_objects(labels) == [(slice(41, 72), slice(142, 161)), (slice(117, 147), slice(35, 43))]


def test_gmos_with_sky_and_variance_equals_ccdproc_with_inbkg_and_invar():
    ccdproc = pytest.importorskip("ccdproc")
    sci, var, sky = _gmos()
    ccd = CCDData(sci, unit="electron", uncertainty=VarianceUncertainty(var))
    expected = ccdproc.cosmicray_lacosmic(ccd, gain=1.0, readnoise=GMOS_READNOISE, inbkg=sky, invar=var)
    clean = crmask.cosmicray_clean(ccd, "lacosmic", readnoise=GMOS_READNOISE, background=sky, use_uncertainty=True)
    assert expected.mask.sum() > 0
    np.testing.assert_array_equal(clean.mask, expected.mask)
    np.testing.assert_array_equal(clean.data[clean.mask], expected.data[clean.mask])


def test_crmask_detect_reads_the_sky_model_extension(tmp_path):
    sci, _, sky = _gmos()
    expected, _ = astroscrappy.detect_cosmics(sci, inbkg=sky, gain=1.0, readnoise=GMOS_READNOISE,
                                              satlevel=SATLEVEL)
    result = CliRunner().invoke(cli, ["detect", str(shared_path("gmos.fits")), "--hdu", "SCI", "--unit", "electron",
                                      "--readnoise", str(GMOS_READNOISE), "--background", "skyfit",
                                      "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    with fits.open(tmp_path / "gmos.fits") as hdul:
        np.testing.assert_array_equal(hdul["CRMASK"].data.astype(bool), expected)
        np.testing.assert_array_equal(hdul["SKYFIT"].data, sky)  # kept in the output


def test_crmask_detect_refuses_a_background_for_a_detector_without_one_before_any_work(tmp_path):
    result = CliRunner().invoke(cli, ["detect", str(shared_path("gmos.fits")), "--hdu", "SCI", "--unit", "electron",
                                      "-d", "deepcr", "--background", "SKYFIT", "-o", str(tmp_path / "out")])
    assert result.exit_code != 0
    assert "'deepcr' does not use a background model" in result.output
    assert not (tmp_path / "out").exists()


def test_crmask_detect_names_a_missing_sky_extension_in_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["detect", str(shared_path("gmos.fits")), "--hdu", "SCI", "--unit", "electron",
                                      "--readnoise", "4", "--background", "SKY", "-o", str(tmp_path)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "no image extension is named 'SKY'" in lines[0] and "SKYFIT" in lines[0]


def _frame(rng, sky=400.0, gain=2.0, readnoise=5.0, shape=(80, 90), star_sigma=(1.2, 1.2)):
    """A frame in adu with its sky, Poisson and read noise, a few stars (Gaussian, ``star_sigma`` = (y, x)
    pixels) and 4 one-pixel cosmic rays; returns the frame, its variance and its noiseless model."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    sy, sx = star_sigma
    model = np.full(shape, sky)
    for y, x, flux in ((20, 25, 4000.0), (55, 60, 8000.0), (40, 15, 2500.0)):
        model += flux * np.exp(-((yy - y) ** 2 / (2 * sy**2) + (xx - x) ** 2 / (2 * sx**2)))
    variance = model / gain + (readnoise / gain) ** 2
    data = (model + rng.normal(0.0, np.sqrt(variance))).astype(np.float32)
    for y, x in ((10, 70), (30, 40), (66, 20), (70, 80)):
        data[y, x] += 900.0
    return data, variance.astype(np.float32), model.astype(np.float32)


@pytest.mark.parametrize(
    "uncertainty",
    [VarianceUncertainty, lambda v: StdDevUncertainty(np.sqrt(v.astype(np.float64))),
     lambda v: InverseVariance(1.0 / v.astype(np.float64))],
    ids=["variance", "stddev", "inverse-variance"],
)
def test_invar_comes_from_every_kind_of_uncertainty(rng, uncertainty):
    data, variance, _ = _frame(rng)
    expected, _ = astroscrappy.detect_cosmics(data, invar=variance, gain=2.0, readnoise=5.0, satlevel=SATLEVEL)
    plain, _ = astroscrappy.detect_cosmics(data, gain=2.0, readnoise=5.0, satlevel=SATLEVEL)
    ccd = CCDData(data, unit="adu", uncertainty=uncertainty(variance))
    result = get_detector("lacosmic", gain=2.0, readnoise=5.0, use_uncertainty=True).detect(ccd)
    np.testing.assert_array_equal(result.mask, expected)
    off = get_detector("lacosmic", gain=2.0, readnoise=5.0).detect(ccd)  # by default, as ccdproc: not used
    np.testing.assert_array_equal(off.mask, plain)
    assert result.meta["invar"] and not off.meta["invar"]


def test_a_frame_with_its_variance_gets_no_sky_pedestal(rng):
    # Sky-subtracted: the Poisson model would need the sky back, but the variance says what the noise is.
    data, variance, _ = _frame(rng)
    data -= 400.0
    expected, _ = astroscrappy.detect_cosmics(data, invar=variance, gain=2.0, readnoise=5.0, satlevel=SATLEVEL)
    result = get_detector("lacosmic", gain=2.0, readnoise=5.0, use_uncertainty=True).detect(
        CCDData(data, unit="adu", uncertainty=VarianceUncertainty(variance)))
    assert result.meta["sky_pedestal"] == 0.0
    np.testing.assert_array_equal(result.mask, expected)
    assert get_detector("lacosmic", gain=2.0, readnoise=5.0).detect(CCDData(data, unit="adu")).meta["sky_pedestal"] > 0


@pytest.mark.parametrize("as_given", [lambda m: m, lambda m: m * u.adu, lambda m: NDData(m, unit="adu"),
                                      lambda m: CCDData(m, unit="adu"), lambda m: NDData(m)],
                         ids=["array", "quantity", "nddata", "ccddata", "nddata-without-unit"])
def test_the_background_is_accepted_in_every_astropy_form(rng, as_given):
    data, _, model = _frame(rng)
    expected, cleaned = astroscrappy.detect_cosmics(data, inbkg=model, gain=2.0, readnoise=5.0, satlevel=SATLEVEL)
    clean = crmask.cosmicray_clean(CCDData(data, unit="adu"), "lacosmic", gain=2.0, readnoise=5.0,
                                   background=as_given(model))
    np.testing.assert_array_equal(clean.mask, expected)
    np.testing.assert_array_equal(clean.data[expected], cleaned[expected])  # the sky stays in the cleaned data


def test_masked_pixels_of_the_inputs_are_ignored(rng):
    data, variance, model = _frame(rng)
    bad = np.zeros(data.shape, dtype=bool)
    bad[5, 5] = True
    variance[5, 5], model[5, 5] = np.nan, np.inf  # unusable values at a masked pixel are not an error
    ccd = CCDData(data, unit="adu", mask=bad, uncertainty=VarianceUncertainty(variance))
    result = get_detector("lacosmic", gain=2.0, readnoise=5.0, use_uncertainty=True).detect(ccd, background=model)
    assert not result.mask[5, 5]
    assert result.n_cr_pixels > 0


@pytest.mark.parametrize(
    "change, error, message",
    [
        ({"background": np.zeros((10, 10))}, InvalidImageError, r"background shape \(10, 10\) does not match"),
        ({"background": np.zeros((80, 90)) * u.electron}, InvalidImageError,
         "background has unit electron, which cannot be converted to the image unit adu"),
        ({"background": np.full((80, 90), np.nan)}, InvalidImageError, "background has 7200 non-finite values"),
        ({"uncertainty": VarianceUncertainty(np.full((80, 90), -1.0))}, InvalidImageError,
         r"uncertainty \(VarianceUncertainty\) has 7200 non-finite or non-positive values"),
        ({"uncertainty": UnknownUncertainty(np.ones((80, 90)))}, InvalidImageError,
         "uncertainty of type UnknownUncertainty gives no variance"),
        ({}, InvalidImageError, "use_uncertainty=True but the image has no uncertainty"),
    ],
    ids=["shape", "unit", "non-finite", "negative-variance", "unknown-uncertainty", "no-uncertainty"],
)
def test_bad_inputs_are_one_line_errors(rng, change, error, message):
    data, _, _ = _frame(rng)
    ccd = CCDData(data, unit="adu", uncertainty=change.get("uncertainty"))
    det = get_detector("lacosmic", gain=2.0, readnoise=5.0, use_uncertainty=True)
    with pytest.raises(error, match=message):
        det.detect(ccd, background=change.get("background"))


def test_an_uncertainty_that_is_not_used_is_not_read(rng):
    data, _, _ = _frame(rng)
    expected, _ = astroscrappy.detect_cosmics(data, gain=2.0, readnoise=5.0, satlevel=SATLEVEL)
    ccd = CCDData(data, unit="adu", uncertainty=UnknownUncertainty(np.ones(data.shape)))
    np.testing.assert_array_equal(get_detector("lacosmic", gain=2.0, readnoise=5.0).detect(ccd).mask, expected)


def test_a_background_given_to_a_detector_that_ignores_it_is_an_error():
    class Flat(crmask.Detector):
        name = "flat-test"
        summary = "flags nothing"

        def _detect(self, image):
            return crmask.MaskResult(mask=np.zeros(image.shape, dtype=bool))

    with pytest.raises(ValueError, match="detector 'flat-test' does not use a background model"):
        Flat().detect(CCDData(np.arange(16.0).reshape(4, 4), unit="adu"), background=np.zeros((4, 4)))


def _kernel(path, kernel):
    fits.writeto(path, np.asarray(kernel, dtype=np.float32))
    return str(path)


def test_psfk_from_a_file_equals_astroscrappy_with_that_kernel(rng, tmp_path):
    data, _, _ = _frame(rng, star_sigma=(1.6, 0.6))  # sharp, elongated stars
    yy, xx = np.mgrid[-3:4, -2:3]
    kernel = np.exp(-(yy**2 / (2 * 1.6**2) + xx**2 / (2 * 0.6**2))).astype(np.float32)  # their PSF, 7x5
    kernel /= kernel.sum()
    common = {"gain": 2.0, "readnoise": 5.0, "satlevel": SATLEVEL, "fsmode": "convolve", "objlim": 1.0}
    expected, _ = astroscrappy.detect_cosmics(data, psfk=kernel.copy(), **common)
    modelled, _ = astroscrappy.detect_cosmics(data, **common)
    assert expected.sum() < modelled.sum()  # the matched kernel protects the stars the round model flags
    det = get_detector("lacosmic", gain=2.0, readnoise=5.0, fsmode="convolve", objlim=1.0,
                       psfk=_kernel(tmp_path / "psf.fits", kernel))
    np.testing.assert_array_equal(det.detect(CCDData(data, unit="adu")).mask, expected)


@pytest.mark.parametrize("psfmodel", ["gauss", "gaussx", "gaussy", "moffat"])
def test_psf_models_equal_astroscrappy(rng, psfmodel):
    data, _, _ = _frame(rng)
    common = {"gain": 2.0, "readnoise": 5.0, "fsmode": "convolve", "psfmodel": psfmodel, "psffwhm": 3.0, "psfsize": 9,
                  "psfbeta": 3.0, "objlim": 1.5}
    expected, _ = astroscrappy.detect_cosmics(data, satlevel=SATLEVEL, **common)
    result = get_detector("lacosmic", **common).detect(CCDData(data, unit="adu"))
    np.testing.assert_array_equal(result.mask, expected)


def test_bad_psf_kernels_are_one_line_errors(tmp_path):
    with pytest.raises(ValueError, match="'psfk' is used only with fsmode='convolve'"):
        get_detector("lacosmic", psfk=_kernel(tmp_path / "a.fits", np.ones((3, 3))))
    with pytest.raises(InvalidImageError, match=r"odd sides, got shape \(4, 3\)"):
        get_detector("lacosmic", fsmode="convolve", psfk=_kernel(tmp_path / "b.fits", np.ones((4, 3))))
    with pytest.raises(InvalidImageError, match="finite with a positive sum"):
        get_detector("lacosmic", fsmode="convolve", psfk=_kernel(tmp_path / "c.fits", np.zeros((3, 3))))
    with pytest.raises(FITSReadError, match="not a readable FITS file"):
        get_detector("lacosmic", fsmode="convolve", psfk=str(tmp_path / "missing.fits"))


@pytest.mark.parametrize("how", ["parameter", "header", "quantity"])
def test_saturation_in_adu_reaches_astroscrappy_in_electrons(rng, how):
    # Stars peaking near 8400 adu on an adu frame of gain 2 (16800 e-), a cosmic ray on the brightest star's
    # wing; the detector saturates at 10000 adu (20000 e-), so nothing here is saturated. astroscrappy reads
    # satlevel in electrons: it must get 20000. Given 10000 it takes the star for a saturated one and masks it
    # whole, cosmic ray included.
    data, _, _ = _frame(rng, sky=400.0, gain=2.0)
    data[55, 63] += 3000.0
    assert 8000 < np.delete(data.ravel(), 55 * data.shape[1] + 63).max() < 10000
    header = {"SATURATE": 10000.0} if how == "header" else {}
    ccd = CCDData(data, unit=u.adu, meta=header)
    params = {"parameter": {"satlevel": 10000.0}, "header": {},
              "quantity": {"satlevel": 20000.0 * u.electron}}[how]
    result = get_detector("lacosmic", gain=2.0, readnoise=5.0, **params).detect(ccd)
    expected, _ = astroscrappy.detect_cosmics(data, gain=2.0, readnoise=5.0, satlevel=20000.0)
    wrong, _ = astroscrappy.detect_cosmics(data, gain=2.0, readnoise=5.0, satlevel=10000.0)
    assert expected[55, 63] and not wrong[55, 63]  # the unit matters on this frame
    np.testing.assert_array_equal(result.mask, expected)
    assert result.meta["satlevel"] == 20000.0
