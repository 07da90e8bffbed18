"""Views of the GAN-zoo tables in experiments/README.md: v1 on the H100 (means only), v2 on the CPU (per seed)."""

from __future__ import annotations

from ganlab.results.registry import Record, Table, view
from ganlab.results.stats import ci_note, diff_ci, diff_text, mean_std
from ganlab.results.tables import feature_space, not_recorded, num, per_run, pm, select, values

PRESETS = {"baseline": "`dcgan_mnist5k`", "sngan_preset": "`sngan_mnist5k` (ResNet width 64, hinge, n_dis 5)",
           "wgan_gp_preset": "`wgan_gp_mnist5k` (n_critic 5)",
           "projection": "`dcgan_mnist5k conditional=projection` (`cgan_pd_mnist5k` uses the ResNets)"}


def v1_rows(records: list[Record]) -> dict[str, Record]:
    """The H100 zoo's combinations (one record each: mean and std over 3 seeds), in the tool's order."""
    rows = [r for r in records if r["study"] == "zoo_v1-h100"]
    first = {"zoo-h100.json": 0, "zoo-h100-ema-bcr.json": 1}
    rows.sort(key=lambda r: (first[r["source"].rsplit("/", 1)[1]], r["params"]["order"]))
    # the second call's rows (ema_0.99, ema_start, bcr_translation) sit after the row they vary, as in zoo.md
    ordered: list[Record] = []
    for r in rows:
        anchor = {"ema_0.99": "ema", "ema_start": "ema_0.99", "bcr_translation": "bcr"}.get(r["run"])
        if anchor:
            ordered.insert(next(i for i, o in enumerate(ordered) if o["run"] == anchor) + 1, r)
        else:
            ordered.append(r)
    return {r["run"]: r for r in ordered}


def overrides(r: Record) -> str:
    """The combination's overrides as spelled today (the H100 run predates the plural group names)."""
    o = r["params"]["overrides"].replace("+regularizer=", "+regularizers=").replace("+g_term=", "+g_terms=")
    return f"`{o}`"


COLUMNS_NOTE = ("The v1 and v2 columns differ in more than the feature space: v1 ran on one H100 with the code of "
                "2026-11-27 (before the architecture change and the data-order fix), v2 on the 2-core CPU with the "
                "code of 2026-12-03. Compare rows within a column; a change between the columns has several causes.")


def v1_cell(r: Record) -> str:
    return pm(r["metrics"]["fid_final"], r["metrics"]["fid_final_std"])


def v1_header(records: list[Record]) -> str:
    """``FID (digit features v1) at step 1,500 (mean ± std, 3 seeds)``: the H100 run's column."""
    return f"FID ({feature_space(records)}) at step 1,500 (mean ± std, 3 seeds)"


def missing(v1: list[Record], v2: list[Record]) -> list[str]:
    """The table note on what the H100 (v1) and CPU (v2) runs did not record beside FID."""
    both = not_recorded(v1 + v2, ("precision", "recall"), "the H100 or the CPU runs")
    only_v1 = not_recorded(v1, ("class_kl", "speckle"), "the H100 runs") if v2 else None
    return [" ".join(n for n in (both, only_v1) if n)] if both or only_v1 else []


@view("zoo_v1")
def zoo_v1(records: list[Record]) -> Table:
    """Each zoo trick on one H100 (zoo_compare.py): only the means and stds over seeds were kept."""
    rows = v1_rows(records)
    return Table(header=["combination", "overrides", v1_header(list(rows.values())), "best FID", "seeds", "s/run"],
                 rows=[[name, overrides(r), v1_cell(r), num(r["metrics"]["fid_best"]), int(r["metrics"]["seeds"]),
                        num(r["metrics"]["wall_s"], 0)] for name, r in rows.items()],
                 notes=[n for n in [not_recorded(list(rows.values()))] if n])


@view("zoo_presets_v1")
def zoo_presets_v1(records: list[Record]) -> Table:
    """The zoo's mnist5k presets in the H100 run (v1)."""
    v1 = v1_rows(records)
    used = [v1[name] for name in PRESETS]
    return Table(header=["preset", v1_header(used)],
                 rows=[[label, v1_cell(v1[name])] for name, label in PRESETS.items()], records=used,
                 notes=[n for n in [not_recorded(used)] if n])


def v2_runs(records: list[Record], name: str) -> list[Record]:
    return per_run(select([r for r in records if r["study"] == "zoo_v2-cpu"], combination=name))


def v2_means(records: list[Record], name: str) -> Record | None:
    found = [r for r in records if r["study"] == "zoo_v2-cpu/means" and r["run"] == name]
    return found[0] if found else None


def v2_fid(runs: list[Record]) -> tuple[str, str]:
    """``16.1 ± 1.6`` and ``14.7 / 17.9 / 15.8`` (seeds 0, 1, 2)."""
    fids = values(runs, "fid")
    return pm(*mean_std(fids)), " / ".join(num(f) for f in fids)


def spread(means: Record, name: str, digits: int) -> str:
    m = means["metrics"]
    return pm(m[f"{name}_mean"], m[f"{name}_std"], digits)


@view("zoo_presets_v2")
def zoo_presets_v2(records: list[Record]) -> Table:
    """The presets in digit features v2 on the CPU, beside v1 (other code, data order and machine too)."""
    v1 = v1_rows(records)
    rows, used, between = [], [v1[n] for n in PRESETS], []
    base = values(v2_runs(records, "baseline"), "fid")
    counts = {len(base)}
    for name, label in PRESETS.items():
        runs, means = v2_runs(records, name), v2_means(records, name)
        if runs and name != "baseline":
            between.append(f"{label.split(' (')[0]} {diff_text(values(runs, 'fid'), base)}")
            counts.add(len(values(runs, "fid")))
        if not runs:
            rows.append([label.split(" (")[0], v1_cell(v1[name]), "not run on the CPU", "", "", ""])
            continue
        mean, per_seed = v2_fid(runs)
        used += runs + [means]
        wall = f"{means['metrics']['wall_s_min']:.0f}-{means['metrics']['wall_s_max']:.0f}"
        rows.append([label.split(" (")[0], v1_cell(v1[name]), f"**{mean}** ({per_seed.replace(' / ', ', ')})",
                     spread(means, "class_kl", 3), spread(means, "speckle_vs_real", 0), wall])
    notes = [COLUMNS_NOTE]
    if between:
        notes.append(f"FID v2 minus {PRESETS['baseline']}'s [95 % CI]: " + "; ".join(between) + ". "
                     + ci_note(*counts) + " The v1 column kept only means and stds: no interval there.")
    v1_used = [v1[n] for n in PRESETS]
    v2_used = [r for r in used if r["study"].startswith("zoo_v2-cpu")]
    header = ["preset", f"FID ({feature_space(v1_used)}, H100)", f"FID ({feature_space(v2_used)}, CPU), seeds 0, 1, 2",
              "class KL (v2 run)", "speckle / real", "s per run (CPU)"]
    return Table(header=header, rows=rows, records=used, notes=notes + missing(v1_used, v2_used))


@view("zoo_v2")
def zoo_v2(records: list[Record]) -> Table:
    """Every zoo trick in digit features v2 on the CPU (per-seed FIDs), beside the H100's v1 means."""
    rows = []
    v1 = v1_rows(records)
    for name, r1 in v1.items():
        runs, means = v2_runs(records, name), v2_means(records, name)
        if not runs:
            rows.append([name, overrides(r1), v1_cell(r1), "not run", "– / – / –", "not run", "not run"])
            continue
        mean, per_seed = v2_fid(runs)
        rows.append([name, overrides(r1), v1_cell(r1), mean, per_seed, spread(means, "class_kl", 3),
                     spread(means, "speckle_vs_real", 0)])
    v1_used, v2_used = list(v1.values()), [r for r in records if r["study"].startswith("zoo_v2-cpu")]
    header = ["combination", "overrides", f"FID ({feature_space(v1_used)}), 3 seeds (H100)",
              f"FID ({feature_space(v2_used)}), 3 seeds (CPU)", "seeds 0 / 1 / 2", "class KL", "speckle / real"]
    return Table(header=header, rows=rows, notes=[COLUMNS_NOTE, *missing(v1_used, v2_used)])


@view("zoo_v2_vs_baseline")
def zoo_v2_vs_baseline(records: list[Record]) -> Table:
    """Each trick against the baseline: the FID difference with a bootstrap CI over the 3 seeds of each."""
    runs = per_run(records)
    base = values(select(runs, combination="baseline"), "fid")
    names = sorted({r["params"]["combination"] for r in runs} - {"baseline"},
                   key=lambda n: diff_ci(values(select(runs, combination=n), "fid"), base).diff)
    rows = []
    for name in names:
        ci = diff_ci(values(select(runs, combination=name), "fid"), base)
        verdict = ("not established" if not ci.established else "better (lower FID)" if ci.diff < 0
                   else "worse (higher FID)")
        rows.append([name, f"{ci.diff:+.1f} [{ci.low:+.1f}, {ci.high:+.1f}]", verdict])
    return Table(header=["combination", f"FID ({feature_space(runs)}) minus the baseline's [95 % CI]", "verdict"],
                 rows=rows, records=runs,
                 notes=["Percentile bootstrap over seeds (`ganlab.results.diff_ci`: each arm's 3 seeds resampled, "
                        "every resample enumerated). With 3 seeds an interval is narrow and under-covers: a "
                        "difference outside it is suggestive, one whose interval holds 0 is not established.",
                        "Class KL and speckle were kept per seed for seed 0 only (means and stds otherwise): no "
                        "interval of their differences can be computed.",
                        *[n for n in [not_recorded(runs, ("precision", "recall"))] if n]])
