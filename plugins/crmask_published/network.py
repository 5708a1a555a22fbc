"""What every published pretrained network shares: its input unit, bad pixels, the threshold, lazy loading.

The networks themselves come from their own packages (deepCR, Cosmic-CoNN),
imported only when a detector is created (a missing one raises
`MissingPackageError`), so this plugin loads, and its detectors are listed
as unavailable, where those packages are not installed. A model is loaded
on its detector's first use.
"""

from __future__ import annotations

import importlib
import warnings
from abc import abstractmethod
from importlib import metadata
from typing import Any, ClassVar, Iterable

import astropy.units as u
import numpy as np

from crmask import CrmaskError, Detector, MaskResult, Param, PreparedImage
from crmask.devices import resolve_device
from crmask.inpaint import interpolate_bad_pixels

__all__ = ["PublishedNetwork", "MissingPackageError", "import_required", "threshold_param", "tile_param"]


class MissingPackageError(CrmaskError, ImportError):
    """A detector's package (deepCR, Cosmic-CoNN, dfcosmic, torch) is not installed."""


def import_required(detector: str, modules: Iterable[str]) -> None:
    """Import ``modules``, or raise `MissingPackageError` naming the missing ones and how to get them."""
    missing = []
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise MissingPackageError(
            f"detector {detector!r} needs {', '.join(missing)}, which cannot be imported here; "
            'install them with: pip install "crmask[published]"'
        )


def threshold_param(default: float, source: str) -> Param:
    """The ``threshold`` declaration, with the default its package's documentation recommends (``source``)."""
    return Param(default, f"CR probability threshold (mask = probability > threshold); default from {source}",
                 low=0.0, high=1.0)


def tile_param(package: str) -> Param:
    """The ``tile`` declaration: side of the square stamps the package runs its network on."""
    return Param(1024, f"Side in pixels of the stamps {package} runs the network on, to bound memory "
                 "(no overlap: the package's own tiling); None: the whole image at once",
                 type=int, low=64, high=16384, allow_none=True)


class PublishedNetwork(Detector):
    """A pretrained cosmic-ray network of a published package, called through that package.

    Subclasses name the distribution (`package`), the model as the package
    names it (`model_name`), the unit its model card asks for
    (`input_unit`), and implement `_load` (build the package's model) and
    `_probability` (call the package on a float32 array in that unit).

    The image is handed to the model in `input_unit`: an image in adu is
    multiplied by the gain for a model that wants electrons. A model that
    wants adu gets an adu image as it is; an image already in electrons
    reaches it unchanged (crmask takes the gain of an electron image as 1),
    with a warning. Pixels of the input mask (and non-finite ones) are first
    interpolated from the good pixels beside them
    (`crmask.inpaint.interpolate_bad_pixels`), so a masked bad column does
    not make the network flag its neighbours, and they are never flagged. The mask is
    ``probability > threshold``, as both packages apply their thresholds.
    """

    needs = ("gain",)
    #: Distribution that provides the model (its version goes into the result's meta).
    package: ClassVar[str] = ""
    #: The model's name in its package.
    model_name: ClassVar[str] = ""
    #: Unit the model card asks for: ``u.electron`` or ``u.adu``.
    input_unit: ClassVar[u.UnitBase] = u.electron

    def __init__(self, **params: Any) -> None:
        self._network: Any = None
        super().__init__(**params)

    def _check_params(self) -> None:
        import_required(self.name, self.requires)
        if "device" in self.params:
            resolve_device(self.params["device"])  # a missing GPU fails here, once, not at every detect
        self._network = None  # parameters may have changed: load again on next use

    def network(self) -> Any:
        """The package's model object, loaded on first use and then kept."""
        if self._network is None:
            self._network = self._load()
        return self._network

    @abstractmethod
    def _load(self) -> Any:
        """Build the package's model for `model_name` with this detector's parameters."""

    @abstractmethod
    def _probability(self, data: np.ndarray) -> np.ndarray:
        """The package's CR probability map of ``data`` (float32, in `input_unit`, no bad pixels)."""

    def model_input(self, image: PreparedImage) -> np.ndarray:
        """The pixels as the model wants them: float32 in `input_unit`, bad pixels interpolated from beside them."""
        if self.input_unit == u.electron:
            data = image.in_electrons.astype(np.float32)
        else:
            if image.unit == u.electron:
                warnings.warn(
                    f"{self.name}: the {self.model_name} model takes adu but the image is in electrons; "
                    "it is given the electrons unchanged. Pass the image in adu for the model's own units.",
                    UserWarning,
                    stacklevel=4,
                )
            data = image.data.astype(np.float32)
        if image.bad.any():
            data = interpolate_bad_pixels(data, image.bad)
        return data

    def _detect(self, image: PreparedImage) -> MaskResult:
        probability = np.asarray(self._probability(self.model_input(image)), dtype=np.float32)
        probability[image.bad] = 0.0
        threshold = self.params["threshold"]
        meta = {
            "package": f"{self.package} {metadata.version(self.package)}",
            "model": self.model_name,
            "input_unit": self.input_unit.to_string(),
        }
        return MaskResult(mask=probability > threshold, probability=probability, threshold=threshold,
                          meta=meta)
