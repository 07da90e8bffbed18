"""Scoring arithmetic on feature matrices (``scores``) and the suite that computes scores by name (``suite``)."""
