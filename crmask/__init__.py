"""crmask: one interface over the strongest cosmic-ray detectors.

>>> import crmask
>>> [d.name for d in crmask.list_detectors()]  # doctest: +SKIP
['lacosmic', ...]
"""

from importlib.metadata import PackageNotFoundError, version

from .ccd import PreparedImage, prepare_image
from .clean import cosmicray_clean
from .detector import Detector, EventFilter, MaskResult
from .exceptions import (
    CrmaskError,
    CrmaskWarning,
    FITSReadError,
    InvalidImageError,
    MissingCalibrationError,
    OutputExistsError,
    PluginError,
    UnknownDetectorError,
)
from .hookspecs import hookimpl
from .params import Param
from .registry import get_detector, get_detector_class, list_detectors

try:
    __version__ = version("crmask")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = [
    "__version__",
    "cosmicray_clean",
    "get_detector",
    "get_detector_class",
    "list_detectors",
    "hookimpl",
    "Detector",
    "EventFilter",
    "MaskResult",
    "Param",
    "PreparedImage",
    "prepare_image",
    "CrmaskError",
    "CrmaskWarning",
    "FITSReadError",
    "InvalidImageError",
    "MissingCalibrationError",
    "OutputExistsError",
    "PluginError",
    "UnknownDetectorError",
]
