"""The catalogue of real photographs and measured camera noise that training draws from.

Nothing here is committed as data: every source is a file inside a Debian package, fetched with
``apt-get download`` and unpacked with ``dpkg-deb -x`` into an ignored cache by
``python -m training.photos fetch``. The catalogue names each photograph, its licence (from the
package's ``debian/copyright``) and its split: ``train`` (clean pool), ``val`` (validation during
training) or ``bench`` (the local benchmark's photograph group). A held-out photograph is never
cropped into a training pool.

Only photographs are listed (illustrations and renders of the same packages are left out), and
only colour ones: greyscale pictures teach nothing about the correlation between colour planes.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_CACHE = Path("cache") / "sources"
SPLITS = ("train", "val", "bench")


@dataclass(frozen=True)
class Photo:
    package: str
    path: str          # inside the unpacked package
    licence: str
    split: str = "train"

    @property
    def name(self) -> str:
        return Path(self.path).stem if "/contents/images/" not in self.path else self.path.split("/")[3]


_LOMIRI16 = "usr/share/backgrounds/"
_MATE = "usr/share/backgrounds/mate/nature/"
_PLASMA = "usr/share/wallpapers/"
_OPENCV = "usr/share/doc/opencv-doc/examples/data/"
_CC_BY, _CC_BY_SA4, _CC_BY_SA3, _CC0, _GPL2 = "CC-BY-4.0", "CC-BY-SA-4.0", "CC-BY-SA-3.0", "CC0-1.0", "GPL-2+"
_OPENCV_LIC = "BSD-3-Clause (OpenCV sample data)"

PHOTOS: tuple[Photo, ...] = (
    # lomiri-wallpapers-16.04 / 20.04: licence per file in debian/copyright
    Photo("lomiri-wallpapers-16.04", _LOMIRI16 + "Bridge_by_Sander_Klootwijk.jpg", _CC_BY_SA4),
    Photo("lomiri-wallpapers-16.04", _LOMIRI16 + "Dragonfly_by_Bolly.jpg", _CC_BY_SA4, "bench"),
    Photo("lomiri-wallpapers-16.04", _LOMIRI16 + "Picture_0B_by_freespace.jpg", _CC_BY),
    Photo("lomiri-wallpapers-16.04", _LOMIRI16 + "Picture_1A_by_freespace.jpg", _CC_BY),
    Photo("lomiri-wallpapers-16.04", _LOMIRI16 + "Wine_by_Jakkub_Mede.jpg", _CC_BY_SA4),
    Photo("lomiri-wallpapers-16.04", _LOMIRI16 + "aitzgorri_by_Aitzol_Berasategi.jpg", _CC_BY),
    Photo("lomiri-wallpapers-16.04", _LOMIRI16 + "free_by_Peter_Nerlich.jpg", _CC_BY_SA4),
    Photo("lomiri-wallpapers-16.04", _LOMIRI16 + "friends_by_Aitzol_Berasategi.jpg", _CC_BY),
    Photo("lomiri-wallpapers-16.04", _LOMIRI16 + "greentock_by_Peter_Nerlich.jpg", _CC_BY_SA4),
    Photo("lomiri-wallpapers-16.04", _LOMIRI16 + "life_by_Aitzol_Berasategi.jpg", _CC_BY, "bench"),
    Photo("lomiri-wallpapers-16.04", _LOMIRI16 + "picosdeeuropa_by_Aitzol_Berasategi.jpg", _CC_BY, "val"),
    Photo("lomiri-wallpapers-16.04", _LOMIRI16 + "seeding_by_Clements_Engelhardt.jpg", _CC0),
    Photo("lomiri-wallpapers-16.04", _LOMIRI16 + "sunset_by_Aitzol_Berasategi.jpg", _CC_BY),
    Photo("lomiri-wallpapers-20.04", _LOMIRI16 + "Infinite-Sea_by_Aury88.jpg", _CC_BY_SA3),
    Photo("lomiri-wallpapers-20.04", _LOMIRI16 + "Kleiber_by_Lukas_Baubkus.jpg", _CC_BY_SA3, "bench"),
    # mate-backgrounds: nature photographs, GPL-2+
    *(Photo("mate-backgrounds", _MATE + f, _GPL2, split) for f, split in (
        ("Aqua.jpg", "train"), ("Blinds.jpg", "train"), ("Dune.jpg", "train"), ("FreshFlower.jpg", "bench"),
        ("Garden.jpg", "train"), ("GreenMeadow.jpg", "train"), ("LadyBird.jpg", "val"),
        ("RainDrops.jpg", "bench"), ("Storm.jpg", "train"), ("TwoWings.jpg", "train"), ("Wood.jpg", "train"),
        ("YellowFlower.jpg", "train"))),
    # plasma-workspace-wallpapers: the photographs among the artwork, GPL-2+
    *(Photo("plasma-workspace-wallpapers", _PLASMA + f"{d}/contents/images/{f}", _GPL2, split) for d, f, split in (
        ("BytheWater", "2560x1600.jpg", "train"), ("ColdRipple", "2560x1600.jpg", "train"),
        ("ColorfulCups", "2560x1600.jpg", "bench"), ("DarkestHour", "2560x1600.jpg", "train"),
        ("EveningGlow", "2560x1600.jpg", "bench"), ("FallenLeaf", "2560x1600.jpg", "train"),
        ("Kite", "2560x1600.jpg", "train"), ("OneStandsOut", "2560x1600.jpg", "val"),
        ("Path", "2560x1600.jpg", "bench"), ("summer_1am", "2560x1600.jpg", "train"))),
    # opencv-doc: sample photographs (the synthetic charts, logos and greyscale frames are left out)
    *(Photo("opencv-doc", _OPENCV + f, _OPENCV_LIC, split) for f, split in (
        ("baboon.jpg", "train"), ("fruits.jpg", "val"), ("building.jpg", "train"), ("butterfly.jpg", "train"),
        ("home.jpg", "train"), ("orange.jpg", "train"), ("apple.jpg", "train"), ("aero1.jpg", "train"),
        ("board.jpg", "train"), ("squirrel_cls.jpg", "train"), ("stuff.jpg", "train"), ("HappyFish.jpg", "train"),
        ("leuvenA.jpg", "train"), ("graf1.png", "train"), ("smarties.png", "train"),
        ("rubberwhale1.png", "train"))),
    # libjxl-testdata: the flower photograph, BSD-3-Clause
    Photo("libjxl-testdata", "usr/share/libjxl-testdata/jxl/flower/flower.png", "BSD-3-Clause"),
)

# scikit-image's colour photographs that the local benchmark scores on (never in a training pool).
SKIMAGE_BENCH = ("astronaut", "coffee", "chelsea", "rocket")

# darktable's per-ISO noise profiles of real cameras (GPL-3+ data file of the darktable package).
NOISE_PROFILES = ("darktable", "usr/share/darktable/noiseprofiles.json")


def _packages() -> list[str]:
    return sorted({p.package for p in PHOTOS} | {NOISE_PROFILES[0]})


def fetch(cache: str | os.PathLike = DEFAULT_CACHE, packages: list[str] | None = None) -> Path:
    """Download and unpack the source packages into ``cache`` (idempotent: unpacked ones are kept)."""
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    for pkg in packages or _packages():
        dest = cache / pkg
        if (dest / ".complete").is_file():
            continue
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            done = subprocess.run(["apt-get", "download", pkg], cwd=tmp, capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"apt-get download {pkg} failed ({done.stderr.strip()[-300:]}); "
                                   "run `apt-get update` first (as root)")
            deb = next(Path(tmp).glob("*.deb"))
            staging = Path(tmp) / "x"
            subprocess.run(["dpkg-deb", "-x", str(deb), str(staging)], check=True)
            if dest.exists():
                shutil.rmtree(dest)
            staging.rename(dest)
            (dest / ".complete").write_text(deb.name + "\n")
    return cache


def photo_paths(split: str, cache: str | os.PathLike = DEFAULT_CACHE) -> list[Path]:
    """Files of one split, in catalogue order; a clear error when the sources were never fetched."""
    if split not in SPLITS:
        raise ValueError(f"photo split must be one of {SPLITS}, got {split!r}")
    return [photo_path(p.name, cache) for p in PHOTOS if p.split == split]


def photo_path(name: str, cache: str | os.PathLike = DEFAULT_CACHE) -> Path:
    """The cached file of the catalogue photograph called ``name`` (:attr:`Photo.name`)."""
    photo = next((p for p in PHOTOS if p.name == name), None)
    if photo is None:
        raise KeyError(f"{name!r} is not a catalogue photograph")
    path = Path(cache) / photo.package / photo.path
    if not path.is_file():
        raise FileNotFoundError(f"{path}: photograph not in the cache; run `python -m training.photos fetch "
                                f"--cache {cache}` first")
    return path


def camera_noise_profiles(cache: str | os.PathLike = DEFAULT_CACHE) -> np.ndarray:
    """(N, 2) measured (a, b) of real cameras on the normalized scale, one row per camera and ISO.

    darktable measures after white balance, so its red and blue terms carry the white-balance gains;
    the green term (gain 1) is the raw sensor's. Profiles with a non-positive term (fit artefacts) are
    dropped.
    """
    path = Path(cache) / NOISE_PROFILES[0] / NOISE_PROFILES[1]
    if not path.is_file():
        raise FileNotFoundError(f"{path}: darktable noise profiles not in the cache; run "
                                f"`python -m training.photos fetch --cache {cache}` first")
    rows = [(p["a"][1], p["b"][1]) for maker in json.loads(path.read_text())["noiseprofiles"]
            for model in maker["models"] for p in model["profiles"]]
    arr = np.asarray(rows, dtype=np.float64)
    return arr[(arr[:, 0] > 0) & (arr[:, 1] > 0)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.photos",
                                     description="Fetch the training photographs and camera noise profiles.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch", help="apt-get download + dpkg-deb -x every source package into the cache")
    f.add_argument("--cache", default=str(DEFAULT_CACHE))
    ls = sub.add_parser("list", help="the catalogue: package, file, licence, split")
    ls.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.cmd == "fetch":
        cache = fetch(args.cache)
        counts = {s: len(photo_paths(s, cache)) for s in SPLITS}
        print(f"{cache}: photographs {counts}, camera noise profiles {len(camera_noise_profiles(cache))}")
    else:
        rows = [{"package": p.package, "path": p.path, "licence": p.licence, "split": p.split} for p in PHOTOS]
        print(json.dumps(rows, indent=1) if args.json else
              "\n".join(f"{r['split']:5} {r['licence']:34} {r['package']}: {r['path']}" for r in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
