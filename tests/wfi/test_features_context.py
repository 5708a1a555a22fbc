"""Frame-wide context features (distance to the frame's tracks) on hand-placed events."""

import numpy as np
import pytest

from crmask_wfi.context import NO_TRACK_PX, context_features


def test_distance_and_perpendicular_distance_to_a_track():
    # Frame 0: a horizontal track of three MIP events along y = 100; frame 2: one isolated MIP event.
    mip_frame = np.array([0, 0, 0, 2])
    mip_x = np.array([100, 110, 120, 50])
    mip_y = np.array([100, 100, 100, 50])
    frame = np.array([0, 1, 2, 0])
    x = np.array([130, 10, 53, 300])
    y = np.array([130, 10, 54, 100])
    got = context_features(frame, x, y, mip_frame, mip_x, mip_y)
    assert got.shape == (4, 2) and got.dtype == np.float32
    # Nearest track piece (120, 100): sqrt(10^2 + 30^2); the track line y = 100 is 30 px away.
    assert got[0] == pytest.approx([np.hypot(10, 30), 30.0])
    # No track in frame 1.
    assert got[1] == pytest.approx([NO_TRACK_PX, NO_TRACK_PX])
    # A one-event track has no direction: both are the distance, 5 px.
    assert got[2] == pytest.approx([5.0, 5.0])
    # On the track's extension: 180 px away, on its line.
    assert got[3] == pytest.approx([180.0, 0.0], abs=1e-4)


def test_no_events_or_no_tracks():
    assert context_features(np.zeros(0, int), np.zeros(0), np.zeros(0), [1], [2], [3]).shape == (0, 2)
    got = context_features(np.array([0]), np.array([1]), np.array([1]), np.zeros(0, int), np.zeros(0), np.zeros(0))
    assert got[0] == pytest.approx([NO_TRACK_PX, NO_TRACK_PX])
