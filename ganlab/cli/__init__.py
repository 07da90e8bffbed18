"""Command-line entry points (ganlab-train, -eval, -sample, -compare, -reproduce): thin wrappers over the library."""
