"""Data parallelism for the two-player game: G and D synchronised separately, one DDP reducer each.

Lightning's ``DDPStrategy`` wraps the whole LightningModule in one ``DistributedDataParallel``. A
D update leaves G's parameters without gradients and a G update leaves D's (D is frozen), so that
wrapper needs ``find_unused_parameters=True`` (a graph search per backward) and every backward
all-reduces both networks' gradients, the idle one's as zeros. ``GANDDPStrategy`` leaves
Lightning in charge of processes, nodes, devices, precision, checkpoints and logging, but wraps
``generator`` and ``discriminator`` each in its own ``DistributedDataParallel`` (the GANModule
itself stays unwrapped: checkpoint keys and the ``training_step`` call do not change) and, before
each manual backward, arms the reducer of every network that is not frozen
(``ganlab.module.frozen``). A D update then all-reduces D's gradients only and a G update G's
only, in buckets overlapped with the backward, as torch's DDP does.

The convention this relies on: at every backward, each network is either frozen (all its
parameters ``requires_grad=False``) or gets a gradient for every one of its parameters. The
GANModule freezes the other player around both of its backwards; a backward that breaks the
convention stops the run with a one-line error (instead of a hang or ranks that drift apart).
"""

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist
from pytorch_lightning.overrides.distributed import prepare_for_backward
from pytorch_lightning.strategies import DDPStrategy
from torch import Tensor, nn
from torch.distributed.algorithms.ddp_comm_hooks import default_hooks
from torch.nn.parallel import DistributedDataParallel

NETWORKS = ("generator", "discriminator")
STRATEGY = "trainer.strategy (ganlab.ddp.GANDDPStrategy)"
WHOLE = "trainer=ddp_whole (one wrapper around the module, find_unused_parameters)"


def check_networks(module: nn.Module) -> None:
    """One-line ValueError unless every trainable parameter of ``module`` belongs to G or D.

    A parameter outside both networks (a learnable loss temperature, say) would be left unsynchronised.
    """
    missing = [name for name in NETWORKS if not isinstance(getattr(module, name, None), nn.Module)]
    if missing:
        raise ValueError(f"{STRATEGY} needs a module with {' and '.join(NETWORKS)} submodules; "
                         f"{type(module).__name__} has no {', '.join(missing)}; valid: a GANModule, or {WHOLE}")
    inside = {id(p) for name in NETWORKS for p in getattr(module, name).parameters()}
    outside = [n for n, p in module.named_parameters() if p.requires_grad and id(p) not in inside]
    if outside:
        raise ValueError(f"{STRATEGY} synchronises only the generator and the discriminator; trainable "
                         f"parameters outside them: {', '.join(outside[:5])}; valid: freeze them, or {WHOLE}")


def broadcast_buffers(modules: list[nn.Module], src: int = 0) -> None:
    """Overwrite every buffer of ``modules`` with rank ``src``'s (BatchNorm statistics, power-iteration vectors).

    One broadcast per dtype of a flat copy, as DDP's ``broadcast_buffers`` does; written here because
    the wrappers' forward (which would do it) is never called: the GANModule calls G and D directly.
    """
    groups: dict[tuple, list[Tensor]] = {}
    for module in modules:
        for b in module.buffers():
            groups.setdefault((b.dtype, b.device), []).append(b)
    for buffers in groups.values():
        flat = torch.cat([b.reshape(-1) for b in buffers])
        dist.broadcast(flat, src)
        for b, value in zip(buffers, flat.split([b.numel() for b in buffers]), strict=True):
            b.copy_(value.view_as(b))


class GANDDPStrategy(DDPStrategy):
    """Lightning's DDPStrategy with G and D wrapped (and their gradients all-reduced) separately.

    Args:
        broadcast_buffers: overwrite G's and D's buffers with rank 0's before every training step (DDP's
            ``broadcast_buffers`` semantics) and all of the module's before every evaluation, so every rank
            evaluates rank 0's BatchNorm statistics.
        **kwargs: the rest of ``DDPStrategy``'s arguments (``process_group_backend``, ``timeout``,
            ``ddp_comm_hook`` (registered on both wrappers), ``bucket_cap_mb``, ``gradient_as_bucket_view``, ...).
            Refused: ``find_unused_parameters`` and ``static_graph`` (neither is needed: each backward uses
            all of one network), ``ddp_comm_state`` (one state would be shared by G's and D's buckets) and
            ``model_averaging_period`` (post-local SGD).
    """

    def __init__(self, *args: Any, broadcast_buffers: bool = True, **kwargs: Any) -> None:
        for key in ("find_unused_parameters", "static_graph"):
            if kwargs.get(key):
                raise ValueError(f"trainer.strategy.{key}={kwargs[key]}: GANDDPStrategy all-reduces each network "
                                 f"only when it is updated and every update uses all of its parameters; "
                                 f"valid: false, or {WHOLE}")
        for key in ("ddp_comm_state", "model_averaging_period"):
            if kwargs.get(key) is not None:
                raise ValueError(f"trainer.strategy.{key} is not supported by GANDDPStrategy (G and D have a "
                                 f"reducer each); valid: null, or {WHOLE}")
        super().__init__(*args, **kwargs)
        self.broadcast_buffers = broadcast_buffers
        self.ddp_modules: dict[str, DistributedDataParallel] = {}  # network name -> its wrapper
        self._params: dict[str, list[nn.Parameter]] = {}  # the parameters each reducer synchronises
        self._names: dict[str, list[str]] = {}  # and their names, for errors
        self._fired: dict[str, set[int]] = {}  # indices of those that received a gradient this backward
        self._armed: list[str] = []
        self._handles: list[Any] = []

    def configure_ddp(self) -> None:
        module = self.lightning_module
        check_networks(module)
        device_ids = self.determine_ddp_device_ids()
        for name in NETWORKS:
            net: nn.Module = getattr(module, name)
            # the wrapper's forward is never called (so its buffer broadcast is not either: done here, per step)
            ctx = torch.cuda.stream(torch.cuda.Stream()) if device_ids is not None else nullcontext()
            with ctx:
                ddp = DistributedDataParallel(net, device_ids=device_ids, **self._ddp_kwargs)
            if self._ddp_comm_hook is not None:  # Lightning registers these on CUDA only; gloo takes them too
                hook = self._ddp_comm_hook if self._ddp_comm_wrapper is None else self._ddp_comm_wrapper(
                    self._ddp_comm_hook)
                ddp.register_comm_hook(state=None, hook=hook)
            self.ddp_modules[name] = ddp
            self._params[name] = [p for p in net.parameters() if p.requires_grad]
            self._names[name] = [n for n, p in net.named_parameters() if p.requires_grad]
            self._fired[name] = set()
            for i, p in enumerate(self._params[name]):
                self._handles.append(p.register_post_accumulate_grad_hook(self._counter(name, i)))

    def _counter(self, name: str, index: int) -> Callable[[Tensor], None]:
        def fired(_: Tensor) -> None:
            self._fired[name].add(index)
        return fired

    def pre_backward(self, closure_loss: Tensor) -> None:
        if not getattr(self.lightning_module, "sync_gradients", True):
            # a micro-batch before the last of an accumulated update (ganlab.accumulate): its gradients add up
            # locally (DDP's no_sync); the last micro-batch's backward all-reduces the sum
            self._armed = []
            return
        # arm the reducer of each network that is not frozen: its autograd hooks all-reduce its buckets
        self._armed = [name for name, params in self._params.items() if any(p.requires_grad for p in params)]
        for name in self._armed:
            self._fired[name].clear()
            prepare_for_backward(self.ddp_modules[name], closure_loss)

    def post_backward(self, closure_loss: Tensor) -> None:
        for name in self._armed:
            params, fired = self._params[name], self._fired[name]
            if len(fired) != len(params):
                unused = [n for i, n in enumerate(self._names[name]) if i not in fired]
                raise RuntimeError(
                    f"{STRATEGY}: {len(unused)} of the {name}'s {len(params)} parameters got no gradient in this "
                    f"backward ({', '.join(unused[:3])}{', ...' if len(unused) > 3 else ''}); each backward must use "
                    f"all parameters of every network that is not frozen (ganlab.module.frozen); valid: such a "
                    f"network and game, or {WHOLE}")

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        super().on_train_batch_start(batch, batch_idx)
        if self.broadcast_buffers and self.ddp_modules:
            broadcast_buffers([ddp.module for ddp in self.ddp_modules.values()])

    def on_validation_start(self) -> None:
        super().on_validation_start()
        if self.broadcast_buffers and self.ddp_modules:  # G's EMA too: it copies G's (local) buffers each step
            broadcast_buffers([self.lightning_module])

    def teardown(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self.ddp_modules.clear()  # a reducer removes its autograd hooks when it is freed
        self._params.clear()
        self._names.clear()
        super().teardown()


# ------------------------------------------------------------------ bytes all-reduced (benchmarks, tests)
@dataclass
class AllreduceCount:
    """State of ``counting_allreduce``: bytes of gradient buckets all-reduced so far, per wrapper name."""

    name: str
    totals: dict[str, int] = field(default_factory=dict)


# no ``from __future__ import annotations`` in this file: DDP checks this hook's annotations at run time
def counting_allreduce(state: AllreduceCount, bucket: dist.GradBucket) -> torch.futures.Future[torch.Tensor]:
    """DDP communication hook: torch's default all-reduce (mean over ranks), counting the bucket's bytes."""
    buffer = bucket.buffer()
    state.totals[state.name] = state.totals.get(state.name, 0) + buffer.numel() * buffer.element_size()
    return default_hooks.allreduce_hook(None, bucket)


def ddp_wrappers(strategy: Any) -> dict[str, DistributedDataParallel]:
    """Name -> DistributedDataParallel of a strategy: GANDDPStrategy's two, or Lightning's one ("module")."""
    if isinstance(getattr(strategy, "ddp_modules", None), dict) and strategy.ddp_modules:
        return dict(strategy.ddp_modules)
    model = getattr(strategy, "model", None)
    return {"module": model} if isinstance(model, DistributedDataParallel) else {}
