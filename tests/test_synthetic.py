import astropy.units as u
import numpy as np
import pytest
from scipy import ndimage

from crmask.data.footprints import load_footprints
from crmask.data.synthetic import FrameSpec, _render_psf, bleed_columns, make_frame, render_tracks, resolved_spiral

from .conftest import shared_path

EMPTY = dict(star_density=0, saturated_density=0, galaxy_density=0, hot_fraction=0, cr_density=0)


def test_header_units_and_reproducibility():
    spec = FrameSpec(gain=1.7, readnoise=4.0, exptime=90.0)
    frame = make_frame((64, 96), spec, rng=np.random.default_rng(5))
    ccd = frame.ccd
    assert ccd.unit == u.adu and ccd.data.dtype == np.float32 and ccd.shape == (64, 96)
    for key, value in {"GAIN": 1.7, "RDNOISE": 4.0, "EXPTIME": 90.0, "SATURATE": spec.satlevel}.items():
        assert ccd.header[key] == pytest.approx(value)
    assert ccd.header["INSTRUME"] == "crmask-synthetic"
    for mask in (frame.crmask, frame.starmask, frame.saturated, frame.hot, frame.faint):
        assert mask.dtype == bool and mask.shape == (64, 96)
    again = make_frame((64, 96), spec, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(again.ccd.data, ccd.data)
    np.testing.assert_array_equal(again.crmask, frame.crmask)
    other = make_frame((64, 96), spec, rng=np.random.default_rng(6))
    assert not np.array_equal(other.ccd.data, ccd.data)


def test_blank_frame_has_the_declared_noise(rng):
    spec = FrameSpec(sky=300.0, dark=10.0, readnoise=6.0, gain=2.0, sky_gradient=0.0, **EMPTY)
    frame = make_frame((256, 256), spec, rng=rng)
    electrons = frame.ccd.data * 2.0
    assert electrons.mean() == pytest.approx(310.0, abs=0.5)
    assert electrons.std() == pytest.approx(np.sqrt(6.0**2 + 310.0), rel=0.02)
    assert not frame.crmask.any() and not frame.starmask.any()


def test_cosmic_ray_truth_stands_above_the_noise(rng):
    lib = load_footprints(shared_path("cr_footprints_itl.fits.gz"), "test")
    spec = FrameSpec(sky=200.0, dark=0.0, sky_gradient=0.0, **{**EMPTY, "cr_density": 400.0})
    frame = make_frame((300, 300), spec, rng=rng, footprints=lib)
    sigma = np.sqrt(spec.readnoise**2 + 200.0)
    z = (frame.ccd.data * spec.gain - 200.0) / sigma
    assert frame.crmask.sum() > 100
    assert np.median(z[frame.crmask]) > 3.0
    clean = ~(frame.crmask | frame.faint)
    assert z[clean].std() == pytest.approx(1.0, abs=0.05)  # CR-free pixels are pure noise


def test_psf_flux_and_fwhm():
    spec = FrameSpec(seeing=4.0, psf="gaussian")
    star = _render_psf((61, 61), np.array([30.0]), np.array([30.0]), np.array([1000.0]), spec, radius=25)
    assert star.sum() == pytest.approx(1000.0, rel=1e-3)
    row = star[30]
    above = np.flatnonzero(row >= row.max() / 2)
    # FWHM from the half-maximum crossings, linearly interpolated.
    left = above[0] - (row[above[0]] - row.max() / 2) / (row[above[0]] - row[above[0] - 1])
    right = above[-1] + (row[above[-1]] - row.max() / 2) / (row[above[-1]] - row[above[-1] + 1])
    assert right - left == pytest.approx(4.0, rel=0.05)
    moffat = _render_psf((61, 61), np.array([30.0]), np.array([30.0]), np.array([1.0]),
                         FrameSpec(seeing=4.0, moffat_beta=3.0), radius=30)
    assert moffat[30, 30 + 2] == pytest.approx(moffat[30, 30] / 2, rel=1e-6)  # half max at FWHM/2


def test_bleed_hand_computed():
    column = np.zeros((12, 1))
    column[5, 0] = 5.0  # 4 units of excess with full well 1
    bleed_columns(column, 1.0)
    np.testing.assert_allclose(column[:, 0], [0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0])
    edge = np.zeros((3, 1))
    edge[0, 0] = 7.0  # half of the excess leaves the device
    bleed_columns(edge, 1.0)
    np.testing.assert_allclose(edge[:, 0], [1, 1, 1])


def test_saturated_stars_bleed_along_columns(rng):
    spec = FrameSpec(**{**EMPTY, "saturated_density": 60.0}, saturated_peak=(20.0, 40.0))
    frame = make_frame((256, 256), spec, rng=rng)
    assert frame.saturated.any()
    assert np.all(frame.ccd.data <= spec.satlevel)
    labels, n = ndimage.label(frame.saturated)
    extents = [(s[0].stop - s[0].start, s[1].stop - s[1].start) for s in ndimage.find_objects(labels)]
    tall = [h > w for h, w in extents]
    assert n > 0 and np.mean(tall) > 0.8
    assert (frame.starmask & frame.saturated).sum() > 0


def test_tracks_straight_and_curling(rng):
    straight = render_tracks((400, 400), 1, rng, length=(100, 100), dqdl=500, worm_fraction=0.0, diffusion=0.0)
    y, x = np.nonzero(straight)
    coords = np.stack([y, x]).astype(float)
    evals = np.linalg.eigvalsh(np.cov(coords, aweights=straight[y, x]))
    assert evals[1] / max(evals[0], 1e-9) > 100  # a line
    many = render_tracks((1000, 1000), 300, rng, length=(10, 10), dqdl=500, worm_fraction=0.0, diffusion=0.0)
    # 21 steps of 0.5 px per track; log-normal (sigma 0.5) charge per length has mean exp(0.125)
    assert many.sum() == pytest.approx(300 * 500 * 10.5 * np.exp(0.125), rel=0.1)
    worm = render_tracks((2000, 2000), 200, rng, length=(100, 100), worm_fraction=1.0, curl=0.5, diffusion=0.0)
    line = render_tracks((2000, 2000), 200, rng, length=(100, 100), worm_fraction=0.0, diffusion=0.0)
    # worms are compact: their pixels cover a smaller span than the straight tracks'
    def mean_extent(img):
        labels, _ = ndimage.label(img > 0, structure=np.ones((3, 3)))
        return np.mean([max(s[0].stop - s[0].start, s[1].stop - s[1].start) for s in ndimage.find_objects(labels)])
    assert mean_extent(worm) < 0.8 * mean_extent(line)


@pytest.mark.parametrize("field,value", [("gain", 0), ("psf", "airy"), ("track_fraction", 1.5), ("star_flux_range", (5, 1))])
def test_spec_validation(field, value):
    with pytest.raises(ValueError, match=field):
        FrameSpec(**{field: value})


def test_too_small_frame(rng):
    with pytest.raises(ValueError, match="16x16"):
        make_frame((8, 100), rng=rng)


def test_a_resolved_spiral_has_a_bright_centre_arms_and_point_like_knots(rng):
    spec = FrameSpec(seeing=2.5, psf="gaussian")
    light = resolved_spiral((400, 400), spec, rng)
    assert light.shape == (400, 400) and light.min() >= 0
    smooth = ndimage.gaussian_filter(light, 6.0)
    # the centre (the brightest smooth pixel) is well inside the frame and far above the outskirts
    cy, cx = np.unravel_index(np.argmax(smooth), smooth.shape)
    assert 20 <= cy < 380 and 20 <= cx < 380
    assert smooth[cy, cx] > 20 * np.percentile(smooth, 10)
    # knots: compact peaks standing above the galaxy's smooth light, each no sharper than the PSF
    excess = light - ndimage.gaussian_filter(light, 4.0)
    peaks = (excess == ndimage.maximum_filter(excess, 5)) & (excess > 0.2 * light)
    assert peaks.sum() >= 20
    ys, xs = np.nonzero(peaks)
    ratio = light[ys, xs] / np.maximum(light[ys, np.minimum(xs + 1, 399)], 1e-9)
    assert np.median(ratio) < 2.0  # a 2.5 px PSF: the next pixel keeps well over half the peak


def test_no_resolved_galaxy_draws_no_random_number():
    spec = FrameSpec(resolved_galaxies=0.0)
    first, second = np.random.default_rng(4), np.random.default_rng(4)
    make_frame((64, 64), spec, rng=first)
    make_frame((64, 64), FrameSpec(), rng=second)
    assert first.random() == second.random()
