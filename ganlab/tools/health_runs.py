"""The labelled runs of the health monitor: known-bad and known-good ganlab-train runs, and its score on them.

    python scripts/studies/health_runs.py --list                       # every run, its label and its command
    python scripts/studies/health_runs.py --runs minimax_dcgan default_s1 --jobs 2 --out outputs/health_runs
    python scripts/studies/health_runs.py --all --jobs 2               # the whole set (hours on a 2-core CPU)
    python scripts/studies/health_runs.py --all --sample out --out outputs/health_oos --record health_oos-cpu
        # the out-of-sample set (new seeds, presets not used in tuning), one results record per run
    python scripts/studies/health_runs.py --table --out outputs/health_runs   # score the runs found in --out
    python scripts/studies/health_runs.py --runs grid_collapse --set trainer.max_steps=5000   # a reduced budget
    python scripts/studies/health_runs.py --table --rejudge --out outputs/health_runs  # alerts of today's detectors

``--rejudge`` scores the alerts that the detectors of conf/health/default.yaml give on each run's recorded
signals (``ganlab.health.replay``) instead of the alerts in its health.json: runs trained before a threshold
changed are scored as if they had run with it, without retraining.

Each run is one command, ``python -m ganlab.cli.train <overrides> hydra.run.dir=<out>/<name>`` (printed by
``--list``). After the runs, the table reads each run's health.json and TensorBoard events and reports, per
detector: alarms on bad runs (which of them it fired on), false alarms on good runs, and the detection delay:
the step of the detector's first alert minus the step where the problem is visible in the run's metrics.

"Visible" (``VISIBLE``) is read from the run's own logged metrics, by one rule per bad run:
  - ``fid_vs_good``: the first evaluation whose val/fid is more than twice the median val/fid of the matching
    good runs at the same step (the good runs must be in --out; without them: not measured);
  - ``loss_explodes``: the first logging step where train/d_loss or train/g_loss is not finite or beyond 100 in
    absolute value (the losses of every healthy run measured here stay below 25), else ``fid_vs_good``;
  - ``classes``: the first evaluation whose samples cover at most 2 of the 10 digit classes (val/classes_covered);
  - ``modes``: the first evaluation with val/modes below half of the mixture's modes (toy grid: < 12.5 of 25);
  - ``fid_worsens``: the first evaluation after the best val/fid so far that is more than 10 % worse than it
    (the samples get worse while training goes on: D memorising a small set).
A negative delay means the detector fired before the metrics showed the problem.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository


@dataclass
class Run:
    label: str                # "bad" or "good"
    overrides: list[str]
    expect: list[str] = field(default_factory=list)  # detectors that should fire (bad runs)
    visible: tuple[str, ...] = ()  # rules for the visible step, the first that gives one wins (bad runs)
    good: str = ""            # group of good runs it is compared with (fid_vs_good)
    note: str = ""
    sample: str = "in"        # "in": the set the thresholds were tuned on; "out": new seeds and unseen presets


VEEGAN_COLLAPSE = ["experiment=veegan_gan_grid", "generator.init=orthogonal", "generator.init_gain=1.4",
                   "discriminator.init=orthogonal", "discriminator.init_gain=1.4", "loss=minimax", "game=simultaneous"]

RUNS: dict[str, Run] = {
    # known bad
    "minimax_dcgan": Run("bad", ["experiment=dcgan_mnist5k", "loss=minimax"], ["discriminator_winning"],
                         ("fid_vs_good", "classes"), "dcgan",
                         "saturating log(1 - D(G(z))): D wins early, G's gradient vanishes (experiments/README.md)"),
    "diverging_lr": Run("bad", ["optim.g.lr=0.02", "optim.d.lr=0.02", "optim.beta1=0.9"], ["divergence"],
                        ("loss_explodes", "fid_vs_good"), "default", "learning rates 100x the default, Adam beta1 0.9"),
    "grid_collapse": Run("bad", [*VEEGAN_COLLAPSE, "seed=4"], ["mode_collapse"], ("modes",), "",
                         "VEEGAN grid with the Unrolled-GAN authors' settings; seed 4 ends with 2 of 25 modes "
                         "(experiments/README.md)"),
    "weak_g": Run("bad", ["generator.hidden=[32]", "optim.g.lr=5e-5", "optim.d.lr=1e-3"],
                  ["discriminator_winning", "mode_collapse", "stalled_quality"], ("fid_vs_good", "classes"), "default",
                  "G with one hidden layer of 32 units and a 20x slower learning rate than D"),
    "overfit_subset500": Run("bad", ["datamodule.subset=500", "datamodule.holdout=500", "dataset.batch_size=64",
                                     "trainer.max_steps=15000"],
                             ["discriminator_overfitting"], ("fid_worsens",), "default",
                             "the default MLP on 500 mnist5k digits (500 more held out), 15,000 steps"),
    # known good
    # seeds 1-3: the same runs as the default run's and the DCGAN preset's 3 seeds in experiments/README.md
    **{f"default_s{s}": Run("good", [f"seed={s}"], good="default", note="ganlab-train") for s in (1, 2, 3)},
    **{f"dcgan_s{s}": Run("good", ["experiment=dcgan_mnist5k", f"seed={s}"], good="dcgan",
                          note="experiment=dcgan_mnist5k") for s in (1, 2, 3)},
}

# The out-of-sample set: scored with the thresholds tuned on RUNS above, never tuned on. New seeds (4-6) of the
# in-sample recipes, and two presets that played no part in tuning (lsgan_mnist5k, wgan_mnist5k), each with a good
# run and a known-bad variant. Bad runs compare with the good runs of their own group found in the same --out.
DIVERGING = ["optim.g.lr=0.02", "optim.d.lr=0.02", "optim.beta1=0.9"]
OUT_OF_SAMPLE: dict[str, Run] = {
    **{f"default_s{s}": Run("good", [f"seed={s}"], good="default", note="ganlab-train, a new seed", sample="out")
       for s in (4, 5, 6)},
    "lsgan_s4": Run("good", ["experiment=lsgan_mnist5k", "seed=4"], good="lsgan", note="an unseen preset",
                    sample="out"),
    "wgan_s4": Run("good", ["experiment=wgan_mnist5k", "seed=4"], good="wgan", note="an unseen preset",
                   sample="out"),
    "diverging_lr_s4": Run("bad", [*DIVERGING, "seed=4"], ["divergence"], ("loss_explodes", "fid_vs_good"),
                           "default", "diverging_lr with a new seed", sample="out"),
    "weak_g_s4": Run("bad", ["generator.hidden=[32]", "optim.g.lr=5e-5", "optim.d.lr=1e-3", "seed=4"],
                     ["discriminator_winning", "mode_collapse", "stalled_quality"], ("fid_vs_good", "classes"),
                     "default", "weak_g with a new seed", sample="out"),
    "minimax_dcgan_s4": Run("bad", ["experiment=dcgan_mnist5k", "loss=minimax", "seed=4"],
                            ["discriminator_winning"], ("classes",), "", "minimax_dcgan with a new seed (no good "
                            "DCGAN run in this set: visible by the class rule)", sample="out"),
    "lsgan_diverging_s4": Run("bad", ["experiment=lsgan_mnist5k", *DIVERGING, "trainer.max_steps=2000", "seed=4"],
                              ["divergence"], ("loss_explodes", "fid_vs_good"), "lsgan",
                              "an unseen preset with learning rates 100x its own and Adam beta1 0.9", sample="out"),
    "wgan_unclipped_s4": Run("bad", ["experiment=wgan_mnist5k", "regularizers.clip.clip=1e9", "seed=4"],
                             ["divergence"], ("loss_explodes", "fid_vs_good"), "wgan",
                             "an unseen preset without its Lipschitz constraint (weight clipping at 1e9): the "
                             "critic's outputs are unbounded", sample="out"),
}
RUNS.update(OUT_OF_SAMPLE)


def command(name: str, out: Path, extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "ganlab.cli.train", *RUNS[name].overrides, *extra, "~callbacks.progress_bar",
            f"hydra.run.dir={out / name}"]


def launch(name: str, out: Path, extra: list[str]) -> tuple[str, int]:
    (out / name).mkdir(parents=True, exist_ok=True)
    with open(out / f"{name}.log", "w") as log:
        proc = subprocess.run(command(name, out, extra), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                              env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
    return name, proc.returncode


# ----------------------------------------------------------------------------- reading runs
def scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """tag -> [(step, value)] of the run's TensorBoard events (empty when there are none)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out: dict[str, list[tuple[int, float]]] = {}
    for f in sorted((run_dir / "tensorboard").glob("events.out.tfevents.*")):
        acc = EventAccumulator(str(f), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            out.setdefault(tag, []).extend((e.step, e.value) for e in acc.Scalars(tag))
    return out


def health(run_dir: Path) -> dict | None:
    path = run_dir / "health.json"
    return json.loads(path.read_text()) if path.is_file() else None


def good_fid(out: Path, group: str) -> dict[int, float]:
    """step -> median val/fid over the good runs of ``group`` found in ``out``."""
    by_step: dict[int, list[float]] = {}
    for name, run in RUNS.items():
        if run.label == "good" and run.good == group and (out / name).is_dir():
            for step, value in scalars(out / name).get("val/fid", []):
                by_step.setdefault(step, []).append(value)
    return {s: statistics.median(v) for s, v in by_step.items()}


def visible_step(name: str, out: Path) -> int | None:
    """The step where the problem of bad run ``name`` shows in its metrics (module docstring), or None."""
    run, tags = RUNS[name], scalars(out / name)
    for rule in run.visible:
        step = RULES[rule](tags, out, run)
        if step is not None:
            return step
    return None


def _loss_explodes(tags, out, run):
    steps = [s for key in ("train/d_loss", "train/g_loss") for s, v in tags.get(key, [])
             if not math.isfinite(v) or abs(v) > 100]
    return min(steps, default=None)


def _fid_vs_good(tags, out, run):
    ref = good_fid(out, run.good)
    worse = [s for s, v in tags.get("val/fid", []) if s in ref and (not math.isfinite(v) or v > 2 * ref[s])]
    return min(worse, default=None)


def _classes(tags, out, run):
    return min((s for s, v in tags.get("val/classes_covered", []) if v <= 2), default=None)


def _modes(tags, out, run):
    return min((s for s, v in tags.get("val/modes", []) if v < 12.5), default=None)


def _fid_worsens(tags, out, run):
    best = math.inf
    for s, v in sorted(tags.get("val/fid", [])):
        if v > 1.1 * best:
            return s
        best = min(best, v)
    return None


RULES = {"loss_explodes": _loss_explodes, "fid_vs_good": _fid_vs_good, "classes": _classes, "modes": _modes,
         "fid_worsens": _fid_worsens}


def rejudged(run_dir: Path, report: dict) -> dict:
    """``report`` with its alerts replaced by those of today's default detectors on the run's recorded signals."""
    from ganlab.health.replay import default_detectors, rejudge
    from ganlab.health.report import verdict_of

    monitor = report.get("settings", {}).get("monitor") or "val/fid"
    alerts = rejudge(run_dir, default_detectors(monitor=monitor))
    return {**report, "alerts": [a.to_dict() for a in alerts], "verdict": verdict_of(alerts, report.get("stopped_by"))}


def table(out: Path, rejudge: bool = False) -> str:
    """Markdown: per detector, alarms on bad runs, false alarms on good runs, detection delays."""
    found = {name: health(out / name) for name in RUNS if (out / name).is_dir()}
    found = {k: v for k, v in found.items() if v is not None}
    if rejudge:
        found = {k: rejudged(out / k, v) for k, v in found.items()}
    if not found:
        return f"no runs with health.json under {out}"
    detectors = sorted({d for h in found.values() for d in h["settings"].get("detectors", {})})
    bad = [n for n in found if RUNS[n].label == "bad"]
    good = [n for n in found if RUNS[n].label == "good"]
    lines = ["| run | label | last step | verdict | alerts (detector: first step) | visible at |",
             "|---|---|---|---|---|---|"]
    visible = {n: visible_step(n, out) for n in bad}
    for n, h in found.items():
        first = {}
        for a in h["alerts"]:
            first.setdefault(a["detector"], a["step"])
        alerts = ", ".join(f"{d}: {s:,}" for d, s in first.items()) or "none"
        vis = visible.get(n)
        lines.append(f"| {n} | {RUNS[n].label} | {h['last_step']:,} | {h['verdict']} | {alerts} | "
                     f"{'' if RUNS[n].label == 'good' else (f'{vis:,}' if vis is not None else 'not measured')} |")
    lines += ["", "| detector | alarms on bad runs | expected on | false alarms on good runs | delay (steps) |",
              "|---|---|---|---|---|"]
    for d in detectors:
        fired = {n: min(a["step"] for a in found[n]["alerts"] if a["detector"] == d)
                 for n in found if any(a["detector"] == d for a in found[n]["alerts"])}
        on_bad = [n for n in bad if n in fired]
        expected = [n for n in bad if d in RUNS[n].expect]
        false = [n for n in good if n in fired]
        delays = [f"{n} {fired[n] - visible[n]:+,}" for n in on_bad if d in RUNS[n].expect and visible[n] is not None]
        lines.append(f"| {d} | {len(on_bad)}/{len(bad)} ({', '.join(on_bad) or '-'}) | "
                     f"{', '.join(expected) or '-'} | {len(false)}/{len(good)} ({', '.join(false) or '-'}) | "
                     f"{'; '.join(delays) or '-'} |")
    return "\n".join(lines) + "\n"


def write_records(out: Path, study: str, rejudge: bool = False) -> list[Path]:
    """One results record per run found in ``out`` (``experiments/results/STUDY/<name>.json``): its label, expected
    detectors, sample (in / out), the first step of each detector's alert, and the step its problem is visible."""
    from ganlab.results.records import write_record

    written = []
    for name, run in RUNS.items():
        report = health(out / name)
        if report is None:
            continue
        if rejudge:
            report = rejudged(out / name, report)
        metrics: dict[str, float | None] = {"last_step": report["last_step"]}
        for alert in report["alerts"]:
            key = f"alert_step/{alert['detector']}"
            metrics[key] = min(metrics.get(key) or alert["step"], alert["step"])
        rule = None
        if run.label == "bad":
            tags = scalars(out / name)
            for rule in run.visible:
                step = RULES[rule](tags, out, run)
                if step is not None:
                    metrics["visible_at_step"] = step
                    break
        params = {"label": run.label, "expected": run.expect, "sample": run.sample, "rejudged": rejudge,
                  "overrides": " ".join(run.overrides)}
        if run.label == "bad":
            params["visible_rule"] = rule if "visible_at_step" in metrics else None
        written.append(write_record(study, name, metrics, params=params, overwrite=True, per_run=True))
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="*", default=[], choices=list(RUNS), metavar="NAME")
    parser.add_argument("--all", action="store_true", help="every run (of --sample)")
    parser.add_argument("--sample", choices=["in", "out", "both"], default="in",
                        help="with --all: the in-sample set (tuned on), the out-of-sample set, or both")
    parser.add_argument("--record", metavar="STUDY", default=None,
                        help="write one results record per run found in --out to experiments/results/STUDY/")
    parser.add_argument("--list", action="store_true", help="print the runs and their commands")
    parser.add_argument("--table", action="store_true", help="only score the runs already in --out")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "health_runs")
    parser.add_argument("--set", nargs="*", default=[], help="extra overrides for every run (e.g. a reduced budget)")
    parser.add_argument("--rejudge", action="store_true",
                        help="score today's default detectors on the runs' recorded signals, not health.json's alerts")
    args = parser.parse_args()
    if args.list:
        for name, run in RUNS.items():
            expect = f" (expected: {', '.join(run.expect)})" if run.expect else ""
            print(f"{name} [{run.label}]{expect}: {run.note}\n    {' '.join(command(name, args.out, args.set)[1:])}")
        return
    chosen = [n for n, r in RUNS.items() if args.sample in ("both", r.sample)]
    names = chosen if args.all else args.runs
    if names and not args.table:
        args.out.mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for name, code in pool.map(lambda n: launch(n, args.out, args.set), names):
                print(f"{name}: exit status {code} (log: {args.out / name}.log)", flush=True)
    text = table(args.out, rejudge=args.rejudge)
    print(text)
    if args.record:
        for path in write_records(args.out, args.record, rejudge=args.rejudge):
            print(f"record: {path}")
    (args.out / "table.md").write_text(text) if args.out.is_dir() else None


if __name__ == "__main__":
    main()
