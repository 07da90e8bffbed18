"""A row of the images a run logged to TensorBoard under one tag, at chosen steps (e.g. a toy run's samples).

    python scripts/studies/image_strip.py /work/runs/q32/veegan_gan_grid/ensemble-seeds0-4/tensorboard \
        --tag modes/member4 --steps 1000,5000,10000,15000,20000,25000 --out docs/images/grid_authors_s4.png

Each panel is the image as logged (ganlab's mode metric logs the 2-D samples over the mixture's centres at every
evaluation), titled with its step and, when --scalar is given, that tag's value at the step.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("tensorboard", type=Path, help="the run's tensorboard folder")
    p.add_argument("--tag", required=True)
    p.add_argument("--steps", required=True, help="comma-separated steps")
    p.add_argument("--scalar", default=None, help="a scalar tag to print in each title (e.g. val/modes/member4)")
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(a.tensorboard), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    if a.tag not in acc.Tags()["images"]:
        raise SystemExit(f"image_strip: no image tag {a.tag!r}; valid: {', '.join(acc.Tags()['images'])}")
    images = {e.step: e.encoded_image_string for e in acc.Images(a.tag)}
    values = {e.step: e.value for e in acc.Scalars(a.scalar)} if a.scalar else {}
    steps = [int(s) for s in a.steps.split(",")]
    missing = [s for s in steps if s not in images]
    if missing:
        raise SystemExit(f"image_strip: no image at steps {missing}; logged at {sorted(images)}")
    fig, axes = plt.subplots(1, len(steps), figsize=(2.6 * len(steps), 3.2), layout="constrained")
    for ax, step in zip(axes if len(steps) > 1 else [axes], steps, strict=True):
        ax.imshow(Image.open(io.BytesIO(images[step])))
        title = f"step {step:,}" + (f"\n{a.scalar.split('/')[1]} {values[step]:g}" if step in values else "")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out, dpi=110)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
