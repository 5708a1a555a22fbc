"""deepCR's models by name: conformance, the package's own result, units, cosmic rays found."""

import warnings

import astropy.units as u
import numpy as np
import pytest
from astropy.nddata import CCDData

import crmask
from crmask import MissingCalibrationError
from crmask.inpaint import interpolate_bad_pixels
from crmask.testing import iter_checks

from .conftest import fraction_of_events_found

pytest.importorskip("deepCR", reason="deepCR is not installed (pip install 'crmask[published]')")

from deepCR import deepCR  # noqa: E402

from crmask_published.deepcr import DeepCRACSWFC, DeepCRDECam, DeepCRWFC3UVIS  # noqa: E402

CLASSES = (DeepCRACSWFC, DeepCRWFC3UVIS, DeepCRDECam)


@pytest.mark.parametrize(("cls", "check_name"),
                         [(cls, name) for cls in CLASSES for name, _ in iter_checks(cls)],
                         ids=lambda value: getattr(value, "name", value))
def test_conformance(cls, check_name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # deepcr-decam warns on the electron-unit check
        dict(iter_checks(cls))[check_name]()


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.name)
def test_finds_most_cosmic_rays_at_its_default_threshold(cls, frame):
    result = cls().detect(frame.ccd)
    assert fraction_of_events_found(result.mask, frame.crmask) >= 0.8
    assert np.count_nonzero(result.mask & frame.crmask) >= 0.5 * frame.crmask.sum()


@pytest.mark.parametrize(("cls", "model", "scale"),
                         [(DeepCRACSWFC, "ACS-WFC", 2.0), (DeepCRWFC3UVIS, "WFC3-UVIS", 2.0),
                          (DeepCRDECam, "decam", 1.0)],
                         ids=["acs-wfc", "wfc3-uvis", "decam"])
def test_result_is_deepcrs_own_on_the_model_unit(cls, model, scale, frame):
    # the frame is in adu with gain 2: the HST models get electrons, the DECam model adu
    given = (frame.ccd.data.astype(np.float64) * scale).astype(np.float32)
    package = deepCR(mask=model, device="CPU")
    result = cls(tile=128).detect(frame.ccd)
    expected = package.clean(given, inpaint=False, binary=False, segment=True, patch=128)
    np.testing.assert_array_equal(result.probability, expected.astype(np.float32))
    threshold = cls.parameters["threshold"].default
    binary = package.clean(given, threshold=threshold, inpaint=False, binary=True, segment=True, patch=128)
    np.testing.assert_array_equal(result.mask, binary.astype(bool))
    assert result.threshold == threshold and result.meta["package"] == "deepCR 0.3.1"


def test_whole_image_without_tiles_is_deepcrs_unsegmented_result(frame):
    given = (frame.ccd.data.astype(np.float64) * 2.0).astype(np.float32)
    expected = deepCR(mask="ACS-WFC", device="CPU").clean(given, inpaint=False, binary=False, segment=False)
    np.testing.assert_array_equal(DeepCRACSWFC(tile=None).detect(frame.ccd).probability, expected)


def test_an_adu_image_and_the_same_image_in_electrons_give_one_result(frame):
    electrons = CCDData(frame.ccd.data * 2.0, unit=u.electron)
    det = DeepCRACSWFC()
    np.testing.assert_array_equal(det.detect(frame.ccd).probability, det.detect(electrons).probability)


def test_electron_models_need_the_gain_and_decam_does_not(frame):
    no_gain = CCDData(frame.ccd.data, unit=u.adu)
    with pytest.raises(MissingCalibrationError, match="gain"):
        DeepCRACSWFC().detect(no_gain)
    np.testing.assert_array_equal(DeepCRDECam().detect(no_gain).mask, DeepCRDECam().detect(frame.ccd).mask)


def test_decam_warns_when_given_electrons(frame):
    with pytest.warns(UserWarning, match="decam model takes adu but the image is in electrons"):
        DeepCRDECam().detect(CCDData(frame.ccd.data * 2.0, unit=u.electron))


def test_masked_pixels_reach_the_model_in_painted_and_are_never_flagged(frame):
    ccd = frame.ccd.copy()
    ccd.mask = np.zeros(ccd.shape, dtype=bool)
    ccd.mask[:, 100] = True
    ccd.data[:, 100] = 60000.0  # a saturated bad column, masked
    result = DeepCRACSWFC().detect(ccd)
    assert not result.mask[:, 100].any() and not result.probability[:, 100].any()
    filled = interpolate_bad_pixels(frame.ccd.data, ccd.mask)  # the column interpolated along the rows
    expected = DeepCRACSWFC().detect(CCDData(filled, unit=u.adu, header=frame.ccd.header)).probability
    expected[:, 100] = 0
    np.testing.assert_array_equal(result.probability, expected)


def test_listed_as_available_and_created_by_name_when_installed(registered):
    infos = {info.name: info for info in crmask.list_detectors("mask")}
    assert all(infos[cls.name].available and infos[cls.name].plugin == "published" for cls in CLASSES)
    det = crmask.get_detector("deepcr-acs-wfc", threshold=0.3)
    assert isinstance(det, DeepCRACSWFC) and det.get_params()["threshold"] == 0.3
