"""Truncation for z-space generators: trade diversity for fidelity at sampling time.

ganlab's generators draw z ~ N(0, I), so the mean of z is 0 and two documented forms apply:

- ``truncation.psi`` (the truncation trick of Marchesi 2017 and StyleGAN, Karras et al. 2019, applied in z):
  z <- psi * z with 0 < psi <= 1, i.e. z moved towards the mean by the factor psi (psi = 1: no truncation);
- ``truncation.threshold`` (BigGAN, Brock et al. 2019, Sec. 3.1): every entry of z with |z| > threshold is
  redrawn until none is, so each entry follows a standard normal truncated to [-threshold, threshold].

Both can be given; the threshold is applied first. Redraws are seeded by each row's own values, so a sample's
truncated z depends only on its z (any batch size gives the same samples, as ``ganlab.metrics.noise`` promises).
This module imports torch only when it truncates: the checks run before any work.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import Tensor, nn

KEYS = ("psi", "threshold")


def check_psi(psi: Any) -> None:
    """One-line ValueError unless ``psi`` is None or a number in (0, 1]."""
    if psi is not None and (isinstance(psi, bool) or not isinstance(psi, (int, float)) or not 0 < psi <= 1):
        raise ValueError(f"truncation.psi={psi}; valid: a number with 0 < psi <= 1 (1: no truncation), or null")


def check_threshold(threshold: Any) -> None:
    """One-line ValueError unless ``threshold`` is None or a finite number > 0."""
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
                                  or not threshold > 0 or math.isinf(threshold)):
        raise ValueError(f"truncation.threshold={threshold}; valid: a finite number > 0 (BigGAN used 0.04 to 2), "
                         f"or null")


class Truncation:
    """z -> truncated z (see the module docstring).

    Args:
        psi: 0 < psi <= 1, or None (off).
        threshold: > 0, or None (off).
    """

    def __init__(self, psi: float | None = None, threshold: float | None = None) -> None:
        check_psi(psi)
        check_threshold(threshold)
        self.psi = None if psi is None else float(psi)
        self.threshold = None if threshold is None else float(threshold)

    @property
    def active(self) -> bool:
        return self.psi not in (None, 1.0) or self.threshold is not None

    def __call__(self, z: Tensor) -> Tensor:
        """z [N, z_dim] -> truncated z [N, z_dim] (a new tensor; z itself is not changed)."""
        if self.threshold is not None:
            z = redraw_outside(z, self.threshold)
        if self.psi is not None:
            z = z * self.psi
        return z

    def card(self) -> dict[str, Any]:
        """The evaluation card's entry: how the noise was truncated."""
        return {"psi": self.psi, "threshold": self.threshold,
                "form": "z * psi after redrawing entries with |z| > threshold (ganlab.truncation)"}


def from_config(node: Any) -> Truncation | None:
    """The ``truncation`` node of ganlab-sample / ganlab-eval with single values (None when absent or all null)."""
    if not node:
        return None
    for key in KEYS:
        value = node.get(key)
        if isinstance(value, Sequence) and not isinstance(value, str):
            raise ValueError(f"truncation.{key}={list(value)}: a list of values is a sweep, which ganlab-eval runs; "
                             f"valid here: one number")
    psi, threshold = node.get("psi"), node.get("threshold")
    return None if psi is None and threshold is None else Truncation(psi, threshold)


def sweep(node: Any) -> tuple[str, list[float]] | None:
    """(key, values) when ``truncation.psi`` or ``truncation.threshold`` is a list (each value checked), else None."""
    if not node:
        return None
    lists = [k for k in KEYS if isinstance(node.get(k), Sequence) and not isinstance(node.get(k), str)]
    if not lists:
        return None
    if len(lists) > 1:
        raise ValueError("truncation.psi and truncation.threshold are both lists; valid: sweep one of them "
                         "(the other a single number or null)")
    key = lists[0]
    values = list(node.get(key))
    if not values:
        raise ValueError(f"truncation.{key}=[]; valid: a non-empty list, e.g. [1.0,0.9,0.7,0.5]")
    for value in values:
        (check_psi if key == "psi" else check_threshold)(value)
    other = "threshold" if key == "psi" else "psi"
    (check_psi if other == "psi" else check_threshold)(node.get(other))
    return key, [float(v) for v in values]


def _row_seed(row: Tensor) -> int:
    """A seed from a row's float32 bytes: the redraws of a sample depend on its z only."""
    import torch

    data = row.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") & ((1 << 63) - 1)


def redraw_outside(z: Tensor, threshold: float, max_rounds: int = 100_000) -> Tensor:
    """z [N, D] with every entry |z| > threshold redrawn from N(0, 1) until all lie within it (entries inside keep
    their value). Written by hand: torch has no seeded truncated normal sampler (``nn.init.trunc_normal_`` uses the
    global RNG and another algorithm), and BigGAN's scipy ``truncnorm`` would redraw the entries inside too."""
    import torch

    out = z.detach().clone()
    for i in torch.nonzero((out.abs() > threshold).any(dim=1)).flatten().tolist():
        g = torch.Generator().manual_seed(_row_seed(z[i]))
        row = out[i].cpu()
        for _ in range(max_rounds):
            bad = row.abs() > threshold
            if not bad.any():
                break
            row = torch.where(bad, torch.randn(row.shape, generator=g, dtype=row.dtype), row)
        out[i] = row.to(out.device)
    return out


class TruncatedGenerator:
    """G whose z passes through a ``Truncation`` first; the same ``z_dim`` and call (for loops that draw z)."""

    def __init__(self, generator: nn.Module, truncation: Truncation) -> None:
        self.generator, self.truncation, self.z_dim = generator, truncation, generator.z_dim

    def __call__(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.generator(self.truncation(z), y)


def truncated(generator: nn.Module, truncation: Truncation | None) -> Any:
    """``generator`` itself when nothing is truncated, else wrapped in a ``TruncatedGenerator``."""
    return generator if truncation is None or not truncation.active else TruncatedGenerator(generator, truncation)


def sweep_metrics(evaluations: Sequence[dict], key: str, values: Sequence[float]) -> dict[str, float]:
    """The numeric metrics of one evaluation per value, flattened for a results record: ``psi=0.7/fid`` -> value."""
    return {f"{key}={v:g}/{name}": value for v, record in zip(values, evaluations, strict=True)
            for name, value in record["metrics"].items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)}


def plot_sweep(evaluations: Sequence[dict], key: str, values: Sequence[float], path: str, title: str = "") -> str:
    """One figure: the FID (left panel) and precision / recall (right panel) against the truncation value."""
    from matplotlib.figure import Figure  # no pyplot: no global state, Agg

    metrics = [r["metrics"] for r in evaluations]
    fid = next((k for k in metrics[0] if k == "fid" or k.startswith(("fid", "fd_"))), None)
    fig = Figure(figsize=(9, 3.6), dpi=110, layout="constrained")
    left, right = fig.subplots(1, 2)
    if fid is not None:
        left.plot(values, [m[fid] for m in metrics], marker="o", color="C3", label="train split")
    left.set(xlabel=f"truncation.{key}", ylabel=fid or "(no FID measured)", title="FID (lower is better)")
    for name, color in (("precision", "C0"), ("recall", "C1"), ("coverage", "C2")):
        if name in metrics[0]:
            right.plot(values, [m[name] for m in metrics], marker="o", color=color, label=f"{name} (train)")
        if f"{name}_test" in metrics[0]:  # against the test split (mnist5k: 1,000 digits, a smaller reference)
            right.plot(values, [m[f"{name}_test"] for m in metrics], marker="s", linestyle="--", color=color,
                       label=f"{name} (test)")
    if f"{fid}_test" in metrics[0]:
        left.plot(values, [m[f"{fid}_test"] for m in metrics], marker="s", linestyle="--", color="C3",
                  label="test split")
        left.legend(fontsize=8)
    right.set(xlabel=f"truncation.{key}", ylim=(-0.02, 1.02), title="precision and recall (k-NN, Kynkäänniemi 2019)")
    right.legend(fontsize=8)
    for ax in (left, right):
        ax.grid(alpha=0.3)
        if key == "psi":
            ax.invert_xaxis()  # left to right: more truncation
    if title:
        fig.suptitle(title, fontsize=10)
    fig.savefig(path)
    return path
