"""What a new user sees: a quiet console, a progress count in training steps, scalars and a final grid in
short and resumed runs, a real grid with every class (ganlab-train in subprocesses, tiny networks)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from conftest import TINY_MLP, cli_env
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from ganlab.callbacks.samples import spread_indices, to_grid
from ganlab.data.base import to_model_space
from ganlab.data.mnist5k import load_mnist5k

# what a default run printed before (issue "The first hour"); none of it may come back
NOISE = ("Seed set to", "GPU available", "TPU available", "litlogger", "limit_val_batches", "Total FLOPs",
         "Total params", "dirpath has changed", "\x1b[", "LeafSpec", "sync_dist", "Initializing distributed",
         "`Trainer.fit` stopped", "Restoring states")
# every line left is a log line of ganlab's own loggers in Hydra's format
GANLAB_LINE = re.compile(r"^\[[^\]]+\]\[ganlab\.[\w.]+\]\[(INFO|WARNING)\] - ")


def train(*overrides: str, cwd: Path) -> str:
    cmd = [sys.executable, "-m", "ganlab.cli.train", *TINY_MLP, *overrides]
    proc = subprocess.run(cmd, cwd=cwd, env=cli_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stdout + proc.stderr


def progress(out: str) -> list[str]:
    """The progress bar's log lines (the output is not a terminal): 'step 2/20 ...'."""
    return [line.split(" - ", 1)[1] for line in out.splitlines() if "[ganlab.callbacks.progress]" in line]


def scalars(run: Path, tag: str) -> list[int]:
    (events,) = (run / "tensorboard").glob("events.out.tfevents.*")
    acc = EventAccumulator(str(events), size_guidance={"scalars": 0})
    acc.Reload()
    return [e.step for e in acc.Scalars(tag)]


def test_debug_fast_console_has_no_noise(tmp_path):
    out = train("debug=fast", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    lines = [line for line in out.splitlines() if line.strip()]
    assert not [line for line in lines if any(n in line for n in NOISE)], out
    assert [line for line in lines if not GANLAB_LINE.match(line)] == [], out
    text = "\n".join(lines)
    assert "Training for 20 steps" in text and "Finished at step 20 of 20" in text
    assert "G <ganlab.nets.mlp.MLPGenerator> 71.9 K params, D <ganlab.nets.mlp.MLPDiscriminator> 67.7 K params" \
        in text  # the one-line parameter count that replaces Lightning's model summary
    steps = progress(out)
    assert steps[0].startswith("step 0/20 ") and steps[-1].startswith("step 20/20 ")
    assert re.search(r" fid \d", steps[-1]) and " d_loss " in steps[-1]


def test_short_run_logs_scalars_ends_with_a_grid_and_resumes_counting_from_its_step(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    out = train("trainer.max_steps=20", "metrics=none", f"hydra.run.dir={first}", cwd=tmp_path)
    # log_every_n_steps 50 -> 2 for a 20-step run; grids every 500 steps -> the first and a final one
    assert scalars(first, "train/d_loss") == list(range(2, 21, 2))
    assert sorted(p.name for p in (first / "samples").iterdir()) == [
        "real_0000000.png", "samples_0000000.png", "samples_0000020.png"]
    assert "Training for 20 steps" in out
    steps = progress(out)
    assert steps[0] == "step 0/20 - it/s eta -:--:--" and steps[-1].startswith("step 20/20 ")
    assert [int(s.split()[1].split("/")[0]) for s in steps] == list(range(0, 21, 2))

    # the real grid: the seeded, class-spread sample of the train split (sorted by class: the first 64 are zeros)
    data = load_mnist5k(split="train")  # what runs train on
    index = spread_indices(data.y, 64, len(data))
    assert set(data.y[index].tolist()) == set(range(10))
    expected = to_grid(to_model_space(data.x[index]), 8).mul(255).add(0.5).clamp(0, 255).to(torch.uint8)
    png = np.asarray(Image.open(first / "samples" / "real_0000000.png").convert("RGB"))
    assert np.array_equal(png, expected.permute(1, 2, 0).numpy())

    out = train("trainer.max_steps=24", "metrics=none", f"ckpt_path={first}/checkpoints/last.ckpt",
                f"hydra.run.dir={second}", cwd=tmp_path)
    assert f"Training for 4 more steps (resuming at step 20 of 24 from {first}/checkpoints/last.ckpt)" in out
    steps = progress(out)
    assert steps[0] == "step 20/24 - it/s eta -:--:--" and steps[-1].startswith("step 24/24 ")
    assert scalars(second, "train/d_loss") == [22, 24]
    assert sorted(p.name for p in (second / "samples").iterdir()) == ["samples_0000024.png"]
    assert not [line for line in out.splitlines() if any(n in line for n in NOISE)], out
