"""FID statistics in and out (.npz: mu, sigma) against pytorch-fid's and clean-fid's arithmetic and layout, and the
Inception resizes (tf1, clean, torch, torchmetrics) against torch-fidelity's, clean-fid's and torchmetrics' own."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from generator_checkpoints import write_checkpoint
from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from test_inception import random_inception_weights

from ganlab.cli.common import EVAL_CONFIG_DIR
from ganlab.cli.evaluate import evaluate
from ganlab.config import ConfigError
from ganlab.metrics.extraction import extractor_card
from ganlab.metrics.extractors.inception import RESIZES, InceptionFeatures, resize_clean, resize_torch
from ganlab.metrics.reference_cache import cache_key
from ganlab.metrics.scoring import scores
from ganlab.metrics.scoring.fid_stats import (
    StatsError,
    check_protocol,
    frechet_distance,
    gaussian,
    load_stats,
    save_stats,
)


def features(n: int, d: int, shift: float, seed: int) -> torch.Tensor:
    """Correlated features [n, d] (a random linear map of normal noise), moved by ``shift``."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g) @ torch.randn(d, d, generator=g) / d**0.5 + shift


def test_reimported_statistics_give_the_identical_fid(tmp_path):
    real, fake = features(600, 32, 0.0, 1), features(400, 32, 0.3, 2)
    direct = scores.fid(real, fake)
    save_stats(tmp_path / "real.npz", gaussian(real, {"extractor": {"name": "x"}}))
    save_stats(tmp_path / "fake.npz", gaussian(fake))
    again = frechet_distance(load_stats(tmp_path / "real.npz", 32), load_stats(tmp_path / "fake.npz"))
    assert again == direct and direct > 0.1  # bit for bit: the same sums, the same arithmetic
    loaded = load_stats(tmp_path / "real.npz")
    assert loaded.num_images == 600 and loaded.protocol == {"extractor": {"name": "x"}}


def test_pytorch_fid_layout_and_frechet_distance(tmp_path):
    from cleanfid.fid import frechet_distance as cleanfid_distance
    from pytorch_fid.fid_score import calculate_frechet_distance

    real, fake = features(800, 64, 0.0, 3), features(500, 64, 0.2, 4)
    # a file as pytorch-fid's save_fid_stats and clean-fid's reference statistics write it: only mu and sigma
    mu = real.double().mean(0).numpy()
    sigma = np.cov(real.double().numpy(), rowvar=False)
    np.savez_compressed(tmp_path / "pytorch_fid.npz", mu=mu, sigma=sigma)
    theirs = load_stats(tmp_path / "pytorch_fid.npz", num_features=64)
    assert theirs.num_images is None and theirs.protocol is None
    ours = gaussian(fake)
    distance = frechet_distance(theirs, ours)
    expected = calculate_frechet_distance(mu, sigma, ours.mu.numpy(), ours.sigma.numpy())
    assert abs(distance - expected) <= 1e-6 and distance > 0.1
    assert abs(distance - cleanfid_distance(mu, sigma, ours.mu.numpy(), ours.sigma.numpy())) <= 1e-6
    # and pytorch-fid reads ganlab's files
    save_stats(tmp_path / "ganlab.npz", ours)
    with np.load(tmp_path / "ganlab.npz") as f:
        assert np.array_equal(f["mu"], ours.mu.numpy()) and np.array_equal(f["sigma"], ours.sigma.numpy())


@pytest.mark.parametrize(("write", "message"), [
    (lambda p: np.savez(p, mu=np.zeros(64), sigma=np.eye(64)), "holds statistics of 64 features, but the "
                                                                 "evaluation's feature extractor gives 2048"),
    (lambda p: np.savez(p, mean=np.zeros(4)), "has no mu or sigma (it holds ['mean'])"),
    (lambda p: np.savez(p, mu=np.zeros(4), sigma=np.eye(3)), "mu has shape (4,) (float64), sigma (3, 3)"),
    (lambda p: p.write_text("mu,sigma"), "is not an .npz file of statistics"),
    (lambda p: np.savez(p, mu=np.array([object()]), sigma=np.eye(1)), "is not an .npz file of statistics"),
])
def test_bad_statistics_files_are_one_line_errors(tmp_path, write, message):
    path = tmp_path / "stats.npz"
    write(path)
    with pytest.raises(StatsError, match=re.escape(message)) as e:
        load_stats(path, num_features=2048)
    assert len(str(e.value).splitlines()) == 1 and "real.stats=" in str(e.value)


def test_a_ganlab_file_of_another_extractor_is_refused(tmp_path):
    card = {"name": "inception-v3-compat", "sha256": "ab", "num_features": 2048, "resize": RESIZES["tf1"]}
    save_stats(tmp_path / "real.npz", gaussian(features(10, 4, 0.0, 5), {"extractor": card}))
    stats = load_stats(tmp_path / "real.npz")
    check_protocol(stats, card, tmp_path / "real.npz")  # the same extractor: accepted
    with pytest.raises(StatsError, match=r"whose resize is .tf1: .*, this evaluation's is .clean: "):
        check_protocol(stats, {**card, "resize": RESIZES["clean"]}, tmp_path / "real.npz")


# ------------------------------------------------------------------ resizes
def uint8_images(size: int, n: int = 3, seed: int = 0) -> np.ndarray:
    """[n, size, size, 3] uint8: noise, and a hard-edged square (where bicubic overshoots 0 and 255)."""
    x = np.random.default_rng(seed).integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)
    x[0] = 0
    x[0, size // 4: size // 2, size // 4: size // 2] = 255
    return x


@pytest.mark.parametrize("size", [28, 32, 64, 128, 512])
def test_clean_resize_equals_clean_fid(size):
    from cleanfid.resize import build_resizer

    images = uint8_images(size)
    theirs = np.stack([build_resizer("clean")(im) for im in images]).transpose(0, 3, 1, 2)  # [n, 3, 299, 299]
    ours = resize_clean(torch.from_numpy(images).permute(0, 3, 1, 2).float())
    assert np.abs(ours.numpy() - theirs).max() <= 1e-5
    assert ours.max() == 255 and ours.min() == 0  # clipped where the cubic overshoots


def test_torch_resize_equals_clean_fid_legacy_pytorch():
    from cleanfid.resize import build_resizer

    images = uint8_images(32)
    theirs = np.stack([build_resizer("legacy_pytorch")(im) for im in images]).transpose(0, 3, 1, 2)
    assert np.abs(resize_torch(torch.from_numpy(images).permute(0, 3, 1, 2).float()).numpy() - theirs).max() <= 1e-5


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    return random_inception_weights(tmp_path_factory.mktemp("inception") / "random-inception.pth")


def test_tf1_and_torchmetrics_resizes_are_their_libraries_forward(weights):
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    x = torch.rand(2, 3, 32, 32) * 2 - 1
    u8 = ((x + 1) * 127.5).round().to(torch.uint8)
    fidelity = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                           feature_extractor_weights_path=str(weights)).eval()
    tf1 = InceptionFeatures(str(weights), expected_sha256=None)  # the default
    for ours, theirs in zip(tf1.features_and_logits(x), fidelity(u8), strict=True):
        assert torch.equal(ours, theirs)
    tm = InceptionFeatures(str(weights), expected_sha256=None, resize="torchmetrics")
    for ours, theirs in zip(tm.features_and_logits(x), tm.net._torch_fidelity_forward(u8), strict=True):
        assert torch.equal(ours, theirs.reshape(2, -1))


def test_each_resize_has_its_own_card_and_cache_key(weights):
    cards = {mode: extractor_card(InceptionFeatures(str(weights), expected_sha256=None, resize=mode))
             for mode in RESIZES}
    assert len({c["resize"] for c in cards.values()}) == len(RESIZES) == 4
    assert len({cache_key({"extractor": c}) for c in cards.values()}) == 4
    assert all(card["resize"].startswith(mode) for mode, card in cards.items())
    with pytest.raises(ValueError, match=r"^feature.resize=bilinear; valid: tf1, clean, torch, torchmetrics$"):
        InceptionFeatures(str(weights), expected_sha256=None, resize="bilinear")


# ------------------------------------------------------------------ ganlab-eval
def eval_cfg(*overrides: str):
    with initialize_config_dir(EVAL_CONFIG_DIR, version_base="1.3"):
        return hydra_compose("eval", overrides=list(overrides))


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    return write_checkpoint(tmp_path_factory.mktemp("ckpt"), "mlp", 0, ema=False)


SMALL = ["num_samples=200", "real.max_images=400", "batch_size=100", "metrics=[fid]", "classes=false",
         "speckle=false", "memorization.enabled=false", "real.test_split=null"]


def test_eval_writes_statistics_and_reads_them_back_as_the_reference(ckpt, tmp_path):
    out = tmp_path / "metrics.json"
    first = evaluate(eval_cfg(f"ckpt={ckpt}", f"out={out}", f"paths.cache_dir={tmp_path / 'cache'}", *SMALL))
    stats = first["card"]["stats"]
    assert Path(stats["real"]).parent == tmp_path / "metrics_stats"
    assert Path(stats["generated"]).name == "eval000_generated.npz"
    real = load_stats(stats["real"])
    assert real.num_images == 400 and real.num_features == 128  # the digit features of mnist5k
    assert real.protocol["extractor"]["name"] == "digit_classifier_v2"
    second = evaluate(eval_cfg(f"ckpt={ckpt}", f"out={out}", f"real.stats={stats['real']}", *SMALL))
    assert second["metrics"]["fid"] == first["metrics"]["fid"] > 0  # identical, from the file
    assert second["card"]["real"]["stats"] == stats["real"] and second["card"]["reference_cache"] is None
    assert Path(second["card"]["stats"]["generated"]).name == "eval001_generated.npz"
    records = json.loads(out.read_text())["evaluations"]
    assert [r["metrics"]["fid"] for r in records] == [first["metrics"]["fid"]] * 2


@pytest.mark.parametrize(("args", "message"), [
    (["metrics=[fid,kid]"], "gives FID only (it holds a mean and a covariance, not features); metrics=['fid', 'kid']"),
    (["classes=true"], "reads no real images, which classes=True needs"),
    ([], "holds statistics of 64 features, but the evaluation's feature extractor gives 128"),
])
def test_eval_refuses_a_reference_file_that_does_not_fit(ckpt, tmp_path, args, message):
    np.savez(tmp_path / "other.npz", mu=np.zeros(64), sigma=np.eye(64))
    out = tmp_path / "metrics.json"
    out.write_text(json.dumps({"evaluations": [{"metrics": {"fid": 1.0}, "card": {}}]}))
    before = out.read_text()
    overrides = [f"ckpt={ckpt}", f"out={out}", f"real.stats={tmp_path / 'other.npz'}", *SMALL, *args]
    with pytest.raises(ConfigError, match=re.escape(message)) as e:
        evaluate(eval_cfg(*overrides))
    assert len(str(e.value).splitlines()) == 1
    assert out.read_text() == before and not (tmp_path / "metrics_stats").exists()


def test_eval_card_and_cache_key_record_the_resize(ckpt, tmp_path, weights):
    out, cache = tmp_path / "metrics.json", tmp_path / "cache"
    common = [f"ckpt={ckpt}", f"out={out}", f"paths.cache_dir={cache}", "feature=inception",
              f"feature.weights={weights}", "feature.expected_sha256=null", "num_samples=4", "real.max_images=4",
              "batch_size=4", "metrics=[fid]", "classes=false", "speckle=false", "memorization.enabled=false",
              "real.test_split=null"]
    card = evaluate(eval_cfg(*common, "feature.resize=clean"))["card"]
    assert card["feature"]["resize_mode"] == "clean" and card["feature"]["resize"] == RESIZES["clean"]
    (entry,) = cache.glob("*.json")  # the reference cache's key holds the resize (other modes: other keys, above)
    assert json.loads(entry.read_text())["extractor"]["resize"] == RESIZES["clean"]
    real = load_stats(card["stats"]["real"], 2048)
    assert real.protocol["extractor"]["resize"] == RESIZES["clean"]  # and the statistics file records it
