"""LACosmic (van Dokkum 2001) through astroscrappy: crmask's baseline detector."""

from crmask import hookimpl

from .detector import LACosmic

__all__ = ["LACosmic"]


@hookimpl
def register_detectors(register):
    register(LACosmic)
