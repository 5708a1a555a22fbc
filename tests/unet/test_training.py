"""Training data builders, losses and the training loop of the U-Net plugin."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import crmask  # noqa: E402
from crmask_unet.data import Sample, augment_sky, dark_frame_mask, inject_dark_crs, synthetic_pool  # noqa: E402
from crmask_unet.losses import median_weights  # noqa: E402
from crmask_unet.training import TrainConfig, roc_points, tpr_key, train  # noqa: E402

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


def test_sky_augmentation_adds_a_multiple_of_the_sky(rng):
    sample = Sample(image=np.full((4, 4), 150.0, np.float32), mask=np.zeros((4, 4), bool),
                    ignore=np.zeros((4, 4), bool), clean=np.full((4, 4), 100.0, np.float32), sky=100.0)
    offsets = []
    for _ in range(200):
        out = augment_sky(sample, rng, -0.9, 3.0)
        offsets.append(out.image[0, 0] - 150.0)
        assert out.clean[0, 0] - 100.0 == pytest.approx(offsets[-1], abs=1e-3)
    assert -90.0 <= min(offsets) < -60.0 and 270.0 < max(offsets) <= 300.0


def test_roc_points_on_a_known_answer():
    truth = np.r_[np.ones(10, bool), np.zeros(10_000, bool)]
    prob = np.r_[np.linspace(0.5, 1.0, 10), np.linspace(0.0, 0.9, 10_000)]
    points = roc_points(prob, truth, (1e-4, 1e-3))
    # FPR 1e-4 allows 1 negative (0.9) above the cut: positives > ~0.89991 are the top 2
    assert points[1e-4] == pytest.approx(0.2)
    assert points[1e-3] == pytest.approx(0.2)


@pytest.fixture(scope="module")
def tiny_data(footprints_path):
    from crmask.footprints import load_footprints

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


def test_training_is_deterministic_and_resumes_exactly(tiny_data, tmp_path):
    torch.set_num_threads(1)
    pool, val = tiny_data
    config = replace(TINY, epochs=2, steps_per_epoch=3, arch="deepcr", bn_momentum=0.1)
    straight = train(config, pool, val, progress=False)
    train(replace(config, epochs=1), pool, val, progress=False, checkpoint_dir=tmp_path)
    resumed = train(config, pool, val, progress=False, checkpoint_dir=tmp_path, resume=True)
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in straight.history]
    for key, value in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, rtol=0, atol=0)


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
