"""One training step = one game iteration: the single adapter between ganlab's step and Lightning's.

Under manual optimization Lightning advances ``global_step`` on every ``LightningOptimizer.step``;
a GAN iteration calls several (``n_critic`` D steps, ``n_gen`` G steps), and ``trainer.max_steps``,
checkpoint intervals and the logged step axis must count iterations. Lightning 2.x has no public
switch for this, so this module is the one place that touches the private counting hooks
(``LightningOptimizer._on_before_step`` / ``_on_after_step``, installed by Lightning's manual
optimization loop): inside ``one_step`` every optimizer step is uncounted, and leaving it counts
exactly one. ``tests/test_steps.py`` fails if Lightning changes these hooks underneath.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pytorch_lightning.core.optimizer import LightningOptimizer

_HOOKS = ("_on_before_step", "_on_after_step")


def _uncounted() -> None:
    return None


@contextmanager
def one_step(optimizers: list[LightningOptimizer]) -> Iterator[None]:
    """Optimizer steps inside the block are not counted; on leaving it, ``global_step`` advances by one."""
    for opt in optimizers:
        missing = [h for h in _HOOKS if not hasattr(opt, h)]
        if missing:
            raise RuntimeError(f"this Lightning version's LightningOptimizer has no {', '.join(missing)}; "
                               f"ganlab.steps must be adapted to count one training step per game iteration")
    saved = [(opt._on_before_step, opt._on_after_step) for opt in optimizers]
    for opt in optimizers:
        opt._on_before_step = opt._on_after_step = _uncounted
    try:
        yield
    finally:
        for opt, hooks in zip(optimizers, saved, strict=True):
            opt._on_before_step, opt._on_after_step = hooks
    before, after = saved[0]
    before()  # what one counted optimizer step does: progress "ready" then "completed" -> global_step + 1
    after()
