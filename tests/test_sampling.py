"""Sampling tools: truncation (psi, threshold), interpolation paths, animations, and ganlab-eval's truncation sweep."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from conftest import TINY_MLP

from ganlab.animation import check_format, to_frames, write_animation
from ganlab.latent import check_path, lerp, path, slerp
from ganlab.truncation import Truncation, from_config, redraw_outside, sweep, truncated


def test_psi_scales_z_towards_its_mean():
    z = torch.randn(50, 16)
    assert torch.equal(Truncation(psi=0.5)(z), z * 0.5)
    assert not Truncation(psi=1.0).active and Truncation(psi=1.0)(z).equal(z)


def test_threshold_redraws_only_the_entries_outside_and_keeps_the_rest():
    z = torch.randn(400, 32, generator=torch.Generator().manual_seed(0))
    t = 0.8
    out = Truncation(threshold=t)(z)
    inside = z.abs() <= t
    assert out.abs().max() <= t
    assert torch.equal(out[inside], z[inside])
    assert (out[~inside] != z[~inside]).all()
    # a sample's truncated z depends on its own z only: batches of any size give the same rows
    assert torch.equal(torch.cat([redraw_outside(c, t) for c in z.split(7)]), out)
    # the redrawn entries follow the standard normal truncated to [-t, t]: variance 1 - 2 t phi(t) / (2 Phi(t) - 1)
    phi, big_phi = math.exp(-t * t / 2) / math.sqrt(2 * math.pi), 0.5 * (1 + math.erf(t / math.sqrt(2)))
    expected = 1 - 2 * t * phi / (2 * big_phi - 1)
    redrawn = out[~inside]
    assert abs(redrawn.mean().item()) < 0.03 and abs(redrawn.var().item() - expected) < 0.01, redrawn.var()


def test_threshold_then_psi():
    z = torch.randn(20, 8, generator=torch.Generator().manual_seed(1))
    assert torch.equal(Truncation(psi=0.5, threshold=1.0)(z), redraw_outside(z, 1.0) * 0.5)


@pytest.mark.parametrize("node, message", [
    ({"psi": 0}, "truncation.psi=0; valid: a number with 0 < psi <= 1 (1: no truncation), or null"),
    ({"psi": -0.5}, "truncation.psi=-0.5; valid: a number with 0 < psi <= 1"),
    ({"psi": 1.5}, "truncation.psi=1.5; valid: a number with 0 < psi <= 1"),
    ({"threshold": 0}, "truncation.threshold=0; valid: a finite number > 0"),
    ({"threshold": -2.0}, "truncation.threshold=-2.0; valid: a finite number > 0"),
    ({"psi": [1.0, 0.5]}, "truncation.psi=[1.0, 0.5]: a list of values is a sweep, which ganlab-eval runs"),
])
def test_bad_truncation_values_are_refused_in_one_line(node, message):
    with pytest.raises(ValueError) as e:
        from_config(node)
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_sweeps_are_one_checked_list():
    assert sweep({"psi": [1, 0.7, 0.5], "threshold": None}) == ("psi", [1.0, 0.7, 0.5])
    assert sweep({"psi": 0.7, "threshold": [2, 1]}) == ("threshold", [2.0, 1.0])
    assert sweep({"psi": 0.7, "threshold": None}) is None
    with pytest.raises(ValueError, match=r"truncation.psi=0; valid"):
        sweep({"psi": [1, 0]})
    with pytest.raises(ValueError, match="both lists; valid: sweep one of them"):
        sweep({"psi": [1], "threshold": [1]})
    with pytest.raises(ValueError, match=r"truncation.psi=\[\]; valid: a non-empty list"):
        sweep({"psi": []})


def test_truncated_generator_passes_truncated_z():
    seen = []

    class G(torch.nn.Module):
        z_dim = 4

        def forward(self, z, y=None):
            seen.append(z)
            return z

    g = G()
    assert truncated(g, None) is g and truncated(g, Truncation(psi=1.0)) is g
    z = torch.ones(2, 4)
    truncated(g, Truncation(psi=0.25))(z)
    assert torch.equal(seen[-1], z * 0.25)


def test_linear_and_spherical_paths():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(3, 64, generator=g), 2 * torch.randn(3, 64, generator=g)
    t = torch.linspace(0, 1, 9)
    for p in (lerp(a, b, t), slerp(a, b, t)):
        assert p.shape == (3, 9, 64)
        assert torch.allclose(p[:, 0], a, atol=1e-5) and torch.allclose(p[:, -1], b, atol=1e-5)
    s = slerp(a, b, t)
    # the norm changes linearly, the direction turns at a constant rate
    norms = (1 - t)[None] * a.norm(dim=1, keepdim=True) + t[None] * b.norm(dim=1, keepdim=True)
    assert torch.allclose(s.norm(dim=2), norms, rtol=1e-5)
    cos = torch.nn.functional.cosine_similarity(s, a[:, None], dim=2).clamp(-1, 1)
    omega = torch.arccos(torch.nn.functional.cosine_similarity(a, b, dim=1).clamp(-1, 1))
    assert torch.allclose(torch.arccos(cos), t[None] * omega[:, None], atol=1e-3)
    # the linear path's midpoint is the mean; its norm shrinks where slerp's does not
    assert torch.allclose(lerp(a, b, t)[:, 4], (a + b) / 2)
    assert (lerp(a, b, t)[:, 4].norm(dim=1) < s[:, 4].norm(dim=1)).all()
    # parallel endpoints: the direction stays put, the norm still interpolates
    par = slerp(a[:1], 3 * a[:1], t)
    assert torch.allclose(par[0, 4], 2 * a[0], atol=1e-5)
    assert torch.equal(path(a, b, 9, "linear"), lerp(a, b, t))


def test_path_and_format_checks():
    with pytest.raises(ValueError, match="interpolation.mode='circle'; valid: linear, spherical"):
        check_path(5, "circle")
    with pytest.raises(ValueError, match="interpolation.steps=1; valid: an integer >= 2"):
        check_path(1, "linear")
    with pytest.raises(ValueError, match="interpolation.format='avi'; valid: png, gif, mp4"):
        check_format("avi", 15)
    with pytest.raises(ValueError, match=r"interpolation.fps=0; valid: a number in \(0, 60\]"):
        check_format("gif", 0)


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_animations_hold_every_frame(tmp_path, suffix):
    import imageio.v3 as iio

    # 6 frames [1, 16, 18]: frame k is a gray level 40 k with a white square that moves one pixel per frame
    grids = torch.zeros(6, 1, 16, 18)
    for k in range(6):
        grids[k] = 40 * k / 255
        grids[k, :, 4:8, 2 + k : 6 + k] = 1.0
    written = write_animation(grids, tmp_path / f"walk{suffix}", fps=5, scale=2)
    frames = iio.imread(written, index=None)
    assert frames.shape == (6, 32, 36, 3)
    expected = to_frames(grids, 2).numpy().astype(float)
    error = abs(frames.astype(float) - expected)
    # a GIF of gray levels is lossless; H.264 is lossy but every frame stays recognisably its own
    assert error.max() <= (0 if suffix == ".gif" else 60) and error.mean() < (0.01 if suffix == ".gif" else 6)


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory) -> Path:
    """An untrained default-MLP checkpoint in ganlab-train's layout (enough for sampling and evaluation)."""
    from ganlab.assembly import build_module
    from ganlab.config import compose

    out = tmp_path_factory.mktemp("ckpt")
    module = build_module(compose([f"paths.output_dir={out}", *TINY_MLP]))
    path = out / "last.ckpt"
    torch.save({"state_dict": module.state_dict(), "global_step": 0, "ganlab": {"config": module.config}}, path)
    return path


def eval_config(*overrides: str):
    from hydra import compose, initialize_config_dir

    from ganlab.cli.common import EVAL_CONFIG_DIR

    with initialize_config_dir(EVAL_CONFIG_DIR, version_base="1.3"):
        return compose("eval", overrides=list(overrides))


def test_eval_sweep_writes_one_record_and_one_figure(tiny_ckpt, tmp_path):
    from ganlab.cli.evaluate import evaluate, evaluate_all
    from ganlab.config import ConfigError

    common = [f"ckpt={tiny_ckpt}", "metrics=[fid,prdc]", "num_samples=200", "batch_size=100", "real.max_images=300",
              f"paths.cache_dir={tmp_path / 'cache'}", "threads=1"]
    record = tiny_ckpt.parent / "truncation_psi.json"  # the default: beside the checkpoint
    evaluations = evaluate_all(eval_config(*common, "truncation.psi=[1.0,0.5]", f"out={tmp_path / 'm.json'}"))
    data = json.loads(record.read_text())
    assert data["study"] == tiny_ckpt.parent.name and data["run"] == "truncation_psi"
    assert data["sweep"]["values"] == [1.0, 0.5]
    assert data["metrics"]["psi=1/fid"] == evaluations[0]["metrics"]["fid"]
    assert data["metrics"]["psi=0.5/recall"] == evaluations[1]["metrics"]["recall"]
    assert evaluations[1]["card"]["truncation"]["psi"] == 0.5 and evaluations[0]["card"]["truncation"] is None
    assert record.with_suffix(".png").stat().st_size > 10_000
    # psi=1 is no truncation: the same samples as a plain evaluation; psi=0.5 gives other features
    plain = evaluate(eval_config(*common, f"out={tmp_path / 'plain.json'}"))
    assert plain["metrics"]["fid"] == evaluations[0]["metrics"]["fid"] != evaluations[1]["metrics"]["fid"]
    # an existing sweep is never replaced: refused before any work
    with pytest.raises(ConfigError, match="already exist"):
        evaluate_all(eval_config(*common, "truncation.psi=[1.0,0.5]"))


def test_sample_writes_a_spherical_gif_with_truncated_endpoints(tiny_ckpt, tmp_path):
    import imageio.v3 as iio
    from omegaconf import OmegaConf

    from ganlab.cli.sample import interpolation, sample

    with pytest.raises(Exception, match="truncation.psi=2"):
        sample(OmegaConf.merge(sample_config(), {"ckpt": str(tiny_ckpt), "truncation": {"psi": 2}}))
    cfg = OmegaConf.merge(sample_config(), {
        "ckpt": str(tiny_ckpt), "out": str(tmp_path / "s.png"), "files": False, "threads": 1,
        "interpolation": {"rows": 3, "steps": 5, "format": "gif", "mode": "spherical"}, "truncation": {"psi": 0.5}})
    written = sample(cfg)
    assert written["interpolation"] == tmp_path / "s_interp.gif"
    assert iio.imread(written["interpolation"], index=None).shape[0] == 2 * 5 - 2  # forward and back
    z = interpolation(3, 5, 64, torch.Generator().manual_seed(0), "spherical", Truncation(psi=0.5))
    ends = interpolation(3, 2, 64, torch.Generator().manual_seed(0), "linear")
    assert torch.allclose(z[:, 0], 0.5 * ends[:, 0], atol=1e-6) and torch.allclose(z[:, -1], 0.5 * ends[:, -1],
                                                                                  atol=1e-6)


def sample_config():
    from hydra import compose, initialize_config_dir

    from ganlab.cli.common import EVAL_CONFIG_DIR

    with initialize_config_dir(EVAL_CONFIG_DIR, version_base="1.3"):
        return compose("sample")
