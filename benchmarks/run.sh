#!/usr/bin/env bash
# Regenerate every number in BENCHMARKS.md: the held-out benchmark of the shipped bundle, the
# other specialist sets, the students of the ablations, the teacher and the baselines; the cost of
# a shipped specialist; the training runs at equal steps; then the report itself.
# BM3D rows are reused from the previous results when the benchmark set is unchanged (--reuse);
# delete benchmarks/results/synth.json to rerun it (~7 minutes on 2 cores). The crop grid shows the
# shipped bundle beside its equal-budget plain alternative (both always scored anew).
set -euo pipefail
cd "$(dirname "$0")/.."
R=benchmarks/results
B=denoise/weights/bundle
X=build/bundles
SHIPPED=specialists_fa_long  # the run the shipped bundle was exported from
OTHERS=(specialists specialists_plain15 specialists_fa specialists_plain15_long)
# The specialist sets that are not shipped, exported to ONNX bundles so they are scored the same way.
methods=()
for r in "${OTHERS[@]}"; do
  denoise export "runs/$r" -o "$X/$r" --formats onnx > /dev/null
  methods+=(--method "bundle:$X/$r")
done
students=(student_pixel student_fm student_plain student_fa_s3 student_plain15 student_fa_sep
          student_plain15_long student_fa_sep_long)
for s in "${students[@]}"; do methods+=(--method "model:runs/$s/best.pt"); done
denoise eval synth --scenes 4 --quiet --reuse "$R/synth.json" --out "$R/synth.json" \
  --method noisy --method bm3d --method model:runs/teacher/best.pt "${methods[@]}" \
  --method "bundle:$B:torch" --method "bundle:$B" --method "bundle:$B:int8" \
  --grid-method "bundle:$B" --grid-method "bundle:$X/specialists_plain15_long"
denoise bench --model "$B/s1.pt" --onnx-fp32 "$B/s1.onnx" --onnx-int8 "$B/s1.int8.onnx" --repeats 5 --quiet --out "$R/cost.json"
runs=(runs/teacher)
for s in "${students[@]}"; do runs+=("runs/$s"); done
for r in "$SHIPPED" "${OTHERS[@]}"; do runs+=("runs/$r"); done
denoise eval runs "${runs[@]}" --out "$R/training.json"
denoise eval report --results "$R" --out BENCHMARKS.md
