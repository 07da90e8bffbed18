"""Seed ensembles: members equal separate runs of their seeds, per-member metrics with mean and SE, refusals."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from ganlab.checkpoint import CheckpointError, load_generator
from ganlab.cli.train import train
from ganlab.config import ConfigError, compose
from ganlab.data.base import ImageData, InMemoryBatches
from ganlab.data.toy import ring_means
from ganlab.ensemble.data import EnsembleBatches
from ganlab.ensemble.evaluation import summarize
from ganlab.metrics.mode_coverage import mode_metrics
from ganlab.metrics.noise import eval_noise

# a tiny MLP GAN on the ring (the VEEGAN preset's tanh nets, narrow): 100 steps, one evaluation at the end
TOY = ["experiment=veegan_gan_ring", "dataset.source.n=4000", "dataset.batch_size=32", "generator.z_dim=4",
       "generator.hidden=[8,8]", "discriminator.hidden=[8,8]", "health=none", "~logger", "~callbacks.progress_bar",
       "+trainer.enable_progress_bar=false", "trainer.max_steps=100",
       "metrics.every_n_steps=100", "metrics.num_samples=200", "metrics.batch_size=100", "loss=hinge",
       "+regularizers=r1", "regularizers.r1.gamma=1.0", "~callbacks.samples"]
SEEDS = [3, 4, 5, 6]


def _run(cfg, out: Path, **values) -> Path:
    cfg = OmegaConf.create(OmegaConf.to_container(cfg))  # a copy: one compose for every run (2 s each)
    for key, value in {"paths.output_dir": str(out), **values}.items():
        OmegaConf.update(cfg, key, value)
    train(cfg)
    return out / "checkpoints" / "last.ckpt"


def _weights(path: Path) -> dict[str, torch.Tensor]:
    state = torch.load(path, weights_only=True)["state_dict"]  # checkpoints are plain data
    return {k: v for k, v in state.items() if k.startswith(("generator.", "discriminator."))}


def test_members_equal_separate_runs_and_their_metrics(tmp_path):
    cfg = compose(TOY)
    separate = {s: _weights(_run(cfg, tmp_path / f"seed{s}", seed=s)) for s in SEEDS}
    ckpt = _run(cfg, tmp_path / "ensemble", seed=SEEDS[0], **{"ensemble.size": len(SEEDS)})
    stacked = _weights(ckpt)
    worst = 0.0
    for k, s in enumerate(SEEDS):
        for key, value in separate[s].items():
            net, name = key.split(".", 1)
            worst = max(worst, float((stacked[f"{net}.stacked.{name}"][k] - value).abs().max()))
    assert worst <= 1e-5, f"member weights differ from separate runs by {worst}"
    assert stacked["generator.stacked.net.0.weight"].shape[0] == len(SEEDS)
    # the members differ from each other (their own init, noise and data order)
    first, second = (separate[s]["generator.net.0.weight"] for s in SEEDS[:2])
    assert not torch.allclose(first, second)

    # per-member metrics: what each separate run's G scores under the run's protocol (eval noise, 200 samples)
    record = json.loads((ckpt.parent / "metrics.json").read_text())["evaluations"][-1]
    assert record["seeds"] == SEEDS and record["global_step"] == 100
    means = ring_means()
    for k, s in enumerate(SEEDS):
        loaded = load_generator(ckpt, member=k)  # one member as a normal single-seed generator
        assert loaded.config.seed == s and loaded.config.ensemble.size == 1
        own = load_generator(tmp_path / f"seed{s}" / "checkpoints" / "last.ckpt").generator
        z = eval_noise(0, 200, 4)
        with torch.no_grad():
            assert (loaded.generator(z) - own(z)).abs().max() <= 1e-5
            expected = mode_metrics(own(z), means, 0.01)
        got = record["members"][k]["metrics"]
        assert got["modes"] == expected["modes"] and got["high_quality"] == pytest.approx(expected["high_quality"])
    hq = [m["metrics"]["high_quality"] for m in record["members"]]
    mean = sum(hq) / len(hq)
    se = math.sqrt(sum((v - mean) ** 2 for v in hq) / (len(hq) - 1) / len(hq))
    assert record["metrics"]["high_quality_mean"] == pytest.approx(mean)
    assert record["metrics"]["high_quality_se"] == pytest.approx(se)
    with pytest.raises(CheckpointError, match=r"holds a seed ensemble of 4 members \(seeds \[3, 4, 5, 6\]\); "
                                              r"valid: member=0..3"):
        load_generator(ckpt, member=4)


def test_summarize_gives_member_values_mean_and_standard_error():
    out = summarize([{"modes": 8.0}, {"modes": 6.0}, {"modes": 7.0}, {"modes": 7.0}])
    assert out["modes/member1"] == 6.0 and out["modes/member3"] == 7.0
    assert out["modes_mean"] == out["modes"] == 7.0
    assert out["modes_se"] == pytest.approx(math.sqrt(2 / 3) / 2)  # sample std sqrt(2/3), over sqrt(4)
    nan = summarize([{"reverse_kl": math.nan}, {"reverse_kl": 0.5}, {"reverse_kl": 0.25}])
    assert nan["reverse_kl_mean"] == 0.375 and math.isnan(nan["reverse_kl/member0"])  # NaN members left out


def test_ensemble_batches_give_each_member_its_own_runs_batches():
    data = ImageData(torch.arange(40.0).view(20, 2), None, "t")
    own = [list(InMemoryBatches(data, 6, seed=s)) for s in (0, 1)]
    both = list(EnsembleBatches([InMemoryBatches(data, 6, seed=s) for s in (0, 1)], chunks=2))
    assert len(both) == len(own[0]) == 3
    for step, (x, y) in enumerate(both):
        assert y is None and x.shape == (12, 2)
        d1, d2 = x.chunk(2)  # the module's split into n_critic D updates: each member-major [K * 3, 2]
        for k in range(2):
            assert torch.equal(d1[3 * k:3 * k + 3], own[k][step][0][:3])
            assert torch.equal(d2[3 * k:3 * k + 3], own[k][step][0][3:])


REFUSED = [
    (["generator=dcgan", "discriminator=dcgan"], "generator=ganlab.nets.dcgan.DCGANGenerator with ensemble.size > 1; "
                                                "valid: a network class with batches_members = True (generator=mlp)"),
    (["generator.batchnorm=true"], "generator.batchnorm=True with ensemble.size > 1; valid: generator.batchnorm=False"),
    (["pack=2"], "pack=2 with ensemble.size > 1; valid: pack=1"),
    (["minibatch=stddev"], "minibatch=ganlab.nets.minibatch.MinibatchStddev with ensemble.size > 1; "
                           "valid: minibatch=null"),
    (["augment=diffaugment"], "augment={diffaugment} with ensemble.size > 1; valid: augment={}"),
    (["loss=wgan_gp"], "regularizers.gp=GradientPenalty with ensemble.size > 1; valid: regularizers with "
                       "batches_members = True (R1, R2, WeightClip)"),
    (["game=unrolled"], "game=ganlab.game.Alternating with unroll with ensemble.size > 1; valid: a game with "
                        "batches_members = True (game=alternating or game=simultaneous without unroll)"),
    (["health=default"], "health: the health monitor does not watch ensemble members with ensemble.size > 1; "
                         "valid: health=none"),
    (["conditional=projection"], "generator.num_classes=10 with ensemble.size > 1; valid: conditional=null"),
    (["ensemble.seeds=[1,1]"], "ensemble.seeds=[1, 1]; valid: null or a list of distinct integers >= 0"),
]


@pytest.mark.parametrize(("overrides", "message"), REFUSED, ids=[" ".join(o) for o, _ in REFUSED])
def test_what_an_ensemble_cannot_train_is_refused_in_one_line_before_training(tmp_path, overrides, message):
    cfg = compose([f"paths.output_dir={tmp_path / 'run'}", "ensemble.size=2", "health=none", *overrides])
    with pytest.raises(ConfigError) as err:
        train(cfg)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "run").exists()  # nothing written


def test_a_member_of_a_normal_checkpoint_is_refused(tmp_path):
    path = tmp_path / "plain.ckpt"
    cfg = OmegaConf.to_container(compose(["~experiment"]), resolve=False)
    torch.save({"state_dict": {}, "ganlab": {"config": {"generator": cfg["generator"]}}}, path)
    with pytest.raises(CheckpointError, match="is not a seed-ensemble checkpoint; valid: member=null"):
        load_generator(path, member=0)


def test_a_resumed_ensemble_continues_as_an_uninterrupted_one(tmp_path):
    cfg = compose([*TOY, "metrics=none", "ensemble.size=2"])
    whole = _weights(_run(cfg, tmp_path / "whole"))
    half = _run(cfg, tmp_path / "half", **{"trainer.max_steps": 50})  # mid-epoch: 125 batches per epoch
    resumed = _weights(_run(cfg, tmp_path / "resumed", ckpt_path=str(half)))
    assert whole.keys() == resumed.keys()
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)  # members' noise and data order restored


@pytest.mark.slow
def test_reproduce_ensemble_writes_the_table_from_the_members(tmp_path, capsys, monkeypatch):
    from ganlab.cli.reproduce import main

    monkeypatch.setenv("HYDRA_FULL_ERROR", "0")
    small = ["--set", "dataset.source.n=5000", "metrics.num_samples=500", "metrics.batch_size=500"]
    args = ["veegan_gan_ring", "--seeds", "2", "--ensemble", "--budget", "20", "--out", str(tmp_path), *small]
    assert main(args) == 0
    out = tmp_path / "budget20" / "veegan_gan_ring"
    report = json.loads((out / "reproduce.json").read_text())
    record = json.loads((out / "ensemble2" / "checkpoints" / "metrics.json").read_text())["evaluations"][-1]
    assert [r["seed"] for r in report["runs"]] == [0, 1] and all(r["ensemble"] == 2 for r in report["runs"])
    for run, member in zip(report["runs"], record["members"], strict=True):
        assert run["values"]["modes"] == member["metrics"]["modes"]  # member k's tag val/modes/member<k> = seed k
    rows = {r["metric"]: r for r in report["rows"]}
    assert rows["modes"]["n"] == 2 and rows["modes"]["mean"] == pytest.approx(record["metrics"]["modes_mean"])
    assert "(one seed ensemble of 2 members:" in (out / "reproduce.md").read_text()
    # an unfinished ensemble directory is refused, not overwritten
    (tmp_path / "x" / "veegan_gan_ring" / "ensemble3").mkdir(parents=True)
    assert main(["veegan_gan_ring", "--seeds", "3", "--ensemble", "--out", str(tmp_path / "x")]) == 2
    assert ("ensemble3 exists but did not finish and holds no checkpoints/last.ckpt to continue from; remove it to "
            "rerun the ensemble") in capsys.readouterr().err
