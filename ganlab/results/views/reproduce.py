"""Views of the reproductions in experiments/README.md: VEEGAN and PacGAN tables, Stacked-MNIST-lite."""

from __future__ import annotations

import math

from ganlab.results.registry import Record, Table, view
from ganlab.results.stats import ci_note, diff_ci, diff_text, mean_se
from ganlab.results.tables import num, select, sig, values

METRICS = {"modes": "modes", "high_quality": "high quality", "reverse_kl": "reverse KL"}
CI_NOTE = ("CI: percentile bootstrap over seeds of the difference of means (`ganlab.results.diff_ci`); with 3 "
           "seeds an interval under-covers, and one that holds 0 means the difference is not established.")


def fmt(metric: str, x: float, digits: int | None = None) -> str:
    """modes as counts, high quality in percent, reverse KL to 2 significant figures."""
    if metric == "modes":
        return num(x, 1 if digits is None else digits).removesuffix(".0")
    if metric == "high_quality":
        return f"{x:.1f} %"
    return sig(x, 2)


def measured(runs: list[Record], metric: str) -> tuple[float, float, str]:
    """Mean, SE and ``mean ± SE`` of a metric over seeds."""
    m, se = mean_se(values(runs, metric))
    if metric == "high_quality":
        return m, se, f"{m:.1f} ± {se:.1f} %"
    if metric == "modes":
        whole = se == 0 and m == int(m)
        return m, se, f"{m:.0f} ± 0" if whole else f"{m:.1f} ± {se:.1f}"
    return m, se, kl(m, se)


def kl(m: float, se: float) -> str:
    """A reverse KL and its SE with the decimals of 2 significant figures of the mean (at least 2)."""
    digits = max(2, 1 - math.floor(math.log10(abs(m)))) if m else 2
    return f"{m:.{digits}f} ± {se:.{digits}f}"


def agreement(mean: float, se: float, published: float | None, error: float | None) -> str:
    """``yes`` within the combined standard error, else ``no (k σ)``; ``–`` when nothing is published."""
    if published is None:
        return "–"
    combined = math.hypot(se, error or 0.0)
    gap = abs(mean - published)
    if gap <= combined:
        return "yes"
    return f"no ({gap / combined:.1f} σ)" if combined > 0 else f"no (by {gap:.3g}; no error bars)"


def presets(records: list[Record]) -> list[tuple[str, str, list[Record]]]:
    """(study, preset, runs) in the order of the records' files."""
    seen: dict[tuple[str, str], list[Record]] = {}
    for r in records:
        seen.setdefault((r["study"], r["params"]["preset"]), []).append(r)
    studies = list(dict.fromkeys(s for s, _ in seen))  # the marker's order of studies, then ring before grid
    order = sorted(seen, key=lambda k: (studies.index(k[0]), "grid" in k[1], "_gan_" not in k[1], k[1]))
    return [(s, p, seen[(s, p)]) for s, p in order]


DIGITS = {"modes": 1, "high_quality": 1, "reverse_kl": 2}


def differences(a: list[Record], b: list[Record], metrics: tuple[str, ...] = tuple(METRICS)) -> str:
    """``modes -17.6 [-21.0, -14.2], high quality ...``: mean(a) - mean(b) per metric with its bootstrap CI."""
    names = {**METRICS, "high_quality": "high quality (percentage points)"}
    return ", ".join(f"{names[m]} {diff_text(values(a, m), values(b, m), DIGITS[m])}" for m in metrics)


def of(preset: str) -> str:
    return " (of 8)" if "ring" in preset else " (of 25)" if "grid" in preset else ""


@view("veegan", header=["preset", "metric", "published (Srivastava et al. 2017, Table 1; 5 runs, no error bars)",
                        "measured (mean ± SE)", "n", "agree"])
def veegan(records: list[Record]) -> Table:
    """VEEGAN's Table 1 protocol: each preset's runs against the published number (reproduce.json's runs)."""
    rows = []
    for study, preset, runs in presets(records):
        label = f"`{preset}`" + (" with the authors' code settings" if "authors" in study else "")
        pub = runs[0].get("published") or {}
        for i, (metric, name) in enumerate(METRICS.items()):
            mean, se, text = measured(runs, metric)
            p = pub.get(metric)
            rows.append([label if i == 0 else "", name + (of(preset) if metric == "modes" else ""),
                         "–" if p is None else fmt(metric, p), text, len(runs),
                         agreement(mean, se, p, pub.get(f"{metric}_error"))])
    notes = ["agree: the published mean lies within the measured standard error (combined with the published one "
             "where the paper gives it)."]
    runs = {(study, preset): r for study, preset, r in presets(records)}
    gan, authors, unrolled = "veegan_gan-cpu", "veegan_gan_authors_code-cpu", "veegan_unrolled-cpu"
    between, counts = [], set()
    for (study, preset), label in (((authors, "veegan_gan_grid"), "grid, the authors' code settings minus the "
                                                                  "defaults"),
                                   ((unrolled, "veegan_unrolled_ring"), "ring, Unrolled GAN minus GAN"),
                                   ((unrolled, "veegan_unrolled_grid"), "grid, Unrolled GAN minus GAN")):
        base = runs.get((gan, preset.replace("unrolled", "gan")))
        if (study, preset) in runs and base:
            between.append(f"{label}: {differences(runs[(study, preset)], base)}")
            counts |= {len(runs[(study, preset)]), len(base)}
    if between:
        notes.append("Between settings, differences of means [95 % CI]: " + "; ".join(between) + ". "
                     + ci_note(*counts))
    return Table(rows=rows, notes=notes)


@view("pacgan", header=["preset", "modes: published / measured", "high quality: published / measured",
                        "reverse KL: published / measured", "seeds"])
def pacgan(records: list[Record]) -> Table:
    """PacGAN's Table 1 presets at a reduced budget (published: mean ± SE over 10 trials), and each packed preset
    against the GAN of its mixture (bootstrap CI of the difference over seeds)."""
    rows, by_preset = [], {}
    for _, preset, runs in presets(records):
        by_preset[preset] = runs
        pub = runs[0]["published"]
        cells = []
        for metric in METRICS:
            p, e = pub[metric], pub[f"{metric}_error"]
            published = (f"{p:.1f} ± {e:.1f} %" if metric == "high_quality" else
                         f"{p:.2f} ± {e:.2f}" if metric == "reverse_kl" else f"{p:g} ± {e:g}")
            cells.append(f"{published} / {measured(runs, metric)[2]}")
        rows.append([f"`{preset}`", *cells, len(runs)])
    between, counts = [], set()
    for preset, runs in by_preset.items():
        base = by_preset.get("pacgan_gan_" + preset.rsplit("_", 1)[1])
        if preset.startswith("pacgan_gan_") or base is None:
            continue
        between.append(f"`{preset}` minus `pacgan_gan_{preset.rsplit('_', 1)[1]}`: {differences(runs, base)}")
        counts |= {len(runs), len(base)}
    notes = (["Measured, differences of means [95 % CI]: " + "; ".join(between) + ". " + ci_note(*counts)]
             if between else [])
    return Table(rows=rows, notes=notes)


@view("ensemble_vs_separate", header=["metric", "separate runs (mean ± SE)", "ensemble (mean ± SE)",
                                      "difference / combined SE", "difference [95 % CI]"])
def ensemble_vs_separate(records: list[Record]) -> Table:
    """The VEEGAN ring as separate runs and as one seed ensemble of the same protocol."""
    separate = select([r for r in records if r["study"] == "veegan_gan-cpu"], preset="veegan_gan_ring")
    ensemble = [r for r in records if r["study"] == "veegan_gan_ensemble-cpu"]
    rows = []
    for metric, name in METRICS.items():
        (m1, se1, t1), (m2, se2, t2) = measured(separate, metric), measured(ensemble, metric)
        combined = math.hypot(se1, se2)
        ci = diff_ci(values(ensemble, metric), values(separate, metric))
        digits = 1 if metric != "reverse_kl" else 3
        rows.append([name, f"{t1} ({len(separate)} seeds)", f"{t2} ({len(ensemble)} members)",
                     f"{(m2 - m1) / combined:+.2f}" if combined else "0",
                     f"{ci.diff:+.{digits}f} [{ci.low:+.{digits}f}, {ci.high:+.{digits}f}]"
                     + ("" if ci.established else ": not established")])
    return Table(rows=rows, records=separate + ensemble, notes=[ci_note(len(separate), len(ensemble))])


STACKED = {"budget10000": 10000, "budget5000": 5000, "budget5000-unrolled": 5000}


@view("stacked_h100", header=["preset", "steps", "modes of 1,000 (mean ± SE, per seed)", "reverse KL (mean ± SE)",
                              "min per run"])
def stacked_h100(records: list[Record]) -> Table:
    """Stacked-MNIST-lite on one H100 at reduced budgets (reproduce.json), and the first-order unrolled run."""
    rows, used = [], []
    for budget in STACKED:
        for _, preset, runs in presets([r for r in records if r["study"] == f"stacked_mnist5k-h100/{budget}"]):
            modes = values(runs, "modes")
            m, se = mean_se(modes)
            k, kse = mean_se(values(runs, "reverse_kl"))
            label = f"`{preset}`" + (" (3 steps, second order)" if "unrolled" in preset else "")
            rows.append([label, num(STACKED[budget], 0), f"{m:.0f} ± {se:.0f} ({', '.join(f'{x:.0f}' for x in modes)})"
                         if se >= 1 else f"{m:.0f} ± {se:.1f} ({', '.join(f'{x:.0f}' for x in modes)})",
                         f"{k:.2f} ± {kse:.2f}", f"{sum(values(runs, 'wall_s')) / len(runs) / 60:.1f}"])
            used += runs
    first = [r for r in records if r["study"] == "stacked_mnist5k-h100/curves" and not r["params"]["second_order"]]
    for r in first:
        rows.append(["`stacked_mnist5k_unrolled game.unroll.second_order=false` (seed 0 only)",
                     num(r["metrics"]["step"], 0), f"{r['metrics']['modes']:.0f}",
                     f"{r['metrics']['reverse_kl']:.2f}", "–"])
    base10, pac10 = (select([r for r in used if r["study"].endswith("budget10000")], preset=p)
                     for p in ("stacked_mnist5k", "stacked_mnist5k_pacgan2"))
    notes = []
    for metric, label in (("modes", "modes"), ("reverse_kl", "reverse KL")):
        ci = diff_ci(values(pac10, metric), values(base10, metric))
        digits = 0 if metric == "modes" else 2
        notes.append(f"PacGAN2 minus the baseline at 10,000 steps, {label}: {ci.diff:+.{digits}f} "
                     f"[{ci.low:+.{digits}f}, {ci.high:+.{digits}f}]"
                     + (": not established." if not ci.established else "."))
    return Table(rows=rows, records=used + first, notes=[" ".join(notes) + " " + CI_NOTE])


@view("stacked_curves", header=["run", "seed", "modes at step 1,000", "2,000", "3,000", "4,000", "5,000"])
def stacked_curves(records: list[Record]) -> Table:
    """Modes of 1,000 at each evaluation of the 5,000-step H100 runs (curves.json), every run."""
    rows = []
    runs = [r for r in records if "val/modes" in r.get("series", {}) and 5000 in _steps(r)]
    runs.sort(key=lambda r: (r["params"]["preset"], not r["params"]["second_order"], r["run"]))
    for r in runs:
        s = _modes(r)
        name = f"`{r['params']['preset']}`" + ("" if r["params"]["second_order"] else " first order")
        rows.append([name, r["params"]["seed"], *(f"{s[k]:.0f}" for k in range(1000, 5001, 1000))])
    notes = []
    for step in (3000, 4000, 5000):
        pac, base = ([_modes(r)[step] for r in runs if r["params"]["preset"] == p and r["params"]["second_order"]]
                     for p in ("stacked_mnist5k_pacgan2", "stacked_mnist5k"))
        ci = diff_ci(pac, base)
        notes.append(f"step {step:,}: {ci.diff:+.0f} [{ci.low:+.0f}, {ci.high:+.0f}]"
                     + ("" if ci.established else " (not established)"))
    return Table(rows=rows, records=runs, notes=["PacGAN2 minus the baseline, modes [95 % CI], "
                                                 + "; ".join(notes) + ". " + CI_NOTE])


def _modes(r: Record) -> dict[int, float]:
    return {int(k): v for k, v in r["series"]["val/modes"].items()}


def _steps(r: Record) -> set[int]:
    return set(_modes(r))


WINDOWS = [(0, 2000), (2000, 3000), (3000, 4000), (4000, 5000)]


@view("stacked_d_loss", header=["run", "seed", *(f"median D loss, steps {a:,}-{b:,}" for a, b in WINDOWS),
                                "logged steps with D loss < 0.06", "largest (step)"])
def stacked_d_loss(records: list[Record]) -> Table:
    """train/d_loss of the H100 Stacked-MNIST runs (logged every 50 steps, curves.json), by window of steps."""
    runs = [r for r in records if "train/d_loss" in r.get("series", {})]
    runs.sort(key=lambda r: (r["params"]["preset"], not r["params"]["second_order"], r["run"]))
    rows = []
    for r in runs:
        d = {int(k): v for k, v in r["series"]["train/d_loss"].items()}
        cells = []
        for a, b in WINDOWS:
            xs = sorted(v for k, v in d.items() if a < k <= b)
            cells.append(sig((xs[len(xs) // 2] + xs[(len(xs) - 1) // 2]) / 2, 2) if xs else "–")
        top = max(d, key=d.get)
        name = f"`{r['params']['preset']}`" + ("" if r["params"]["second_order"] else " first order")
        rows.append([name, r["params"]["seed"], *cells, f"{sum(v < 0.06 for v in d.values()) / len(d):.0%}",
                     f"{sig(d[top], 3)} ({top:,})"])
    return Table(rows=rows, records=runs)


@view("ring_second_opinion", header=["code", "settings", "seeds", "modes of 8 (mean ± SE)", "modes per seed",
                                     "seeds below 3 modes", "high quality (mean ± SE)"])
def ring_second_opinion(records: list[Record]) -> Table:
    """The 8-Gaussian ring GAN at 25,000 steps: ganlab's runs (veegan_gan_ring) beside the stand-alone
    plain-PyTorch script (scripts/studies/ring_standalone.py), each seed's last evaluation."""
    groups: dict[tuple[str, str], list[Record]] = {}
    for r in records:
        params = r.get("params") or {}
        if r["study"].startswith("ring_standalone"):
            settings = ("authors' notebook: " if params.get("init") == "orthogonal" and params.get("loss") == "minimax"
                        and params.get("game") == "simultaneous" else "") + (
                f"{params.get('loss')}, {params.get('init')} init, {params.get('game')}, {params.get('adam')} Adam")
            key = ("stand-alone script", settings)
        elif params.get("preset") == "veegan_gan_ring":
            key = ("ganlab", params.get("overrides") or "preset defaults (nonsaturating, torch init, alternating)")
        else:
            continue
        groups.setdefault(key, []).append(r)
    rows, used = [], []
    # ganlab's runs, the script under ganlab's default settings beside them, then the script under the authors'
    for (code, settings), runs in sorted(groups.items(), key=lambda kv: (kv[0][0] != "ganlab", "authors" in kv[0][1])):
        runs = sorted(runs, key=lambda r: r["params"]["seed"])
        modes = values(runs, "modes")
        rows.append([code, settings, len(runs), measured(runs, "modes")[2],
                     " ".join(f"{x:.0f}" for x in modes), f"{sum(x < 3 for x in modes)} of {len(modes)}",
                     measured(runs, "high_quality")[2]])
        used += runs
    ganlab_defaults = groups.get(("ganlab", "preset defaults (nonsaturating, torch init, alternating)"))
    script = {"authors" in settings: v for (code, settings), v in groups.items() if code == "stand-alone script"}
    between = []
    if False in script and ganlab_defaults:
        between.append(f"the script minus ganlab, both under ganlab's default settings: "
                       f"{differences(script[False], ganlab_defaults, ('modes', 'high_quality'))}")
        if True in script:
            between.append(f"the script under the authors' notebook settings minus the script under ganlab's "
                           f"default settings: "
                           f"{differences(script[True], script[False], ('modes', 'high_quality'))}")
    notes = ["modes and high quality: the papers' protocol (2,500 samples, within 3 std of the nearest centre) at each "
             "run's last evaluation, step 25,000."]
    if between:
        notes.append("Differences of means [95 % CI]: " + "; ".join(between) + ". "
                     + ci_note(*(len(v) for v in groups.values())))
    return Table(rows=rows, records=used, notes=notes)


CURVE_STEPS = (1000, 5000, 10000, 15000, 20000, 25000)


@view("ring_standalone_curves", header=["settings", "seed", *(f"modes at {s:,}" for s in CURVE_STEPS),
                                        "fewest modes, steps 5,000-25,000", "evaluations below 8 modes",
                                        "high quality at 25,000"])
def ring_standalone_curves(records: list[Record]) -> Table:
    """The stand-alone ring runs' mode counts along training (each record's ``curve``, every 1,000 steps)."""
    rows = []
    for r in sorted(records, key=lambda r: (r["study"], r["params"]["seed"])):
        at = {row["step"]: row for row in r["curve"]}
        later = [row["modes"] for row in r["curve"] if row["step"] >= 5000]
        settings = "authors' notebook" if r["params"].get("init") == "orthogonal" else "ganlab's default settings"
        rows.append([settings, r["params"]["seed"], *(at[s]["modes"] if s in at else "–" for s in CURVE_STEPS),
                     min(later), f"{sum(row['modes'] < 8 for row in r['curve'])} of {len(r['curve'])}",
                     f"{r['metrics']['high_quality']:.1f} %"])
    return Table(rows=rows, notes=["modes: of 8, on 2,500 samples from fresh z, within 3 std of the nearest centre."])


COLLAPSED_BELOW = {"ring": 3, "grid": 10}  # issue 32's rule: a seed below this many modes has collapsed


def toy_row(r: Record) -> tuple[str, str, str] | None:
    """(row of VEEGAN's Table 1, code, settings) of a ring/grid record, or None for another record."""
    params = r.get("params") or {}
    if r["study"].startswith("ring_standalone"):
        authors = params.get("init") == "orthogonal" and params.get("loss") == "minimax"
        return "GAN, ring", "stand-alone script", "authors' notebook" if authors else "ganlab's defaults"
    preset = params.get("preset", "")
    if not preset.startswith("veegan_"):
        return None
    overrides = params.get("overrides") or ""
    authors = "loss=minimax" in overrides and "init=orthogonal" in overrides
    settings = "authors' notebook" if authors else "preset defaults"
    if "objective=saddle" in overrides:
        settings += ", saddle objective"
    kind = "Unrolled GAN" if "unrolled" in preset else "GAN"
    return f"{kind}, {'grid' if preset.endswith('grid') else 'ring'}", "ganlab", settings


@view("mode_distributions", header=["row", "code", "settings", "seeds", "modes (mean ± SE)", "modes: value × seeds",
                                    "collapsed seeds [95 % CI]", "high quality (mean ± SE)", "published modes",
                                    "5-seed means, central 90 %", "published inside"])
def mode_distributions(records: list[Record]) -> Table:
    """Seed distributions of the toy rows of VEEGAN's Table 1: every seed's modes at its last evaluation, the
    share of collapsed seeds with its exact interval, and whether the published 5-run mean lies inside the
    central 90 % of 5-seed means bootstrapped from these seeds (``ganlab.results.subsample_means``)."""
    from ganlab.results.stats import share_ci, subsample_means

    groups: dict[tuple[str, str, str], list[Record]] = {}
    for r in records:
        key = toy_row(r)
        if key is not None:
            groups.setdefault(key, []).append(r)
    rows, used = [], []
    order = sorted(groups, key=lambda k: ("grid" in k[0], "Unrolled" in k[0], k[1] != "ganlab", k[2]))
    for row, code, settings in order:
        runs = groups[(row, code, settings)]
        runs = sorted(runs, key=lambda r: r["params"]["seed"])
        seeds = [r["params"]["seed"] for r in runs]
        if len(set(seeds)) != len(seeds):  # the same seed measured twice (e.g. separately and in an ensemble)
            raise ValueError(f"mode_distributions: row {row!r} ({code}, {settings}) holds seeds more than once: "
                             f"{sorted({s for s in seeds if seeds.count(s) > 1})}; mark one study per row's seeds")
        modes = values(runs, "modes")
        below = COLLAPSED_BELOW["grid" if "grid" in row else "ring"]
        collapsed = sum(m < below for m in modes)
        lo, hi = share_ci(collapsed, len(modes))
        hist = ", ".join(f"{v:g} × {modes.count(v)}" for v in sorted(set(modes), reverse=True))
        published = next((r.get("published", {}).get("modes") for r in runs if r.get("published")), None)
        if published is None and code == "stand-alone script":
            published = 1.0  # VEEGAN Table 1, GAN on the ring (the script writes no published block)
        if len(modes) > 1:
            b_lo, b_hi = subsample_means(modes, k=5)
            band = f"{b_lo:.1f} – {b_hi:.1f}"
            inside = "–" if published is None else ("yes" if b_lo <= published <= b_hi else "no")
        else:
            band, inside = "–", "–"
        rows.append([row, code, settings, len(runs), measured(runs, "modes")[2], hist,
                     f"{collapsed} of {len(modes)} [{lo:.0%}, {hi:.0%}]", measured(runs, "high_quality")[2],
                     "–" if published is None else f"{published:g}", band, inside])
        used += runs
    return Table(rows=rows, records=used, notes=[
        "Each seed's modes and high-quality share at its last evaluation (2,500 samples, within 3 std of the nearest "
        "centre; 25,000 steps). Collapsed: below 3 modes on the ring, below 10 on the grid; the interval is "
        "Clopper-Pearson. 5-seed means: the central 90 % of the means of 5 seeds drawn with replacement from this "
        "row's seeds (20,000 draws), what a 5-run mean such as the paper's would scatter over if this row's "
        "distribution were the paper's."])
