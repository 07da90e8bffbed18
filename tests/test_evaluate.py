"""ganlab-eval and ganlab-sample end to end, the reference cache, and safe checkpoint loading."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import TINY, TINY_MLP, cli_env

from ganlab.checkpoint import CheckpointError, load_generator, read_checkpoint
from ganlab.cli.train import train
from ganlab.config import compose
from ganlab.data.mnist5k import load_mnist5k
from ganlab.metrics.extraction import extract, generated_batches, real_batches, real_reference
from ganlab.metrics.extractors.digits import DigitFeatures
from ganlab.metrics.extractors.inception import sha256
from ganlab.metrics.reference_cache import ReferenceCache
from ganlab.metrics.scoring.suite import compute_metrics


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    """A checkpoint of a tiny 4-step default run."""
    out = tmp_path_factory.mktemp("run")
    cfg = compose([f"paths.output_dir={out}", *TINY_MLP, *TINY, "~logger"])
    train(cfg)
    return out / "checkpoints" / "last.ckpt"


def cli(module: str, *overrides: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *overrides], cwd=cwd, env=cli_env(), capture_output=True,
                          text=True, timeout=600)


def test_eval_cli_writes_card_and_reuses_cache(ckpt, tmp_path):
    out = tmp_path / "metrics.json"
    args = [f"ckpt={ckpt}", f"out={out}", "num_samples=300", "metrics=[fid,kid,is,prdc]", "kid.subsets=10",
            "kid.subset_size=100", f"paths.cache_dir={tmp_path / 'cache'}", "real.max_images=1000",
            "record=evals-test/tiny"]
    first = cli("ganlab.cli.evaluate", *args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    for name in ("fid", "kid", "is", "precision", "recall", "density", "coverage"):
        assert name in first.stdout
    second = cli("ganlab.cli.evaluate", *args, cwd=tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    records = json.loads(out.read_text())["evaluations"]
    assert len(records) == 2  # appended, the first evaluation is kept
    a, b = records
    assert a["card"]["reference_cache"]["hit"] is False and b["card"]["reference_cache"]["hit"] is True
    assert a["metrics"] == b["metrics"]  # same protocol, same numbers
    card = a["card"]
    assert card["feature"]["name"] == "digit_classifier_v2" and len(card["feature"]["sha256"]) == 64
    assert card["feature"]["version"] == "v2" and card["classes"]["classifier"] == "digit_classifier_v2"
    m = a["metrics"]
    assert m["class_kl"] >= 0 and 1 <= m["classes_covered"] <= 10 and 0.1 <= m["confidence"] <= 1
    assert len(m["class_histogram"]) == 10 and abs(sum(m["class_histogram"]) - 1) < 1e-4
    assert card["real"]["num_images"] == 1000 and card["num_generated"] == 300
    assert card["kid"] == {"subsets": 10, "subset_size": 100} and card["is_splits"] == 10
    # the test split (mnist5k's 1,000 held-out digits): the same samples against it, and the gap
    assert card["test"]["split"] == "test" and card["test"]["num_images"] == 1000
    assert m["fid_gap"] == pytest.approx(m["fid_test"] - m["fid_train_matched"])
    assert 0 <= m["precision_test"] <= 1 and 0 <= m["recall_test"] <= 1 and "kid_subsets_test" not in m
    # memorization against the test split, with the closest pairs beside metrics.json
    assert card["memorization"]["space"] == "pixels" and 0 <= m["copy_share"] <= 1
    assert 0 < m["copy_share_heldout"] <= 0.06 and m["nn_dist_median"] > 0
    assert Path(card["memorization"]["pairs"]).is_file()
    # record=STUDY/RUN: the same numbers as a results record, with the commit and the command
    rec = json.loads((tmp_path / "experiments" / "results" / "evals-test" / "tiny.json").read_text())
    assert rec["metrics"]["fid_test"] == b["metrics"]["fid_test"] and rec["card"]["test"] == b["card"]["test"]
    assert rec["command"].endswith("record=evals-test/tiny") and len(rec["commit"]) == 40
    assert {"torch", "torchmetrics", "torch-fidelity", "ganlab"} <= set(card["versions"])
    assert 0 <= a["metrics"]["precision"] <= 1 and a["metrics"]["fid"] > 0
    assert a["metrics"]["kid_subset_size"] == 100


def test_eval_default_out_is_next_to_checkpoint(ckpt, tmp_path):
    proc = cli("ganlab.cli.evaluate", f"ckpt={ckpt}", "num_samples=200", "metrics=[fid]", "real.max_images=500",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (ckpt.parent / "metrics.json").is_file()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("metrics=[fid,fidd]", "unknown ['fidd']; valid: fid, kid, is, prdc, fid_inf"),
        ("real.split=val", "dataset.source.split='val'; valid: train, test, all"),
        ("record=a/b/c", "record='a/b/c'; valid: STUDY/RUN"),
        ("memorization.enabled=maybe", "memorization.enabled='maybe'; valid: auto, true, false"),
        ("ckpt=/nonexistent.ckpt", "checkpoint not found: /nonexistent.ckpt"),
        ("feature=dinov2_vitb14", "set paths.dinov2_vitb14_weights=/path/to/dinov2_vitb14_pretrain.pth"),
        ("floor=val", "dataset.source.split='val'; valid: train, test, all"),
    ],
)
def test_eval_errors_are_one_line(ckpt, tmp_path, override, message):
    proc = cli("ganlab.cli.evaluate", f"ckpt={ckpt}", override, "num_samples=100", cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert message in proc.stderr.strip().splitlines()[-1]


def test_floor_and_cmmd_options_are_checked_before_work():
    from ganlab.cli.evaluate import check_floor
    from ganlab.config import ConfigError
    from ganlab.metrics.feature_metrics import FeatureMetrics

    assert check_floor("halves", ["fid", "is", "cmmd"]) == ["fid", "cmmd"] and check_floor(None, ["fid"]) == []
    with pytest.raises(ConfigError, match=r"floor=halves compares two real sets, but metrics=\['is'\] has no two-"):
        check_floor("halves", ["is"])
    with pytest.raises(ConfigError, match=r"floor=\[1\]; valid: null, halves, or a split name"):
        check_floor([1], ["fid"])
    with pytest.raises(ValueError, match="cmmd_estimator='v'; valid: unbiased, biased"):
        FeatureMetrics(DigitFeatures(), ["cmmd"], cmmd_estimator="v")


def test_floor_of_another_split_compares_num_samples_of_it_with_the_reference(tmp_path):
    from omegaconf import OmegaConf

    from ganlab.cli.evaluate import real_floor
    from ganlab.data.base import ImageData
    from ganlab.metrics.feature_metrics import FeatureMetrics
    from ganlab.metrics.scoring.scores import cmmd

    x = load_mnist5k().x
    metric = FeatureMetrics(DigitFeatures(), ["fid", "cmmd"], cache_dir=str(tmp_path), batch_size=100)
    metric.reference(ImageData(x[:300], None, "mnist5k"))  # the reference: 300 "train" images
    cfg = OmegaConf.create({"floor": "test", "num_samples": 120, "batch_size": 100, "seed": 0})
    floor = real_floor(cfg, metric, ["fid", "cmmd"], ImageData(x[300:500], None, "mnist5k"), "cpu")
    assert (floor["kind"], floor["split"], floor["num_reference"], floor["num_compared"]) == ("split", "test", 300, 120)
    other = extract(DigitFeatures(), real_batches(x[300:420], 100))["features"]
    assert floor["metrics"]["cmmd"] == pytest.approx(cmmd(metric.real, other)["cmmd"], rel=1e-6)
    assert 0 < floor["metrics"]["fid"] < compute_metrics(metric.real, {"features": other.flip(1)},
                                                            ["fid"])["fid"]  # real vs real beats a scrambled set


class Evil:
    def __reduce__(self):
        return (Path.touch, (Path("pwned"),))


def test_crafted_checkpoint_cannot_run_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save({"state_dict": {}, "ganlab": {"config": Evil()}}, tmp_path / "evil.ckpt")
    with pytest.raises(CheckpointError, match="not a ganlab-train checkpoint: it asks to run or build"):
        read_checkpoint(tmp_path / "evil.ckpt")
    assert not (tmp_path / "pwned").exists()
    torch.save({"state_dict": {}}, tmp_path / "plain.ckpt")
    with pytest.raises(CheckpointError, match="not a ganlab-train checkpoint: its content has no key 'ganlab'"):
        read_checkpoint(tmp_path / "plain.ckpt")


def test_incompatible_weights_are_named(ckpt, tmp_path):
    data = torch.load(ckpt, weights_only=True)
    data["ganlab"]["config"]["generator"]["hidden"] = [16, 16]
    torch.save(data, tmp_path / "other.ckpt")
    with pytest.raises(CheckpointError, match="weights do not fit the generator"):
        load_generator(tmp_path / "other.ckpt")


class CountingFeatures(DigitFeatures):
    calls = 0

    def forward(self, x):
        CountingFeatures.calls += 1
        return super().forward(x)


def test_cache_hit_skips_real_extraction_and_miss_on_changed_data(tmp_path):
    data = load_mnist5k()
    data.x = data.x[:300]
    extractor, cache = CountingFeatures(), ReferenceCache(tmp_path)
    a, hit_a, _ = real_reference(data, extractor, cache, batch_size=100)
    calls = CountingFeatures.calls
    assert not hit_a and calls == 3
    b, hit_b, _ = real_reference(data, extractor, cache, batch_size=100)
    assert hit_b and CountingFeatures.calls == calls and torch.equal(a, b)  # no extraction on a hit
    data.x = data.x.clone()
    data.x[0, 0, 10, 10] ^= 1  # one pixel changed: a different dataset
    _, hit_c, _ = real_reference(data, extractor, cache, batch_size=100)
    assert not hit_c and CountingFeatures.calls == calls + 3
    _, hit_d, _ = real_reference(data, extractor, cache, max_images=200, batch_size=100)
    assert not hit_d  # another number of images is another protocol
    assert len(list(tmp_path.glob("*.pt"))) == 3


def test_streamed_equals_one_batch(ckpt):
    loaded = load_generator(ckpt)
    feats = DigitFeatures()
    small = extract(feats, generated_batches(loaded.generator, 120, 7))
    big = extract(feats, generated_batches(loaded.generator, 120, 1000))
    assert torch.allclose(small["features"], big["features"], atol=1e-5)
    real = extract(feats, real_batches(load_mnist5k().x[:200], 64))["features"]
    m_small = compute_metrics(real, small, ["fid", "prdc"])
    m_big = compute_metrics(real, big, ["fid", "prdc"])
    assert m_small == pytest.approx(m_big, rel=1e-4)


def test_sample_cli_writes_grid_files_and_strip(ckpt, tmp_path):
    out = tmp_path / "s" / "samples.png"
    proc = cli("ganlab.cli.sample", f"ckpt={ckpt}", "n=16", "nrow=4", f"out={out}", "interpolation.rows=3",
               "interpolation.steps=5", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    from PIL import Image

    assert Image.open(out).size == (4 * 34 + 2, 4 * 34 + 2)  # 4x4 grid of 32px images with 2px padding
    assert len(list((tmp_path / "s" / "samples").glob("*.png"))) == 16
    assert Image.open(tmp_path / "s" / "samples_interp.png").size == (5 * 34 + 2, 3 * 34 + 2)
    again = cli("ganlab.cli.sample", f"ckpt={ckpt}", f"out={out}", cwd=tmp_path)
    assert again.returncode != 0 and "already exist" in again.stderr.strip().splitlines()[-1]
    cond = cli("ganlab.cli.sample", f"ckpt={ckpt}", f"out={tmp_path / 'c.png'}", "class=3", cwd=tmp_path)
    assert "class=3: this generator is unconditional" in cond.stderr


@pytest.mark.slow  # metrics/test_inception.py checks the extractor itself by default
def test_eval_with_inception_weights_from_config(ckpt, tmp_path):
    from metrics.test_inception import random_inception_weights

    weights = random_inception_weights(tmp_path / "random-inception.pth")
    out = tmp_path / "m.json"
    proc = cli("ganlab.cli.evaluate", f"ckpt={ckpt}", "feature=inception", f"paths.inception_weights={weights}",
               "feature.expected_sha256=null", "num_samples=12", "real.max_images=12", "metrics=[fid,kid,is]",
               "kid.subset_size=6", "kid.subsets=3", "is_splits=2", "batch_size=6", f"out={out}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads(out.read_text())["evaluations"][0]
    assert record["card"]["feature"]["name"] == "inception-v3-compat"
    assert record["card"]["feature"]["sha256"] == sha256(weights)
    assert record["card"]["feature"]["num_features"] == 2048
    assert record["metrics"]["kid_subset_size"] == 6 and record["metrics"]["is_splits"] == 2


def test_eval_dinov2_fd_cmmd_and_floor_end_to_end(ckpt, tmp_path):
    """feature=dinov2_vitb14 metrics=[fid,cmmd] floor=halves on a random-weight file: names carry the feature space,
    the card records the extractor's protocol, and the values equal an in-process recomputation."""
    from metrics.test_pretrained import random_dinov2_weights

    from ganlab.metrics.extractors.dinov2 import DINOv2Features
    from ganlab.metrics.scoring.scores import cmmd
    from ganlab.metrics.scoring.suite import halves

    weights = random_dinov2_weights(tmp_path / "dinov2_vitb14_pretrain.pth")
    out = tmp_path / "m.json"
    # input_size=28 (a 2 x 2 patch grid) keeps the CPU forward tiny; the protocol's 224 is the default
    proc = cli("ganlab.cli.evaluate", f"ckpt={ckpt}", "feature=dinov2_vitb14", f"paths.dinov2_vitb14_weights={weights}",
               "feature.input_size=28", "num_samples=24", "real.max_images=40", "metrics=[fid,cmmd]", "floor=halves",
               "batch_size=16", f"paths.cache_dir={tmp_path / 'cache'}", f"out={out}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "fd_dinov2_b14" in proc.stdout and "real vs real (20 vs 20, halves)" in proc.stdout
    record = json.loads(out.read_text())["evaluations"][0]
    m, card = record["metrics"], record["card"]
    assert {"fd_dinov2_b14", "cmmd_dinov2_b14"} <= set(m) and "fid" not in m and "cmmd" not in m
    feature = card["feature"]
    assert feature["name"] == "dinov2_vitb14" and feature["sha256"] == sha256(weights)
    assert feature["input_size"] == 28 and feature["num_features"] == 768 and "bicubic" in feature["resize"]
    assert card["names"] == {"suffix": "dinov2_b14"} and card["cmmd"]["sigma"] == 10.0
    assert card["num_generated"] == 24 and card["real"]["num_images"] == 40 and card["real"]["split"] == "train"
    assert card["floor"] == {"kind": "halves", "seed": 0, "num_reference": 20, "num_compared": 20}
    assert set(record["floor"]) == {"fd_dinov2_b14", "cmmd_dinov2_b14"}

    # the same numbers in-process: reference and generated features, CMMD, and the floor of the two halves
    feats = DINOv2Features(str(weights), arch="vitb14", input_size=28)
    real = extract(feats, real_batches(load_mnist5k(split="train").x[:40], 16))["features"]
    fake = extract(feats, generated_batches(load_generator(ckpt).generator, 24, 16))["features"]
    assert m["cmmd_dinov2_b14"] == pytest.approx(cmmd(real, fake)["cmmd"], rel=1e-4, abs=1e-6)
    a, b = halves(real, seed=0)
    assert record["floor"]["cmmd_dinov2_b14"] == pytest.approx(cmmd(a, b)["cmmd"], rel=1e-4, abs=1e-6)
    assert record["floor"]["fd_dinov2_b14"] == pytest.approx(compute_metrics(a, {"features": b}, ["fid"])["fid"],
                                                             rel=1e-4)
