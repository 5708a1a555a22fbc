"""Training of the ``wfi-cam-rf`` model.

Modules
-------
dataset
    Class-balanced 64 x 64 sub-frame data sets in FITS.
train_densenet
    The DenseNet training loop, checkpointed and resumable.
config
    ``CamRfTrainConfig``: every setting of a run, so every option of the command.
train
    ``crmask train wfi-cam-rf``: the whole model, end to end.
"""
