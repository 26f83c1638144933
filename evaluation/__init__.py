"""Evaluation: DND submission, the local benchmark with ground truth, a real-noise residual check,
cost benchmarks and the BENCHMARKS.md report. Modules import heavy dependencies lazily."""
