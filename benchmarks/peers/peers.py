"""Published cosmic-ray detectors wrapped as crmask detectors, for ``crmask bench``.

Not part of the installed package: load with
``crmask bench --plugin benchmarks/peers/peers.py --detector peer-deepcr ...``
after installing ``benchmarks/requirements-peers.txt`` (see
``benchmarks/run_peers.sh``). Each wrapper calls the published package and its
shipped pretrained model; nothing of those packages is copied here
(Cosmic-CoNN is GPL-3 and is only imported and called).

Units: crmask hands every detector the image in its own unit with the gain
resolved from the header, and each wrapper converts to what its model's
documentation asks for:

* ``peer-deepcr``: deepCR's ``decam`` model takes calibrated images in adu
  (deepCR model-zoo notes); images in electrons are divided by the gain.
* ``peer-cosmic-conn``: Cosmic-CoNN's ``ground_imaging`` model was trained
  on LCO BANZAI frames, which are in electrons; adu are multiplied by the gain.
  The model subtracts the image median itself.
* ``peer-ccdproc``: `ccdproc.cosmicray_lacosmic` with crmask's gain, read
  noise and saturation (``gain_apply=False``, so the returned data stay in
  the input unit; only the mask is used).
"""

from __future__ import annotations

import numpy as np

from crmask import Detector, MaskResult, Param, PreparedImage, hookimpl
from crmask.detector import CALIBRATION_PARAMS
from crmask_lacosmic.detector import DEFAULT_SATLEVEL, LACosmic


_DEVICE = Param("cpu", "Device to run the network on", type=str, choices=("cpu", "cuda"))
_THRESHOLD = Param(0.5, "Probability threshold of the mask", low=0.0, high=1.0)


class CcdprocLACosmic(Detector):
    """`ccdproc.cosmicray_lacosmic` (L.A.Cosmic through astroscrappy), as ccdproc users call it."""

    name = "peer-ccdproc"
    summary = "ccdproc.cosmicray_lacosmic (peer)"
    requires = ("ccdproc",)
    needs = ("gain", "readnoise")
    # The same declarations as crmask's own lacosmic detector, so both sweep alike.
    parameters = {
        key: LACosmic.parameters[key]
        for key in ("sigclip", "sigfrac", "objlim", "niter", *CALIBRATION_PARAMS)
    }

    def _detect(self, image: PreparedImage) -> MaskResult:
        from astropy.nddata import CCDData
        from ccdproc import cosmicray_lacosmic

        p = self.params
        ccd = CCDData(image.data, unit=image.unit, mask=image.bad)
        out = cosmicray_lacosmic(
            ccd,
            sigclip=p["sigclip"],
            sigfrac=p["sigfrac"],
            objlim=p["objlim"],
            niter=p["niter"],
            gain=image.gain,
            readnoise=image.readnoise,
            satlevel=image.saturation if image.saturation is not None else DEFAULT_SATLEVEL,
            gain_apply=False,
        )
        return MaskResult(mask=np.asarray(out.mask, dtype=bool) & ~image.bad)


class DeepCRPeer(Detector):
    """deepCR (Zhang & Bloom 2020) with a pretrained model shipped in the ``deepCR`` package."""

    name = "peer-deepcr"
    summary = "deepCR pretrained mask model (peer)"
    requires = ("deepCR", "torch")
    needs = ("gain",)
    parameters = {
        "model": Param("decam", "deepCR mask model", type=str, choices=("decam", "ACS-WFC", "WFC3-UVIS")),
        "threshold": _THRESHOLD,
        "device": _DEVICE,
        "gain": CALIBRATION_PARAMS["gain"],
    }

    def __init__(self, **params) -> None:
        super().__init__(**params)
        from deepCR import deepCR

        self._model = deepCR(mask=self.params["model"], device=self.params["device"].upper())

    def _detect(self, image: PreparedImage) -> MaskResult:
        # The ground-based "decam" model wants adu; the HST models want electrons.
        wants_adu = self.params["model"] == "decam"
        data = image.data / image.gain if wants_adu else image.in_electrons
        probability = self._model.clean(data.astype(np.float32), inpaint=False, binary=False)
        probability = np.asarray(probability, dtype=np.float32)
        threshold = self.params["threshold"]
        return MaskResult(mask=probability > threshold, probability=probability, threshold=threshold)


class CosmicCoNNPeer(Detector):
    """Cosmic-CoNN (Xu et al. 2023) with a pretrained model shipped in the ``cosmic-conn`` package."""

    name = "peer-cosmic-conn"
    summary = "Cosmic-CoNN pretrained model (peer, GPL-3 package called, not copied)"
    requires = ("cosmic_conn", "torch")
    needs = ("gain",)
    parameters = {
        "model": Param("ground_imaging", "Cosmic-CoNN model", type=str, choices=("ground_imaging", "NRES")),
        "threshold": _THRESHOLD,
        "gain": CALIBRATION_PARAMS["gain"],
    }

    def __init__(self, **params) -> None:
        super().__init__(**params)
        from cosmic_conn import init_model

        self._model = init_model(self.params["model"])

    def _detect(self, image: PreparedImage) -> MaskResult:
        probability = np.asarray(self._model.detect_cr(image.in_electrons.astype(np.float32)), dtype=np.float32)
        threshold = self.params["threshold"]
        return MaskResult(mask=probability > threshold, probability=probability, threshold=threshold)


@hookimpl
def register_detectors(register):
    """Register the peers (the same hook as an installed crmask plugin)."""
    register(CcdprocLACosmic)
    register(DeepCRPeer)
    register(CosmicCoNNPeer)
