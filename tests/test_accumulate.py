"""Gradient accumulation: K micro-batches of N / K give the gradient of one batch of N (float64), and what cannot be
split exactly is refused in one line."""

from __future__ import annotations

import subprocess
import sys
from functools import partial

import pytest
import pytorch_lightning as pl
import torch
from conftest import TINY, TINY_MLP, cli_env
from torch import nn

from ganlab.augment import DiffAugment
from ganlab.data import GANDataModule, ImageData
from ganlab.ema import EMA
from ganlab.game import Alternating
from ganlab.losses import R1, GradientPenalty, Hinge, NonSaturating, Wasserstein
from ganlab.losses.generator_terms import FeatureMatching
from ganlab.losses.lecam import LeCam
from ganlab.module import GANModule
from ganlab.nets.dcgan import DCGANDiscriminator
from ganlab.nets.minibatch import MinibatchStddev
from ganlab.nets.mlp import MLPDiscriminator, MLPGenerator
from ganlab.nets.resnet import ResNetDiscriminator

RES, BATCH = 16, 16

NETS = {
    "mlp": lambda: MLPDiscriminator(resolution=RES, channels=1, hidden=[16, 8]),
    "dcgan_no_bn": lambda: DCGANDiscriminator(resolution=RES, channels=1, width=4, batchnorm=False),
    "resnet_sn": lambda: ResNetDiscriminator(resolution=RES, channels=1, width=4, spectral_norm=True),
    "dcgan_bn": lambda: DCGANDiscriminator(resolution=RES, channels=1, width=4, batchnorm=True),
}
LOSSES = {
    "nonsaturating": lambda: (NonSaturating(), {}),
    "hinge": lambda: (Hinge(), {}),
    "wgan_gp": lambda: (Wasserstein(), {"gp": GradientPenalty(weight=10.0)}),
    "r1": lambda: (NonSaturating(), {"r1": R1(gamma=10.0)}),
    "r1_lazy": lambda: (NonSaturating(), {"r1": R1(gamma=10.0, every=2)}),
}


class RecordGrads(pl.Callback):
    """The gradients each optimizer steps with, and the parameters after the last step."""

    def __init__(self) -> None:
        self.grads: list[dict[str, torch.Tensor]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        for m in pl_module.discriminator.modules():  # spectral norm's power-iteration vectors held fixed
            if type(m).__name__ == "_SpectralNorm":
                m.eval()

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self.grads.append({n: p.grad.detach().clone() for n, p in pl_module.named_parameters() if p.grad is not None})


def step_grads(net: str, loss: str, k: int, steps: int = 2, augment: bool = False) -> tuple[list[dict], GANModule]:
    """Gradients of ``steps`` training steps (D then G update each) with ``optim.accumulate=k``, in float64."""
    torch.manual_seed(0)
    adversarial, regs = LOSSES[loss]()
    module = GANModule(generator=MLPGenerator(z_dim=8, resolution=RES, channels=1, hidden=[16]),
                       discriminator=NETS[net](), loss=adversarial, g_optimizer=partial(torch.optim.Adam, lr=1e-2),
                       d_optimizer=partial(torch.optim.Adam, lr=1e-2), regularizers=regs, ema=EMA(0.9),
                       augment={"diffaugment": DiffAugment("color,translation,cutout")} if augment else None,
                       game=Alternating(), num_sample_images=4, accumulate=k)
    images = torch.rand(64, 1, RES, RES, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2 - 1
    data = GANDataModule(name="random", source=lambda: ImageData(images, None, "random"), resolution=RES,
                         channels=1, batch_size=BATCH, eval_samples=0)
    record = RecordGrads()
    trainer = pl.Trainer(max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0, accelerator="cpu", precision="64-true",
                         callbacks=[record])
    torch.manual_seed(1)  # the same noise stream for every K
    trainer.fit(module, datamodule=data)
    return record.grads, module


def max_difference(a: list[dict], b: list[dict]) -> float:
    assert len(a) == len(b) and all(x.keys() == y.keys() for x, y in zip(a, b, strict=True))
    return max((x[n] - y[n]).abs().max().item() for x, y in zip(a, b, strict=True) for n in x)


CASES = [("mlp", "nonsaturating"), ("dcgan_no_bn", "hinge"), ("resnet_sn", "wgan_gp"), ("mlp", "r1_lazy")]
EVERY = [(n, lo) for n in ("mlp", "dcgan_no_bn", "resnet_sn") for lo in LOSSES if (n, lo) not in CASES]


@pytest.mark.parametrize("net, loss", CASES)
def test_micro_batches_give_the_whole_batchs_gradient(net, loss):
    whole, a = step_grads(net, loss, 1)
    micro, b = step_grads(net, loss, 4)
    assert len(whole) == 4  # D, G, D, G: two steps, each gradient compared
    assert all(max(g.abs().max().item() for g in step.values()) > 1e-6 for step in whole)  # every update moves
    assert max_difference(whole, micro) < 1e-6
    for p, q in zip(a.generator_ema.parameters(), b.generator_ema.parameters(), strict=True):
        assert (p - q).abs().max() < 1e-6  # the EMA follows the same G


@pytest.mark.slow  # the rest of the grid of families x losses (12 fits); the default suite runs one per row
@pytest.mark.parametrize("net, loss", EVERY)
def test_micro_batches_give_the_whole_batchs_gradient_everywhere(net, loss):
    assert max_difference(step_grads(net, loss, 1)[0], step_grads(net, loss, 2)[0]) < 1e-6


def test_augmentation_is_drawn_once_and_split():
    whole, _ = step_grads("mlp", "nonsaturating", 1, augment=True)
    micro, _ = step_grads("mlp", "nonsaturating", 4, augment=True)
    assert max_difference(whole, micro) < 1e-6


def test_batchnorm_normalises_each_micro_batch_on_its_own():
    """Documented, not exact: a D with BatchNorm sees each micro-batch's own statistics ("ghost batches")."""
    assert max_difference(step_grads("dcgan_bn", "nonsaturating", 1, steps=1)[0],
                          step_grads("dcgan_bn", "nonsaturating", 4, steps=1)[0]) > 1e-4


def make(k: int, **kwargs) -> GANModule:
    base = {"generator": MLPGenerator(z_dim=8, resolution=8, channels=1, hidden=[8]),
            "discriminator": MLPDiscriminator(resolution=8, channels=1, hidden=[8]), "loss": NonSaturating(),
            "g_optimizer": partial(torch.optim.Adam, lr=1e-3), "d_optimizer": partial(torch.optim.Adam, lr=1e-3),
            "game": Alternating()}
    return GANModule(**{**base, **kwargs}, accumulate=k)


@pytest.mark.parametrize("kwargs, message", [
    ({}, None),
    ({"regularizers": {"lecam": LeCam()}}, "optim.accumulate=2 with regularizers.lecam (LeCam): its value is not"),
    ({"g_terms": {"fm": FeatureMatching()}}, "optim.accumulate=2 with g_terms.fm (FeatureMatching)"),
    ({"discriminator": MinibatchStddev(MLPDiscriminator(resolution=8, channels=1, hidden=[8]))},
     "optim.accumulate=2 with minibatch=MinibatchStddev"),
])
def test_what_micro_batches_cannot_split_is_refused(kwargs, message):
    if message is None:
        assert make(2).accumulate == 2
        return
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make(2, **kwargs)


@pytest.mark.parametrize("override, message", [
    ("optim.accumulate=0", "optim.accumulate=0; valid: an integer >= 1 (1: no accumulation; a divisor of "
                           "dataset.batch_size)"),
    ("optim.accumulate=3", "optim.accumulate=3 does not divide dataset.batch_size=128; valid: a divisor of it"),
    ("pack=2 optim.accumulate=128", "optim.accumulate=128: micro-batches of 1 samples do not split into packs"),
    ("game=unrolled optim.accumulate=2", "optim.accumulate=2 with game.unroll: the look-ahead D updates need"),
])
def test_bad_values_are_one_line_before_any_work(compose_cfg, override, message):
    from ganlab.config import ConfigError, validate

    with pytest.raises(ConfigError) as e:
        validate(compose_cfg(*override.split()))
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


@pytest.mark.slow  # two 2-process DDP runs (CPU time ~40 s)
def test_ddp_all_reduces_once_per_update_and_matches_no_accumulation(tmp_path):
    """trainer=ddp with optim.accumulate=2: the same bytes all-reduced per step as without accumulation (the first
    micro-batch's backward does not synchronise) and the same weights after 3 steps."""
    import json

    runs = {}
    for k in (1, 2):
        out = tmp_path / f"k{k}"
        cmd = [sys.executable, "-m", "ganlab.cli.train", *TINY_MLP, *TINY, "metrics=none", "trainer.accelerator=cpu",
               "callbacks.samples.every_n_steps=1000", "trainer=ddp", "trainer.devices=2", "trainer.max_steps=3",
               f"optim.accumulate={k}", "+callbacks.weights._target_=helpers.DumpWeights",
               f"+callbacks.weights.out={out / 'weights'}", "+callbacks.bytes._target_=ganlab.bench.AllreduceBytes",
               f"+callbacks.bytes.out={out / 'bytes'}", f"hydra.run.dir={out / 'run'}"]
        proc = subprocess.run(cmd, cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs[k] = (torch.load(out / "weights" / "rank0.pt", weights_only=True)["params"],
                   json.loads((out / "bytes" / "rank0.json").read_text())["steps"])
    (w1, bytes1), (w2, bytes2) = runs[1], runs[2]
    assert bytes1 == bytes2
    for name, value in w1.items():
        torch.testing.assert_close(w2[name], value, rtol=1e-4, atol=1e-5)


def test_module_keeps_no_sync_flag_between_backwards():
    """The DDP strategy reads ``sync_gradients``; it is True outside an accumulated update."""
    from ganlab.accumulate import syncing

    m = nn.Module()
    with syncing(m, last=False):
        assert m.sync_gradients is False
    assert m.sync_gradients is True
