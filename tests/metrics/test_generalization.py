"""Train-against-test metrics: the same generated features against both splits, and the gap."""

from __future__ import annotations

import pytest
import torch

from ganlab.metrics.scoring.generalization import matched_draw, train_test_metrics
from ganlab.metrics.scoring.scores import fid


def test_matched_draw_is_seeded_and_sized():
    x = torch.arange(100.0)[:, None]
    a, b = matched_draw(x, 30, seed=3), matched_draw(x, 30, seed=3)
    assert a.shape == (30, 1) and torch.equal(a, b) and len(set(a.flatten().tolist())) == 30
    assert matched_draw(x, 200) is x


def test_a_copier_has_a_positive_gap():
    g = torch.Generator().manual_seed(0)
    train, test = torch.randn(2000, 4, generator=g), torch.randn(400, 4, generator=g)
    copies = {"features": train[:400]}  # samples that are training points
    out = train_test_metrics(train, test, copies, ["fid", "prdc", "is"], seed=1)
    assert out["fid_test"] == pytest.approx(fid(test, train[:400]))
    assert out["fid_train_matched"] == pytest.approx(fid(matched_draw(train, 400, 1), train[:400]))
    assert out["fid_gap"] == pytest.approx(out["fid_test"] - out["fid_train_matched"])
    assert "is_test" not in out and "prdc_k_pr_test" not in out  # one-sample metrics and settings left out
    assert {"precision_test", "recall_test", "coverage_train_matched"} <= out.keys()
