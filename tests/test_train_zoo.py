"""The zoo from the command line: combinations of nets, regularizers and tricks train; every preset runs.

In process, a few steps each, tiny widths; a finite training-time FID shows the whole loop ran
(D and G steps, the regularizers and terms, evaluation of the EMA or trained generator).
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import TINY, cli_env
from PIL import Image
from test_train_cli import events

from ganlab.checkpoint import load_generator, read_checkpoint
from ganlab.cli.train import train
from ganlab.config import CONFIG_DIR

QUIET = ["~logger", "~callbacks.model_checkpoint", "~callbacks.samples", "+trainer.enable_checkpointing=false",
         "trainer.max_steps=3", "metrics.every_n_steps=3"]
RESNET = ["generator=resnet", "discriminator=resnet", "generator.width=16", "discriminator.width=16"]
DCGAN = ["generator=dcgan", "discriminator=dcgan", "generator.width=8", "discriminator.width=8"]
MLP = ["generator.hidden=[32,64]", "discriminator.hidden=[64,32]"]

COMBOS = {
    # the example: SNGAN nets, hinge, lazy-capable R1, EMA, DiffAugment
    "resnet-hinge-r1-ema-diffaugment": [*RESNET, "loss=hinge", "+regularizers=r1", "ema.decay=0.999",
                                        "augment=diffaugment"],
    "resnet-attention-sn-g": [*RESNET, "generator.attention=[16]", "discriminator.attention=[16]",
                              "generator.spectral_norm=true"],
    "dcgan-dragan-bcr-lazy": [*DCGAN, "+regularizers=[dragan,bcr]", "regularizers.dragan.every=2"],
    "dcgan-r2-instance-noise-stddev": [*DCGAN, "+regularizers=r2", "augment=instance_noise", "minibatch=stddev"],
    "improved-techniques": [*MLP, "+g_terms=[feature_matching,historical_averaging]", "minibatch=discrimination",
                            "loss.real_target=0.9", "+regularizers=historical_averaging"],
    "dcgan-sn-d-wgan-gp-ema-start": [*DCGAN, "loss=wgan_gp", "discriminator.batchnorm=false",
                                     "discriminator.spectral_norm=true", "ema.decay=0.9", "ema.start=2"],
    "projection-resnet": [*RESNET, "conditional=projection", "loss=hinge"],
    "acgan-dcgan": [*DCGAN, "conditional=acgan"],
    "projection-mlp-diffaugment": [*MLP, "conditional=projection", "augment=[diffaugment,instance_noise]"],
    "pacgan-dcgan": [*DCGAN, "pack=2"],
    "unrolled-mlp": [*MLP, "game=unrolled", "game.unroll.steps=2"],
    "unrolled-first-order-rmsprop": [*MLP, "game=unrolled", "game.unroll.steps=2", "game.unroll.second_order=false",
                                     "optim=rmsprop"],
}


@pytest.mark.parametrize("name", COMBOS)
def test_combination_trains(compose_cfg, name):
    cfg = compose_cfg(*TINY, *QUIET, *COMBOS[name])
    fid = train(cfg)
    assert fid is not None and math.isfinite(fid) and fid > 0


EXPERIMENTS = sorted(p.stem for p in (Path(CONFIG_DIR) / "experiment").glob("*.yaml"))
# presets whose code path another preset in the default suite already runs (the CIFAR-10 presets run
# on mnist5k here, i.e. as their mnist5k variants; PacGAN/VEEGAN rows differ only in data or packing):
# they run with `pytest -m slow`
DUPLICATE_PRESETS = {
    "dcgan_cifar10", "lsgan_cifar10", "wgan_cifar10", "wgan_gp_cifar10", "sngan_cifar10", "cgan_pd_cifar10",
    "pacgan_gan_ring", "pacgan2_ring", "pacgan4_ring", "pacgan2_grid", "pacgan3_grid", "pacgan4_grid",
    "veegan_gan_grid", "veegan_unrolled_ring", "stacked_mnist5k", "r3gan_stacked_mnist5k",
}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in DUPLICATE_PRESETS else n
                                  for n in EXPERIMENTS])
def test_every_preset_runs_a_few_steps(compose_cfg, name):
    # CIFAR-10 presets need files that are not here: the same preset on mnist5k (shapes follow the data)
    data = ["dataset=mnist5k"] if name.endswith("_cifar10") else []
    preset = compose_cfg(f"experiment={name}")
    widths = [f"{net}.width=8" for net in ("generator", "discriminator") if preset[net].get("width")]
    # nets with a channel count per stage (R3GAN): 8 channels in every stage, the same number of stages
    widths += [o for net in ("generator", "discriminator") if preset[net].get("widths")
               for o in (f"{net}.widths=[{','.join(['8'] * len(preset[net].widths))}]", f"{net}.group_size=8")]
    cfg = compose_cfg(f"experiment={name}", *data, *widths, *TINY, *QUIET, "metrics.num_samples=200",
                      "dataset.batch_size=24")  # divisible by every PacGAN packing (2, 3, 4)
    if name.endswith("_cifar10"):
        assert cfg.published.source and cfg.published.protocol  # the number travels with its protocol
    value = train(cfg)
    assert value is not None
    # after 3 steps no toy point may be near a mode yet: reverse KL is then undefined (NaN)
    assert math.isfinite(value) or cfg.optimized_metric == "val/reverse_kl"



@pytest.mark.parametrize("name", [n for n in EXPERIMENTS if n.endswith("_cifar10")])
def test_cifar10_presets_carry_their_protocol(compose_cfg, name):
    cfg = compose_cfg(f"experiment={name}")
    assert cfg.dataset.name == "cifar10" and cfg.published.source and cfg.published.protocol

def test_ema_checkpoint_eval_and_conditional_sampling(compose_cfg, tmp_path):
    """EMA weights go to the checkpoint, ganlab-eval uses them; ganlab-sample draws a chosen class."""
    cfg = compose_cfg(*TINY, *MLP, "conditional=projection", "ema.decay=0.5", "~logger", "trainer.max_steps=4")
    train(cfg)
    ckpt = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    state = read_checkpoint(ckpt)["state_dict"]
    ema_keys = [k for k in state if k.startswith("generator_ema.")]
    assert ema_keys and len(ema_keys) == len([k for k in state if k.startswith("generator.")])
    loaded = load_generator(ckpt)
    assert loaded.ema and loaded.num_classes == 10
    key = ema_keys[0]
    torch.testing.assert_close(dict(loaded.generator.state_dict())[key[len("generator_ema."):]], state[key])
    # the average differs from the trained weights after a few steps at decay 0.5
    assert not torch.equal(state[key], state["generator." + key[len("generator_ema."):]])
    out = tmp_path / "three.png"
    proc = subprocess.run([sys.executable, "-m", "ganlab.cli.sample", f"ckpt={ckpt}", f"out={out}", "class=3", "n=16",
                           "nrow=4", "interpolation.rows=0", "files=false"], cwd=tmp_path, env=cli_env(),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert Image.open(out).size[0] > 4 * 32


def test_regularizer_and_term_values_are_logged(compose_cfg, tmp_path):
    cfg = compose_cfg(*TINY, *MLP, "+regularizers=r1", "+g_terms=feature_matching", "trainer.max_steps=2",
                      "callbacks.samples.every_n_steps=100", "metrics=none")
    train(cfg)
    tags = set(events(Path(cfg.paths.output_dir)).Tags()["scalars"])
    assert {"train/r1", "train/feature_matching", "train/g_loss", "train/d_loss"} <= tags


@pytest.mark.parametrize(("override", "message"), [
    ("ema.decay=2", "ema.decay=2; valid: a number in [0, 1)"),
    ("game=unrolled game.unroll.steps=0", "game.unroll.steps=0; valid: an integer >= 1"),
    ("game=unrolled game.unroll.steps=2 +optim.d.amsgrad=true",
     "game.unroll supports Adam without amsgrad, maximize; optim.d sets amsgrad"),
    ("pack=3", "dataset.batch_size=128 does not split into packs of pack=3"),
])
def test_bad_zoo_values_are_one_line_errors(tmp_path, override, message):
    proc = subprocess.run([sys.executable, "-m", "ganlab.cli.train", *override.split(), f"paths.output_dir={tmp_path}"],
                          env=cli_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert message in proc.stderr and not (tmp_path / "checkpoints").exists()
