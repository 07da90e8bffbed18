"""Rich progress bar that states the run's position in training steps (GANs train by steps, not epochs)."""

from __future__ import annotations

from pytorch_lightning.callbacks import RichProgressBar


class StepProgressBar(RichProgressBar):
    """Lightning's RichProgressBar with "epoch E, step S/max_steps" instead of "Epoch E/-2"."""

    def _get_train_description(self, current_epoch: int) -> str:
        trainer = self.trainer
        text = f"epoch {current_epoch}, step {trainer.global_step}"
        if trainer.max_steps and trainer.max_steps > 0:
            text += f"/{trainer.max_steps}"
        return f"{text:{len(self.validation_description)}}"
