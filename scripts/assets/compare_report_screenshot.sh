#!/usr/bin/env bash
# Refresh docs/images/compare_report.png: train a small sweep (hinge / non-saturating x 2 seeds, 600 steps)
# and an LSGAN run killed at step ~300, write `ganlab-compare --html`, screenshot it with headless Chromium
# (apt-get install chromium-headless-shell, or chromium) and shrink it to a 256-colour PNG.
# About 15-30 minutes on 2 CPU cores: the killed run must be idle for 15 minutes before ganlab-compare
# calls it crashed rather than running (ganlab/runs/status.py, RUNNING_WITHIN_S).
#   bash scripts/assets/compare_report_screenshot.sh [WORK_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-$(mktemp -d)}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
PY=${PYTHON:-python}
COMMON=(trainer.max_steps=600 metrics.every_n_steps=100 metrics.num_samples=500 callbacks.samples.every_n_steps=100
        trainer.log_every_n_steps=20 "~callbacks.progress_bar")

$PY -m ganlab.cli.train loss=lsgan "${COMMON[@]}" hydra.run.dir="$WORK/lsgan_killed" > "$WORK/killed.log" 2>&1 &
pid=$!
until [ -f "$WORK/lsgan_killed/samples/samples_0000300.png" ]; do sleep 2; done
kill -9 "$pid"; killed_at=$(date +%s)
$PY -m ganlab.cli.train -m loss=hinge,nonsaturating seed=0,1 "${COMMON[@]}" hydra.sweep.dir="$WORK/sweep" \
    > "$WORK/sweep.log" 2>&1
wait_s=$(( killed_at + 15 * 60 + 30 - $(date +%s) ))
if [ "$wait_s" -gt 0 ]; then echo "waiting ${wait_s}s until the killed run counts as crashed"; sleep "$wait_s"; fi

$PY -m ganlab.cli.compare "$WORK" --html "$WORK/report.html"
browser=$(command -v chromium-headless-shell || command -v chromium)
"$browser" --no-sandbox --headless --disable-gpu --hide-scrollbars --window-size=1400,2000 \
    --screenshot="$WORK/screenshot.png" "file://$WORK/report.html"
$PY - "$WORK/screenshot.png" docs/images/compare_report.png <<'EOF'
import sys
from PIL import Image, ImageChops
image = Image.open(sys.argv[1]).convert("RGB")
bottom = ImageChops.difference(image, Image.new("RGB", image.size, "white")).getbbox()[3]
image = image.crop((0, 0, image.width, min(image.height, bottom + 24)))  # the page's white tail
image.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(sys.argv[2], optimize=True)
print(f"wrote {sys.argv[2]} {image.size}")
EOF
