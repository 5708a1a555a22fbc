"""Training of the ``wfi-cam-rf`` model.

Modules
-------
dataset
    Class-balanced 64 x 64 sub-frame data sets in FITS.
mix
    Training frames under conditions drawn per frame, with the Geant4 run's
    cosmic rays mixed in, split by primary.
train_densenet
    The DenseNet training loop, checkpointed and resumable, with early stopping.
config
    ``CamRfTrainConfig``: every setting of a run, so every option of the command.
train
    ``crmask train wfi-cam-rf``: the whole model, end to end.
"""
