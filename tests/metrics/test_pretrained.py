"""DINOv2 and CLIP extractors: weights read as data from the configured file, hash recorded and checked, the
DINOv2 forward equal to DINOv2's own block arithmetic, the resize equal to PIL's, and one-line errors.

Weights are random with the published layouts (fp16 to halve the files); inputs are tiny (DINOv2 at 28 px:
a 2 x 2 patch grid) so that each test takes seconds on one core.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ganlab import safe
from ganlab.metrics.extractors import clip, dinov2
from ganlab.metrics.extractors.clip import CLIPFeatures
from ganlab.metrics.extractors.dinov2 import DINOv2Features
from ganlab.metrics.extractors.pretrained import resize_like_pil


def random_state(make, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors (fp16) with the shapes of ``make()``'s state dict; norms and LayerScales near 1."""
    with torch.device("meta"):
        shapes = {k: v.shape for k, v in make().state_dict().items()}
    g = torch.Generator().manual_seed(seed)
    state = {}
    for k, shape in shapes.items():
        t = torch.randn(shape, generator=g) * 0.05
        scale_like = k.endswith((".gamma", "norm.weight", "norm1.weight", "norm2.weight"))
        if scale_like or (".ln_" in k and k.endswith(".weight")):
            t = 1 + t
        state[k] = t.half()
    return state


def random_dinov2_weights(path: Path, arch: str = "vitb14") -> Path:
    """A file laid out as Meta's dinov2_*_pretrain.pth: 37 x 37 position grid (518 px) and a mask token."""
    state = random_state(lambda: dinov2.vit(arch, 518))
    state["mask_token"] = torch.zeros(1, dinov2.ARCHS[arch].embed_dim, dtype=torch.float16)
    torch.save(state, path)
    return path


def random_clip_weights(path: Path, arch: str = "vitb32") -> Path:
    """A file as scripts/assets/convert_clip_weights.py writes it (OpenAI's keys), plus a text-tower tensor."""
    state = random_state(lambda: clip.image_tower(arch))
    state["text_projection"] = torch.zeros(4, 4, dtype=torch.float16)
    torch.save(state, path)
    return path


@pytest.fixture(scope="session")
def dinov2_b14(tmp_path_factory) -> Path:
    return random_dinov2_weights(tmp_path_factory.mktemp("dinov2") / "dinov2_vitb14_pretrain.pth")


@pytest.fixture(scope="session")
def clip_b32(tmp_path_factory) -> Path:
    return random_clip_weights(tmp_path_factory.mktemp("clip") / "clip_vitb32.pt")


def reference_dinov2(state: dict[str, torch.Tensor], x: torch.Tensor, heads: int) -> torch.Tensor:
    """DINOv2's forward written out from its block definition (pre-norm, LayerScale, exact GELU, eps 1e-6):
    the class token after the final norm, for an input whose patch grid equals the stored one."""
    s = {k: v.float() for k, v in state.items()}
    t = F.conv2d(x, s["patch_embed.proj.weight"], s["patch_embed.proj.bias"], stride=14).flatten(2).transpose(1, 2)
    t = torch.cat([s["cls_token"].expand(len(x), -1, -1), t], 1) + s["pos_embed"]  # [N, 1 + G*G, D]
    n, length, d = t.shape
    ln = lambda h, name: F.layer_norm(h, (d,), s[f"{name}.weight"], s[f"{name}.bias"], eps=1e-6)  # noqa: E731
    i = 0
    while f"blocks.{i}.norm1.weight" in s:
        b = f"blocks.{i}"
        qkv = F.linear(ln(t, f"{b}.norm1"), s[f"{b}.attn.qkv.weight"], s[f"{b}.attn.qkv.bias"])
        q, k, v = qkv.reshape(n, length, 3, heads, d // heads).permute(2, 0, 3, 1, 4)  # [N, H, L, d/H] each
        att = ((q @ k.transpose(-1, -2)) * (d // heads) ** -0.5).softmax(-1) @ v
        att = F.linear(att.transpose(1, 2).reshape(n, length, d), s[f"{b}.attn.proj.weight"], s[f"{b}.attn.proj.bias"])
        t = t + s[f"{b}.ls1.gamma"] * att
        h = F.gelu(F.linear(ln(t, f"{b}.norm2"), s[f"{b}.mlp.fc1.weight"], s[f"{b}.mlp.fc1.bias"]))
        t = t + s[f"{b}.ls2.gamma"] * F.linear(h, s[f"{b}.mlp.fc2.weight"], s[f"{b}.mlp.fc2.bias"])
        i += 1
    return ln(t, "norm")[:, 0]


def test_dinov2_forward_is_dinov2s_arithmetic_and_hash_is_recorded(dinov2_b14):
    feats = DINOv2Features(str(dinov2_b14), arch="vitb14", input_size=28)
    assert feats.sha256 == hashlib.sha256(dinov2_b14.read_bytes()).hexdigest()
    assert (feats.name, feats.tag, feats.num_features, feats.input_size) == ("dinov2_vitb14", "dinov2_b14", 768, 28)
    assert "28x28" in feats.resize and "ImageNet" in feats.resize
    x = torch.rand(3, 3, 28, 28) * 2 - 1
    f = feats(x)
    assert f.shape == (3, 768) and f.dtype == torch.float32
    state = torch.load(dinov2_b14, weights_only=True)
    state.pop("mask_token")
    state["pos_embed"] = dinov2.resample_pos_embed(state["pos_embed"], 28)  # [1, 1 + 2*2, 768]
    assert state["pos_embed"].shape == (1, 5, 768)
    want = reference_dinov2(state, resize_like_pil(x, 28, dinov2.IMAGENET_MEAN, dinov2.IMAGENET_STD), heads=12)
    assert torch.allclose(f, want, atol=1e-4, rtol=1e-4)
    grey = x[:, :1]
    assert torch.allclose(feats(grey), feats(grey.expand(-1, 3, -1, -1)))  # grey is repeated to RGB
    assert not feats.train().training  # stays in eval mode


def test_pos_embed_resampling_follows_dinov2():
    g = torch.Generator().manual_seed(0)
    pos = torch.randn(1, 1 + 37 * 37, 4, generator=g)
    assert torch.equal(dinov2.resample_pos_embed(pos, 518), pos)  # the stored grid: unchanged
    out = dinov2.resample_pos_embed(pos, 224)
    assert out.shape == (1, 1 + 16 * 16, 4) and torch.equal(out[:, 0], pos[:, 0])  # class position kept
    # DINOv2 samples output cell j at input coordinate (j + 0.5) * 37 / 16.1 - 0.5 (scale factor 16.1 / 37) with
    # PyTorch's cubic convolution (a = -0.75, borders clamped): written out in 1-D on rows varying as r^2
    rows_in = torch.arange(37.0) ** 2
    field = rows_in[:, None, None].expand(37, 37, 4).reshape(1, -1, 4)
    got = dinov2.resample_pos_embed(torch.cat([pos[:, :1], field], 1), 224)[0, 1:].reshape(16, 16, 4)[:, 3, 2]

    def w(d: float, a: float = -0.75) -> float:
        d = abs(d)
        return (a + 2) * d**3 - (a + 3) * d**2 + 1 if d <= 1 else a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a

    want = []
    for j in range(16):
        u = (j + 0.5) * 37 / 16.1 - 0.5
        i = int(np.floor(u))
        want.append(sum(w(u - k) * rows_in[min(max(k, 0), 36)].item() for k in range(i - 1, i + 3)))
    assert torch.allclose(got, torch.tensor(want), rtol=1e-5, atol=1e-3)
    plain = (torch.arange(16.0) + 0.5) * 37 / 16 - 0.5  # size=16 instead of the scale factor: other coordinates
    assert (plain - ((torch.arange(16.0) + 0.5) * 37 / 16.1 - 0.5)).abs().max() > 0.1


def test_vit_l14_layout_without_building_it():
    with torch.device("meta"):
        state = dinov2.vit("vitl14", 518).state_dict()
    assert state["pos_embed"].shape == (1, 1 + 37 * 37, 1024) and state["patch_embed.proj.weight"].shape[1:] == (
        3, 14, 14)
    assert {k.split(".")[1] for k in state if k.startswith("blocks.")} == {str(i) for i in range(24)}
    assert state["blocks.23.attn.qkv.weight"].shape == (3072, 1024)
    assert state["blocks.23.mlp.fc1.weight"].shape == (4096, 1024) and state["blocks.0.ls1.gamma"].shape == (1024,)
    for arch, (res, width, dim) in {"vitl14": (224, 1024, 768), "vitl14_336": (336, 1024, 768)}.items():
        with torch.device("meta"):
            tower = clip.image_tower(arch).state_dict()
        assert tower["visual.positional_embedding"].shape == (1 + (res // 14) ** 2, width)
        assert tower["visual.proj"].shape == (width, dim)
        assert "visual.transformer.resblocks.23.attn.in_proj_weight" in tower


def test_clip_loads_the_image_tower_and_embeds(clip_b32):
    feats = CLIPFeatures(str(clip_b32), arch="vitb32")
    assert (feats.name, feats.tag, feats.num_features, feats.input_size) == ("clip_vitb32", "clip_b32", 512, 224)
    assert feats.sha256 == hashlib.sha256(clip_b32.read_bytes()).hexdigest()
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    f = feats(x)
    assert f.shape == (2, 512) and torch.isfinite(f).all()
    assert torch.allclose(f, feats(x.expand(-1, 3, -1, -1)))
    assert not torch.allclose(f[0], f[1])  # the image matters
    with pytest.raises(ValueError, match=r"expected 00000000\.\.\.: not the pinned CLIP ViT-B/32 file.*"
                                         r"feature.expected_sha256=null"):
        CLIPFeatures(str(clip_b32), arch="vitb32", expected_sha256="00000000")


def test_missing_file_names_the_config_key(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"none configured and ganlab downloads nothing; set "
                                                r"paths.dinov2_vitl14_weights=/path/to/dinov2_vitl14_pretrain.pth"):
        DINOv2Features(None, arch="vitl14", weights_key="paths.dinov2_vitl14_weights")
    with pytest.raises(FileNotFoundError, match=r"not found at .*nope.pt; set paths.clip_vitl14_weights"):
        CLIPFeatures(str(tmp_path / "nope.pt"), arch="vitl14", weights_key="paths.clip_vitl14_weights")
    with pytest.raises(ValueError, match="feature.arch='vitx': unknown DINOv2 backbone; valid: vitb14, vitl14"):
        DINOv2Features(None, arch="vitx")
    with pytest.raises(ValueError, match="feature.input_size=30: DINOv2 needs a multiple of 14"):
        DINOv2Features(None, arch="vitb14", input_size=30)


@pytest.mark.filterwarnings("ignore:.*torch.jit.script.* is deprecated")
def test_wrong_crafted_and_torchscript_files_are_refused(tmp_path, dinov2_b14):
    # ViT-B tensors where ViT-L is configured: named, one line
    with pytest.raises(safe.BadFileError, match=r"tensors do not fit DINOv2 ViT-L/14 .*set paths.dinov2_vitl14_w"):
        DINOv2Features(str(dinov2_b14), arch="vitl14", weights_key="paths.dinov2_vitl14_weights")

    class Evil:
        def __reduce__(self):
            return (Path.touch, (tmp_path / "pwned",))

    torch.save({"w": Evil()}, tmp_path / "evil.pth")
    with pytest.raises(safe.BadFileError, match="evil.pth is not DINOv2 ViT-B/14 weights .*asks to run or build"):
        DINOv2Features(str(tmp_path / "evil.pth"), arch="vitb14")
    assert not (tmp_path / "pwned").exists()
    scripted = torch.jit.script(torch.nn.Linear(2, 2))
    scripted.save(str(tmp_path / "ViT-B-32.pt"))
    with pytest.raises(safe.BadFileError, match="TorchScript archive .*scripts/assets/convert_clip_weights.py"):
        CLIPFeatures(str(tmp_path / "ViT-B-32.pt"), arch="vitb32")


@pytest.mark.parametrize(("side", "size"), [(32, 224), (28, 224), (64, 336), (300, 224)])
def test_resize_is_pils_bicubic(side, size):
    from PIL import Image

    rng = np.random.default_rng(side)
    img = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)  # noise: the hardest case for overshoot clipping
    want = np.asarray(Image.fromarray(img).resize((size, size), Image.BICUBIC)).astype(np.float64)
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 127.5 - 1
    got = resize_like_pil(x, size, (0, 0, 0), (1, 1, 1))[0].permute(1, 2, 0).double().numpy() * 255
    diff = np.abs(got - want)
    assert diff.max() <= 2.001 and (diff > 0.5).mean() < 0.01  # fixed-point rounding of PIL only
    plain = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False)  # not PIL's filter
    assert np.abs(((plain + 1) * 127.5).clamp(0, 255).round()[0].permute(1, 2, 0).double().numpy() - want).max() > 5


class FakeRelease(torch.nn.Module):
    """Stands in for OpenAI's TorchScript CLIP file: an image tower and a text-side tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.visual = torch.nn.Linear(2, 3)
        self.text_projection = torch.nn.Parameter(torch.ones(2, 2))


@pytest.mark.filterwarnings("ignore:.*torch.jit.(script|load).* is deprecated")
def test_convert_openai_release_checks_the_hash_first(tmp_path):
    src = tmp_path / "ViT-L-14.pt"
    torch.jit.script(FakeRelease()).save(str(src))
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    with pytest.raises(ValueError, match="not OpenAI's published 3035c92b350959.* refusing to open it"):
        clip.convert_openai_release(src, tmp_path / "out.pth", clip.published_sha256("vitl14_336"))
    assert not (tmp_path / "out.pth").exists()
    written = clip.convert_openai_release(src, tmp_path / "out.pth", digest)
    state = torch.load(tmp_path / "out.pth", weights_only=True)  # plain data now
    assert set(state) == {"visual.weight", "visual.bias"} and state["visual.weight"].shape == (3, 2)
    assert written == hashlib.sha256((tmp_path / "out.pth").read_bytes()).hexdigest()
    with pytest.raises(FileExistsError, match="already exists"):
        clip.convert_openai_release(src, tmp_path / "out.pth", digest)
    # the published hashes are OpenAI's (the one in google-research/cmmd's download link for ViT-L/14@336px)
    assert clip.published_sha256("vitl14_336").startswith("3035c92b")


def test_training_preset_logs_names_that_carry_the_feature_space(compose_cfg, dinov2_b14):
    from ganlab.assembly import build_callbacks
    from ganlab.callbacks import Evaluation
    from ganlab.config import validate

    node = "metrics.callbacks.evaluation.metrics.dinov2"
    cfg = compose_cfg("metrics=fd_dinov2", f"eval/feature@{node}.feature=dinov2_vitb14",
                      f"paths.dinov2_vitb14_weights={dinov2_b14}", "metrics.monitor=val/fd_dinov2_b14",
                      f"{node}.feature.input_size=28")
    validate(cfg)
    evaluation = next(c for c in build_callbacks(cfg) if isinstance(c, Evaluation))
    metric = evaluation.metrics["dinov2"]
    assert metric.suffix == "dinov2_b14" and metric.feature.name == "dinov2_vitb14"
    assert metric.best == {"fd_dinov2_b14": "min", "kd_dinov2_b14": "min", "cmmd_dinov2_b14": "min"}
    assert metric.prog_bar == ("fd_dinov2_b14",) and evaluation.metrics["features"].prog_bar == ("fid",)
    g = torch.Generator().manual_seed(0)
    metric.real = metric.feature(torch.rand(10, 1, 32, 32, generator=g) * 2 - 1)  # a reference of 10 images
    metric.reset()
    metric.update(torch.rand(6, 1, 32, 32, generator=g) * 2 - 1, torch.arange(6))
    values = metric.compute()
    assert set(values) == {"fd_dinov2_b14", "cmmd_dinov2_b14"} and values["fd_dinov2_b14"] > 0


def test_calibration_suite_runs_in_dinov2_features(dinov2_b14):
    from ganlab.metrics.calibration.calibrate import calibrate, features
    from ganlab.metrics.calibration.distortions import distort
    from ganlab.metrics.scoring.scores import cmmd

    feats = DINOv2Features(str(dinov2_b14), arch="vitb14", input_size=28)
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(16, 1, 32, 32, generator=g) * 2 - 1, torch.arange(16) % 4
    rows = calibrate(feats, x, y, families=["gaussian_noise"], n=8, metrics=["fid", "cmmd"], batch_size=8)
    assert [r.strength for r in rows] == [0.05, 0.1, 0.2, 0.3] and set(rows[0].values) == {"fid", "cmmd"}
    want = cmmd(features(feats, x), features(feats, distort(x, y, "gaussian_noise", 0.3, n=8, seed=0)))["cmmd"]
    assert rows[-1].values["cmmd"] == pytest.approx(want, rel=1e-6)
