#!/usr/bin/env bash
# Regenerate the numbers in BENCHMARKS.md: the held-out benchmark (24 scenes of 256×256 Bayer pixels: procedural, 12 held-out
# photographs, bright un-white-balanced scenes, real-sensor noise) of the shipped bundle, the same
# specialists distilled from the longer teacher, the candidate specialists of the narrowed searched student,
# the shipped bundle's predecessors (trained on procedural scenes), the
# generalist students, the three teachers and the baselines; the
# cost of a shipped specialist; the start-up of the runtime; the training runs; then the report.
# The benchmark's catalogue photographs are fetched into the ignored cache first (Debian packages).
# BM3D rows are reused from the previous results when the benchmark set is unchanged (--reuse);
# delete benchmarks/results/synth.json to rerun it (~25 minutes on one core). The crop grid shows the
# shipped bundle beside the bundle it replaced (both always scored anew).
# The per-format latency sections (cost_formats*) come from the commands written in them.
set -euo pipefail
cd "$(dirname "$0")/.."
R=benchmarks/results
B=denoise/weights/bundle
X=build/bundles
SHIPPED=specialists_real  # the run the shipped bundle was exported from
OTHERS=(specialists_real_long specialists_search_real specialists_fa_long specialists_plain15_long)
python -m training.photos fetch > /dev/null
# The specialist sets that are not shipped, exported to ONNX bundles so they are scored the same way.
methods=()
for r in "${OTHERS[@]}"; do
  denoise export "runs/$r" -o "$X/$r" --formats onnx > /dev/null
  methods+=(--method "bundle:$X/$r")
done
students=(student_real_long student_search_real student_fa_sep_long student_plain15_long)
for s in "${students[@]}"; do methods+=(--method "model:runs/$s/best.pt"); done
denoise eval synth --scenes 24 --size 256 --quiet --reuse "$R/synth.json" --out "$R/synth.json" \
  --method noisy --method bm3d --method model:runs/teacher/best.pt --method model:runs/teacher_real/best.pt \
  --method model:runs/teacher_real_long/best.pt \
  "${methods[@]}" --method "bundle:$B" --method "bundle:$B:int8" \
  --grid-method "bundle:$B" --grid-method "bundle:$X/specialists_fa_long"
denoise bench --model "$B/s1.pt" --onnx-fp32 "$B/s1.onnx" --onnx-int8 "$B/s1.int8.onnx" --repeats 5 --quiet --out "$R/cost.json"
denoise eval startup --out "$R/startup.json"
runs=(runs/teacher runs/teacher_real runs/teacher_real_long)
for s in "${students[@]}"; do runs+=("runs/$s"); done
for r in "$SHIPPED" "${OTHERS[@]}"; do runs+=("runs/$r"); done
denoise eval runs "${runs[@]}" --out "$R/training.json"
# The distillation comparisons, once every arm is finished (training/recipes/compare_real.yaml, search_real.yaml,
# search_budget.yaml).
for c in compare_real search_real search_budget; do
  if [ -f "runs/$c/compare.json" ]; then cp "runs/$c/compare.json" "$R/$c.json"; fi
done
denoise eval report --results "$R" --out BENCHMARKS.md
