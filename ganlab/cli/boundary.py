"""One error boundary for every command: a failure is one line on stderr and a non-zero exit status.

- An error the user can fix (``ganlab.errors.UserError``: config values, files, divergence; Hydra's
  errors for overrides that cannot be composed; a tool's own extra kinds) prints
  ``TOOL: error: MESSAGE``, the message naming the key or file and what would be valid.
- Any other exception prints ``TOOL: failed: TYPE: MESSAGE; traceback in PATH``: the full traceback goes
  to a new file in the run directory (``traceback.txt``; commands without one: a new file in the temporary
  folder), never over an earlier file.
- ``HYDRA_FULL_ERROR=1`` or ``verbose=true`` on the command line: exceptions propagate with their full
  traceback on the console, as Python prints them.

Use: decorate a console entry point with ``@command("ganlab-NAME")``; a Hydra command also runs its task
function's body in ``with task("ganlab-NAME", run_dir):``. Only the standard library and Hydra are imported here:
a config error still answers without torch.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ganlab.errors import UserError, one_line

F = TypeVar("F", bound=Callable[..., Any])

# Hydra prints errors itself unless HYDRA_FULL_ERROR=1 (then it re-raises them); the boundary sets it to
# receive them, and marks that it did so, for this process and the DDP ranks it launches
_SET_BY_BOUNDARY = "GANLAB_BOUNDARY_SET_HYDRA_FULL_ERROR"

_run_dir: Path | None = None


def note_run_dir(path: str | Path) -> None:
    """The run directory of this command, where an unexpected error's traceback file goes."""
    global _run_dir
    _run_dir = Path(path)


def show_tracebacks(argv: Sequence[str]) -> bool:
    """True when the user asked for full tracebacks: ``HYDRA_FULL_ERROR=1`` (set by them) or ``verbose=true``."""
    by_user = os.environ.get("HYDRA_FULL_ERROR") == "1" and os.environ.get(_SET_BY_BOUNDARY) != "1"
    return by_user or any(a.lower() in ("verbose=true", "++verbose=true", "+verbose=true") for a in argv)


@contextlib.contextmanager
def _hydra_reraises() -> Iterator[None]:
    """HYDRA_FULL_ERROR=1 for the block, so that Hydra's errors reach the boundary instead of being printed."""
    saved = {k: os.environ.get(k) for k in ("HYDRA_FULL_ERROR", _SET_BY_BOUNDARY)}
    if os.environ.get("HYDRA_FULL_ERROR") != "1":
        os.environ["HYDRA_FULL_ERROR"] = os.environ[_SET_BY_BOUNDARY] = "1"
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def hydra_line(error: BaseException) -> str:
    """Hydra's multi-line composition messages in one line (the option list kept, the search path dropped)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if "Config search path:" in lines:
        lines = lines[: lines.index("Config search path:")]
    if not lines:
        return type(error).__name__
    head, rest = lines[0], lines[1:]
    if rest and rest[0].startswith("Available options"):
        return f"{head}; valid: {', '.join(rest[1:])}"
    cause = error.__cause__
    if cause is not None and str(cause).strip():
        rest.append(f"({one_line(cause)})")
    return " ".join([head, *rest])


def _is_hydra_error(error: BaseException) -> bool:
    """Errors of composing the config from the command line (bad override syntax, unknown key or option)."""
    from hydra.errors import CompactHydraException, ConfigCompositionException, MissingConfigException
    from omegaconf.errors import OmegaConfBaseException

    return isinstance(error, (CompactHydraException, ConfigCompositionException, MissingConfigException,
                              OmegaConfBaseException))


def message(error: BaseException) -> str:
    """The one line printed for a user error."""
    return hydra_line(error) if _is_hydra_error(error) else one_line(error)


def _rank() -> int:
    for key in ("RANK", "LOCAL_RANK"):
        if os.environ.get(key, "").isdigit():
            return int(os.environ[key])
    return 0


def write_traceback(tool: str, error: BaseException) -> Path:
    """The full traceback in a new file: ``<run dir>/traceback.txt`` (``_1``, ... when taken), or a temp file."""
    text = f"{tool}: {' '.join(sys.argv)}\n\n" + "".join(traceback.format_exception(error))
    if _run_dir is not None and _run_dir.is_dir():
        stem = "traceback" if _rank() == 0 else f"traceback_rank{_rank()}"
        for n in range(1000):
            path = _run_dir / (f"{stem}.txt" if n == 0 else f"{stem}_{n}.txt")
            try:
                with open(path, "x") as f:  # "x": never over an earlier file
                    f.write(text)
                return path
            except FileExistsError:
                continue
    fd, name = tempfile.mkstemp(prefix=f"{tool}-", suffix="-traceback.txt")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return Path(name)


def report(tool: str, error: BaseException, user: tuple[type[BaseException], ...] = ()) -> None:
    """Print the one line for ``error`` (and write the traceback file of an unexpected one)."""
    if isinstance(error, (UserError, *user)) or _is_hydra_error(error):
        print(f"{tool}: error: {message(error)}", file=sys.stderr)
        return
    path = write_traceback(tool, error)
    print(f"{tool}: failed: {type(error).__name__}: {one_line(error)}; traceback in {path} (HYDRA_FULL_ERROR=1 "
          f"or verbose=true prints it here)", file=sys.stderr)


def command(tool: str, *, user: tuple[type[BaseException], ...] = (), code: int = 1) -> Callable[[F], F]:
    """Decorate a console entry point: errors become one line on stderr and the return value ``code``.

    Args:
        tool: the command's name, the prefix of every message.
        user: exception types that are user errors for this command besides ``UserError`` (e.g. ganlab-eval's
            ``FileNotFoundError`` for a weights file that is not there).
        code: the exit status returned on an error (entry points are run as ``sys.exit(main())``).
    """

    def wrap(main: F) -> F:
        @functools.wraps(main)
        def run(*args: Any, **kwargs: Any) -> Any:
            argv = kwargs.get("argv", args[0] if args else None)
            show = show_tracebacks(sys.argv[1:] if argv is None else list(argv))
            try:
                with _hydra_reraises():
                    return main(*args, **kwargs)
            except Exception as e:  # SystemExit and KeyboardInterrupt pass (argparse's usage errors, Ctrl-C)
                if show:
                    raise
                report(tool, e, user)
                return code

        return run  # type: ignore[return-value]

    return wrap


@contextlib.contextmanager
def task(tool: str, run_dir: str | Path | None = None, *, user: tuple[type[BaseException], ...] = (),
         code: int = 1) -> Iterator[None]:
    """The boundary inside a Hydra task function: an error is reported here and ends the process with ``code``.

    (Raised out of the task, Hydra would first print "Error executing job with overrides: ...".)
    """
    if run_dir is not None:
        note_run_dir(run_dir)
    try:
        yield
    except Exception as e:
        if show_tracebacks(sys.argv[1:]):
            raise
        report(tool, e, user)
        raise SystemExit(code) from None
