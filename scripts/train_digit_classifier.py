"""Train the digit classifier used as ganlab's offline FID feature extractor for MNIST-like data.

    python scripts/train_digit_classifier.py                                  # v2 (packaged digit_classifier_v2.pt)
    python scripts/train_digit_classifier.py --augmentation shift --out v1.pt  # the v1 recipe
"""

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
