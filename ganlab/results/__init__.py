"""Results as data: records written by ganlab's tools, named views, and the renderer of the docs' tables.

- :func:`write_record` / :func:`read_records`: one JSON record per run (``experiments/results/<study>/<run>.json``).
- :func:`view`: register a view (records -> rows of one markdown table) under a name.
- ``python -m ganlab.results render|check``: rewrite or check every ``<!-- results: PATH view=NAME -->`` block.
- :func:`diff_ci`: bootstrap CI over seeds of the difference between two settings ("not established" when it holds 0).
"""

from ganlab.results.records import RecordError, read_records, write_record
from ganlab.results.registry import Table, get_view, view
from ganlab.results.stats import DiffCI, diff_ci, mean_se, mean_std, share_ci, subsample_means

__all__ = ["DiffCI", "RecordError", "Table", "diff_ci", "get_view", "mean_se", "mean_std", "read_records", "share_ci",
           "subsample_means", "view", "write_record"]
