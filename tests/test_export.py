"""ganlab-export: every generator config, conditional included, as TorchScript (run where ganlab cannot be
imported), ONNX (run in onnxruntime, without torch) and safetensors (the documented loader); metadata; bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO, cli_env
from generator_checkpoints import write_checkpoint
from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from omegaconf import DictConfig

from ganlab.checkpoint import CheckpointError, load_generator
from ganlab.cli.common import EVAL_CONFIG_DIR
from ganlab.cli.export import export as cli_export
from ganlab.config import ConfigError
from ganlab.export import example_inputs, export, read_metadata

CASES = [(name, classes) for name in sorted(p.stem for p in (REPO / "conf" / "generator").glob("*.yaml"))
         for classes in (0, 10)]
N = 64  # samples compared per file

# a fresh interpreter in which importing ganlab (and, for ONNX, torch) fails: what the files need is in them
BLOCK = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} may not be imported here")
sys.meta_path.insert(0, Block())
"""
RUN_TORCHSCRIPT = BLOCK + """
import torch
for case in CASES:
    inputs = torch.load(f"{case}.inputs.pt")
    g = torch.jit.load(f"{case}.torchscript.pt")
    torch.save(g(*inputs), f"{case}.torchscript_out.pt")
    torch.save(g(*(x[:5] for x in inputs)), f"{case}.torchscript_out5.pt")  # traced on 2: any batch size
assert not any(m.split(".")[0] == "ganlab" for m in sys.modules)
"""
RUN_ONNX = BLOCK + """
import numpy as np, onnxruntime
for case in CASES:
    feeds = dict(np.load(f"{case}.inputs.npz"))
    session = onnxruntime.InferenceSession(f"{case}.onnx", providers=["CPUExecutionProvider"])
    np.save(f"{case}.onnx_out.npy", session.run(["images"], feeds)[0])
assert not any(m.split(".")[0] in ("ganlab", "torch") for m in sys.modules)
"""


def run(script: str, cases: list[str], cwd: Path, blocked: tuple[str, ...]) -> None:
    code = f"BLOCKED = {set(blocked)!r}\nCASES = {cases!r}\n"
    env = {k: v for k, v in cli_env().items() if k != "PYTHONPATH"}  # ganlab's tree not on the path either
    proc = subprocess.run([sys.executable, "-c", code + script], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict:
    """Every case exported to TorchScript and ONNX; the files run in the fresh interpreters; the outputs."""
    folder = tmp_path_factory.mktemp("export")
    names = []
    for name, classes in CASES:
        case = f"{name}{classes}"
        loaded = load_generator(write_checkpoint(folder, name, classes, ema=bool(classes)))
        inputs = example_inputs(loaded.generator.z_dim, loaded.num_classes, n=N)
        torch.save(inputs, folder / f"{case}.inputs.pt")
        np.savez(folder / f"{case}.inputs.npz", **{k: v.numpy() for k, v in zip(("z", "y"), inputs, strict=False)})
        with torch.no_grad():
            torch.save(loaded.generator(*inputs), folder / f"{case}.reference.pt")
        export(loaded, "torchscript", folder / f"{case}.torchscript.pt")
        export(loaded, "onnx", folder / f"{case}.onnx", dynamo=False)  # the dynamo exporter: the slow test below
        names.append(case)
    run(RUN_TORCHSCRIPT, names, folder, blocked=("ganlab",))
    run(RUN_ONNX, names, folder, blocked=("ganlab", "torch"))
    return {"folder": folder}


@pytest.mark.parametrize(("name", "classes"), CASES)
def test_torchscript_and_onnx_reproduce_the_checkpoint(exported, name, classes):
    folder, case = exported["folder"], f"{name}{classes}"
    reference = torch.load(folder / f"{case}.reference.pt")
    assert reference.shape == (N, 1, 32, 32) and reference.std() > 1e-3  # real samples, not a constant
    torchscript = torch.load(folder / f"{case}.torchscript_out.pt")
    onnx = torch.from_numpy(np.load(folder / f"{case}.onnx_out.npy"))
    assert (torchscript - reference).abs().max() <= 1e-5
    assert (torch.load(folder / f"{case}.torchscript_out5.pt") - reference[:5]).abs().max() <= 1e-5
    assert (onnx - reference).abs().max() <= 1e-4
    if classes:  # the labels count: another class gives other samples
        loaded = load_generator(folder / f"{case}.ckpt")
        z, y = example_inputs(loaded.generator.z_dim, classes, n=N)
        with torch.no_grad():
            assert (loaded.generator(z, (y + 1) % classes) - reference).abs().max() > 1e-3


@pytest.mark.parametrize(("name", "classes"), [c for c in CASES if c[0] in ("mlp", "dcgan")])
def test_the_file_says_which_weights_it_holds(exported, name, classes):
    folder, case = exported["folder"], f"{name}{classes}"
    meta = read_metadata(folder / f"{case}.onnx")
    assert meta == read_metadata(folder / f"{case}.torchscript.pt")
    assert meta["ganlab"]["weights"] == ("ema" if classes else "trained")  # the cases with an EMA export it
    assert meta["ganlab"]["num_classes"] == classes and meta["ganlab"]["global_step"] == 7
    assert meta["ganlab"]["output"]["shape"] == ["N", 1, 32, 32]
    assert meta["config"]["generator"]["_target_"].endswith(("MLPGenerator", "DCGANGenerator"))
    if classes:
        reference = torch.load(folder / f"{case}.reference.pt")
        trained = load_generator(folder / f"{case}.ckpt", ema=False).generator
        with torch.no_grad():
            assert (trained(*example_inputs(trained.z_dim, classes, n=N)) - reference).abs().max() > 1e-3


@pytest.mark.slow
def test_onnx_dynamo_exporter_for_every_generator(tmp_path):
    """The default exporter of ganlab-export (torch.export-based, ~5-10 s per network on 2 cores)."""
    import onnxruntime

    for name, classes in CASES:
        loaded = load_generator(write_checkpoint(tmp_path, name, classes, ema=False))
        inputs = example_inputs(loaded.generator.z_dim, classes, n=N)
        path = export(loaded, "onnx", tmp_path / f"{name}{classes}.onnx")
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        out = session.run(["images"], {k: v.numpy() for k, v in zip(("z", "y"), inputs, strict=False)})[0]
        with torch.no_grad():
            assert np.abs(out - loaded.generator(*inputs).numpy()).max() <= 1e-4, (name, classes)


def test_metadata_carries_the_config_and_the_latest_evaluation_of_this_checkpoint(tmp_path):
    ckpt = write_checkpoint(tmp_path, "mlp", 0, ema=False)
    card = {"checkpoint": str(ckpt), "global_step": 7, "feature": {"name": "digit_classifier_v2"}}
    records = [{"metrics": {"fid": 3.0}, "card": card},
               {"metrics": {"fid": 9.0}, "card": {**card, "global_step": 5}},  # an earlier best.ckpt: not this one
               {"metrics": {"fid": 2.5}, "card": {**card, "checkpoint": str(tmp_path / "other.ckpt")}}]
    (tmp_path / "metrics.json").write_text(json.dumps({"evaluations": records}))
    path = export(load_generator(ckpt), "safetensors", tmp_path / "g.safetensors")
    meta = read_metadata(path)
    assert meta["evaluation"] == {"metrics": {"fid": 3.0}, "card": card}
    assert meta["config"]["generator"]["hidden"] == [16, 16] and meta["config"]["dataset"]["resolution"] == 32
    (tmp_path / "metrics.json").unlink()
    assert read_metadata(export(load_generator(ckpt), "safetensors", tmp_path / "h.safetensors"))["evaluation"] is None


def test_documented_safetensors_loader_rebuilds_the_generator(tmp_path):
    ckpt = write_checkpoint(tmp_path, "dcgan", 10, ema=True)
    loaded = load_generator(ckpt)
    path = export(loaded, "safetensors", tmp_path / "best_generator_ema.safetensors")
    doc = (REPO / "docs" / "export.md").read_text()
    # the page's loader: the python block under "Loading a .safetensors file"
    section = doc.split("## Loading a `.safetensors` file", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) <= 12  # a few lines
    scope: dict = {}
    exec(code.replace("best_generator_ema.safetensors", str(path)), scope)  # noqa: S102 - the doc's own snippet
    z, y = example_inputs(loaded.generator.z_dim, 10, n=N)
    with torch.no_grad():
        assert torch.equal(scope["G"](z, y), loaded.generator(z, y))


def cli(*overrides: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ganlab.cli.export", *overrides], cwd=cwd, env=cli_env(),
                          capture_output=True, text=True, timeout=600)


def export_cfg(*overrides: str) -> DictConfig:
    """ganlab-export's config as its command line composes it."""
    with initialize_config_dir(EVAL_CONFIG_DIR, version_base="1.3"):
        return hydra_compose("export", overrides=list(overrides))


def test_cli_writes_next_to_the_checkpoint_and_never_overwrites(tmp_path):
    ckpt = write_checkpoint(tmp_path, "mlp", 10, ema=True)
    path = cli_export(export_cfg(f"ckpt={ckpt}", "format=torchscript"))
    assert path == tmp_path / "mlp10_generator_ema.torchscript.pt"
    written = path.read_bytes()
    with pytest.raises(ConfigError, match=re.escape(f"{path} already exists; choose another out= or set "
                                                    f"overwrite=true")):
        cli_export(export_cfg(f"ckpt={ckpt}", "format=torchscript"))
    assert path.read_bytes() == written
    trained = cli_export(export_cfg(f"ckpt={ckpt}", "format=safetensors", "ema=false"))
    assert trained.name == "mlp10_generator_trained.safetensors"
    assert read_metadata(trained)["ganlab"]["weights"] == "trained"


def test_bad_input_is_one_line_and_writes_nothing(tmp_path):
    (tmp_path / "model.ckpt").write_text("not a checkpoint")
    before = sorted(tmp_path.iterdir())
    proc = cli(f"ckpt={tmp_path / 'model.ckpt'}", "format=onnx", cwd=tmp_path)
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"ganlab-export: error: {tmp_path / 'model.ckpt'} is not a ganlab-train checkpoint")
    assert sorted(tmp_path.iterdir()) == before


@pytest.mark.parametrize(("content", "args", "error", "message"), [
    ({"weights": torch.zeros(3)}, ["format=torchscript"], CheckpointError, "is not a ganlab-train checkpoint"),
    ({}, ["format=pickle"], ConfigError, "format=pickle; valid: safetensors, torchscript, onnx"),
    ({}, ["format=onnx", "out=taken.onnx"], ConfigError, "out=taken.onnx already exists"),
])
def test_other_bad_input_is_refused_before_writing(tmp_path, monkeypatch, content, args, error, message):
    monkeypatch.chdir(tmp_path)
    torch.save(content, tmp_path / "model.ckpt")
    (tmp_path / "taken.onnx").write_text("an earlier file")
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(error, match=re.escape(message)) as e:
        cli_export(export_cfg(f"ckpt={tmp_path / 'model.ckpt'}", *args))
    assert len(str(e.value).splitlines()) == 1
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_the_pages_sampling_examples_run_without_ganlab(exported):
    """docs/export.md's TorchScript and ONNX examples, as written, on a conditional generator's files."""
    doc = (REPO / "docs" / "export.md").read_text()
    blocks = [re.search(r"```python\n(.*?)```", doc.split(heading, 1)[1], re.S).group(1)
              for heading in ("## Sampling from a TorchScript file", "## Sampling from an ONNX file")]
    code = "\n".join(b.replace("best_generator_ema", "dcgan10") for b in blocks)
    code += "\nassert images.shape == (16, 1, 32, 32), images.shape\n"
    run(code, [], exported["folder"], blocked=("ganlab",))
