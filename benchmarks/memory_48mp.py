"""Peak memory of tiled inference on a 48 MP Bayer mosaic (8000×6000): must stay under 3 GB.

The work runs in a child process so that its peak resident set (``getrusage`` of the children)
measures exactly the mosaic, the packed planes, the tiling engine's accumulators and the model
(the Feature-Align student, random weights) — not this launcher. Exits 1 if the peak reaches the
limit.

    OMP_NUM_THREADS=1 python benchmarks/memory_48mp.py [--tile 256 --overlap 32 --batch 4]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

WIDTH, HEIGHT = 8000, 6000


def _rss_bytes(maxrss: int) -> int:
    """``ru_maxrss`` is KiB on Linux and bytes on macOS."""
    return maxrss if sys.platform == "darwin" else maxrss * 1024


def run_child(tile: int, overlap: int, batch: int) -> None:
    """Denoise one 48 MP mosaic and print what it did as JSON (the parent measures the memory)."""
    import numpy as np
    import torch

    from denoise.backends import TorchRunner
    from denoise.cfa import pack_rggb
    from denoise.models import build_model
    from denoise.noise import NoiseProfile
    from denoise.tiling import denoise_planes, plan_tiles

    torch.manual_seed(0)
    runner = TorchRunner(build_model("feature_align"), device="cpu")
    baseline = _rss_bytes(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    mosaic = np.random.default_rng(0).random((HEIGHT, WIDTH), dtype=np.float32) * 0.5
    planes = pack_rggb(mosaic)
    noise = NoiseProfile.uniform(4e-3, 2e-5).as_vector()
    start = time.perf_counter()
    out = denoise_planes(runner, planes, noise, tile=tile, overlap=overlap, batch=batch)
    seconds = time.perf_counter() - start
    assert out.shape == planes.shape and np.isfinite(out).all()
    tiles = len(plan_tiles(*planes.shape[1:], tile, overlap, runner.stride))
    print(json.dumps({"baseline_bytes": baseline, "seconds": seconds, "tiles": tiles,
                      "planes_bytes": planes.nbytes}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--overlap", type=int, default=32)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--limit-gb", type=float, default=3.0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args.tile, args.overlap, args.batch)
        return 0
    cmd = [sys.executable, __file__, "--child", "--tile", str(args.tile), "--overlap", str(args.overlap),
           "--batch", str(args.batch)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stderr.strip(), file=sys.stderr)
        return done.returncode
    report = json.loads(done.stdout.strip().splitlines()[-1])
    peak = _rss_bytes(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    limit = args.limit_gb * 1e9
    print(f"48 MP Bayer {WIDTH}x{HEIGHT} -> planes 4x{HEIGHT // 2}x{WIDTH // 2} "
          f"({report['planes_bytes'] / 1e6:.0f} MB), {report['tiles']} tiles of {args.tile} "
          f"(overlap {args.overlap}, batch {args.batch}) in {report['seconds']:.1f} s")
    print(f"peak RSS {peak / 1e9:.2f} GB (torch + model before the image: {report['baseline_bytes'] / 1e9:.2f} GB); "
          f"limit {args.limit_gb:.1f} GB: {'OK' if peak < limit else 'OVER'}")
    return 0 if peak < limit else 1


if __name__ == "__main__":
    sys.exit(main())
