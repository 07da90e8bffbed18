"""Importing any ganlab module has no side effects on the process (design: "no side effects on import").

In a fresh interpreter the third-party libraries are imported first, then the global state that a
library must not change is recorded: warning filters, ganlab's OmegaConf resolvers, matplotlib's
backend (and whether pyplot is loaded). Then every module of the ganlab package is imported and
the state compared. (With these versions one of the third-party libraries already imports pyplot,
so the pyplot check only bites where they do not; the unresolved backend setting is what catches
a ``matplotlib.use(...)``.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

SCRIPT = r'''
import json, pkgutil, importlib, sys, warnings
import torch, pytorch_lightning, hydra, omegaconf, matplotlib, torchmetrics, tensorboard  # noqa: F401
from omegaconf import OmegaConf

RESOLVERS = ["ganlab.times", "ganlab.run_name", "ganlab.task_overrides", "ganlab.every"]

def snapshot():
    # matplotlib.get_backend() (and rcParams["backend"]) would resolve the backend and import
    # pyplot, so the raw setting is read here; get_backend() is compared once, at the end
    raw = matplotlib.rcParams._get_backend_or_none() if hasattr(matplotlib.rcParams, "_get_backend_or_none") \
        else dict.__getitem__(matplotlib.rcParams, "backend")
    return {
        "warnings.filters": [repr(f) for f in warnings.filters],
        "resolvers": {r: OmegaConf.has_resolver(r) for r in RESOLVERS},
        'rcParams["backend"] (unresolved)': str(raw),
        "pyplot imported": "matplotlib.pyplot" in sys.modules,
    }

if "--baseline" in sys.argv:  # the backend a process without ganlab resolves to
    print(json.dumps({"backend": matplotlib.get_backend()}))
    sys.exit()
before = snapshot()
import ganlab
modules, errors, changed = [], {}, {}
for info in pkgutil.walk_packages(ganlab.__path__, "ganlab."):
    try:
        importlib.import_module(info.name)
    except Exception as e:  # noqa: BLE001
        errors[info.name] = f"{type(e).__name__}: {e}".splitlines()[0]
        continue
    modules.append(info.name)
    now = snapshot()
    diff = {k: [before[k], now[k]] for k in before if before[k] != now[k]}
    if "warnings.filters" in diff:  # only the filters added or removed
        old, new = before["warnings.filters"], now["warnings.filters"]
        diff["warnings.filters"] = {"added": [f for f in new if f not in old],
                                    "removed": [f for f in old if f not in new]}
    if diff:  # blame the first module after which the state differs, then reset the baseline
        changed[info.name] = diff
        before = now
print(json.dumps({"modules": modules, "errors": errors, "changed": changed, "backend": matplotlib.get_backend()}))
'''


def test_importing_ganlab_modules_changes_no_global_state():
    path = str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path}
    env.pop("MPLBACKEND", None)

    def run(*args: str) -> dict:
        proc = subprocess.run([sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True, env=env,
                              cwd=REPO, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])

    result, baseline = run(), run("--baseline")
    assert len(result["modules"]) > 30, result["modules"]  # the walk found the package
    assert {"ganlab.cli.train", "ganlab.module", "ganlab.game", "ganlab.config"} <= set(result["modules"])
    assert not result["errors"], f"modules that fail to import: {result['errors']}"
    assert not result["changed"], "importing these modules changed global state (module: {key: [before, after]}): " + \
        json.dumps(result["changed"], indent=1)[:4000]
    assert result["backend"] == baseline["backend"], f"matplotlib.get_backend(): {result['backend']} after " \
        f"importing ganlab, {baseline['backend']} without"


def test_metrics_is_the_ground_floor():
    """ganlab.metrics imports nothing from the module, the callbacks or the command-line tools."""
    import ast

    above = ("ganlab.module", "ganlab.callbacks", "ganlab.cli", "ganlab.game", "ganlab.config")
    for path in sorted((REPO / "ganlab" / "metrics").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            assert not any(n.startswith(above) for n in names), f"{path.name} imports {names}"


def import_graph() -> dict[str, set[str]]:
    """ganlab module -> the ganlab modules its source imports, read from the AST (top level, inside functions
    and under TYPE_CHECKING alike); ``from pkg import name`` counts the submodule when ``name`` is one."""
    import ast

    files = {}
    for path in (REPO / "ganlab").rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from . import x, from ..y import z
                    base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in files:  # import ganlab.x.y.Name -> the module ganlab.x.y
                    target = target.rpartition(".")[0]
                if target.startswith("ganlab") and target != name:
                    found.add(target)
        graph[name] = found
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan): each holds an import cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 100 and {"ganlab.steps", "ganlab.losses.adversarial"} <= graph["ganlab.module"]
    assert cycles(graph) == []
    # the game and the module import neither the other (ganlab.game.Players, ganlab.module.Schedule)
    assert "ganlab.module" not in graph["ganlab.game"] and "ganlab.game" not in graph["ganlab.module"]
    # the check finds a cycle when there is one, through a third module too
    assert cycles({**graph, "ganlab.steps": graph["ganlab.steps"] | {"ganlab.module"}}) == [
        ["ganlab.module", "ganlab.steps"]]


def test_no_library_module_imports_the_entry_points_or_the_tools():
    """ganlab/cli (entry points) and ganlab/tools (what scripts run) sit on top: nothing else imports them, and
    an entry point imports no other entry point (only the helpers cli.help, cli.common and cli.boundary)."""
    graph = import_graph()
    top = ("ganlab.cli", "ganlab.tools")
    library = {name: deps for name, deps in graph.items() if not name.startswith(top)}
    wrong = {name: sorted(d for d in deps if d.startswith(top)) for name, deps in library.items()}
    assert {k: v for k, v in wrong.items() if v} == {}
    shared = {"ganlab.cli", "ganlab.cli.help", "ganlab.cli.common", "ganlab.cli.boundary"}
    entry = {name: sorted(d for d in deps if d.startswith("ganlab.cli.") and d not in shared)
             for name, deps in graph.items() if name.startswith("ganlab.cli.")}
    assert {k: v for k, v in entry.items() if v} == {}
    assert "ganlab.runs.read" in graph["ganlab.health.diagnose"]  # find_runs comes from the library
