"""Views of the after-the-first-run studies: limited-data transfer (docs/finetuning.md) and truncation sweeps
(docs/sampling.md)."""

from __future__ import annotations

from ganlab.results.registry import Record, Table, view
from ganlab.results.stats import diff_ci, mean_std
from ganlab.results.tables import feature_space, num, pm, select, values

TRANSFER_ARMS = {
    "pretrained": "pretrained on digits 0-4, not fine-tuned",
    "scratch": "from scratch on the 500 images",
    "finetune": "fine-tuned (`init_from`)",
    "freezed": "fine-tuned + FreezeD (`freeze.d_blocks=1`)",
}
# metric -> (header, decimals): against the 500 test digits 5-9, the class histogram and speckle of the samples,
# and copying of the 500 training images
TRANSFER_METRICS = {"fid_test": ("FID ({}) vs test 5-9", 1), "precision_test": ("precision", 3),
                    "recall_test": ("recall", 3), "class_kl": ("class KL", 3), "speckle_vs_real": ("speckle / real", 0),
                    "copy_share": ("near-copies", 3), "ct": ("C_T", 1)}


def _ci(a: list[float], b: list[float], digits: int = 1) -> str:
    ci = diff_ci(a, b)
    text = f"{ci.diff:+.{digits}f} [{ci.low:+.{digits}f}, {ci.high:+.{digits}f}]"
    return text if ci.established else f"{text}: not established"


def _arm_cell(runs: list[Record], metric: str, digits: int) -> str:
    """One value, or mean ± sample std over the arm's runs; ``not finite in k of n runs`` (with the finite values)
    where a record holds null (a non-finite value: an infinite class KL)."""
    xs = values(runs, metric)
    nulls = sum(metric in r["metrics"] and r["metrics"][metric] is None for r in runs)
    if nulls:
        held = f" ({', '.join(num(x, digits) for x in xs)})" if xs else ""
        return f"not finite in {nulls} of {len(runs)} runs{held}" if len(runs) > 1 else "not finite"
    return "–" if not xs else num(xs[0], digits) if len(xs) == 1 else pm(*mean_std(xs), digits)


@view("transfer")
def transfer(records: list[Record]) -> Table:
    """scripts/studies/transfer.py: mean ± sample std over seeds per arm (digit features v2)."""
    rows = []
    for arm, label in TRANSFER_ARMS.items():
        runs = select(records, arm=arm)
        if not runs:
            continue
        rows.append([label, len(runs), *(_arm_cell(runs, metric, digits)
                                         for metric, (_, digits) in TRANSFER_METRICS.items())])
    notes = []
    if any(metric in r["metrics"] and r["metrics"][metric] is None for r in records for metric in TRANSFER_METRICS):
        notes.append("not finite: the record holds null, which is how a record stores a non-finite value; class KL "
                     "(KL of the samples' class histogram to the real one) is infinite when samples fall in a class "
                     "the real digits 5-9 lack.")
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
    header = ["arm", "runs", *[h.format(feature_space(records)) for h, _ in TRANSFER_METRICS.values()]]
    return Table(header=header, rows=rows, notes=notes)


@view("truncation")
def truncation(records: list[Record]) -> Table:
    """A ganlab-eval truncation sweep (one record: ``<key>=<value>/<metric>`` per value): against the training
    reference, and against the test split where the dataset has one (``_test``, ``–`` otherwise); then the class
    KL and speckle of the samples where the dataset has classes (``–`` otherwise)."""
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
                     num(m.get(f"{fid}_test"), 1), num(m.get("precision_test"), 3), num(m.get("recall_test"), 3),
                     num(m.get("class_kl"), 3), num(m.get("speckle_vs_real"), 1)])
    name = "FID" if fid == "fid" else "FD"
    header = ["truncation", f"{name} ({feature_space(records)}) vs train", "precision", "recall", "coverage",
              f"{name} vs test", "precision (test)", "recall (test)", "class KL", "speckle / real"]
    return Table(header=header, rows=rows, notes=["One checkpoint (one training seed): the ψ values are compared on "
                                                  "this model's samples; no interval over training seeds."])
