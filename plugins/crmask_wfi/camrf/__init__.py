"""The ``wfi-cam-rf`` event filter: DenseNet class activation maps feeding a random forest.

Modules
-------
densenet
    The frame DenseNet classifier of 64 x 64 sub-frames.
cam
    Class activation maps of the DenseNet on tiled full frames.
features
    The ten CAM features of each event.
context
    Frame-wide context features (distance to the frame's particle tracks).
forest
    The balanced random forest, stored without pickle.
model_io
    Model directories: weights, forest and model card.
filter
    `CamRandomForestFilter`, registered as ``wfi-cam-rf``.

Only `filter` is imported here; torch loads on first use of the network.
"""

from .filter import CamRandomForestFilter

__all__ = ["CamRandomForestFilter"]
