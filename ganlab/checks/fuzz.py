"""The config fuzz: every numeric, boolean, string and list leaf of a composed config set to bad values, in process.

For each leaf (``_target_`` entries and interpolations left out) and each kind of bad value that applies
(a string where a number is expected, zero, a negative number, a value past the documented range, an empty
string or list, a path that does not exist, ...), the value is set as ``ganlab-train KEY=VALUE`` would set
it, then the config is validated and the module, optimizers and datamodule are built and checked as
``ganlab-train`` does before its first step. Every case must end in a one-line ``ConfigError`` naming the key,
or be a documented valid value (``ganlab.checks.domains``); anything else is a failure.

Only what the changed key reaches (through interpolations) is rebuilt; the rest is the preset's own,
built once: a case takes milliseconds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ganlab.checks.domains import MISSING, Domain, domain_of, is_interpolation, leaves, show

# the configs fuzzed: the default and one preset of each family (a DCGAN, a toy, a conditional and an R3GAN one)
CONFIGS: dict[str, list[str]] = {
    "default": [],
    "dcgan": ["experiment=dcgan_mnist5k"],
    "toy": ["experiment=pacgan2_ring"],
    "conditional": ["experiment=cgan_pd_mnist5k"],
    "r3gan": ["experiment=r3gan_mnist5k"],
}
NO_SUCH_PATH = "/nonexistent/ganlab-fuzz/path"
# nodes that ganlab-train builds from the config before its first step, rebuilt when a case reaches them
BUILT = ("model", "datamodule")
_REF = re.compile(r"\$\{([A-Za-z_][\w.]*)\}")


@dataclass(frozen=True)
class Case:
    """One bad value: ``config`` (a name of CONFIGS), ``key``, the ``kind`` of bad value, and the value."""

    config: str
    key: str
    kind: str
    value: Any

    @property
    def override(self) -> str:
        """The command-line override that sets it (``KEY=VALUE`` in Hydra's syntax)."""
        if isinstance(self.value, str):
            return f"{self.key}=''" if self.value == "" else f"{self.key}={self.value}"
        return f"{self.key}={show(self.value).replace(' ', '')}"


@dataclass
class Result:
    """What a case ended in: ``refused`` (a ConfigError naming the key), ``valid`` (accepted, documented), or a
    failure (``undocumented``: accepted but not a documented valid value; ``unnamed``: refused without naming the
    key; ``crash``: another exception)."""

    config: str
    key: str
    kind: str
    value: Any
    override: str
    outcome: str
    stage: str  # config (validate), build (module, optimizers, data, shapes) or accepted
    message: str

    @property
    def ok(self) -> bool:
        return self.outcome in ("refused", "valid")


def bad_values(key: str, default: Any, domain: Domain | None) -> Iterator[tuple[str, Any]]:
    """(kind, value) of each kind of bad value that applies to a leaf with this default and domain."""
    kind = domain.kind if default is None and domain is not None else (
        "bool" if isinstance(default, bool) else "number" if isinstance(default, (int, float))
        else "list" if isinstance(default, (list, tuple)) else "text" if isinstance(default, str) else None)
    if domain is not None and domain.kind in ("path", "choice") and kind == "text":
        kind = domain.kind
    if kind in ("int", "number"):
        yield "string for a number", "abc"
        yield "zero", 0
        yield "negative", -1
        for past in (domain.past if domain else ()):
            yield "past the range", past
    elif kind == "bool":
        yield "string for a boolean", "abc"
        yield "number for a boolean", 0
    elif kind == "choice":
        yield "empty string", ""
        yield "not an option", "not_an_option"
    elif kind == "path":
        yield "empty string", ""
        yield "no such path", NO_SUCH_PATH
    elif kind == "text":
        yield "empty string", ""
    elif kind == "list":
        yield "empty list", []
        yield "string for a list", "abc"
        if default and all(isinstance(v, int) and not isinstance(v, bool) for v in default):
            yield "zero entry", [0]
            yield "negative entry", [-1]
        elif default and all(isinstance(v, str) for v in default):
            yield "unknown entry", ["not_an_option"]


def cases(name: str, cfg: DictConfig) -> list[Case]:
    """Every case of the composed config ``cfg`` (named ``name``)."""
    out = []
    for key, default in leaves(OmegaConf.to_container(cfg, resolve=False)):
        if key.startswith("hydra.") or is_interpolation(default) or default == MISSING:
            continue
        domain = domain_of(key)
        if default is None and domain is None:
            continue  # a node filled by a group (minibatch, game.unroll): no value type to vary
        for kind, value in bad_values(key, default, domain):
            if not (value == default and type(value) is type(default)):
                out.append(Case(name, key, kind, value))
    return out


def references(cfg: DictConfig, root: str) -> set[str]:
    """The keys the subtree ``root`` reaches through interpolations, transitively (``root`` included)."""
    raw = OmegaConf.to_container(cfg, resolve=False)
    seen, todo = set(), [root]
    while todo:
        key = todo.pop()
        if key in seen:
            continue
        seen.add(key)
        node: Any = raw
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        texts = [v for _, v in leaves(node)] if isinstance(node, (dict, list)) else [node]
        todo += [m for t in texts if isinstance(t, str) for m in _REF.findall(t)]
    return seen


def reaches(key: str, refs: set[str]) -> bool:
    """Whether setting ``key`` changes something under the referenced keys ``refs``."""
    return any(key == r or key.startswith(f"{r}.") or r.startswith(f"{key}.") for r in refs)


class Fuzzer:
    """Runs the cases of one composed config, keeping its built objects for the cases that do not reach them."""

    def __init__(self, name: str, overrides: list[str], output_dir: str) -> None:
        from ganlab.config import compose

        self.name = name
        self.cfg = compose([f"paths.output_dir={output_dir}", *overrides])
        self.refs = {node: references(self.cfg, node) for node in BUILT}
        self._base: dict[str, Any] | None = None
        self._sources: dict[str, Any] = {}  # the data, by the source's resolved config

    def cases(self) -> list[Case]:
        """The cases of this config (``paths.output_dir``, which the fuzz sets itself, left out)."""
        return [c for c in cases(self.name, self.cfg) if c.key != "paths.output_dir"]

    def _datamodule(self, cfg: DictConfig) -> Any:
        """The datamodule of ``cfg``, set up; the data are loaded once per distinct source."""
        from ganlab.config import build

        datamodule = build(cfg.datamodule, "datamodule")
        source_key = str(OmegaConf.to_container(cfg.datamodule.source, resolve=True))
        if source_key not in self._sources:
            try:
                self._sources[source_key] = datamodule.source()
            except (FileNotFoundError, ValueError) as e:  # as ganlab-train reports a dataset that cannot load
                from ganlab.config import ConfigError

                raise ConfigError(str(e).splitlines()[0]) from e
        loaded = self._sources[source_key]
        datamodule.source = lambda: loaded
        try:
            datamodule.setup("fit")
        except (FileNotFoundError, ValueError) as e:
            from ganlab.config import ConfigError

            raise ConfigError(str(e).splitlines()[0]) from e
        return datamodule

    def _build(self, cfg: DictConfig, key: str | None) -> tuple[Any, Any]:
        """(module, datamodule) for ``cfg``: rebuilt where ``key`` reaches them, else the preset's own."""
        from ganlab.assembly import build_module

        if self._base is None:
            self._base = {"model": build_module(self.cfg), "datamodule": self._datamodule(self.cfg)}
        model = build_module(cfg) if key is not None and reaches(key, self.refs["model"]) else self._base["model"]
        datamodule = (self._datamodule(cfg) if key is not None and reaches(key, self.refs["datamodule"])
                      else self._base["datamodule"])
        return model, datamodule

    def check(self) -> None:
        """Validate and build the preset itself as ganlab-train does before step one."""
        from ganlab.config import validate

        validate(self.cfg)
        self._build_and_check(None)

    def _build_and_check(self, key: str | None) -> None:
        """What ganlab-train does after ``validate`` and before its first step: the module and datamodule built,
        and ``checks.before_fit`` (optimizers on the real parameters, data, shapes)."""
        import torch

        from ganlab import checks

        with torch.random.fork_rng(devices=[]):
            model, datamodule = self._build(self.cfg, key)
            checks.before_fit(self.cfg, model, datamodule)

    def run(self, case: Case) -> Result:
        """Set the case's value, check, and put the preset's value back."""
        from ganlab.config import ConfigError, validate

        parent_key, _, leaf = case.key.rpartition(".")
        node = (OmegaConf.select(self.cfg, parent_key) if parent_key else self.cfg)._get_node(leaf)
        raw_old = OmegaConf.to_container(node, resolve=False) if OmegaConf.is_config(node) else node._value()
        stage = "config"
        OmegaConf.update(self.cfg, case.key, case.value, merge=False)
        try:
            validate(self.cfg)
            stage = "build"
            self._build_and_check(case.key)
            domain = domain_of(case.key)
            documented = domain is not None and domain.ok(case.value)
            outcome = "valid" if documented else "undocumented"
            message = (f"valid: {domain.valid}" if documented else
                       f"accepted, but not a documented valid value ({domain.valid if domain else 'no domain'})")
            stage = "accepted"
        except ConfigError as e:
            message = str(e)
            outcome = "refused" if case.key in message and "\n" not in message.strip() else "unnamed"
        except Exception as e:  # a crash: what the boundary would report as unexpected
            outcome, message = "crash", f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        finally:
            OmegaConf.update(self.cfg, case.key, raw_old, merge=False)
        return Result(case.config, case.key, case.kind, case.value, case.override, outcome, stage, message)


def run_all(configs: dict[str, list[str]] = CONFIGS, output_dir: str = "/tmp/ganlab-fuzz") -> list[Result]:
    """Every case of every config."""
    results = []
    for name, overrides in configs.items():
        fuzzer = Fuzzer(name, overrides, output_dir)
        fuzzer.check()  # the preset itself passes (else every case would be "refused" for the wrong reason)
        results += [fuzzer.run(case) for case in fuzzer.cases()]
    return results


def as_rows(results: list[Result]) -> list[dict[str, Any]]:
    """Plain dicts (JSON) of the results."""
    return [asdict(r) for r in results]


def pick(results: list[Result], n: int = 30) -> list[Result]:
    """``n`` refused cases spread over configs and kinds of bad value (one per (config, kind) in turn), for
    running end to end."""
    groups: dict[tuple[str, str], list[Result]] = {}
    for r in results:
        if r.outcome == "refused":
            groups.setdefault((r.config, r.kind), []).append(r)
    picked, depth = [], 0
    while len(picked) < n and any(len(g) > depth for g in groups.values()):
        for group in groups.values():
            # spread over keys too: the depth-th case of the group, counted from both ends in turn
            if len(group) > depth and len(picked) < n:
                picked.append(group[depth // 2 if depth % 2 == 0 else -(depth // 2 + 1)])
        depth += 1
    return picked


@dataclass
class EndToEnd:
    """One case run as ``ganlab-train``: what a user sees."""

    config: str
    override: str
    returncode: int
    stderr: str  # all of it
    traceback: bool
    training_started: bool  # "Training for" was printed

    @property
    def ok(self) -> bool:
        lines = self.stderr.strip().splitlines()
        return (self.returncode != 0 and len(lines) == 1 and lines[0].startswith("ganlab-train: error: ")
                and self.override.split("=", 1)[0] in lines[0] and not self.traceback and not self.training_started)


def run_end_to_end(result: Result, workdir: str, env: dict[str, str] | None = None) -> EndToEnd:
    """``ganlab-train PRESET OVERRIDE`` as a subprocess in ``workdir`` (a few steps if it were to train)."""
    import os
    import subprocess
    import sys
    import tempfile

    env = dict(os.environ if env is None else env, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", HYDRA_FULL_ERROR="0")
    run_dir = tempfile.mkdtemp(prefix="run-", dir=workdir)
    cmd = [sys.executable, "-m", "ganlab.cli.train", *CONFIGS[result.config], result.override,
           "trainer.max_steps=2", f"hydra.run.dir={run_dir}/run"]
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
    both = proc.stdout + proc.stderr
    return EndToEnd(result.config, result.override, proc.returncode, proc.stderr.strip(), "Traceback" in both,
                    "Training for" in both)
