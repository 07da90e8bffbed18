"""The one base class of the errors a user can cause and fix: bad config values, bad files, a diverged run.

Every command's error boundary (``ganlab.cli.boundary``) prints a ``UserError`` as one line,
``TOOL: error: MESSAGE``, and any other exception as one line plus the path of a file that holds its
traceback. A ``UserError``'s first line names the config key or file and what would be valid.
"""

from __future__ import annotations


class UserError(Exception):
    """Input the user can fix (a config value, a file, a setting that made training diverge); one line."""


def one_line(error: BaseException) -> str:
    """The first line of ``error``'s message (its class name when it has none)."""
    text = str(error).strip()
    return text.splitlines()[0].strip() if text else type(error).__name__
