"""Train the digit classifier used as ganlab's offline FID feature extractor for MNIST-like data.

    python scripts/assets/train_digit_classifier.py                         # v2 (the packaged digit_classifier_v2.pt)
    python scripts/assets/train_digit_classifier.py --augmentation shift --out v1.pt   # the v1 recipe
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # runnable from a checkout, uninstalled
from ganlab.data.base import to_model_space  # noqa: E402
from ganlab.data.mnist5k import (
    held_out_split,  # noqa: E402
    load_mnist5k,  # noqa: E402
)
from ganlab.metrics.calibration.distortions import rotate_by  # noqa: E402
from ganlab.metrics.extractors.digits import DigitClassifier, default_weights_path  # noqa: E402


def random_shift(x: Tensor, max_shift: int, g: torch.Generator) -> Tensor:
    """Shift each image [N, C, H, W] by integer (dy, dx) in [-max_shift, max_shift], filling with -1."""
    n, _, h, w = x.shape
    p = max_shift
    padded = F.pad(x, (p, p, p, p), value=-1.0)  # [N, C, H+2p, W+2p]
    dy, dx = torch.randint(0, 2 * p + 1, (2, n, 1), generator=g)  # offsets into padded, [N, 1] each
    rows = (dy + torch.arange(h))[:, :, None]  # [N, H, 1]
    cols = (dx + torch.arange(w))[:, None, :]  # [N, 1, W]
    out = padded.permute(0, 2, 3, 1)[torch.arange(n)[:, None, None], rows, cols]  # [N, H, W, C]
    return out.permute(0, 3, 1, 2).contiguous()


def augment(x: Tensor, g: torch.Generator, max_sigma: float = 0.3, max_salt: float = 0.1,
            max_degrees: float = 15.0) -> Tensor:
    """v2 training augmentation of images [N, 1, H, W] in [-1, 1]: each image gets one of nothing,
    Gaussian noise (sigma ~ U(0, max_sigma)), salt (fraction ~ U(0, max_salt)), a 3x3 box blur or a
    rotation (~ U(-max_degrees, max_degrees)), equally likely: the classes must stay readable through
    texture changes, so that FID in its features weighs classes above pixel noise.
    """
    n = x.shape[0]
    kind = torch.randint(0, 5, (n, 1, 1, 1), generator=g)  # [N, 1, 1, 1]
    u = torch.rand(n, 1, 1, 1, generator=g)  # strength of each image's augmentation
    noisy = (x + u * max_sigma * torch.randn(x.shape, generator=g)).clamp(-1, 1)
    salted = torch.where(torch.rand(x.shape, generator=g) < u * max_salt, torch.ones_like(x), x)
    blurred = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), value=-1.0), 3, stride=1)
    rotated = rotate_by(x, (u.flatten() * 2 - 1) * math.radians(max_degrees))
    out = x
    for k, alt in enumerate((noisy, salted, blurred, rotated), start=1):
        out = torch.where(kind == k, alt, out)
    return out


@torch.no_grad()
def accuracy(net: nn.Module, x: Tensor, y: Tensor, batch_size: int = 500) -> float:
    """Top-1 accuracy of net (put in eval mode) on images [N, 1, 32, 32] in [-1, 1]."""
    net.eval()
    preds = torch.cat([net(x[i : i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)])
    return (preds == y).float().mean().item()


def train_digit_classifier(epochs: int, seed: int, out: str, augmentation: str = "v2") -> dict:
    """Train on mnist5k minus a stratified held-out 1,000; save {"state_dict", "meta"} to out; return meta.

    Args:
        epochs: passes over the 4,000 training digits.
        seed: seed of the held-out split, the initialisation and the batches.
        out: weights file to write.
        augmentation: "shift" (v1: random shifts of up to 2 px) or "v2" (shifts, then ``augment``).
    """
    if augmentation not in ("shift", "v2"):
        raise ValueError(f"augmentation={augmentation!r}; valid: shift (v1), v2")
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    data = load_mnist5k(resolution=32, channels=1)
    x, y = to_model_space(data.x), data.y  # [5000, 1, 32, 32] in [-1, 1], [5000]
    train_idx, held_idx = held_out_split(y, seed)
    xt, yt = x[train_idx], y[train_idx]
    net = DigitClassifier()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    batch, steps = 128, (len(xt) + 127) // 128
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=epochs * steps)
    start = time.perf_counter()
    for _ in range(epochs):
        net.train()
        perm = torch.randperm(len(xt), generator=g)
        for i in range(steps):
            idx = perm[i * batch : (i + 1) * batch]
            xb = random_shift(xt[idx], 2, g)
            if augmentation == "v2":
                xb = augment(xb, g)
            loss = F.cross_entropy(net(xb), yt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    meta = {
        "held_out_accuracy": accuracy(net, x[held_idx], y[held_idx]),
        "train_accuracy": accuracy(net, xt, yt),
        "split_seed": seed, "seed": seed, "epochs": epochs, "augmentation": augmentation,
        "n_train": len(train_idx), "n_held_out": len(held_idx),
        "dataset": data.name, "input": "1x32x32 in [-1, 1]", "num_features": DigitClassifier.num_features,
        "torch": str(torch.__version__),  # plain str: weights_only loading rejects TorchVersion
    }
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    # no timings in the file, so the same run at the same path rewrites the same bytes
    torch.save({"state_dict": state, "meta": meta}, out)
    return {**meta, "train_seconds": round(time.perf_counter() - start, 1)}


def main() -> None:
    """Parse arguments, train, and print the held-out accuracy and the file's SHA-256."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=15, help="passes over the 4,000 training digits")
    parser.add_argument("--seed", type=int, default=0, help="seed of the held-out split and training")
    parser.add_argument("--augmentation", choices=["shift", "v2"], default="v2",
                        help="shift: the v1 recipe (random shifts); v2: shifts + noise/salt/blur/rotation")
    parser.add_argument("--out", type=str, default=str(default_weights_path("v2")), help="weights file to write")
    args = parser.parse_args()
    meta = train_digit_classifier(epochs=args.epochs, seed=args.seed, out=args.out, augmentation=args.augmentation)
    sha = hashlib.sha256(Path(args.out).read_bytes()).hexdigest()
    print(f"held-out accuracy: {meta['held_out_accuracy']:.4f} on {meta['n_held_out']} digits "
          f"(train {meta['train_accuracy']:.4f}, {meta['train_seconds']} s)")
    print(f"wrote {args.out} ({Path(args.out).stat().st_size} bytes)")
    print(f"sha256: {sha}")


if __name__ == "__main__":
    main()
