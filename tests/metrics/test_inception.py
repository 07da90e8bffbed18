"""The Inception feature extractor loads local weights safely, checks their hash and names the key when missing."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ganlab.metrics.extractors.inception import InceptionFeatures, sha256


def random_inception_weights(path: Path) -> Path:
    """A randomly initialized state dict with the exact shapes of the FID Inception."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    empty = path.with_suffix(".empty")
    torch.save({}, empty)
    original = FeatureExtractorInceptionV3.load_state_dict
    FeatureExtractorInceptionV3.load_state_dict = lambda self, *a, **k: None  # keep the random init
    try:
        net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(empty))
    finally:
        FeatureExtractorInceptionV3.load_state_dict = original
    torch.save(net.state_dict(), path)
    return path


@pytest.fixture(scope="session")
def weights(tmp_path_factory) -> Path:
    return random_inception_weights(tmp_path_factory.mktemp("inception") / "random-inception.pth")


def test_hash_is_checked_and_recorded(weights):
    with pytest.raises(ValueError, match=r"expected 6726825d\.\.\.: not the standard FID Inception"):
        InceptionFeatures(str(weights))
    feats = InceptionFeatures(str(weights), expected_sha256=None)
    assert feats.sha256 == sha256(weights) and len(feats.sha256) == 64
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    f, logits = feats.features_and_logits(x)
    assert f.shape == (2, 2048) and logits.shape == (2, 1008)
    assert torch.equal(feats(x), f)
    # grey images are repeated to RGB: the same as passing the 3-channel copy
    assert torch.allclose(feats(x.expand(-1, 3, -1, -1)), f)


def test_missing_weights_name_the_key(tmp_path):
    with pytest.raises(FileNotFoundError, match="paths.inception_weights"):
        InceptionFeatures(str(tmp_path / "nope.pth"))


def test_crafted_weights_file_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (Path.touch, (tmp_path / "pwned",))

    torch.save({"w": Evil()}, tmp_path / "evil.pth")
    with pytest.raises(ValueError, match="evil.pth is not Inception weights .*asks to run or build"):
        InceptionFeatures(str(tmp_path / "evil.pth"), expected_sha256=None)
    assert not (tmp_path / "pwned").exists()


def test_weights_from_the_hub_cache_take_the_same_safe_path(weights, tmp_path, monkeypatch):
    """No paths.inception_weights: torch.hub's cached copy is read as data, hashed, and its hash recorded."""
    from ganlab.metrics.extractors.inception import INCEPTION_FILE

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cached = tmp_path / "hub" / "checkpoints" / INCEPTION_FILE
    cached.parent.mkdir(parents=True)

    class Evil:
        def __reduce__(self):
            return (Path.touch, (tmp_path / "pwned",))

    torch.save({"w": Evil()}, cached)  # a crafted file where the download would have put the weights
    with pytest.raises(ValueError, match=f"{INCEPTION_FILE} is not Inception weights .*asks to run or build"):
        InceptionFeatures(None, expected_sha256=None)
    assert not (tmp_path / "pwned").exists()

    cached.write_bytes(weights.read_bytes())
    with pytest.raises(ValueError, match=r"expected 6726825d\.\.\.: not the standard FID Inception"):
        InceptionFeatures(None)
    feats = InceptionFeatures(None, expected_sha256=None)
    assert feats.sha256 == sha256(weights)  # on the evaluation card (extractor_card), whatever the source
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert torch.equal(feats(x), InceptionFeatures(str(weights), expected_sha256=None)(x))
