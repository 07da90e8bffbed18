"""The config fuzz: every leaf of the default config and four presets set to bad values; each case ends in a
one-line error naming the key or is a documented valid value, and the committed table is the current one."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from ganlab.checks import domains
from ganlab.checks.fuzz import CONFIGS, Fuzzer, pick, run_end_to_end

REPO = Path(__file__).resolve().parent.parent
RECORDS = REPO / "experiments" / "results" / "config_fuzz"
REGENERATE = "regenerate with: python scripts/checks/config_fuzz.py && python -m ganlab.results render"


@pytest.mark.parametrize("name", list(CONFIGS))
def test_every_bad_value_is_refused_in_one_line_or_documented_valid(name, tmp_path):
    fuzzer = Fuzzer(name, CONFIGS[name], str(tmp_path))
    fuzzer.check()  # the preset itself is valid
    got = [fuzzer.run(case) for case in fuzzer.cases()]
    failures = [f"{r.outcome}: {r.override}: {r.message}" for r in got if not r.ok]
    assert not failures, "\n".join(failures)
    kinds = Counter(r.kind for r in got)
    assert len(got) >= 300 and {"string for a number", "zero", "negative", "past the range", "empty string",
                                "empty list", "string for a boolean"} <= set(kinds)
    assert sum(r.outcome == "refused" for r in got) > 0.8 * len(got)
    committed = json.loads((RECORDS / f"{name}.json").read_text())["cases"]
    assert {(c["key"], c["kind"], c["outcome"]) for c in committed} == {(r.key, r.kind, r.outcome) for r in got}, \
        f"experiments/results/config_fuzz/{name}.json is not what the checks give now; {REGENERATE}"


def test_a_domain_refuses_what_it_does_not_document():
    seed = domains.domain_of("seed")
    assert seed.ok(0) and seed.ok(2**32 - 1) and not seed.ok(2**32) and not seed.ok(True) and not seed.ok("1")
    lr = domains.domain_of("optim.d.lr")
    assert lr.ok(1e-4) and not lr.ok(0) and not lr.ok(float("nan")) and not lr.ok(float("inf"))
    devices = domains.domain_of("trainer.devices")
    assert devices.ok("auto") and devices.ok(-1) and devices.ok([0, 1]) and not devices.ok(0) and not devices.ok(-2)
    assert domains.domain_of("health.detectors.divergence.action").ok("rollback")
    assert domains.domain_of("user.anything").ok(object())
    assert domains.show("") == "''" and domains.show([1, 2]) == "[1, 2]" and domains.show(None) == "null"


def test_every_leaf_of_every_preset_has_a_domain():
    """A new preset or component key gets its valid values documented (ganlab/checks/domains.py)."""
    from omegaconf import OmegaConf

    from ganlab.config import compose

    missing = set()
    for preset in sorted(p.stem for p in (REPO / "conf" / "experiment").glob("*.yaml")):
        cfg = compose([f"experiment={preset}", "paths.output_dir=."])
        for key, value in domains.leaves(OmegaConf.to_container(cfg, resolve=False)):
            if not domains.is_interpolation(value) and value is not None and domains.domain_of(key) is None:
                missing.add(key)
    assert not missing, f"keys without a domain in ganlab/checks/domains.py: {sorted(missing)}"


@pytest.mark.slow  # 30 ganlab-train subprocesses (about 4 minutes on 2 CPU cores)
def test_thirty_cases_end_to_end_are_one_line_before_training(tmp_path):
    committed = [{**c, "config": name} for name in CONFIGS
                 for c in json.loads((RECORDS / f"{name}.json").read_text())["cases"]]
    from ganlab.checks.fuzz import Result

    chosen = pick([Result(**c) for c in committed], 30)
    assert len(chosen) == 30 and len({(c.config, c.kind) for c in chosen}) >= 20
    runs = [run_end_to_end(c, str(tmp_path)) for c in chosen]
    bad = [f"{e.override} ({e.config}): exit {e.returncode}, stderr {e.stderr!r}" for e in runs if not e.ok]
    assert not bad, "\n".join(bad)
