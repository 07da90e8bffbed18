"""The packaged digit classifier: accuracy, feature contract, weight integrity, use as an FID extractor."""

from __future__ import annotations

import pytest
import torch
from torchmetrics.image.fid import FrechetInceptionDistance

from ganlab.data.base import to_model_space
from ganlab.data.mnist5k import held_out_split, load_mnist5k, mnist5k_raw
from ganlab.metrics.extractors import digits
from ganlab.metrics.extractors.digits import DigitFeatures, default_weights_path


@pytest.fixture(scope="module")
def feats() -> DigitFeatures:
    return DigitFeatures()


@pytest.fixture(scope="module")
def mnist() -> tuple[torch.Tensor, torch.Tensor]:
    """All 5,000 digits at 32x32 in [-1, 1] [5000, 1, 32, 32], labels [5000] (sorted by class)."""
    data = load_mnist5k(resolution=32, channels=1)
    return to_model_space(data.x), data.y


def _update(fid: FrechetInceptionDistance, x: torch.Tensor, real: bool) -> None:
    for i in range(0, len(x), 1250):
        fid.update(x[i : i + 1250], real=real)


def test_held_out_accuracy_matches_meta(feats, mnist):
    x, y = mnist
    meta = feats.meta
    _, held = held_out_split(y, meta["split_seed"])
    assert len(held) == meta["n_held_out"] == 1000
    assert torch.equal(torch.bincount(y[held]), torch.full((10,), 100))
    acc = (feats.logits(x[held]).argmax(1) == y[held]).float().mean().item()
    assert acc >= 0.95
    assert abs(acc - meta["held_out_accuracy"]) <= 0.005
    assert meta["n_train"] + meta["n_held_out"] == len(y)


def test_held_out_split_is_deterministic_and_disjoint(mnist):
    _, y = mnist
    tr, held = held_out_split(y, 0)
    tr2, held2 = held_out_split(y, 0)
    assert torch.equal(tr, tr2) and torch.equal(held, held2)
    assert len(tr) == 4000 and not set(tr.tolist()) & set(held.tolist())
    assert not torch.equal(held_out_split(y, 1)[1], held)


def test_feature_contract(feats, mnist):
    x = mnist[0][::250]  # [20, 1, 32, 32], two per class
    f = feats(x)
    assert f.shape == (20, 128) and f.dtype == torch.float32
    assert feats.num_features == 128 and isinstance(feats.num_features, int)
    assert torch.equal(f, feats(x))
    torch.testing.assert_close(feats(x.repeat(1, 3, 1, 1)), f)
    assert feats.logits(x).shape == (20, 10)
    assert not any(p.requires_grad for p in feats.parameters())
    feats.train()
    assert not feats.training and not feats.net.training
    assert torch.equal(feats(x), f)


def test_native_28px_input(feats):
    raw = mnist5k_raw()
    x28, y = to_model_space(raw.x[::50]), raw.y[::50]  # [100, 1, 28, 28]
    assert feats(x28).shape == (100, 128)
    assert (feats.logits(x28).argmax(1) == y).float().mean() >= 0.9


def test_tampered_weights(feats, tmp_path, monkeypatch):
    ckpt = torch.load(default_weights_path("v2"), map_location="cpu", weights_only=True)
    ckpt["state_dict"]["head.bias"] += 0.1
    tampered = tmp_path / "tampered.pt"
    torch.save(ckpt, tampered)
    other = DigitFeatures(str(tampered))  # an explicit file is trusted; its hash is reported
    assert other.sha256 != feats.sha256 == digits.DIGIT_CLASSIFIER_V2_SHA256
    for version in ("v1", "v2"):
        good = digits.VERSIONS[version]
        monkeypatch.setitem(digits.VERSIONS, version, digits.Version(good.file, "0" * 64, good.layer, good.name))
        with pytest.raises(ValueError, match=f"has SHA-256 .*expected {'0' * 64}"):
            DigitFeatures(version=version)


def test_missing_weights(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=r"dataset\.feature\.weights"):
        DigitFeatures(str(tmp_path / "nope.pt"))
    monkeypatch.setattr(digits, "default_weights_path", lambda version: tmp_path / "gone.pt")
    with pytest.raises(FileNotFoundError, match="gone.pt"):
        DigitFeatures()


def test_fid_with_torchmetrics(feats, mnist):
    x, _ = mnist
    fid = FrechetInceptionDistance(feature=feats, normalize=False, reset_real_features=False)
    # the file is sorted by class, so halves are taken by alternate index (250 per class each)
    _update(fid, x[0::2], real=True)
    _update(fid, x[1::2], real=False)
    halves = float(fid.compute())
    fid.reset()
    _update(fid, torch.rand(2500, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1, real=False)
    noise = float(fid.compute())
    assert halves < 0.05 * noise
    # the features separate classes: digits 0-4 against 5-9 are far apart
    fid = FrechetInceptionDistance(feature=feats, normalize=False)
    _update(fid, x[:2500:2], real=True)
    _update(fid, x[2500::2], real=False)
    assert float(fid.compute()) > 10 * halves


def test_pixels_outside_the_range_are_clamped(feats, mnist):
    # a linear-output G (R3GAN) yields pixels beyond [-1, 1]; the features are those of the clamped image
    x = mnist[0][::250] * 3.0  # [20, 1, 32, 32] in [-3, 3]
    assert x.min() < -1 and x.max() > 1
    torch.testing.assert_close(feats(x), feats(x.clamp(-1, 1)), rtol=0, atol=0)
    torch.testing.assert_close(feats.logits(x), feats.logits(x.clamp(-1, 1)), rtol=0, atol=0)
    unclamped = feats.net.features(x, feats.layer)  # what the features were before the clamp
    assert (unclamped - feats(x)).abs().max() > 1.0
