#!/usr/bin/env bash
# Regenerate every number in BENCHMARKS.md: the held-out benchmark of the shipped bundle, the
# students of the ablations, the teacher and the baselines; the cost of a shipped specialist; the
# training runs at equal steps; then the report itself.
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
  --method model:runs/student_plain/best.pt --method model:runs/student_fa_s3/best.pt \
  --method "bundle:$B:torch" --method "bundle:$B" --method "bundle:$B:int8"
denoise bench --model "$B/s1.pt" --onnx-fp32 "$B/s1.onnx" --onnx-int8 "$B/s1.int8.onnx" --out "$R/cost.json"
denoise eval runs runs/teacher runs/student_pixel runs/student_fm runs/student_plain runs/student_fa_s3 \
  runs/specialists --out "$R/training.json"
denoise eval report --results "$R" --out BENCHMARKS.md
