"""Pictures of cosmic-ray masks: the image, the mask over it, and the truth.

matplotlib is imported when a picture is drawn, never when crmask is
imported, and nothing here selects a backend or opens a window: the
command line draws on a bare `~matplotlib.figure.Figure` (which needs no
display), and `plot_mask` draws on the axes it is given or on pyplot's
current axes, as the plotting helpers of photutils and astropy do.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from astropy.nddata import CCDData

from .detector import MaskResult
from .exceptions import InvalidImageError
from .io import atomic_target, check_not_input

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["plot_mask", "save_mask_png", "STRETCHES", "MASK_COLORS"]

#: Stretches `plot_mask` accepts, by name (`astropy.visualization` classes).
STRETCHES = ("linear", "sqrt", "log", "asinh")

#: Overlay colours: the mask alone, and the comparison with a truth mask.
MASK_COLORS = {
    "cosmic ray": "#ff7f0e",
    "true positive": "#2ca02c",
    "false positive": "#d62728",
    "false negative": "#1f77b4",
}


def _image_and_mask(image, mask) -> tuple[np.ndarray, np.ndarray | None]:
    """Return the pixels to show and the mask to overlay, as arrays."""
    if isinstance(image, CCDData):
        data = np.asarray(image.data)
        if mask is None and image.mask is not None:
            mask = image.mask
    elif isinstance(image, MaskResult):
        raise InvalidImageError(
            "plot_mask needs the image to show first: plot_mask(ccd, result), not plot_mask(result)"
        )
    else:
        data = np.asarray(image)
    if data.ndim != 2 or data.dtype.kind not in "uif":
        raise InvalidImageError(f"plot_mask needs a 2-D numeric image, got {data.ndim}-D data of dtype {data.dtype}")
    if isinstance(mask, MaskResult):
        mask = mask.mask
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != data.shape:
            raise InvalidImageError(f"mask shape {mask.shape} does not match image shape {data.shape}")
    return data, mask


def _region_slices(region, shape: tuple[int, int]) -> tuple[slice, slice]:
    """Validate ``region`` (two slices, numpy order) and return it with explicit bounds."""
    if region is None:
        return slice(0, shape[0]), slice(0, shape[1])
    if not (isinstance(region, tuple) and len(region) == 2 and all(isinstance(s, slice) for s in region)):
        raise ValueError(
            f"region must be a tuple of two slices in numpy order, e.g. np.s_[100:200, 300:500] "
            f"(rows y, then columns x), got {region!r}"
        )
    bounded = []
    for axis, (item, length) in enumerate(zip(region, shape)):
        start, stop, step = item.indices(length)
        if step != 1 or stop <= start:
            raise ValueError(
                f"region {region!r} selects no pixels (or uses a step) along axis {axis} of length {length}"
            )
        bounded.append(slice(start, stop))
    return bounded[0], bounded[1]


def _norm(data: np.ndarray, stretch: str):
    from astropy.visualization import (
        AsinhStretch,
        ImageNormalize,
        LinearStretch,
        LogStretch,
        SqrtStretch,
        ZScaleInterval,
    )

    stretches = {"linear": LinearStretch, "sqrt": SqrtStretch, "log": LogStretch, "asinh": AsinhStretch}
    if stretch not in stretches:
        raise ValueError(f"stretch must be one of {', '.join(STRETCHES)}, got {stretch!r}")
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        raise InvalidImageError("the region shown has no finite pixels")
    return ImageNormalize(finite, interval=ZScaleInterval(), stretch=stretches[stretch](), clip=True)


def _layers(mask: np.ndarray | None, truth: np.ndarray | None) -> dict[str, np.ndarray]:
    """The overlay layers by legend name: the mask, or TP/FP/FN against ``truth``."""
    if truth is None:
        return {} if mask is None else {"cosmic ray": mask}
    if mask is None:
        raise ValueError("a truth mask was given without a mask to compare with it")
    return {
        "true positive": mask & truth,
        "false positive": mask & ~truth,
        "false negative": ~mask & truth,
    }


def plot_mask(
    image,
    mask=None,
    *,
    truth=None,
    region: tuple[slice, slice] | None = None,
    ax: Axes | None = None,
    stretch: str = "asinh",
    cmap: str = "gray",
    alpha: float = 0.8,
    title: str | None = None,
) -> Axes:
    """Show an image with its cosmic-ray mask over it (and a truth mask, if known).

    The image is drawn with a ZScale interval (`~astropy.visualization.ZScaleInterval`,
    computed on the region shown) and an asinh stretch by default; mask
    pixels are painted over it in solid colours and the legend, right of the
    axes, gives their counts in the region shown.

    Parameters
    ----------
    image : `~astropy.nddata.CCDData` or numpy.ndarray
        The 2-D image to show, e.g. the frame given to the detector. For a
        CCDData without an explicit ``mask``, ``image.mask`` is drawn (for
        the result of `crmask.cosmicray_clean` that is every masked pixel:
        the cosmic rays and the input's bad pixels).
    mask : numpy.ndarray or `~crmask.MaskResult`, optional
        Boolean cosmic-ray mask of the image's shape, or a detector's result.
    truth : numpy.ndarray, optional
        Boolean true cosmic-ray mask. With it, the pixels are coloured as true
        positives (found and true), false positives (found, not true) and
        false negatives (true, missed).
    region : tuple of two slices, optional
        The part of the image to show, in numpy order (rows y, then columns
        x), e.g. ``np.s_[100:160, 200:300]``; default: the whole image. The
        axes keep the image's pixel coordinates.
    ax : `matplotlib.axes.Axes`, optional
        Axes to draw on; default: pyplot's current axes (``plt.gca()``).
    stretch : {'asinh', 'linear', 'sqrt', 'log'}
        Stretch between the ZScale limits.
    cmap : str
        Colour map of the image.
    alpha : float
        Opacity of the mask colours.
    title : str, optional
        Axes title.

    Returns
    -------
    `matplotlib.axes.Axes`
        The axes drawn on (``ax.figure`` is the figure).

    Raises
    ------
    InvalidImageError
        For an image that is not 2-D and numeric, or a mask of another shape.
    ValueError
        For a bad ``region`` or ``stretch``, or ``truth`` without ``mask``.

    Examples
    --------
    >>> import numpy as np, crmask
    >>> result = crmask.get_detector("lacosmic").detect(ccd)  # doctest: +SKIP
    >>> ax = crmask.plot_mask(ccd, result, truth=truth, region=np.s_[100:160, 200:320])  # doctest: +SKIP
    >>> ax.figure.savefig("mask.png")  # doctest: +SKIP
    """
    from matplotlib.colors import to_rgba
    from matplotlib.patches import Patch

    data, mask = _image_and_mask(image, mask)
    if truth is not None:
        truth = np.asarray(truth, dtype=bool)
        if truth.shape != data.shape:
            raise InvalidImageError(f"truth shape {truth.shape} does not match image shape {data.shape}")
    ys, xs = _region_slices(region, data.shape)
    shown = data[ys, xs]
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.gca()
    # Pixel centres at integer coordinates of the full image, as in DS9 less one.
    extent = (xs.start - 0.5, xs.stop - 0.5, ys.start - 0.5, ys.stop - 0.5)
    ax.imshow(shown, origin="lower", cmap=cmap, norm=_norm(shown, stretch), extent=extent,
              interpolation="nearest")

    handles = []
    for name, layer in _layers(mask, truth).items():
        part = layer[ys, xs]
        rgba = np.zeros(part.shape + (4,))
        rgba[part] = to_rgba(MASK_COLORS[name], alpha)
        ax.imshow(rgba, origin="lower", extent=extent, interpolation="nearest")
        handles.append(Patch(color=MASK_COLORS[name], alpha=alpha, label=f"{name}: {int(part.sum())} px"))
    if handles:
        # Outside the axes, so that it never hides the pixels it describes.
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                  fontsize="small")
    ax.set_xlabel("x (pixel)")
    ax.set_ylabel("y (pixel)")
    if title is not None:
        ax.set_title(title)
    return ax


def save_mask_png(
    image,
    mask,
    path: str | os.PathLike,
    *,
    source: str | os.PathLike | None = None,
    overwrite: bool = False,
    title: str | None = None,
) -> Path:
    """Draw `plot_mask` for the whole image and write it as a PNG, atomically.

    Used by ``crmask detect --plot``. The figure is a bare
    `~matplotlib.figure.Figure` (no pyplot, no display needed), sized to the
    image's aspect ratio.

    Parameters
    ----------
    image, mask
        As for `plot_mask`.
    path : path-like
        The PNG to write.
    source : path-like, optional
        The input file; ``path`` is never allowed to replace it.
    overwrite : bool
        Replace an existing ``path``.
    title : str, optional
        Figure title.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    OutputExistsError
        If ``path`` exists and ``overwrite`` is false, or is ``source``.
    """
    from matplotlib.figure import Figure

    path = Path(path)
    if source is not None:
        check_not_input(path, source)
    data, _ = _image_and_mask(image, mask)
    ny, nx = data.shape
    width = 10.0
    height = min(max(width * ny / nx + 1.0, 3.0), 12.0)
    fig = Figure(figsize=(width, height), layout="constrained")
    plot_mask(image, mask, ax=fig.add_subplot(), title=title)
    with atomic_target(path, overwrite=overwrite) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    return path
