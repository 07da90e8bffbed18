#!/usr/bin/env bash
# GPU speed check: the DCGAN cases on one GPU with each speed switch, ganlab vs the plain loop.
#   bash scripts/bench/gpu_check.sh [OUT_DIR]                 # about 5 minutes on one H100
# Env: PYTHON (interpreter), OPTIONS (subset of the options), ROUNDS, STEPS, BATCH, EXTRA (more overrides, e.g. tiny widths for a dry run).
set -euo pipefail
out=${1:-benchmarks/gpu}
py=${PYTHON:-python3}
rounds=${ROUNDS:-2}
steps=${STEPS:-40}
batch=${BATCH:-256}
read -r -a extra <<< "${EXTRA:-}"
for opt in ${OPTIONS:-baseline tf32 bf16 channels_last compile all}; do
  cases=dcgan32_mnist5k,dcgan_wgan_gp
  case $opt in
    baseline) set=() ;;
    tf32) set=(perf.tf32=true) ;;
    bf16) set=(trainer.precision=bf16-mixed) ;;
    channels_last) set=(perf.channels_last=true) ;;
    # torch.compile has no double backward, which the gradient penalty needs: DCGAN case only
    compile) set=(perf.compile=true); cases=dcgan32_mnist5k ;;
    # channels_last is left out: with torch.compile, inductor's convolution_backward fails a stride
    # check on channels_last tensors (seen with torch 2.11 on an H100)
    all) set=(perf.tf32=true trainer.precision=bf16-mixed perf.compile=true)
         cases=dcgan32_mnist5k ;;
  esac
  r=$rounds
  [[ $opt == compile || $opt == all ]] && r=1  # compiling takes a minute per run
  echo "== $opt"
  "$py" scripts/bench/benchmark.py --cases "$cases" --rounds "$r" --warmup 10 --steps "$steps" --tag "$opt" \
    --out "$out" --set "dataset.batch_size=$batch" "${set[@]}" "${extra[@]}"
done
"$py" - "$out" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
rows = []
for f in sorted(out.glob("results-*.json")):
    for r in json.loads(f.read_text())["rows"]:
        rows.append(f"| {f.stem.split('-', 2)[-1]} | {r['case']} | {r['ganlab_img_s']} | {r['plain_img_s']} | {r['ratio']} |")
table = "| option | case | ganlab img/s | plain img/s | ratio |\n|---|---|---|---|---|\n" + "\n".join(rows)
(out / "summary.md").write_text(table + "\n")
print(table)
PY
