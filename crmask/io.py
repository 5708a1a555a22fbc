"""Reading images from FITS and writing results safely.

Reading turns every way a file can be wrong into a one-line
`~crmask.exceptions.FITSReadError`; writing is atomic (a file in a temporary
directory inside the target directory, then a rename) and never replaces an
existing file unless asked to.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import shutil
import socket
import tempfile
import warnings
import zlib
from contextlib import contextmanager
from glob import escape as glob_escape
from pathlib import Path
from typing import Iterator, Sequence

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.io.fits.verify import VerifyError
from astropy.nddata import CCDData, InverseVariance, NDData, StdDevUncertainty, VarianceUncertainty
from astropy.utils.exceptions import AstropyUserWarning

from .exceptions import CrmaskWarning, FITSReadError, InvalidImageError, OutputExistsError

__all__ = [
    "read_ccd",
    "read_ccd_and_others",
    "extension_image",
    "write_atomic",
    "atomic_target",
    "write_cleaned",
    "output_path",
    "check_not_input",
    "CRMASK_EXTNAME",
    "CRPROB_EXTNAME",
]

#: Name of the image extension holding the cosmic-ray mask (uint8, 1 = CR).
CRMASK_EXTNAME = "CRMASK"
#: Name of the image extension holding the cosmic-ray probability (float32), for detectors that have one.
CRPROB_EXTNAME = "CRPROB"

# Read with the image, as CCDData.read reads them (its hdu_mask and hdu_uncertainty defaults).
_MASK_EXTNAME, _UNCERT_EXTNAME = "MASK", "UNCERT"
# CCDData.to_hdu's name for per-pixel flags: kept as they are (CCDData.read does not read them either).
_FLAGS_EXTNAME = "FLAGS"
# CCDData.to_hdu records the uncertainty class in UTYPE; CCDData.read reads it back (StdDev when absent).
_UNCERTAINTY_CLASSES = {cls.__name__: cls for cls in (StdDevUncertainty, VarianceUncertainty, InverseVariance)}
# Products of an earlier crmask run: replaced by the new ones, not kept twice.
_PRODUCT_EXTNAMES = (CRMASK_EXTNAME, CRPROB_EXTNAME)
# astropy's warning (not an error) for a CHECKSUM or DATASUM that does not match, with fits.open(checksum=True).
_SUM_FAILED = r"(Checksum|Datasum) verification failed for HDU "
# Temporary directories of write_atomic: ``.<name>.crmask-<host>-<pid>-<random>.tmp``.
_TMP_TAG, _TMP_SUFFIX = ".crmask-", ".tmp"

_FITS_SUFFIXES = (".fits.gz", ".fits.fz", ".fit.gz", ".fts.gz", ".fits", ".fit", ".fts")


_STRUCTURAL_KEYWORDS = {"SIMPLE", "BITPIX", "EXTEND", "NAXIS", "NAXIS1", "NAXIS2", "NAXIS3", "COMMENT", "HISTORY", ""}


def _inherit_primary_keywords(header: fits.Header, primary: fits.Header) -> None:
    """Add the primary header's keywords (GAIN, EXPTIME, ...) that an extension lacks."""
    for card in primary.cards:
        if card.keyword not in _STRUCTURAL_KEYWORDS and card.keyword not in header:
            header.append(card)


def _hdu_list(hdul: fits.HDUList) -> str:
    count = f"{len(hdul)} HDU" + ("" if len(hdul) == 1 else "s")
    return f"{count}: " + ", ".join(f"{i}:{h.name}" for i, h in enumerate(hdul))


def _select_hdu(hdul: fits.HDUList, hdu: int | str | None, path: Path) -> int:
    """Index of the image HDU to clean: the one asked for, else the first with data (saying so when others exist)."""
    if isinstance(hdu, str):
        matches = [i for i, item in enumerate(hdul) if item.name == hdu.strip().upper()]
        if len(matches) > 1:
            listed = ", ".join(f"{i}:{hdul[i].name} (EXTVER {hdul[i].ver})" for i in matches)
            raise FITSReadError(f"{path}: HDU {hdu!r} is ambiguous: {listed}; give its index")
    if hdu is not None:
        try:
            index = hdul.index_of(hdu)
        except (KeyError, IndexError):
            index = None
        if index is None or not 0 <= index < len(hdul):
            raise FITSReadError(f"{path}: no HDU {hdu!r}; the file has {_hdu_list(hdul)}")
        return index
    companions = (_MASK_EXTNAME, _UNCERT_EXTNAME, _FLAGS_EXTNAME, *_PRODUCT_EXTNAMES)
    images = [i for i, item in enumerate(hdul)
              if item.is_image and item.header.get("NAXIS", 0) > 0 and (i == 0 or item.name not in companions)]
    if not images:
        raise FITSReadError(f"{path}: no HDU holds image data")
    if len(images) > 1:
        others = ", ".join(f"{i}:{hdul[i].name}" for i in images[1:])
        warnings.warn(f"{path}: cleaned HDU {images[0]} ({hdul[images[0]].name}); other image HDUs not cleaned: "
                      f"{others} (choose one with --hdu, hdu=...)", CrmaskWarning, stacklevel=3)
    return images[0]


def _open_verified(path: Path) -> fits.HDUList:
    """Open ``path`` with every integrity check the file allows.

    A gzip file is decompressed whole first, so that its CRC is checked
    (astropy reads only as far as it needs, and a corrupt stream would pass
    unnoticed); ``CHECKSUM`` and ``DATASUM`` keywords, when present, are
    verified (``checksum=True``), and a mismatch is an error, not astropy's
    warning.
    """
    with open(path, "rb") as handle:
        compressed = handle.read(2) == b"\x1f\x8b"
    source: str | os.PathLike | io.BytesIO = path
    if compressed:
        try:
            with gzip.open(path) as stream:
                source = io.BytesIO(stream.read())
        except (OSError, EOFError, zlib.error) as exc:
            raise FITSReadError(f"{path}: corrupt compressed file ({exc})") from None
    with warnings.catch_warnings(record=True) as caught:
        # Every mismatch is recorded (not only the first of each place); other warnings go on as usual.
        warnings.filterwarnings("always", message=_SUM_FAILED, category=AstropyUserWarning)
        hdul = fits.open(source, memmap=False, checksum=True)
        try:
            hdul.readall()
        except BaseException:
            hdul.close()
            raise
    failed: dict[str, list[str]] = {}
    for warning in caught:
        text = str(warning.message)
        if re.match(_SUM_FAILED, text):
            where = text.partition("for HDU ")[2].strip().rstrip(".")
            failed.setdefault(where, []).append("CHECKSUM" if text.startswith("Checksum") else "DATASUM")
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    if failed:
        hdul.close()
        where, sums = next(iter(failed.items()))
        raise FITSReadError(f"{path}: HDU {where} fails its {' and '.join(sums)}: the file is corrupt")
    return hdul


def _check_cards(header: fits.Header, where: str) -> None:
    """Refuse a header with a card astropy cannot parse (``GAIN = NaN``), naming it."""
    for card in header.cards:
        try:
            card.value
        except VerifyError:
            raise FITSReadError(f"{where}: header keyword {card.keyword} has a value FITS cannot parse") from None


def _companion(hdul: fits.HDUList, name: str, index: int, shape: tuple[int, ...], path: Path) -> np.ndarray | None:
    """Data of the ``name`` extension that goes with image HDU ``index`` (none when it is that HDU)."""
    if name not in hdul or hdul.index_of(name) == index:
        return None
    data = np.asarray(hdul[name].data)
    if data.shape != shape:
        raise InvalidImageError(f"{path}: {name} extension has shape {data.shape}, the image has {shape}")
    return data


def _detached(item: fits.hdu.base.ExtensionHDU | fits.PrimaryHDU) -> fits.hdu.base.ExtensionHDU:
    """``item`` with its data in memory, as an extension (a kept primary HDU becomes an image extension)."""
    if isinstance(item, fits.PrimaryHDU):
        return fits.ImageHDU(data=item.data, header=item.header)
    return type(item)(data=item.data.copy() if item.data is not None else None, header=item.header.copy())


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
        with data (with a `~crmask.exceptions.CrmaskWarning` naming the
        other image HDUs when there are some).
    unit : str or astropy unit, optional
        Pixel unit; default: the ``BUNIT`` keyword. Strings are parsed as
        `~astropy.nddata.CCDData.read` parses ``BUNIT``, so ``'ADU'`` and
        ``'ELECTRONS'`` are adu and electron.

    Returns
    -------
    `~astropy.nddata.CCDData`
        With the HDU's header (primary keywords such as ``GAIN`` added for an
        extension), and, as `~astropy.nddata.CCDData.read` reads them,
        ``mask`` from a ``MASK`` extension and ``uncertainty`` from an
        ``UNCERT`` extension (its class named by ``UTYPE``, standard
        deviation by default).

    Raises
    ------
    FITSReadError
        If the file is missing, not FITS, truncated, corrupt (a gzip CRC
        error, a ``CHECKSUM`` or ``DATASUM`` mismatch), or lacks the HDU, or
        if an EXTNAME names several HDUs.
    InvalidImageError
        If no unit is known, the unit cannot be parsed, or a ``MASK`` or
        ``UNCERT`` extension does not have the image's shape.
    """
    return read_ccd_and_others(path, hdu=hdu, unit=unit)[0]


def read_ccd_and_others(
    path: str | os.PathLike, hdu: int | str | None = None, unit: str | u.UnitBase | None = None
) -> tuple[CCDData, list[fits.hdu.base.ExtensionHDU]]:
    """Read an image as `read_ccd` does, and every other HDU of the file.

    Returns
    -------
    ccd : `~astropy.nddata.CCDData`
        As `read_ccd` returns it.
    others : list of astropy HDUs
        Every HDU that is neither the image nor its ``MASK`` and ``UNCERT``
        (nor the ``CRMASK``/``CRPROB`` of an earlier crmask run, which a new
        run replaces), in file order, data loaded and headers unchanged; a
        primary HDU among them becomes an image extension. `write_cleaned`
        writes them after its own extensions.
    """
    path = Path(path)
    if not path.exists():
        raise FITSReadError(f"{path}: no such file")
    if path.is_dir():
        raise FITSReadError(f"{path}: is a directory, not a FITS file")
    try:
        with _open_verified(path) as hdul:
            index = _select_hdu(hdul, hdu, path)
            data = hdul[index].data
            if data is None:
                raise FITSReadError(f"{path}: HDU {index} ({hdul[index].name}) has no data")
            data = np.array(data)
            header = hdul[index].header.copy()
            _check_cards(header, f"{path}: HDU {index}")
            if index > 0:
                _check_cards(hdul[0].header, f"{path}: HDU 0")
                _inherit_primary_keywords(header, hdul[0].header)
            mask = _companion(hdul, _MASK_EXTNAME, index, data.shape, path)
            uncert = _companion(hdul, _UNCERT_EXTNAME, index, data.shape, path)
            uncertainty = None
            if uncert is not None:
                kind = _UNCERTAINTY_CLASSES.get(hdul[_UNCERT_EXTNAME].header.get("UTYPE"), StdDevUncertainty)
                uncertainty = kind(np.array(uncert))
            consumed = {index} | {hdul.index_of(name) for name in (_MASK_EXTNAME, _UNCERT_EXTNAME) if name in hdul}
            others = [_detached(item) for i, item in enumerate(hdul)
                      if i not in consumed and item.name not in _PRODUCT_EXTNAMES]
    except (FITSReadError, InvalidImageError):
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
    mask = None if mask is None else mask.astype(bool)
    return CCDData(data, unit=unit, header=header, mask=mask, uncertainty=uncertainty), others


def extension_image(others: Sequence[fits.hdu.base.ExtensionHDU], extname: str, path: str | os.PathLike) -> NDData:
    """The image extension ``extname`` among the HDUs `read_ccd_and_others` returned beside the image.

    Used for a background (sky) model stored beside the science image, as
    Gemini DRAGONS stores ``SKYFIT`` beside ``SCI``.

    Parameters
    ----------
    others : sequence of astropy HDUs
        The second value of `read_ccd_and_others`.
    extname : str
        EXTNAME of the extension (any case).
    path : path-like
        The file they were read from, for messages.

    Returns
    -------
    `~astropy.nddata.NDData`
        Its data, with the unit of its ``BUNIT`` keyword (no unit without one).

    Raises
    ------
    FITSReadError
        If no image extension (or several) has that name.
    InvalidImageError
        If its ``BUNIT`` is not a valid unit.
    """
    name = extname.strip().upper()
    matches = [item for item in others if item.name == name and item.is_image and item.data is not None]
    if len(matches) != 1:
        listed = ", ".join(item.name for item in others) or "none"
        problem = "several image extensions are" if matches else "no image extension is"
        raise FITSReadError(f"{path}: {problem} named {name!r}; the other HDUs of the file are: {listed}")
    item = matches[0]
    unit = None
    if "BUNIT" in item.header:
        try:
            unit = _parse_unit(item.header["BUNIT"])
        except ValueError:
            raise InvalidImageError(f"{path}: {name} BUNIT {item.header['BUNIT']!r} is not a valid unit") from None
    return NDData(np.asarray(item.data), unit=unit)


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


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":
        return True  # no safe liveness probe (os.kill terminates on Windows): keep the directory
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_temporaries(path: Path) -> None:
    """Remove the temporary directories a killed crmask process left for ``path``.

    Only directories of crmask's own naming for this target, made on this
    host by a process that no longer runs, are removed.
    """
    host = socket.gethostname()
    prefix = f".{path.name}{_TMP_TAG}"
    for entry in path.parent.glob(f"{glob_escape(prefix)}*{_TMP_SUFFIX}"):
        host_pid, _, _random = entry.name[len(prefix):-len(_TMP_SUFFIX)].rpartition("-")
        owner_host, _, pid = host_pid.rpartition("-")
        if owner_host == host and pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)


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
    directory, ``.<name>.crmask-<host>-<pid>-<random>.tmp``, and then
    renamed into place (``os.replace`` when overwriting, a hard link that
    fails on an existing target otherwise), so an interrupted write leaves
    either nothing or the old file. A process killed during the write
    (``kill -9``) leaves its temporary directory; the next write of the same
    target removes it once its process is gone. The file is created like
    any other new file, so its mode comes from the process umask (0644 under
    umask 022), also when it replaces an existing file.

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
    _remove_stale_temporaries(path)
    # Not tempfile.mkstemp: it creates the file with mode 0600 whatever the umask.
    prefix = f".{path.name}{_TMP_TAG}{socket.gethostname()}-{os.getpid()}-"
    with tempfile.TemporaryDirectory(prefix=prefix, suffix=_TMP_SUFFIX, dir=path.parent) as tmpdir:
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
    ccd: CCDData,
    crmask: np.ndarray,
    path: str | os.PathLike,
    overwrite: bool = False,
    *,
    probability: np.ndarray | None = None,
    others: Sequence[fits.hdu.base.ExtensionHDU] = (),
) -> Path:
    """Write a cleaned image with its masks, atomically.

    The file holds the cleaned data (primary HDU, with the provenance
    header), ``MASK`` (every masked pixel), ``UNCERT`` when the image has an
    uncertainty, ``CRMASK`` (uint8, 1 where a cosmic ray was found),
    ``CRPROB`` (float32 cosmic-ray probability) when ``probability`` is
    given, then ``others`` (the input file's other HDUs, see
    `read_ccd_and_others`) in their order.
    """
    for name, array in ((CRMASK_EXTNAME, crmask), (CRPROB_EXTNAME, probability)):
        if array is not None and np.shape(array) != ccd.shape:
            raise InvalidImageError(f"{name} shape {np.shape(array)} does not match image shape {ccd.shape}")
    hdul = ccd.to_hdu(hdu_mask="MASK", hdu_uncertainty="UNCERT", hdu_flags=None)
    hdul.append(fits.ImageHDU(crmask.astype(np.uint8), name=CRMASK_EXTNAME))
    if probability is not None:
        hdul.append(fits.ImageHDU(np.asarray(probability, dtype=np.float32), name=CRPROB_EXTNAME))
    hdul.extend(others)
    return write_atomic(hdul, path, overwrite=overwrite)
