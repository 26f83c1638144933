#!/usr/bin/env bash
# Regenerate every number in BENCHMARKS.md: the held-out benchmark of all shipped models and
# baselines, the cost of the shipped generalist and a specialist, then the report itself.
# BM3D rows are reused from the previous results when the benchmark set is unchanged (--reuse);
# delete benchmarks/results/synth.json to rerun it (~7 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
R=benchmarks/results
B=denoise/weights/bundle
denoise eval synth --scenes 4 --quiet --reuse "$R/synth.json" --out "$R/synth.json" \
  --method noisy --method bm3d \
  --method model:runs/teacher/best.pt \
  --method model:runs/student_pixel/best.pt --method model:runs/student_fm/best.pt \
  --method model:runs/student_plain/best.pt \
  --method "bundle:$B:torch" --method "bundle:$B" --method "bundle:$B:int8"
denoise bench --model "$B/s1.pt" --onnx-fp32 "$B/s1.onnx" --onnx-int8 "$B/s1.int8.onnx" --out "$R/cost.json"
denoise eval report --results "$R" --out BENCHMARKS.md
