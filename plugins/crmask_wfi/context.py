"""Frame-wide context features: where an event lies relative to the frame's particle tracks.

An extension of seed 000's ten CAM features (opt-in at training time). The
CAMs only see the 64×64 sub-frame an event falls in, while cosmic-ray
secondaries land tens to hundreds of pixels from their primary's track, near
the track's line or its extension (WFI_PHYSICS.md: typically 35–152 px).
Two features measure that from the event table alone, using the events at or
above the MIP threshold (track pieces) of the same frame:

``D_MIP``
    distance (pixels) from the event centre to the nearest MIP event;
``PERP_MIP``
    distance from the event centre to the straight line through that MIP
    event along the principal axis of the MIP events within `TRACK_RADIUS_PX`
    of it (the track direction); equal to ``D_MIP`` when the track is a
    single event and gives no direction.

A frame without MIP events gives both the value `NO_TRACK_PX`, larger than
any distance inside a 512×512 frame.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CONTEXT_FEATURE_NAMES", "NO_TRACK_PX", "TRACK_RADIUS_PX", "context_features"]

#: Names of the context features, in column order.
CONTEXT_FEATURE_NAMES = ("D_MIP", "PERP_MIP")
#: Value of both features in a frame with no MIP event (beyond any in-frame distance).
NO_TRACK_PX = 2048.0
#: MIP events this close (pixels) to the nearest one are taken as the same track for its direction.
TRACK_RADIUS_PX = 24.0


def context_features(
    frame: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    mip_frame: np.ndarray,
    mip_x: np.ndarray,
    mip_y: np.ndarray,
) -> np.ndarray:
    """``D_MIP`` and ``PERP_MIP`` of events, given the MIP events of the same frames.

    Parameters
    ----------
    frame, x, y : numpy.ndarray, shape (n,)
        Frame index and centre (column, row) of the events to describe.
    mip_frame, mip_x, mip_y : numpy.ndarray, shape (m,)
        The same for the MIP events (energy at or above the MIP threshold).

    Returns
    -------
    numpy.ndarray, float32, shape (n, 2)
        Columns as in `CONTEXT_FEATURE_NAMES`.
    """
    frame = np.asarray(frame)
    out = np.full((len(frame), 2), NO_TRACK_PX, dtype=np.float64)
    mip_frame = np.asarray(mip_frame)
    mip_xy = np.column_stack([mip_x, mip_y]).astype(np.float64)
    xy = np.column_stack([x, y]).astype(np.float64)
    order = np.argsort(mip_frame, kind="stable")
    mip_frame, mip_xy = mip_frame[order], mip_xy[order]
    starts = np.searchsorted(mip_frame, frame, side="left")
    stops = np.searchsorted(mip_frame, frame, side="right")
    for i in np.nonzero(stops > starts)[0]:
        tracks = mip_xy[starts[i]:stops[i]]
        offsets = tracks - xy[i]
        distance = np.hypot(offsets[:, 0], offsets[:, 1])
        nearest = int(np.argmin(distance))
        out[i, 0] = out[i, 1] = distance[nearest]
        members = tracks[np.hypot(*(tracks - tracks[nearest]).T) <= TRACK_RADIUS_PX]
        if len(members) >= 2:
            centred = members - members.mean(axis=0)
            _, singular, axes = np.linalg.svd(centred, full_matrices=False)
            if singular[0] > 0:
                direction = axes[0]
                along = offsets[nearest] @ direction
                out[i, 1] = np.sqrt(max(distance[nearest] ** 2 - along**2, 0.0))
    return out.astype(np.float32)
