"""Training health: reading a run's health back (``ganlab.health.diagnose``, the logic of ganlab-diagnose)."""
