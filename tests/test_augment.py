"""DiffAugment and instance noise against hand-computed values, their configs, and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from ganlab.augment import DiffAugment, InstanceNoise, brightness, contrast, cutout, hflip, saturation, translate
from ganlab.config import CONFIG_DIR


def distinct(*shape: int) -> torch.Tensor:
    """Nonzero values all different from each other, so every output value can be traced to its source."""
    n = 1
    for s in shape:
        n *= s
    return (torch.randperm(n).float() + 1).view(*shape)


def test_keeps_shape_and_dtype():
    for dtype in (torch.float32, torch.float64):
        x = torch.randn(3, 3, 8, 8, dtype=dtype)
        y = DiffAugment("color,translation,cutout,flip")(x, step=5)
        assert y.shape == x.shape and y.dtype == dtype


@pytest.mark.parametrize("policy", ["translation", "cutout", "flip", "translation,cutout"])
def test_geometric_ops_only_move_or_zero_values(policy):
    torch.manual_seed(0)
    x = distinct(16, 2, 8, 8)
    y = DiffAugment(policy)(x)
    assert torch.isin(y, torch.cat([x.flatten(), torch.zeros(1)])).all()
    # each sample's values come from that sample only
    for n in range(16):
        assert torch.isin(y[n][y[n] != 0], x[n]).all()


def test_translate_helper_moves_content_with_zero_fill():
    x = distinct(1, 1, 4, 5)
    y = translate(x, torch.tensor([[1, -2]]))  # one row down, two columns left
    assert torch.equal(y[0, 0, 1:, :3], x[0, 0, :3, 2:])
    assert (y[0, 0, 0] == 0).all() and (y[0, 0, :, 3:] == 0).all()
    assert torch.equal(translate(x, torch.tensor([[0, 0]])), x)
    assert (translate(x, torch.tensor([[4, 0]])) == 0).all()  # shifted fully out


def test_translation_of_one_hot_moves_by_at_most_ratio_times_size():
    x = torch.zeros(2000, 1, 8, 8)
    x[:, 0, 4, 4] = 1.0
    aug = DiffAugment("translation", translation_ratio=0.25)  # up to int(8 * 0.25 + 0.5) = 2 px
    torch.manual_seed(0)
    y = aug(x)
    assert (y.sum(dim=(1, 2, 3)) == 1).all()  # a 2 px shift from (4, 4) keeps the pixel on the image
    pos = y.flatten(1).argmax(1)
    dy, dx = pos // 8 - 4, pos % 8 - 4
    seen = set(zip(dy.tolist(), dx.tolist(), strict=True))
    assert seen == {(a, b) for a in range(-2, 3) for b in range(-2, 3)}  # all 25 shifts, none larger
    torch.manual_seed(0)
    assert torch.equal(aug(x), y)  # a fixed seed reproduces


def test_cutout_helper_zeroes_the_square_around_the_centre():
    y = cutout(torch.ones(2, 3, 8, 8), torch.tensor([[4, 4], [0, 7]]), (4, 4))
    expect = torch.ones(8, 8)
    expect[2:6, 2:6] = 0  # rows/cols 4 - 2 ... 4 + 1
    assert torch.equal(y[0, 0], expect) and torch.equal(y[0, 2], expect)
    expect = torch.ones(8, 8)
    expect[:2, 5:] = 0  # clipped at the top right corner: rows -2..1, cols 5..8
    assert torch.equal(y[1, 1], expect)


def test_cutout_zeroes_a_square_of_ratio_times_size():
    torch.manual_seed(0)
    y = DiffAugment("cutout", cutout_ratio=0.5)(torch.ones(500, 2, 8, 8))  # side int(8 * 0.5 + 0.5) = 4
    assert torch.equal(y[:, 0], y[:, 1])  # the same square in every channel
    interior = 0
    for img in y[:, 0]:
        rows, cols = (img == 0).any(1).nonzero().flatten(), (img == 0).any(0).nonzero().flatten()
        h, w = len(rows), len(cols)
        assert (img == 0).sum() == h * w and 1 <= h <= 4 and 1 <= w <= 4  # a (clipped) rectangle
        if min(rows.min(), cols.min()) > 0 and max(rows.max(), cols.max()) < 7:
            assert (img == 0).sum() == 16  # away from the border: exactly side^2 zeros
            interior += 1
    assert interior > 50
    # centres 0..8 (one extra for the even side, as in the reference): each border row zeroed in 3 of 9 draws
    rows_hit = (y[:, 0] == 0).any(2).float().mean(0)  # [8] share of samples with a zero in each row
    assert rows_hit[0] == pytest.approx(1 / 3, abs=0.06) and rows_hit[7] == pytest.approx(1 / 3, abs=0.06)


def test_sizes_round_to_nearest_pixel():
    x = torch.zeros(300, 1, 12, 12)
    x[:, 0, 6, 6] = 1.0
    torch.manual_seed(0)
    pos = DiffAugment("translation", translation_ratio=0.125)(x).flatten(1).argmax(1)  # 1.5 px -> 2
    assert (pos // 12 - 6).abs().max() == 2 and (pos % 12 - 6).abs().max() == 2
    y = DiffAugment("cutout", cutout_ratio=0.125)(torch.ones(50, 1, 12, 12))  # 1.5 px -> a 2x2 square
    assert (y == 0).sum(dim=(1, 2, 3)).max() == 4


def test_color_helpers_on_a_crafted_pixel():
    x = torch.tensor([[1.0, 0.0, -1.0], [0.5, 0.5, 0.5]]).T.reshape(1, 3, 1, 2)  # pixels (1, 0, -1), (.5, .5, .5)
    assert torch.allclose(brightness(x, torch.tensor([0.25])), x + 0.25)
    s = saturation(x, torch.tensor([2.0]))  # channel means 0 and 0.5: deviations doubled
    assert torch.allclose(s[0, :, 0].T, torch.tensor([[2.0, 0.0, -2.0], [0.5, 0.5, 0.5]]))
    c = contrast(x, torch.tensor([0.5]))  # image mean 1.5 / 6 = 0.25
    assert torch.allclose(c, (x - 0.25) * 0.5 + 0.25)
    assert torch.allclose(c.mean(), x.mean())


def test_color_matches_the_papers_formulas_with_drawn_factors():
    x = torch.randn(4, 3, 5, 5)
    torch.manual_seed(3)
    y = DiffAugment("color")(x)
    torch.manual_seed(3)
    b, s, c = torch.rand(4) - 0.5, torch.rand(4) * 2, torch.rand(4) + 0.5  # U(-.5, .5), U(0, 2), U(.5, 1.5)
    for n in range(4):
        e = x[n] + b[n]
        e = (e - e.mean(0)) * s[n] + e.mean(0)
        e = (e - e.mean()) * c[n] + e.mean()
        assert torch.allclose(y[n], e, atol=1e-5)


def test_hflip_helper():
    x = distinct(2, 1, 2, 3)
    y = hflip(x, torch.tensor([True, False]))
    assert torch.equal(y[0], x[0].flip(-1)) and torch.equal(y[1], x[1])


def test_gradient_flows_to_the_input():
    x = torch.randn(4, 3, 8, 8, requires_grad=True)
    DiffAugment("color,translation,cutout,flip")(x).square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and (x.grad != 0).any()
    # translation alone: d sum(out) / dx is 1 for pixels kept on the image, 0 for those moved off
    x = torch.randn(4, 1, 8, 8, requires_grad=True)
    torch.manual_seed(0)
    y = DiffAugment("translation")(x)
    y.sum().backward()
    assert set(x.grad.unique().tolist()) <= {0.0, 1.0}
    assert x.grad.sum() == (y != 0).sum()


@pytest.mark.parametrize("policy", ["color", "translation", "cutout", "flip"])
def test_each_sample_draws_its_own_parameters(policy):
    torch.manual_seed(0)
    y = DiffAugment(policy)(distinct(1, 3, 8, 8).expand(8, 3, 8, 8))  # eight identical images
    assert len({tuple(img.flatten().tolist()) for img in y}) > 1


def test_real_and_fake_get_the_same_family_with_fresh_draws():
    # one object serves both sides: the same op set, each call drawing new per-sample parameters
    torch.manual_seed(0)
    aug = DiffAugment("translation", translation_ratio=0.25)
    x = torch.zeros(1000, 1, 8, 8)
    x[:, 0, 4, 4] = 1.0

    def shifts(y: torch.Tensor) -> torch.Tensor:
        pos = y.flatten(1).argmax(1)
        return torch.stack([pos // 8 - 4, pos % 8 - 4], 1)

    real, fake = shifts(aug(x)), shifts(aug(x))
    assert not torch.equal(real, fake)  # independent draws
    for s in (real, fake):  # both uniform over {-2..2}^2: mean ~ 0, variance (5^2 - 1) / 12 = 2 per axis
        assert s.float().mean(0).abs().max() < 0.2
        assert (s.float().var(0) - 2).abs().max() < 0.3


def test_empty_policy_is_identity_and_repr():
    x = torch.randn(2, 1, 4, 4)
    assert torch.equal(DiffAugment("")(x), x)
    aug = DiffAugment(" color , cutout")
    assert repr(aug) == "DiffAugment(policy='color,cutout', translation_ratio=0.125, cutout_ratio=0.5)"


def test_unknown_policy_names_the_key_and_valid_names():
    with pytest.raises(ValueError, match=r"augment\.diffaugment\.policy.*'colour'.*color, translation, cutout, flip"):
        DiffAugment("colour,translation")
    with pytest.raises(ValueError, match=r"augment\.diffaugment\.cutout_ratio=1.5"):
        DiffAugment(cutout_ratio=1.5)


def test_flat_input_is_rejected_clearly():
    with pytest.raises(ValueError, match=r"needs images \[N, C, H, W\], got shape \(4, 2\).*instance_noise"):
        DiffAugment()(torch.randn(4, 2))


def test_instance_noise_schedule():
    noise = InstanceNoise(sigma=0.2, anneal_steps=100)
    assert noise.sigma_at(0) == pytest.approx(0.2)
    assert noise.sigma_at(50) == pytest.approx(0.1)
    assert noise.sigma_at(100) == 0.0 and noise.sigma_at(1000) == 0.0
    x = torch.randn(4, 2)
    assert torch.equal(noise(x, step=100), x)
    assert InstanceNoise(sigma=0.2).sigma_at(10**6) == 0.2  # anneal_steps 0: constant
    assert repr(noise) == "InstanceNoise(sigma=0.2, anneal_steps=100)"


def test_instance_noise_std_and_shapes():
    torch.manual_seed(0)
    noise = InstanceNoise(sigma=0.3, anneal_steps=10)
    x = torch.rand(100, 1, 32, 32)  # 102,400 values
    d = noise(x, step=5) - x  # sigma(5) = 0.15
    assert d.std().item() == pytest.approx(0.15, rel=0.02) and d.mean().abs() < 0.005
    flat = torch.zeros(50_000, 2, requires_grad=True)
    out = InstanceNoise(sigma=0.1)(flat)
    assert out.shape == flat.shape and out.std().item() == pytest.approx(0.1, rel=0.02)
    out.sum().backward()
    assert torch.equal(flat.grad, torch.ones_like(flat))  # the fake's gradient passes unchanged


def test_instance_noise_rejects_bad_values():
    with pytest.raises(ValueError, match=r"augment\.instance_noise\.sigma=-0.1; valid"):
        InstanceNoise(sigma=-0.1)
    with pytest.raises(ValueError, match=r"augment\.instance_noise\.anneal_steps=-1; valid"):
        InstanceNoise(anneal_steps=-1)


def _in_defaults() -> bool:
    """Whether conf/train.yaml lists the augment group (then `augment=X`, else `+augment=X`)."""
    return "- augment:" in (Path(CONFIG_DIR) / "train.yaml").read_text()


@pytest.mark.parametrize("option", ["diffaugment", "instance_noise"])
def test_configs_instantiate(compose_cfg, option):
    override = f"augment={option}" if _in_defaults() else f"+augment={option}"
    cfg = compose_cfg(override, "trainer.max_steps=40")
    augs = instantiate(cfg.augment)
    assert list(augs) == [option]
    aug = augs[option]
    if option == "diffaugment":
        assert repr(aug) == "DiffAugment(policy='color,translation,cutout', translation_ratio=0.125, cutout_ratio=0.5)"
    else:
        assert aug.sigma_at(0) == 0.1 and aug.anneal_steps == 40  # follows trainer.max_steps
