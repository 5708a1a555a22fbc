"""Exceptions raised by crmask.

Every error a user can cause derives from `CrmaskError`, so a pipeline can
catch them all in one place; each also derives from the built-in exception a
Python programmer would expect (`ValueError`, `KeyError`, ...).
"""

__all__ = [
    "CrmaskError",
    "InvalidImageError",
    "MissingCalibrationError",
    "UnknownDetectorError",
    "DetectorKindError",
    "PluginError",
    "PluginWarning",
    "WeightsError",
    "FITSReadError",
    "OutputExistsError",
    "OutputDirectoryError",
    "MissingDataError",
    "CrmaskWarning",
    "error_line",
]


def error_line(error: BaseException) -> str:
    """One line saying why something failed: a crmask error's own message, else the exception type and message."""
    return str(error) if isinstance(error, CrmaskError) else f"{type(error).__name__}: {error}"


class CrmaskError(Exception):
    """Base class of every error crmask raises on bad input."""


class InvalidImageError(CrmaskError, ValueError):
    """The image cannot be processed: wrong shape, dtype, unit or content."""


class MissingCalibrationError(CrmaskError, ValueError):
    """Gain, read noise or another required calibration value is unknown."""


class UnknownDetectorError(CrmaskError, KeyError):
    """No registered detector has the requested name."""

    def __init__(self, name: str, available: list[str]):
        self.name = name
        self.available = sorted(available)
        super().__init__(name)

    def __str__(self) -> str:
        valid = ", ".join(self.available) or "(none registered)"
        return f"unknown detector {self.name!r}; registered detectors are: {valid}"


class DetectorKindError(CrmaskError, ValueError):
    """A detector of the wrong kind: an X-ray event filter where an image detector is needed, or back."""

    def __init__(self, name: str, kind: str, wanted: str):
        self.name = name
        self.kind = kind
        self.wanted = wanted
        super().__init__(name, kind, wanted)

    def __str__(self) -> str:
        return (f"{self.name!r} is {_KIND_WORDS[self.kind]}, not {_KIND_WORDS[self.wanted]}; "
                f"`crmask list --kind {self.wanted}` lists those")


#: How error messages name each detector kind.
_KIND_WORDS = {"mask": "an image detector", "events": "an X-ray event filter"}


class PluginError(CrmaskError, RuntimeError):
    """A plugin is broken: bad hook implementation, duplicate or invalid detector."""


class WeightsError(CrmaskError, ValueError):
    """Model weights are unknown, missing, corrupt, tampered with, pickled or do not fit the detector."""


class CrmaskWarning(UserWarning):
    """Something a user should know that does not stop the work (e.g. which of several HDUs was cleaned)."""


class PluginWarning(CrmaskWarning):
    """A plugin could not be loaded here and was skipped; the other plugins work."""


class FITSReadError(CrmaskError, OSError):
    """A FITS file is missing, unreadable, corrupt or lacks the requested data."""


class OutputExistsError(CrmaskError, FileExistsError):
    """An output file exists and overwriting was not requested."""


class OutputDirectoryError(CrmaskError, PermissionError):
    """The output directory cannot be created or written to."""


class MissingDataError(CrmaskError, FileNotFoundError):
    """The data folder a command needs is not given (``--data`` or ``CRMASK_DATA``) or does not exist."""
