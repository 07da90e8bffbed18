"""Views of results records as markdown tables (one small function per study; ganlab.records does the arithmetic)."""

from __future__ import annotations

from pathlib import Path

from ganlab.records import mean_std_table, read_records

TRANSFER_ARMS = {
    "pretrained": "pretrained on digits 0-4, not fine-tuned",
    "scratch": "from scratch on the 500 images",
    "finetune": "fine-tuned (init_from)",
    "freezed": "fine-tuned + FreezeD (freeze.d_blocks=1)",
}
TRANSFER_METRICS = {"fid": ("FID", 1), "precision": ("precision", 3), "recall": ("recall", 3),
                    "class_kl": ("class KL", 3)}


def transfer_table(folder: str | Path) -> str:
    """experiments/results/transfer_mnist5k: mean ± std over seeds per arm, against the held-out digits 5-9."""
    records = read_records(folder)
    metrics = dict(TRANSFER_METRICS)
    if any("memorization" in r["metrics"] for r in records):
        metrics["memorization"] = ("memorization", 3)
    order = [a for a in TRANSFER_ARMS if any(r["arm"] == a for r in records)]
    return mean_std_table(records, "arm", metrics, order=order, labels=TRANSFER_ARMS)
