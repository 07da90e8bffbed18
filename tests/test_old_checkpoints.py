"""Checkpoints written before the architecture change (commit d48c9db) still load and sample."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ganlab.checkpoint import load_generator

OLD = Path(__file__).parent / "data" / "checkpoint_d48c9db.ckpt"  # 4 steps, tiny MLP, 28x28, ema.decay=0.9


def test_old_checkpoint_rebuilds_its_generator_with_the_ema_weights():
    loaded = load_generator(OLD)
    state = torch.load(OLD, map_location="cpu", weights_only=True)["state_dict"]
    assert loaded.ema and loaded.global_step == 4 and loaded.config.generator.z_dim == 8
    for name, tensor in loaded.generator.state_dict().items():
        assert torch.equal(tensor, state[f"generator_ema.{name}"]), name
    with torch.no_grad():
        out = loaded.generator(torch.randn(3, 8))
    assert out.shape == (3, 1, 28, 28) and out.abs().max() <= 1.0


def test_old_checkpoint_names_moved_components_by_their_path_today():
    from ganlab import safe
    from ganlab.checkpoint import CheckpointError, read_checkpoint
    from ganlab.metrics.extractors.digits import DigitFeatures

    stored = torch.load(OLD, map_location="cpu", weights_only=True)["ganlab"]["config"]
    assert stored["dataset"]["feature"]["_target_"] == "ganlab.metrics.digits.DigitFeatures"  # written so
    config = read_checkpoint(OLD)["ganlab"]["config"]
    assert config["dataset"]["feature"]["_target_"] == "ganlab.metrics.extractors.digits.DigitFeatures"
    assert config["generator"] == stored["generator"]  # what did not move is untouched
    feature = safe.build_stored(config["dataset"]["feature"], path=OLD, where="dataset.feature", error=CheckpointError)
    assert isinstance(feature, DigitFeatures)


@pytest.mark.slow  # load_generator, which both tools use, is tested above
def test_old_checkpoint_works_in_ganlab_sample_and_eval(tmp_path):
    import subprocess
    import sys

    from conftest import cli_env

    out = tmp_path / "grid.png"
    sample = subprocess.run([sys.executable, "-m", "ganlab.cli.sample", f"ckpt={OLD}", f"out={out}", "n=16"],
                            cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=300)
    assert sample.returncode == 0, sample.stderr[-2000:]
    assert out.stat().st_size > 0
    evaluate = subprocess.run([sys.executable, "-m", "ganlab.cli.evaluate", f"ckpt={OLD}", "num_samples=200",
                               "metrics=[fid]", "real.max_images=500", f"out={tmp_path / 'metrics.json'}"],
                              cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=300)
    assert evaluate.returncode == 0, evaluate.stderr[-2000:]
    assert "fid" in evaluate.stdout + evaluate.stderr
