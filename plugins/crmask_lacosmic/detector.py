"""The ``lacosmic`` detector: astroscrappy's L.A.Cosmic implementation."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crmask import Detector, FITSReadError, InvalidImageError, MaskResult, Param, PreparedImage
from crmask.ccd import pixel_noise
from crmask.detector import CALIBRATION_PARAMS

__all__ = ["LACosmic", "read_psf_kernel", "sky_pedestal"]

#: ccdproc.cosmicray_lacosmic's default saturation level (electrons, as astroscrappy reads it), used when
#: neither ``satlevel`` nor a SATURATE keyword is given.
DEFAULT_SATLEVEL = 65535.0

#: A frame whose median is at most this many read-noise sigmas above zero
#: (in electrons) is taken to have had its sky subtracted.
SKY_SUBTRACTED_SIGMAS = 3.0

#: Pixels the frame statistics are measured on (a regular subset of the rows of larger frames).
_STATISTICS_PIXELS = 1_000_000


def _frame_statistics(image: PreparedImage) -> tuple[float, float]:
    """Median of the good pixels and their pixel-to-pixel noise (`crmask.ccd.pixel_noise`), in electrons.

    Smooth structure (spectral orders, galaxies, gradients) cancels in the
    noise, so it is the noise of a pixel, not the spread of the scene.
    Larger frames are measured on a regular subset of their rows.
    """
    step = max(1, int(image.data.size / _STATISTICS_PIXELS))
    rows, bad = image.data[::step], image.bad[::step]
    median = float(np.median(np.multiply(rows[~bad], image.gain, dtype=np.float64)))
    return median, pixel_noise(image.data, ~image.bad, step) * image.gain


def sky_pedestal(median: float, sigma: float, readnoise: float) -> float:
    """Electrons of sky to add back to a sky-subtracted frame before L.A.Cosmic.

    L.A.Cosmic's noise model is the Poisson noise of the pixel value plus
    the read noise (van Dokkum 2001, eq. 10), so it needs the sky in the
    data, as astroscrappy's documentation says ("or a mean background
    level, added back in after sky subtraction"). On a frame whose median
    is at most `SKY_SUBTRACTED_SIGMAS` read-noise sigmas above zero, the
    pedestal is the sky level whose Poisson noise, with the read noise and
    the frame's own level, gives the measured noise:
    ``sigma**2 - readnoise**2 - median``, and never negative. A frame whose
    noise the model already explains gets no pedestal.

    A constant, not a background map (astroscrappy's ``inbkg``): astroscrappy
    adds ``inbkg`` back into the variance, so a background measured on a
    sky-subtracted frame (near zero, or negative) leaves the noise model as
    wrong as before; what the model lacks is the constant sky that was
    removed, and spatial structure still in the data stays in its median-
    filtered noise model.

    Parameters
    ----------
    median, sigma : float
        Median and pixel-to-pixel noise of the frame, in electrons.
    readnoise : float
        Read noise in electrons.

    Returns
    -------
    float
        Electrons to add (0 for a frame that still has its sky).
    """
    if median > SKY_SUBTRACTED_SIGMAS * readnoise:
        return 0.0
    return max(0.0, sigma**2 - readnoise**2 - median)


def read_psf_kernel(path: str | Path) -> np.ndarray:
    """Read a PSF kernel for ``fsmode='convolve'`` (astroscrappy's ``psfk``) from a FITS file.

    The kernel is the first HDU with data: a 2-D array of finite values with
    odd sides (so that it has a central pixel) and a positive sum. It is
    given to astroscrappy as it is (astroscrappy flips only the kernels it
    builds itself from ``psfmodel``).

    Parameters
    ----------
    path : str or path-like
        FITS file (e.g. written by ``astropy.io.fits.writeto("psf.fits", kernel)``).

    Returns
    -------
    numpy.ndarray
        The kernel, float32 and C-contiguous, as astroscrappy convolves with it.

    Raises
    ------
    FITSReadError
        If the file cannot be read or holds no data.
    InvalidImageError
        If the kernel is not 2-D, has an even side, a non-finite value or a sum that is not positive.
    """
    from astropy.io import fits

    try:
        with fits.open(path, memmap=False) as hdul:
            arrays = [hdu.data for hdu in hdul if hdu.is_image and hdu.data is not None]
            kernel = np.array(arrays[0], dtype=np.float32) if arrays else None
    except (OSError, ValueError, TypeError) as exc:
        raise FITSReadError(f"psfk {path}: not a readable FITS file ({exc})") from None
    if kernel is None:
        raise FITSReadError(f"psfk {path}: no HDU holds data")
    if kernel.ndim != 2 or kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0:
        raise InvalidImageError(f"psfk {path}: the kernel must be 2-D with odd sides, got shape {kernel.shape}")
    if not np.isfinite(kernel).all() or not kernel.sum() > 0:
        raise InvalidImageError(f"psfk {path}: the kernel must be finite with a positive sum")
    return np.ascontiguousarray(kernel)


class LACosmic(Detector):
    """L.A.Cosmic Laplacian edge detection (van Dokkum 2001) via astroscrappy.

    Called exactly as `ccdproc.cosmicray_lacosmic` calls astroscrappy, so for
    the same image and parameters the masks agree pixel for pixel (on frames
    with their sky in, or with ``sky_pedestal=False``; see below). The
    existing ``ccd.mask`` (and non-finite pixels) become astroscrappy's
    ``inmask``. The result has no probability map; ``crmask bench`` traces a
    ROC curve by sweeping ``sigclip`` and ``objlim``.

    Per-pixel inputs, as astroscrappy takes them (McCully et al. 2018):

    * ``invar``: with ``use_uncertainty=True``, the variance from
      ``ccd.uncertainty`` (a `~astropy.nddata.VarianceUncertainty` as it is,
      a `~astropy.nddata.StdDevUncertainty` squared, an
      `~astropy.nddata.InverseVariance` inverted; in the image unit squared;
      `crmask.ccd.PreparedImage.variance`) in place of the noise model from
      the gain and read noise. Off by default, as in ccdproc, whose
      ``cosmicray_lacosmic`` ignores the uncertainty unless given ``invar``:
      an uncertainty made by ``ccdproc.create_deviation`` from the read
      noise and the pixel values lacks the noise of a subtracted sky or
      pedestal, which `sky_pedestal` restores (see below);
    * ``inbkg``: a background (sky) model in the image unit, given to
      `detect` (``background=``), `crmask.cosmicray_clean` (``background=``)
      or ``crmask detect --background EXTNAME``. It is taken out of the data
      for the detection and its Poisson noise is kept unsmoothed in the
      noise model, which protects sky lines and object continua in spectra;
      the cleaned image keeps it;
    * ``psfk``: a PSF kernel read from a FITS file (`read_psf_kernel`), for
      ``fsmode='convolve'``, in place of the ``psfmodel`` kernel.

    The saturation level (``satlevel``, or the ``SATURATE`` keyword) is in
    the image unit, as every crmask calibration value; astroscrappy and
    ccdproc take it in electrons, so an image in adu has it multiplied by
    the gain on the way (``meta["satlevel"]`` holds the level in
    electrons). Without either, ccdproc's default of 65535 electrons
    applies.

    The cleaned image (``MaskResult.cleaned``) is in the image unit, as
    ccdproc returns it with ``gain_apply=False``; ccdproc's default
    ``gain_apply=True`` multiplies it by the gain (and labels the result
    ``electron``).

    Two frames L.A.Cosmic cannot handle as they are are not passed on
    silently, where ccdproc and astroscrappy would flag noise or nothing:

    * a sky-subtracted or negative-sky frame (median at most
      `SKY_SUBTRACTED_SIGMAS` read-noise sigmas above zero) gets the sky its
      noise model lacks added back for the detection (`sky_pedestal`;
      ``meta["sky_pedestal"]`` in electrons, 0 for other frames), so that
      noise is not flagged; this includes raw frames with almost no sky
      whose noise exceeds the read noise. ``sky_pedestal=False`` turns it
      off and gives ccdproc's mask on every frame. A frame whose noise comes
      from its uncertainty (``invar``) needs no pedestal and gets none;
    * a frame whose median is at or above the saturation level (every pixel
      would be masked as saturated, and nothing found) is an error.

    References
    ----------
    van Dokkum, P. G. 2001, PASP, 113, 1420.
    McCully, C. et al. 2018, astroscrappy, doi:10.5281/zenodo.1482019.
    """

    name = "lacosmic"
    summary = "L.A.Cosmic Laplacian edge detection (astroscrappy)"
    requires = ("astroscrappy",)
    needs = ("gain", "readnoise")
    inputs = ("background",)
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
        "psfk": Param(None, "FITS file holding the PSF kernel (2-D, odd sides) when fsmode='convolve', "
                      "instead of psfmodel", type=str, allow_none=True),
        "use_uncertainty": Param(False, "Use ccd.uncertainty as the variance (astroscrappy's invar) instead of "
                                 "the noise model from gain and read noise", type=bool),
        "sky_pedestal": Param(True, "Add the missing sky back to a frame whose median is within "
                              "SKY_SUBTRACTED_SIGMAS read-noise sigmas of zero (False: ccdproc's mask)", type=bool),
        **CALIBRATION_PARAMS,
    }

    def _check_params(self) -> None:
        if self.params["psfsize"] % 2 == 0:
            raise ValueError(f"parameter 'psfsize' must be an odd integer, got {self.params['psfsize']}")
        psfk = self.params["psfk"]
        if psfk is not None and self.params["fsmode"] != "convolve":
            raise ValueError(f"parameter 'psfk' is used only with fsmode='convolve', got fsmode="
                             f"{self.params['fsmode']!r}")
        self._psf_kernel = None if psfk is None else read_psf_kernel(psfk)

    def _detect(self, image: PreparedImage) -> MaskResult:
        from astroscrappy import detect_cosmics

        p = self.params
        # astroscrappy compares the pixels times the gain with satlevel: the level in electrons (ccdproc's
        # default is one already)
        satlevel = image.satlevel * image.gain if image.satlevel is not None else DEFAULT_SATLEVEL
        median, sigma = _frame_statistics(image)
        if median >= satlevel:
            raise InvalidImageError(
                f"the image median times the gain ({median:.4g}) is at or above the saturation level "
                f"({satlevel:.4g}): L.A.Cosmic would mask every pixel and find nothing; check the unit, "
                "the gain and satlevel (SATURATE)"
            )
        variance = None
        if p["use_uncertainty"]:
            if image.uncertainty is None:
                raise InvalidImageError("use_uncertainty=True but the image has no uncertainty; give "
                                        "ccd.uncertainty (an UNCERT extension) or leave use_uncertainty off")
            # astroscrappy computes in float32 and refuses a float64 invar
            variance = image.variance().astype(np.float32, copy=False)
        with_pedestal = p["sky_pedestal"] and variance is None
        pedestal = sky_pedestal(median, sigma, image.readnoise) if with_pedestal else 0.0
        data = image.data + pedestal / image.gain if pedestal else image.data
        mask, cleaned = detect_cosmics(
            data,
            inmask=image.bad,
            inbkg=image.background,
            invar=variance,
            sigclip=p["sigclip"],
            sigfrac=p["sigfrac"],
            objlim=p["objlim"],
            gain=image.gain,
            readnoise=image.readnoise,
            satlevel=satlevel + pedestal,
            niter=p["niter"],
            sepmed=p["sepmed"],
            cleantype=p["cleantype"],
            fsmode=p["fsmode"],
            psfmodel=p["psfmodel"],
            psffwhm=p["psffwhm"],
            psfsize=p["psfsize"],
            psfk=self._psf_kernel,
            psfbeta=p["psfbeta"],
        )
        if pedestal:
            cleaned -= pedestal / image.gain
        meta = {"satlevel": satlevel, "sky_pedestal": pedestal, "inbkg": image.background is not None,
                "invar": variance is not None}
        return MaskResult(mask=mask, cleaned=cleaned, meta=meta)
