"""The ``lacosmic`` detector: astroscrappy's L.A.Cosmic implementation."""

from __future__ import annotations

from crmask import Detector, MaskResult, Param, PreparedImage
from crmask.detector import CALIBRATION_PARAMS

__all__ = ["LACosmic"]

#: ccdproc.cosmicray_lacosmic's default saturation level, used when neither
#: ``satlevel`` nor a SATURATE keyword is given.
DEFAULT_SATLEVEL = 65535.0


class LACosmic(Detector):
    """L.A.Cosmic Laplacian edge detection (van Dokkum 2001) via astroscrappy.

    Called exactly as `ccdproc.cosmicray_lacosmic` calls astroscrappy, so for
    the same image and parameters the masks agree pixel for pixel. The
    existing ``ccd.mask`` (and non-finite pixels) become astroscrappy's
    ``inmask``. The result has no probability map; ``crmask bench`` traces a
    ROC curve by sweeping ``sigclip`` and ``objlim``.

    References
    ----------
    van Dokkum, P. G. 2001, PASP, 113, 1420.
    McCully, C. et al. 2018, astroscrappy, doi:10.5281/zenodo.1482019.
    """

    name = "lacosmic"
    summary = "L.A.Cosmic Laplacian edge detection (astroscrappy)"
    requires = ("astroscrappy",)
    needs = ("gain", "readnoise")
    parameters = {
        "sigclip": Param(4.5, "Laplacian-to-noise limit for CR detection", low=0.0, low_open=True),
        "sigfrac": Param(0.3, "Fraction of sigclip used for neighbouring pixels", low=0.0, high=1.0, low_open=True),
        "objlim": Param(5.0, "Minimum contrast between the Laplacian and the fine-structure image", low=0.0, low_open=True),
        "niter": Param(4, "Number of detection iterations", type=int, low=1, high=100),
        "sepmed": Param(True, "Use the separable median filter (faster)", type=bool),
        "cleantype": Param("meanmask", "How CR pixels are cleaned", type=str,
                           choices=("median", "medmask", "meanmask", "idw")),
        "fsmode": Param("median", "How the fine-structure image is built", type=str, choices=("median", "convolve")),
        "psfmodel": Param("gauss", "PSF model when fsmode='convolve'", type=str,
                          choices=("gauss", "gaussx", "gaussy", "moffat")),
        "psffwhm": Param(2.5, "PSF FWHM in pixels when fsmode='convolve'", low=0.0, low_open=True),
        "psfsize": Param(7, "PSF kernel size in pixels (odd) when fsmode='convolve'", type=int, low=3, high=101),
        "psfbeta": Param(4.765, "Moffat beta when psfmodel='moffat'", low=0.0, low_open=True),
        **CALIBRATION_PARAMS,
    }

    def _check_params(self) -> None:
        if self.params["psfsize"] % 2 == 0:
            raise ValueError(f"parameter 'psfsize' must be an odd integer, got {self.params['psfsize']}")

    def _detect(self, image: PreparedImage) -> MaskResult:
        from astroscrappy import detect_cosmics

        p = self.params
        satlevel = image.saturation if image.saturation is not None else DEFAULT_SATLEVEL
        mask, cleaned = detect_cosmics(
            image.data,
            inmask=image.bad,
            sigclip=p["sigclip"],
            sigfrac=p["sigfrac"],
            objlim=p["objlim"],
            gain=image.gain,
            readnoise=image.readnoise,
            satlevel=satlevel,
            niter=p["niter"],
            sepmed=p["sepmed"],
            cleantype=p["cleantype"],
            fsmode=p["fsmode"],
            psfmodel=p["psfmodel"],
            psffwhm=p["psffwhm"],
            psfsize=p["psfsize"],
            psfbeta=p["psfbeta"],
        )
        return MaskResult(mask=mask, cleaned=cleaned, meta={"satlevel": satlevel})
