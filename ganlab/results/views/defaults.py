"""Views of the default run's tables in experiments/README.md: the loss table, the default run, its tuning."""

from __future__ import annotations

from typing import Any

from ganlab.results.registry import Record, Table, view
from ganlab.results.stats import ci_note, diff_text, mean_std
from ganlab.results.tables import feature_space, not_recorded, num, only, per_run, recorded, select, values

DIGITS = ["zeros", "ones", "twos", "threes", "fours", "fives", "sixes", "sevens", "eights", "nines"]
BAND = (7.0, 13.0)  # the default run's target: every digit within 7-13 % of the samples


@view("losses")
def losses(records: list[Record]) -> Table:
    """The DCGAN preset at 600 steps with each loss, one seed: training-time FID (digit features v1)."""
    rows = sorted(records, key=lambda r: r["metrics"]["fid_step600"])
    fs = feature_space(records)
    return Table(header=["loss (`loss=`)", f"FID ({fs}), step 300", f"FID ({fs}), step 600"],
                 rows=[[f"{r['params']['label']} (`{r['params']['loss']}`)", num(r["metrics"]["fid_step300"]),
                        num(r["metrics"]["fid_step600"])] for r in rows],
                 notes=["One seed per loss: no interval; a difference between two rows is not established (the order "
                        "of the rows is not a ranking).", *filter(None, [not_recorded(records)])])


def share(p: float, name: str | None = None) -> str:
    """``7.8 %`` (bold outside the 7-13 % band), with the class name when given."""
    s = f"{p:.1f} %"
    s = s if BAND[0] <= p <= BAND[1] else f"**{s}**"
    return f"{s} ({name})" if name else s


def class_range(r: Record) -> tuple[float, float, str | None, str | None]:
    """Smallest and largest class share (percent) and their names, from ganlab-eval's class_k_pct or a record."""
    m = r["metrics"]
    if "class_0_pct" in m:
        shares = [m[f"class_{k}_pct"] for k in range(10)]
        lo, hi = min(range(10), key=shares.__getitem__), max(range(10), key=shares.__getitem__)
        return shares[lo], shares[hi], DIGITS[lo], DIGITS[hi]
    p = r.get("params", {})
    return m["class_min_pct"], m["class_max_pct"], p.get("class_min"), p.get("class_max")


def speckle_ratio(x: float) -> str:
    return num(x, 0) if x >= 100 else num(x, 1)


def eval_row(label: str, r: Record, classes: Record | None = None, prefix: str = "") -> list[Any]:
    """One run's ganlab-eval numbers (``prefix`` ``eval/`` for the sweep's CSV columns)."""
    m = r["metrics"]
    lo, hi, lo_name, hi_name = class_range(classes or r)
    pr = (f"{m[f'{prefix}precision']:.3f} / {m[f'{prefix}recall']:.3f}" if f"{prefix}precision" in m else "–")
    return [label, num(m[f"{prefix}fid"], 2 if m[f"{prefix}fid"] < 10 else 1), pr, f"{m[f'{prefix}class_kl']:.3f}",
            f"{share(lo, lo_name)} / {share(hi, hi_name)}", f"{m[f'{prefix}speckle']:.4f}",
            speckle_ratio(m[f"{prefix}speckle_vs_real"]), f"{m[f'{prefix}confidence']:.3f}"]


def seeds_row(label: str, runs: list[Record], means: Record | None = None, prefix: str = "",
              classes: list[Record] | None = None) -> list[Any]:
    """Several seeds in one row: per-seed values where records hold them, else the mean the history kept."""
    runs = sorted(runs, key=lambda r: r["params"]["seed"])
    classes = sorted(classes or runs, key=lambda r: r["params"]["seed"])

    def col(name: str, fmt: str, mean_only: bool = False) -> str:
        vals = [r["metrics"].get(f"{prefix}{name}") for r in runs]
        if None in vals:  # only the mean survives (a "no per-run records" source)
            return format(means["metrics"][name], fmt) if means and name in means["metrics"] else "–"
        return format(sum(vals) / len(vals), fmt) if mean_only else ", ".join(format(v, fmt) for v in vals)

    ranges = []
    for c in classes:
        lo, hi, _, _ = class_range(c)
        ranges.append(f"{share(lo)} / {share(hi)}")
    ratio = col("speckle_vs_real", ".1f", mean_only=True)
    held = all(f"{prefix}precision" in r["metrics"] for r in runs)
    pr = f"{col('precision', '.3f', mean_only=True)} / {col('recall', '.3f', mean_only=True)}" if held else "–"
    return [label, col("fid", ".2f"), pr, col("class_kl", ".3f"), ", ".join(ranges),
            col("speckle", ".4f", mean_only=True), ratio, col("confidence", ".3f", mean_only=True)]


DEFAULT_RUN = ["run", "FID", "precision / recall", "class KL", "smallest / largest class", "speckle", "speckle / real",
               "confidence"]


@view("default_run")
def default_run(records: list[Record]) -> Table:
    """ganlab-eval (10,000 samples, v2) of the default run's seeds, the old default and the runs before the fix."""
    now = [r for r in records if r["study"] == "default_run"]
    before = [r for r in records if r["study"] == "default_run/before_fix"]
    sweep = [r for r in records if r["study"] == "default_run/sweep"]
    old_sweep = only([r for r in sweep if r["params"].get("ema.decay") == "null"
                      and r["params"].get("loss") == "nonsaturating"], "the old default in sweep.csv")
    batch64 = [r for r in sweep if r["params"].get("optim.g.lr") == 8e-4]
    defaults = sorted(select(now, recipe="default"), key=lambda r: r["params"]["seed"])
    rows = [eval_row("old default (`~experiment`), seed 1 (before the fix)", old_sweep,
                     classes=only(select(before, recipe="old_default"), "old default classes"), prefix="eval/"),
            eval_row("old default (`~experiment`), seed 1, current code",
                     only(select(now, recipe="old default (~experiment)"), "old default"))]
    rows += [eval_row(f"default, seed {r['params']['seed']}", r) for r in defaults]
    stat = {k: mean_std([r["metrics"][k] for r in defaults]) for k in ("fid", "class_kl", "speckle_vs_real")}
    rows.append(["default, mean ± std", f"{stat['fid'][0]:.2f} ± {stat['fid'][1]:.2f}", "",
                 f"{stat['class_kl'][0]:.3f} ± {stat['class_kl'][1]:.3f}", "",
                 f"{mean_std([r['metrics']['speckle'] for r in defaults])[0]:.4f}",
                 f"{stat['speckle_vs_real'][0]:.1f} ± {stat['speckle_vs_real'][1]:.1f}", ""])
    rows.append(seeds_row("default before the data-order fix, seeds 1-3", per_run(select(before, recipe="default"))))
    rows.append(seeds_row("batch 64, 15,000 steps (the first tuned recipe, before the fix), seeds 1-3",
                          batch64, prefix="eval/", classes=select(before, recipe="batch64")))
    dcgan = select(before, recipe="dcgan")
    rows.append(seeds_row("DCGAN preset (`experiment=dcgan_mnist5k`, before the fix), seeds 1-3", per_run(dcgan),
                          means=next(r for r in dcgan if not r.get("per_run", True))))
    used = now + before + [old_sweep] + batch64
    header = [f"FID ({feature_space(used)})" if h == "FID" else h for h in DEFAULT_RUN]
    notes = ["Bold: a class share outside the 7-13 % target. Several seeds in one row: per-seed values "
             "(seeds 1, 2, 3) where records hold them, else the mean."]
    if any(row[2] == "–" for row in rows):
        notes.append("precision / recall –: precision and recall were not recorded for those runs.")
    return Table(header=header, rows=rows, records=used, notes=[*notes, default_run_cis(now, before, batch64)])


def default_run_cis(now: list[Record], before: list[Record], batch64: list[Record]) -> str:
    """The default run's comparisons as differences of means with a bootstrap CI over seeds (3 per arm), and
    against the old default, which ran one seed, without one."""
    default = values(select(now, recipe="default"), "fid")
    old = values(select(now, recipe="old default (~experiment)"), "fid")
    base = per_run(select(before, recipe="default"))  # batch 128, 10,000 steps, before the fix: the reference
    dcgan = per_run(select(before, recipe="dcgan"))

    def vs(runs: list[Record], prefix: str = "") -> str:
        return (f"FID {diff_text(values(runs, prefix + 'fid'), values(base, 'fid'), 2)}, class KL "
                f"{diff_text(values(runs, prefix + 'class_kl'), values(base, 'class_kl'), 4)}")

    return ("Differences of means [95 % CI], before the fix, against the default of then (3 seeds each): batch 64, "
            f"15,000 steps minus the default: {vs(batch64, 'eval/')}; DCGAN preset minus the default: {vs(dcgan)}. "
            f"The default minus the old default, current code, FID: {diff_text(default, old, 1)}. "
            + ci_note(3))


@view("default_variants")
def default_variants(records: list[Record]) -> Table:
    """Seed 1's variants of the first tuned recipe (ganlab-eval, 10,000 samples, v2)."""
    rows = []
    for r in sorted(records, key=lambda r: r["run"]):
        m, p = r["metrics"], r["params"]
        lo, hi, lo_name, hi_name = class_range(r)
        note = f": {p['note']}" if p.get("note") else ""
        rows.append([p["change"], num(m["steps"], 0), num(m["fid"], 2 if m["fid"] < 10 else 1),
                     f"{m['class_kl']:.3f}", f"{share(lo, lo_name)} / {share(hi, hi_name)}{note}"])
    header = ["change to the batch-64 recipe", "steps", f"FID ({feature_space(records)})", "class KL",
              "smallest / largest class"]
    return Table(header=header, rows=rows,
                 notes=["Seed 1 only, one seed per variant: no interval; a difference between two rows is not "
                        "established.", *filter(None, [not_recorded(records)])])


def _lr(p: dict[str, Any], key: str) -> str:
    v = p.get(key)
    return "2e-4 (default)" if v is None else f"{v:.0e}".replace("e-0", "e-")


@view("default_sweep")
def default_sweep(records: list[Record]) -> Table:
    """The tuning sweep of the default recipe (sweep.csv): runs grouped by setting, one value per seed; the
    settings run with several seeds compared by a bootstrap CI of the difference."""
    groups: dict[tuple, list[Record]] = {}
    for r in records:
        p = r["params"]
        key = (p.get("ema.decay"), p.get("optim.g.lr") or 2e-4, p.get("optim.d.lr") or 2e-4, p.get("loss", ""))
        groups.setdefault(key, []).append(r)
    rows = []
    for key in sorted(groups, key=lambda k: (k[0] != "null", k[1], k[2], k[3] != "nonsaturating")):
        runs = sorted(groups[key], key=lambda r: r["params"]["seed"])
        p = runs[0]["params"]

        def fid(r: Record) -> str:
            m = r["metrics"]
            last_eval = int(m["steps"] // 2500 * 2500)  # val/fid every 2,500 steps; killed runs stop between
            return num(m["val/fid_final"]) + ("" if m["steps"] >= 15000 else f" (step {last_eval:,})")

        covered = [int(r["metrics"]["val/classes_covered_final"]) for r in runs]
        killed = [int(r["metrics"]["steps"]) for r in runs if r["metrics"]["steps"] < 15000]
        outcome = ("collapsed" if max(covered) <= 2 else "all classes covered" if min(covered) == 10 else "partial")
        if killed:
            outcome += f"; stopped at step {', '.join(f'{s:,}' for s in killed)}"
        rows.append([_lr(p, "optim.g.lr"), _lr(p, "optim.d.lr"), "–" if key[0] == "null" else key[0],
                     (p.get("loss") or "nonsaturating").replace("nonsaturating", "non-saturating"),
                     ", ".join(str(int(r["params"]["seed"])) for r in runs),
                     ", ".join(fid(r) for r in runs),
                     ", ".join(f"{r['metrics']['val/class_kl_final']:.3f}" for r in runs),
                     ", ".join(speckle_ratio(x) if (x := r["metrics"].get("val/speckle_vs_real_final")) is not None
                               else "–" for r in runs),
                     ", ".join(map(str, covered)), outcome])
    notes = ["Settings run with one seed: no interval; a difference between them, or from the others, is not "
             "established."]
    # the setting with the most seeds (the recipe kept) against each other setting run with several
    several = sorted((k for k in groups if len(groups[k]) > 1), key=lambda k: -len(groups[k]))
    for k in several[1:]:
        a, b = groups[several[0]], groups[k]
        notes.append(f"G lr {_lr(a[0]['params'], 'optim.g.lr')} minus {_lr(b[0]['params'], 'optim.g.lr')} "
                     f"({len(a)} and {len(b)} seeds), training-time FID at the end: "
                     f"{diff_text(values(a, 'val/fid_final'), values(b, 'val/fid_final'))}; class KL: "
                     f"{diff_text(values(a, 'val/class_kl_final'), values(b, 'val/class_kl_final'), 3)}. "
                     + ci_note(len(a), len(b)))
    if (missing := not_recorded(records)) is not None:
        notes.append(missing)
    if recorded(records, "speckle") and any("–" in row[7].split(", ") for row in rows):
        notes.append("speckle / real –: the training-time speckle was not recorded for those runs.")
    header = ["G lr", "D lr", "EMA", "loss", "seed", f"training-time FID at the end ({feature_space(records)})",
              "class KL", "speckle / real", "classes covered", "outcome"]
    return Table(header=header, rows=rows, notes=notes)


TEST_COLUMNS = ["seed", "FID ({}) vs train (4,000)", "FID vs test (1,000)", "FID vs train matched (1,000)", "gap",
                "precision", "recall", "class KL", "speckle / real", "near-copies", "C_T"]


@view("default_run_test")
def default_run_test(records: list[Record]) -> Table:
    """The default run on the 4,000-digit train split, evaluated against train and test (ganlab-eval record=):
    one row per seed (seeds the recipe was not tuned on), then mean ± std."""
    runs = sorted(records, key=lambda r: r["params"].get("seed", r["run"]))
    keys = ["fid", "fid_test", "fid_train_matched", "fid_gap", "precision", "recall", "class_kl", "speckle_vs_real",
            "copy_share", "ct"]
    fmt = {"fid": 2, "fid_test": 2, "fid_train_matched": 2, "fid_gap": 2, "precision": 3, "recall": 3,
           "class_kl": 3, "speckle_vs_real": 1, "ct": 1}

    def cell(key: str, x: float) -> str:
        return f"{100 * x:.1f} %" if key == "copy_share" else f"{x:.{fmt[key]}f}"

    rows = [[r["run"].removeprefix("seed")] + [cell(k, r["metrics"][k]) for k in keys] for r in runs]
    if len(runs) > 1:
        stats = [mean_std([r["metrics"][k] for r in runs]) for k in keys]
        rows.append([f"mean ± std ({len(runs)})"] + [f"{cell(k, m)} ± {cell(k, s).rstrip(' %')}"
                                                      for k, (m, s) in zip(keys, stats, strict=True)])
    fs = feature_space(runs)
    notes = [f"10,000 samples each, FID, precision and recall in {fs} (the packaged classifier, which never trained "
             "on the test split); precision and recall (k = 3) against the whole train split; near-copies and C_T "
             "from the memorization check against the test split (docs/evaluation.md, \"Train, test and copying\")."]
    return Table(header=[h.format(fs) for h in TEST_COLUMNS], rows=rows, notes=notes)


HEADLINE = [("fid", "FID ({}) vs train", 2), ("fid_test", "FID vs test", 2), ("precision", "precision", 3),
            ("recall", "recall", 3), ("class_kl", "class KL", 3), ("speckle_vs_real", "speckle / real", 1)]


@view("default_run_headline")
def default_run_headline(records: list[Record]) -> Table:
    """The README's default-run line: FID against the 4,000 training and the 1,000 test digits, precision, recall,
    class KL and speckle (as a multiple of the real digits' share), one row per seed and their mean ± std."""
    runs = sorted(records, key=lambda r: r["params"].get("seed", r["run"]))
    rows = [[str(r["params"].get("seed", r["run"]))] + [f"{r['metrics'][k]:.{d}f}" for k, _, d in HEADLINE]
            for r in runs]
    if len(runs) > 1:
        rows.append([f"mean ± std ({len(runs)})"] + [
            "{0:.{2}f} ± {1:.{2}f}".format(*mean_std([r["metrics"][k] for r in runs]), d) for k, _, d in HEADLINE])
    fs = feature_space(runs)
    return Table(header=["seed"] + [label.format(fs) for _, label, _ in HEADLINE], rows=rows,
                 notes=[f"10,000 samples per seed; FID, precision and recall in {fs}; precision and recall (k = 3) "
                        "against the train split."])


@view("memorization_control")
def memorization_control(records: list[Record]) -> Table:
    """Runs scored by the memorization check (ganlab-eval record=memorization-cpu/NAME)."""
    rows = []
    for r in sorted(records, key=lambda r: r["run"]):
        m, card = r["metrics"], r["card"]
        subset = r["params"].get("datamodule.subset")
        trained = f"{card['memorization']['train_images']:,} digits" + (" (`datamodule.subset`)" if subset else "")
        rows.append([r["run"], trained, f"{r['params']['global_step']:,}", f"{100 * m['copy_share']:.1f} %",
                     f"{m['ct']:.1f}", f"{m['nn_dist_median']:.2f} (new digits: {m['nn_dist_median_heldout']:.2f})",
                     f"{m['fid']:.1f} / {m['fid_test']:.1f}", f"{m['precision_test']:.3f} / {m['recall_test']:.3f}",
                     num(m.get("class_kl"), 3), "–" if m.get("speckle_vs_real") is None
                     else speckle_ratio(m["speckle_vs_real"])])
    header = ["run", "trained on", "step", "near-copies", "C_T", "median distance to training",
              f"FID ({feature_space(records)}) train / test", "precision / recall (test)", "class KL",
              "speckle / real"]
    return Table(header=header, rows=rows)
