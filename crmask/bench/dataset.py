"""The benchmark set format: FITS images with truth, and a manifest.

A benchmark set is a directory holding ``manifest.ecsv`` and one FITS file
per image. Each file has

* the image in the primary HDU (float, ``BUNIT`` adu or electron) with the
  keywords ``GAIN``, ``RDNOISE``, ``EXPTIME`` and ``INSTRUME`` (and
  ``SATURATE`` where known);
* ``MASK`` (optional): the image's bad-pixel mask, 1 = bad, read as its
  `~astropy.nddata.CCDData` ``mask`` (the frame's known defects, as a
  reduction's bad-pixel mask would flag them; every detector is handed it);
* ``CRMASK``: the cosmic-ray truth, uint8 or bool, 1 = cosmic ray;
* ``IGNORE`` (optional): pixels left out of every metric, 1 = ignore;
* ``STARMASK`` (optional): stellar cores, for the star false-positive count;
* ``CRSIGNIF`` (optional, sets with injected cosmic rays): the injected
  charge over the pixel's noise on the truth pixels (float32, 0 elsewhere),
  from which a cosmic ray's significance is its brightest pixel's.

The manifest is an `~astropy.table.Table` in ECSV with one row per file
(``FILE``, ``SOURCE`` and the counts ``NCRPIX``, ``NCREVT``, ``NIGNORE``) and
the set's provenance in its ``meta`` (builder, parameters, seed, crmask
version).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from astropy.io import fits
from astropy.nddata import CCDData
from astropy.table import Table
from scipy import ndimage

from ..exceptions import FITSReadError, InvalidImageError
from ..io import read_ccd, write_atomic

__all__ = [
    "BenchImage",
    "BenchSet",
    "read_bench_image",
    "write_bench_image",
    "load_set",
    "write_manifest",
    "count_events",
    "MANIFEST",
    "REQUIRED_KEYWORDS",
]

#: File name of a set's manifest.
MANIFEST = "manifest.ecsv"
#: Header keywords every benchmark image carries.
REQUIRED_KEYWORDS = ("GAIN", "RDNOISE", "EXPTIME", "INSTRUME")
_MASKS = ("CRMASK", "IGNORE", "STARMASK")
_SIGNIFICANCE = "CRSIGNIF"


@dataclass
class BenchImage:
    """One benchmark image with its truth.

    Attributes
    ----------
    name : str
        File name without directory.
    ccd : `~astropy.nddata.CCDData`
        The image, with its header.
    truth : numpy.ndarray
        Cosmic-ray truth (bool).
    ignore : numpy.ndarray
        Pixels excluded from scoring (bool; all False when the file has none).
    starmask : numpy.ndarray or None
        Stellar cores (bool), when the file has them.
    significance : numpy.ndarray or None
        Injected charge over the noise on the truth pixels (float32, 0
        elsewhere), when the truth comes from an injection.
    """

    name: str
    ccd: CCDData
    truth: np.ndarray
    ignore: np.ndarray
    starmask: np.ndarray | None = None
    significance: np.ndarray | None = None

    @property
    def npix(self) -> int:
        """Number of pixels of the image."""
        return int(self.truth.size)


def _read_mask(hdul: fits.HDUList, name: str, shape: tuple[int, ...], path: Path) -> np.ndarray:
    data = hdul[name].data
    if data is None:
        raise InvalidImageError(f"{path}: {name} extension has no data")
    data = np.asarray(data)
    if data.shape != shape:
        raise InvalidImageError(f"{path}: {name} has shape {data.shape}, the image has {shape}")
    if data.dtype.kind not in "biu":
        raise InvalidImageError(f"{path}: {name} must be a boolean or integer 0/1 mask, got dtype {data.dtype.name}")
    if data.dtype.kind != "b" and not np.isin(data, (0, 1)).all():
        values = np.unique(data)
        raise InvalidImageError(
            f"{path}: {name} is not a boolean mask: it holds values {values[:8].tolist()}, only 0 and 1 are allowed"
        )
    return data.astype(bool)


def _read_significance(hdul: fits.HDUList, shape: tuple[int, ...], path: Path) -> np.ndarray | None:
    if _SIGNIFICANCE not in hdul:
        return None
    data = hdul[_SIGNIFICANCE].data
    if data is None or np.shape(data) != shape:
        raise InvalidImageError(f"{path}: {_SIGNIFICANCE} has shape {np.shape(data)}, the image has {shape}")
    data = np.asarray(data)
    if data.dtype.kind != "f" or not np.all(np.isfinite(data)) or (data < 0).any():
        raise InvalidImageError(f"{path}: {_SIGNIFICANCE} must hold finite non-negative floats")
    return data.astype(np.float32)


def read_bench_image(path: str | os.PathLike) -> BenchImage:
    """Read one benchmark FITS file.

    Raises
    ------
    FITSReadError
        If the file is unreadable or lacks the ``CRMASK`` extension.
    InvalidImageError
        If a mask's shape differs from the image's, a mask holds values other
        than 0 and 1, or a required keyword is missing.
    """
    path = Path(path)
    ccd = read_ccd(path, hdu=0)
    missing = [key for key in REQUIRED_KEYWORDS if key not in ccd.header]
    if missing:
        raise InvalidImageError(f"{path}: header lacks benchmark keyword(s) {missing}")
    try:
        with fits.open(path, memmap=False) as hdul:
            if "CRMASK" not in hdul:
                names = ", ".join(h.name for h in hdul)
                raise FITSReadError(f"{path}: no CRMASK truth extension; the file has {names}")
            masks = {name: _read_mask(hdul, name, ccd.shape, path) for name in _MASKS if name in hdul}
            significance = _read_significance(hdul, ccd.shape, path)
    except (FITSReadError, InvalidImageError):
        raise
    except (OSError, ValueError, TypeError) as exc:
        raise FITSReadError(f"{path}: not a readable FITS file: {exc}") from None
    return BenchImage(
        name=path.name,
        ccd=ccd,
        truth=masks["CRMASK"],
        ignore=masks.get("IGNORE", np.zeros(ccd.shape, dtype=bool)),
        starmask=masks.get("STARMASK"),
        significance=significance,
    )


def write_bench_image(
    path: str | os.PathLike,
    ccd: CCDData,
    truth: np.ndarray,
    ignore: np.ndarray | None = None,
    starmask: np.ndarray | None = None,
    overwrite: bool = False,
    significance: np.ndarray | None = None,
) -> Path:
    """Write one benchmark FITS file atomically (see the module notes for the layout).

    ``ccd.mask``, where set, is written as the ``MASK`` extension;
    ``significance`` (the injected charge over the noise) is stored on the
    truth pixels only.

    Raises
    ------
    InvalidImageError
        If a mask's or the significance map's shape differs from the image's,
        or a required keyword is missing.
    """
    missing = [key for key in REQUIRED_KEYWORDS if key not in ccd.header]
    if missing:
        raise InvalidImageError(f"benchmark image header lacks keyword(s) {missing}")
    header = ccd.header.copy()
    header["BUNIT"] = ccd.unit.to_string()
    hdus: list[fits.hdu.base.ExtensionHDU] = [fits.PrimaryHDU(np.asarray(ccd.data, dtype=np.float32), header=header)]
    for name, mask in (("MASK", ccd.mask), ("CRMASK", truth), ("IGNORE", ignore), ("STARMASK", starmask)):
        if mask is None:
            continue
        mask = np.asarray(mask)
        if mask.shape != ccd.shape:
            raise InvalidImageError(f"{name} shape {mask.shape} does not match image shape {ccd.shape}")
        hdus.append(fits.ImageHDU(mask.astype(np.uint8), name=name))
    if significance is not None:
        significance = np.asarray(significance, dtype=np.float32)
        if significance.shape != ccd.shape:
            raise InvalidImageError(f"{_SIGNIFICANCE} shape {significance.shape} does not match image shape {ccd.shape}")
        on_truth = np.where(np.asarray(truth, dtype=bool), significance, np.float32(0))
        hdus.append(fits.ImageHDU(on_truth, name=_SIGNIFICANCE))
    return write_atomic(fits.HDUList(hdus), path, overwrite=overwrite)


def count_events(mask: np.ndarray) -> int:
    """Number of 8-connected groups in a boolean mask."""
    return int(ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))[1])


@dataclass
class BenchSet:
    """A benchmark set on disk: its directory and manifest.

    Iterating yields `BenchImage` objects, read one at a time.
    """

    path: Path
    manifest: Table

    @property
    def name(self) -> str:
        """The set's name (``SETNAME`` in the manifest, else the directory name)."""
        return str(self.manifest.meta.get("set", self.path.name))

    @property
    def files(self) -> list[str]:
        """File names in manifest order."""
        return [str(f) for f in self.manifest["FILE"]]

    def __len__(self) -> int:
        return len(self.manifest)

    def __iter__(self) -> Iterator[BenchImage]:
        for name in self.files:
            yield read_bench_image(self.path / name)


def load_set(path: str | os.PathLike) -> BenchSet:
    """Open a benchmark set directory.

    Raises
    ------
    FITSReadError
        If the directory or its manifest is missing, the manifest lacks the
        ``FILE`` column, or a listed file does not exist.
    """
    path = Path(path)
    if not path.is_dir():
        raise FITSReadError(f"{path}: no such benchmark set directory")
    manifest_path = path / MANIFEST
    if not manifest_path.exists():
        raise FITSReadError(f"{path}: not a benchmark set: no {MANIFEST} (build one with `crmask bench build`)")
    try:
        manifest = Table.read(manifest_path, format="ascii.ecsv")
    except (OSError, ValueError) as exc:
        raise FITSReadError(f"{manifest_path}: unreadable manifest: {exc}") from None
    if "FILE" not in manifest.colnames:
        raise FITSReadError(f"{manifest_path}: manifest lacks the FILE column")
    absent = [str(f) for f in manifest["FILE"] if not (path / str(f)).exists()]
    if absent:
        raise FITSReadError(f"{path}: manifest lists missing file(s): {', '.join(absent[:5])}")
    return BenchSet(path=path, manifest=manifest)


def write_manifest(path: str | os.PathLike, rows: list[dict[str, Any]], meta: dict[str, Any]) -> Path:
    """Write a set's ``manifest.ecsv`` (one row per file, provenance in ``meta``)."""
    if not rows:
        raise ValueError("a benchmark set needs at least one file")
    table = Table(rows=rows)
    table.meta.update(meta)
    target = Path(path) / MANIFEST
    table.write(target, format="ascii.ecsv", overwrite=True)
    return target
