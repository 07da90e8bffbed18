"""Train the digit classifier used as ganlab's offline FID feature extractor for MNIST-like data."""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a checkout, uninstalled
from ganlab.metrics.digits import default_weights_path, train_digit_classifier  # noqa: E402


def main() -> None:
    """Parse arguments, train, and print the held-out accuracy and the file's SHA-256."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=15, help="passes over the 4,000 training digits")
    parser.add_argument("--seed", type=int, default=0, help="seed of the held-out split and training")
    parser.add_argument("--out", type=str, default=str(default_weights_path()), help="weights file to write")
    args = parser.parse_args()
    meta = train_digit_classifier(epochs=args.epochs, seed=args.seed, out=args.out)
    sha = hashlib.sha256(Path(args.out).read_bytes()).hexdigest()
    print(f"held-out accuracy: {meta['held_out_accuracy']:.4f} on {meta['n_held_out']} digits "
          f"(train {meta['train_accuracy']:.4f}, {meta['train_seconds']} s)")
    print(f"wrote {args.out} ({Path(args.out).stat().st_size} bytes)")
    print(f"sha256: {sha}")


if __name__ == "__main__":
    main()
