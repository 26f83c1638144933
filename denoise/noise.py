"""The one noise model of the SDK: ``Var[x] = a·x + b`` per CFA plane on the normalized scale.

Every noise source (a ``--noise`` flag, the DNG NoiseProfile tag, a blind estimate, the training
sampler, the DND ``nlf``) produces a :class:`NoiseProfile`; its ``source`` says which one.
Planes are always in canonical packed order R, G1, G2, B.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

PLANES = ("R", "G1", "G2", "B")
SOURCES = ("user", "metadata", "estimate", "synthetic", "dnd")


class NoiseProfileError(ValueError):
    """Noise parameters that cannot describe a real sensor (negative, NaN, wrong count)."""


def _four(values: float | Sequence[float], name: str) -> tuple[float, float, float, float]:
    if np.isscalar(values):
        vals = [float(values)] * 4  # type: ignore[arg-type]
    else:
        vals = [float(v) for v in values]  # type: ignore[union-attr]
    if len(vals) == 1:
        vals = vals * 4
    if len(vals) != 4:
        raise NoiseProfileError(f"noise '{name}' needs 1 or 4 values (R,G1,G2,B), got {len(vals)}")
    return (vals[0], vals[1], vals[2], vals[3])


@dataclass(frozen=True)
class NoiseProfile:
    """Heteroscedastic Poisson–Gaussian noise: std(x) = sqrt(a·x + b), per plane R, G1, G2, B."""

    a: tuple[float, float, float, float]
    b: tuple[float, float, float, float]
    source: str = "user"
    detail: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "a", _four(self.a, "a"))
        object.__setattr__(self, "b", _four(self.b, "b"))
        for name, vals in (("a", self.a), ("b", self.b)):
            for v in vals:
                if not math.isfinite(v):
                    raise NoiseProfileError(f"noise '{name}' must be finite, got {v}")
                if v < 0:
                    raise NoiseProfileError(f"noise '{name}' must be >= 0, got {v}")
        if max(self.a) == 0 and max(self.b) == 0:
            raise NoiseProfileError("noise a and b are both zero: nothing to denoise")
        if self.source not in SOURCES:
            raise NoiseProfileError(f"unknown noise source {self.source!r}; one of {SOURCES}")

    @classmethod
    def uniform(cls, a: float, b: float, source: str = "user") -> "NoiseProfile":
        """Same (a, b) on all four planes (DND ``nlf``, a ``--noise a,b`` flag)."""
        return cls((a,) * 4, (b,) * 4, source)

    @classmethod
    def parse(cls, text: str) -> "NoiseProfile":
        """Parse ``"a,b"`` or ``"aR,aG1,aG2,aB,bR,bG1,bG2,bB"`` as given on the command line."""
        try:
            vals = [float(t) for t in text.replace(" ", "").split(",") if t != ""]
        except ValueError:
            raise NoiseProfileError(f"--noise expects 'a,b' numbers, got {text!r}") from None
        if len(vals) == 2:
            return cls.uniform(vals[0], vals[1], "user")
        if len(vals) == 8:
            return cls(tuple(vals[:4]), tuple(vals[4:]), "user")  # type: ignore[arg-type]
        raise NoiseProfileError(f"--noise expects 2 values 'a,b' or 8 (a and b per plane), got {len(vals)}")

    @classmethod
    def from_dng_pairs(cls, values: Sequence[float], plane_colors: Sequence[int] | None = None,
                       source: str = "metadata") -> "NoiseProfile":
        """From DNG NoiseProfile (S, O) pairs: 1 pair for all planes or one pair per CFA plane.

        ``plane_colors`` maps each pair to a colour (0=R, 1=G, 2=B) in CFAPlaneColor order; for
        Bayer DNGs there are 3 planes (R, G, B) and both greens take the G pair.
        """
        vals = [float(v) for v in values]
        if len(vals) < 2 or len(vals) % 2:
            raise NoiseProfileError(f"NoiseProfile needs an even number of values, got {len(vals)}")
        pairs = [(vals[i], vals[i + 1]) for i in range(0, len(vals), 2)]
        if len(pairs) == 1:
            return cls.uniform(pairs[0][0], pairs[0][1], source)
        colors = list(plane_colors) if plane_colors is not None else [0, 1, 2][: len(pairs)]
        if len(pairs) == 4 and len(colors) != 4:
            colors = [0, 1, 1, 2]
        by_color: dict[int, tuple[float, float]] = {}
        for c, p in zip(colors, pairs):
            by_color.setdefault(int(c), p)
        try:
            order = [by_color[0], by_color[1], by_color[1], by_color[2]]
        except KeyError:
            raise NoiseProfileError(f"NoiseProfile planes {colors} do not cover R, G and B") from None
        if len(pairs) == 4 and colors == [0, 1, 1, 2]:
            order = pairs
        return cls(tuple(p[0] for p in order), tuple(p[1] for p in order), source)  # type: ignore[arg-type]

    def std(self, x: np.ndarray | float, plane: int) -> np.ndarray | float:
        """Noise std at signal ``x`` on one plane (signal below zero counts as zero)."""
        return np.sqrt(self.a[plane] * np.maximum(x, 0.0) + self.b[plane])

    def as_vector(self) -> np.ndarray:
        """(8,) float32 ``[a_R, a_G1, a_G2, a_B, b_R, b_G1, b_G2, b_B]``: the models' noise input
        (read back with :func:`noise_terms`)."""
        return np.asarray(self.a + self.b, dtype=np.float32)

    def with_source(self, source: str, detail: str = "") -> "NoiseProfile":
        return NoiseProfile(self.a, self.b, source, detail)

    def scaled(self, factor: float) -> "NoiseProfile":
        """The profile of the same noise after multiplying the signal by ``factor``."""
        f = float(factor)
        return NoiseProfile(tuple(v * f for v in self.a), tuple(v * f * f for v in self.b),  # type: ignore[arg-type]
                            self.source, self.detail)

    def to_json(self) -> dict:
        return {"a": list(self.a), "b": list(self.b), "planes": list(PLANES), "source": self.source,
                **({"detail": self.detail} if self.detail else {})}

    def __str__(self) -> str:
        a = ",".join(f"{v:.3g}" for v in self.a)
        b = ",".join(f"{v:.3g}" for v in self.b)
        return f"a=[{a}] b=[{b}] ({self.source})"


# The plausible range of a profile that reaches a model, per plane, on the normalized scale. The
# models train on a ∈ [1e-4, 2e-2]; a sensor with a full well of 100 000 e- (a ≈ 1e-5) still
# has a std of about 2e-3 at mid-grey, twenty times the floor. Outside this, a profile is a
# misread tag, a typo or a unit mistake (DN instead of [0, 1]) and a model fed it returns garbage
# or NaN; ``--force`` lets an expert use it anyway.
A_MAX = 0.05
B_MAX = 0.01
MID_GREY_STD_MIN = 1e-4
_SOURCE_NAMES = {"user": "the given noise", "metadata": "its NoiseProfile tag", "estimate": "the blind estimate",
                 "synthetic": "the synthetic noise", "dnd": "the DND noise level"}


def check_plausible(profile: NoiseProfile, where: str) -> NoiseProfile:
    """Return ``profile`` if every plane has a ≤ A_MAX, b ≤ B_MAX and a std of at least
    MID_GREY_STD_MIN at mid-grey; else raise :class:`NoiseProfileError` naming ``where`` (a file, a flag)."""
    problems = []
    for i, plane in enumerate(PLANES):
        a, b = profile.a[i], profile.b[i]
        if a > A_MAX:
            problems.append(f"a_{plane}={a:.3g} > {A_MAX:g}")
        if b > B_MAX:
            problems.append(f"b_{plane}={b:.3g} > {B_MAX:g}")
        if math.sqrt(0.5 * a + b) < MID_GREY_STD_MIN:
            problems.append(f"plane {plane} has std {math.sqrt(0.5 * a + b):.3g} < {MID_GREY_STD_MIN:g} at mid-grey")
    if problems:
        raise NoiseProfileError(f"{where}: {_SOURCE_NAMES.get(profile.source, 'the noise')} is implausible "
                                f"({'; '.join(problems[:2])}); plausible per plane: a <= {A_MAX:g}, b <= {B_MAX:g}, "
                                f"std >= {MID_GREY_STD_MIN:g} at mid-grey on the [0, 1] scale. Check the value, "
                                "give --noise A,B, or pass --force to use it anyway")
    return profile


def noise_terms(vectors: Any) -> tuple[Any, Any]:
    """The shot terms a and read terms b of noise vectors in the :meth:`NoiseProfile.as_vector`
    layout (last axis: four a, then four b), as (..., 4) views; numpy arrays and torch tensors alike."""
    return vectors[..., :4], vectors[..., 4:8]


LOG_B_SLOPE, LOG_B_INTERCEPT = 2.18, 1.20  # the DND-fitted line log b = slope·log a + intercept


def log_linear_b(a: float | np.ndarray, jitter: float | np.ndarray = 0.0) -> float | np.ndarray:
    """Read term b on the DND-fitted line ``log b = 2.18·log a + 1.20 (+ jitter)`` (natural logs)."""
    return np.exp(LOG_B_SLOPE * np.log(a) + LOG_B_INTERCEPT + jitter)
