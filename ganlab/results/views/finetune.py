"""Views of the after-the-first-run studies: limited-data transfer (docs/finetuning.md) and truncation sweeps
(docs/sampling.md)."""

from __future__ import annotations

from ganlab.results.registry import Record, Table, view
from ganlab.results.stats import diff_ci, mean_std
from ganlab.results.tables import num, pm, select, values

TRANSFER_ARMS = {
    "pretrained": "pretrained on digits 0-4, not fine-tuned",
    "scratch": "from scratch on the 500 images",
    "finetune": "fine-tuned (`init_from`)",
    "freezed": "fine-tuned + FreezeD (`freeze.d_blocks=1`)",
}
# metric -> (header, decimals): against the 500 test digits 5-9, and copying of the 500 training images
TRANSFER_METRICS = {"fid_test": ("FID vs test 5-9", 1), "precision_test": ("precision", 3),
                    "recall_test": ("recall", 3), "copy_share": ("near-copies", 3), "ct": ("C_T", 1)}


def _ci(a: list[float], b: list[float], digits: int = 1) -> str:
    ci = diff_ci(a, b)
    text = f"{ci.diff:+.{digits}f} [{ci.low:+.{digits}f}, {ci.high:+.{digits}f}]"
    return text if ci.established else f"{text}: not established"


@view("transfer", header=["arm", "runs", *[h for h, _ in TRANSFER_METRICS.values()]])
def transfer(records: list[Record]) -> Table:
    """scripts/studies/transfer.py: mean ± sample std over seeds per arm (digit features v2)."""
    rows = []
    for arm, label in TRANSFER_ARMS.items():
        runs = select(records, arm=arm)
        if not runs:
            continue
        cells = []
        for metric, (_, digits) in TRANSFER_METRICS.items():
            xs = values(runs, metric)
            cells.append("–" if not xs else num(xs[0], digits) if len(xs) == 1 else pm(*mean_std(xs), digits))
        rows.append([label, len(runs), *cells])
    notes = []
    scratch = values(select(records, arm="scratch"), "fid_test")
    for arm in ("finetune", "freezed"):
        xs = values(select(records, arm=arm), "fid_test")
        if len(xs) > 1 and len(scratch) > 1:
            notes.append(f"FID vs test, {TRANSFER_ARMS[arm]} minus from scratch: {_ci(xs, scratch)} (95 % "
                         "percentile bootstrap over seeds, `ganlab.results.diff_ci`).")
    ft, fz = values(select(records, arm="finetune"), "fid_test"), values(select(records, arm="freezed"), "fid_test")
    if len(ft) > 1 and len(fz) > 1:
        notes.append(f"FreezeD minus plain fine-tuning: {_ci(fz, ft)}.")
    single = ['"' + TRANSFER_ARMS[a] + '"' for a in TRANSFER_ARMS if len(select(records, arm=a)) == 1]
    if single:
        notes.append(f"One run in the arm {' and '.join(single)}: no interval of a difference against it; a "
                     "difference is not established.")
    return Table(rows=rows, notes=notes)


@view("truncation", header=["truncation", "FID", "precision", "recall", "coverage", "FID (test)", "precision (test)",
                            "recall (test)"])
def truncation(records: list[Record]) -> Table:
    """A ganlab-eval truncation sweep (one record: ``<key>=<value>/<metric>`` per value): against the training
    reference, and against the test split where the dataset has one (``_test``, ``–`` otherwise)."""
    if len(records) != 1:
        raise ValueError(f"view truncation: one sweep record per marker, got {len(records)}")
    r = records[0]
    key, metrics = r["sweep"]["key"].split(".")[-1], r["metrics"]
    fid = "fid" if any(k.endswith("/fid") for k in metrics) else next(k.split("/")[1] for k in metrics
                                                                       if k.split("/")[1].startswith("fd_"))
    rows = []
    for v in r["sweep"]["values"]:
        m = {k.split("/", 1)[1]: x for k, x in metrics.items() if k.startswith(f"{key}={v:g}/")}
        rows.append([f"`{key}={v:g}`", num(m.get(fid), 1), *(num(m.get(n), 3) for n in ("precision", "recall",
                                                                                           "coverage")),
                     num(m.get(f"{fid}_test"), 1), num(m.get("precision_test"), 3), num(m.get("recall_test"), 3)])
    return Table(rows=rows, notes=["One checkpoint (one training seed): the ψ values are compared on this model's "
                                   "samples; no interval over training seeds."])
