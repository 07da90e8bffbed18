"""A researcher's own components, from a package outside ganlab: trained by _target_, stored in the checkpoint,
rebuilt by ganlab-eval / ganlab-sample only when that package is allowed (safe.allow, GANLAB_SAFE_ALLOW), and
accepted by seed ensembles by their declared capability."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from conftest import TINY_MLP, cli_env

from ganlab import safe
from ganlab.checkpoint import CheckpointError, load_generator
from ganlab.cli.train import train
from ganlab.config import ConfigError

PACKAGE = {
    "mylab/__init__.py": '"""A researcher\'s own GAN components."""\n',
    "mylab/losses.py": '''
        """A smooth hinge loss: softplus in place of the hinge's ReLU."""

        import torch.nn.functional as F

        from ganlab.losses.adversarial import AdversarialLoss


        class SoftHinge(AdversarialLoss):
            """D: softplus(1 - D(x)) + softplus(1 + D(G(z))); G: -D(G(z)). Means of per-sample terms."""

            batches_members = True
            d_calls = 0  # how many D losses this process computed (the test reads it)

            def d_loss(self, real_logits, fake_logits):
                type(self).d_calls += 1
                return F.softplus(1 - real_logits).mean() + F.softplus(1 + fake_logits).mean()

            def g_loss(self, fake_logits, real_logits=None):
                return -fake_logits.mean()


        class Undeclared(SoftHinge):
            """The same loss without the ensemble capability."""

            batches_members = False
    ''',
    "mylab/nets.py": '''
        """ganlab's MLP generator under the researcher's own name."""

        from ganlab.nets.mlp import MLPGenerator


        class MyGenerator(MLPGenerator):
            """An MLP generator of the researcher's package."""
    ''',
}
OWN = ["loss=hinge", "loss._target_=mylab.losses.SoftHinge", "generator._target_=mylab.nets.MyGenerator"]
QUIET = ["metrics=none", "health=none", "~logger", "~callbacks.progress_bar", "+trainer.enable_progress_bar=false",
         "trainer.enable_model_summary=false", "callbacks.samples.every_n_steps=3", "trainer.max_steps=3"]


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The package ``mylab`` written under tmp_path/pkg and importable in this process."""
    root = tmp_path / "pkg"
    for name, text in PACKAGE.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text).lstrip())
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.delenv(safe.ALLOW_ENV, raising=False)
    yield root
    for name in [m for m in sys.modules if m == "mylab" or m.startswith("mylab.")]:
        del sys.modules[name]


def test_own_loss_trains_and_its_checkpoint_is_rebuilt_only_when_the_package_is_allowed(package, compose_cfg,
                                                                                        tmp_path, monkeypatch):
    from mylab.losses import SoftHinge

    train(compose_cfg(*TINY_MLP, *QUIET, *OWN))
    assert SoftHinge.d_calls == 3  # the researcher's loss took every D step (n_critic 1, 3 steps)
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    stored = torch.load(ckpt, map_location="cpu", weights_only=True)["ganlab"]["config"]
    assert stored["loss"]["_target_"] == "mylab.losses.SoftHinge"
    assert stored["generator"]["_target_"] == "mylab.nets.MyGenerator"

    with pytest.raises(CheckpointError) as refused:
        load_generator(ckpt)
    message = str(refused.value)
    assert "\n" not in message and message.startswith(f"{ckpt}: its config names _target_ mylab.nets.MyGenerator "
                                                      f"(at generator), which is not a ganlab/torch component")
    assert "safe.allow=[PACKAGE] or GANLAB_SAFE_ALLOW=PACKAGE" in message

    loaded = load_generator(ckpt, allow=("mylab",))
    weights = torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]
    assert type(loaded.generator).__module__ == "mylab.nets"
    prefix = "generator_ema." if loaded.ema else "generator."  # the default run keeps an EMA of G
    for name, tensor in loaded.generator.state_dict().items():
        assert torch.equal(tensor, weights[f"{prefix}{name}"]), name
    monkeypatch.setenv(safe.ALLOW_ENV, "otherpkg, mylab")  # the environment's list counts as well
    assert type(load_generator(ckpt).generator).__name__ == "MyGenerator"
    # allowing a package allows what it defines, not what it imports
    assert not safe._allowed_object("mylab.nets.MLPGenerator.__init__", ("mylab",))
    assert not safe._allowed_object("mylab.losses.F.softplus", ("mylab",))
    with pytest.raises(ValueError, match=r"^safe.allow / GANLAB_SAFE_ALLOW: 'my lab' is not a package name"):
        safe.allowed_packages(["my lab"])


def test_seed_ensembles_take_own_components_by_capability(package, compose_cfg):
    ensemble = ["ensemble.size=2", "generator.hidden=[16]", "discriminator.hidden=[16]", "trainer.max_steps=2"]
    train(compose_cfg(*QUIET, *OWN, *ensemble))  # SoftHinge declares batches_members = True
    with pytest.raises(ConfigError, match=r"^loss=mylab.losses.Undeclared with ensemble.size > 1; valid: a loss "
                                          r"with batches_members = True, a mean of per-sample terms \(.*Hinge"):
        train(compose_cfg(*QUIET, *ensemble, "loss=hinge", "loss._target_=mylab.losses.Undeclared"))


@pytest.mark.slow
def test_ganlab_eval_and_sample_rebuild_an_own_generator_only_when_allowed(package, tmp_path):
    env = cli_env()
    env["PYTHONPATH"] = f"{package}:{env['PYTHONPATH']}"
    run = tmp_path / "run"
    trained = subprocess.run([sys.executable, "-m", "ganlab.cli.train", *TINY_MLP, *QUIET, *OWN,
                              f"hydra.run.dir={run}"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert trained.returncode == 0, trained.stderr[-2000:]
    ckpt = run / "checkpoints" / "last.ckpt"
    grid, metrics = tmp_path / "grid.png", tmp_path / "metrics.json"
    sample = [sys.executable, "-m", "ganlab.cli.sample", f"ckpt={ckpt}", f"out={grid}", "n=4", "interpolation.rows=0"]
    evaluate = [sys.executable, "-m", "ganlab.cli.evaluate", f"ckpt={ckpt}", f"out={metrics}", "num_samples=100",
                "metrics=[fid]", "real.max_images=200", "classes=false", "speckle=false"]
    for cmd, tool in ((sample, "ganlab-sample"), (evaluate, "ganlab-eval")):
        refused = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert refused.returncode == 1 and refused.stderr.strip().splitlines() == [
            f"{tool}: error: {ckpt}: its config names _target_ mylab.nets.MyGenerator (at generator), which is not a "
            f"ganlab/torch component; refusing to build it (allowed: classes under {safe.ALLOWED_TEXT}; "
            f"{safe.HOW_TO_ALLOW})"], refused.stderr[-2000:]
    assert not grid.exists() and not metrics.exists()
    done = subprocess.run([*sample, "safe.allow=[mylab]"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0 and grid.stat().st_size > 0, done.stderr[-2000:]
    done = subprocess.run(evaluate, cwd=tmp_path, env={**env, safe.ALLOW_ENV: "mylab"}, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    (record,) = json.loads(metrics.read_text())["evaluations"]
    assert record["metrics"]["fid"] > 0 and record["card"]["global_step"] == 3
