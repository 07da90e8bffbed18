"""The config fuzz: run every case in process, about 30 of them as ganlab-train subprocesses, write the records.

    python scripts/checks/config_fuzz.py                  # all configs, 30 end-to-end cases (a few minutes)
    python scripts/checks/config_fuzz.py --end-to-end 0   # in process only (about a minute on 2 CPU cores)

Writes experiments/results/config_fuzz/<config>.json (counts, and every case under ``cases``) and
experiments/results/config_fuzz/end_to_end.json; docs/config-fuzz.md renders them
(``python -m ganlab.results render docs/config-fuzz.md``). The cases are built by ganlab.checks.fuzz.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter

from ganlab.checks.fuzz import CONFIGS, Fuzzer, pick, run_end_to_end
from ganlab.results import write_record

STUDY = "config_fuzz"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--end-to-end", type=int, default=30, help="cases run as subprocesses (0: none)")
    parser.add_argument("--root", default="experiments/results", help="results root")
    args = parser.parse_args()
    results, failures = [], 0
    with tempfile.TemporaryDirectory(prefix="ganlab-fuzz-") as tmp:
        for name, overrides in CONFIGS.items():
            fuzzer = Fuzzer(name, overrides, tmp)
            fuzzer.check()
            cases = fuzzer.cases()
            began = time.perf_counter()
            done = [fuzzer.run(case) for case in cases]
            seconds = time.perf_counter() - began
            count = Counter(r.outcome for r in done)
            stage = Counter(r.stage for r in done if r.outcome == "refused")
            bad = [r for r in done if not r.ok]
            failures += len(bad)
            metrics = {"leaves": len({r.key for r in done}), "cases": len(done), "refused": count["refused"],
                       "refused_at_config": stage["config"], "refused_at_build": stage["build"],
                       "valid": count["valid"], "failures": len(bad),
                       "ms_per_case": round(1000 * seconds / len(done), 2)}
            write_record(STUDY, name, metrics, params={"config": name, "overrides": overrides}, root=args.root,
                         overwrite=True, cases=[{k: v for k, v in vars(r).items() if k != "config"} for r in done])
            print(f"{name}: {metrics}")
            for r in bad:
                print(f"  FAIL {r.outcome}: {r.override}: {r.message}")
            results += done
        if args.end_to_end:
            runs = [run_end_to_end(r, tmp) for r in pick(results, args.end_to_end)]
            ok = sum(e.ok for e in runs)
            metrics = {"cases": len(runs), "one_line_refusals": ok, "tracebacks": sum(e.traceback for e in runs),
                       "training_started": sum(e.training_started for e in runs)}
            write_record(STUDY, "end_to_end", metrics, params={"end_to_end": len(runs)}, root=args.root,
                         overwrite=True, cases=[vars(e) for e in runs])
            print(f"end to end: {metrics}")
            failures += len(runs) - ok
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
