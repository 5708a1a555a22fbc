"""ccdproc's L.A.Cosmic as a crmask detector, for ``crmask bench`` only.

Not part of the installed package: load with
``crmask bench --plugin benchmarks/peers/peers.py --detector peer-ccdproc ...``
(``benchmarks/run_peers.sh`` does). It runs `ccdproc.cosmicray_lacosmic` as a
ccdproc user calls it, beside crmask's ``lacosmic``, so that a benchmark shows
the two give the same masks and what crmask's interface costs. It is not a
detector a user needs: ``lacosmic`` already equals ccdproc's mask pixel for
pixel. The published networks (deepCR, Cosmic-CoNN) and dfcosmic are
installed detectors of the ``crmask_published`` plugin
(``pip install "crmask[published]"``).
"""

from __future__ import annotations

import numpy as np

from crmask import Detector, MaskResult, PreparedImage, hookimpl
from crmask.detector import CALIBRATION_PARAMS
from crmask_lacosmic.detector import DEFAULT_SATLEVEL, LACosmic


class CcdprocLACosmic(Detector):
    """`ccdproc.cosmicray_lacosmic` (L.A.Cosmic through astroscrappy), as ccdproc users call it.

    crmask's gain, read noise and saturation are passed with
    ``gain_apply=False``, so the returned data stay in the input unit; only
    the mask is used.
    """

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
            satlevel=image.satlevel if image.satlevel is not None else DEFAULT_SATLEVEL,
            gain_apply=False,
        )
        return MaskResult(mask=np.asarray(out.mask, dtype=bool) & ~image.bad)


@hookimpl
def register_detectors(register):
    """Register the peer (same hook as an installed crmask plugin)."""
    register(CcdprocLACosmic)
