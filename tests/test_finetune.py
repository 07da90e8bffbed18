"""Fine-tuning: init_from copies G, D and EMA tensors (or refuses in one line), FreezeD keeps D's first blocks fixed."""

from __future__ import annotations

import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
import torch
from conftest import TINY, TINY_MLP, cli_env
from test_module import fit

from ganlab.checkpoint import CheckpointError
from ganlab.ema import EMA
from ganlab.finetune import apply_init, load_init
from ganlab.game import Alternating
from ganlab.losses import NonSaturating
from ganlab.module import GANModule
from ganlab.nets.dcgan import DCGANDiscriminator
from ganlab.nets.freeze import d_blocks, freeze_blocks
from ganlab.nets.maxout import MaxoutDiscriminator
from ganlab.nets.mlp import MLPDiscriminator, MLPGenerator
from ganlab.nets.r3gan import R3GANDiscriminator
from ganlab.nets.resnet import ResNetDiscriminator


def module(seed: int, d_hidden=(16, 8), ema: bool = True, d_freeze: int = 0) -> GANModule:
    torch.manual_seed(seed)
    d = freeze_blocks(MLPDiscriminator(resolution=8, channels=1, hidden=list(d_hidden)), d_freeze)
    return GANModule(generator=MLPGenerator(z_dim=8, resolution=8, channels=1, hidden=[16]), discriminator=d,
                     loss=NonSaturating(), g_optimizer=partial(torch.optim.Adam, lr=1e-2),
                     d_optimizer=partial(torch.optim.Adam, lr=1e-2), ema=EMA(0.9) if ema else None,
                     num_sample_images=4, sample_seed=seed, game=Alternating())


def save(m: GANModule, path: Path) -> Path:
    """A checkpoint in ganlab-train's layout (what ganlab.checkpoint.read_checkpoint accepts)."""
    torch.save({"state_dict": m.state_dict(), "global_step": 7,
                "ganlab": {"config": {"generator": {"_target_": "ganlab.nets.mlp.MLPGenerator"}}}}, path)
    return path


def test_init_from_copies_networks_and_keeps_the_new_runs_own_state(tmp_path):
    source, target = module(0), module(1)
    with torch.no_grad():  # make the EMA differ from G, so copying G into it would show
        for p in source.generator_ema.parameters():
            p.add_(1.0)
    report = load_init(target, save(source, tmp_path / "a.ckpt"))
    mine, theirs = target.state_dict(), source.state_dict()
    for key in theirs:
        if key.startswith(("generator.", "discriminator.", "generator_ema.")):
            assert torch.equal(mine[key], theirs[key]), key
    # the fixed sample noise is the new run's (seeded by its own seed), not the checkpoint's
    assert not torch.equal(target.sample_z, source.sample_z)
    assert report.skipped == {} and not report.ema_from_generator
    assert len(report.loaded) == sum(k.startswith(("generator", "discriminator")) for k in theirs)


def test_an_ema_the_checkpoint_lacks_starts_from_its_generator(tmp_path):
    source, target = module(0, ema=False), module(1, ema=True)
    report = load_init(target, save(source, tmp_path / "a.ckpt"))
    assert report.ema_from_generator
    for (name, p), q in zip(target.generator_ema.named_parameters(), source.generator.parameters(), strict=True):
        assert torch.equal(p, q), name
    # and an EMA kept by the checkpoint but not by this run is simply not used
    report = load_init(module(2, ema=False), save(module(3, ema=True), tmp_path / "b.ckpt"))
    assert report.skipped == {}


def test_a_network_that_does_not_fit_is_refused_in_one_line(tmp_path):
    path = save(module(0, d_hidden=(16, 8)), tmp_path / "a.ckpt")
    target = module(1, d_hidden=(12, 8))
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(CheckpointError) as e:
        load_init(target, path)
    assert str(e.value) == (
        f"init_from={path} does not fit this run: discriminator.net.1.weight has shape (16, 64) in the checkpoint, "
        "(12, 64) in this run (first of 3 mismatches); valid: a checkpoint of the same networks at the same "
        "resolution, or init_partial=true to copy what fits")
    assert all(torch.equal(v, before[k]) for k, v in target.state_dict().items())  # nothing was copied
    with pytest.raises(CheckpointError, match="is not a file"):
        load_init(target, tmp_path / "missing.ckpt")


def test_a_partial_load_copies_what_fits_and_names_every_skipped_key(tmp_path):
    source = module(0, d_hidden=(16, 8))
    target = module(1, d_hidden=(12, 8))
    fresh = {k: v.clone() for k, v in target.state_dict().items()}
    report = apply_init(target, str(save(source, tmp_path / "a.ckpt")), partial=True, ckpt_path=None,
                        run_dir=tmp_path / "run")
    # D's first layer (16 vs 12 units) and the layer after it (16 vs 12 inputs) do not fit
    assert report.skipped == {
        "discriminator.net.1.bias": "has shape (16,) in the checkpoint, (12,) in this run",
        "discriminator.net.1.weight": "has shape (16, 64) in the checkpoint, (12, 64) in this run",
        "discriminator.net.3.weight": "has shape (8, 16) in the checkpoint, (8, 12) in this run",
    }
    state, theirs = target.state_dict(), source.state_dict()
    for key, value in state.items():
        if key in report.skipped or not key.startswith(("generator", "discriminator")):
            assert torch.equal(value, fresh[key]), key  # left at the new run's value
        else:
            assert torch.equal(value, theirs[key]), key
    written = (tmp_path / "run" / "init_from.json").read_text()
    assert all(k in written for k in report.skipped)


def test_resuming_does_not_read_init_from_again(tmp_path):
    target = module(1)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    assert apply_init(target, str(tmp_path / "missing.ckpt"), False, ckpt_path="last.ckpt") is None
    assert all(torch.equal(v, before[k]) for k, v in target.state_dict().items())


FAMILIES = {
    "mlp": (lambda: MLPDiscriminator(resolution=8, channels=1, hidden=[16, 8, 4]), 3),
    "maxout": (lambda: MaxoutDiscriminator(resolution=8, channels=1, hidden=[8, 8], pieces=2), 2),
    "dcgan": (lambda: DCGANDiscriminator(resolution=32, channels=1, width=4), 3),
    "resnet": (lambda: ResNetDiscriminator(resolution=16, channels=1, width=4), 3),
    "r3gan": (lambda: R3GANDiscriminator(resolution=16, channels=1, widths=[8, 8, 8], group_size=8), 3),
}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_blocks_partition_the_trunk_from_the_input_on(family):
    make, count = FAMILIES[family]
    torch.manual_seed(0)
    d = make()
    blocks = d_blocks(d)
    assert len(blocks) == count
    ids = [[id(p) for p in b.parameters()] for b in blocks]
    assert all(ids) and len({i for b in ids for i in b}) == sum(map(len, ids))  # non-empty, disjoint
    head = {id(p) for p in d.parameters()} - {i for b in ids for i in b}
    assert head  # the head belongs to no block
    # the first block is the one that sees the input: changing it changes D's output for every input,
    # freezing it leaves exactly the parameters of the other blocks and the head trainable
    freeze_blocks(d, 1)
    trainable = {id(p) for p in d.parameters() if p.requires_grad}
    assert trainable.isdisjoint(ids[0]) and set(ids[1]) <= trainable and head <= trainable
    with pytest.raises(ValueError, match=rf"freeze.d_blocks={count + 1}: .* has {count} blocks; valid: 0..{count}"):
        freeze_blocks(make(), count + 1)


def test_freeze_rejects_bad_values():
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match=rf"freeze.d_blocks={bad}; valid: an integer >= 0"):
            freeze_blocks(MLPDiscriminator(resolution=8, channels=1, hidden=[4]), bad)


def test_frozen_blocks_do_not_move_in_training_and_the_rest_does():
    m = module(0, d_hidden=(16, 8), ema=False, d_freeze=1)
    first = [p.detach().clone() for p in m.discriminator.net[1].parameters()]
    later = [p.detach().clone() for p in m.discriminator.net[3].parameters()]
    fit(m, 3)
    assert all(torch.equal(a, b) for a, b in zip(first, m.discriminator.net[1].parameters(), strict=True))
    assert all(not torch.equal(a, b) for a, b in zip(later, m.discriminator.net[3].parameters(), strict=True))
    assert all(p.requires_grad for p in m.discriminator.net[3].parameters())  # G steps' freezing restored them


def test_train_refuses_another_resolutions_checkpoint_before_training(tmp_path, compose_cfg):
    from ganlab.assembly import build_module
    from ganlab.cli.train import train
    from ganlab.config import ConfigError

    ckpt = save(build_module(compose_cfg(*TINY_MLP, "dataset.resolution=28")), tmp_path / "r28.ckpt")
    out = tmp_path / "run"
    with pytest.raises(ConfigError) as e:
        train(compose_cfg(*TINY_MLP, *TINY, f"init_from={ckpt}", f"paths.output_dir={out}", "~logger"))
    assert str(e.value).startswith(f"init_from={ckpt} does not fit this run: generator.net.4.weight has shape "
                                   "(784, 64) in the checkpoint, (1024, 64) in this run")
    assert not out.exists()


@pytest.mark.slow  # a ganlab-train process; the in-process test above covers the refusal by default
def test_ganlab_train_refuses_another_architectures_checkpoint_and_writes_nothing(tmp_path, compose_cfg):
    from ganlab.assembly import build_module

    other = build_module(compose_cfg(*TINY_MLP, "discriminator.hidden=[48,32]"))  # another D width
    ckpt = save(other, tmp_path / "other.ckpt")
    run = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "ganlab.cli.train", *TINY_MLP, *TINY, f"init_from={ckpt}",
                           f"hydra.run.dir={run}"], cwd=tmp_path, env=cli_env(), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"ganlab-train: error: init_from={ckpt} does not fit this run: discriminator.net.1.weight has shape "
        "(48, 1024) in the checkpoint, (64, 1024) in this run (first of 3 mismatches); valid: a checkpoint of the "
        "same networks at the same resolution, or init_partial=true to copy what fits")
    assert not (run / "checkpoints").exists() and not (run / "init_from.json").exists()
