"""Gradient accumulation (``optim.accumulate=K``): one D or G update from K micro-batches of the step's batch.

The batch of an update (``dataset.batch_size`` = N samples, as without accumulation) is split into K micro-batches
of N / K; each is run forward and backward on its own, with its loss divided by K, and the optimizer steps once on
the summed gradient. Everything random is drawn once for the whole batch and then split, so the gradient equals the
whole batch's for any loss that is a mean of per-sample terms (every adversarial loss in ganlab, R1, R2, the
gradient penalty, DRAGAN) and networks without batch statistics (tests/test_accumulate.py checks it in float64):

- z and the fakes' labels (the game draws them for N samples, as always);
- augmentation: applied to the whole batch of D inputs before the split; in the G step, G's outputs are made
  chunk by chunk without a graph, augmented as one batch, and the gradient that reaches them is sent back through
  G one micro-batch at a time (G runs forward twice; only one micro-batch's activations are held at once);
- regularizers' random numbers (``Regularizer.draw``: the gradient penalty's interpolation weights, DRAGAN's
  perturbed points) for the whole batch.

What cannot be split exactly is refused when the module is built (``check``): components whose value is not a
mean over samples (``accumulates = False``: feature matching, LeCam's running means, bCR's augmentation of its own),
minibatch layers in D (their statistics span the batch) and unrolled G steps. BatchNorm is allowed but normalises
each micro-batch by its own statistics ("ghost batches"), so its result depends on K (docs/configuration.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from ganlab.losses.regularizers import DiscriminatorOutputs
from ganlab.nets.freeze import frozen

# a ganlab.module.GANModule, which imports this module (its d_step / g_step hand accumulated updates here)
GANModule = Any


def check(module: GANModule, k: int) -> None:
    """One-line ValueError for a value or a combination that accumulation cannot split exactly."""
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"optim.accumulate={k}; valid: an integer >= 1 (1: no accumulation) that divides "
                         f"dataset.batch_size")
    if k == 1:
        return
    parts = [(f"regularizers.{n}", r) for n, r in module.regularizers.items()]
    parts += [(f"g_terms.{n}", t) for n, t in module.g_terms.items()]
    for key, part in parts:
        if not getattr(part, "accumulates", True):
            raise ValueError(f"optim.accumulate={k} with {key} ({type(part).__name__}): its value is not a mean over "
                             f"samples, so micro-batches would change it; valid: optim.accumulate=1 or without {key}")
    for m in module.discriminator.modules():
        if hasattr(m, "batch_features"):  # minibatch discrimination / stddev: statistics across the batch
            raise ValueError(f"optim.accumulate={k} with minibatch={type(m).__name__}: its features span the whole "
                             f"batch; valid: optim.accumulate=1 or minibatch=null")


def split(x: Tensor | None, k: int) -> list[Tensor | None]:
    """x [N, ...] -> K micro-batches [N / K, ...] (None -> K Nones)."""
    if x is None:
        return [None] * k
    if x.shape[0] % k:
        raise ValueError(f"optim.accumulate={k} does not divide this batch of {x.shape[0]} samples; valid: a "
                         f"divisor of dataset.batch_size")
    return list(x.chunk(k))


@contextmanager
def syncing(module: nn.Module, last: bool) -> Iterator[None]:
    """Under DDP (ganlab.ddp), all-reduce gradients only in the last micro-batch's backward (``no_sync`` before it):
    the earlier micro-batches' gradients accumulate locally and are averaged over ranks once, with the last."""
    module.sync_gradients = last
    try:
        yield
    finally:
        module.sync_gradients = True


def d_update(module: GANModule, real: Tensor, y: Tensor | None, fake: Tensor, y_fake: Tensor | None,
             log_now: bool, k: int) -> dict[str, Any]:
    """``GANModule.d_step`` from K micro-batches; the same stats (losses and logits of the whole batch)."""
    opt = module.optimizers()[1]
    real, fake = module.augmented(real), module.augmented(fake)  # one draw for the whole batch
    due = {name: reg for name, reg in module.regularizers.items() if module._d_steps % reg.every == 0}
    drawn = {name: reg.draw(real, fake) for name, reg in due.items() if hasattr(reg, "draw")}
    opt.zero_grad(set_to_none=True)  # also drops D grads left by the previous G step
    loss_sum, penalties, real_logits, fake_logits = 0.0, {}, [], []
    chunks = zip(split(real, k), split(y, k), split(fake, k), split(y_fake, k), strict=True)
    noise = {name: split(value, k) for name, value in drawn.items()}
    for i, (r, yr, f, yf) in enumerate(chunks):
        rl, rh = module.discriminate(r, yr)
        fl, fh = module.discriminate(f, yf)
        out = DiscriminatorOutputs(rl, fl, rh, fh)
        loss = module.loss.d_loss(rl, fl)
        for name, reg in due.items():
            extra = {"drawn": noise[name][i]} if name in noise else {}
            penalty = reg(module.discriminator, r, f, y_real=yr, y_fake=yf, out=out, **extra)
            if penalty is not None:  # lazy regularization: weight scaled by its interval, as in d_step
                loss = loss + reg.weight * reg.every * penalty
                penalties[name] = penalties.get(name, 0.0) + penalty.detach() / k
        with frozen(module.generator), syncing(module, i == k - 1):
            module.backward_loss(loss / k)
        loss_sum = loss_sum + loss.detach() / k
        real_logits.append(rl.detach())
        fake_logits.append(fl.detach())
    real_logits, fake_logits = torch.cat(real_logits), torch.cat(fake_logits)
    module.last_d_outputs = (real_logits, fake_logits)
    stats = {f"train/{name}": value for name, value in penalties.items()}
    if log_now:
        stats["train/grad_norm_d"] = module.grad_norm(module.discriminator)
    opt.step()
    for reg in module.regularizers.values():
        reg.after_d_step(module.discriminator)
    module._d_steps += 1
    for aug in module.augment_hooks.values():  # ADA: r_t from D's view of the whole (augmented) real batch
        aug.observe(real_logits)
        if log_now:
            stats.update(aug.stats())
    return {**stats, "train/d_loss": loss_sum, "train/d_real": real_logits.mean(), "train/d_fake": fake_logits.mean()}


UNROLL = ("optim.accumulate={k} with game.unroll: the look-ahead D updates need the whole batch; valid: "
          "optim.accumulate=1 or game=alternating")


def g_update(module: GANModule, real: Tensor, y_real: Tensor | None, z: Tensor, y_fake: Tensor | None,
             log_now: bool, k: int, judge: Any = None) -> dict[str, Any]:
    """``GANModule.g_step`` from K micro-batches of z (and of the paired reals); no game judge (refused in config)."""
    if judge is not None:  # ganlab.config refuses game.unroll with accumulation before any work
        raise ValueError(UNROLL.format(k=k))

    opt = module.optimizers()[0]
    pairs_real = getattr(module.loss, "pairs_real", False)
    zs, ys = split(z, k), split(y_fake, k)
    opt.zero_grad(set_to_none=True)
    if module.augment:  # augmentation drawn once: G's outputs of the whole batch, augmented together
        with torch.no_grad():
            plain = torch.cat([module.generator(zi, yi) for zi, yi in zip(zs, ys, strict=True)])
        plain.requires_grad_(True)
        augmented = module.augmented(plain)  # [N, ...], a graph from plain only
        fakes = [f.detach().requires_grad_(True) for f in split(augmented, k)]
    else:
        fakes = [None] * k
    # the reals after the fakes: the order of g_step's augmentation draws
    real_in = module.augmented(real) if module.g_terms or pairs_real else real
    replaced = any(t.replaces_adversarial for t in module.g_terms.values())
    rs, yrs = split(real_in, k), split(y_real, k)
    loss_sum, terms = 0.0, {}
    for i in range(k):
        fake = fakes[i] if module.augment else module.generator(zs[i], ys[i])
        with frozen(module.discriminator):  # gradients flow through D to G; D's weights get none
            fake_logits, fake_h = module.discriminate(fake, ys[i])
            real_logits = module.paired_real_logits(rs[i], yrs[i]) if pairs_real and not replaced else None
            loss = fake_logits.new_zeros(()) if replaced else module.loss.g_loss(fake_logits, real_logits)
            for name, term in module.g_terms.items():
                value = term(module.discriminator, rs[i], fake, generator=module.generator, y_real=yrs[i],
                             y_fake=ys[i], fake_features=fake_h)
                loss = loss + term.weight * value
                terms[f"train/{name}"] = terms.get(f"train/{name}", 0.0) + value.detach() / k
            with syncing(module, i == k - 1 and not module.augment):
                module.backward_loss(loss / k)  # augmented: fills fakes[i].grad (and G terms' direct gradients)
        loss_sum = loss_sum + loss.detach() / k
    if module.augment:  # through the augmentation once, then through G one micro-batch at a time
        (grad,) = torch.autograd.grad(augmented, plain, torch.cat([f.grad for f in fakes]))
        for i, g_out in enumerate(split(grad, k)):
            with frozen(module.discriminator), syncing(module, i == k - 1):  # <G(z_i), dL/dG(z_i)>: G's gradient
                module.backward_loss((module.generator(zs[i], ys[i]) * g_out).sum())
    stats = {**terms, "train/g_loss": loss_sum}
    if log_now:
        stats["train/grad_norm_g"] = module.grad_norm(module.generator)
    opt.step()
    for term in module.g_terms.values():
        term.after_g_step(module.generator)
    return stats
