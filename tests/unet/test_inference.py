"""Tiled inference, normalisation, bad pixels, devices and parameters of the U-Net detectors."""

from __future__ import annotations

import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.nddata import CCDData
from scipy import ndimage

torch = pytest.importorskip("torch")

import crmask  # noqa: E402
from crmask_unet.detector import background_noise, normalise  # noqa: E402
from crmask_unet.weights import WeightsError  # noqa: E402

#: The real SPRAT frame bundled with the examples (raw adu, gain 2.45 e-/adu).
EXAMPLE_FRAME = Path(__file__).resolve().parents[2] / "examples" / "data" / "v_e_20180810_12_1_0_0.fits.gz"


def _sky_image(rng, shape=(160, 200)):
    image = rng.normal(500.0, 20.0, shape).astype(np.float32)
    image[50, 60] += 5000.0
    image[120:126, 150] += 3000.0
    return image


def test_tiled_equals_whole_image_inference(deepcr_weights, rng):
    path, model = deepcr_weights
    image = _sky_image(rng)
    bad = np.zeros(image.shape, dtype=bool)
    whole = crmask.get_detector("att-deepcr", weights=str(path), tile=512, overlap=32, threads=1)
    tiled = crmask.get_detector("att-deepcr", weights=str(path), tile=96, overlap=32, threads=1)
    assert tiled.model()[1].config.receptive_radius <= 32
    p_whole, p_tiled = whole.probability(image, bad), tiled.probability(image, bad)
    # 96-pixel tiles with 32-pixel cores: 5 x 7 tiles, every seam inside the compared area
    np.testing.assert_allclose(p_tiled, p_whole, atol=2e-6, rtol=0)
    # the default context is the receptive radius, all the network needs
    auto = crmask.get_detector("att-deepcr", weights=str(path), tile=96, threads=1)
    assert auto.overlap() == auto.model()[1].config.receptive_radius == 24
    np.testing.assert_allclose(auto.probability(image, bad), p_whole, atol=2e-6, rtol=0)
    # and the stitched map is the network applied to the whole normalised image
    x = torch.from_numpy(image / 100.0)[None, None]
    direct = model.eval()(x.float()).sigmoid()[0, 0].detach().numpy()
    np.testing.assert_allclose(p_whole, direct, atol=2e-6, rtol=0)


@pytest.mark.parametrize("mirrors", ["left-right", "up-down", "half-turn", "all"])
def test_mirrors_average_the_probabilities_of_the_mirror_images(deepcr_weights, rng, mirrors):
    path, _ = deepcr_weights  # input in units of 100 e-: the mirror image's input is the input's mirror image
    image = _sky_image(rng)  # 160 x 200, a multiple of the network's 8 pixels: no padding to mirror
    one = crmask.get_detector("att-deepcr", weights=str(path), mirrors="none", threads=1)
    views = {"left-right": [(slice(None), slice(None, None, -1))], "up-down": [(slice(None, None, -1), slice(None))],
             "half-turn": [(slice(None, None, -1), slice(None, None, -1))]}
    views["all"] = [v for key in ("left-right", "up-down", "half-turn") for v in views[key]]
    images = [(slice(None), slice(None)), *views[mirrors]]
    expected = np.mean([one.probability(np.ascontiguousarray(image[v]))[v] for v in images], axis=0)
    mirrored = crmask.get_detector("att-deepcr", weights=str(path), mirrors=mirrors, threads=1)
    np.testing.assert_allclose(mirrored.probability(image), expected, atol=2e-6, rtol=0)
    assert np.abs(expected - one.probability(image)).max() > 1e-3  # an untrained network is far from symmetric


def test_mirrors_default_to_the_model_card(deepcr_weights, rng, tmp_path):
    from crmask_unet.weights import Normalisation, save_weights

    path, model = deepcr_weights
    carded = save_weights(tmp_path / "att-deepcr-mirrored.safetensors", model, "deepcr", Normalisation("scale", 100.0),
                          threshold=0.5, mirrors="half-turn")
    image = _sky_image(rng)
    default = crmask.get_detector("att-deepcr", weights=str(carded), threads=1)
    assert default.mirrors() == "half-turn"
    assert crmask.get_detector("att-deepcr", weights=str(path), threads=1).mirrors() == "none"
    np.testing.assert_array_equal(
        default.probability(image),
        crmask.get_detector("att-deepcr", weights=str(path), mirrors="half-turn", threads=1).probability(image))
    result = default.detect(CCDData(image, unit=u.electron))
    assert result.meta["mirrors"] == "half-turn"
    assert crmask.get_detector("att-deepcr", weights=str(carded), mirrors="none", threads=1).mirrors() == "none"


def test_normalisation_follows_the_originals(rng):
    image = rng.normal(1000.0, 10.0, (32, 32))
    bad = np.zeros(image.shape, dtype=bool)
    bad[3, 4] = True
    image[3, 4] = 1e9
    scaled = normalise(image, bad, "scale", 100.0)
    centred = normalise(image, bad, "median", 1.0)
    good_median = np.median(image[~bad])
    np.testing.assert_allclose(scaled[~bad], image[~bad] / 100.0, rtol=1e-6)
    np.testing.assert_allclose(centred[~bad], image[~bad] - good_median, atol=1e-3)
    # a lone bad pixel takes the mean of its left and right neighbours (equal gaps: along the row)
    between = (image[3, 3] + image[3, 5]) / 2
    assert scaled[3, 4] == pytest.approx(between / 100.0, rel=1e-6)
    assert centred[3, 4] == pytest.approx(between - good_median, abs=1e-3)


def test_masked_pixels_continue_the_scene_around_them():
    """A masked line across a plane is filled with the plane, not with the image median (a groove)."""
    y, x = np.mgrid[:40, :50]
    image = 100.0 + 30.0 * x + 20.0 * y
    bad = np.zeros(image.shape, dtype=bool)
    bad[20] = True
    image[20] = 0.0  # a dead line
    filled = normalise(image, bad, "scale", 1.0)
    np.testing.assert_allclose(filled[20], 100.0 + 30.0 * x[20] + 20.0 * 20, rtol=1e-6)


@pytest.mark.parametrize("sky, readnoise", [(10.0, 3.0), (100.0, 5.0), (3000.0, 10.0)])
def test_noise_units_make_the_background_unit_normal(rng, sky, readnoise):
    image = rng.poisson(sky, (256, 256)) + rng.normal(0.0, readnoise, (256, 256))
    z = normalise(image, np.zeros(image.shape, dtype=bool), "noise", 1.0)
    assert np.median(z) == pytest.approx(0.0, abs=0.05)
    assert z.std() == pytest.approx(1.0, abs=0.03)
    assert background_noise(image, np.ones(image.shape, dtype=bool)) == pytest.approx(
        np.sqrt(sky + readnoise**2), rel=0.03)


def test_noise_units_of_a_source_include_its_poisson_noise(rng):
    image = rng.normal(0.0, 10.0, (128, 128))  # background noise 10 e-
    image[40, 40] = np.median(image) + 1000.0  # 1000 e- above the background
    bad = np.zeros(image.shape, dtype=bool)
    bad[0, 0], image[0, 0] = True, 1e9
    z = normalise(image, bad, "noise", 1.0)
    sigma = background_noise(image, ~bad)
    assert sigma == pytest.approx(10.0, rel=0.05)
    assert z[40, 40] == pytest.approx(1000.0 / np.sqrt(sigma**2 + 1000.0 - 2 * sigma), rel=1e-4)
    assert abs(z[0, 0]) < 3.0  # a bad pixel in the sky looks like sky


def test_noise_units_are_the_same_for_tiles_and_whole_image(rng, tmp_path):
    from crmask_unet.model import UNet, UNetConfig
    from crmask_unet.weights import Normalisation, save_weights

    torch.manual_seed(0)
    model = UNet(UNetConfig(depth=3, width=4, norm="batch"))
    path = save_weights(tmp_path / "noise.safetensors", model, "deepcr", Normalisation("noise"), threshold=0.5)
    image = _sky_image(rng)
    image[:, :40] += 300.0  # a background step: statistics of one tile differ from the image's
    bad = np.zeros(image.shape, dtype=bool)
    whole = crmask.get_detector("deepcr", weights=str(path), tile=512, overlap=32, threads=1)
    tiled = crmask.get_detector("deepcr", weights=str(path), tile=96, overlap=32, threads=1)
    np.testing.assert_allclose(tiled.probability(image, bad), whole.probability(image, bad), atol=2e-6, rtol=0)


def test_group_norm_models_see_the_whole_image_whatever_the_tile(cosmic_weights, rng):
    path, model = cosmic_weights
    image = _sky_image(rng)
    image[:, :40] += 300.0  # a background step: the statistics of a tile differ from the image's
    bad = np.zeros(image.shape, dtype=bool)
    maps = [crmask.get_detector("att-cosmic-conn" if model.config.attention else "cosmic-conn", weights=str(path),
                                tile=tile, threads=1).probability(image, bad) for tile in (64, 96, 512)]
    # the network applied to the whole median-subtracted image, as in validation during training
    x = torch.from_numpy(((image - np.median(image)) / 100.0).astype(np.float32))[None, None]
    direct = model.eval()(x).sigmoid()[0, 0].detach().numpy()
    for probability in maps:
        np.testing.assert_allclose(probability, direct, atol=1e-5, rtol=0)


def test_group_norm_models_normalise_large_images_in_blocks(cosmic_weights, rng):
    path, model = cosmic_weights
    image = _sky_image(rng, shape=(300, 260))
    bad = np.zeros(image.shape, dtype=bool)
    blocks = crmask.get_detector("cosmic-conn", weights=str(path), block_pixels=128 * 128, threads=1)
    probability = blocks.probability(image, bad)
    # blocks of at most 128 pixels with 24 of context on each side are normalised on their own: the first
    # block reads [0, 104) (its 80-pixel core and the context after it), and its core is the network
    # applied to that block alone
    x = torch.from_numpy(((image - np.median(image)) / 100.0).astype(np.float32))[None, None, :104, :104]
    first = model.eval()(x).sigmoid()[0, 0].detach().numpy()
    np.testing.assert_allclose(probability[:80, :80], first[:80, :80], atol=1e-5, rtol=0)
    whole = crmask.get_detector("cosmic-conn", weights=str(path), threads=1).probability(image, bad)
    assert np.abs(probability - whole).max() > 1e-3  # a block's statistics are not the image's


def test_result_records_threshold_probability_and_mask(cosmic_weights, rng):
    path, _ = cosmic_weights
    ccd = CCDData(_sky_image(rng), unit=u.electron)
    result = crmask.get_detector("cosmic-conn", weights=str(path), threshold=0.3).detect(ccd)
    assert result.threshold == 0.3 and result.meta["threshold"] == 0.3
    assert result.probability.dtype == np.float32 and result.probability.shape == ccd.shape
    np.testing.assert_array_equal(result.mask, result.probability >= 0.3)
    assert result.meta["weights"] == str(path)


def test_threshold_defaults_to_the_model_card(cosmic_weights, rng):
    path, _ = cosmic_weights
    result = crmask.get_detector("cosmic-conn", weights=str(path)).detect(
        CCDData(_sky_image(rng), unit=u.electron))
    assert result.threshold == 0.5  # recorded in the weights file's metadata


def test_bad_and_nan_pixels_are_never_flagged(cosmic_weights, rng):
    path, _ = cosmic_weights
    image = _sky_image(rng)
    image[10, 10] = np.nan
    mask = np.zeros(image.shape, dtype=bool)
    mask[118:128, 145:155] = True
    result = crmask.get_detector("cosmic-conn", weights=str(path), threshold=0.0).detect(
        CCDData(image, unit=u.electron, mask=mask))
    assert not result.mask[10, 10] and not (result.mask & mask).any()
    assert result.probability[10, 10] == 0.0 and np.isfinite(result.probability).all()
    # the map alone, as the validation scripts read it, is 0 at the pixels it is told to ignore
    detector = crmask.get_detector("cosmic-conn", weights=str(path))
    prob = detector.probability(np.nan_to_num(image, nan=500.0), mask)
    assert (prob[mask] == 0).all() and prob[~mask].max() > 0


def test_images_in_adu_are_converted_with_the_gain(deepcr_weights, rng):
    path, _ = deepcr_weights
    electrons = _sky_image(rng)
    det = crmask.get_detector("att-deepcr", weights=str(path))
    in_e = det.detect(CCDData(electrons, unit=u.electron)).probability
    in_adu = det.detect(CCDData(electrons / 2.5, unit=u.adu, header={"GAIN": 2.5})).probability
    np.testing.assert_allclose(in_adu, in_e, atol=1e-5)


def test_missing_gain_is_a_clear_error(deepcr_weights, rng):
    path, _ = deepcr_weights
    with pytest.raises(crmask.MissingCalibrationError, match="gain"):
        crmask.get_detector("att-deepcr", weights=str(path)).detect(CCDData(_sky_image(rng), unit=u.adu))


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_a_clear_error():
    with pytest.raises(ValueError, match="'device' is 'cuda'.*no CUDA device"):
        crmask.get_detector("deepcr", device="cuda")


@pytest.mark.parametrize(
    ("params", "message"),
    [({"tile": 102}, "'tile' must be a multiple of 4"),
     ({"overlap": 30}, "'overlap' must be a multiple of 4"),
     ({"tile": 64, "overlap": 32}, "tile > 2 \\* overlap"),
     ({"threshold": 1.5}, "'threshold'"),
     ({"device": "tpu"}, "'device'"),
     ({"mirrors": "diagonal"}, "'mirrors'")],
)
def test_invalid_parameters_name_the_problem(params, message):
    with pytest.raises(ValueError, match=message):
        crmask.get_detector("deepcr", **params)


def test_weights_of_another_architecture_are_refused(cosmic_weights, rng):
    path, _ = cosmic_weights
    det = crmask.get_detector("att-deepcr", weights=str(path))
    with pytest.raises(WeightsError, match="'cosmic-conn' model.*needs 'att-deepcr' weights"):
        det.detect(CCDData(_sky_image(rng), unit=u.electron))


def test_importing_the_plugin_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, crmask, crmask_unet; crmask.list_detectors(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_building_and_checking_a_training_configuration_does_not_import_torch():
    """``crmask train unet --help`` and a bad option's message need no torch: the config checks the patch size."""
    import subprocess
    import sys

    code = ("import sys; from crmask_unet.config import TrainConfig\n"
            "try:\n    TrainConfig(patch=130)\nexcept ValueError as exc:\n    print(exc)\n"
            "print(TrainConfig().unet_config().multiple, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["patch 130 must be a multiple of 4", "4 False"]


@pytest.mark.parametrize("name", ["deepcr", "att-deepcr", "cosmic-conn", "att-cosmic-conn"])
def test_prepared_network_equals_the_trained_one_on_a_real_frame(name):
    """Folded batch norms and channels-last change the shipped models' probabilities by float rounding only."""
    from crmask.io import read_ccd

    ccd = read_ccd(EXAMPLE_FRAME, unit="adu")
    electrons = np.asarray(ccd.data[:, :512], dtype=np.float64) * 2.45
    detector = crmask.get_detector(name, threads=1)
    loaded, prepared = detector.model()
    trained = loaded.network()  # the network as trained, its fixed group statistics (if any) unfolded
    x = torch.from_numpy(normalise(electrons[:252], np.zeros((252, 512), bool), loaded.normalisation.scheme,
                                   loaded.normalisation.scale))[None, None]
    expected = trained.eval()(x).sigmoid()[0, 0].detach().numpy()
    got = prepared.predict_proba(x.contiguous(memory_format=torch.channels_last))[0, 0].numpy()
    # group norm sums its statistics in another order in channels-last layout: rounding of the variance of
    # feature maps with cosmic rays hundreds of sigma high reaches ~1e-4; the bound of the fast paths is 1e-3
    # (fixed group statistics are folded as batch norms are)
    atol = 1e-5 if loaded.config.norm == "batch" or loaded.group_statistics is not None else 1e-3
    np.testing.assert_allclose(got, expected, atol=atol, rtol=0)
    assert expected.max() > 0.5  # the frame's cosmic rays are in the compared area


def test_fold_batch_norm_folds_every_conv_norm_pair(deepcr_weights, cosmic_weights):
    from crmask_unet.inference import fold_batch_norm

    _, batch_model = deepcr_weights
    with pytest.raises(ValueError, match="evaluation mode"):
        fold_batch_norm(batch_model.train())
    norms = sum(isinstance(m, torch.nn.BatchNorm2d) for m in batch_model.modules())
    # every DoubleConv norm (2 per block, 5 blocks) and the three gate-input norms of each of the 2 gates;
    # each gate's norm of the gated product follows no convolution and stays
    assert fold_batch_norm(batch_model.eval()) == norms - 2 == 2 * 5 + 3 * 2
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in batch_model.modules()) == 2
    _, group_model = cosmic_weights
    assert fold_batch_norm(group_model.eval()) == 0


@pytest.mark.parametrize("value", [3e38, 1e30])
def test_a_huge_pixel_is_flagged_and_hidden_from_the_network(value, rng):
    image = _sky_image(rng, (192, 192))
    detector = crmask.get_detector("deepcr", gain=2.0, threads=1)
    masked = np.zeros(image.shape, dtype=bool)
    masked[96, 96] = True
    # the network sees a bad pixel interpolated from its neighbours: so it must see the corrupt one
    reference = detector.detect(CCDData(image, unit=u.adu, mask=masked)).probability
    corrupt = image.copy()
    corrupt[96, 96] = value  # float32 adu: times the gain it overflows float32
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or invalid-value warning either
        probability = detector.detect(CCDData(corrupt, unit=u.adu)).probability
    assert np.isfinite(probability).all()
    assert probability[96, 96] == 1.0  # flagged: a value no pixel can hold
    np.testing.assert_allclose(probability[~masked], reference[~masked], atol=1e-6, rtol=0)


def test_non_finite_probabilities_are_an_error(rng, tmp_path):
    from crmask_unet.model import UNet, UNetConfig
    from crmask_unet.weights import Normalisation, save_weights

    model = UNet(UNetConfig(depth=2, width=4, norm="none"))
    with torch.no_grad():  # finite weights (non-finite ones are refused at load) whose activations overflow
        for conv in (model.inc[0], model.inc[3], model.outc):
            conv.weight.mul_(1e30)
    path = save_weights(tmp_path / "nan.safetensors", model, "deepcr", Normalisation("noise"), threshold=0.5)
    detector = crmask.get_detector("deepcr", weights=str(path), gain=1.0)
    with pytest.raises(FloatingPointError, match="non-finite probabilities"):
        detector.detect(CCDData(_sky_image(rng), unit=u.electron))


def test_progress_shows_the_tiles_of_a_long_inference_and_is_off_by_default(deepcr_weights, rng, capsys,
                                                                            monkeypatch):
    import crmask.tiling

    path, _ = deepcr_weights
    ccd = CCDData(_sky_image(rng), unit="electron")
    monkeypatch.setattr(crmask.tiling, "PROGRESS_DELAY", 0.0)  # as if each tile took long
    quiet = crmask.get_detector("att-deepcr", weights=str(path), tile=96, overlap=32, threads=1).detect(ccd)
    assert capsys.readouterr().err == ""
    shown = crmask.get_detector("att-deepcr", weights=str(path), tile=96, overlap=32, threads=1,
                                progress=True).detect(ccd)
    err = capsys.readouterr().err
    # 160 x 200 px in 32-px cores: 5 x 7 tiles
    assert "tiles:" in err and "0/35" in err
    np.testing.assert_array_equal(shown.probability, quiet.probability)


def test_wing_growth_raises_significant_neighbours_of_detections_only(rng):
    image = _sky_image(rng)
    image[123, 151] = 500.0 + 3 * 20.0  # a 3 sigma wing beside the track at x = 150
    image[123, 149] = 500.0  # a neighbour at the background
    ccd = CCDData(image, unit=u.electron)
    plain = crmask.get_detector("deepcr", wings=False).detect(ccd).probability
    grown = crmask.get_detector("deepcr", wing_sigma=2.0, wing_weight=1.0).detect(ccd)
    assert grown.probability[123, 151] == pytest.approx(max(plain[123, 151], plain[122:125, 150:153].max()))
    assert grown.probability[123, 149] == plain[123, 149]
    assert (grown.probability >= plain).all()
    # at the model's threshold the mask grows only beside what it had found
    beside = ndimage.binary_dilation(plain >= grown.threshold, structure=np.ones((3, 3), dtype=bool))
    assert grown.mask[123, 151] and not (grown.mask & ~beside).any()
    np.testing.assert_array_equal(grown.mask, grown.probability >= grown.threshold)


def test_wing_growth_of_the_model_card_applies_by_default(rng):
    from crmask_unet.weights import load_weights

    card = load_weights("deepcr-general-16").wings
    assert card is not None and card["nsigma"] >= 0 and 0 < card["weight"] <= 1
    ccd = CCDData(_sky_image(rng), unit=u.electron)
    default = crmask.get_detector("deepcr").detect(ccd)
    assert default.meta["wings"] == card
    expected = crmask.get_detector("deepcr", wings=False, wing_sigma=card["nsigma"], wing_weight=card["weight"])
    assert expected.wing_growth() is None and crmask.get_detector("deepcr", wings=False).detect(ccd).meta["wings"] is None
    explicit = crmask.get_detector("deepcr", wing_sigma=card["nsigma"], wing_weight=card["weight"]).detect(ccd)
    np.testing.assert_array_equal(default.probability, explicit.probability)
    assert crmask.get_detector("deepcr", wing_weight=1.0).wing_growth() == {"nsigma": card["nsigma"], "weight": 1.0}


def test_isolated_hits_get_probability_one_after_the_wing_growth(rng):
    image = _sky_image(rng)
    image[40, 40] += 300 * 20.0  # a one-pixel cosmic ray of 300 sigma
    image[41, 41] += 3 * 20.0  # a 3 sigma neighbour: a lone pixel's wing is not grown
    ccd = CCDData(image, unit=u.electron)
    plain = crmask.get_detector("deepcr", hits=False).detect(ccd)
    flagged = crmask.get_detector("deepcr", hit_sigma=10.0).detect(ccd)
    assert flagged.meta["hits"] == {"nsigma": 10.0, "ratio": 3.0} and plain.meta["hits"] is None
    assert flagged.probability[40, 40] == 1.0 and flagged.mask[40, 40]
    changed = flagged.probability != plain.probability  # the image's other lone pixel is at (50, 60)
    assert changed[40, 40] and {(int(y), int(x)) for y, x in zip(*np.nonzero(changed))} <= {(40, 40), (50, 60)}
    assert flagged.probability[50, 60] == 1.0


def test_isolated_hit_rule_of_the_model_card_applies_by_default(rng):
    from crmask_unet.weights import load_weights

    card = load_weights("deepcr-general-16").hits
    assert card is not None and card["nsigma"] > 0 and card["ratio"] >= 1
    ccd = CCDData(_sky_image(rng), unit=u.electron)
    assert crmask.get_detector("deepcr").detect(ccd).meta["hits"] == card
    assert crmask.get_detector("deepcr", hits=False, hit_sigma=card["nsigma"]).hit_rule() is None
    assert crmask.get_detector("deepcr", hit_ratio=5.0).hit_rule() == {"nsigma": card["nsigma"], "ratio": 5.0}


def test_isolated_hit_rule_is_off_for_weights_without_one(cosmic_weights):
    path, _ = cosmic_weights
    assert crmask.get_detector("cosmic-conn", weights=str(path)).hit_rule() is None
    assert crmask.get_detector("cosmic-conn", weights=str(path), hit_sigma=7.0).hit_rule() == {
        "nsigma": 7.0, "ratio": 3.0}


def test_bright_structures_are_shown_to_the_network_again_dimmed(rng):
    image = _sky_image(rng)
    image[30:33, 30:33] += 40_000.0  # a 3 x 3 spot of 2,000 sigma, brighter than any cosmic ray of training
    ccd = CCDData(image, unit=u.electron)
    plain = crmask.get_detector("deepcr", bright=False).detect(ccd)
    rescaled = crmask.get_detector("deepcr", bright_sigma=100.0, bright_target=40.0).detect(ccd)
    assert rescaled.meta["bright"] == {"nsigma": 100.0, "target": 40.0} and plain.meta["bright"] is None
    assert plain.probability[30:33, 30:33].min() < 0.5 and (rescaled.probability[30:33, 30:33] > 0.9).all()
    assert (rescaled.probability >= plain.probability).all()
    near = np.zeros(image.shape, dtype=bool)  # the image's bright structures and what the wing growth reaches
    for rows, columns in ((slice(29, 34), slice(29, 34)), (slice(49, 52), slice(59, 62)), (slice(119, 127),
                                                                                          slice(149, 152))):
        near[rows, columns] = True
    assert near[rescaled.probability != plain.probability].all()


def test_bright_rescaling_of_the_model_card_applies_by_default(rng):
    from crmask_unet.weights import load_weights

    card = load_weights("deepcr-general-16").bright
    assert card is not None and 0 < card["target"] <= card["nsigma"]
    ccd = CCDData(_sky_image(rng), unit=u.electron)
    assert crmask.get_detector("deepcr").detect(ccd).meta["bright"] == card
    assert crmask.get_detector("deepcr", bright=False, bright_sigma=card["nsigma"]).bright_rule() is None
    assert crmask.get_detector("deepcr", bright_target=20.0).bright_rule() == {"nsigma": card["nsigma"],
                                                                               "target": 20.0}
    # a bright_sigma of one's own dims to half of it, not to the target the card chose for its own bright_sigma
    assert crmask.get_detector("deepcr", bright_sigma=300.0).bright_rule() == {"nsigma": 300.0, "target": 150.0}
    assert crmask.get_detector("deepcr", bright_sigma=300.0, bright_target=90.0).bright_rule()["target"] == 90.0


def test_bright_rescaling_needs_a_noise_unit_model(cosmic_weights):
    path, _ = cosmic_weights
    assert crmask.get_detector("cosmic-conn", weights=str(path)).bright_rule() is None
    with pytest.raises(ValueError, match="bright structures are rescaled in noise units"):
        crmask.get_detector("cosmic-conn", weights=str(path), bright_sigma=100.0).bright_rule()
    with pytest.raises(ValueError, match="must not exceed bright_sigma"):
        crmask.get_detector("deepcr", bright_sigma=100.0, bright_target=200.0).bright_rule()


def test_wing_growth_is_off_for_weights_without_one(cosmic_weights, rng):
    path, _ = cosmic_weights
    assert crmask.get_detector("cosmic-conn", weights=str(path)).wing_growth() is None
    assert crmask.get_detector("cosmic-conn", weights=str(path), wing_sigma=2.0).wing_growth() == {
        "nsigma": 2.0, "weight": 0.5}


def test_bright_structures_batched_give_what_each_gives_alone(rng):
    image = _sky_image(rng)
    for y, x in ((30, 30), (30, 120), (100, 60), (140, 170)):
        image[y:y + 3, x:x + 3] += 40_000.0
    ccd = CCDData(image, unit=u.electron)
    rule = {"bright_sigma": 100.0, "bright_target": 40.0}
    batched = crmask.get_detector("deepcr", **rule).detect(ccd).probability  # every window in one batch
    alone = crmask.get_detector("deepcr", tile=64, **rule).detect(ccd).probability  # a 64-pixel window per batch
    np.testing.assert_allclose(batched, alone, atol=1e-5)
