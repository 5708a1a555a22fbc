import numpy as np
import pytest
from scipy import ndimage

from crmask.inpaint import grow_mask, interpolate_bad_pixels, median_inpaint
from crmask.tiling import apply_tiled, iter_tiles


@pytest.mark.parametrize("shape", [(100, 130), (64, 64), (7, 300)])
def test_tile_cores_cover_the_image_exactly_once(shape):
    count = np.zeros(shape, dtype=int)
    for tile in iter_tiles(shape, tile=32, overlap=6):
        count[tile.core] += 1
        assert tile.read[0].start <= tile.core[0].start and tile.read[1].stop >= tile.core[1].stop
    assert np.all(count == 1)


def test_tiled_filter_equals_whole_image_filter(rng):
    image = rng.normal(size=(150, 170)).astype(np.float32)

    def smooth(array):
        return ndimage.uniform_filter(array, size=7, mode="reflect")

    whole = smooth(image)
    tiled = apply_tiled(smooth, image, tile=40, overlap=4)
    # A 7x7 filter needs 3 pixels of context: 4 of overlap makes tiles exact inside.
    np.testing.assert_allclose(tiled[3:-3, 3:-3], whole[3:-3, 3:-3], rtol=1e-6)


def test_tiling_rejects_overlap_too_large():
    with pytest.raises(ValueError, match="tile > 2 \\* overlap"):
        list(iter_tiles((10, 10), tile=8, overlap=4))


def test_median_inpaint_uses_only_good_neighbours():
    data = np.full((9, 9), 10.0)
    data[4, 4] = 1000.0  # the CR
    data[3, 3] = 500.0  # a bad pixel that must not be used
    mask = np.zeros_like(data, dtype=bool)
    mask[4, 4] = True
    bad = np.zeros_like(mask)
    bad[3, 3] = True
    cleaned = median_inpaint(data, mask, bad)
    assert cleaned[4, 4] == 10.0
    assert cleaned[3, 3] == 500.0  # only masked pixels change


def test_median_inpaint_fills_inside_long_tracks():
    data = np.arange(400, dtype=float).reshape(20, 20)
    mask = np.zeros_like(data, dtype=bool)
    mask[:, 5:12] = True  # 7 pixels wide: the 5x5 box of the centre column has no good pixel
    cleaned = median_inpaint(data, mask)
    assert np.isfinite(cleaned).all()
    assert np.all(cleaned[mask] < 400)


def test_median_inpaint_in_chunks_equals_at_once(rng, monkeypatch):
    import crmask.inpaint

    data = rng.normal(100.0, 10.0, (60, 70))
    mask = rng.random(data.shape) < 0.3
    mask[10:30, 20:45] = True  # wide enough to need growing boxes
    at_once = median_inpaint(data, mask)
    monkeypatch.setattr(crmask.inpaint, "MAX_BOX_ELEMENTS", 100)  # a few pixels per chunk
    np.testing.assert_array_equal(median_inpaint(data, mask), at_once)


def test_bad_columns_and_lines_are_interpolated_across_their_narrow_side():
    y, x = np.mgrid[:30, :40]
    trace = 100.0 + 5000.0 * np.exp(-0.5 * ((y - 15) / 1.5) ** 2)  # a narrow spectral trace along x
    bad = np.zeros(trace.shape, dtype=bool)
    bad[:, 12] = True  # a dead column across the trace
    bad[:, 25:28] = True  # and a three-column defect
    filled = interpolate_bad_pixels(trace, bad)
    # along each row, between the good pixels either side: the trace goes on through both, without a dip
    np.testing.assert_allclose(filled[:, 12], trace[:, 12], rtol=1e-12)
    np.testing.assert_allclose(filled[:, 25:28], trace[:, 25:28], rtol=1e-12)
    plane = 3.0 * x + 7.0 * y
    line = np.zeros(plane.shape, dtype=bool)
    line[8] = True  # a dead line: filled along the columns, exact on a plane
    np.testing.assert_allclose(interpolate_bad_pixels(plane, line)[8], plane[8])
    assert np.array_equal(interpolate_bad_pixels(plane, line)[~line], plane[~line])


def test_interpolation_at_the_edges_and_with_nothing_good_around():
    data = np.arange(20.0).reshape(4, 5)
    bad = np.zeros(data.shape, dtype=bool)
    bad[:, 0] = True  # the first column: no good pixel before it in any row, nor in its column
    np.testing.assert_array_equal(interpolate_bad_pixels(data, bad)[:, 0], data[:, 1])  # the nearest one
    corner = np.zeros(data.shape, dtype=bool)
    corner[:2, :3] = True  # (0, 0): good pixels 3 columns to the right and 2 rows below, on one side each
    assert interpolate_bad_pixels(data, corner)[0, 0] == data[2, 0]  # the nearer one
    everything_but_one = np.ones(data.shape, dtype=bool)
    everything_but_one[2, 3] = False
    assert np.all(interpolate_bad_pixels(data, everything_but_one) == data[2, 3])
    assert interpolate_bad_pixels(data, np.zeros(data.shape, dtype=bool)).dtype == np.float64


def test_grow_mask_disc():
    mask = np.zeros((7, 7), dtype=bool)
    mask[3, 3] = True
    grown = grow_mask(mask, 1)
    assert grown.sum() == 5 and grown[2, 3] and not grown[2, 2]
    assert grow_mask(mask, 0).sum() == 1


def test_tile_progress_is_off_by_default_and_shows_each_tile_when_asked(rng, capsys, monkeypatch):
    import crmask.tiling

    image = rng.normal(size=(64, 64)).astype(np.float32)
    apply_tiled(lambda a: a, image, tile=40, overlap=4)
    assert capsys.readouterr().err == ""
    apply_tiled(lambda a: a, image, tile=40, overlap=4, progress=True)  # quicker than PROGRESS_DELAY: no bar
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(crmask.tiling, "PROGRESS_DELAY", 0.0)
    out = apply_tiled(lambda a: a, image, tile=40, overlap=4, progress=True)
    np.testing.assert_array_equal(out, image)
    err = capsys.readouterr().err
    assert "tiles:" in err and "0/4" in err  # 64 px = two 32-px cores on each axis
