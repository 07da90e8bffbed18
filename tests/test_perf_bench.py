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


def _raw(ratios: dict[str, list[float]], plain_ms: float = 10.0) -> dict:
    """Synthetic readings: per run and round, a median ratio to a plain step of ``plain_ms`` (means 10 % higher)."""
    return {name: [{"ms": q * plain_ms, "plain_ms": plain_ms, "ratio": q, "mean_ms": 1.1 * q * plain_ms,
                    "plain_mean_ms": plain_ms, "mean_ratio": 1.1 * q} for q in qs] for name, qs in ratios.items()}


def test_component_costs_are_ratio_differences_times_the_plain_step():
    from ganlab.tools.bench_components import summarize

    s = summarize(_raw({"ganlab": [1.10, 1.12, 1.08], "bare": [1.05, 1.06, 1.04], "no_health": [1.07, 1.08, 1.07]}))
    assert s["plain_ms"] == 10.0 and s["ganlab_ms"] == pytest.approx(11.0) and s["bare_ms"] == pytest.approx(10.5)
    assert s["ratio_plain"] == pytest.approx(1.10) and s["ratio_plain_range"] == pytest.approx([1.08, 1.12])
    assert s["ratio_bare"] == pytest.approx(1.10 / 1.05)  # the median of the per-round ratios
    health = s["costs"]["health"]
    assert health["ms"] == pytest.approx(0.3)  # per round 0.3, 0.4, 0.1 ms: median 0.3
    assert health["range_ms"] == pytest.approx([0.1, 0.4]) and health["share"] == pytest.approx(0.3 / 11.0)
    assert health["mean_ms"] == pytest.approx(0.33)


def _record(commit: str, date: str, ganlab_ms: float) -> dict:
    from ganlab.tools.bench_components import COMPONENTS, summarize

    s = summarize(_raw({"ganlab": [ganlab_ms / 10], "bare": [1.05], "no_ema": [1.0]}))
    s.update(not_on=[c for c in COMPONENTS if c != "ema"], batch=64,
             counts={"plain": {"calls": 100, "ops": 10}, "bare": {"calls": 150, "ops": 10},
                     "ganlab": {"calls": 180, "ops": 12}, "no_ema": {"calls": 170, "ops": 11}})
    return {"study": "components", "run": date, "command": "python scripts/bench/benchmark.py --components",
            "commit": commit, "machine": "cpu-2core", "date": date, "metrics": {}, "card": None,
            "settings": {"clock": "wall", "component_labels": {"health": "health monitor", "ema": "EMA of G"}},
            "cases": {"mlp_mnist5k": s}}


def test_tables_are_the_median_of_the_newest_commits_invocations_with_their_range():
    from ganlab.results import get_view
    from ganlab.results.tables import markdown_table

    records = [_record(commit, f"2026-12-0{i + 1}T00:00:00", ms)
               for i, (commit, ms) in enumerate([("old", 99.0), ("abc", 11.0), ("abc", 12.0), ("abc", 11.5)])]
    ratios = get_view("component_ratios")(records)
    assert [r["commit"] for r in ratios.records] == ["abc"] * 3  # the newest commit's invocations only
    # the last column: the synthetic means are 1.1 x the medians
    assert ratios.rows == [["seed MLP (batch 64)", "11.50 (11.00–12.00)", "10.00 (10.00–10.00)",
                            "1.150 (1.100–1.200) (≤ 1.05)", "1.095 (1.048–1.143)", "1.265 (1.210–1.320)"]]
    assert "3 record(s)" in ratios.notes[0] and "wall time" in ratios.notes[0]
    table = get_view("components")(records)
    text = markdown_table(table.header, table.rows)
    assert "| seed MLP (batch 64) | − EMA of G | +1.500 (+1.000–+2.000) |" in text  # (ratio - 1.0) x 10 ms
    assert "| seed MLP (batch 64) | − health monitor | not on in this case |" in text
    assert "| 180 | 12 |" in text and "| +10 | +1 |" in text  # counts: ganlab's, and what EMA adds


def test_cases_measured_by_separate_invocations_share_one_table():
    from ganlab.results import get_view

    mlp = _record("abc", "2026-12-01T00:00:00", 11.0)
    toy = _record("abc", "2026-12-02T00:00:00", 12.0)
    toy["cases"] = {"toy_ring_veegan": toy["cases"].pop("mlp_mnist5k")}
    rows = get_view("component_ratios")([toy, mlp]).rows
    assert [row[0] for row in rows] == ["seed MLP (batch 64)", "toy ring (VEEGAN MLP, batch 512)"]
    assert rows[0][1] == "11.00" and rows[1][1] == "12.00"  # each from the one invocation that measured it


def test_component_run_of_a_tiny_toy_writes_a_record(tmp_path):
    import json

    from ganlab.tools.bench_components import record, run_components

    shrink = ["generator.hidden=[8]", "discriminator.hidden=[8]", "generator.z_dim=4", "dataset.batch_size=32"]
    result = run_components("toy_ring_veegan", shrink, rounds=1, warmup=2, device=torch.device("cpu"), out=tmp_path,
                            steps=3, components=["ema", "evaluation"], log=lambda line: None, count_steps=2)
    s = result["summary"]
    assert set(result["raw"]) == {"ganlab", "bare", "no_ema"} and s["not_on"] == ["evaluation"]  # toy: metrics=none
    assert s["ganlab_ms"] > 0 and s["bare_ms"] > 0 and set(s["costs"]) == {"ema"}
    # EMA is one foreach lerp, and the health monitor's D statistics are ganlab's extra aten ops over the bare run
    assert s["counts"]["ganlab"]["ops"] - s["counts"]["no_ema"]["ops"] == 1
    assert s["counts"]["ganlab"]["calls"] > s["counts"]["bare"]["calls"] > s["counts"]["plain"]["calls"]
    path = record({"toy_ring_veegan": result}, {"clock": "wall"}, "components-test", root=tmp_path)
    written = json.loads(path.read_text())
    assert {"study", "run", "command", "commit", "machine", "date", "metrics", "card"} <= set(written)
    assert written["study"] == "components-test" and written["metrics"]["toy_ring_veegan/ratio_plain"] > 0
    assert written["metrics"]["toy_ring_veegan/ops_per_step/ganlab"] == s["counts"]["ganlab"]["ops"]
    assert written["cases"]["toy_ring_veegan"]["ganlab_ms"] == s["ganlab_ms"]


def test_default_run_view_reads_before_after_and_their_ratio():
    from ganlab.results import get_view

    def rec(date, this, base):
        summary = {"this_wall_s": this, "this_cpu_s": this * 0.9, "baseline_wall_s": base,
                   "baseline_cpu_s": base * 0.9, "wall_ratio": this / base, "cpu_ratio": this / base}
        return {"study": "default_run", "run": date, "command": "python scripts/bench/benchmark.py --default-run 100",
                "commit": "1234567abc", "machine": "cpu-2core", "date": date, "metrics": {}, "card": None,
                "settings": {"baseline": "abcdef0123", "steps": 100, "repeats": 1},
                "cases": {"default_run": summary}}

    table = get_view("default_run_time")([rec("2026-12-01", 90.0, 100.0), rec("2026-12-02", 110.0, 100.0)])
    assert table.rows == [["before (`abcdef0`)", "100.0 (100.0–100.0)", "90.0 (90.0–90.0)"],
                          ["after (`1234567`)", "100.0 (90.0–110.0)", "90.0 (81.0–99.0)"],
                          ["after / before", "1.000 (0.900–1.100)", "1.000 (0.900–1.100)"]]
    assert "trainer.max_steps=100" in table.notes[0]


def test_counts_view_has_a_column_pair_per_commit_and_what_each_component_adds():
    from ganlab.results import get_view

    def rec(commit, date, ganlab_calls, health_calls):
        counts = {"plain": {"calls": 100, "ops": 10}, "bare": {"calls": 150, "ops": 10},
                  "ganlab": {"calls": ganlab_calls, "ops": 18}, "no_health": {"calls": health_calls, "ops": 10}}
        return {"study": "component_counts", "run": date, "command": "c", "commit": commit, "machine": "m",
                "date": date, "metrics": {}, "card": None,
                "settings": {"component_labels": {"health": "health monitor"}},
                "cases": {"toy_ring_veegan": {"counts": counts}}}

    table = get_view("component_counts")([rec("bbbbbbb222", "2026-12-02", 180, 170),
                                          rec("aaaaaaa111", "2026-12-01", 300, 200)])
    assert table.header[2:] == ["Python calls/step (`aaaaaaa`)", "aten ops/step (`aaaaaaa`)",
                                "Python calls/step (`bbbbbbb`)", "aten ops/step (`bbbbbbb`)"]  # oldest first
    rows = {row[1]: row[2:] for row in table.rows}
    assert rows["ganlab, every default on"] == ["300", "18", "180", "18"]
    assert rows["− health monitor"] == ["+100", "+8", "+10", "+8"]
