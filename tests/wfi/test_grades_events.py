"""Event reconstruction and grading on hand-built frames with exact answers (Poliszczuk et al. 2024, §3.1)."""

import numpy as np
import pytest

from crmask_wfi.events.classic import apply_classic_cuts
from crmask_wfi.events.reconstruct import reconstruct_events
from crmask_wfi.events.grades import (
    GRADE_DOUBLE,
    GRADE_OTHER,
    GRADE_QUAD,
    GRADE_SINGLE,
    GRADE_TRIPLE,
    grade_of_pattern,
    pattern_from_window,
)

CENTRE = 2.0  # keV
SIDE = 0.5  # above the 0.08 keV split threshold
BELOW = 0.05  # below it


def frame_with(pixels, shape=(9, 9), centre=(4, 4), value=CENTRE):
    """A noiseless frame with the centre pixel and extra pixels at (dy, dx) offsets from it."""
    frame = np.zeros(shape)
    cy, cx = centre
    frame[cy, cx] = value
    for (dy, dx), v in pixels.items():
        frame[cy + dy, cx + dx] = v
    return frame


def one_event(frame, **kwargs):
    events = apply_classic_cuts(reconstruct_events(frame, **kwargs))
    assert len(events) == 1
    return events[0]


SIDES = [(-1, 0), (1, 0), (0, -1), (0, 1)]
L_SHAPES = [((-1, 0), (0, -1)), ((-1, 0), (0, 1)), ((1, 0), (0, -1)), ((1, 0), (0, 1))]


def test_single():
    ev = one_event(frame_with({}))
    assert ev["GRADE"] == GRADE_SINGLE and ev["PATTERN"] == 0
    assert ev["VALID"] and not ev["CR_FLAG"]
    assert ev["ENERGY"] == pytest.approx(CENTRE)
    assert (ev["X"], ev["Y"]) == (4, 4)


@pytest.mark.parametrize("side", SIDES)
def test_non_diagonal_double_accepted(side):
    ev = one_event(frame_with({side: SIDE}))
    assert ev["GRADE"] == GRADE_DOUBLE and ev["SHAPE_OK"] and ev["VALID"]
    assert ev["ENERGY"] == pytest.approx(CENTRE + SIDE)


@pytest.mark.parametrize("corner", [(-1, -1), (-1, 1), (1, -1), (1, 1)])
def test_diagonal_double_rejected(corner):
    ev = one_event(frame_with({corner: SIDE}))
    assert ev["GRADE"] == GRADE_OTHER and not ev["SHAPE_OK"] and not ev["VALID"] and ev["CR_FLAG"]


@pytest.mark.parametrize("sides", L_SHAPES)
def test_l_triple_accepted(sides):
    ev = one_event(frame_with({sides[0]: SIDE, sides[1]: SIDE}))
    assert ev["GRADE"] == GRADE_TRIPLE and ev["VALID"]
    assert ev["ENERGY"] == pytest.approx(CENTRE + 2 * SIDE)


@pytest.mark.parametrize("sides", L_SHAPES)
def test_quad_accepted(sides):
    (vy, _), (_, hx) = sides
    ev = one_event(frame_with({sides[0]: SIDE, sides[1]: SIDE, (vy, hx): 0.3}))
    assert ev["GRADE"] == GRADE_QUAD and ev["VALID"]
    assert ev["ENERGY"] == pytest.approx(CENTRE + 2 * SIDE + 0.3)


@pytest.mark.parametrize(
    "pixels",
    [
        {(0, -1): SIDE, (0, 1): SIDE},  # straight triple
        {(-1, 0): SIDE, (1, 0): SIDE},  # vertical straight triple
        {(0, 1): SIDE, (-1, 1): 0.3},  # L with the maximum at its end, not its corner
        {(0, 1): SIDE, (1, -1): 0.3},  # double plus a detached corner
        {(-1, 0): SIDE, (0, 1): SIDE, (1, 0): SIDE},  # T
        {(-1, 0): SIDE, (0, 1): SIDE, (-1, 1): 0.3, (1, 1): 0.3},  # quad plus a corner
    ],
)
def test_other_shapes_rejected(pixels):
    ev = one_event(frame_with(pixels))
    assert ev["GRADE"] == GRADE_OTHER and not ev["VALID"]


def test_all_patterns_graded_once():
    """Exactly 1 single, 4 doubles, 4 L-triples and 4 quads among the 256 patterns."""
    counts = np.bincount(grade_of_pattern(np.arange(256)), minlength=5)
    assert counts.tolist() == [1, 4, 4, 4, 256 - 13]


def test_pattern_bits_follow_raster_order():
    active = np.zeros((8, 3, 3), dtype=bool)
    for k, flat in enumerate([0, 1, 2, 3, 5, 6, 7, 8]):
        active[k].flat[flat] = True
    assert pattern_from_window(active).tolist() == [1, 2, 4, 8, 16, 32, 64, 128]


@pytest.mark.parametrize("ring_pixel", [(-2, -2), (-2, 0), (0, 2), (2, 1), (1, -2)])
def test_ring_pixel_rejects_non_single(ring_pixel):
    ev = one_event(frame_with({(0, 1): SIDE, ring_pixel: 0.1}))
    assert ev["GRADE"] == GRADE_DOUBLE and ev["SHAPE_OK"]
    assert ev["RING"] == 1 and ev["RING_REJECT"] and not ev["VALID"]


def test_ring_pixel_ignored_for_single():
    ev = one_event(frame_with({(2, 2): 0.1, (-2, 0): 0.2}))
    assert ev["GRADE"] == GRADE_SINGLE and ev["RING"] == 2
    assert not ev["RING_REJECT"] and ev["VALID"]


def test_ring_below_split_threshold_is_ignored():
    ev = one_event(frame_with({(0, 1): SIDE, (0, 2): 0.08}))  # exactly at threshold: not above it
    assert ev["RING"] == 0 and ev["VALID"]


def test_energy_sums_only_pixels_above_split():
    ev = one_event(frame_with({(0, 1): SIDE, (1, 1): BELOW, (-1, -1): BELOW, (1, 0): -0.04}))
    assert ev["GRADE"] == GRADE_DOUBLE
    assert ev["ENERGY"] == pytest.approx(CENTRE + SIDE)
    np.testing.assert_allclose(ev["PHAS"][1], [0.0, CENTRE, SIDE])


def test_event_threshold_inclusive_and_split_strict():
    assert len(reconstruct_events(frame_with({}, value=0.26))) == 1
    assert len(reconstruct_events(frame_with({}, value=0.2599))) == 0
    ev = one_event(frame_with({(0, 1): 0.0801}))
    assert ev["GRADE"] == GRADE_DOUBLE
    ev = one_event(frame_with({(0, 1): 0.08}))
    assert ev["GRADE"] == GRADE_SINGLE


def test_mip_threshold():
    assert one_event(frame_with({}, value=9.99))["VALID"]
    ev = apply_classic_cuts(reconstruct_events(frame_with({}, value=10.0)))[0]
    assert not ev["VALID"] and ev["CR_FLAG"] and ev["SHAPE_OK"]
    assert apply_classic_cuts(reconstruct_events(frame_with({}, value=12.0)), mip_threshold=15.0)[0]["VALID"]


def test_only_local_maxima_are_events():
    frame = frame_with({(0, 1): 1.5, (0, 3): 0.9})  # 2.0 and 1.5 adjacent; 0.9 two pixels away
    events = reconstruct_events(frame)
    assert [(int(e["Y"]), int(e["X"])) for e in events] == [(4, 4), (4, 7)]


def test_equal_neighbouring_maxima_give_one_event():
    frame = frame_with({(0, 1): CENTRE, (1, 0): CENTRE, (1, 1): CENTRE})
    events = reconstruct_events(frame)
    assert len(events) == 1
    assert (int(events[0]["Y"]), int(events[0]["X"])) == (4, 4)  # first in raster order
    assert events[0]["GRADE"] == GRADE_QUAD


def test_event_on_frame_edge_uses_zero_outside():
    frame = np.zeros((6, 6))
    frame[0, 0] = CENTRE
    frame[0, 1] = SIDE
    ev = one_event(frame)
    assert (ev["X"], ev["Y"], ev["GRADE"]) == (0, 0, GRADE_DOUBLE)
    assert ev["ENERGY"] == pytest.approx(CENTRE + SIDE)
    assert ev["PHAS5"].shape == (5, 5)


def test_stack_frames_and_columns():
    frames = np.stack([frame_with({}), frame_with({(0, 1): SIDE}, centre=(2, 6))])
    events = reconstruct_events(frames)
    assert events["FRAME"].tolist() == [0, 1]
    assert events["PHAS"].shape == (2, 3, 3)
    assert events["ENERGY"].unit == "keV"
    assert events.meta["EVTHRESH"] == 0.26 and events.meta["SPLTHRES"] == 0.08


def test_bad_thresholds_and_shapes():
    with pytest.raises(ValueError, match="split_threshold"):
        reconstruct_events(np.zeros((5, 5)), event_threshold=0.1, split_threshold=0.2)
    with pytest.raises(ValueError, match="2-D or a 3-D"):
        reconstruct_events(np.zeros(5))
