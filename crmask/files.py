"""One file through the whole pipeline: read, detect, clean, write.

Shared by ``crmask detect`` (one process) and `crmask.batch` (a Dask
cluster), so both apply the same rules: the output never replaces its own
input, an existing output is kept unless overwriting is asked for, and the
write is atomic.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .clean import _clean
from .detector import Detector
from .exceptions import OutputDirectoryError, OutputExistsError
from .io import check_not_input, extension_image, output_path, read_ccd_and_others, write_cleaned

__all__ = ["RUN_KEYWORD", "clean_file", "check_output_dir", "plan_outputs", "split_existing", "plot_path"]

#: Header keyword holding the id of the run that wrote a file; lets a file
#: re-run after its worker died recognise its own earlier output.
RUN_KEYWORD = "CRMBATCH"


def plan_outputs(paths, outdir: str | os.PathLike) -> tuple[list[tuple[int, Path, Path]], list[tuple[int, Path, str]]]:
    """Map input files to their outputs in ``outdir`` before any work.

    Two inputs with the same name in different folders (``A/x.fits`` and
    ``B/x.fits.gz``) would write the same output: the first keeps it, every
    later one is refused, so no result is silently replaced by another of
    the same batch.

    Returns
    -------
    planned : list of (index, input, output)
    clashes : list of (index, input, message)
    """
    planned, clashes, owner = [], [], {}
    for index, path in enumerate(paths):
        target = output_path(path, outdir)
        if target in owner:
            clashes.append((index, Path(path),
                            f"output {target} would also be written from {owner[target]}; rename one of the inputs"))
            continue
        owner[target] = path
        planned.append((index, Path(path), target))
    return planned, clashes


def split_existing(planned: list[tuple[int, Path, Path]]) -> tuple[list[tuple[int, Path, Path]],
                                                                   list[tuple[int, Path, Path]]]:
    """Split `plan_outputs`'s plan into the files still to do and those whose output exists.

    For re-running a batch that stopped (``--skip-existing``): outputs are
    written atomically, so an existing one is a complete result.

    Returns
    -------
    todo, skipped : list of (index, input, output)
    """
    todo, skipped = [], []
    for item in planned:
        (skipped if item[2].exists() else todo).append(item)
    return todo, skipped


def _written_by_run(path: Path, run_id: str) -> bool:
    from astropy.io import fits

    try:
        return fits.getval(path, RUN_KEYWORD) == run_id
    except (OSError, KeyError, IndexError):
        return False


def clean_file(
    path: str | os.PathLike,
    target: str | os.PathLike,
    detector: Detector,
    *,
    hdu: int | str | None = None,
    unit: str | None = None,
    grow: int = 0,
    inpaint: bool = True,
    overwrite: bool = False,
    run_id: str | None = None,
    plot: bool = False,
    background: str | None = None,
) -> int:
    """Read one FITS file, clean it and write the result atomically.

    The output keeps every other HDU of the input (see
    `~crmask.io.read_ccd_and_others`) and, for a detector with a
    probability map, adds it as a ``CRPROB`` extension.

    Parameters
    ----------
    path : path-like
        Input FITS file.
    target : path-like
        Output file; never the input itself.
    detector : `~crmask.Detector`
        Configured image detector.
    hdu, unit
        As for `~crmask.io.read_ccd`.
    grow, inpaint
        As for `~crmask.cosmicray_clean`.
    overwrite : bool
        Replace an existing ``target``.
    run_id : str, optional
        Written to the ``CRMBATCH`` keyword. An existing ``target`` with the
        same id was written by an earlier attempt of this run and is
        replaced, so a re-run after a worker died succeeds.
    plot : bool
        Also write `plot_path` (``target`` with suffix ``.png``): the input
        image with the cosmic rays found over it (`crmask.plotting.save_mask_png`),
        under the same rules as ``target``.
    background : str, optional
        EXTNAME of the image extension holding the background (sky) model,
        given to the detector (`~crmask.io.extension_image`); it stays in the
        output with the other HDUs.

    Returns
    -------
    int
        Number of cosmic-ray pixels flagged.

    Raises
    ------
    CrmaskError
        For an unreadable input, a bad image or an existing output.
    """
    path, target = Path(path), Path(target)
    replace = overwrite or (run_id is not None and target.exists() and _written_by_run(target, run_id))
    outputs = (target, plot_path(target)) if plot else (target,)
    for output in outputs:
        check_not_input(output, path)
        if output.exists() and not replace:
            raise OutputExistsError(f"{output}: exists; use --overwrite (overwrite=True) to replace it")
    ccd, others = read_ccd_and_others(path, hdu=hdu, unit=unit)
    sky = None if background is None else extension_image(others, background, path)
    cleaned = _clean(ccd, detector, {}, inpaint=inpaint, grow=grow, background=sky)
    if run_id is not None:
        cleaned.ccd.header[RUN_KEYWORD] = (run_id, "id of the crmask run that wrote this file")
    write_cleaned(cleaned.ccd, cleaned.crmask, target, overwrite=replace, probability=cleaned.probability,
                  others=others)
    if plot:
        from .plotting import save_mask_png

        save_mask_png(ccd, cleaned.crmask, plot_path(target), source=path, overwrite=replace,
                      title=f"{path.name}: {cleaned.n_cr_pixels} CR pixels ({detector.name})")
    return cleaned.n_cr_pixels


def plot_path(target: str | os.PathLike) -> Path:
    """The picture written beside an output by ``plot=True``: same folder and stem, suffix ``.png``."""
    return Path(target).with_suffix(".png")


def check_output_dir(outdir: str | os.PathLike) -> Path:
    """Create ``outdir`` if needed and check that files can be written in it.

    The check writes and removes a small file, so it is true for any user
    (including root on a read-only file system).

    Raises
    ------
    OutputDirectoryError
        Naming the directory and the reason.
    """
    outdir = Path(outdir)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=outdir, prefix=".crmask-write-check-"):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OutputDirectoryError(f"output directory {outdir} is not writable: {reason}") from None
    return outdir
