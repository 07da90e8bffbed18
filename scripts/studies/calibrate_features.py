"""Calibrate feature spaces: FID/KID/PRDC/CMMD of controlled distortions of mnist5k (docs/calibration.md).

    python scripts/studies/calibrate_features.py --versions v1 v2 --out experiments/results/calibration
    python scripts/studies/calibrate_features.py --versions v2 --feature dinov2_vitb14 \
        --weights /w/dinov2_vitb14_pretrain.pth --metrics fid cmmd --out calibration_dinov2
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # runnable from a checkout, uninstalled
from ganlab.config import CONFIG_DIR  # noqa: E402
from ganlab.data.base import to_model_space  # noqa: E402
from ganlab.data.mnist5k import load_mnist5k  # noqa: E402
from ganlab.metrics.calibration.calibrate import calibrate, markdown_table, plot  # noqa: E402
from ganlab.metrics.calibration.distortions import FAMILY  # noqa: E402
from ganlab.metrics.extractors.digits import VERSIONS, DigitFeatures  # noqa: E402


def main() -> None:
    """Parse arguments, score the suite in each feature space, write table (.md), values (.json) and plot (.png)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--versions", nargs="*", default=list(VERSIONS), choices=list(VERSIONS),
                        help="packaged digit feature spaces to calibrate")
    features = sorted(p.stem for p in Path(CONFIG_DIR, "eval", "feature").glob("*.yaml"))
    parser.add_argument("--feature", nargs="*", default=[], choices=features,
                        help="ganlab-eval feature spaces (conf/eval/feature) to calibrate too")
    parser.add_argument("--weights", nargs="*", default=[], help="their weights files, one per --feature")
    parser.add_argument("--families", nargs="+", default=list(FAMILY), choices=list(FAMILY), help="distortions")
    parser.add_argument("--n", type=int, default=2500, help="distorted images per set (training-time FID: 2,500)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the distortions and the KID subsets")
    parser.add_argument("--metrics", nargs="+", default=["fid", "kid", "prdc"], choices=["fid", "kid", "prdc", "cmmd"])
    parser.add_argument("--out", type=str, default="calibration", help="output folder")
    args = parser.parse_args()
    if len(args.weights) not in (0, len(args.feature)):
        parser.error(f"--weights: give one file per --feature ({len(args.feature)}), or none")
    if not args.versions and not args.feature:
        parser.error("nothing to calibrate: give --versions and/or --feature")
    weights = args.weights or [None] * len(args.feature)
    # built before the long work: a missing or wrong weights file fails now
    extractors = [feature_space(name, w) for name, w in zip(args.feature, weights, strict=True)]

    data = load_mnist5k(resolution=32, channels=1)
    x = to_model_space(data.x)  # [5000, 1, 32, 32] in [-1, 1]
    tables = {}
    for v in args.versions:
        start = time.perf_counter()
        extractor = DigitFeatures(version=v)
        tables[f"{extractor.name} ({v})"] = calibrate(extractor, x, data.y, args.families, n=args.n, seed=args.seed,
                                                       metrics=args.metrics)
        print(f"{v}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
    for extractor in extractors:
        start = time.perf_counter()
        tables[extractor.name] = calibrate(extractor, x, data.y, args.families, n=args.n, seed=args.seed,
                                           metrics=args.metrics)
        print(f"{extractor.name}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    columns = [c for c in ("fid", "kid") if c in args.metrics]
    columns += ["precision", "recall", "density", "coverage"] if "prdc" in args.metrics else []
    columns += ["cmmd"] if "cmmd" in args.metrics else []
    table = markdown_table(tables, columns)
    (out / "calibration.md").write_text(table + "\n")
    (out / "calibration.json").write_text(json.dumps(
        {name: [{"family": r.family, "strength": r.strength, **r.values} for r in rows]
         for name, rows in tables.items()}, indent=1))
    plot(tables, out / "calibration.png")
    print(table)
    print(f"wrote {out}/calibration.md, .json and .png", file=sys.stderr)


def feature_space(name: str, weights: str | None):
    """The extractor of conf/eval/feature/NAME.yaml with ``weights`` (None: the file's own default)."""
    import torch
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    node = OmegaConf.load(Path(CONFIG_DIR, "eval", "feature", f"{name}.yaml"))
    if "weights" in node:
        node.weights = weights  # the yaml's ${paths...} interpolation has no paths here
    if "weights_key" in node:
        node.weights_key = "--weights"  # what errors about the file should name
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return instantiate(node).to(device)


if __name__ == "__main__":
    main()
