"""deepCR's pretrained mask models (Zhang & Bloom 2020), called through the ``deepCR`` package.

deepCR is BSD-3-Clause licensed; nothing of it is copied here. deepCR 0.3.1
ships three mask models by name (``learned_models.mask_dict``): ``ACS-WFC``,
``WFC3-UVIS`` and ``decam`` (its ``example_model`` is a test fixture, and the
per-filter ``ACS-WFC-F*.pth`` files are not loadable by name), so those are
the three wrapped.
"""

from __future__ import annotations

from typing import Any

import astropy.units as u
import numpy as np

from crmask import Param
from crmask.detector import CALIBRATION_PARAMS
from crmask.devices import device_param, resolve_device

from .network import PublishedNetwork, threshold_param, tile_param

__all__ = ["DeepCRNetwork", "DeepCRACSWFC", "DeepCRWFC3UVIS", "DeepCRDECam"]


def _parameters(threshold: float, threshold_source: str, electrons: bool) -> dict[str, Param]:
    params = {
        "threshold": threshold_param(threshold, threshold_source),
        "tile": tile_param("deepCR"),
        "device": device_param(),
    }
    if electrons:
        params["gain"] = CALIBRATION_PARAMS["gain"]
    return params


class DeepCRNetwork(PublishedNetwork):
    """A deepCR mask model: ``deepCR(mask=model_name).clean(image, binary=False)``.

    The probability map is deepCR's own: the image (float32, in the model's
    unit) goes to ``deepCR.clean`` with ``inpaint=False, binary=False``;
    with ``tile`` set, deepCR segments it into ``tile`` x ``tile`` stamps
    itself (``segment=True, patch=tile``, without overlap, so a cosmic ray
    on a stamp edge is seen without the context beyond it); ``tile=None``
    runs the whole image at once. ``device`` picks deepCR's ``"CPU"`` or
    ``"GPU"``.

    References
    ----------
    Zhang, K. & Bloom, J. S. 2020, ApJ, 889, 24 (deepCR).
    """

    package = "deepCR"
    summary = "deepCR pretrained mask model"
    requires = ("deepCR", "torch", "tensorboard")

    def _load(self) -> Any:
        from deepCR import deepCR

        device = "GPU" if resolve_device(self.params["device"]) == "cuda" else "CPU"
        return deepCR(mask=self.model_name, device=device)

    def _probability(self, data: np.ndarray) -> np.ndarray:
        tile = self.params["tile"]
        if tile is None:
            return self.network().clean(data, inpaint=False, binary=False, segment=False)
        return self.network().clean(data, inpaint=False, binary=False, segment=True, patch=tile)


class DeepCRACSWFC(DeepCRNetwork):
    """deepCR's HST ACS/WFC model (Kwon, Zhang & Bloom 2021), the package's default.

    Trained on ACS/WFC F435W, F606W and F814W ``_flc`` frames, which are in
    electrons at native resolution, so the image is handed over in
    electrons. Threshold 0.5, as deepCR's documentation recommends for
    ACS/WFC.
    """

    name = "deepcr-acs-wfc"
    summary = "deepCR HST ACS/WFC model (deepCR package, BSD-3; input in electrons)"
    model_name = "ACS-WFC"
    input_unit = u.electron
    parameters = _parameters(0.5, "deepCR's documentation for ACS/WFC", electrons=True)


class DeepCRWFC3UVIS(DeepCRNetwork):
    """deepCR's HST WFC3/UVIS model (Chen et al. 2024).

    Trained on WFC3/UVIS ``_flc`` frames (electrons). deepCR subtracts the
    image's mean and divides by its standard deviation before this model,
    so any linear rescaling gives the same mask; the image is handed over
    in electrons, the frames' unit. Threshold 0.1, the lower end of the
    0.1-0.2 deepCR's documentation gives for WFC3/UVIS.

    References
    ----------
    Chen, Z., Zhang, K., Williams, B. F. & Durbin, M. 2024, ApJ, 962, 7.
    """

    name = "deepcr-wfc3-uvis"
    summary = "deepCR HST WFC3/UVIS model (deepCR package, BSD-3; input in electrons)"
    model_name = "WFC3-UVIS"
    input_unit = u.electron
    parameters = _parameters(0.1, "deepCR's documentation for WFC3/UVIS (0.1-0.2)", electrons=True)


class DeepCRDECam(DeepCRNetwork):
    """deepCR's DECam model (preliminary, trained on g-band coadds).

    deepCR's model zoo asks for calibrated images "in the original unit
    (adu)", so an adu image is handed over as it is and no gain is needed;
    see `PublishedNetwork` for images in electrons. Threshold 0.5, deepCR's
    default.
    """

    name = "deepcr-decam"
    summary = "deepCR DECam model, preliminary (deepCR package, BSD-3; input in adu)"
    model_name = "decam"
    input_unit = u.adu
    needs = ()
    parameters = _parameters(0.5, "deepCR's default", electrons=False)
