"""Provenance: which detector, of which version, with which parameters, from which source tree."""

from __future__ import annotations

import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path


@lru_cache(maxsize=None)
def _top_level_distributions() -> dict[str, list[str]]:
    return metadata.packages_distributions()


def distribution_version(cls: type) -> str:
    """Return the version of the installed distribution that holds ``cls``'s module.

    Falls back to ``"unknown"`` for classes defined outside any installed
    distribution (for example in a test module).
    """
    top = cls.__module__.split(".")[0]
    for dist in _top_level_distributions().get(top, []):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return "unknown"


def git_commit(path: str | Path | None = None) -> str | None:
    """Commit of the git checkout holding ``path`` (default: crmask's source), ``-dirty`` if its code changed.

    Model cards record it, so that a model names the code it was trained
    with. "Dirty" means uncommitted changes to tracked files under
    ``crmask/`` or ``plugins/`` of that checkout (documentation and scripts
    do not change what a training computes). None outside a git checkout or
    without git.
    """
    where = Path(path) if path is not None else Path(__file__).parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True,
                                check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                ":(top)crmask", ":(top)plugins"], cwd=where, capture_output=True, text=True,
                               check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}-dirty" if commit and dirty else commit or None


def write_provenance(header, meta: dict, grow: int = 0) -> None:
    """Record a detection's provenance in a FITS header, in place.

    Writes ``CRMDET`` (detector), ``CRMVER`` (its version), ``CRMNPIX``
    (cosmic-ray pixels flagged), ``CRMGROW`` (grow radius), ``CRMTHR``
    (probability threshold, where the detector has one), ``CRMGAIN`` and
    ``CRMRDN`` (the gain and read noise actually used), ``CRMSKY`` (the sky
    level added back to a sky-subtracted frame for detection, in electrons,
    where the detector did so) and one ``HISTORY`` card listing every
    parameter, as ccdproc's ``log_to_metadata`` does.

    Parameters
    ----------
    header : astropy.io.fits.Header
        Header to update.
    meta : dict
        ``MaskResult.meta`` of the detection (with ``n_cr_pixels``).
    grow : int
        Radius the mask was grown by.
    """
    header["CRMDET"] = (meta["detector"], "crmask cosmic-ray detector")
    header["CRMVER"] = (meta["version"], "version of the detector's package")
    header["CRMNPIX"] = (int(meta["n_cr_pixels"]), "pixels flagged as cosmic rays")
    header["CRMGROW"] = (int(grow), "radius the cosmic-ray mask was grown by")
    if meta.get("threshold") is not None:
        header["CRMTHR"] = (float(meta["threshold"]), "cosmic-ray probability threshold")
    calibration = meta.get("calibration", {})
    for key, keyword, comment in (
        ("gain", "CRMGAIN", "gain used for detection (e-/unit)"),
        ("readnoise", "CRMRDN", "read noise used for detection (e-)"),
    ):
        if calibration.get(key) is not None:
            header[keyword] = (float(calibration[key]), comment)
    if meta.get("sky_pedestal"):
        header["CRMSKY"] = (float(meta["sky_pedestal"]), "sky added back for detection (e-)")
    params = ", ".join(f"{key}={value!r}" for key, value in sorted(meta["params"].items()))
    header.add_history(f"crmask.cosmicray_clean detector={meta['detector']!r}, {params}, grow={grow}")
