"""ganlab-train end to end in subprocesses: TensorBoard output, checkpoints, exact resume, DDP, errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import TINY, TINY_MLP, cli_env
from hydra.utils import instantiate
from omegaconf import OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from ganlab.callbacks.run_info import SETTINGS
from ganlab.checkpoint import load_generator
from ganlab.data.mnist5k import load_mnist5k
from ganlab.metrics.extraction import extract, generated_batches, real_batches
from ganlab.metrics.extractors.digits import DigitFeatures
from ganlab.metrics.scoring.suite import compute_metrics


def run_train(*overrides: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "ganlab.cli.train", *TINY_MLP, *TINY, *overrides]
    proc = subprocess.run(cmd, cwd=cwd, env=cli_env(), capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"ganlab-train failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc


def events(run_dir: Path) -> EventAccumulator:
    files = list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    assert len(files) == 1, files
    acc = EventAccumulator(str(files[0]), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


def load_ckpt(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)  # checkpoints are data only


def test_end_to_end_run_writes_tensorboard_and_checkpoints(tmp_path):
    run = tmp_path / "run"
    run_train(f"hydra.run.dir={run}", cwd=tmp_path)
    acc = events(run)
    scalars = set(acc.Tags()["scalars"])
    expected = {"train/d_loss", "train/g_loss", "train/d_real", "train/d_fake", "train/grad_norm_g",
                "train/grad_norm_d", "val/fid"}
    assert expected <= scalars, scalars
    assert [e.step for e in acc.Scalars("train/d_loss")] == [1, 2, 3, 4]
    fid = acc.Scalars("val/fid")
    assert [e.step for e in fid] == [2, 4] and all(e.value > 0 for e in fid)
    assert {"samples", "real"} <= set(acc.Tags()["images"])
    assert "config/text_summary" in acc.Tags()["tensors"]
    assert {"_hparams_/experiment", "_hparams_/session_start_info"} <= set(acc.PluginTagToContent("hparams"))
    # HParams: the headline settings and this command's overrides (~callbacks.progress_bar, a deletion, is not one)
    content = acc.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    hparams = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
    headline = {key.removesuffix("._target_").removesuffix(".name") for key in SETTINGS}
    assert set(hparams) == headline | {
        "generator.hidden", "discriminator.hidden", "trainer.log_every_n_steps", "trainer.enable_model_summary",
        "trainer.enable_progress_bar", "metrics.every_n_steps", "metrics.num_samples", "metrics.batch_size",
        "callbacks.samples.every_n_steps"}  # fmt: skip
    assert hparams["trainer.max_steps"].number_value == 4 and hparams["loss"].string_value == "NonSaturating"
    assert (run / "samples" / "samples_0000004.png").is_file()

    last, best = run / "checkpoints" / "last.ckpt", run / "checkpoints" / "best.ckpt"
    assert last.is_file() and best.is_file()
    ckpt = load_ckpt(last)
    assert ckpt["global_step"] == 4
    config = OmegaConf.create(ckpt["ganlab"]["config"])
    assert config.generator.hidden == [32, 64] and config.dataset.name == "mnist5k"
    # the generator is rebuilt from the file alone
    g = instantiate(config.generator)
    g.load_state_dict({k[len("generator."):]: v for k, v in ckpt["state_dict"].items() if k.startswith("generator.")})
    z = ckpt["state_dict"]["sample_z"]
    assert g.eval()(z).shape == (64, 1, 32, 32)
    assert best.stat().st_size > 0 and "val/fid" in str(load_ckpt(best)["callbacks"])


@pytest.mark.slow  # test_sigterm_writes_last_and_resume_auto_is_bit_identical checks a bit-identical resume by default
def test_resume_continues_exactly(tmp_path):
    straight, first, resumed = tmp_path / "straight", tmp_path / "first", tmp_path / "resumed"
    run_train(f"hydra.run.dir={straight}", "trainer.max_steps=8", cwd=tmp_path)
    run_train(f"hydra.run.dir={first}", "trainer.max_steps=4", cwd=tmp_path)
    run_train(f"hydra.run.dir={resumed}", "trainer.max_steps=8", f"ckpt_path={first}/checkpoints/last.ckpt",
              cwd=tmp_path)
    a, b = load_ckpt(straight / "checkpoints/last.ckpt"), load_ckpt(resumed / "checkpoints/last.ckpt")
    assert b["global_step"] == 8
    # the resumed run logs only steps 5..8, and ends bit-identical to an uninterrupted run
    assert [e.step for e in events(resumed).Scalars("train/g_loss")] == [5, 6, 7, 8]
    for key, value in a["state_dict"].items():
        assert torch.equal(value, b["state_dict"][key]), key
    assert torch.equal(a["optimizer_states"][1]["state"][0]["exp_avg"], b["optimizer_states"][1]["state"][0]["exp_avg"])


@pytest.mark.slow  # five ganlab-train processes; test_bad_input_table covers unreadable checkpoints by default
def test_resume_from_an_unfitting_checkpoint_is_one_line_before_training(tmp_path):
    first = tmp_path / "first"
    run_train(f"hydra.run.dir={first}", "trainer.max_steps=2", "+regularizers=historical_averaging", cwd=tmp_path)
    ckpt = first / "checkpoints" / "last.ckpt"
    assert "regularizers.historical_averaging" in load_ckpt(ckpt)["ganlab"]["terms"]
    cases = {  # override -> the start of the reason given
        "generator.hidden=[32,32]": "(generator.net.",
        "discriminator.hidden=[64,64]": "(discriminator.",
        "trainer.max_steps=3": "(state for regularizers.historical_averaging, which this run does not enable)",
    }
    for i, (override, reason) in enumerate(cases.items()):
        extra = [] if "max_steps" in override else ["+regularizers=historical_averaging"]
        out = tmp_path / f"resumed{i}"  # a refused run leaves its .hydra/: that directory is not reused
        proc = run_train(f"hydra.run.dir={out}", override, *extra, f"ckpt_path={ckpt}", cwd=tmp_path, check=False)
        assert proc.returncode != 0 and "Traceback" not in proc.stderr, override
        last = proc.stderr.strip().splitlines()[-1]
        assert last.startswith(f"ganlab-train: error: ckpt_path={ckpt} does not fit this run {reason}"), last
        assert last.endswith("valid: resume with the config it was trained with (its run's .hydra/config.yaml)")
        assert not (out / "checkpoints").exists()
    proc = run_train(f"hydra.run.dir={tmp_path / 'none'}", f"ckpt_path={tmp_path / 'no.ckpt'}", cwd=tmp_path,
                     check=False)
    assert proc.stderr.strip().splitlines() == [f"ganlab-train: error: ckpt_path={tmp_path / 'no.ckpt'}; valid: null "
                                                 "or the path of an existing file (a checkpoint written by "
                                                 "ganlab-train, e.g. <run>/checkpoints/last.ckpt)"]


def test_config_error_is_one_line_before_training(tmp_path):
    proc = run_train(f"hydra.run.dir={tmp_path / 'bad'}", "generator.resolution=64", cwd=tmp_path, check=False)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        "ganlab-train: error: generator.resolution=64 does not match dataset.resolution=32; set them to the same "
        "value (by default generator.resolution follows ${dataset.resolution})"
    )
    assert not (tmp_path / "bad" / "checkpoints").exists()


def test_missing_dataset_files_name_the_key(tmp_path):
    proc = run_train(f"hydra.run.dir={tmp_path / 'bad'}", "dataset=mnist", f"paths.data_dir={tmp_path / 'none'}",
                     cwd=tmp_path, check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ganlab-train: error:") and "dataset.source.root" in last


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed not built")
def test_ddp_two_cpu_processes(tmp_path):
    dump = tmp_path / "weights"
    proc = run_train("trainer=ddp", "trainer.devices=2", "trainer.accelerator=cpu", "trainer.max_steps=6",
                     "+callbacks.dump._target_=helpers.DumpWeights", f"+callbacks.dump.out={dump}", cwd=tmp_path)
    # a quiet console: each ganlab line once (not once per rank), no Lightning set-up lines or sync_dist warnings
    lines = [line.split(" - ", 1)[-1] for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    assert len(lines) == len(set(lines)) and "Training for 6 steps" in lines, lines
    assert "CPU threads: 1 per process (OMP_NUM_THREADS=1)" in lines
    assert not [line for line in lines if "sync_dist" in line or "distributed" in line or "GPU available" in line]
    runs = [p for p in (tmp_path / "outputs").glob("*/*") if p.is_dir()]
    assert len(runs) == 1, runs  # one Hydra run directory, not one per process
    run = runs[0]
    assert len(list((run / "tensorboard").glob("events.out.tfevents.*"))) == 1  # only rank 0 logs
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]
    r0, r1 = torch.load(dump / "rank0.pt", weights_only=True), torch.load(dump / "rank1.pt", weights_only=True)
    assert r0["global_step"] == r1["global_step"] == 6
    names = set(r0["params"])
    assert any(n.startswith("generator.") for n in names) and any(n.startswith("discriminator.") for n in names)
    for name, value in r0["params"].items():
        assert torch.equal(value, r1["params"][name]), f"{name} differs between ranks"
    # FID under DDP (each rank generates half, features gathered) equals the single-process value
    ddp_fid = [e.value for e in events(run).Scalars("val/fid") if e.step == 6][0]
    loaded = load_generator(run / "checkpoints" / "last.ckpt")
    feats = DigitFeatures()
    real = extract(feats, real_batches(load_mnist5k(split="train").x, 500))["features"]
    fake = extract(feats, generated_batches(loaded.generator, 200, 100))
    assert ddp_fid == pytest.approx(compute_metrics(real, fake, ["fid"])["fid"], rel=1e-4)


def test_metrics_do_not_change_the_training_run(compose_cfg, tmp_path):
    """The same seed trains the same networks with evaluation on (FID, class coverage) or off."""
    from ganlab.cli.train import train

    weights = {}
    for metrics in ("fid", "none"):
        out = tmp_path / metrics
        train(compose_cfg(*TINY_MLP, *TINY, f"metrics={metrics}", f"paths.output_dir={out}", "~logger"))
        state = load_ckpt(out / "checkpoints" / "last.ckpt")["state_dict"]
        weights[metrics] = {k: v for k, v in state.items() if k.startswith(("generator.", "discriminator."))}
    assert weights["fid"].keys() == weights["none"].keys()
    assert all(torch.equal(weights["fid"][k], weights["none"][k]) for k in weights["fid"])
