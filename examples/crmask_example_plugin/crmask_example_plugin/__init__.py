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


class MedianSigma(crmask.Detector):
    """Flag pixels far above their local median, in units of the expected noise."""

    name = "median-sigma"
    summary = "Median-filter residual above N sigma (example plugin)"
    requires = ("scipy",)
    # Gain and read noise must be known; the ``gain`` and ``readnoise``
    # parameters come with this declaration, resolved against the header.
    needs = ("gain", "readnoise")
    parameters = {
        "nsigma": crmask.Param(8.0, "Detection threshold in noise sigmas", low=0.0, low_open=True),
        "box": crmask.Param(5, "Median filter box size in pixels (odd)", low=3, high=31),
    }

    def _check_params(self):
        if self.params["box"] % 2 == 0:
            raise ValueError(f"parameter 'box' must be odd, got {self.params['box']}")

    def _detect(self, image):
        electrons = image.in_electrons
        background = ndimage.median_filter(electrons, size=self.params["box"])
        noise = np.sqrt(np.clip(background, 0, None) + image.readnoise**2)
        mask = (electrons - background) > self.params["nsigma"] * noise
        return crmask.MaskResult(mask=mask)


@crmask.hookimpl
def register_detectors(register):
    register(MedianSigma)
