"""GANDDPStrategy (trainer=ddp): G and D synchronised separately, over processes and over nodes."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import TINY, TINY_MLP, cli_env
from hydra.utils import instantiate
from torch import nn

from ganlab.ddp import GANDDPStrategy, check_networks

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed not built")
FAST = [*TINY_MLP, *TINY, "metrics=none", "callbacks.samples.every_n_steps=1000", "trainer.accelerator=cpu"]


def train(*overrides: str, cwd: Path, env: dict | None = None, base: list[str] = FAST) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "ganlab.cli.train", *base, *overrides]
    proc = subprocess.Popen(cmd, cwd=cwd, env=env or cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    return proc


def finish(proc: subprocess.Popen, check: bool = True) -> tuple[int, str]:
    out, err = proc.communicate(timeout=600)
    if check and proc.returncode:
        raise AssertionError(f"ganlab-train failed ({proc.returncode}):\n{err[-4000:]}")
    return proc.returncode, out + err


def numel(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_each_update_all_reduces_only_its_network(compose_cfg, tmp_path):
    grads, sent = tmp_path / "grads", tmp_path / "bytes"
    finish(train("trainer=ddp", "trainer.devices=2", "game.n_critic=2", "trainer.max_steps=3",
                 "+callbacks.grads._target_=helpers.RecordGrads", f"+callbacks.grads.out={grads}",
                 "+callbacks.bytes._target_=ganlab.tools.bench.AllreduceBytes", f"+callbacks.bytes.out={sent}",
                 cwd=tmp_path))
    r0, r1 = (torch.load(grads / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert [r["net"] for r in r0] == [r["net"] for r in r1] == ["discriminator", "discriminator", "generator"] * 3
    last_g = None
    for a, b in zip(r0, r1, strict=True):
        assert set(a["synced"]) == set(a["local"]) == set(b["local"])  # every parameter got a local gradient
        for name, synced in a["synced"].items():
            assert not torch.equal(a["local"][name], b["local"][name])  # the ranks saw different data
            assert torch.equal(synced, b["synced"][name])  # both ranks step with the same gradient ...
            mean = (a["local"][name] + b["local"][name]) / 2  # ... the mean of their local ones
            torch.testing.assert_close(synced, mean, rtol=1e-5, atol=1e-7)
        if a["net"] == "generator":
            last_g = a["synced"]
        else:  # a D update leaves G's gradients as the last G update left them (none before the first)
            for name, g in a["other"].items():
                assert (g is None) if last_g is None else torch.equal(g, last_g[name]), name
    # bytes all-reduced per step: D's parameters (float32) per D update, G's per G update, nothing else
    cfg = compose_cfg(*TINY_MLP)
    d_bytes, g_bytes = 4 * numel(instantiate(cfg.discriminator)), 4 * numel(instantiate(cfg.generator))
    counts = json.loads((sent / "rank0.json").read_text())
    assert counts["strategy"] == "GANDDPStrategy" and counts["world_size"] == 2
    assert counts["steps"] == [{"generator": g_bytes, "discriminator": 2 * d_bytes}] * 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # two processes (CPU time ~15 s): the default suite keeps the per-network sync test
def test_two_nodes_of_one_process_end_with_identical_weights(tmp_path):
    dump, port = tmp_path / "weights", _free_port()
    procs = []
    for node in (0, 1):  # two "nodes" on localhost, each launched on its own as on a cluster
        env = dict(cli_env(), NODE_RANK=str(node), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        env.pop("LOCAL_RANK", None)
        (tmp_path / f"node{node}").mkdir()
        procs.append(train("trainer=ddp", "trainer.num_nodes=2", "trainer.devices=1", "trainer.max_steps=4",
                           "+callbacks.dump._target_=helpers.DumpWeights", f"+callbacks.dump.out={dump}",
                           f"hydra.run.dir={tmp_path}/node{node}/run", cwd=tmp_path / f"node{node}", env=env))
    for proc in procs:
        finish(proc)
    r0, r1 = (torch.load(dump / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert r0["global_step"] == r1["global_step"] == 4
    assert any(n.startswith("discriminator.") for n in r0["params"]) and any(n.startswith("generator.")
                                                                             for n in r0["params"])
    for name, value in r0["params"].items():
        assert torch.equal(value, r1["params"][name]), f"{name} differs between nodes"
    # only global rank 0 (node 0) writes checkpoints
    assert (tmp_path / "node0/run/checkpoints/last.ckpt").exists()
    assert not (tmp_path / "node1/run/checkpoints").exists()


@pytest.mark.slow  # two processes (CPU time ~15 s): the default suite keeps the per-network sync test
def test_a_network_with_an_unused_weight_stops_at_its_first_update(tmp_path):
    code, out = finish(train("trainer=ddp", "trainer.devices=1", "trainer.max_steps=2",
                             "discriminator._target_=helpers.DiscriminatorWithUnusedWeight", cwd=tmp_path),
                       check=False)
    assert code != 0
    assert ("1 of the discriminator's 7 parameters got no gradient in this backward (unused)" in out
            and "trainer=ddp_whole" in out), out[-3000:]


@pytest.mark.parametrize("key, value", [("find_unused_parameters", "true"), ("static_graph", "true"),
                                        ("model_averaging_period", "4")])
def test_settings_the_per_network_wrappers_cannot_honour_are_refused(compose_cfg, key, value):
    cfg = compose_cfg("trainer=ddp", f"+trainer.strategy.{key}={value}")
    with pytest.raises(Exception, match=rf"trainer\.strategy\.{key}.*valid: .*trainer=ddp_whole"):
        instantiate(cfg.trainer.strategy)


def test_parameters_outside_the_two_networks_are_refused():
    module = nn.Module()
    module.generator, module.discriminator = nn.Linear(2, 2), nn.Linear(2, 1)
    check_networks(module)  # G's and D's parameters only: accepted
    module.loss = nn.Linear(1, 1)
    with pytest.raises(ValueError, match=r"outside them: loss\.weight, loss\.bias; valid: .*trainer=ddp_whole"):
        check_networks(module)
    del module.generator
    with pytest.raises(ValueError, match=r"has no generator"):
        check_networks(module)


def test_ddp_config_builds_the_per_network_strategy(compose_cfg):
    strategy = instantiate(compose_cfg("trainer=ddp").trainer.strategy)
    assert isinstance(strategy, GANDDPStrategy) and strategy.broadcast_buffers
    whole = instantiate(compose_cfg("trainer=ddp_whole").trainer.strategy)
    assert not isinstance(whole, GANDDPStrategy) and whole._ddp_kwargs == {"find_unused_parameters": True}


@pytest.mark.slow
@pytest.mark.parametrize("combo", [
    # BatchNorm in G and D, R1 through autograd.grad, EMA of G: FID under DDP equals rank 0's checkpoint's
    ["generator=dcgan", "discriminator=dcgan", "generator.width=8", "discriminator.width=8", "+regularizers=r1",
     "ema.decay=0.9"],
    ["game=unrolled", "game.unroll.steps=2"],  # G's loss through a functional copy of D
    ["game=simultaneous", "+regularizers=gp", "discriminator.spectral_norm=true"],
], ids=["dcgan_bn_r1_ema", "unrolled", "simultaneous_gp_sn"])
def test_games_and_regularizers_under_per_network_ddp(combo, tmp_path):
    from test_train_cli import events  # noqa: PLC0415 (the TensorBoard reader of the CLI tests)

    from ganlab.checkpoint import load_generator
    from ganlab.data.mnist5k import load_mnist5k
    from ganlab.metrics.extraction import extract, generated_batches, real_batches
    from ganlab.metrics.extractors.digits import DigitFeatures
    from ganlab.metrics.scoring.suite import compute_metrics

    dump, run = tmp_path / "weights", tmp_path / "run"
    finish(train("trainer=ddp", "trainer.devices=2", "trainer.max_steps=4", "metrics=fid", "metrics.every_n_steps=4",
                 "metrics.num_samples=200", "metrics.batch_size=100", "+callbacks.dump._target_=helpers.DumpWeights",
                 f"+callbacks.dump.out={dump}", f"hydra.run.dir={run}", *combo, cwd=tmp_path,
                 base=[o for o in FAST if "generator=dcgan" not in combo or o not in TINY_MLP]))
    r0, r1 = (torch.load(dump / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    for name, value in r0["params"].items():
        assert torch.equal(value, r1["params"][name]), f"{name} differs between ranks"
    ddp_fid = [e.value for e in events(run).Scalars("val/fid") if e.step == 4][0]
    loaded = load_generator(run / "checkpoints" / "last.ckpt")
    real = extract(DigitFeatures(), real_batches(load_mnist5k(split="train").x, 500))["features"]
    fake = extract(DigitFeatures(), generated_batches(loaded.generator, 200, 100))
    assert ddp_fid == pytest.approx(compute_metrics(real, fake, ["fid"])["fid"], rel=1e-4)


@pytest.mark.slow  # five processes on the CPU (about a minute on two cores)
def test_default_evaluation_on_five_processes_equals_one_process(tmp_path):
    """2,000 samples in batches of 500 are 4 batches for 5 ranks: each rank takes 400, and val/fid is the
    single-process value of the same checkpoint."""
    from test_train_cli import events  # noqa: PLC0415 (the TensorBoard reader of the CLI tests)

    from ganlab.checkpoint import load_generator
    from ganlab.data.mnist5k import load_mnist5k
    from ganlab.metrics.extraction import extract, generated_batches, real_batches
    from ganlab.metrics.extractors.digits import DigitFeatures
    from ganlab.metrics.scoring.suite import compute_metrics

    run = tmp_path / "run"
    base = [o for o in FAST if not o.startswith(("metrics.", "metrics="))]
    finish(train("trainer=ddp", "trainer.devices=5", "trainer.max_steps=2", "metrics=fid", "metrics.every_n_steps=2",
                 "dataset.batch_size=16", "health=none", f"hydra.run.dir={run}", cwd=tmp_path, base=base))
    ddp_fid = [e.value for e in events(run).Scalars("val/fid") if e.step == 2][0]
    loaded = load_generator(run / "checkpoints" / "last.ckpt")
    real = extract(DigitFeatures(), real_batches(load_mnist5k(split="train").x, 500))["features"]
    fake = extract(DigitFeatures(), generated_batches(loaded.generator, 2000, 500))
    assert ddp_fid == pytest.approx(compute_metrics(real, fake, ["fid"])["fid"], rel=1e-4)
