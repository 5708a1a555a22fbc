"""Frame-wide context features (distance to the frame's tracks) on hand-built frames."""

import numpy as np
import pytest

from crmask_wfi.camrf.context import NO_TRACK_PX, context_features, track_context

SPLIT, MIP = 0.08, 10.0


def _frame_with_track():
    """A 64x64 keV frame: a horizontal 8-pixel track at row 20 (columns 10-17, 5 keV each = 40 keV),
    a 3 keV single pixel (not a track: below the MIP threshold) and a 12 keV single-pixel blob."""
    frame = np.zeros((64, 64))
    frame[20, 10:18] = 5.0
    frame[50, 50] = 3.0
    frame[5, 60] = 12.0
    return frame


def test_distance_and_perpendicular_distance_to_a_track():
    frame = _frame_with_track()
    # Event A below the track's extension: nearest track pixel (17, 20); the axis is the row y = 20.
    # Event B on a track pixel. Event C next to the round 12 keV blob (no direction: PERP = D).
    got = track_context(frame, np.array([40, 12, 60]), np.array([30, 20, 9]), split_threshold=SPLIT,
                        mip_threshold=MIP)
    assert got[0] == pytest.approx([np.hypot(40 - 17, 30 - 20), 10.0])
    assert got[1] == pytest.approx([0.0, 0.0])
    assert got[2] == pytest.approx([4.0, 4.0])


def test_frames_without_tracks_and_stacks():
    frame = _frame_with_track()
    empty = np.zeros((64, 64))
    empty[30, 30] = 3.0  # an X-ray-like event only
    stack = np.stack([empty, frame])
    got = context_features(stack, np.array([1, 0]), np.array([40, 30]), np.array([30, 31]),
                           split_threshold=SPLIT, mip_threshold=MIP)
    assert got.dtype == np.float32 and got.shape == (2, 2)
    assert got[0] == pytest.approx([np.hypot(23, 10), 10.0])
    assert got[1] == pytest.approx([NO_TRACK_PX, NO_TRACK_PX])
    assert context_features(stack, np.zeros(0, int), np.zeros(0, int), np.zeros(0, int),
                            split_threshold=SPLIT, mip_threshold=MIP).shape == (0, 2)


def test_diagonal_track_direction():
    frame = np.zeros((64, 64))
    for k in range(8):
        frame[10 + k, 10 + k] = 5.0  # a diagonal track, 8-connected
    # A point on the diagonal's extension is on the axis; one off it is |dx - dy| / sqrt(2) away.
    got = track_context(frame, np.array([40, 40]), np.array([40, 30]), split_threshold=SPLIT, mip_threshold=MIP)
    assert got[0, 1] == pytest.approx(0.0, abs=1e-6)
    assert got[1, 1] == pytest.approx(10 / np.sqrt(2))
