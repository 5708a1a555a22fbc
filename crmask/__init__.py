"""crmask: one interface over the strongest cosmic-ray detectors.

>>> import crmask
>>> [d.name for d in crmask.list_detectors()]  # doctest: +SKIP
['lacosmic', ...]
"""

from importlib.metadata import PackageNotFoundError, version

from .ccd import PreparedImage, prepare_image
from .clean import cosmicray_clean
from .detector import Detector, MaskResult
from .events import EVENT_COLUMNS, EventFilter, FrameStack, prepare_frames
from .exceptions import (
    CrmaskError,
    CrmaskWarning,
    DetectorKindError,
    FITSReadError,
    InvalidImageError,
    MissingCalibrationError,
    OutputExistsError,
    PluginError,
    PluginWarning,
    UnknownDetectorError,
    WeightsError,
)
from .hookspecs import hookimpl
from .models import list_models
from .params import Param
from .plotting import plot_mask
from .registry import get_detector, get_detector_class, list_detectors, list_event_filters, resolve

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
    "list_event_filters",
    "list_models",
    "resolve",
    "hookimpl",
    "Detector",
    "EventFilter",
    "EVENT_COLUMNS",
    "FrameStack",
    "prepare_frames",
    "MaskResult",
    "Param",
    "plot_mask",
    "PreparedImage",
    "prepare_image",
    "CrmaskError",
    "CrmaskWarning",
    "DetectorKindError",
    "FITSReadError",
    "InvalidImageError",
    "MissingCalibrationError",
    "OutputExistsError",
    "PluginError",
    "PluginWarning",
    "UnknownDetectorError",
    "WeightsError",
]
