"""ganlab.steps: one training step = one game iteration, whatever the number of optimizer steps.

These tests fail if Lightning changes the counting hooks underneath the adapter: Lightning would
then count every optimizer step, and global_step would run ahead of the game iterations.
"""

from __future__ import annotations

import pytest
from pytorch_lightning.core.optimizer import LightningOptimizer
from test_module import fit, make_module

from ganlab.steps import one_step


def test_counting_hooks_are_restored_after_each_step():
    """test_module.test_update_counts_and_global_step checks the count itself (3 D + 2 G steps -> 1)."""
    model = make_module(n_critic=3, n_gen=2)
    trainer = fit(model, 2, n_critic=3)
    assert trainer.global_step == 2
    for opt in model.optimizers():
        assert opt._on_before_step.__name__ != "_uncounted" and opt._on_after_step.__name__ != "_uncounted"


def test_lightning_optimizer_still_has_the_counting_hooks():
    assert "_on_before_step" in LightningOptimizer.step.__code__.co_names
    assert "_on_after_step" in LightningOptimizer.step.__code__.co_names


def test_adapter_names_the_problem_when_the_hooks_are_gone():
    class Bare:
        pass

    with pytest.raises(RuntimeError, match="has no _on_before_step, _on_after_step"), one_step([Bare()]):
        pass
