"""The published cosmic-ray detectors by name, called through their own packages.

Registers deepCR's pretrained mask models (``deepcr-acs-wfc``,
``deepcr-wfc3-uvis``, ``deepcr-decam``; BSD-3), Cosmic-CoNN's
(``cosmic-conn-ground``, ``cosmic-conn-nres``, ``cosmic-conn-hst``; GPL-3)
and dfcosmic's L.A.Cosmic on PyTorch (``dfcosmic``; GPL-3). None of their
code is copied: the packages come with ``pip install "crmask[published]"``
and are imported only when one of these detectors is created, so without
them this plugin still loads and ``crmask list`` shows its detectors as
unavailable.
"""

from crmask import hookimpl

from .cosmic_conn import CosmicCoNNGround, CosmicCoNNHST, CosmicCoNNNRES
from .deepcr import DeepCRACSWFC, DeepCRDECam, DeepCRWFC3UVIS
from .dfcosmic import DFCosmic

__all__ = ["DETECTORS", "DeepCRACSWFC", "DeepCRWFC3UVIS", "DeepCRDECam", "CosmicCoNNGround", "CosmicCoNNNRES",
           "CosmicCoNNHST", "DFCosmic"]

#: Every detector this plugin registers.
DETECTORS = (DeepCRACSWFC, DeepCRWFC3UVIS, DeepCRDECam, CosmicCoNNGround, CosmicCoNNNRES, CosmicCoNNHST,
             DFCosmic)


@hookimpl
def register_detectors(register):
    """Register the published detectors."""
    for cls in DETECTORS:
        register(cls)
