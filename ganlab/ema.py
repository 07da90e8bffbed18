"""Exponential moving average of G's weights (Yazıcı et al. 2019), used for samples and metrics."""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

# (average's parameters, G's parameters, buffer slots: (average submodule's _buffers, G submodule's _buffers, name))
Pairs = tuple[list[Tensor], list[Tensor], list[tuple[dict, dict, str]]]


def pairs_of(ema: nn.Module, model: nn.Module) -> Pairs:
    """The two networks' parameters, and their buffers as (dict, dict, name) slots: a buffer reassigned later (a new
    tensor under the same name) is still the one copied; collecting these walks every submodule."""
    buffers = [(e._buffers, m._buffers, name) for e, m in zip(ema.modules(), model.modules(), strict=True)
               for name, b in m._buffers.items() if b is not None]
    return list(ema.parameters()), list(model.parameters()), buffers


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float, pairs: Pairs | None = None) -> None:
    """ema <- decay * ema + (1 - decay) * model for parameters; buffers are copied.

    Written here rather than with ``torch.optim.swa_utils.AveragedModel``, which either averages
    buffers too (BatchNorm statistics, spectral-norm power-iteration vectors that must stay unit
    vectors) or leaves them stale; StyleGAN2 and SNGAN's EMA average weights and copy buffers.

    Args:
        pairs: ``pairs_of(ema, model)`` kept by the caller (``EMA.update``); None collects them here.
    """
    ema_params, model_params, buffers = pairs if pairs is not None else pairs_of(ema, model)
    torch._foreach_lerp_(ema_params, model_params, 1.0 - decay)  # no_grad: no graph to G
    for ema_slots, slots, name in buffers:
        ema_slots[name].copy_(slots[name])


class EMA:
    """The averaging rule: ``decay`` per training step from step ``start`` on; a copy of G before it.

    Args:
        decay: in [0, 1), e.g. 0.999; None: no average is kept (the default) unless ``half_life_images`` is set.
        start: training step from which the average accumulates (before it, it tracks G exactly).
        rampup: None (off) or a fraction r > 0: the average's half-life is at most r times the steps
            averaged so far (StyleGAN2-ADA's ``ema_rampup``, there counted in images), so early in a run
            it follows G closely instead of staying near G's initial weights for thousands of steps.
            With decay 0.999 (half-life 693 steps) and r = 0.05 the full decay applies from step 13,863.
        half_life_images: instead of ``decay``, the half-life in real images seen (StyleGAN2's and R3GAN's
            ``ema_kimg * 1000``): decay = 0.5 ** (images per step / half_life_images), images per step =
            ``batch_size`` x processes; 0 gives decay 0 (the average is G). A schedule may move it
            (ganlab.schedules; R3GAN ramps it from 0).
        batch_size: real images per training step and process (``dataset.batch_size``), for ``half_life_images``.
    """

    def __init__(self, decay: float | None = None, start: int = 0, rampup: float | None = None,
                 half_life_images: float | None = None, batch_size: int = 1) -> None:
        if decay is not None and not 0.0 <= decay < 1.0:
            raise ValueError(f"ema.decay={decay}; valid: a number in [0, 1) (e.g. 0.999), or null for no EMA")
        if rampup is not None and not rampup > 0:
            raise ValueError(f"ema.rampup={rampup}; valid: a positive fraction (e.g. 0.05), or null for none")
        if half_life_images is not None and not half_life_images >= 0:
            raise ValueError(f"ema.half_life_images={half_life_images}; valid: a number of images >= 0, or null")
        if decay is not None and half_life_images is not None:
            raise ValueError(f"ema.decay={decay} and ema.half_life_images={half_life_images}; valid: one of the "
                             "two (the other null)")
        self.decay, self.start, self.rampup = decay, start, rampup
        self.half_life_images = float(half_life_images) if half_life_images is not None else None
        self.batch_size = batch_size
        self._pairs_of: tuple[nn.Module, nn.Module, Pairs] | None = None  # (average, G, their pairs), kept by update

    def decay_at(self, step: int) -> float:
        """The decay applied after training step ``step``: 0 before ``start``, ramped up when ``rampup``."""
        if step < self.start:
            return 0.0
        decay = self.decay if self.half_life_images is None else self._decay_of_half_life()
        if self.rampup is None:
            return decay
        # half-life h steps <=> decay 0.5 ** (1 / h); h = rampup * (steps averaged so far)
        half_life = self.rampup * (step - self.start + 1)
        return min(decay, 0.5 ** (1.0 / half_life))

    def _decay_of_half_life(self) -> float:
        """0.5 ** (images per step / half-life in images); the images of every process count (StyleGAN2)."""
        if self.half_life_images <= 0:
            return 0.0
        dist = torch.distributed
        world = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
        return 0.5 ** (self.batch_size * world / self.half_life_images)

    @property
    def enabled(self) -> bool:
        return self.decay is not None or self.half_life_images is not None

    def average_of(self, generator: nn.Module) -> nn.Module:
        """A frozen copy of G that holds the average (no optimizer sees it)."""
        return copy.deepcopy(generator).requires_grad_(False)

    def update(self, average: nn.Module, generator: nn.Module, step: int) -> None:
        """Fold G's weights after training step ``step`` into ``average``: one ``_foreach_lerp_`` over the kept
        parameter lists, then the buffer copies (none for a G without buffers)."""
        # parameters and buffer slots are kept between steps (collecting them walks every submodule: most of this
        # call's time on small networks); parameters and submodules are never replaced during training, which G's
        # optimizer relies on too
        cached = getattr(self, "_pairs_of", None)
        if cached is None or cached[0] is not average or cached[1] is not generator:
            cached = self._pairs_of = (average, generator, pairs_of(average, generator))
        ema_params, model_params, buffers = cached[2]
        with torch.no_grad():  # ema_update's arithmetic, without its decorator's and argument handling's calls
            torch._foreach_lerp_(ema_params, model_params, 1.0 - self.decay_at(step))
            for ema_slots, slots, name in buffers:
                ema_slots[name].copy_(slots[name])
