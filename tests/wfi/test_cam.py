"""Class activation maps of the frame DenseNet: shapes, eq. 1 and tiling."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from crmask.exceptions import InvalidImageError  # noqa: E402
from crmask_wfi.camrf.cam import TILE, compute_cams, native_cams, predict_tiles, tiles_around  # noqa: E402
from crmask_wfi.camrf.densenet import FRAME_CLASSES, FrameDenseNet  # noqa: E402


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(7)
    net = FrameDenseNet()
    # Non-trivial BatchNorm statistics, so that eval mode differs from identity.
    with torch.no_grad():
        net.train()
        net(torch.rand(8, 1, TILE, TILE) * 3)
    return net.eval()


def _frames(rng, shape):
    """Frames in keV: read noise plus a few single-pixel events and a short track."""
    frames = rng.normal(0.0, 0.0256, shape).astype(np.float32)
    n, ny, nx = shape
    for f in range(n):
        for _ in range(3):
            frames[f, rng.integers(ny), rng.integers(nx)] += rng.uniform(0.5, 8.0)
        y, x = rng.integers(2, ny - 8), rng.integers(2, nx - 8)
        frames[f, y:y + 6, x] += 30.0
    return frames


def test_native_cam_shape_and_eq1_identity(model, rng):
    frames = torch.as_tensor(_frames(rng, (5, TILE, TILE))).unsqueeze(1)
    with torch.no_grad():
        cams, logits = native_cams(model, frames)
        expected_logits = model(frames)
    assert cams.shape == (5, len(FRAME_CLASSES), TILE // 4, TILE // 4)
    # Eq. 1: the CAM summed over positions, divided by their number (GAP is a mean)
    # and plus the classifier bias, is the logit the network outputs.
    n_positions = cams.shape[2] * cams.shape[3]
    gap_logits = cams.sum(dim=(2, 3)) / n_positions + model.classifier.bias
    torch.testing.assert_close(gap_logits, expected_logits, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(logits, expected_logits)


def test_predict_tiles_upsamples_to_the_sub_frame(model, rng):
    tiles = _frames(rng, (3, TILE, TILE))
    cams, probabilities = predict_tiles(model, tiles, batch_size=2)
    assert cams.shape == (3, 4, TILE, TILE) and cams.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)
    with torch.no_grad():
        low = native_cams(model, torch.as_tensor(tiles).unsqueeze(1))[0].numpy()
    # Bilinear upsampling by 4 with half-pixel centres: output pixel 4i+2 sits at input coordinate
    # i + 1/8, i.e. weights 7/8 on sample i and 1/8 on sample i+1 along each axis.
    w = np.array([7 / 8, 1 / 8])
    expected = np.einsum("y,x,nkyx->nk", w, w, low[:, :, 5:7, 9:11])
    np.testing.assert_allclose(cams[:, :, 4 * 5 + 2, 4 * 9 + 2], expected, rtol=1e-4, atol=1e-5)


def test_batch_size_does_not_change_results(model, rng):
    tiles = _frames(rng, (5, TILE, TILE))
    one, p_one = predict_tiles(model, tiles, batch_size=1)
    all_, p_all = predict_tiles(model, tiles, batch_size=64)
    np.testing.assert_allclose(one, all_, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(p_one, p_all, rtol=1e-4, atol=1e-6)


def test_full_frame_is_tiled_and_stitched(model, rng):
    frames = _frames(rng, (2, 2 * TILE, 3 * TILE))
    tiled = compute_cams(model, frames)
    images = tiled.images()
    assert images.shape == (2, 4, 2 * TILE, 3 * TILE)
    tile = frames[1, TILE:2 * TILE, 2 * TILE:3 * TILE]
    cams, probabilities = predict_tiles(model, tile[None])
    np.testing.assert_allclose(images[1, :, TILE:, 2 * TILE:], cams[0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(tiled.tile_probabilities(1, TILE + 3, 2 * TILE + 60), probabilities[0], rtol=1e-5)
    assert tiled.values(1, TILE + 3, 2 * TILE + 60, cls=2) == pytest.approx(cams[0, 2, 3, 60], rel=1e-4)


def test_odd_frame_size_is_padded(model, rng):
    frames = _frames(rng, (1, 70, 50))
    tiled = compute_cams(model, frames)
    assert tiled.lookup.shape == (1, 2, 1)
    assert tiled.images().shape == (1, 4, 70, 50)
    assert np.isnan(tiled.values(0, 70, 10, cls=1))  # outside the frame


def test_subset_of_tiles_matches_full_computation(model, rng):
    frames = _frames(rng, (2, 2 * TILE, 2 * TILE))
    full = compute_cams(model, frames)
    # A 5x5 window centred at (63, 64) of frame 1 touches all four sub-frames of that frame only.
    needed = tiles_around(frames.shape, [1], [63], [64], half_width=2)
    assert needed.sum() == 4 and needed[1].all() and not needed[0].any()
    partial = compute_cams(model, frames, tiles=needed)
    dy, dx = np.mgrid[-2:3, -2:3]
    for cls in range(4):
        np.testing.assert_allclose(
            partial.values(1, 63 + dy, 64 + dx, cls), full.values(1, 63 + dy, 64 + dx, cls), rtol=1e-4, atol=1e-5
        )
    with pytest.raises(ValueError, match="not computed"):
        partial.values(0, 5, 5, cls=0)


def test_bad_frames_raise_clear_errors(model):
    with pytest.raises(InvalidImageError, match=r"\(n, ny, nx\)"):
        compute_cams(model, np.zeros((TILE, TILE), dtype=np.float32))
    with pytest.raises(ValueError, match="tiles must have shape"):
        compute_cams(model, np.zeros((1, TILE, TILE), dtype=np.float32), tiles=np.ones((2, 1, 1), bool))
