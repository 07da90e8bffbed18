"""Seed ensembles: K seeds of one configuration trained in one process, their weights batched.

``ensemble.size=K`` (or ``ensemble.seeds=[...]``) trains members with seeds ``seed, seed+1, ...``; member
k reproduces ``ganlab-train <same overrides> seed=S_k`` up to floating-point reassociation (see
docs/configuration.md, "Seed ensembles"). Pieces: ``checks`` (what the first member's components
and the config must allow: the ``batches_members`` capability), ``nets`` (stacked weights), ``data`` (one data
order per member), ``module`` (the game on member-major batches), ``evaluation`` (per-member metrics, mean and
standard error), ``build`` (the parts ``ganlab.assembly.assemble`` picks for ensemble.size > 1).
"""
