"""Training data builders, losses and the training loop of the U-Net plugin."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from scipy import ndimage

torch = pytest.importorskip("torch")

import crmask  # noqa: E402
from crmask_unet.data import Sample, augment_sky, dark_frame_mask, inject_dark_crs, synthetic_pool  # noqa: E402
from crmask_unet.losses import border_weights, median_weights  # noqa: E402
from crmask_unet.training import (  # noqa: E402
    TrainConfig,
    TrainResult,
    ValidationMap,
    choose_threshold,
    evaluate,
    tpr_key,
    train,
)

def test_dark_frame_pairs_follow_the_paper_formula(rng):
    clean = rng.normal(1000.0, 8.0, (64, 64)).astype(np.float32)
    dark = rng.normal(0.0, 2.0, (64, 64)).astype(np.float32)
    dark[20, 10:30] += 400.0  # a track far above 3 sigma
    image, mask = inject_dark_crs(clean, dark, k_c=1 / 8)
    track = np.zeros(mask.shape, dtype=bool)
    track[19:22, 9:31] = True  # the track grown by 3x3
    assert mask[track].all()
    assert mask.sum() < track.sum() + 9 * 12  # plus a few 3-sigma noise pixels, each dilated
    sigma_u, sigma_d = 8.0, 2.0
    gain = (image - clean)[20, 10:30] / dark[20, 10:30]
    np.testing.assert_allclose(gain, 1 / 8 * sigma_u / sigma_d, rtol=0.1)
    np.testing.assert_array_equal(image[~mask], clean[~mask])


def test_dark_frame_mask_threshold_is_median_plus_three_sigma(rng):
    dark = rng.normal(10.0, 1.0, (200, 200))
    dark[100, 100] = 10.0 + 3.5
    dark[50, 50] = 10.0 + 2.5
    mask = dark_frame_mask(dark, dilate=1)
    assert mask[100, 100] and not mask[50, 50]
    assert mask.mean() == pytest.approx(0.00135, abs=0.0007)  # Gaussian tail above 3 sigma


def test_median_weights_emphasise_sources(rng):
    clean = rng.normal(100.0, 5.0, (64, 64))
    clean[30:34, 30:34] += 500.0
    weights = median_weights(clean, alpha=0.2)
    assert weights[5, 5] == pytest.approx(0.2)  # empty sky: the floor
    assert weights[31, 31] == pytest.approx(1.0, abs=0.05)  # on the source
    np.testing.assert_array_equal(median_weights(clean, alpha=1.0), 1.0)


def test_border_weights_stress_the_ring_around_each_cosmic_ray():
    mask = np.zeros((12, 12), dtype=bool)
    mask[5, 3:7] = True  # a short track
    weights = border_weights(mask, 5.0)
    ring = np.zeros(mask.shape, dtype=bool)
    ring[4:7, 2:8] = True
    ring &= ~mask
    np.testing.assert_array_equal(weights[ring], 5.0)
    np.testing.assert_array_equal(weights[~ring], 1.0)  # the cosmic ray itself and the rest: plain BCE
    wide = border_weights(mask, 5.0, width=2)
    assert wide[3, 1] == 5.0 and wide[2, 1] == 1.0 and wide[5, 4] == 1.0
    np.testing.assert_array_equal(border_weights(mask, 1.0), 1.0)


def test_border_weight_enters_the_training_batch(tiny_data):
    from crmask_unet.training import _batch

    source, _ = tiny_data
    plain = _batch(TINY, source, 0, 0, 1.0)
    stressed = _batch(replace(TINY, border_weight=4.0), source, 0, 0, 1.0)
    np.testing.assert_array_equal(plain[0].numpy(), stressed[0].numpy())  # same patches
    truth, weights = stressed[1].numpy().astype(bool), stressed[2].numpy()
    ring = np.stack([ndimage.binary_dilation(t, structure=np.ones((3, 3), dtype=bool)) & ~t for t in truth[:, 0]])
    assert ring.any()
    np.testing.assert_array_equal(weights[:, 0][ring], 4.0)
    np.testing.assert_array_equal(weights[:, 0][~ring], 1.0)
    with pytest.raises(ValueError, match="border_weight"):
        replace(TINY, border_weight=0.0)
    with pytest.raises(ValueError, match="border_width"):
        replace(TINY, border_width=0)


def test_sky_augmentation_adds_a_multiple_of_the_sky(rng):
    sample = Sample(image=np.full((4, 4), 150.0, np.float32), mask=np.zeros((4, 4), bool),
                    ignore=np.zeros((4, 4), bool), clean=np.full((4, 4), 100.0, np.float32), sky=100.0)
    offsets = []
    for _ in range(200):
        out = augment_sky(sample, rng, -0.9, 3.0)
        offsets.append(out.image[0, 0] - 150.0)
        assert out.clean[0, 0] - 100.0 == pytest.approx(offsets[-1], abs=1e-3)
    assert -90.0 <= min(offsets) < -60.0 and 270.0 < max(offsets) <= 300.0


def test_noisy_sky_augmentation_adds_the_poisson_noise_of_the_sky(rng):
    sample = Sample(image=np.full((200, 200), 150.0, np.float32), mask=np.zeros((200, 200), bool),
                    ignore=np.zeros((200, 200), bool), clean=np.full((200, 200), 100.0, np.float32), sky=400.0)
    for _ in range(20):
        out = augment_sky(sample, rng, -0.9, 3.0, noise=True)
        offset = out.sky - 400.0
        assert 0.0 <= offset <= 1200.0  # negative offsets are no-ops in noise units: left out
        added = out.image - 150.0
        assert added.mean() == pytest.approx(offset, abs=max(0.1 * np.sqrt(offset), 1e-3))
        assert added.std() == pytest.approx(np.sqrt(offset), rel=0.05, abs=1e-3)
        np.testing.assert_allclose(out.clean - 100.0, added, atol=1e-3)


def _frame(truth_boxes, prob_values, shape=(40, 40)):
    truth = np.zeros(shape, bool)
    prob = np.zeros(shape, np.float32)
    for (box, value) in zip(truth_boxes, prob_values):
        truth[box] = True
        prob[box] = value
    return ValidationMap(prob, truth, np.zeros(shape, bool))


def test_threshold_keeps_ninety_percent_of_events_before_maximising_f1():
    # ten 2x2 cosmic rays with probabilities 0.1 ... 1.0: a threshold above 0.2 loses a second event
    boxes = [(slice(3 * k, 3 * k + 2), slice(1, 3)) for k in range(10)]
    frame = _frame(boxes, np.linspace(0.1, 1.0, 10))
    frame.probability[30:40, 30:40] = 0.15  # 100 clean pixels that a threshold of 0.15 or lower flags
    point = choose_threshold([frame], grid=(0.05, 0.1, 0.15, 0.2, 0.25, 0.5))
    # 0.05/0.1/0.15 find all 10 events but flag the clean block; 0.2 finds 9 of 10 (= 0.90) and no clean
    # pixel; 0.25 and above find 8 or fewer
    assert point.threshold == 0.2
    assert point.event_completeness == pytest.approx(0.9) and point.events == 10
    assert point.precision == 1.0 and point.recall == pytest.approx(0.9)
    strict = choose_threshold([frame], grid=(0.25, 0.5), min_completeness=0.95)
    assert strict.threshold == 0.25  # none reaches 95%: the most complete one


def test_threshold_rule_may_count_only_the_significant_cosmic_rays():
    # nine bright 2x2 cosmic rays found above 0.5, and three single pixels at 4 sigma of charge that only a
    # threshold of 0.1 finds, where it also flags 100 clean pixels
    boxes = [(slice(3 * k, 3 * k + 2), slice(1, 3)) for k in range(9)]
    boxes += [(slice(3 * k, 3 * k + 1), slice(10, 11)) for k in range(3)]
    frame = _frame(boxes, [0.9] * 9 + [0.15] * 3)
    frame.probability[30:40, 30:40] = 0.1
    significance = np.where(frame.truth, 40.0, 0.0)
    significance[:, 10] = np.where(frame.truth[:, 10], 4.0, 0.0)
    grid = (0.05, 0.5)
    frame = frame._replace(significance=significance)
    every = choose_threshold([frame], grid=grid)
    assert every.threshold == 0.05 and every.event_completeness == 1.0  # 9 of 12 at 0.5 is too few
    significant = choose_threshold([frame], grid=grid, events="significant")
    assert significant.threshold == 0.5 and significant.precision == 1.0
    assert significant.significant_event_completeness == 1.0 and significant.significant_events == 9
    assert significant.event_completeness == pytest.approx(9 / 12) and significant.events == 12
    with pytest.raises(ValueError, match="needs the significance"):
        choose_threshold([frame._replace(significance=None)], events="significant")


def test_threshold_keeps_the_uninjected_frames_false_positive_rate_within_the_bound():
    # ten 2x2 cosmic rays at 0.9 on the injected frame, found by every threshold; on a frame without injected
    # cosmic rays (1600 pixels, a real labelled 2x2 one and an ignored 3x3 own one) 22 clean pixels reach 0.3 and 2
    # reach 0.6: FPR 22/1587 and 2/1587 against a bound of 1e-2
    boxes = [(slice(3 * k, 3 * k + 2), slice(1, 3)) for k in range(10)]
    frame = _frame(boxes, [0.9] * 10)
    natural = _frame([(slice(0, 2), slice(0, 2))], [0.95])
    natural.probability[20, :20] = 0.3
    natural.probability[21, :2] = 0.6
    natural.ignore[30:33, 30:33] = True
    natural.probability[30:33, 30:33] = 0.99  # the frame's own cosmic ray, ignored
    grid = (0.2, 0.5, 0.8)
    assert choose_threshold([frame], grid=grid).threshold == 0.8  # F1 1.0 throughout: the highest
    frame.probability[35:40, 35:40] = 0.6  # 25 clean pixels the injected frame flags below 0.8
    free = choose_threshold([frame], grid=grid)
    assert free.threshold == 0.8 and np.isnan(free.natural_fpr)
    point = choose_threshold([frame], grid=grid, natural=[natural], max_natural_fpr=1e-2)
    assert point.threshold == 0.8 and point.natural_fpr == 0.0
    assert "natural_fpr" in point.as_dict() and "natural_fpr" not in free.as_dict()
    # without the 0.8 step only 0.5 is within the bound (2 / 1587); 0.2 flags 22 / 1587
    point = choose_threshold([frame], grid=(0.2, 0.5), natural=[natural], max_natural_fpr=1e-2)
    assert point.threshold == 0.5 and point.natural_fpr == pytest.approx(2 / 1587)
    # a bound no threshold meets: the lowest rate, above the bound, tells the caller
    none = choose_threshold([frame], grid=(0.2, 0.5), natural=[natural], max_natural_fpr=1e-4)
    assert none.threshold == 0.5 and none.natural_fpr > 1e-4


def test_validation_tpr_is_the_bench_quantity():
    from crmask.bench.metrics import DEFAULT_THRESHOLDS, Curve, score_histogram

    class Constant(torch.nn.Module):
        config = type("C", (), {"multiple": 1})()

        def forward(self, x):
            return torch.logit(x.clamp(1e-6, 1 - 1e-6))

    rng = np.random.default_rng(5)
    image = rng.uniform(0.0, 0.9, (64, 64)).astype(np.float32)
    truth = np.zeros((64, 64), bool)
    truth[10:12, 10:30] = True
    image[truth] = rng.uniform(0.5, 1.0, truth.sum())
    sample = Sample(image=image * 100, mask=truth, ignore=np.zeros_like(truth), clean=image * 100, sky=0.0)
    from crmask_unet.weights import Normalisation

    out = evaluate(Constant(), [sample], Normalisation("scale", 100.0))
    curve = Curve.from_histogram(*score_histogram(truth, image, DEFAULT_THRESHOLDS), DEFAULT_THRESHOLDS)
    assert out["tpr"][1e-3] == pytest.approx(curve.tpr_at_fpr(1e-3), abs=1e-6)
    assert 0.0 < out["tpr"][1e-3] < 1.0


def test_validation_and_bench_tpr_are_one_number(hand_made_scores):
    """The model card's tpr@1e-4 and the bench's TPR@FPR=1e-4 on one probability map with a known answer."""
    import astropy.units as u
    from astropy.nddata import CCDData

    from crmask import Detector, MaskResult
    from crmask.bench.dataset import BenchImage
    from crmask.bench.report import aggregate
    from crmask.bench.runner import evaluate_image
    from crmask_unet.weights import Normalisation

    truth, probability, ignore, expected = hand_made_scores

    class Identity(torch.nn.Module):
        """A network whose probability is its input (the map scaled by 100 electrons)."""

        config = type("C", (), {"multiple": 1})()

        def forward(self, x):
            return torch.logit(x.double()).float()

    class Fixed(Detector):
        name = "test-fixed-map"
        summary = "returns the hand-made probability map"
        parameters = {}

        def _detect(self, image):
            return MaskResult(mask=probability >= 0.5, probability=probability, threshold=0.5)

    sample = Sample(image=probability * 100, mask=truth, ignore=ignore, clean=probability * 100, sky=0.0)
    validation = evaluate(Identity(), [sample], Normalisation("scale", 100.0))["tpr"][1e-4]
    image = BenchImage("map.fits", CCDData(probability * 100, unit=u.electron), truth, ignore)
    (record,) = aggregate([{**evaluate_image(Fixed(), image), "set": "hand", "label": "fixed"}])
    assert validation == record["tpr_1e-4"]
    assert validation == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("hot_pixels", ["clean", "ignore"])
def test_synthetic_hot_pixels_are_clean_or_left_out_of_the_loss(monkeypatch, hot_pixels):
    """One exposure cannot tell a hot pixel from a one-pixel cosmic ray: ``ignore`` teaches neither class."""
    import crmask.data.synthetic as synthetic

    frames = []

    def recording_make_frame(*args, **kwargs):
        frames.append(make_frame(*args, **kwargs))
        return frames[-1]

    make_frame = synthetic.make_frame
    monkeypatch.setattr(synthetic, "make_frame", recording_make_frame)
    pool = synthetic_pool(3, (256, 256), seed=11, cr_density=300.0, hot_pixels=hot_pixels)
    assert sum(int((f.hot & ~f.crmask).sum()) for f in frames) > 5
    for frame, sample in zip(frames, pool.samples, strict=True):
        np.testing.assert_array_equal(sample.mask, frame.crmask)
        left_out = frame.faint | (frame.hot & ~frame.crmask) if hot_pixels == "ignore" else frame.faint
        np.testing.assert_array_equal(sample.ignore, left_out)
    with pytest.raises(ValueError, match="hot_pixels"):
        synthetic_pool(1, (64, 64), seed=1, hot_pixels="mask")


@pytest.fixture(scope="module")
def tiny_data(footprints_path):
    from crmask.data.footprints import load_footprints

    library = load_footprints(footprints_path, "train")
    pool = synthetic_pool(4, (128, 128), seed=3, footprints=library, cr_density=3000.0)
    val = synthetic_pool(2, (128, 128), seed=4, footprints=library, cr_density=1000.0)
    return pool, val.samples


TINY = TrainConfig(arch="cosmic-conn", width=4, depth=2, patch=64, batch_size=4, epochs=4, steps_per_epoch=10,
                   lr=0.01, scale=100.0, seed=0)


def test_short_training_lowers_the_loss_and_raises_validation_tpr(tiny_data):
    torch.set_num_threads(1)
    pool, val = tiny_data
    result = train(TINY, pool, val, progress=False)
    first, last = result.history[0], result.history[-1]
    assert last["train_loss"] < 0.8 * first["train_loss"]
    assert last["val_loss"] < first["val_loss"]
    assert last[tpr_key(1e-3)] > first[tpr_key(1e-3)]
    assert 0.05 <= result.threshold <= 0.95


@pytest.mark.parametrize("ema_decay", [None, 0.9])  # with a moving average, the average resumes too
def test_training_is_deterministic_and_resumes_exactly(tiny_data, tmp_path, ema_decay):
    torch.set_num_threads(1)
    pool, val = tiny_data
    config = replace(TINY, epochs=2, steps_per_epoch=3, arch="deepcr", bn_momentum=0.1, ema_decay=ema_decay)
    straight = train(config, pool, val, progress=False)
    train(replace(config, epochs=1), pool, val, progress=False, checkpoint_dir=tmp_path)
    resumed = train(config, pool, val, progress=False, checkpoint_dir=tmp_path, resume=True)
    assert [h["val_loss"] for h in resumed.history] == [h["val_loss"] for h in straight.history]
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in straight.history]
    for key, value in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, rtol=0, atol=0)


def test_interrupted_cosine_run_resumes_exactly(tiny_data, tmp_path):
    torch.set_num_threads(1)
    pool, val = tiny_data
    config = replace(TINY, epochs=3, steps_per_epoch=3, arch="deepcr", bn_momentum=0.1, lr_schedule="cosine")
    straight = train(config, pool, val, progress=False)
    assert straight.history[0]["lr"] > straight.history[1]["lr"] > straight.history[2]["lr"]

    def stop_in_epoch_two(line: str) -> None:  # called before epoch 2's checkpoint is written
        if line.startswith("epoch 2"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, pool, val, progress=False, checkpoint_dir=tmp_path, log=stop_in_epoch_two)
    resumed = train(config, pool, val, progress=False, checkpoint_dir=tmp_path, resume=True)
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in straight.history]
    for key, value in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, rtol=0, atol=0)


def test_a_moving_average_of_the_weights_is_what_is_kept(tiny_data):
    torch.set_num_threads(1)
    pool, val = tiny_data
    config = replace(TINY, epochs=1, steps_per_epoch=2, arch="deepcr", bn_momentum=0.1)
    after_one = train(replace(config, steps_per_epoch=1), pool, val, progress=False).model.state_dict()
    after_two = train(config, pool, val, progress=False).model.state_dict()
    averaged = train(replace(config, ema_decay=0.25), pool, val, progress=False).model.state_dict()
    # the average starts at the first step's weights; each later step keeps the decay (a quarter) of it
    for key, value in averaged.items():
        if value.is_floating_point():  # weights and the batch-norm running statistics alike
            torch.testing.assert_close(value, 0.25 * after_one[key] + 0.75 * after_two[key])
    assert not torch.equal(averaged["inc.0.weight"], after_two["inc.0.weight"])


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.5])
def test_a_moving_average_needs_a_decay_between_zero_and_one(decay):
    with pytest.raises(ValueError, match="ema_decay must be in"):
        replace(TINY, ema_decay=decay)


def test_resume_with_another_configuration_is_refused(tiny_data, tmp_path):
    pool, val = tiny_data
    config = replace(TINY, epochs=1, steps_per_epoch=1)
    train(config, pool, val, progress=False, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="different lr"):
        train(replace(config, lr=0.5), pool, val, progress=False, checkpoint_dir=tmp_path, resume=True)


def test_train_command_writes_weights_and_card_that_detectors_load(tmp_path, footprints_path):
    from click.testing import CliRunner

    from crmask.cli import cli

    out = tmp_path / "tiny.safetensors"
    args = ["train", "unet", "--arch", "deepcr", "--attention", "--depth", "2", "--width", "4", "--patch", "32",
            "--batch-size", "2", "--epochs", "1", "--steps-per-epoch", "2", "--train-frames", "1",
            "--val-frames", "1", "--frame-size", "64", "--threads", "1", "--footprints", str(footprints_path),
            "-o", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["detector"] == "att-deepcr" and card["architecture"]["depth"] == 2
    assert card["name"] == "att-deepcr.tiny"  # arch.tag, as a shipped model is named
    assert card["summary"] == ("UNet-2-4, BatchNorm, additive attention gates, input in units of 100 e-; epoch and "
                               "threshold chosen on synthetic validation frames")
    assert card["normalisation"] == {"scheme": "scale", "scale": 100.0,
                                     "description": "image in electrons divided by scale"}
    det = crmask.get_detector("att-deepcr", weights=str(out))
    assert det.model()[0].threshold == card["threshold"]


def test_long_slit_structures_include_a_trace_along_x(rng):
    from crmask_unet.data import add_long_slit

    light = add_long_slit((64, 400), seeing=3.0, rng=rng)
    assert light.shape == (64, 400) and light.min() >= 0
    rows = light.mean(axis=1)
    # at least one trace (peak >= 50 e-, continuum >= half of it) lifts its row above the others
    assert rows.max() > np.median(rows) + 20


@pytest.mark.parametrize("spectra_fraction,galaxy_fraction,galaxies,slits", [
    (1.0, 0.0, 0, 3), (0.0, 1.0, 3, 0), (1.0, 1.0, 0, 3),  # galaxies go to imaging frames only
])
def test_galaxies_go_to_the_imaging_frames(monkeypatch, spectra_fraction, galaxy_fraction, galaxies, slits):
    import crmask.data.synthetic as synthetic
    import crmask_unet.data as data

    specs, calls = [], []
    make_frame = synthetic.make_frame
    monkeypatch.setattr(synthetic, "make_frame", lambda shape, spec, **kw: specs.append(spec) or make_frame(
        shape, spec, **kw))
    add_long_slit = data.add_long_slit
    monkeypatch.setattr(data, "add_long_slit", lambda *a: calls.append(a) or add_long_slit(*a))
    pool = data.synthetic_pool(3, (64, 64), 0, spectra_fraction=spectra_fraction, galaxy_fraction=galaxy_fraction)
    assert len(pool.samples) == 3 and len(specs) == 3
    assert sum(spec.resolved_galaxies == 1 for spec in specs) == galaxies
    assert len(calls) == slits


def _real_frame(rng, labels=None):
    from astropy.io.fits import Header

    from crmask.bench.sources import RealFrame

    data = rng.normal(100.0, 3.0, (128, 160))  # adu, gain 2
    own = np.zeros(data.shape, bool)
    own[10:14, 10:14] = True
    data[own] += 500.0  # the frame's own (unlabelled) cosmic ray
    defects = np.zeros(data.shape, bool)
    defects[:, 100] = True
    return RealFrame(name="test", path="test.fits", data=data, gain=2.0, readnoise=5.0, satlevel=None,
                     own_crs=own, labels=labels, defects=defects, header=Header(), calibration="test",
                     instrument="TEST", exptime=1.0)


def test_real_samples_inject_footprints_and_ignore_the_frames_own_cosmic_rays(rng, footprints_path):
    from crmask.data.footprints import load_footprints
    from crmask_unet.data import real_samples

    labels = np.zeros((128, 160), bool)
    labels[60, 60:63] = True
    frame = _real_frame(rng, labels)
    library = load_footprints(footprints_path, "train")
    samples = real_samples([frame], library, seed=7, realisations=2, cr_density=2000.0)
    assert len(samples) == 2
    for sample in samples:
        electrons = frame.data * frame.gain
        injected = sample.image - electrons
        assert sample.mask[labels].all()  # real labels are positives
        assert sample.ignore[frame.own_crs & ~sample.mask].all() and sample.ignore[:, 100][~sample.mask[:, 100]].all()
        assert not (sample.mask & sample.ignore).any()
        # every truth pixel off the real labels carries injected charge; clean pixels carry none above 3 sigma
        assert (injected[sample.mask & ~labels] > 0).all()
        clean = ~sample.mask & ~sample.ignore
        assert (injected[clean] < 3 * np.sqrt(5.0**2 + electrons[clean])).all()
        np.testing.assert_array_equal(sample.clean, electrons.astype(np.float32))
        # significance: the injected charge over the noise; real labelled cosmic rays are significant by definition
        assert np.isinf(sample.significance[labels]).all()
        injected_truth = sample.mask & ~labels
        np.testing.assert_allclose(sample.significance[injected_truth],
                                   injected[injected_truth] / np.sqrt(5.0**2 + electrons[injected_truth]), rtol=1e-3)
        assert (sample.significance[injected_truth] > 3).all()
        # the frame's defects go with it (a detector's bad-pixel mask), through the symmetries of the square too
        np.testing.assert_array_equal(sample.bad, frame.defects)
        np.testing.assert_array_equal(sample.transformed(5).bad, frame.defects[::-1].T)
    assert not np.array_equal(samples[0].mask, samples[1].mask)  # independent injections
    again = real_samples([frame], library, seed=7, realisations=2, cr_density=2000.0)
    np.testing.assert_array_equal(again[1].image, samples[1].image)


def test_mixed_source_draws_with_its_weights(rng):
    from crmask_unet.data import MixedSource

    class Constant:
        def __init__(self, value):
            self.value = value

        def sample(self, rng, size):
            return Sample(image=np.full((size, size), self.value, np.float32), mask=np.zeros((size, size), bool),
                          ignore=np.zeros((size, size), bool), clean=np.zeros((size, size), np.float32), sky=0.0)

    source = MixedSource([Constant(0.0), Constant(1.0)], [1.0, 3.0])
    drawn = np.array([source.sample(rng, 2).image[0, 0] for _ in range(4000)])
    assert drawn.mean() == pytest.approx(0.75, abs=0.03)
    with pytest.raises(ValueError, match="non-negative"):
        MixedSource([Constant(0.0)], [-1.0])


def test_train_command_on_real_frames_chooses_on_real_validation(tmp_path, footprints_path):
    from click.testing import CliRunner

    from crmask.cli import cli

    data = footprints_path.parent
    out = tmp_path / "real.safetensors"
    args = ["train", "unet", "--arch", "deepcr", "--input", "noise", "--depth", "2", "--width", "4", "--patch", "32",
            "--batch-size", "2", "--epochs", "1", "--steps-per-epoch", "2", "--train-frames", "1", "--val-frames", "1",
            "--frame-size", "64", "--threads", "1", "--data", str(data), "--train-sources", "gmos",
            "--val-sources", "saao", "--realisations", "1", "-o", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["validation"]["selected_on"] == "real"
    split = card["training_data"]["real"]
    assert split["train"] == {"gmos": "gmos.fits"} and split["validate"] == {"saao": "saao_a8280271.fits"}
    assert "sprat-1" in split["test_only"] and "gmos" not in split["test_only"]
    assert card["normalisation"]["scheme"] == "noise"
    best = card["validation"]["best_epoch"]
    assert {"tpr@1e-4", "synthetic/tpr@1e-4", "event_completeness"} <= set(best)
    # the real validation frames hold many more cosmic rays than one 64 x 64 synthetic frame
    assert best["events"] > best["synthetic/events"]


def test_train_command_refuses_bad_splits_and_initial_weights(tmp_path, footprints_path):
    from click.testing import CliRunner

    from crmask.cli import cli

    args = ["train", "unet", "--data", str(footprints_path.parent), "--train-sources", "gmos,m51",
            "--val-sources", "m51", "-o", str(tmp_path / "x.safetensors")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "['m51'] are in both" in result.output
    result = CliRunner().invoke(cli, [*args[:4], "--train-sources", "hubble", "-o", str(tmp_path / "x.safetensors")])
    assert result.exit_code == 2 and "unknown real frame(s) ['hubble']" in result.output
    result = CliRunner().invoke(cli, ["train", "unet", "--footprints", str(footprints_path), "--init-weights",
                                      str(tmp_path / "missing.safetensors"), "-o", str(tmp_path / "x.safetensors")])
    assert result.exit_code == 2 and "Invalid value for --init-weights" in result.output
    assert not (tmp_path / "x.safetensors").exists()


def test_card_records_both_steps_of_a_run_grown_on_resume(tmp_path, footprints_path):
    from click.testing import CliRunner

    from crmask.cli import cli

    def run(epochs, *extra):
        args = ["train", "unet", "--arch", "deepcr", "--depth", "2", "--width", "4", "--patch", "32",
                "--batch-size", "2", "--epochs", str(epochs), "--steps-per-epoch", "1", "--train-frames", "1",
                "--val-frames", "1", "--frame-size", "64", "--threads", "1", "--footprints", str(footprints_path),
                "--checkpoint-dir", str(tmp_path / "ckpt"), "-o", str(tmp_path / "m.safetensors"), *extra]
        result = CliRunner().invoke(cli, args, prog_name="crmask")
        assert result.exit_code == 0, result.output
        return json.loads((tmp_path / "m.json").read_text())["training"]["command"]

    first = run(1)
    assert first.startswith("crmask train unet --arch deepcr --depth 2 ")
    assert "--resume" not in first and "then" not in first
    again = run(1, "--resume")  # same length: bit-identical, the plain command
    assert again == first
    grown = run(2, "--resume")
    assert grown.startswith(first + "  (ran 1 of 1 epochs), then ")
    assert grown.endswith("--epochs 2 --steps-per-epoch 1 --train-frames 1 --val-frames 1 --frame-size 64 "
                          f"--threads 1 --footprints {footprints_path} --checkpoint-dir {tmp_path / 'ckpt'} "
                          f"-o {tmp_path / 'm.safetensors'} --resume")


def test_cosine_schedule_falls_from_lr_to_its_floor():
    from crmask_unet.training import COSINE_FLOOR, cosine_lr

    config = replace(TINY, lr_schedule="cosine", epochs=4, steps_per_epoch=10)
    rates = [cosine_lr(config, step) for step in range(41)]
    assert rates[0] == pytest.approx(config.lr)
    assert rates[20] == pytest.approx(config.lr * (1 + COSINE_FLOOR) / 2)
    assert rates[40] == pytest.approx(COSINE_FLOOR * config.lr)
    assert all(a > b for a, b in zip(rates, rates[1:]))
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        replace(TINY, lr_schedule="step")


def test_checkpoint_older_than_a_configuration_key_resumes_with_its_default(tiny_data, tmp_path):
    pool, val = tiny_data
    config = replace(TINY, epochs=1, steps_per_epoch=1)
    train(config, pool, val, progress=False, checkpoint_dir=tmp_path)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    del state["config"]["lr_schedule"]  # as written before the option existed
    torch.save(state, tmp_path / "checkpoint.pt")
    resumed = train(replace(config, epochs=2), pool, val, progress=False, checkpoint_dir=tmp_path, resume=True)
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    with pytest.raises(ValueError, match="different lr_schedule"):
        train(replace(config, epochs=3, lr_schedule="cosine"), pool, val, progress=False, checkpoint_dir=tmp_path,
              resume=True)


def test_cosmic_ray_density_is_drawn_log_uniformly_only_when_asked():
    from crmask_unet.data import draw_density

    rng = np.random.default_rng(5)
    state = rng.bit_generator.state
    assert draw_density(rng, 1000.0) == 1000.0
    assert draw_density(rng, 1000.0, 1000.0) == 1000.0
    assert rng.bit_generator.state == state  # older runs keep their random streams
    densities = np.array([draw_density(rng, 1000.0, 10.0) for _ in range(4000)])
    assert densities.min() >= 10.0 and densities.max() <= 1000.0
    assert np.median(densities) == pytest.approx(100.0, rel=0.1)  # geometric mean of the range
    assert np.mean(densities < 31.6) == pytest.approx(0.25, abs=0.03)
    with pytest.raises(ValueError, match="positive"):
        draw_density(rng, 1000.0, -1.0)


def test_truth_grows_into_significant_neighbours_only(rng):
    from crmask_unet.data import grow_truth

    sigma = 5.0
    clean = (100.0 + rng.normal(0, sigma, (64, 64))).astype(np.float32)
    image = clean.copy()
    mask = np.zeros(clean.shape, dtype=bool)
    mask[30, 30:33] = True
    image[30, 30:33] += 500.0
    image[31, 31] = 100.0 + 4 * sigma  # a 4 sigma wing below the track
    image[29, 31] = 100.0 + 3 * sigma  # and a 3 sigma one above it, grown in the same ring
    image[28, 31] = 100.0 + 4 * sigma  # two rows away: reached in the second ring, through (29, 31)
    image[40, 40] = 100.0 + 10 * sigma  # significant but far from any cosmic ray
    for y, x in [(31, 29), (29, 33), (30, 29), (30, 33)]:
        image[y, x] = 100.0  # neighbours at the background stay clean
    ignore = np.zeros(clean.shape, dtype=bool)
    ignore[31, 31] = True  # a faint-charge pixel becomes truth when it is grown into
    sample = Sample(image=image, mask=mask, ignore=ignore, clean=clean, sky=100.0)

    grown = grow_truth(sample, nsigma=2.0)

    added = grown.mask & ~mask
    assert added[31, 31] and added[29, 31] and added[28, 31]
    assert not added[40, 40] and not added[31, 29] and not added[30, 33]
    assert not grown.ignore[31, 31]
    once = grow_truth(sample, nsigma=2.0, iterations=1).mask
    assert once[29, 31] and not once[28, 31]
    assert not (grow_truth(sample, nsigma=5.0).mask & ~mask).any()  # nothing stands 5 sigma above its background


def test_real_frame_truth_grows_by_a_few_percent(rng, footprints_path):
    """On a real frame with injected footprints, grown truth adds the noise-lifted rim of each track, not areas."""
    from crmask.bench.sources import load_real_frames
    from crmask_unet.data import grow_truth, real_samples, split_footprints

    frame = load_real_frames(footprints_path.parent, ["saao"])["saao"]
    sample = real_samples([frame], split_footprints(str(footprints_path), "val"), seed=3, realisations=1,
                          cr_density=250.0)[0]
    grown = grow_truth(sample, nsigma=2.0)
    added = grown.mask & ~sample.mask
    assert added.any()
    # every added pixel touches the original truth or another added pixel (at most 3 rings out)
    reach = ndimage.binary_dilation(sample.mask, structure=np.ones((3, 3), bool), iterations=3)
    assert not (added & ~reach).any()
    # about 2.3% of a Gaussian background lies 2 sigma up: the rim is a small fraction of the truth
    assert 0 < added.sum() < 0.5 * sample.mask.sum()


def test_training_from_weights_with_fixed_group_statistics_keeps_them_fixed(tiny_data, tmp_path):
    """Fine-tuning under fixed group statistics: the weights learn, the statistics stay, the result saves as such."""
    from crmask_unet.detector import normalise
    from crmask_unet.group_statistics import KEY_PREFIX, measure_group_statistics
    from crmask_unet.weights import WeightsError, load_weights, save_weights

    torch.set_num_threads(1)
    pool, val = tiny_data
    config = replace(TINY, epochs=1, steps_per_epoch=3)
    norm = config.normalisation()
    start = train(config, pool, val, progress=False).model.eval()
    inputs = [torch.from_numpy(normalise(s.image, np.zeros(s.image.shape, bool), norm.scheme, norm.scale))[None, None]
              for s in val]
    stats = measure_group_statistics(start, inputs)
    path = save_weights(tmp_path / "fixed.safetensors", start, "cosmic-conn", norm, group_statistics=stats)

    tuned = train(replace(config, steps_per_epoch=5), pool, val, progress=False,
                  initial=load_weights(str(path))).model
    assert not any(isinstance(m, torch.nn.GroupNorm) for m in tuned.modules())
    for key, value in stats.items():
        name, _, kind = key[len(KEY_PREFIX):].rpartition(".")
        held = getattr(tuned.get_submodule(name), "running_mean" if kind == "mean" else "running_var")
        assert torch.equal(held, value)  # not updated by the training batches
    before, after = start.state_dict(), tuned.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before if k.endswith("weight"))

    saved = load_weights(str(save_weights(tmp_path / "tuned.safetensors", tuned, "cosmic-conn", norm)))
    assert saved.group_statistics.keys() == stats.keys()
    assert all(torch.equal(saved.group_statistics[k], v) for k, v in stats.items())
    with torch.inference_mode():
        np.testing.assert_allclose(saved.network()(inputs[0]).numpy(), tuned.eval()(inputs[0]).numpy(), atol=1e-6)
    with pytest.raises(WeightsError, match="carries fixed group statistics of its own"):
        save_weights(tmp_path / "twice.safetensors", tuned, "cosmic-conn", norm, group_statistics=stats)
    with pytest.raises(ValueError, match="initial weights"):
        train(replace(config, width=8), pool, val, progress=False, initial=load_weights(str(path)))

    from crmask_unet.card import save_trained

    initial = {"weights": "fixed.safetensors", "fixed_group_statistics": True}
    _, card = save_trained(TrainResult(model=tuned, threshold=0.5), config, tmp_path / "card.safetensors",
                           command="crmask train unet ...", training_data={"initial_weights": initial})
    card = json.loads(card.read_text())
    assert card["summary"].endswith("; fine-tuned from fixed.safetensors under its fixed group statistics")
    assert card["training_data"]["initial_weights"] == initial
