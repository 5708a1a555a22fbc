"""Reading images from FITS and writing results safely.

Reading turns every way a file can be wrong into a one-line
`~crmask.exceptions.FITSReadError`; writing is atomic (a file in a temporary
directory inside the target directory, then a rename) and never replaces an
existing file unless asked to.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.nddata import CCDData

from .exceptions import FITSReadError, InvalidImageError, OutputExistsError

__all__ = ["read_ccd", "write_atomic", "atomic_target", "write_cleaned", "output_path", "check_not_input", "CRMASK_EXTNAME"]

#: Name of the image extension holding the cosmic-ray mask (uint8, 1 = CR).
CRMASK_EXTNAME = "CRMASK"

_FITS_SUFFIXES = (".fits.gz", ".fits.fz", ".fit.gz", ".fts.gz", ".fits", ".fit", ".fts")


_STRUCTURAL_KEYWORDS = {"SIMPLE", "BITPIX", "EXTEND", "NAXIS", "NAXIS1", "NAXIS2", "NAXIS3", "COMMENT", "HISTORY", ""}


def _inherit_primary_keywords(header: fits.Header, primary: fits.Header) -> None:
    """Add the primary header's keywords (GAIN, EXPTIME, ...) that an extension lacks."""
    for card in primary.cards:
        if card.keyword not in _STRUCTURAL_KEYWORDS and card.keyword not in header:
            header.append(card)


def _select_hdu(hdul: fits.HDUList, hdu: int | str | None, path: Path) -> int:
    if hdu is not None:
        try:
            index = hdul.index_of(hdu)
        except (KeyError, IndexError):
            index = None
        if index is None or not 0 <= index < len(hdul):
            count = f"{len(hdul)} HDU" + ("" if len(hdul) == 1 else "s")
            names = ", ".join(f"{i}:{h.name}" for i, h in enumerate(hdul))
            raise FITSReadError(f"{path}: no HDU {hdu!r}; the file has {count}: {names}")
        return index
    for index, item in enumerate(hdul):
        if item.is_image and item.header.get("NAXIS", 0) > 0:
            return index
    raise FITSReadError(f"{path}: no HDU holds image data")


def _parse_unit(value: str | u.UnitBase) -> u.UnitBase:
    """Return the unit named by a ``BUNIT`` value or a user's unit string.

    Strings are read as `~astropy.nddata.CCDData.read` reads ``BUNIT``: any
    case of ``adu`` is adu, and the common non-standard spellings astropy
    lists in ``CCDData.known_invalid_fits_unit_strings`` (``ELECTRONS``,
    ``electrons``, ...) are accepted; everything else goes to
    `astropy.units.Unit`.

    Raises
    ------
    ValueError
        If astropy cannot parse the unit.
    """
    if isinstance(value, str):
        text = value.strip()
        if text.lower() == "adu":
            text = "adu"
        value = CCDData.known_invalid_fits_unit_strings.get(text, text)
    return u.Unit(value)


def read_ccd(path: str | os.PathLike, hdu: int | str | None = None, unit: str | u.UnitBase | None = None) -> CCDData:
    """Read one image HDU of a FITS file as a `~astropy.nddata.CCDData`.

    Parameters
    ----------
    path : path-like
        FITS file (``.fits``, ``.fits.gz``, ...).
    hdu : int or str, optional
        Index (from 0) or EXTNAME of the image HDU; default: the first HDU
        with data.
    unit : str or astropy unit, optional
        Pixel unit; default: the ``BUNIT`` keyword. Strings are parsed as
        `~astropy.nddata.CCDData.read` parses ``BUNIT``, so ``'ADU'`` and
        ``'ELECTRONS'`` are adu and electron.

    Returns
    -------
    `~astropy.nddata.CCDData`
        With the HDU's header (primary keywords such as ``GAIN`` added for an
        extension), and ``mask`` from a ``MASK`` extension when present.

    Raises
    ------
    FITSReadError
        If the file is missing, not FITS, truncated, or lacks the HDU.
    InvalidImageError
        If no unit is known or the unit cannot be parsed.
    """
    path = Path(path)
    if not path.exists():
        raise FITSReadError(f"{path}: no such file")
    if path.is_dir():
        raise FITSReadError(f"{path}: is a directory, not a FITS file")
    try:
        with fits.open(path, memmap=False) as hdul:
            index = _select_hdu(hdul, hdu, path)
            data = hdul[index].data
            if data is None:
                raise FITSReadError(f"{path}: HDU {index} ({hdul[index].name}) has no data")
            data = np.array(data)
            header = hdul[index].header.copy()
            if index > 0:
                _inherit_primary_keywords(header, hdul[0].header)
            mask = None
            if "MASK" in hdul and hdul.index_of("MASK") != index:
                mask = np.asarray(hdul["MASK"].data, dtype=bool)
    except FITSReadError:
        raise
    except (OSError, ValueError, TypeError, EOFError) as exc:
        raise FITSReadError(f"{path}: not a readable FITS file (corrupt or truncated?): {exc}") from None

    hint = "give the unit explicitly (e.g. unit='adu' or --unit adu)"
    if unit is not None:
        try:
            unit = _parse_unit(unit)
        except ValueError:
            raise InvalidImageError(f"{path}: unit {unit!r} is not a valid unit") from None
    elif "BUNIT" not in header:
        raise InvalidImageError(f"{path}: no BUNIT keyword; {hint}")
    else:
        try:
            unit = _parse_unit(header["BUNIT"])
        except ValueError:
            raise InvalidImageError(f"{path}: BUNIT {header['BUNIT']!r} is not a valid unit; {hint}") from None
    for key in ("BUNIT", "BSCALE", "BZERO"):
        header.remove(key, ignore_missing=True)
    return CCDData(data, unit=unit, header=header, mask=mask)


def output_path(input_path: str | os.PathLike, outdir: str | os.PathLike) -> Path:
    """Return ``OUTDIR/<input name without its FITS suffix>.fits``."""
    name = Path(input_path).name
    for suffix in _FITS_SUFFIXES:
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return Path(outdir) / f"{name}.fits"


def check_not_input(target: str | os.PathLike, source: str | os.PathLike) -> None:
    """Refuse an output that is its own input (the same path, a symbolic or a hard link to it).

    Every command that writes calls this before any work, whatever
    ``--overwrite`` says: overwriting may replace an earlier result, never
    the data it was made from.

    Raises
    ------
    OutputExistsError
        If ``target`` is ``source``.
    """
    if os.path.exists(target) and os.path.exists(source) and os.path.samefile(target, source):
        raise OutputExistsError(f"{target}: output would replace its own input; choose another output")


def write_atomic(hdul: fits.HDUList, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write ``hdul`` to ``path`` so that no reader ever sees a partial file.

    See `atomic_target` for how; the file is written with a checksum.

    Raises
    ------
    OutputExistsError
        If ``path`` exists and ``overwrite`` is false.
    """
    with atomic_target(path, overwrite=overwrite) as tmp:
        hdul.writeto(tmp, checksum=True)
    return Path(path)


@contextmanager
def atomic_target(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Give a temporary path to write to, then move the file to ``path`` atomically.

    The file is written in a temporary directory inside the target
    directory and then renamed into place (``os.replace`` when overwriting,
    a hard link that fails on an existing target otherwise), so an
    interrupted write leaves either nothing or the old file. The file is
    created like any other new file, so its mode comes from the process
    umask (0644 under umask 022), also when it replaces an existing file.

    Raises
    ------
    OutputExistsError
        If ``path`` exists and ``overwrite`` is false.

    Examples
    --------
    >>> with atomic_target("preview.png") as tmp:  # doctest: +SKIP
    ...     figure.savefig(tmp, format="png")
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path}: exists; use --overwrite (overwrite=True) to replace it")
    # Not tempfile.mkstemp: it creates the file with mode 0600 whatever the umask.
    with tempfile.TemporaryDirectory(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent) as tmpdir:
        tmp = Path(tmpdir) / path.name
        yield tmp
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise OutputExistsError(f"{path}: exists; use --overwrite (overwrite=True) to replace it") from None


def write_cleaned(
    ccd: CCDData, crmask: np.ndarray, path: str | os.PathLike, overwrite: bool = False
) -> Path:
    """Write a cleaned image with its masks, atomically.

    The file holds the cleaned data (primary HDU, with the provenance
    header), ``MASK`` (every masked pixel), ``UNCERT`` when the image has an
    uncertainty, and ``CRMASK`` (uint8, 1 where a cosmic ray was found).
    """
    if crmask.shape != ccd.shape:
        raise InvalidImageError(f"CR mask shape {crmask.shape} does not match image shape {ccd.shape}")
    hdul = ccd.to_hdu(hdu_mask="MASK", hdu_uncertainty="UNCERT", hdu_flags=None)
    hdul.append(fits.ImageHDU(crmask.astype(np.uint8), name=CRMASK_EXTNAME))
    return write_atomic(hdul, path, overwrite=overwrite)
