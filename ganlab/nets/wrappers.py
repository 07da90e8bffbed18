"""Discriminator wrappers applied by composition: the config lists them, nothing here names one."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from torch import nn

Wrapper = Callable[[nn.Module], nn.Module]


def wrapped(net: nn.Module, wrappers: Mapping[str, Wrapper | None] | None = None) -> nn.Module:
    """``net`` with each wrapper applied in order (PacGAN packing, minibatch layers, ...); null entries skipped.

    Each wrapper is a ``_partial_`` config completed with the network it wraps, e.g.
    ``{_target_: ganlab.nets.minibatch.MinibatchStddev, _partial_: true, group_size: 4}``.
    """
    for wrap in (wrappers or {}).values():
        if wrap is not None:
            net = wrap(net)
    return net
