"""Feature extractors and metrics (FID during training; the full suite in ganlab-eval)."""
