"""Unrolled GAN (Metz et al. 2017): G's loss is taken against D after k look-ahead D updates.

The look-ahead runs on a functional copy of D's parameters (``torch.func.functional_call``), with
the D optimizer's own update rule and state, so D's real weights and optimizer state are never
touched; with ``create_graph=True`` G's gradient flows through the k updates (the paper's
second-order term). The optimizer steps are written out here because torch's optimizers update
in place under no_grad and cannot be differentiated through.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call

from ganlab.losses.adversarial import AdversarialLoss

# (real, real labels, fake, fake labels) for one look-ahead D update
LookaheadBatch = tuple[Tensor, Tensor | None, Tensor, Tensor | None]


def _adam(p: Tensor, g: Tensor, state: dict, group: dict) -> Tensor:
    b1, b2 = group["betas"]
    g = g + group["weight_decay"] * p if group["weight_decay"] else g
    t = state["step"] = state.get("step", 0) + 1
    m = state["exp_avg"] = b1 * state.get("exp_avg", torch.zeros_like(p)) + (1 - b1) * g
    v = state["exp_avg_sq"] = b2 * state.get("exp_avg_sq", torch.zeros_like(p)) + (1 - b2) * g * g
    # + 1e-30 inside the root: d sqrt(v)/dv is infinite where a gradient entry is exactly 0
    v_hat = v / (1 - b2**t) + 1e-30
    return p - group["lr"] * (m / (1 - b1**t)) / (v_hat.sqrt() + group["eps"])


def _rmsprop(p: Tensor, g: Tensor, state: dict, group: dict) -> Tensor:
    g = g + group["weight_decay"] * p if group["weight_decay"] else g
    a = group["alpha"]
    v = state["square_avg"] = a * state.get("square_avg", torch.zeros_like(p)) + (1 - a) * g * g
    return p - group["lr"] * g / ((v + 1e-30).sqrt() + group["eps"])


def _sgd(p: Tensor, g: Tensor, state: dict, group: dict) -> Tensor:
    g = g + group["weight_decay"] * p if group["weight_decay"] else g
    if group["momentum"]:
        buf = state.get("momentum_buffer")
        g = state["momentum_buffer"] = g if buf is None else group["momentum"] * buf + g
    return p - group["lr"] * g


_UPDATES = {torch.optim.Adam: _adam, torch.optim.RMSprop: _rmsprop, torch.optim.SGD: _sgd}
# options the written-out updates above do not implement
_UNSUPPORTED = {torch.optim.Adam: ("amsgrad", "maximize"), torch.optim.RMSprop: ("momentum", "centered", "maximize"),
                torch.optim.SGD: ("nesterov", "dampening", "maximize")}


def check_optimizer(optimizer: torch.optim.Optimizer) -> None:
    """Raise a one-line ValueError unless the look-ahead can replay ``optimizer``'s update rule."""
    optimizer = getattr(optimizer, "optimizer", optimizer)  # a LightningOptimizer wraps the torch one
    kind = type(optimizer)
    if kind not in _UPDATES:
        raise ValueError(f"game.unroll needs D's optimizer (optim.d) to be one of "
                         f"{', '.join(c.__name__ for c in _UPDATES)}; got {kind.__name__}")
    for group in optimizer.param_groups:
        used = [option for option in _UNSUPPORTED[kind] if group.get(option)]
        if used:
            raise ValueError(f"game.unroll supports {kind.__name__} without {', '.join(_UNSUPPORTED[kind])}; "
                             f"optim.d sets {', '.join(used)}")


def unrolled_parameters(discriminator: nn.Module, loss: AdversarialLoss, optimizer: torch.optim.Optimizer,
                        batches: Sequence[LookaheadBatch], create_graph: bool = True
                        ) -> Callable[[Tensor, Tensor | None], Tensor]:
    """D after ``len(batches)`` look-ahead updates, as a function ``d(x, y) -> logits [N]``.

    Args:
        discriminator: D; its parameters, buffers and ``optimizer``'s state are left unchanged.
        loss: the adversarial loss; each look-ahead step descends ``loss.d_loss`` (no regularizers).
        optimizer: D's optimizer (Adam, RMSprop or SGD); its hyperparameters and moments are used.
        batches: one (real, y_real, fake, y_fake) per look-ahead step; fakes may carry G's graph.
        create_graph: keep the graph of each update so gradients reach G through it (second order).
    """
    optimizer = getattr(optimizer, "optimizer", optimizer)  # a LightningOptimizer wraps the torch one
    check_optimizer(optimizer)
    update = _UPDATES[type(optimizer)]
    group_of = {p: g for g in optimizer.param_groups for p in g["params"]}
    named = list(discriminator.named_parameters())
    params = {n: p.detach().requires_grad_(True) for n, p in named}  # leaves: D's weights get no gradient
    states = {n: {k: (float(v) if k == "step" else v.detach()) for k, v in optimizer.state.get(p, {}).items()}
              for n, p in named}
    buffers = {n: b.clone() for n, b in discriminator.named_buffers()}  # BN / power-iteration state stays put

    def d(x: Tensor, y: Tensor | None, weights: dict[str, Tensor]) -> Tensor:
        return functional_call(discriminator, {**weights, **buffers}, (x, y))

    for real, y_real, fake, y_fake in batches:
        d_loss = loss.d_loss(d(real, y_real, params), d(fake, y_fake, params))
        grads = torch.autograd.grad(d_loss, list(params.values()), create_graph=create_graph, allow_unused=True)
        params = {n: p if g is None else update(p, g, states[n], group_of[orig])
                  for (n, p), g, (_, orig) in zip(params.items(), grads, named, strict=True)}
    return lambda x, y=None: d(x, y, params)
