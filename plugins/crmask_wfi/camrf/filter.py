"""The ``wfi-cam-rf`` event filter: DenseNet class activation maps + random forest.

Poliszczuk et al. (2024, §3.2–4.2). Events are reconstructed as the
classic filter does (`crmask_wfi.events.reconstruct.reconstruct_events`, 3×3 window on
local maxima, 260 eV event and 80 eV split thresholds) but no grade is
applied. For every event in the ``[emin, emax)`` band the frame DenseNet's
class activation maps are read in the 5×5 window around the event centre,
ten features are formed (`crmask_wfi.camrf.features`) and a balanced random forest
gives the cosmic-ray probability ``P_CR``. A forest trained with
``--context-features`` (the shipped one) also uses two frame-wide features,
the distance to the frame's particle tracks and to their axis (`crmask_wfi.camrf.context`);
the forest file's feature names decide which are computed
(`assemble_features`).

The network runs only on the 64×64 sub-frames that the events' windows
touch; CAMs there equal those of the fully processed frame (the sub-frames
are classified independently), so the result is that of the seed's
full-frame pipeline at a fraction of the cost.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from astropy.table import Table

from crmask import EventFilter, Param
from crmask.devices import device_param, resolve_device
from crmask.events import FrameStack
from crmask.threads import torch_threads

from ..events.classic import MIP_THRESHOLD_KEV, frames_in_kev
from .context import CONTEXT_FEATURE_NAMES, context_features
from ..events.reconstruct import EVENT_THRESHOLD_KEV, SPLIT_THRESHOLD_KEV, reconstruct_events
from .features import FEATURE_NAMES, WINDOW_HALF_WIDTH, event_features, window_offsets
from .model_io import SHIPPED_MODEL, resolve_model_dir
from ..sim.simfile import FRAME_CR, FRAME_XRAY

__all__ = ["CamRandomForestFilter", "cam_event_features", "assemble_features"]



def cam_event_features(
    model,
    frames_kev: np.ndarray,
    frame: np.ndarray,
    y: np.ndarray,
    x: np.ndarray,
    energy: np.ndarray,
    *,
    batch_size: int = 256,
    device: str = "cpu",
) -> np.ndarray:
    """Ten CAM features of events at ``(frame, y, x)`` with energies ``energy`` (keV).

    Parameters
    ----------
    model : crmask_wfi.camrf.densenet.FrameDenseNet
    frames_kev : numpy.ndarray, shape (n_frames, ny, nx)
        The frames, in keV.
    frame, y, x : numpy.ndarray of int, shape (n_events,)
        Frame index and centre pixel (row, column) of each event.
    energy : numpy.ndarray, shape (n_events,)
    batch_size : int
        Sub-frames per network pass.
    device : str
        ``"cpu"`` or ``"cuda"``.

    Returns
    -------
    numpy.ndarray, float32, shape (n_events, 10)
    """
    from .cam import compute_cams, tiles_around

    frame, y, x = (np.asarray(a, dtype=np.int64) for a in (frame, y, x))
    needed = tiles_around(frames_kev.shape, frame, y, x, WINDOW_HALF_WIDTH)
    cams = compute_cams(model, frames_kev, tiles=needed, batch_size=batch_size, device=device)
    dy, dx = window_offsets(WINDOW_HALF_WIDTH)
    wy, wx = y[:, None] + dy, x[:, None] + dx
    probabilities = cams.tile_probabilities(frame, y, x)
    return event_features(
        energy,
        probabilities[:, FRAME_XRAY],
        probabilities[:, FRAME_CR],
        cams.values(frame[:, None], wy, wx, FRAME_XRAY),
        cams.values(frame[:, None], wy, wx, FRAME_CR),
    )


def assemble_features(names, cam_features: np.ndarray, context) -> np.ndarray:
    """The forest's input matrix: the ten CAM features, then the context features if the forest uses them.

    Parameters
    ----------
    names : sequence of str
        The forest's feature names (`crmask_wfi.camrf.forest.ForestModel.feature_names`).
    cam_features : numpy.ndarray, shape (n, 10)
        `cam_event_features` of the events.
    context : callable
        Returns the events' `crmask_wfi.camrf.context.context_features` (called only when needed).

    Raises
    ------
    ValueError
        If the forest expects features this version does not compute.
    """
    names = tuple(names)
    if names == FEATURE_NAMES:
        return cam_features
    if names == FEATURE_NAMES + CONTEXT_FEATURE_NAMES:
        return np.hstack([cam_features, context()])
    raise ValueError(
        f"the forest expects features {list(names)}; this crmask computes {list(FEATURE_NAMES)}, "
        f"optionally followed by {list(CONTEXT_FEATURE_NAMES)}"
    )


class CamRandomForestFilter(EventFilter):
    """CAM + random forest cosmic-ray event filter for WFI frames (Poliszczuk et al. 2024).

    The returned table has the classic filter's columns (``FRAME``, ``X``,
    ``Y``, ``ENERGY``, ``GRADE``, ``PHAS``, ...) for every reconstructed
    event, plus

    * ``IN_BAND``: energy in ``[emin, emax)``, where the forest decides;
    * ``P_CR``: the forest's CR probability in band, 1 above ``emax``
      (minimum-ionising tracks), NaN below ``emin``;
    * ``CR_FLAG``: ``P_CR >= threshold``.

    `flag` re-applies another threshold without running the network again.

    References
    ----------
    Poliszczuk, A. et al. 2024, Proc. SPIE.
    """

    name = "wfi-cam-rf"
    summary = "WFI events: DenseNet class activation maps + balanced random forest (Poliszczuk et al.)"
    requires = ("torch", "safetensors")
    parameters: ClassVar[dict[str, Param]] = {
        "weights": Param(SHIPPED_MODEL, "Shipped model name (crmask models) or model directory "
                                        "(densenet/forest safetensors + model_card.json); None: the "
                                        "shipped model", type=str, allow_none=True),
        "threshold": Param(None, "CR probability threshold; default: the model card's operating point",
                           low=0.0, high=1.0, allow_none=True),
        "emin": Param(0.3, "Lower edge of the band the forest classifies, keV", low=0.0),
        "emax": Param(MIP_THRESHOLD_KEV, "Upper edge of the band (MIP threshold), keV; events at or above "
                                         "it are cosmic rays", low=0.0, low_open=True),
        "event_threshold": Param(EVENT_THRESHOLD_KEV, "Event threshold of the central pixel, keV",
                                 low=0.0, low_open=True),
        "split_threshold": Param(SPLIT_THRESHOLD_KEV, "Split threshold, keV", low=0.0),
        "batch_size": Param(256, "64x64 sub-frames per network pass", type=int, low=1, high=65536),
        "device": device_param(),
        "threads": Param(None, "CPU threads for the network; default: torch's setting",
                         type=int, low=1, high=1024, allow_none=True),
    }

    def __init__(self, **params: Any) -> None:
        self._model = None
        super().__init__(**params)

    def _check_params(self) -> None:
        p = self.params
        if p["emin"] >= p["emax"]:
            raise ValueError(f"parameters 'emin' ({p['emin']}) and 'emax' ({p['emax']}) need emin < emax")
        if p["split_threshold"] > p["event_threshold"]:
            raise ValueError(
                f"parameter 'split_threshold' ({p['split_threshold']}) must not exceed "
                f"'event_threshold' ({p['event_threshold']})"
            )
        resolve_model_dir(p["weights"])  # an unknown or missing model fails here, not at every filter call
        if p["device"] == "cuda":
            resolve_device("cuda")  # a missing GPU fails here, once, not at every filter call
        self._model = None

    def _device(self) -> str:
        return resolve_device(self.params["device"])

    def model(self) -> dict:
        """Load (once) and return ``{"densenet", "forest", "card", "directory"}``.

        The files are checked against the SHA-256 their model card records
        (`crmask_wfi.camrf.model_io.verify_model_files`) first.
        """
        if self._model is None:
            from .forest import ForestModel
            from .model_io import (DENSENET_FILE, FOREST_FILE, load_densenet, read_model_card,
                                   verify_model_files)

            directory = resolve_model_dir(self.params["weights"])
            card = read_model_card(directory)
            verify_model_files(directory, card)
            self._model = {
                "densenet": load_densenet(directory / DENSENET_FILE, device=self._device()),
                "forest": ForestModel.load(directory / FOREST_FILE),
                "card": card,
                "directory": directory,
            }
        return self._model

    @property
    def threshold(self) -> float:
        """The threshold in use: the parameter, or the model card's operating point."""
        if self.params["threshold"] is not None:
            return float(self.params["threshold"])
        return float(self.model()["card"]["threshold"])

    def flag(self, table: Table, threshold: float | None = None) -> Table:
        """Re-apply a CR probability threshold (default: `threshold`) to an event table."""
        return super().flag(table, self.threshold if threshold is None else threshold)

    def _filter(self, frames: FrameStack) -> Table:
        p = self.params
        frames_kev = frames_in_kev(frames)
        table = reconstruct_events(
            frames_kev, event_threshold=p["event_threshold"], split_threshold=p["split_threshold"]
        )
        energy = np.asarray(table["ENERGY"], dtype=np.float64)
        in_band = (energy >= p["emin"]) & (energy < p["emax"])
        p_cr = np.where(energy >= p["emax"], 1.0, np.nan)
        if in_band.any():
            model = self.model()
            forest = model["forest"]
            events = table[in_band]
            features = assemble_features(
                forest.feature_names,
                self._features(model["densenet"], frames_kev, events),
                lambda: context_features(
                    frames_kev, np.asarray(events["FRAME"]), np.asarray(events["X"]), np.asarray(events["Y"]),
                    split_threshold=p["split_threshold"], mip_threshold=p["emax"],
                ),
            )
            p_cr[in_band] = forest.predict_proba(features)
        table["IN_BAND"] = in_band
        table["P_CR"] = p_cr
        threshold = self.threshold
        with np.errstate(invalid="ignore"):
            table["CR_FLAG"] = p_cr >= threshold
        table.meta["threshold"] = threshold
        return table

    def _features(self, densenet, frames_kev: np.ndarray, events: Table) -> np.ndarray:
        with torch_threads(self.params["threads"]):
            return cam_event_features(
                densenet,
                frames_kev,
                np.asarray(events["FRAME"]),
                np.asarray(events["Y"]),
                np.asarray(events["X"]),
                np.asarray(events["ENERGY"]),
                batch_size=self.params["batch_size"],
                device=self._device(),
            )

