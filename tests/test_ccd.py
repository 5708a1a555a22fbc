"""Bad input gets a clear error naming the problem."""

import astropy.units as u
import numpy as np
import pytest
from astropy.nddata import CCDData, StdDevUncertainty

from crmask import InvalidImageError, MissingCalibrationError, prepare_image


def ccd(data, unit=u.adu, **header):
    return CCDData(np.asarray(data), unit=unit, header=header)


@pytest.fixture
def noise(rng):
    return rng.normal(100, 5, (20, 30))


def test_integer_and_big_endian_data_become_native_floats(noise):
    for dtype in (">i2", ">f8", "<u2", ">i4"):
        image = prepare_image(ccd(noise.astype(dtype), GAIN=2.0, RDNOISE=5.0), needs=("gain", "readnoise"))
        assert image.data.dtype.kind == "f" and image.data.dtype.isnative
        np.testing.assert_array_equal(image.data, noise.astype(dtype).astype(float))


def test_nan_and_inf_pixels_are_masked_and_replaced(noise):
    data = noise.copy()
    data[3, 4], data[5, 6] = np.nan, np.inf
    image = prepare_image(ccd(data))
    assert image.bad[3, 4] and image.bad[5, 6] and image.bad.sum() == 2
    assert np.isfinite(image.data).all()


def test_existing_mask_becomes_bad(noise):
    mask = np.zeros(noise.shape, dtype=bool)
    mask[0, :] = True
    image = prepare_image(CCDData(noise, unit="adu", mask=mask))
    np.testing.assert_array_equal(image.bad, mask)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (np.ones(10), "image must be 2-D, got 1-D"),
        (np.ones((2, 5, 5)), "image must be 2-D, got 3-D"),
        (np.zeros((10, 10)), r"image is constant \(every good pixel is 0.0\)"),
        (np.full((10, 10), 7.0), "image is constant"),
        (np.full((10, 10), np.nan), "no finite, unmasked pixels"),
        (np.ones((2, 10)) * np.arange(10), "too small"),
        (np.ones((5, 5), dtype=bool), "dtype bool"),
    ],
)
def test_bad_images_are_rejected_with_a_clear_message(data, message):
    with pytest.raises(InvalidImageError, match=message):
        prepare_image(ccd(data))


@pytest.mark.parametrize("unit", [u.electron / u.s, u.Jy, u.dimensionless_unscaled])
def test_unsupported_units_are_rejected(noise, unit):
    with pytest.raises(InvalidImageError, match="use 'adu' or 'electron'"):
        prepare_image(ccd(noise, unit=unit))


def test_gain_explicit_beats_header_beats_error(noise):
    assert prepare_image(ccd(noise, GAIN=1.9), gain=2.5).gain == 2.5
    assert prepare_image(ccd(noise, GAIN=1.9)).gain == 1.9
    assert prepare_image(ccd(noise, EPERDN=2.45)).gain == 2.45
    with pytest.raises(MissingCalibrationError, match="gain is not known: pass gain=... explicitly or add a GAIN"):
        prepare_image(ccd(noise), needs=("gain",))


def test_readnoise_from_either_keyword_and_adu_quantity_converted(noise):
    assert prepare_image(ccd(noise, READNOIS=4.0)).readnoise == 4.0
    assert prepare_image(ccd(noise, RDNOISE=6.0, READNOIS=4.0)).readnoise == 6.0
    assert prepare_image(ccd(noise, GAIN=2.0), readnoise=3 * u.adu).readnoise == 6.0
    with pytest.raises(MissingCalibrationError, match="readnoise is not known"):
        prepare_image(ccd(noise, GAIN=2.0), needs=("readnoise",))


def test_header_value_that_is_not_a_positive_number_is_an_error(noise):
    with pytest.raises(MissingCalibrationError, match="GAIN='high' is not a number"):
        prepare_image(ccd(noise, GAIN="high"))
    with pytest.raises(MissingCalibrationError, match="not a positive gain"):
        prepare_image(ccd(noise, GAIN=0.0))


def test_electron_image_is_never_multiplied_by_the_gain_again(noise):
    image = prepare_image(ccd(noise, unit=u.electron, GAIN=2.0), needs=("gain",))
    assert image.gain == 1.0
    np.testing.assert_array_equal(image.in_electrons, noise)
    with pytest.raises(InvalidImageError, match="already in electrons but gain=2.0"):
        prepare_image(ccd(noise, unit=u.electron), gain=2.0)


def test_not_a_ccddata():
    with pytest.raises(InvalidImageError, match="expected an astropy.nddata.CCDData, got ndarray"):
        prepare_image(np.ones((5, 5)))


def test_ccdproc_style_meta_with_value_comment_pairs(noise):
    # ccdproc steps leave CCDData.meta as a plain dict of (value, comment) pairs.
    image = CCDData(noise, unit="adu", meta={"GAIN": (2.0, "e-/adu"), "RDNOISE": (5.0, "e-"), "OBJECT": "m31"})
    prepared = prepare_image(image, needs=("gain", "readnoise"))
    assert prepared.gain == 2.0 and prepared.readnoise == 5.0
    assert prepared.header.comments["GAIN"] == "e-/adu"


def test_uncertainty_of_another_shape_is_refused():
    ccd = CCDData(np.ones((4, 5)), unit="adu", uncertainty=StdDevUncertainty(np.ones((4, 5))))
    ccd.data = np.arange(36.0).reshape(6, 6)  # astropy checks the uncertainty's shape only when it is set
    with pytest.raises(InvalidImageError, match=r"uncertainty shape \(4, 5\) does not match image shape \(6, 6\)"):
        prepare_image(ccd)


def test_pixel_noise_is_the_noise_of_a_pixel_not_the_spread_of_the_scene(rng):
    from crmask.ccd import pixel_noise

    noise = rng.normal(0.0, 7.0, (300, 400))
    scene = noise + np.linspace(0.0, 5000.0, 400)[None, :] + 3000.0 * (np.arange(300) % 60 < 20)[:, None]
    good = np.ones(scene.shape, dtype=bool)
    assert pixel_noise(scene, good) == pytest.approx(7.0, rel=0.03)  # gradient and bands cancel
    assert scene.std() > 1000.0
    good[:, ::2] = False  # no two adjacent good pixels: nothing to measure
    assert pixel_noise(scene, good) == 0.0


def test_input_bad_pixels_is_the_rule_prepare_image_applies(noise):
    from crmask.ccd import input_bad_pixels

    data = noise.astype(">f4")
    data[3, 4], data[5, 6] = np.nan, -np.inf
    mask = np.zeros(noise.shape, dtype=bool)
    mask[0, :] = True
    image = CCDData(data, unit="adu", mask=mask)
    expected = mask.copy()
    expected[3, 4] = expected[5, 6] = True
    np.testing.assert_array_equal(input_bad_pixels(image), expected)
    np.testing.assert_array_equal(prepare_image(image).bad, expected)
    image.data = np.ones((6, 6)) * np.arange(6)  # astropy checks the mask's shape only when it is set
    for function in (input_bad_pixels, prepare_image):
        with pytest.raises(InvalidImageError,
                           match=r"mask shape \(20, 30\) does not match image shape \(6, 6\)"):
            function(image)
