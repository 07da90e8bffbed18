"""Feature extractors: networks mapping images [N, C, H, W] in [-1, 1] to features [N, D] (and logits)."""
