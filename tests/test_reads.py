"""Files from elsewhere are data: a resume checkpoint read once, stored dataset sources limited to the dataset
factories and their saved arguments, and ganlab-compare never resolving a run directory's interpolations."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import torch
from conftest import TINY, TINY_MLP

from ganlab import safe
from ganlab.checkpoint import CheckpointError
from ganlab.cli.train import train

# ------------------------------------------------------------------ resume: one read


def test_resume_restores_the_checkpoint_it_checked_not_what_the_path_holds_later(compose_cfg, tmp_path, monkeypatch):
    first = compose_cfg(*TINY_MLP, *TINY, "metrics=none", "trainer.max_steps=2", "callbacks.samples.every_n_steps=100")
    train(first)
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    saved = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert saved["global_step"] == 2

    reads: list[Path] = []
    load = safe.load

    def read_then_swap(path, *args, **kwargs):
        out = load(path, *args, **kwargs)
        if Path(path) == ckpt:  # right after ganlab's check, the file is replaced by junk
            reads.append(Path(path))
            ckpt.write_bytes(b"replaced after it was checked" * 100)
        return out

    monkeypatch.setattr(safe, "load", read_then_swap)
    resumed = tmp_path / "resumed"
    second = compose_cfg(*TINY_MLP, *TINY, "metrics=none", "trainer.max_steps=4", "callbacks.samples.every_n_steps=100",
                         f"ckpt_path={ckpt}", f"paths.output_dir={resumed}")
    train(second)  # Lightning restores the copy ganlab read: the junk now at the path is never opened
    assert reads == [ckpt]
    done = torch.load(resumed / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert done["global_step"] == 4


# ------------------------------------------------------------------ stored dataset sources


def _source(**kwargs) -> dict:
    return {"_target_": "ganlab.data.torchvision_sets.load_torchvision", "_partial_": True, "name": "mnist",
            "resolution": 32, "channels": 1, "split": "train", **kwargs}


def test_a_stored_source_never_downloads(tmp_path, monkeypatch):
    from omegaconf import OmegaConf
    from torchvision.datasets import MNIST

    from ganlab.cli.evaluate import real_data

    calls = []
    monkeypatch.setattr(MNIST, "download", lambda self: calls.append(self.root) or (_ for _ in ()).throw(
        RuntimeError("no network in tests")))
    root = tmp_path / "anywhere"
    config = OmegaConf.create({"dataset": {"name": "mnist", "source": _source(root=str(root), download=True)}})
    with pytest.raises(CheckpointError, match=r"bad.ckpt: its config's dataset.source.download=True: a stored config "
                                              r"never downloads"):
        real_data(config, "train", OmegaConf.create({}), "bad.ckpt")
    assert calls == [] and not root.exists()


@pytest.mark.parametrize(("source", "message"), [
    ({"_target_": "ganlab.data.folder.scan_folder", "_partial_": True, "path": "/"},
     "names ganlab.data.folder.scan_folder, which is not one of ganlab's dataset factories"),
    ({"_target_": "ganlab.data.toy.mixture", "_partial_": True},
     "names ganlab.data.toy.mixture, which is not one of ganlab's dataset factories"),
    (_source(root="data", transform="x"), "dataset.source.transform is not an argument of "
                                          "ganlab.data.torchvision_sets.load_torchvision"),
    (_source(root={"_target_": "pathlib.Path.home"}), "dataset.source.root is"),
    ({**_source(root="data"), "_target_": "ganlab.data.folder.Path.write_text"}, "not one of ganlab's dataset"),
])
def test_stored_sources_call_only_dataset_factories_with_their_arguments(source, message):
    with pytest.raises(CheckpointError, match=message):
        safe.check_dataset_source(source, path="bad.ckpt", error=CheckpointError)


def test_every_dataset_config_names_an_allowed_factory_with_its_arguments(compose_cfg):
    """What ganlab-train saves passes: the source of every dataset config, resolved as in a checkpoint."""
    from omegaconf import OmegaConf

    folders = Path(__file__).resolve().parent.parent / "conf" / "dataset"
    for name in sorted(p.stem for p in folders.glob("*.yaml")):
        extra = ["dataset.source.path=imgs"] if name == "folder" else []
        source = OmegaConf.to_container(compose_cfg(f"dataset={name}", *extra).dataset.source, resolve=True)
        safe.check_dataset_source(source, path="good.ckpt", error=CheckpointError)
    assert len(safe.dataset_factories()) >= 5


# ------------------------------------------------------------------ ganlab-compare: no resolvers on files


def test_compare_never_resolves_interpolations_from_a_run_directory(tmp_path, capsys, monkeypatch):
    from test_compare import make_run

    from ganlab.cli.compare import main

    monkeypatch.setenv("GANLAB_TEST_SECRET", "hunter2-from-this-machine")
    run = make_run(tmp_path / "theirs", ["seed=1"], (50.0, 40.0))
    config = run / ".hydra" / "config.yaml"
    text = config.read_text().replace("num_samples: 2000", "num_samples: ${oc.env:GANLAB_TEST_SECRET}")
    config.write_text(text.replace("  batch_size: 64", "  batch_size: ${oc.env:GANLAB_TEST_SECRET}"))
    html = tmp_path / "report.html"
    assert main([str(run), "--wide", "--html", str(html)]) == 0
    shown = capsys.readouterr().out + html.read_text()
    assert "hunter2" not in shown
    assert "features DigitFeatures v2" in " ".join(shown.split())  # ${dataset.feature}: a key of the file, followed
    assert os.environ["GANLAB_TEST_SECRET"] == "hunter2-from-this-machine"


def test_reference_following_is_bounded_and_never_runs_resolvers():
    from omegaconf import OmegaConf

    from ganlab.runs.read import select

    os.environ.setdefault("GANLAB_TEST_SECRET", "x")
    c = OmegaConf.create({"a": {"b": 3, "c": "${a.b}", "env": "${oc.env:GANLAB_TEST_SECRET}", "text": "n${a.b}",
                                "loop1": "${a.loop2}", "loop2": "${a.loop1}", "list": [1, "${a.b}"],
                                "mixed": "${a.b}_${oc.env:HOME}"}})
    got = {k: select(c, f"a.{k}") for k in ("c", "env", "text", "loop1", "list", "mixed")}
    assert got == {"c": 3, "env": None, "text": "n3", "loop1": None, "list": [1, 3], "mixed": None}
    assert select(copy.deepcopy(c), "a.missing") is None
