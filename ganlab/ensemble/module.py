"""The GAN game for K seed-ensemble members at once: GANModule's steps on member-major batches.

Every batch is flat and member-major (``ganlab.ensemble.nets.Stacked``): G and D map [K * N, ...] to
[K * N, ...], and every supported loss and penalty is a mean of per-sample terms, so on such a batch it is the
mean of the members' values. ``backward_loss`` differentiates K times it, the sum of the members' losses, whose
gradient with respect to member k's weights is the gradient of member k's own loss; elementwise optimizers
then step each member as its own run would. Each member draws its noise from its own generator, whose state is
the global RNG state a separate run of its seed has when training starts.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ganlab.ensemble.nets import Stacked, member_grad_norms
from ganlab.metrics.noise import eval_noise
from ganlab.module import GANModule


class EnsembleGANModule(GANModule):
    """GANModule over ``Stacked`` G and D of K members.

    Args:
        seeds: the members' seeds [K].
        rng_states: per member, the CPU RNG state its separate run holds when training starts (noise source).
        sample_z: per member, its fixed sample-grid noise [K, n, z_dim] (each run's ``sample_seed`` is its seed).
        **kwargs: as ``GANModule``, with ``generator`` and ``discriminator`` ``Stacked``.
    """

    def __init__(self, seeds: Sequence[int], rng_states: Sequence[Tensor], sample_z: Tensor, **kwargs) -> None:
        super().__init__(**kwargs)
        self.seeds = list(seeds)
        self.members = len(self.seeds)
        self.sample_z = sample_z.reshape(-1, sample_z.shape[-1]).clone()  # [K * n, z_dim] member-major
        self.member_rngs = [torch.Generator().set_state(s.clone()) for s in rng_states]

    # ----------------------------------------------------------------- noise and losses
    def _device_rngs(self) -> list[torch.Generator]:
        if self.device.type == "cpu" or self.member_rngs[0].device == self.device:
            return self.member_rngs
        # an accelerator: a run of seed S draws from that device's generator, seeded S by seed_everything
        self.member_rngs = [torch.Generator(self.device).manual_seed(s) for s in self.seeds]
        return self.member_rngs

    def noise(self, n: int) -> Tensor:
        """z [n, z_dim] member-major: n / K rows from each member's own generator."""
        per = n // self.members
        return torch.cat([torch.randn(per, self.z_dim, generator=g, device=self.device) for g in self._device_rngs()])

    def backward_loss(self, loss: Tensor) -> None:
        # loss is the members' mean; K times it is their sum (see the module docstring)
        self.manual_backward(loss * self.members)

    def grad_norm(self, net: Stacked) -> Tensor:
        return member_grad_norms(net).mean()

    # ----------------------------------------------------------------- samples and evaluation
    def sample_grid_images(self) -> Tensor:
        """The first 8 fixed-noise samples of each member [8 K, ...]: row k of an 8-wide grid is member k."""
        out = self.generate(self.sample_z)
        per = out.view(self.members, -1, *out.shape[1:])[:, :8]
        return per.reshape(-1, *out.shape[1:])

    def validation_step(self, batch: Tensor, batch_idx: int) -> Tensor:
        """Samples [K, B, ...]: every member from the same seeded noise (that of a separate run)."""
        z = eval_noise(int(batch[0]), batch.shape[0], self.z_dim).to(self.device)
        out = self.generate(z.repeat(self.members, 1))
        return out.view(self.members, batch.shape[0], *out.shape[1:])

    # ----------------------------------------------------------------- checkpoints
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["ganlab"]["ensemble"] = {"seeds": self.seeds, "rng": [g.get_state() for g in self.member_rngs]}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        super().on_load_checkpoint(checkpoint)
        state = checkpoint.get("ganlab", {}).get("ensemble")
        if state is not None:
            self.member_rngs = [torch.Generator(self.device).set_state(s) for s in state["rng"]]
