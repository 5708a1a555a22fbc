"""Data with a known answer, for training and benchmarks: realistic synthetic frames and real cosmic-ray footprints.

* `crmask.data.synthetic`: CCD frames with sky, stars, galaxies and real
  cosmic-ray footprints, and their exact truth;
* `crmask.data.footprints`: the ITL catalogue of real cosmic-ray footprints,
  its train/validation/test split, and injection into real frames.

Neither is needed to detect cosmic rays; `crmask.synthetic` and
`crmask.footprints` remain importable as the same modules.
"""
