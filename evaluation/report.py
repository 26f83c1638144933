"""Render ``BENCHMARKS.md`` from a folder of results JSON files — never typed by hand.

Every table says which machine, when, and the exact command that produced it, so each number
can be reproduced; plots are linked relative to the Markdown file.
"""
from __future__ import annotations

import os
from pathlib import Path

from denoise.atomic import atomic_output
from .results import ResultsError, read_json

_KIND_ORDER = ("synth", "training", "compare", "cost", "startup", "residual")
_TRAINING_STEPS = (1000, 2000, 4000, 8000, 12000, 16000, 24000, 32000, 40000)


def _fmt(value, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _provenance(data: dict, source: Path) -> list[str]:
    m = data.get("machine", {})
    machine = (f"{m.get('cpu', '?')}, {m.get('usable_cores', '?')} cores, torch {m.get('torch', '?')}, "
               f"onnxruntime {m.get('onnxruntime') or '–'}")
    command = data.get("command") or "(called from Python)"
    return [f"- Command: `{command}`", f"- Machine: {machine}", f"- Date: {data.get('date', '?')}",
            f"- Results: `{source.name}`", ""]


def _by_scene_table(data: dict) -> list[str]:
    """Raw PSNR per scene, mean over levels: a mean over scenes can hide a method that wins on
    procedural scenes and loses on photographs."""
    scenes = [s["name"] for s in data["scenes"]]
    lines = ["Raw PSNR (dB) by scene, mean over noise levels:", "",
             "| method | " + " | ".join(scenes) + " |", "|---|" + "---:|" * len(scenes)]
    for name in data["methods"]:
        rows = [r for r in data["results"] if r["method"] == name]
        if len(rows) != len(data["levels"]):
            continue
        cells = []
        for scene in scenes:
            values = [p["raw_psnr"] for r in rows for p in r["per_scene"] if p["scene"] == scene]
            cells.append(_fmt(sum(values) / len(values)) if len(values) == len(rows) else "–")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines + [""]


def _by_group_tables(data: dict) -> list[str]:
    """Raw PSNR per scene group and level, with the difference to BM3D + VST on every row: the
    photographs and the off-distribution groups are where a model trained on the wrong world fails."""
    from .benchset import scene_group

    groups: dict[str, list[str]] = {}
    for s in data["scenes"]:
        groups.setdefault(scene_group(s["name"]), []).append(s["name"])
    if len(groups) < 2:
        return []
    levels = data["levels"]
    lines: list[str] = []
    for group, names in groups.items():
        table: dict[str, list[float | None]] = {}
        for name in data["methods"]:
            by_level = {}
            for r in data["results"]:
                if r["method"] == name:
                    vals = [p["raw_psnr"] for p in r["per_scene"] if p["scene"] in names]
                    by_level[r["level"]] = sum(vals) / len(vals) if len(vals) == len(names) else None
            table[name] = [by_level.get(li) for li in range(len(levels))]
        ref = table.get("bm3d")
        lines += [f"Raw PSNR (dB), group **{group}** ({len(names)} scenes), by level; Δ = mean minus BM3D + VST:", "",
                  "| method | " + " | ".join(f"a = {lv['a']:.3g}" for lv in levels) + " | mean | Δ BM3D |",
                  "|---|" + "---:|" * (len(levels) + 2)]
        for name, values in table.items():
            mean = sum(values) / len(values) if None not in values else None
            ref_mean = sum(ref) / len(ref) if ref and None not in ref else None
            delta = mean - ref_mean if mean is not None and ref_mean is not None else None
            lines.append(f"| {name} | " + " | ".join(_fmt(v) for v in values) +
                         f" | {_fmt(mean)} | {'–' if delta is None else f'{delta:+.2f}'} |")
        lines.append("")
    return lines


def _synth_section(data: dict, source: Path, link_dir: Path) -> list[str]:
    lines = [f"### Local DND-like benchmark — `{source.stem}`", "",
             *_provenance(data, source),
             f"Held-out scenes: {', '.join(s['name'] for s in data['scenes'])}; "
             f"{data['size']}×{data['size']} Bayer pixels, Poisson–Gaussian noise with b on the DND line (the "
             "real-sensor group adds heavy tails, row and column noise, black bias and quantization). "
             "Raw metrics as DND (peak 1, clipped); sRGB metrics after the fixed ISP of `denoise.render`.", ""]
    lines += ["Raw PSNR (dB) by noise level, mean over scenes:", "",
              "| method | " + " | ".join(f"a = {lv['a']:.3g}" for lv in data["levels"]) + " | mean |",
              "|---|" + "---:|" * (len(data["levels"]) + 1)]
    for name in data["methods"]:
        by_level = {r["level"]: r["raw_psnr"] for r in data["results"] if r["method"] == name}
        values = [by_level.get(li) for li in range(len(data["levels"]))]
        mean = sum(values) / len(values) if None not in values else None
        lines.append(f"| {name} | " + " | ".join(_fmt(v) for v in values) + f" | {_fmt(mean)} |")
    lines.append("")
    lines += _by_group_tables(data)
    lines += _by_scene_table(data)
    if data.get("reused"):
        lines += [f"Rows of {', '.join(data['reused']['methods'])} were copied from `{data['reused']['from']}` "
                  "(same scenes, levels and noisy inputs; `--reuse`).", ""]
    for li, level in enumerate(data["levels"]):
        lines += [f"#### a = {level['a']:.3g}, b = {level['b']:.3g}", "",
                  "| method | raw PSNR (dB) | raw SSIM | sRGB PSNR (dB) | sRGB SSIM | s / image |",
                  "|---|---:|---:|---:|---:|---:|"]
        for row in (r for r in data["results"] if r["level"] == li):
            lines.append(f"| {row['method']} | {_fmt(row['raw_psnr'])} | {_fmt(row['raw_ssim'], 4)} | "
                         f"{_fmt(row['srgb_psnr'])} | {_fmt(row['srgb_ssim'], 4)} | {_fmt(row['seconds'], 3)} |")
        lines.append("")
    plots = data.get("plots", {})
    for label, key in (("PSNR against noise level", "psnr"), ("Crops (first scene)", "grid")):
        if key in plots and (source.parent / plots[key]).exists():
            rel = os.path.relpath(source.parent / plots[key], link_dir)
            lines += [f"![{label}]({Path(rel).as_posix()})", ""]
    return lines


def _cost_section(data: dict, source: Path) -> list[str]:
    model = data["model"]
    h, w = data["frame"]
    lines = [f"### Cost — `{source.stem}`", "", *_provenance(data, source),
             f"Model `{model['path']}` ({model['arch']}): {model['params']:,} parameters, "
             f"{model['macs_per_mp'] / 1e9:.2f} GMAC per Bayer megapixel. Machine FP32 roofline "
             f"(torch matmul): {data['roofline_gflops']:.1f} GFLOP/s. Medians of {data['repeats']} runs after "
             f"{data['warmup']} warm-up; frame {w}×{h} through {data['tile']}-pixel tiles "
             f"(overlap {data['overlap']}). Target: 12 MP end to end ≤ {data['target_e2e_s']:.1f} s "
             f"(judged only on frames of 12 MP or more; this frame: {w * h / 1e6:.3g} MP)."
             + (f" ONNX Runtime: {data.get('threads') or 'default'} intra-op threads, graph optimization "
                f"{data.get('optimization') or 'default (all)'}." if data.get("threads") or data.get("optimization") else ""),
             "", "| backend | 512² tile (ms) | 512² MP/s | frame (s) | frame MP/s | end to end (s) | "
                 "read / denoise / write (s) | peak RSS (MB; above loaded model) | target |",
             "|---|---:|---:|---:|---:|---:|---|---:|---|"]
    for row in data["backends"]:
        tile = row.get("tile512") or {}
        e2e = row.get("e2e") or {}
        tile_ms = tile["median_s"] * 1e3 if tile else None
        stages = f"{e2e['read_s']:.2f} / {e2e['denoise_s']:.2f} / {e2e['write_s']:.2f}" if e2e else "–"
        verdict = {True: "met", False: "not met"}.get(e2e.get("meets_target"), "–")
        memory = f"{e2e['peak_rss_mb']:.0f} ({e2e['peak_rss_mb'] - e2e['loaded_rss_mb']:+.0f})" if e2e else "–"
        lines.append(f"| {row['backend']} | {_fmt(tile_ms, 1)} | {_fmt(tile.get('mp_per_s'))} | "
                     f"{_fmt(row['frame']['median_s'])} | {_fmt(row['frame']['mp_per_s'])} | "
                     f"{_fmt(e2e.get('median_s'))} | {stages} | {memory} | {verdict} |")
    return lines + ["", data["note"], ""] if data.get("note") else lines + [""]


def _residual_section(data: dict, source: Path) -> list[str]:
    lines = [f"### Real-noise residual check — `{source.stem}` ({data['method']})", "", *_provenance(data, source),
             "Residual = noisy − denoised. Variance ratio ≈ 1: what was removed has the profile's noise "
             "variance (< 1 noise left in, > 1 detail removed); lag-1 correlation ≈ 0: the residual is white.",
             "", "| file | noise | variance ratio | lag-1 x (mean) | lag-1 y (mean) | max \\|mean shift\\| |",
             "|---|---|---:|---:|---:|---:|"]
    for row in data["files"]:
        lag_x = [v for v in row["lag1_x"].values() if v is not None]
        lag_y = [v for v in row["lag1_y"].values() if v is not None]
        shift = max(abs(v) for v in row["mean_shift"].values())
        lines.append(f"| {Path(row['file']).name} | {row['noise']['source']} | "
                     f"{_fmt(row['variance_ratio_overall'], 3)} | "
                     f"{_fmt(sum(lag_x) / len(lag_x) if lag_x else None, 3)} | "
                     f"{_fmt(sum(lag_y) / len(lag_y) if lag_y else None, 3)} | {shift:.2e} |")
    return lines + [""]


def _training_section(data: dict, source: Path) -> list[str]:
    """Validation PSNR of training runs at equal steps (ablations on one seed and schedule)."""
    runs = data["runs"]
    steps = [s for s in _TRAINING_STEPS if any(str(s) in r["val"] for r in runs)]
    lines = [f"### Training runs — `{source.stem}`", "", *_provenance(data, source),
             "Mean raw PSNR (dB) on each run's validation set (6 held-out procedural scenes × 4 levels, "
             "128×128 packed; runs on real-world data, named `*_real`, add 12 crops of held-out photographs, so their "
             "figures are not comparable with the others) at equal steps; runs with the same seed saw the same "
             "batches.", "",
             "| run | model | loss | params | GMAC/MP | " + " | ".join(f"step {s}" for s in steps) +
             " | steps done | train (min) |",
             "|---|---|---|---:|---:|" + "---:|" * (len(steps) + 2)]
    for r in runs:
        cells = [_fmt(r["val"].get(str(s), {}).get("mean")) for s in steps]
        done = f"{r['step']}/{r['steps']}" + ("" if r["finished"] else " (paused)")
        if r.get("branched_from"):
            done += f", branch at {r['branch_step']}"
        lines.append(f"| {r['name']} | {r['arch']} | {r['loss']} | {r['params']:,} | {r['macs_per_mp'] / 1e9:.2f} | "
                     + " | ".join(cells) + f" | {done} | {_fmt((r['wall_s'] or 0) / 60, 0)} |")
    lines.append("")
    for group in data.get("specialists", []):
        lines += [f"#### Specialists `{group['run']}` against their generalist `{group['generalist']}`", "",
                  "Validation raw PSNR (dB) at three levels inside each specialist's own sub-range (core range; "
                  "it trained on the range widened by the overlap).", "",
                  "| specialist | core range of a | levels | specialist | generalist | Δ (dB) | steps | train (min) |",
                  "|---|---|---|---:|---:|---:|---:|---:|"]
        for sp in group["specialists"]:
            levels = ", ".join(f"{float(k):.3g}" for k in sp["val_psnr"] if k != "mean")
            mine, theirs = sp["val_psnr"]["mean"], sp["generalist_val_psnr"]["mean"]
            lines.append(f"| {sp['name']} | {sp['core_range'][0]:.3g} – {sp['core_range'][1]:.3g} | {levels} | "
                         f"{_fmt(mine)} | {_fmt(theirs)} | {mine - theirs:+.2f} | {sp['steps']} | "
                         f"{_fmt((sp['wall_s'] or 0) / 60, 0)} |")
        lines.append("")
    return lines


def _pm(mean, std) -> str:
    return f"{_fmt(mean)} ± {_fmt(std)}"


def _compare_section(data: dict, source: Path) -> list[str]:
    """Distillation strategies at equal budget (``denoise train compare``): quality, time, capacity gap, Pareto."""
    b, levels = data["benchmark"], data["benchmark"]["levels"]
    lines = [f"### `{data['name']}` — {len(data['arms'])} arms × {len(data['seeds'])} seeds, "
             f"{data['steps']} steps each", "", *_provenance(data, source),
             f"Base recipe `{data['base']}`; held-out benchmark of {b['scenes']} scenes, {b['size']}×{b['size']} "
             f"Bayer pixels (`{b['results']}`). Raw PSNR (dB): mean ± std over seeds of each seed's mean over "
             f"scenes (per seed: each seed's mean over levels); Δ against `{data['reference']}`; training wall time "
             "per run, mean over seeds.", "",
             "| arm | group | " + " | ".join(f"a = {lv['a']:.2g}" for lv in levels) +
             " | mean | per seed | Δ (dB) | GMAC/MP | train (min) |",
             "|---|---|" + "---:|" * (len(levels) + 5),
             "| noisy input | – | " + " | ".join(_fmt(v) for v in data["noisy_raw_psnr"]) +
             f" | {_fmt(sum(data['noisy_raw_psnr']) / len(levels))} | – | – | – | – |"]
    for arm in data["arms"]:
        per_level = " | ".join(_pm(m, s) for m, s in zip(arm["raw_psnr_mean"], arm["raw_psnr_std"]))
        per_seed = " / ".join(_fmt(r["mean_raw_psnr"]) for r in arm["runs"])
        lines.append(f"| {arm['name']} | {arm['group']} | {per_level} | "
                     f"{_pm(arm['mean_raw_psnr'], arm['std_mean_raw_psnr'])} | {per_seed} | "
                     f"{arm['delta_vs_reference']:+.2f} | "
                     f"{arm['model']['macs_per_mp'] / 1e9:.2f} | {arm['wall_s_mean'] / 60:.1f} |")
    lines.append("")
    groups = [g for g in (data["arms"][0].get("by_group") or {}) if g != "procedural"] if data["arms"] else []
    for g in groups:
        ref = next(a for a in data["arms"] if a["name"] == data["reference"])["by_group"][g]["mean"]
        lines += [f"Group **{g}** only (the same runs):", "",
                  "| arm | " + " | ".join(f"a = {lv['a']:.2g}" for lv in levels) + " | mean | per seed | Δ (dB) |",
                  "|---|" + "---:|" * (len(levels) + 3)]
        for arm in data["arms"]:
            row = arm["by_group"][g]
            per_seed = " / ".join(_fmt(sum(r["raw_psnr_by_group"][g]) / len(levels)) for r in arm["runs"])
            lines.append(f"| {arm['name']} | " + " | ".join(_pm(m, s) for m, s in zip(row["raw_psnr_mean"], row["raw_psnr_std"]))
                         + f" | {_pm(row['mean'], row['std'])} | {per_seed} | {row['mean'] - ref:+.2f} |")
        lines.append("")
    if data.get("capacity_gap"):
        lines += ["#### Capacity gap: the same student distilled from teachers of three sizes", "",
                  "| teacher | params | GMAC/MP | teacher raw PSNR (dB) | student raw PSNR (dB) |",
                  "|---|---:|---:|---:|---:|"]
        lines += [f"| {g['teacher']} | {g['params']:,} | {g['macs_per_mp'] / 1e9:.2f} | "
                  f"{_fmt(g['teacher_raw_psnr'])} | {_pm(g['student_raw_psnr'], g['student_std'])} |"
                  for g in data["capacity_gap"]]
        lines.append("")
    if data.get("pareto"):
        by_arm = {a["name"]: a.get("by_group") or {} for a in data["arms"]}
        photos = all("photographs" in by_arm[p["arm"]] for p in data["pareto"])
        lines += ["#### Cost-aware student search: raw PSNR against MACs", "",
                  "| arm | MACs penalty | GMAC/MP | params | raw PSNR (dB) |" + (" photographs (dB) |" if photos else "")
                  + " Pareto-optimal |",
                  "|---|---:|---:|---:|---:|" + ("---:|" if photos else "") + "---|"]
        for p in data["pareto"]:
            group = by_arm[p["arm"]].get("photographs")
            penalty = "–" if p.get("penalty_weight") is None else f"{p['penalty_weight']:g}"
            lines.append(f"| {p['arm']}{' (shipped student)' if p.get('shipped') else ''} | {penalty} | "
                         f"{p['macs_per_mp'] / 1e9:.3f} | {p['params']:,} | {_pm(p['mean_raw_psnr'], p['std_mean_raw_psnr'])} |"
                         + (f" {_pm(group['mean'], group['std'])} |" if photos else "")
                         + f" {'yes' if p['pareto'] else 'no'} |")
        lines.append("")
    return lines


def _startup_section(data: dict, source: Path) -> list[str]:
    h, w = data["frame"]
    before, after = (", ".join(f"{v:.1f}" for v in data[k]) for k in ("load_average_before", "load_average_after"))
    lines = [*_provenance(data, source),
             f"Fresh processes timed from launch to exit, median of {data['repeats']} runs (min–max beside it, and "
             "the CPU time the process itself used); "
             f"`denoise run` reads a {w}×{h} DNG, denoises it with {data['bundle']} ({data['backend']} backend) and "
             f"writes a DNG. Load average (1, 5, 15 min) {before} before and {after} after: wall times on a "
             "shared machine grow with it.", "",
             "| process | wall (s) | min – max (s) | CPU user + system (s) | peak RSS (MB) |", "|---|---:|---|---:|---:|"]
    for row in data["rows"]:
        lines.append(f"| `{row['name']}` | {row['median_s']:.2f} | {row['min_s']:.2f} – {row['max_s']:.2f} | "
                     f"{row['cpu_s']:.2f} | {row['peak_rss_mb']:.0f} |")
    return lines + [""]


def render_report(results_dir: str | os.PathLike, out_md: str | os.PathLike = "BENCHMARKS.md") -> Path:
    """Write ``out_md`` from every results JSON in ``results_dir``; returns its path."""
    results_dir, out_md = Path(results_dir), Path(out_md)
    if not results_dir.is_dir():
        raise ResultsError(f"{results_dir}: no such results folder; run 'denoise eval synth' or 'denoise bench' first")
    found = []
    for path in sorted(results_dir.glob("*.json")):
        data = read_json(path)
        if data["kind"] in _KIND_ORDER:
            found.append((_KIND_ORDER.index(data["kind"]), path.name, path, data))
    if not found:
        raise ResultsError(f"{results_dir}: holds no benchmark results JSON; run 'denoise eval synth' or "
                           "'denoise bench' with --out there")
    link_dir = out_md.resolve().parent
    lines = ["# Benchmarks", "",
             f"Generated by `denoise eval report` from `{os.path.relpath(results_dir.resolve(), link_dir)}`; "
             "edit the results, not this file.", ""]
    titles = {"synth": "## Quality with ground truth", "training": "## Training runs and ablations",
              "compare": "## Distillation strategies at equal budget",
              "cost": "## Cost", "startup": "## Runtime start-up", "residual": "## Real noise, no ground truth"}
    current = None
    for kind_index, _name, path, data in sorted(found, key=lambda t: (t[0], t[1])):
        kind = _KIND_ORDER[kind_index]
        if kind != current:
            lines += [titles[kind], ""]
            current = kind
        if kind == "synth":
            lines += _synth_section(data, path.resolve(), link_dir)
        elif kind == "training":
            lines += _training_section(data, path)
        elif kind == "compare":
            lines += _compare_section(data, path)
        elif kind == "cost":
            lines += _cost_section(data, path)
        elif kind == "startup":
            lines += _startup_section(data, path)
        else:
            lines += _residual_section(data, path)
    out_md.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines).rstrip() + "\n"
    with atomic_output(out_md) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return out_md
