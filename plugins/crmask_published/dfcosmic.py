"""dfcosmic: L.A.Cosmic as the original IRAF script does it, on PyTorch (CPU or GPU).

dfcosmic is licensed under the GPL-3.0: it is only imported and called
here, never copied, and it is not a dependency of crmask (only of the
optional ``published`` extra).
"""

from __future__ import annotations

import numpy as np

from crmask import Detector, MaskResult, Param, PreparedImage
from crmask.detector import CALIBRATION_PARAMS
from crmask.devices import device_param, resolve_device

from .network import import_required

__all__ = ["DFCosmic"]


class DFCosmic(Detector):
    """L.A.Cosmic (van Dokkum 2001) through ``dfcosmic.lacosmic``, on the CPU or a GPU.

    dfcosmic follows van Dokkum's IRAF script ``lacos_im.cl`` strictly (a
    true median filter, unlike astroscrappy's default separable one) and
    runs on PyTorch, so on a GPU it is L.A.Cosmic at pipeline speed. The
    defaults are dfcosmic's own (``sigclip=4.5, sigfrac=0.5, objlim=1,
    niter=1``); crmask's ``lacosmic`` uses astroscrappy's. dfcosmic takes the
    image in its own unit with the gain in electrons per that unit, as
    crmask resolves them (gain 1 for an image in electrons). It has no input
    mask: pixels of ``ccd.mask`` are handed over as NaN, which dfcosmic
    ignores and never flags. It has no probability map, so ``crmask bench``
    sweeps ``sigclip`` and ``objlim`` for its ROC curve.

    References
    ----------
    van Dokkum, P. G. 2001, PASP, 113, 1420.
    Rhea, C. et al. 2026, dfcosmic, doi:10.5281/zenodo.18451350.
    """

    name = "dfcosmic"
    summary = "L.A.Cosmic as in van Dokkum's IRAF script, on PyTorch CPU or GPU (dfcosmic package, GPL-3)"
    requires = ("dfcosmic", "torch")
    needs = ("gain", "readnoise")
    parameters = {
        "sigclip": Param(4.5, "Laplacian-to-noise limit for CR detection", low=0.0, low_open=True),
        "sigfrac": Param(0.5, "Fraction of sigclip used for neighbouring pixels", low=0.0, high=1.0),
        "objlim": Param(1.0, "Minimum contrast between the Laplacian and the fine-structure image", low=0.0),
        "niter": Param(1, "Number of detection iterations", type=int, low=1, high=100),
        "device": device_param(),
        "gain": CALIBRATION_PARAMS["gain"],
        "readnoise": CALIBRATION_PARAMS["readnoise"],
    }

    def _check_params(self) -> None:
        import_required(self.name, self.requires)
        resolve_device(self.params["device"])

    def _detect(self, image: PreparedImage) -> MaskResult:
        from dfcosmic import lacosmic

        p = self.params
        data = image.data.copy()
        data[image.bad] = np.nan
        cleaned, mask = lacosmic(
            data,
            sigclip=p["sigclip"],
            sigfrac=p["sigfrac"],
            objlim=p["objlim"],
            niter=p["niter"],
            gain=image.gain,
            readnoise=image.readnoise,
            device=resolve_device(p["device"]),
        )
        return MaskResult(mask=np.asarray(mask, dtype=bool), cleaned=np.where(image.bad, image.data, cleaned))
