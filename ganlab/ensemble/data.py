"""One data order per member: K seeded permutations of one in-memory set, served as member-major batches."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import Tensor

from ganlab.data.base import InMemoryBatches
from ganlab.data.datamodule import GANDataModule


class EnsembleBatches:
    """Member k's batches are those ``InMemoryBatches(seed=seeds[k])`` gives a separate run of seed k.

    Yields x [C * K * B, ...] (and labels [C * K * B] or None) ordered [C, K, B]: C = ``chunks`` real batches per
    training step (n_critic), so ``chunk(C)`` hands each D update a member-major [K * B, ...] batch whose member
    block k is what member k's own run would get. The members share the data tensor (no copies).

    Args:
        batches: one ``InMemoryBatches`` per member (same data, same batch size, their own seeds).
        chunks: real batches per training step (the module splits each step's batch into this many).
    """

    def __init__(self, batches: Sequence[InMemoryBatches], chunks: int = 1) -> None:
        self.members, self.chunks = list(batches), chunks

    def __len__(self) -> int:
        return len(self.members[0])

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor | None]]:
        for parts in zip(*self.members, strict=True):
            yield self._interleave([x for x, _ in parts]), (None if parts[0][1] is None else
                                                             self._interleave([y for _, y in parts]))

    def _interleave(self, per_member: list[Tensor]) -> Tensor:
        c = self.chunks
        x = torch.stack([t.reshape(c, t.shape[0] // c, *t.shape[1:]) for t in per_member], 1)  # [C, K, B, ...]
        return x.reshape(-1, *x.shape[3:])

    def state_dict(self) -> dict[str, list]:
        return {"members": [b.state_dict() for b in self.members]}

    def load_state_dict(self, state: dict[str, list]) -> None:
        for b, s in zip(self.members, state["members"], strict=True):
            b.load_state_dict(s)


class EnsembleDataModule(GANDataModule):
    """``GANDataModule`` whose training batches hold every member's own batch (``EnsembleBatches``).

    Args:
        seeds: the members' seeds (each seeds its member's permutation as ``datamodule.seed`` seeds one run's).
        **kwargs: as ``GANDataModule`` (its ``seed`` only seeds the held-out split, which ensembles refuse).
    """

    def __init__(self, seeds: Sequence[int], **kwargs) -> None:
        super().__init__(**kwargs)
        self.seeds = list(seeds)

    def train_dataloader(self) -> EnsembleBatches:
        self.setup()
        return EnsembleBatches([InMemoryBatches(self.train_data, self.batch_size * self.batches_per_step, seed=s,
                                                device=self._device()) for s in self.seeds], self.batches_per_step)
