"""Convert OpenAI's CLIP release file (a TorchScript archive) into the state dict ganlab's CLIP features load.

    python scripts/assets/convert_clip_weights.py ViT-L-14-336px.pt --arch vitl14_336 --out /w/clip_vitl14_336.pth
    ganlab-eval ckpt=... feature=clip_vitl14_336 paths.clip_vitl14_336_weights=/w/clip_vitl14_336.pth

The file must be the one OpenAI publishes (its SHA-256, part of the download URL, is checked before it is
opened: torch.jit.load reads code as well as data). The output holds the image tower's tensors only and is
read with torch.load(weights_only=True); its SHA-256 is printed (every evaluation card records it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # runnable from a checkout, uninstalled
from ganlab.metrics.extractors.clip import ARCHS, convert_openai_release, published_sha256  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", help="OpenAI's file: ViT-B-32.pt, ViT-L-14.pt or ViT-L-14-336px.pt")
    parser.add_argument("--arch", required=True, choices=list(ARCHS), help="which release src is")
    parser.add_argument("--out", required=True, help="state dict to write (never replaced if it exists)")
    args = parser.parse_args()
    try:
        digest = convert_openai_release(args.src, args.out, published_sha256(args.arch))
    except (OSError, ValueError) as e:
        sys.exit(f"convert_clip_weights: error: {e}")
    print(f"wrote {args.out} (SHA-256 {digest})")


if __name__ == "__main__":
    main()
