"""Calibration of feature spaces: seeded distortions of real data (``distortions``), scored (``calibrate``)."""
