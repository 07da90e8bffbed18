"""Records recovered from git history: numbers that only the documents (as first committed) or notes hold."""

from __future__ import annotations

import re
from typing import Any

from common import (
    BASE,
    CPU,
    H100,
    added_by,
    code_before,
    date_of,
    first_with,
    number,
    numbers,
    put,
    recovery,
    show,
    table_after,
)

EXP, BENCH = "experiments/results", "benchmarks/results"
README = "experiments/README.md"
V1 = {"feature": "digit_classifier (v1)", "num_samples": 2000, "real": "all 5,000 mnist5k digits",
      "fid": "training-time val/fid"}
V2_TRAIN = dict(V1, feature="digit_classifier_v2 (v2)")
V2_EVAL = {"feature": "digit_classifier_v2 (v2)", "num_samples": 10000, "real": "all 5,000 mnist5k digits",
           "fid": "ganlab-eval of the final checkpoint"}


def recovered(path: str, found_in: str, *, commit: str | None = None, basis: str | None = None,
              machine: str = CPU, command: str) -> dict[str, Any]:
    """put() keywords for numbers first committed in ``found_in``'s version of ``path``."""
    code = commit or code_before(found_in)
    return dict(commit=code, machine=machine, date=date_of(found_in), command=command, recovered=True,
                source=f"git show {found_in[:7]}:{path}",
                commit_basis=basis or f"the last commit that changed code before {found_in[:7]}, which added these "
                                      "numbers")


def pct_pair(cell: str) -> tuple[float, float]:
    """``7.2 / 12.9 %`` or ``**6.5 %** (eights) / 12.0 %`` -> (7.2, 12.9) (percent)."""
    a, b = numbers(cell)[:2]
    return a, b


@recovery
def losses() -> int:
    """The loss table at the top of experiments/README.md: one seed per loss, FID at steps 300 and 600 (v1)."""
    commit = first_with("minimax 415.9", README)
    text = " ".join(show(commit, README).split())
    names = {"minimax": "minimax", "non-saturating": "nonsaturating", "LSGAN": "lsgan", "hinge": "hinge",
             "Wasserstein with clipping": "wasserstein", "WGAN-GP": "wgan_gp"}
    n = 0
    for label, loss in names.items():
        m = re.search(rf"{re.escape(label)} (\d+\.\d) → (\d+\.\d)", text)
        extra = " discriminator.batchnorm=false" if loss == "wgan_gp" else ""
        put(EXP, "losses_dcgan600-cpu", loss, {"fid_step300": float(m[1]), "fid_step600": float(m[2])},
            params={"loss": loss, "label": label, "seed": 0, "steps": 600}, card=V1,
            **recovered(README, commit, command=f"ganlab-train experiment=dcgan_mnist5k loss={loss}{extra} "
                                                "trainer.max_steps=600 (the preset of then: Adam 2e-4 / beta1 0.5, "
                                                "n_critic 1)"))
        n += 1
    return n


@recovery
def default_run_history() -> int:
    """The default run's rows measured before the data-order fix, and the variants tried for seed 1."""
    commit = first_with("Variants tried for seed 1", README)
    header, rows = table_after(show(commit, README), "| run | FID (v2) | class KL")
    n = 0
    cmd = {"default": "ganlab-train seed={s}", "dcgan": "ganlab-train experiment=dcgan_mnist5k seed={s}"}
    for row in rows:
        label = row[0]
        if label.startswith("default, seed"):
            s = int(label.rsplit(" ", 1)[1])
            lo, hi = pct_pair(row[3])
            names = re.findall(r"\((\w+)\)", row[3])
            put(EXP, "default_run/before_fix", f"default-s{s}",
                {"fid": number(row[1]), "class_kl": number(row[2]), "class_min_pct": lo, "class_max_pct": hi,
                 "speckle": number(row[4]), "speckle_vs_real": number(row[5]), "confidence": number(row[6])},
                params={"recipe": "default", "seed": s, "data_order": "before the fix", "class_min": names[0]
                        if names else None}, card=V2_EVAL,
                **recovered(README, commit, command=cmd["default"].format(s=s) + " && ganlab-eval "
                            "ckpt=RUN/checkpoints/last.ckpt metrics=[fid] num_samples=10000"))
            n += 1
        elif label.startswith("DCGAN preset") or label.startswith("batch 64") or label.startswith("old default"):
            kind = "dcgan" if label.startswith("DCGAN") else "batch64" if label.startswith("batch") else "old_default"
            seeds = [1] if kind == "old_default" else [1, 2, 3]
            pairs = [pct_pair(c) for c in row[3].split(",")] if kind != "old_default" else [pct_pair(row[3])]
            fids = numbers(row[1])
            kls = numbers(row[2])
            for i, s in enumerate(seeds):
                metrics = {"class_min_pct": pairs[i][0], "class_max_pct": pairs[i][1]}
                if kind == "dcgan":  # the sweep's CSV holds the other columns of the batch-64 and old-default runs
                    metrics.update(fid=fids[i], class_kl=kls[i])
                sweep = {} if kind == "dcgan" else dict(
                    commit=added_by(f"{EXP}/default_run/sweep.csv"),
                    basis="the commit of sweep.csv, which holds this run's other numbers; the class shares were "
                          f"first committed in {commit[:7]}")
                put(EXP, "default_run/before_fix", f"{kind}-s{s}", metrics,
                    params={"recipe": kind, "seed": s, "data_order": "before the fix"}, card=V2_EVAL,
                    **recovered(README, commit, **sweep, command=(cmd["dcgan"].format(s=s) if kind == "dcgan" else
                                "the sweep's run (sweep.csv)") + " && ganlab-eval ckpt=RUN/checkpoints/last.ckpt "
                                "metrics=[fid] num_samples=10000"))
                n += 1
            if kind == "dcgan":  # speckle only as the 3 seeds' mean in every version of the table
                put(EXP, "default_run/before_fix", "dcgan-mean",
                    {"speckle": number(row[4]), "speckle_vs_real": number(row[5])},
                    params={"recipe": "dcgan", "seeds": seeds, "data_order": "before the fix"}, per_run=False,
                    card=V2_EVAL, **recovered(README, commit, command=cmd["dcgan"].format(s="1,2,3")))
                n += 1
    _, rows = table_after(show(commit, README), "| change to the batch-64 recipe")
    for i, row in enumerate(rows):
        lo, hi = pct_pair(row[4])
        change = row[0]
        overrides = " ".join(re.findall(r"`([^`]+)`", change))
        put(EXP, "default_run/variants", f"variant{i}",
            {"steps": number(row[1]), "fid": number(row[2]), "class_kl": number(row[3]), "class_min_pct": lo,
             "class_max_pct": hi},
            params={"change": change, "seed": 1, "class_max": next(iter(re.findall(r"\((\w+)\)", row[4])), None),
                    "note": next(iter(re.findall(r"\(([^)]*\s[^)]*)\)", row[4]) or re.findall(r":\s*(.+)$", row[4])),
                                 None)},
            card=V2_EVAL, **recovered(README, commit, command=f"ganlab-train ~experiment ema.decay=0.999 "
                                      f"optim.g.lr=8e-4 optim.d.lr=2e-4 ema.rampup=0.05 {overrides} seed=1".strip()))
        n += 1
    return n


ZOO_V2 = "| combination | overrides | FID v1, 3 seeds (H100)"


@recovery
def zoo_v2() -> int:
    """The zoo in digit features v2 on the CPU: per-seed FIDs; class KL and speckle per seed only for seed 0."""
    _, rows = table_after(show(BASE, README), ZOO_V2)
    seed0_commit = first_with("FID v2 at step 1500, seed 0 (CPU)", README)
    _, seed0 = table_after(show(seed0_commit, README), "| combination | overrides | FID v1 at step 1500")
    seed0 = {r[0]: r for r in seed0}
    presets = first_with("| `dcgan_mnist5k` | 12.2 ± 0.4 | **16.1 ± 1.6**", README)
    _, preset_rows = table_after(show(presets, README), "| preset | FID v1 (H100, above)")
    walls = {"baseline": preset_rows[0][5], "wgan_gp_preset": preset_rows[2][5], "projection": preset_rows[3][5]}
    n = 0
    for order, row in enumerate(rows):
        name, overrides = row[0], row[1].strip("`")
        if "not run" in row[3]:
            continue
        fids = numbers(row[4])
        for seed, fid in enumerate(fids):
            metrics: dict[str, Any] = {"fid": fid}
            if seed == 0:
                metrics.update(class_kl=number(seed0[name][4]), speckle_vs_real=number(seed0[name][5]))
            found = presets if name in walls else (seed0_commit if seed == 0 else BASE)
            put(EXP, "zoo_v2-cpu", f"{name}-s{seed}", metrics,
                params={"combination": name, "overrides": overrides, "seed": seed, "order": order, "steps": 1500},
                card=V2_TRAIN, **recovered(README, found, command=f"python scripts/zoo_compare.py --out OUT "
                                           f"--steps 1500 --seeds {seed} --threads 1 --only {name}"))
            n += 1
        kl, kl_sd = numbers(row[5])[:2]
        sp, sp_sd = numbers(row[6])[:2]
        agg = {"class_kl_mean": kl, "class_kl_std": kl_sd, "speckle_vs_real_mean": sp, "speckle_vs_real_std": sp_sd}
        if name in walls:
            agg.update(zip(("wall_s_min", "wall_s_max"), map(float, re.findall(r"\d+", walls[name])), strict=True))
        put(EXP, "zoo_v2-cpu/means", name, agg,
            params={"combination": name, "overrides": overrides, "seeds": [0, 1, 2], "order": order}, per_run=False,
            card=V2_TRAIN, **recovered(README, BASE, command="python scripts/zoo_compare.py --out OUT --steps 1500 "
                                       f"--seeds 0 1 2 --jobs 2 --threads 1 --only {name}"))
        n += 1
    return n


@recovery
def r3gan_vs_dcgan() -> int:
    commit = first_with("| `r3gan_mnist5k` | 1,000 (64k)", README)
    _, rows = table_after(show(commit, README), "| preset | steps (images) | training-time FID")
    n = 0
    for row in rows:
        preset = row[0].strip("`")
        steps, images = numbers(row[1])[:2]
        train, evals = numbers(row[2])[2:], numbers(row[3])[2:]
        for i, seed in enumerate((1, 2, 3)):
            put(EXP, "r3gan_vs_dcgan-cpu", f"{preset}-s{seed}",
                {"fid_train_end": train[i], "fid_eval_10k": evals[i], "steps": steps, "kimages": images},
                params={"preset": preset, "seed": seed}, card=V2_TRAIN,
                **recovered(README, commit, commit="0fcaa4d", basis="stated in the text and the closing note of "
                            "2026-12-02: a frozen worktree of 0fcaa4d, before the data-order fix",
                            command=f"ganlab-train experiment={preset} seed={seed} && ganlab-eval "
                                    "ckpt=RUN/checkpoints/last.ckpt metrics=[fid] num_samples=10000"))
            n += 1
    return n


@recovery
def r3gan_stacked() -> int:
    commit = first_with("| R3GAN nets, RpGAN + R1 + R2", README)
    text = show(commit, README)
    _, rows = table_after(text, "| arm | modes of 1,000 at step 3,000")
    curve = re.search(r"(\d+) → (\d+) → (\d+) modes with RpGAN, (\d+) → (\d+) → (\d+) without", " ".join(text.split()))
    arms = {"R3GAN nets, RpGAN": ("rpgan_r1r2", "ganlab-train experiment=r3gan_stacked_mnist5k "
                                  "generator.widths=[32,16,8] generator.group_size=8 trainer.max_steps=3000 "
                                  "dataset.batch_size=64 metrics.every_n_steps=3000 seed={s}"),
            "R3GAN nets, non-saturating": ("nonsaturating_r1r2", "ganlab-train experiment=r3gan_stacked_mnist5k "
                                           "generator.widths=[32,16,8] generator.group_size=8 loss=nonsaturating "
                                           "+regularizers=r1r2 regularizers.r1.gamma=0.05 trainer.max_steps=3000 "
                                           "dataset.batch_size=64 metrics.every_n_steps=3000 seed={s}"),
            "`stacked_mnist5k`": ("dcgan_baseline", "ganlab-train experiment=stacked_mnist5k trainer.max_steps=3000 "
                                  "dataset.batch_size=64 metrics.every_n_steps=3000 seed={s}")}
    n = 0
    for row in rows:
        arm, command = next(v for k, v in arms.items() if row[0].startswith(k))
        modes, rkl = numbers(row[1])[2:], numbers(row[2])[2:]
        for i, seed in enumerate((1, 2, 3)):
            extra: dict[str, Any] = {}
            if seed == 1 and arm != "dcgan_baseline":
                vals = [int(v) for v in (curve.groups()[:3] if arm == "rpgan_r1r2" else curve.groups()[3:])]
                extra["series"] = {"val/modes": dict(zip((1000, 2000, 3000), vals, strict=True))}
            put(EXP, "r3gan_stacked-cpu", f"{arm}-s{seed}", {"modes": modes[i], "reverse_kl": rkl[i], "steps": 3000},
                params={"arm": arm, "label": row[0].replace("*", ""), "seed": seed},
                card={"feature": "digit_classifier (v1)", "num_samples": 26000, "metric": "stacked_modes"},
                **recovered(README, commit, commit="6a434f4", basis="stated in the text: a frozen worktree of "
                            "6a434f4, after the data-order fix", command=command.format(s=seed)), **extra)
            n += 1
    return n


LECAM = "| | no regularizer | `+regularizers=lecam`"
ADA_DOC = "docs/ada.md"


@recovery
def lecam() -> int:
    commit = first_with("| val/fid at the end (10,000 steps) | 136.6", README)
    text = show(commit, README)
    _, rows = table_after(text, LECAM)
    end, best = numbers(rows[0][2])[2:], numbers(rows[1][2])[2:]
    by_step = re.search(r"val/fid by step, LeCam \(mean over seeds\): ([\d, ]+) at steps", " ".join(text.split()))
    means = [float(v) for v in by_step[1].split(",")]
    n = 0
    kw = dict(commit="0fcaa4d", basis="stated in the text and the closing note of 2026-12-02: a frozen worktree "
              "of 0fcaa4d, before the data-order fix")
    for i, seed in enumerate((0, 1, 2)):
        put(EXP, "lecam_mnist500-cpu", f"lecam-s{seed}", {"fid_end": end[i], "fid_best": best[i], "steps": 10000},
            params={"arm": "lecam", "seed": seed}, card=V2_TRAIN,
            **recovered(README, commit, command=f"ganlab-train experiment=lecam_mnist500 seed={seed}", **kw))
        n += 1
    put(EXP, "lecam_mnist500-cpu", "lecam-mean", {}, params={"arm": "lecam", "seeds": [0, 1, 2]}, per_run=False,
        series={"val/fid": dict(zip(range(1000, 10001, 1000), means, strict=True))}, card=V2_TRAIN,
        **recovered(README, commit, command="ganlab-train experiment=lecam_mnist500 seed=S  # S = 0, 1, 2", **kw))
    return n + 1


@recovery
def ada() -> int:
    """docs/ada.md: per seed for classes, p and r_t; the FIDs only as means (the script's JSON was not kept)."""
    commit = first_with("mean r_t, steps 0-2000", ADA_DOC)
    text = show(commit, ADA_DOC)
    _, rows = table_after(text, "| | no augmentation | augment=ada")
    _, steps = table_after(text, "| step | 1,000 | 2,000")
    arms = {1: ("none", "augment.ada.target=null"), 2: ("ada", "augment.ada.speed_img=100000")}
    base = ("ganlab-train datamodule.subset=500 augment=ada dataset.batch_size=64 trainer.max_steps=10000 "
            "metrics.every_n_steps=1000 seed={s} {extra}")
    n = 0
    for col, (arm, extra) in arms.items():
        per_seed: dict[int, dict[str, float]] = {0: {}, 1: {}, 2: {}}
        means: dict[str, float] = {}
        for row in rows:
            vals = numbers(row[col])
            label = row[0]
            if label.startswith("val/fid at the end"):
                means.update(fid_end_mean=vals[0], fid_end_std=vals[1])
            elif label.startswith("best val/fid"):
                means.update(fid_best_mean=vals[0], fid_best_std=vals[1])
            else:
                key = {"classes covered at the end": "classes_covered_end", "p at the end": "p_end"}.get(label)
                if key is None:  # mean r_t, steps A-B (per seed): the mean, then the 3 seeds
                    a, b = re.findall(r"\d+", label)[:2]
                    key, vals = f"r_t_{int(a)}_{int(b)}", vals[1:]
                for s in range(3):
                    per_seed[s][key] = vals[s]
        for s, metrics in per_seed.items():
            put(EXP, "ada_subset500-cpu", f"{arm}-s{s}", metrics, params={"arm": arm, "seed": s}, card=V2_TRAIN,
                **recovered(ADA_DOC, commit, command=base.format(s=s, extra=extra)))
            n += 1
        curve = next(r for r in steps if r[0].startswith("no augmentation" if arm == "none" else "augment=ada"))
        put(EXP, "ada_subset500-cpu", f"{arm}-mean", means, params={"arm": arm, "seeds": [0, 1, 2]}, per_run=False,
            series={"val/fid": dict(zip(range(1000, 10001, 1000), map(float, curve[1:]), strict=True))},
            card=V2_TRAIN, **recovered(ADA_DOC, commit, command="python scripts/ada_subset500.py --out runs/ada500 "
                                       "--seeds 0 1 2 --steps 10000"))
        n += 1
    return n


@recovery
def dinov2_cmmd() -> int:
    commit = first_with("| `fd_dinov2_b14` | 31.66", README)
    _, rows = table_after(show(commit, README), "| metric | value | real vs real")
    metrics = {}
    for row in rows:
        name = row[0].strip("`")
        metrics[name], metrics[f"{name}_floor"] = number(row[1]), number(row[2])
    card = {"feature": "ganlab.metrics.dinov2.DINOv2Features dinov2_vitb14 (random weights of the right shapes)",
            "weights_sha256_prefix": "5ef1feaf641b", "features": 768, "input_px": 224, "cmmd_sigma": 10,
            "cmmd_scale": 1000, "num_samples": 200, "real_max_images": 400, "floor": "halves (200 vs 200)"}
    put(EXP, "dinov2_cmmd-cpu", "default_s1-random_dinov2", metrics, card=card, params={"checkpoint": "default_s1"},
        **recovered(README, commit, commit="0fcaa4d", basis="the closing note of 2026-12-02: the measurement runs "
                    "used a frozen worktree of 0fcaa4d",
                    command="ganlab-eval ckpt=/work/hr/default_s1/checkpoints/last.ckpt feature=dinov2_vitb14 "
                            "paths.dinov2_vitb14_weights=/work/m17/dino/dinov2_vitb14_pretrain.pth "
                            "metrics=[fid,cmmd] floor=halves num_samples=200 real.max_images=400"))
    return 1


HEALTH = "docs/health.md"


@recovery
def health_labelled() -> int:
    """The labelled health runs: each run's alerts (detector: first step) and the step its problem shows."""
    commit = first_with("| `weak_g` | bad | 6,000 |", HEALTH)
    text = show(commit, HEALTH)
    _, defs = table_after(text, "| run | label | command (on top of")
    _, rows = table_after(text, "| run | label | last step")
    definitions = {r[0]: r for r in defs}
    n = 0
    for row in rows:
        names = [row[0].strip("`")]
        if ".." in row[0]:  # `default_s1`..`default_s3`: three good runs in one row
            stem = row[0].split("`")[1][:-1]
            names = [f"{stem}{i}" for i in (1, 2, 3)]
        d = definitions[row[0]]
        expected = re.findall(r"`(\w+)`", d[3])
        alerts = {m[0]: float(m[1].replace(",", "")) for m in re.findall(r"(\w+): ([\d,]+)", row[3])}
        visible = re.match(r"([\d,]+) \(`(\w+)`\)", row[4])
        for name in names:
            metrics: dict[str, Any] = {"last_step": number(row[2])}
            metrics.update({f"alert_step/{k}": v for k, v in alerts.items()})
            if visible:
                metrics["visible_at_step"] = float(visible[1].replace(",", ""))
            overrides = d[2].replace("`", "")
            if ".." in overrides:
                overrides = re.sub(r"seed=1\.\.seed=3", f"seed={name[-1]}", overrides)
            put(EXP, "health_labelled-cpu", name, metrics,
                params={"label": row[1], "expected": expected, "visible_rule": visible[2] if visible else None,
                        "overrides": overrides},
                **recovered(HEALTH, commit, command="python scripts/health_runs.py --out runs/health --table "
                            f"--rejudge  # run {name}: ganlab-train {overrides}"))
            n += 1
    return n


@recovery
def speckle_calibration() -> int:
    doc = "docs/calibration.md"
    commit = first_with("| set | speckle |", doc)
    _, rows = table_after(show(BASE, doc), "| set | speckle |")
    n = 0
    for row in rows:
        labels = [row[0]]
        values = numbers(row[1])
        if " / " in row[1]:  # "Gaussian noise sigma 0.3 / 0.5" -> two sets
            m = re.match(r"(.*?)((?:[\d.]+(?: %)?)(?: / [\d.]+(?: %)?)+)(.*)", row[0])
            labels = [f"{m[1]}{v.strip()}{m[3]}".strip() for v in m[2].split("/")]
        found = first_with(row[1], doc)
        code = dict(commit=commit, basis=f"{commit[:7]} added the speckle metric and this table") \
            if found == commit else {}
        for label, value in zip(labels, values, strict=True):
            put(EXP, "speckle_calibration-cpu", re.sub(r"[^\w.]+", "_", label).strip("_"), {"speckle": value},
                params={"set": label}, card={"num_images": 2500, "seed": 0, "threshold": 0.0},
                **recovered(doc, found, **code, command="python -c over ganlab.metrics.distortions and "
                            "ganlab.metrics.speckle (2,500 images, seed 0; the exact command was not recorded)"))
            n += 1
    return n


@recovery
def startup() -> int:
    doc = "docs/configuration.md"
    commit = first_with("| case | before: wall s (CPU s)", doc)
    _, rows = table_after(show(commit, doc), "| case | before: wall s (CPU s)")
    n = 0
    for when, col, code, basis in (("before", 1, "bef3954", "stated in the text: before (bef3954)"),
                                   ("after", 2, None, None)):
        for i, row in enumerate(rows):
            wall, cpu = numbers(row[col])[:2]
            case = row[0]
            put(BENCH, "startup-cpu-2core", f"{when}-{i}", {"wall_s": wall, "cpu_s": cpu},
                params={"case": case, "when": when, "order": i, "load": "load average about 13"},
                **recovered(doc, commit, commit=code, basis=basis, command="python scripts/bench_startup.py "
                            "(median of 3 runs per case)"))
            n += 1
    return n


@recovery
def install() -> int:
    """docs/install.md's table: a historical record (its cells mix runs on several days; kept verbatim)."""
    doc = "docs/install.md"
    commit = first_with("**2 min 31 s**", doc)
    header, rows = table_after(show(commit, doc), "| path | venv size | install time")
    put(BENCH, "install-cpu-2core", "table", {}, per_run=False, table={"header": header, "rows": rows},
        **recovered(doc, commit, command="python scripts/first_hour.py --fresh-venv --keep --workdir /tmp/fh; "
                    "python scripts/first_hour.py --cpu --workdir /tmp/fh-cpu"))
    return 1


@recovery
def gpu_switches() -> int:
    doc = "benchmarks/gpu-h100.md"
    commit = first_with("| tf32 + bf16 + compile |", doc)
    _, rows = table_after(show(commit, doc), "| option | case | ganlab img/s")
    n = 0
    for i, row in enumerate(rows):
        case = row[1].split(" (")[0]
        put(BENCH, "gpu_switches-h100", f"{i:02d}-{re.sub(r'[^a-z0-9]+', '_', row[0])}-{case}",
            {"ganlab_img_s": number(row[2]), "plain_img_s": number(row[3]), "ratio": number(row[4])},
            params={"option": row[0], "case": row[1], "order": i, "batch": 256},
            **recovered(doc, commit, machine=H100 + ", torch 2.11.0+cu130, Lightning 2.6.6",
                        basis=f"the text says the runs predate the step-by-step harness of {commit[:7]}: the last "
                              "commit that changed code before it", command="bash scripts/gpu_check.sh"))
        n += 1
    return n

