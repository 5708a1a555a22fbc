"""Cosmic-CoNN's pretrained models (Xu et al. 2023), called through the ``cosmic-conn`` package.

Cosmic-CoNN is licensed under the GPL-3.0: it is only imported and called
here, never copied, and it is not a dependency of crmask (only of the
optional ``published`` extra). cosmic-conn 0.6.1 ships three models, all
wrapped: ``ground_imaging``, ``NRES`` and ``HST_ACS_WFC``.
"""

from __future__ import annotations

from typing import Any

import astropy.units as u
import numpy as np

from crmask.detector import CALIBRATION_PARAMS

from .network import PublishedNetwork, threshold_param, tile_param

__all__ = ["CosmicCoNNNetwork", "CosmicCoNNGround", "CosmicCoNNNRES", "CosmicCoNNHST", "SIZE_MULTIPLE"]

#: Cosmic-CoNN runs its network on the largest top-left part of each stamp whose sides are multiples of this
#: and leaves the rest of the stamp at probability 0.
SIZE_MULTIPLE = 16


class CosmicCoNNNetwork(PublishedNetwork):
    """A Cosmic-CoNN model: ``init_model(model_name).detect_cr(image)``.

    The image, in electrons (the unit of the LCO BANZAI and HST ``_flc``
    frames the models were trained on; the package subtracts the median of
    each stamp itself), goes to ``detect_cr``. Cosmic-CoNN cuts it into
    ``tile`` x ``tile`` stamps without overlap (``tile=None``: the whole
    image) and runs the network only on the largest part of each stamp
    whose sides are multiples of 16, leaving the last rows and columns of an
    image whose size is not such a multiple at probability 0; so the image
    is first extended to multiples of 16 by mirroring its last rows and
    columns and the result cut back, and every pixel is examined. Cosmic-CoNN
    runs on the GPU whenever torch sees one (the package's choice; it has no
    device option). Threshold 0.5, as its documentation recommends.

    References
    ----------
    Xu, C., McCully, C., Dong, B., Howell, D. A. & Sen, P. 2023, PASP, 135, 024504 (Cosmic-CoNN).
    """

    package = "cosmic-conn"
    summary = "Cosmic-CoNN pretrained model"
    requires = ("cosmic_conn", "torch")
    input_unit = u.electron
    parameters = {
        "threshold": threshold_param(0.5, "Cosmic-CoNN's documentation"),
        "tile": tile_param("Cosmic-CoNN"),
        "gain": CALIBRATION_PARAMS["gain"],
    }

    def _load(self) -> Any:
        from cosmic_conn import init_model
        from cosmic_conn.dl_framework.options import ModelOptions

        options = ModelOptions()
        options.crop = self.params["tile"] or 0  # 0: Cosmic-CoNN's whole-image detection
        return init_model(self.model_name, options)

    def _probability(self, data: np.ndarray) -> np.ndarray:
        ny, nx = data.shape
        padded = np.pad(data, ((0, -ny % SIZE_MULTIPLE), (0, -nx % SIZE_MULTIPLE)), mode="symmetric")
        return self.network().detect_cr(padded, ret_numpy=True)[:ny, :nx]


class CosmicCoNNGround(CosmicCoNNNetwork):
    """Cosmic-CoNN's generic ground-based imaging model, trained on LCO imaging frames (electrons)."""

    name = "cosmic-conn-ground"
    summary = "Cosmic-CoNN ground-imaging model (cosmic-conn package, GPL-3; input in electrons)"
    model_name = "ground_imaging"


class CosmicCoNNNRES(CosmicCoNNNetwork):
    """Cosmic-CoNN's spectroscopic model, trained on LCO NRES echelle frames (electrons)."""

    name = "cosmic-conn-nres"
    summary = "Cosmic-CoNN LCO NRES spectroscopy model (cosmic-conn package, GPL-3; input in electrons)"
    model_name = "NRES"


class CosmicCoNNHST(CosmicCoNNNetwork):
    """Cosmic-CoNN's HST ACS/WFC model (batch normalisation), trained on ACS/WFC ``_flc`` frames (e-)."""

    name = "cosmic-conn-hst"
    summary = "Cosmic-CoNN HST ACS/WFC model (cosmic-conn package, GPL-3; input in electrons)"
    model_name = "HST_ACS_WFC"
