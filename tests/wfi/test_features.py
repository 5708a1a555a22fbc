"""The ten CAM event features (Poliszczuk et al. 2024, §4.2, eq. 9) on hand-built windows."""

import numpy as np
import pytest

from crmask_wfi.camrf.features import FEATURE_NAMES, RATIO_EPS, event_features, guarded_ratio, window_offsets


def _windows():
    # X-ray CAM: max 4, min -2; CR CAM: max 3, min 1, median 2 (13 of 25 values are >= 2).
    cam_x = np.zeros(25)
    cam_x[3], cam_x[17] = 4.0, -2.0
    cam_cr = np.concatenate([np.full(12, 1.0), [2.0], np.full(11, 2.5), [3.0]])
    return cam_x, cam_cr


def test_features_of_a_hand_built_event():
    cam_x, cam_cr = _windows()
    features = event_features(np.array([6.4]), np.array([0.9]), np.array([0.05]), cam_x[None], cam_cr[None])
    assert features.shape == (1, 10) and features.dtype == np.float32
    got = dict(zip(FEATURE_NAMES, features[0]))
    expected = {
        "ENERGY": 6.4,
        "NN_P_XRAY": 0.9,
        "NN_P_CR": 0.05,
        "MAX_CAM_X": 4.0,
        "MAX_CAM_CR": 3.0,
        "MEDIAN_CAM_CR": 2.0,
        "F1": 3.0 - (-2.0),                  # max CR - min X
        "F2": 3.0 / 4.0 - 1.0 / (-2.0),      # 0.75 + 0.5
        "F3": 3.0 / 4.0 - 1.0 / 4.0,         # 0.5
        "F4": 3.0 / (-2.0) - 1.0 / 4.0,      # -1.75
    }
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-6), name


def test_pixels_outside_the_frame_are_ignored():
    cam_x, cam_cr = _windows()
    cam_x_edge, cam_cr_edge = cam_x.copy(), cam_cr.copy()
    # An event in a frame corner: the window's first two rows fall outside the frame.
    cam_x_edge[:10] = np.nan
    cam_cr_edge[:10] = np.nan
    features = event_features(np.ones(1), np.ones(1), np.zeros(1), cam_x_edge[None], cam_cr_edge[None])
    got = dict(zip(FEATURE_NAMES, features[0]))
    assert got["MAX_CAM_X"] == 0.0  # the 4 was at index 3, outside
    assert got["MAX_CAM_CR"] == 3.0
    assert got["MEDIAN_CAM_CR"] == 2.5  # 15 finite values: one 2.0, eleven 2.5, one 3.0, two 1.0
    assert np.isfinite(features).all()


def test_zero_denominators_are_guarded():
    cam_x = np.zeros((1, 25))        # max = min = 0
    cam_cr = np.full((1, 25), 2.0)
    features = event_features(np.ones(1), np.ones(1), np.zeros(1), cam_x, cam_cr)
    got = dict(zip(FEATURE_NAMES, features[0]))
    # 2/eps - 2/eps = 0 for f2 and f3; f4 = 2/eps - 2/eps = 0 as well; all finite.
    assert got["F2"] == 0.0 and got["F3"] == 0.0 and got["F4"] == 0.0
    assert np.isfinite(features).all()


def test_guarded_ratio_keeps_sign_and_bound():
    ratio = guarded_ratio(np.array([1.0, 1.0, 1.0, 3.0]), np.array([0.0, -1e-12, 1e-12, -2.0]))
    np.testing.assert_allclose(ratio, [1 / RATIO_EPS, -1 / RATIO_EPS, 1 / RATIO_EPS, -1.5])


def test_window_offsets_cover_5x5():
    dy, dx = window_offsets(2)
    assert len(dy) == 25 and set(zip(dy, dx)) == {(i, j) for i in range(-2, 3) for j in range(-2, 3)}
    assert (dy[12], dx[12]) == (0, 0)


def test_shape_mismatch_and_empty_window_raise():
    with pytest.raises(ValueError, match="CAM windows"):
        event_features(np.ones(2), np.ones(2), np.ones(2), np.zeros((2, 25)), np.zeros((2, 9)))
    with pytest.raises(ValueError, match="finite CAM value"):
        event_features(np.ones(1), np.ones(1), np.ones(1), np.full((1, 25), np.nan), np.zeros((1, 25)))
    assert event_features(np.ones(0), np.ones(0), np.ones(0), np.zeros((0, 25)), np.zeros((0, 25))).shape == (0, 10)
