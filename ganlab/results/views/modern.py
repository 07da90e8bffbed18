"""Views of the R3GAN, LeCam, ADA and DINOv2 / CMMD measurements (experiments/README.md, docs/ada.md)."""

from __future__ import annotations

from typing import Any

from ganlab.results.registry import Record, Table, view
from ganlab.results.stats import ci_note, diff_text, mean_std
from ganlab.results.tables import feature_space, not_recorded, num, per_run, pm, select, values

CI_NOTE = ci_note(3)


def missing(records: list[Record]) -> list[str]:
    """The note on the quality metrics these records do not hold beside FID (none when they hold them all)."""
    note = not_recorded(records)
    return [note] if note else []


def seeds(xs: list[float], digits: int = 2, spread_digits: int = 1) -> str:
    """``7.9 ± 1.6 (7.16, 6.84, 9.79)``: mean ± sample std, then every seed."""
    return f"{pm(*mean_std(xs), spread_digits)} ({', '.join(f'{x:.{digits}f}' for x in xs)})"


@view("r3gan_vs_dcgan")
def r3gan_vs_dcgan(records: list[Record]) -> Table:
    """R3GAN and DCGAN presets at equal CPU time (3 seeds each), FID in digit features v2."""
    rows, fids = [], {}
    for preset in ("dcgan_mnist5k", "r3gan_mnist5k"):
        runs = select(records, preset=preset)
        m = runs[0]["metrics"]
        fids[preset] = values(runs, "fid_eval_10k")
        rows.append([f"`{preset}`", f"{num(m['steps'], 0)} ({m['kimages']:.0f}k)",
                     seeds(values(runs, "fid_train_end")), seeds(fids[preset])])
    fs = feature_space(records)
    header = ["preset", "steps (images)", f"training-time FID ({fs}) at the end (per seed)",
              f"`ganlab-eval` FID ({fs}), 10k (per seed)"]
    return Table(header=header, rows=rows, notes=[
        "Mean ± sample std over seeds 1-3. R3GAN minus DCGAN, `ganlab-eval` FID: "
        f"{diff_text(fids['r3gan_mnist5k'], fids['dcgan_mnist5k'])}. " + CI_NOTE, *missing(records)])


@view("r3gan_stacked", header=["arm", "modes of 1,000 at step 3,000 (per seed)", "reverse KL, nats (per seed)",
                               "modes minus the next arm's [95 % CI]"])
def r3gan_stacked(records: list[Record]) -> Table:
    """Stacked-MNIST-lite at 3,000 steps: RpGAN + R1 + R2, the standard loss + R1 + R2, the DCGAN baseline."""
    arms = ["rpgan_r1r2", "nonsaturating_r1r2", "dcgan_baseline"]
    rows = []
    for i, arm in enumerate(arms):
        runs = select(records, arm=arm)
        modes, kl = values(runs, "modes"), values(runs, "reverse_kl")
        vs = (diff_text(modes, values(select(records, arm=arms[i + 1]), "modes"), 0) if i + 1 < len(arms) else "")
        rows.append([runs[0]["params"]["label"], f"{pm(*mean_std(modes), 0)} ({', '.join(f'{x:.0f}' for x in modes)})",
                     seeds(kl, 2, 2), vs])
    return Table(rows=rows, notes=["Mean ± sample std over seeds 1-3. " + CI_NOTE])


@view("lecam")
def lecam(records: list[Record]) -> Table:
    """LeCam on 500 digits beside the ADA comparison's two arms (training-time FID, v2)."""
    runs = per_run(select(records, arm="lecam"))
    means = {r["params"]["arm"]: r for r in records if not r.get("per_run", True)}

    def arm_cell(arm: str, key: str) -> str:
        m = means[arm]["metrics"]
        return pm(m[f"{key}_mean"], m[f"{key}_std"])

    rows = [[label, arm_cell("none", key), seeds(values(runs, key), 1), arm_cell("ada", key)]
            for label, key in (("val/fid at the end (10,000 steps)", "fid_end"), ("best val/fid of the run",
                                                                                  "fid_best"))]
    curve = {int(k): v for k, v in means["lecam"]["series"]["val/fid"].items()}
    notes = ["Mean ± sample std over seeds 0-2; LeCam per seed in brackets. The no-regularizer and ADA arms kept "
             "only their means (docs/ada.md), so no CI of a difference against them can be computed.",
             "val/fid by step, LeCam (mean over seeds): "
             + ", ".join(f"{v:.0f}" for _, v in sorted(curve.items())) + f" at steps {min(curve):,}-{max(curve):,}."]
    used = runs + [means["none"], means["ada"], means["lecam"]]
    header = [f"training-time FID ({feature_space(used)})", "no regularizer",
              "`+regularizers=lecam` (λ 0.3, decay 0.99)", "`augment=ada`"]
    return Table(header=header, rows=rows, records=used, notes=notes + missing(used))


@view("dinov2_cmmd")
def dinov2_cmmd(records: list[Record]) -> Table:
    """DINOv2 FD and CMMD end to end on a random-weight ViT-B/14 (the path works; the values mean nothing)."""
    m = records[0]["metrics"]
    random = "random weights" in str((records[0].get("card") or {}).get("feature"))
    rows: list[list[Any]] = [[f"`{k}`", f"{m[k]:.2f}" if m[k] >= 1 else f"{m[k]:.3f}",
                              f"{m[k + '_floor']:.2f}" if m[k + "_floor"] >= 1 else f"{m[k + '_floor']:.3f}"]
                             for k in m if not k.endswith("_floor")]
    space = feature_space(records) + (", random weights" if random else "")
    return Table(header=[f"metric ({space})", "value", "real vs real (halves)"], rows=rows,
                 notes=missing(records))


ARMS = {"none": "no augmentation", "ada": "augment=ada (speed_img=100000)"}


@view("ada_subset500")
def ada_subset500(records: list[Record]) -> Table:
    """The default MLP on 500 digits without and with ADA: 3 seeds (the FIDs kept only as mean ± std), and the
    difference of the arms with a bootstrap CI where per-seed values were kept."""
    runs = {a: sorted(per_run(select(records, arm=a)), key=lambda r: r["params"]["seed"]) for a in ARMS}
    means = {r["params"]["arm"]: r["metrics"] for r in records if not r.get("per_run", True)}
    means_only = "no interval: only the means were kept"
    rows = [["val/fid at the end", *(pm(means[a]["fid_end_mean"], means[a]["fid_end_std"]) for a in ARMS),
             means_only],
            ["best val/fid of the run", *(pm(means[a]["fid_best_mean"], means[a]["fid_best_std"]) for a in ARMS),
             means_only]]

    def per_seed(metric: str, digits: int) -> str:
        return diff_text(values(runs["ada"], metric), values(runs["none"], metric), digits)

    rows += [["classes covered at the end", *(", ".join(f"{v:.0f}" for v in values(runs[a], "classes_covered_end"))
                                              for a in ARMS), per_seed("classes_covered_end", 1)],
             ["p at the end", *(", ".join(f"{v:.3f}" for v in values(runs[a], "p_end")) for a in ARMS),
              per_seed("p_end", 3)]]
    windows = sorted({k for r in runs["none"] for k in r["metrics"] if k.startswith("r_t_")},
                     key=lambda k: int(k.split("_")[2]))
    for w in windows:
        _, _, a, b = w.split("_")
        cells = []
        for arm in ARMS:
            xs = values(runs[arm], w)
            cells.append(f"{sum(xs) / len(xs):.2f} ({', '.join(f'{x:.2f}' for x in xs)})")
        rows.append([f"mean r_t, steps {a}-{b} (per seed)", *cells, per_seed(w, 2)])
    header = [f"measure (FID: {feature_space(records)})", *ARMS.values(), "ADA minus no augmentation [95 % CI]"]
    return Table(header=header, rows=rows, notes=[CI_NOTE, *missing(records)])


@view("ada_fid_by_step")
def ada_fid_by_step(records: list[Record]) -> Table:
    """val/fid at each evaluation, mean over the 3 seeds (only the means were kept)."""
    means = [r for r in records if not r.get("per_run", True)]
    rows = []
    for arm, label in ARMS.items():
        curve = {int(k): v for k, v in next(r for r in means if r["params"]["arm"] == arm)["series"]["val/fid"].items()}
        rows.append([label, *(f"{curve[s]:.0f}" for s in range(1000, 10001, 1000))])
    header = [f"training-time FID ({feature_space(means)}) at step", *(f"{s:,}" for s in range(1000, 10001, 1000))]
    return Table(header=header, rows=rows, records=means,
                 notes=["Means over seeds 0-2; the per-seed FIDs were not kept, so no interval of a difference "
                        "between the arms can be computed.", *missing(means)])
