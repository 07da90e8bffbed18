"""Speed switches and the benchmark harness (tiny sizes; timings are not asserted, only their bookkeeping)."""

from __future__ import annotations

import pytest
import torch

from ganlab.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from ganlab.perf import apply_perf
from ganlab.tools.bench import CASES, markdown, run_case


def test_channels_last_and_tf32_switches():
    g, d = DCGANGenerator(resolution=16, width=8), DCGANDiscriminator(resolution=16, width=8)
    before = torch.get_float32_matmul_precision()
    try:
        fmt = apply_perf(g, d, tf32=True, channels_last=True)
        assert fmt is torch.channels_last
        assert torch.get_float32_matmul_precision() == "high"
        conv = next(m for m in d.modules() if isinstance(m, torch.nn.Conv2d) and m.weight.shape[-1] > 1)
        assert conv.weight.is_contiguous(memory_format=torch.channels_last)
        x = g(torch.randn(2, 100))
        assert d(x.contiguous(memory_format=fmt)).shape == (2,)
    finally:
        torch.set_float32_matmul_precision(before)
    assert apply_perf(g, d) is torch.contiguous_format


def test_channels_last_gives_the_same_networks(compose_cfg):
    from ganlab.assembly import build_module

    args = ("generator=dcgan", "discriminator=dcgan", "generator.width=8", "discriminator.width=8")
    torch.manual_seed(0)
    plain = build_module(compose_cfg(*args))
    torch.manual_seed(0)
    nhwc = build_module(compose_cfg(*args, "perf.channels_last=true"))
    assert nhwc.memory_format is torch.channels_last and plain.memory_format is torch.contiguous_format
    z = torch.randn(4, 100)
    x_plain, x_nhwc = plain.generator.eval()(z), nhwc.generator.eval()(z)
    assert torch.allclose(x_plain, x_nhwc, atol=1e-5)  # same weights and values, another memory layout
    d_plain = plain.discriminator.eval()(x_plain)
    d_nhwc = nhwc.discriminator.eval()(x_nhwc.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(d_plain, d_nhwc, atol=1e-5)


@pytest.mark.parametrize("case", sorted(CASES))
def test_benchmark_case_runs_and_reports(case, tmp_path):
    shrink = {"mlp_mnist5k": ["generator.hidden=[16]", "discriminator.hidden=[16]"],
              "toy_ring_veegan": [],
              "dcgan32_mnist5k": ["generator.width=4", "discriminator.width=4"],
              "dcgan_wgan_gp": ["generator.width=4", "discriminator.width=4"]}[case]
    result = run_case(case, shrink, rounds=2, warmup=2, device=torch.device("cpu"), out=tmp_path, steps=3)
    row = result.row()
    assert len(result.ganlab_ms) == len(result.plain_ms) == 6  # 2 rounds x 3 timed steps each side
    assert len(result.round_ratios) == 2 and row["ratio_range"][0] <= row["ratio"] <= row["ratio_range"][1]
    assert row["ratio"] == pytest.approx(sum(result.round_ratios) / 2, rel=1e-2)  # median of two = mean
    assert row["ganlab_img_s"] == pytest.approx(row["batch"] * 1000 / row["ganlab_ms"], rel=1e-2)
    assert 0 <= row["data_share"] < 1
    table = markdown([row], "title")
    assert f"| {case} | {row['batch']} |" in table
