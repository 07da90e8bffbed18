"""Metrics, by kind (docs/evaluation.md):

- metric objects (update / compute), driven by the evaluation callback and ganlab-eval: ``metric.EvalMetric``
  (the interface), ``feature_metrics`` (FID, KID, IS, PRDC, FID-infinity, CMMD), ``class_coverage``,
  ``mode_coverage``, ``stacked_modes``, ``speckle``;
- ``extractors/``: feature extractors (inception, digits, dinov2, clip, their shared ``pretrained`` loading);
- ``scoring/``: the arithmetic on feature matrices (``scores``) and the suite that picks scores by name (``suite``);
- ``calibration/``: controlled distortions of real data and the calibration of a feature space;
- the plumbing they share: ``extraction`` (images through an extractor), ``reference_cache`` (real features on
  disk), ``noise`` (seeded evaluation noise), ``gather`` (rows over DDP ranks).
"""
