"""ganlab-reproduce: run experiment presets over seeds and print measured against published numbers.

    ganlab-reproduce veegan_gan_ring --seeds 5 --jobs 2
    ganlab-reproduce pacgan_gan_ring pacgan2_ring --seeds 3 --budget 20000     # a reduced, labelled check
    ganlab-reproduce veegan_gan_ring --seeds 8 --ensemble      # the 8 seeds as one batched run (ensemble.size=8)
    ganlab-reproduce veegan_gan_grid --seeds 20 --ensemble --chunk 5 --record grid-cpu   # 4 resumable ensembles

Each preset names its paper's protocol and carries a ``published:`` block (numbers, ``<key>_error``
for their error bars, ``source``, ``protocol``). Every seed is one ``ganlab-train experiment=NAME
seed=K`` run in OUT/NAME/seed<K>; the value of ``val/<key>`` at the run's last evaluation is its
measurement. The table gives published ± error, measured mean ± standard error over seeds, and
whether the two agree within the combined error sqrt(SE² + error²). Finished runs are reused, so
a call with more seeds only adds the new ones. With ``--ensemble`` the seeds train as one seed ensemble
(``ensemble.size=N health=none``, in OUT/NAME/ensemble<N>), each member's ``val/<key>/member<k>`` being its
seed's measurement; the table is the same. ``--chunk K`` trains the seeds as ensembles of K members each
(seeds 0..K-1, K..2K-1, ... in OUT/NAME/ensemble-seeds<a>-<b>), so a stopped study loses at most one chunk
and a call with more seeds only trains the new chunks. A seed or chunk stopped part-way (its
directory holds ``checkpoints/last.ckpt`` but no result) continues from that checkpoint (``ckpt_path``) on the
next call. ``--record STUDY`` writes one results record per seed,
``experiments/results/STUDY/NAME-s<seed>.json`` (``ganlab.results``), as soon as its run or chunk finishes;
records already there are kept.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from ganlab.cli import boundary
from ganlab.config import CONFIG_DIR, compose
from ganlab.errors import UserError
from ganlab.runs.read import read_run, select

EXPERIMENTS = Path(CONFIG_DIR) / "experiment"
NOT_SCORES = {"eval_seconds"}


class ReproduceError(UserError):
    """A problem reported in one line."""


@dataclass
class Row:
    metric: str
    published: float | None
    published_error: float | None
    mean: float | None
    se: float | None
    n: int

    @property
    def combined(self) -> float | None:
        errors = [e for e in (self.se, self.published_error) if e is not None]
        return math.sqrt(sum(e * e for e in errors)) if errors else None

    @property
    def agrees(self) -> bool | None:
        if self.published is None or self.mean is None or self.combined is None:
            return None
        return abs(self.mean - self.published) <= self.combined


def run_seed(name: str, seed: int, args: argparse.Namespace) -> dict:
    """Train one seed (or reuse a finished run); returns its result record."""
    run = args.out / name / f"seed{seed}"
    done = run / "reproduce_run.json"
    if done.is_file():
        return json.loads(done.read_text())
    overrides = [f"experiment={name}", f"seed={seed}", f"hydra.run.dir={run}", "~callbacks.progress_bar",
                 "+trainer.enable_progress_bar=false", "trainer.enable_model_summary=false", *continued(run)]
    if args.budget:
        overrides += [f"trainer.max_steps={args.budget}", f"metrics.every_n_steps={args.budget}"]
    error, wall = _train(run, overrides, args, processes=args.jobs)
    if error is not None:
        return {"name": name, "seed": seed, "ok": False, "error": error, "wall_s": wall}
    values, curves = {}, {}
    for tag, points in read_run(run).curves.items():
        key = tag[len("val/"):]
        if tag.startswith("val/") and points and key not in NOT_SCORES and not key.endswith("_best"):
            values[key] = points[max(points)]  # the last evaluation
            curves[key] = {str(step): points[step] for step in sorted(points)}
    result = {"name": name, "seed": seed, "ok": True, "values": values, "curves": curves, "wall_s": wall,
              "overrides": args.set,
              "steps": int(select(OmegaConf.load(last_config(run)), "trainer.max_steps"))}
    done.write_text(json.dumps(result, indent=1))
    return result


def _train(run: Path, overrides: list[str], args: argparse.Namespace,
           processes: int | None) -> tuple[str | None, float]:
    """One ``ganlab-train`` subprocess into ``run`` (its output kept in train.log); (the error line or None, wall s).

    ``processes``: the parallel runs sharing the cores, for ``--threads auto`` (None: let the run decide alone)."""
    if args.threads != "auto":
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    elif processes is not None:  # each run takes its share of the free cores (ganlab/threads.py)
        env = dict(os.environ, GANLAB_PROCESSES=str(processes))
    else:
        env = dict(os.environ)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "ganlab.cli.train", *overrides, *args.set], env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    run.mkdir(parents=True, exist_ok=True)
    with open(run / "train.log", "a") as log:  # a continued run keeps the log of its first part
        log.write(proc.stdout + proc.stderr)
    if proc.returncode == 0:
        return None, wall
    # the error itself, not Hydra's closing hint about HYDRA_FULL_ERROR
    lines = [ln for ln in proc.stderr.strip().splitlines() if "HYDRA_FULL_ERROR" not in ln]
    return (lines or ["(no output)"])[-1], wall


def last_config(run: Path) -> Path:
    """The config the run ended with: that of its newest continuation (``.hydra/resume_<n>/``), else its own."""
    resumed = sorted((run / ".hydra").glob("resume_*/config.yaml"), key=lambda p: int(p.parent.name.split("_")[1]))
    return resumed[-1] if resumed else run / ".hydra" / "config.yaml"


def continued(run: Path) -> list[str]:
    """``ckpt_path=RUN/checkpoints/last.ckpt`` for a run stopped part-way (its checkpoint policy wrote last.ckpt:
    every 500 steps or 10 minutes, and on SIGTERM), so it continues at that step; nothing for a new run."""
    last = run / "checkpoints" / "last.ckpt"
    return [f"ckpt_path={last}"] if last.is_file() and not (run / "reproduce_run.json").is_file() else []


def check_continued(run: Path, args: argparse.Namespace) -> None:
    """Refuse to continue a run stopped part-way under other ``--set`` overrides than this call's."""
    saved = run / ".hydra" / "overrides.yaml"
    if continued(run) and saved.is_file():
        had = [str(o) for o in OmegaConf.load(saved)]
        missing = [o for o in args.set if o not in had]
        if missing:
            raise ReproduceError(f"{run} was stopped part-way and was trained without {' '.join(missing)}; "
                                 "use the same --set to continue it, another --out, or remove it")


def chunks(args: argparse.Namespace) -> list[range]:
    """The seed ranges trained as one ensemble each: all N seeds, or runs of ``--chunk`` seeds."""
    size = args.chunk or args.seeds
    return [range(a, min(a + size, args.seeds)) for a in range(0, args.seeds, size)]


def ensemble_dir(name: str, seeds: range, args: argparse.Namespace) -> Path:
    if args.chunk is None:
        return args.out / name / f"ensemble{args.seeds}"
    return args.out / name / f"ensemble-seeds{seeds.start}-{seeds.stop - 1}"


def run_ensemble(name: str, seeds: range, args: argparse.Namespace) -> list[dict]:
    """Train ``seeds`` as one seed ensemble (or reuse it); returns one result record per member."""
    run = ensemble_dir(name, seeds, args)
    done = run / "reproduce_run.json"
    if done.is_file():
        return json.loads(done.read_text())
    size = len(seeds)
    overrides = [f"experiment={name}", f"seed={seeds.start}", f"ensemble.size={size}", "health=none",
                 f"hydra.run.dir={run}", *continued(run),
                 "~callbacks.progress_bar", "+trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"]
    if args.budget:
        overrides += [f"trainer.max_steps={args.budget}", f"metrics.every_n_steps={args.budget}"]
    error, wall = _train(run, overrides, args, processes=None)
    if error is not None:
        return [{"name": name, "seed": s, "ok": False, "error": error, "wall_s": wall} for s in seeds]
    values: dict[int, dict[str, float]] = {k: {} for k in range(size)}
    curves: dict[int, dict[str, dict[str, float]]] = {k: {} for k in range(size)}
    for tag, points in read_run(run).curves.items():
        key, _, member = tag[len("val/"):].rpartition("/member")
        if size == 1 and not member.isdigit():  # a one-seed chunk is a plain run: its tags have no /member
            key, member = tag[len("val/"):], "0"
        if (tag.startswith("val/") and member.isdigit() and points and key not in NOT_SCORES
                and not key.endswith("_best")):
            values[int(member)][key] = points[max(points)]  # member k = seed start + k
            curves[int(member)][key] = {str(step): points[step] for step in sorted(points)}
    steps = int(select(OmegaConf.load(last_config(run)), "trainer.max_steps"))
    results = [{"name": name, "seed": s, "ok": True, "values": values[k], "curves": curves[k], "wall_s": wall / size,
                "ensemble_wall_s": wall, "ensemble": size, "overrides": args.set, "steps": steps}
               for k, s in enumerate(seeds)]
    done.write_text(json.dumps(results, indent=1))
    return results


def check_ensemble(name: str, seeds: range, args: argparse.Namespace) -> None:
    """Refuse, before anything trains, an ensemble directory that cannot be reused as it is."""
    run = ensemble_dir(name, seeds, args)
    done = run / "reproduce_run.json"
    if done.is_file():
        trained = json.loads(done.read_text())[0].get("overrides", [])
        if trained != args.set:
            raise ReproduceError(f"{run} was trained with --set {' '.join(trained) or '(none)'}, not "
                                 f"{' '.join(args.set) or '(none)'}; use another --out or remove it")
    elif run.exists() and not continued(run):
        raise ReproduceError(f"{run} exists but did not finish and holds no checkpoints/last.ckpt to continue "
                             "from; remove it to rerun the ensemble")
    else:
        check_continued(run, args)


def check_seed(name: str, seed: int, args: argparse.Namespace) -> None:
    """Refuse, before anything trains, a seed directory that cannot be reused as it is."""
    run = args.out / name / f"seed{seed}"
    done = run / "reproduce_run.json"
    if done.is_file():
        trained = json.loads(done.read_text()).get("overrides", [])
        if trained != args.set:  # a reused seed must have been trained the same way
            raise ReproduceError(f"{run} was trained with --set {' '.join(trained) or '(none)'}, not "
                                 f"{' '.join(args.set) or '(none)'}; use another --out or remove it")
    elif run.exists() and not continued(run):
        raise ReproduceError(f"{run} exists but did not finish and holds no checkpoints/last.ckpt to continue "
                             "from; remove it to rerun that seed")
    else:
        check_continued(run, args)


def _check_study(study: str) -> None:
    from ganlab.results.records import RecordError, _check_name

    try:
        _check_name("study", study)
    except RecordError as e:
        raise ReproduceError(f"--record {e}") from None


def write_seed_record(study: str, result: dict, info: dict, args: argparse.Namespace) -> Path | None:
    """``experiments/results/STUDY/NAME-s<seed>.json`` for one finished seed; an existing record is kept."""
    from ganlab.results.records import DEFAULT_ROOT, write_record

    run = f"{result['name']}-s{result['seed']}"
    if (Path(DEFAULT_ROOT) / study / f"{run}.json").exists():
        return None
    metrics = {**result["values"], "wall_s": result["wall_s"], "steps": result["steps"]}
    params = {"preset": result["name"], "seed": result["seed"], "protocol_steps": info["max_steps"],
              "reduced": bool(args.budget), "overrides": " ".join(args.set),
              "ensemble": result.get("ensemble", 1)}
    return write_record(study, run, metrics, params=params, published=info["published"], per_run=True,
                        curves=result.get("curves", {}))


def published_block(name: str) -> dict:
    """The preset's ``published`` block, composed as ganlab-train would."""
    if not (EXPERIMENTS / f"{name}.yaml").is_file():
        valid = ", ".join(sorted(p.stem for p in EXPERIMENTS.glob("*.yaml")))
        raise ReproduceError(f"no preset conf/experiment/{name}.yaml; valid: {valid}")
    cfg = compose([f"experiment={name}"])
    node = cfg.get("published")  # presets without a published number (ganlab's own baselines) have none
    block = OmegaConf.to_container(node, resolve=True) if node is not None else {}
    return {"published": block, "max_steps": int(cfg.trainer.max_steps)}


def table_rows(published: dict, results: list[dict]) -> list[Row]:
    ok = [r for r in results if r["ok"]]
    numbers = {k: v for k, v in published.items() if isinstance(v, (int, float)) and not k.endswith("_error")}
    # the published numbers first, then what else the runs measured (e.g. reverse KL where a paper gives none)
    keys = list(numbers) + sorted({k for r in ok for k in r["values"]} - set(numbers))
    rows = []
    for key in keys:
        values = [r["values"][key] for r in ok if key in r["values"] and not math.isnan(r["values"][key])]
        mean = statistics.fmean(values) if values else None
        se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else None
        rows.append(Row(key, numbers.get(key), published.get(f"{key}_error"), mean, se, len(values)))
    return rows


def _num(value: float | None, err: float | None = None) -> str:
    if value is None:
        return "–"
    return f"{value:.3g}" if err is None else f"{value:.3g} ± {err:.2g}"


def markdown(name: str, info: dict, rows: list[Row], results: list[dict], budget: int | None,
             overrides: list[str] = ()) -> str:
    pub = info["published"]
    ok = [r for r in results if r["ok"]]
    steps = budget or info["max_steps"]
    lines = [f"### {name}" + (" — REDUCED BUDGET" if budget else ""), ""]
    if budget:
        lines += [f"**Reduced budget: {budget:,} of the protocol's {info['max_steps']:,} steps; not the "
                  "published protocol.**", ""]
    lines += [f"- published: {pub.get('source', 'none applies')}" + (f" ({pub['protocol']})" if "protocol" in pub
                                                                      else ""),
              f"- measured: {len(ok)} seeds ({', '.join(str(r['seed']) for r in ok)}), {steps:,} steps each, "
              f"{_machine()}, {statistics.fmean(r['wall_s'] for r in ok) / 60:.1f} min per run"
              + (f" (one seed ensemble of {ok[0]['ensemble']} members: {ok[0]['ensemble_wall_s'] / 60:.1f} min in all)"
                 if ok[0].get("ensemble") else "")
              if ok else "- measured: no finished run", ""]
    if overrides:
        lines[-1:-1] = [f"- extra overrides: `{' '.join(overrides)}`"]
    failed = [r for r in results if not r["ok"]]
    if failed:
        lines += ["- failed seeds: " + "; ".join(f"{r['seed']}: {r['error']}" for r in failed), ""]
    lines += ["| metric | published | measured (mean ± SE) | n | agree |", "|---|---|---|---|---|"]
    for r in rows:
        agree = {True: "yes", False: "no", None: "–"}[r.agrees]
        if r.agrees is not None and r.combined:
            agree += f" ({abs(r.mean - r.published) / r.combined:.1f} σ)"
        lines.append(f"| {r.metric} | {_num(r.published, r.published_error)} | {_num(r.mean, r.se)} | {r.n} | "
                     f"{agree} |")
    return "\n".join(lines) + "\n"


def _machine() -> str:
    import torch  # only for the report: runs are subprocesses

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"{platform.machine()} CPU, {os.cpu_count()} cores"


def _threads(value: str) -> str | int:
    if value == "auto":
        return value
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r}; valid: auto or an integer >= 1")
    return int(value)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="ganlab-reproduce", description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="+", metavar="NAME", help="experiment presets (conf/experiment/NAME.yaml)")
    p.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    p.add_argument("--budget", type=int, default=None, help="train this many steps instead (table marked reduced)")
    p.add_argument("--jobs", type=int, default=1, help="runs at a time (default 1; one per core is sensible)")
    p.add_argument("--threads", type=_threads, default="auto",
                   help="CPU threads per run: auto (default: the free cores shared by --jobs runs) or an integer")
    p.add_argument("--out", type=Path, default=Path("outputs/reproduce"))
    p.add_argument("--set", nargs="*", default=[], help="extra ganlab-train overrides for every run")
    p.add_argument("--ensemble", action="store_true",
                   help="train the seeds as one seed ensemble (ensemble.size=N, health=none) instead of N runs")
    p.add_argument("--chunk", type=int, default=None,
                   help="with --ensemble: ensembles of this many seeds each, reused when finished (resumable)")
    p.add_argument("--record", metavar="STUDY", default=None,
                   help="write one results record per seed to experiments/results/STUDY/NAME-s<seed>.json")
    args = p.parse_args(argv)
    if args.seeds < 1 or (args.budget is not None and args.budget < 1) or args.jobs < 1:
        p.error("--seeds, --budget and --jobs must be >= 1")
    if args.chunk is not None and (args.chunk < 1 or not args.ensemble):
        p.error(f"--chunk {args.chunk}: valid with --ensemble, as an integer >= 1")
    if args.budget:  # reduced runs never mix with full ones
        args.out = args.out / f"budget{args.budget}"
    return args


def reproduce(args: argparse.Namespace) -> int:
    infos = {name: published_block(name) for name in args.names}  # fails fast on a bad name
    jobs = [(name, seed) for name in args.names for seed in range(args.seeds)]
    for name, seed in jobs:
        if not args.ensemble:
            check_seed(name, seed, args)
    for name in args.names if args.ensemble else []:
        for seeds in chunks(args):
            check_ensemble(name, seeds, args)
    if args.record:
        _check_study(args.record)
    results: dict[str, list[dict]] = {name: [] for name in args.names}

    def record(result: dict) -> None:
        status = "ok" if result["ok"] else f"FAILED: {result['error']}"
        print(f"{result['name']} seed {result['seed']}: {status} ({result['wall_s']:.0f} s)", flush=True)
        results[result["name"]].append(result)
        if args.record and result["ok"]:
            write_seed_record(args.record, result, infos[result["name"]], args)

    if args.ensemble:  # one process per chunk of seeds; its members are the seeds
        for name in args.names:
            for seeds in chunks(args):
                for result in run_ensemble(name, seeds, args):
                    record(result)
    else:
        with ThreadPoolExecutor(args.jobs) as pool:
            for result in pool.map(lambda job: run_seed(*job, args), jobs):
                record(result)
    sections, report = [], {}
    for name in args.names:
        rows = table_rows(infos[name]["published"], results[name])
        sections.append(markdown(name, infos[name], rows, results[name], args.budget, args.set))
        report[name] = {"published": infos[name]["published"], "protocol_steps": infos[name]["max_steps"],
                        "budget": args.budget, "reduced": bool(args.budget), "machine": _machine(),
                        "overrides": args.set,
                        "rows": [{**r.__dict__, "combined_error": r.combined, "agrees": r.agrees} for r in rows],
                        "runs": results[name]}
        (args.out / name).mkdir(parents=True, exist_ok=True)
        (args.out / name / "reproduce.md").write_text(sections[-1])
        (args.out / name / "reproduce.json").write_text(json.dumps(report[name], indent=1))
    text = "\n".join(sections)
    print(text)
    (args.out / "reproduce.md").write_text(text)
    (args.out / "reproduce.json").write_text(json.dumps(report, indent=1))
    return 0 if all(r["ok"] for rs in results.values() for r in rs) else 1


@boundary.command("ganlab-reproduce", code=2)
def main(argv: list[str] | None = None) -> int:
    """Console entry point (``ganlab-reproduce``); returns the exit code."""
    return reproduce(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
