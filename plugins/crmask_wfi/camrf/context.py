"""Frame-wide context features: where an event lies relative to the frame's particle tracks.

An extension of Poliszczuk et al.'s (2024) ten CAM features (opt-in at training time). The
CAMs only see the 64×64 sub-frame an event falls in, while cosmic-ray
secondaries land tens to hundreds of pixels from their primary's track, near
the track's line or its extension (WFI_PHYSICS.md: typically 35–152 px).

A *track* is a connected group (8-neighbour) of pixels above the split
threshold whose summed energy reaches the MIP threshold. For each event:

``D_TRACK``
    distance (pixels) from the event centre to the nearest track pixel (0
    when the event is part of a track);
``PERP_TRACK``
    distance from the event centre to the principal axis of that track (the
    energy-weighted line through its centroid); equal to ``D_TRACK`` when the
    track is not elongated (axis ratio below `MIN_ELONGATION`) and so gives
    no direction.

A frame without tracks gives both the value `NO_TRACK_PX`, larger than any
distance inside a 512×512 frame.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["CONTEXT_FEATURE_NAMES", "NO_TRACK_PX", "MIN_ELONGATION", "track_context", "context_features"]

#: Names of the context features, in column order.
CONTEXT_FEATURE_NAMES = ("D_TRACK", "PERP_TRACK")
#: Value of both features in a frame with no track (beyond any in-frame distance).
NO_TRACK_PX = 2048.0
#: Smallest ratio of the principal variances for a track to have a direction.
MIN_ELONGATION = 1.5

_EIGHT_NEIGHBOURS = np.ones((3, 3), dtype=bool)


def track_context(
    frame_kev: np.ndarray, x: np.ndarray, y: np.ndarray, *, split_threshold: float, mip_threshold: float
) -> np.ndarray:
    """``D_TRACK`` and ``PERP_TRACK`` of events at ``(x, y)`` in one frame.

    Parameters
    ----------
    frame_kev : numpy.ndarray, shape (ny, nx)
        The frame, in keV.
    x, y : numpy.ndarray of int, shape (n,)
        Event centres (column, row).
    split_threshold : float
        Pixels above it (keV) belong to tracks.
    mip_threshold : float
        Smallest summed energy (keV) of a track.

    Returns
    -------
    numpy.ndarray, float64, shape (n, 2)
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    out = np.full((len(x), 2), NO_TRACK_PX)
    labels, n = ndimage.label(frame_kev > split_threshold, structure=_EIGHT_NEIGHBOURS)
    if n == 0 or len(x) == 0:
        return out
    energy = ndimage.sum_labels(frame_kev, labels, index=np.arange(1, n + 1))
    tracks = np.nonzero(energy >= mip_threshold)[0] + 1
    if len(tracks) == 0:
        return out
    py, px = np.nonzero(np.isin(labels, tracks))
    owner = labels[py, px]
    weight = frame_kev[py, px].astype(np.float64)
    # Energy-weighted centroid and principal axis of every track.
    centroid, axis, elongated = {}, {}, {}
    for track in tracks:
        mine = owner == track
        w = weight[mine]
        cx, cy = np.average(px[mine], weights=w), np.average(py[mine], weights=w)
        centroid[track] = (cx, cy)
        elongated[track] = False
        if mine.sum() >= 2:
            cov = np.cov(np.vstack([px[mine] - cx, py[mine] - cy]), aweights=w)
            values, vectors = np.linalg.eigh(cov)
            axis[track] = vectors[:, 1]
            elongated[track] = values[1] > MIN_ELONGATION * max(values[0], 1e-12)
    distance = np.hypot(px[None, :] - x[:, None], py[None, :] - y[:, None])
    nearest = np.argmin(distance, axis=1)
    out[:, 0] = distance[np.arange(len(x)), nearest]
    out[:, 1] = out[:, 0]
    for i, track in enumerate(owner[nearest]):
        if elongated[track]:
            dx, dy = x[i] - centroid[track][0], y[i] - centroid[track][1]
            ux, uy = axis[track]
            out[i, 1] = abs(dx * uy - dy * ux)
    return out


def context_features(
    frames_kev: np.ndarray,
    frame: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    *,
    split_threshold: float,
    mip_threshold: float,
) -> np.ndarray:
    """`track_context` of events in a stack of frames.

    Parameters
    ----------
    frames_kev : numpy.ndarray, shape (n_frames, ny, nx)
    frame, x, y : numpy.ndarray of int, shape (n,)
        Frame index and centre (column, row) of each event.
    split_threshold, mip_threshold : float
        As in `track_context`, keV.

    Returns
    -------
    numpy.ndarray, float32, shape (n, 2)
        Columns as in `CONTEXT_FEATURE_NAMES`.
    """
    frame = np.asarray(frame)
    out = np.empty((len(frame), len(CONTEXT_FEATURE_NAMES)), dtype=np.float32)
    for index in np.unique(frame):
        rows = np.nonzero(frame == index)[0]
        out[rows] = track_context(frames_kev[index], np.asarray(x)[rows], np.asarray(y)[rows],
                                  split_threshold=split_threshold, mip_threshold=mip_threshold)
    return out
