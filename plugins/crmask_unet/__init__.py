"""U-Net cosmic-ray detectors after deepCR and Cosmic-CoNN, with optional attention gates.

Registers ``deepcr``, ``att-deepcr``, ``cosmic-conn`` and ``att-cosmic-conn``,
their shipped models (``weights/*.json``, listed by ``crmask models``) and the
``crmask train unet`` command. torch is imported only when a network is built
or loaded.
"""

from crmask import hookimpl

from .detector import AttCosmicCoNN, AttDeepCR, CosmicCoNN, DeepCR, UNetDetector

__all__ = ["UNetDetector", "DeepCR", "AttDeepCR", "CosmicCoNN", "AttCosmicCoNN"]


@hookimpl
def register_detectors(register):
    """Register the four U-Net detectors."""
    for cls in (DeepCR, AttDeepCR, CosmicCoNN, AttCosmicCoNN):
        register(cls)


@hookimpl
def register_models(register):
    """Register the shipped models; each also answers to its files' name, its name before the registry."""
    from .weights import shipped_cards

    for card in shipped_cards():
        register(card, aliases=(card.stem,))


@hookimpl
def register_commands(cli):
    """Add ``crmask train unet``."""
    from .cli import train_unet

    cli.commands["train"].add_command(train_unet)
