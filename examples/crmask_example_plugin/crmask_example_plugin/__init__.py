"""A minimal third-party crmask plugin.

It registers one detector, ``median-sigma``, which flags pixels that stand
more than ``nsigma`` noise sigmas above a median-filtered copy of the image.
It is deliberately simple (stellar cores can be flagged too); it shows how a
plugin declares parameters, needs calibration values and returns a
`crmask.MaskResult`.
"""

import numpy as np
from scipy import ndimage

import crmask
from crmask.detector import CALIBRATION_PARAMS


class MedianSigma(crmask.Detector):
    """Flag pixels far above their local median, in units of the expected noise."""

    name = "median-sigma"
    summary = "Median-filter residual above N sigma (example plugin)"
    requires = ("scipy",)
    needs = ("gain", "readnoise")
    parameters = {
        "nsigma": crmask.Param(8.0, "Detection threshold in noise sigmas", low=0.0, low_open=True),
        "box": crmask.Param(5, "Median filter box size in pixels (odd)", type=int, low=3, high=31),
        "gain": CALIBRATION_PARAMS["gain"],
        "readnoise": CALIBRATION_PARAMS["readnoise"],
    }

    def _check_params(self):
        if self._params["box"] % 2 == 0:
            raise ValueError(f"parameter 'box' must be odd, got {self._params['box']}")

    def _detect(self, image):
        electrons = image.in_electrons
        background = ndimage.median_filter(electrons, size=self._params["box"])
        noise = np.sqrt(np.clip(background, 0, None) + image.readnoise**2)
        mask = (electrons - background) > self._params["nsigma"] * noise
        return crmask.MaskResult(mask=mask)


@crmask.hookimpl
def register_detectors(register):
    register(MedianSigma)
