"""Training runs read back from their directories (scalars, status, protocol) and compared: tables,
curves and a static HTML report. ``ganlab-compare`` is the command line over this package."""
