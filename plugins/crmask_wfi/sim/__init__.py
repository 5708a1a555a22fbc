"""The frame simulator of an Athena-WFI-like DEPFET quadrant and its reference.

Modules
-------
physics
    Detector constants with their sources; absorption, diffusion, Landau loss.
charge
    Pair creation, diffusion and sharing of charge among pixels.
cosmics
    Cosmic-ray primaries, delta rays and secondary particles.
simulate
    `simulate_frames`: frames with X-rays, cosmic rays, read noise and truth;
    `compose_frames`, the X-rays, noise and truth of any cosmic-ray source.
simfile
    FITS files of simulated frames with their truth.
geant4
    Readers and cosmic-ray statistics of the public Geant4 WFI run, the
    simulator's reference.
geant4_frames
    Quadrant frames with the Geant4 run's cosmic rays and the simulator's
    X-rays, read noise and truth.
"""
