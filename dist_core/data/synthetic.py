"""Procedural ShapeNet-like shapes: the embedded default dataset (sofa, plane, table, car, chair).

Each category has a parametric generator with real variety (proportions, part counts, thin parts such as
table legs and wings, arms or none, pedestal or legs). A shape is a list of :class:`Part` primitives
(box, cylinder, capsule, sphere) fused into one **watertight** mesh by manifold3d's boolean union (through
trimesh), then placed like a ShapeNetCore v2 ``model_normalized.obj``: +y up, front towards -z, the
bounding box centred at the origin with a diagonal of length 1.

Every instance also carries a procedural 3D colour field (:class:`ColorField`): a base colour per part label
modulated by a few 3D sinusoids, so that multi-view photometric consistency (Table 3) has texture to match.

Everything is a pure function of ``(seed, category, split, index)``: :func:`instance_id` names the instance
with a ShapeNet-like 32-hex id and :func:`generate` rebuilds it bit for bit. :meth:`SyntheticShape.to_json`
stores the parts, colours and placement beside the mesh so the colour field can be evaluated later
without regenerating (:meth:`SyntheticShape.from_json`).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import numpy as np
import trimesh

from .shapenet import SYNSETS, category_of, synset_of

__all__ = [
    "GENERATOR_VERSION",
    "Part",
    "ColorField",
    "SyntheticShape",
    "instance_id",
    "instance_ids",
    "instance_rng",
    "generate",
    "fuse",
]

GENERATOR_VERSION = "dist-synthetic/1"
_SECTIONS = 20  # facets around a cylinder: fine enough for 137 px views, small enough for quick booleans


# ----------------------------------------------------------------------------------------------- primitives
def _rotation(axis: str, degrees: float) -> np.ndarray:
    """3x3 right-handed rotation about a coordinate axis."""
    a = math.radians(degrees)
    c, s = math.cos(a), math.sin(a)
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]], dtype=np.float64)
    if axis == "y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]], dtype=np.float64)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]], dtype=np.float64)


def _pose(center=(0.0, 0.0, 0.0), rotation: np.ndarray | None = None) -> np.ndarray:
    T = np.eye(4)
    if rotation is not None:
        T[:3, :3] = rotation
    T[:3, 3] = center
    return T


# The local axis of cylinders and capsules is z; these rotations point it along a world axis.
_AXIS = {"z": np.eye(3), "y": _rotation("x", -90.0), "x": _rotation("y", 90.0)}


@dataclass
class Part:
    """One primitive of a shape, in the generator's raw frame.

    Attributes:
        label: part name (``seat``, ``leg``, ``wing`` ...): it picks the part's colour.
        kind: ``box`` (size = 3 half extents), ``cylinder`` (radius, half height; axis local z),
            ``capsule`` (radius, half distance between the cap centres; axis local z), ``sphere`` (radius).
        size: the kind's dimensions.
        transform: (4, 4) rigid transform local -> raw frame.
    """

    label: str
    kind: str
    size: tuple
    transform: np.ndarray

    def mesh(self) -> trimesh.Trimesh:
        if self.kind == "box":
            m = trimesh.creation.box(extents=2.0 * np.asarray(self.size))
        elif self.kind == "cylinder":
            m = trimesh.creation.cylinder(radius=self.size[0], height=2.0 * self.size[1], sections=_SECTIONS)
        elif self.kind == "capsule":
            m = trimesh.creation.capsule(height=2.0 * self.size[1], radius=self.size[0], count=[_SECTIONS, _SECTIONS])
        elif self.kind == "sphere":
            m = trimesh.creation.icosphere(subdivisions=2, radius=self.size[0])
        else:
            raise ValueError(f"unknown part kind {self.kind!r}")
        m.apply_transform(self.transform)
        return m

    def sdf(self, points: np.ndarray) -> np.ndarray:
        """Exact signed distance of the primitive at (N, 3) raw-frame points."""
        R, T = self.transform[:3, :3], self.transform[:3, 3]
        p = (np.asarray(points, dtype=np.float64) - T) @ R
        if self.kind == "box":
            q = np.abs(p) - np.asarray(self.size)
            return np.linalg.norm(np.maximum(q, 0.0), axis=1) + np.minimum(q.max(axis=1), 0.0)
        if self.kind == "cylinder":
            d = np.stack([np.linalg.norm(p[:, :2], axis=1) - self.size[0], np.abs(p[:, 2]) - self.size[1]], axis=1)
            return np.linalg.norm(np.maximum(d, 0.0), axis=1) + np.minimum(d.max(axis=1), 0.0)
        if self.kind == "capsule":
            axis_point = np.zeros_like(p)
            axis_point[:, 2] = np.clip(p[:, 2], -self.size[1], self.size[1])
            return np.linalg.norm(p - axis_point, axis=1) - self.size[0]
        if self.kind == "sphere":
            return np.linalg.norm(p, axis=1) - self.size[0]
        raise ValueError(f"unknown part kind {self.kind!r}")

    def to_json(self) -> dict:
        return {"label": self.label, "kind": self.kind, "size": [float(s) for s in self.size],
                "transform": self.transform.tolist()}

    @classmethod
    def from_json(cls, data: dict) -> "Part":
        return cls(data["label"], data["kind"], tuple(data["size"]), np.asarray(data["transform"], dtype=np.float64))


class _Builder:
    """Collects parts; ``frame`` (4, 4) places a whole sub-assembly (a tilted chair back, a swept wing)."""

    def __init__(self):
        self.parts: list[Part] = []

    def add(self, label, kind, size, center, rotation=None, frame=None):
        T = _pose(center, rotation)
        if frame is not None:
            T = frame @ T
        self.parts.append(Part(label, kind, tuple(float(s) for s in size), T))

    def box(self, label, center, half, rotation=None, frame=None):
        self.add(label, "box", half, center, rotation, frame)

    def cylinder(self, label, center, radius, half_height, axis="y", frame=None):
        self.add(label, "cylinder", (radius, half_height), center, _AXIS[axis], frame)

    def capsule(self, label, center, radius, half_length, axis="z", frame=None):
        self.add(label, "capsule", (radius, half_length), center, _AXIS[axis], frame)

    def sphere(self, label, center, radius, frame=None):
        self.add(label, "sphere", (radius,), center, None, frame)


# ----------------------------------------------------------------------------------------------- colours
_PALETTES = {
    # label groups share a colour family; values are linear RGB in [0, 1]
    "wood": [(0.55, 0.36, 0.2), (0.7, 0.52, 0.32), (0.38, 0.24, 0.14), (0.82, 0.68, 0.48)],
    "fabric": [(0.2, 0.3, 0.55), (0.6, 0.15, 0.15), (0.3, 0.5, 0.3), (0.75, 0.7, 0.6), (0.45, 0.45, 0.5)],
    "metal": [(0.6, 0.62, 0.65), (0.25, 0.25, 0.28), (0.8, 0.8, 0.82)],
    "paint": [(0.75, 0.1, 0.1), (0.1, 0.25, 0.65), (0.9, 0.9, 0.88), (0.15, 0.15, 0.17), (0.85, 0.65, 0.1)],
    "rubber": [(0.08, 0.08, 0.08), (0.15, 0.15, 0.15)],
    "glass": [(0.35, 0.5, 0.6), (0.25, 0.3, 0.35)],
}
_LABEL_FAMILY = {
    "seat": "fabric", "back": "fabric", "cushion": "fabric", "arm": "fabric", "base": "fabric",
    "leg": "wood", "rail": "wood", "top": "wood", "shelf": "wood", "foot": "metal", "column": "metal",
    "fuselage": "paint", "wing": "paint", "tail": "paint", "engine": "metal",
    "body": "paint", "cabin": "glass", "wheel": "rubber", "trim": "metal",
}


@dataclass
class ColorField:
    """Albedo in [0, 1]: ``palette[label] * (1 + amplitude * mix @ sin(waves[:, :3] . x + waves[:, 3]))``.

    Attributes:
        palette: label -> (3,) base colour.
        waves: (K, 4) rows ``kx, ky, kz, phase``: wave vectors in the model frame (ShapeNet v2 units).
        mix: (3, K) weight of each wave in each colour channel (rows sum to 1 in absolute value), so the
            texture changes hue as well as brightness.
        amplitude: relative strength of the texture.
    """

    palette: dict
    waves: np.ndarray
    mix: np.ndarray
    amplitude: float

    def __call__(self, points_model: np.ndarray, labels: list[str]) -> np.ndarray:
        base = np.asarray([self.palette[label] for label in labels], dtype=np.float64).reshape(-1, 3)
        texture = np.sin(np.asarray(points_model, dtype=np.float64) @ self.waves[:, :3].T + self.waves[:, 3])
        return np.clip(base * (1.0 + self.amplitude * texture @ self.mix.T), 0.02, 0.98)

    def to_json(self) -> dict:
        return {"palette": {k: list(map(float, v)) for k, v in self.palette.items()},
                "waves": self.waves.tolist(), "mix": self.mix.tolist(), "amplitude": float(self.amplitude)}

    @classmethod
    def from_json(cls, data: dict) -> "ColorField":
        return cls({k: tuple(v) for k, v in data["palette"].items()}, np.asarray(data["waves"], dtype=np.float64),
                   np.asarray(data["mix"], dtype=np.float64), float(data["amplitude"]))


def _color_field(rng: np.random.Generator, labels: set[str]) -> ColorField:
    family_choice = {fam: colours[rng.integers(len(colours))] for fam, colours in sorted(_PALETTES.items())}
    palette = {}
    for label in sorted(labels):
        base = np.asarray(family_choice[_LABEL_FAMILY.get(label, "paint")])
        palette[label] = tuple(np.clip(base + rng.normal(0.0, 0.04, 3), 0.03, 0.97))
    n = 4
    directions = rng.normal(size=(n, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    frequency = rng.uniform(8.0, 30.0, size=(n, 1))
    waves = np.concatenate([directions * frequency, rng.uniform(0, 2 * math.pi, size=(n, 1))], axis=1)
    mix = rng.uniform(0.2, 1.0, size=(3, n))
    mix /= mix.sum(axis=1, keepdims=True)
    return ColorField(palette, waves, mix, float(rng.uniform(0.25, 0.45)))


# ----------------------------------------------------------------------------------------------- shape
@dataclass
class SyntheticShape:
    """A generated instance.

    Attributes:
        category, synset, split, index, seed: what it was generated from; ``instance`` its id.
        parts: primitives in the raw frame.
        colors: the colour field (evaluated in the model frame).
        center, scale: placement raw -> model frame, ``x_model = (x_raw - center) * scale``.
        mesh: the fused watertight mesh in the model frame (ShapeNet v2 placement).
    """

    category: str
    synset: str
    split: str
    index: int
    seed: int
    instance: str
    parts: list
    colors: ColorField
    center: np.ndarray
    scale: float
    mesh: trimesh.Trimesh | None = field(default=None, repr=False)

    def part_index(self, points_model: np.ndarray) -> np.ndarray:
        """(N,) index of the part nearest to each model-frame point (the part whose surface it is on)."""
        raw = np.asarray(points_model, dtype=np.float64) / self.scale + self.center
        distances = np.stack([part.sdf(raw) for part in self.parts], axis=1)
        return np.argmin(np.abs(distances), axis=1)

    def albedo(self, points_model: np.ndarray) -> np.ndarray:
        """(N, 3) surface colour at model-frame points."""
        points_model = np.asarray(points_model, dtype=np.float64).reshape(-1, 3)
        labels = [self.parts[i].label for i in self.part_index(points_model)]
        return self.colors(points_model, labels)

    def to_json(self) -> dict:
        return {
            "generator_version": GENERATOR_VERSION,
            "category": self.category, "synset": self.synset, "split": self.split, "index": self.index,
            "seed": self.seed, "instance": self.instance,
            "parts": [p.to_json() for p in self.parts],
            "colors": self.colors.to_json(),
            "center": self.center.tolist(), "scale": float(self.scale),
        }

    @classmethod
    def from_json(cls, data: dict) -> "SyntheticShape":
        return cls(data["category"], data["synset"], data["split"], int(data["index"]), int(data["seed"]),
                   data["instance"], [Part.from_json(p) for p in data["parts"]], ColorField.from_json(data["colors"]),
                   np.asarray(data["center"], dtype=np.float64), float(data["scale"]))


def _key(seed: int, category: str, split: str, index: int) -> str:
    return f"{GENERATOR_VERSION}:{int(seed)}:{synset_of(category)}:{split}:{int(index)}"


def instance_id(seed: int, category: str, split: str, index: int) -> str:
    """ShapeNet-like 32-hex id of an instance; train and test ids are drawn from separate streams."""
    return hashlib.md5(_key(seed, category, split, index).encode()).hexdigest()


def instance_ids(seed: int, category: str, split: str, count: int) -> list[str]:
    return [instance_id(seed, category, split, i) for i in range(count)]


def instance_rng(seed: int, category: str, split: str, index: int) -> np.random.Generator:
    digest = hashlib.sha256(_key(seed, category, split, index).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def fuse(parts: list[Part]) -> trimesh.Trimesh:
    """Boolean union of the parts' meshes (manifold3d): one closed, outward-wound mesh."""
    meshes = [p.mesh() for p in parts]
    fused = trimesh.boolean.union(meshes, engine="manifold")
    if not (fused.is_watertight and fused.is_winding_consistent and fused.volume > 0):
        raise RuntimeError("boolean union did not produce a watertight solid")
    return fused


def generate(category: str, seed: int, split: str, index: int) -> SyntheticShape:
    """Generate one instance (deterministic in its arguments); see the module docstring."""
    category = category_of(synset_of(category))
    rng = instance_rng(seed, category, split, index)
    builder = _Builder()
    _GENERATORS[category](builder, rng)
    parts = builder.parts
    colors = _color_field(rng, {p.label for p in parts})
    raw = fuse(parts)
    lo, hi = raw.bounds
    center = (lo + hi) / 2.0
    scale = 1.0 / float(np.linalg.norm(hi - lo))
    mesh = trimesh.Trimesh((raw.vertices - center) * scale, raw.faces, process=False)
    return SyntheticShape(category, SYNSETS[category], split, int(index), int(seed),
                          instance_id(seed, category, split, index), parts, colors, center, scale, mesh)


# ----------------------------------------------------------------------------------------------- categories
# Raw frame: metres, +y up, the front of the object towards -z, the floor at y = 0.

def _chair(b: _Builder, rng: np.random.Generator) -> None:
    w, d = rng.uniform(0.42, 0.6), rng.uniform(0.4, 0.55)
    seat_t, hs = rng.uniform(0.04, 0.09), rng.uniform(0.38, 0.5)
    b.box("seat", (0, hs - seat_t / 2, 0), (w / 2, seat_t / 2, d / 2))
    under = hs - seat_t + 0.01  # legs reach 1 cm into the seat so the union is one solid
    base = rng.choice(["legs", "round_legs", "pedestal", "sled"], p=[0.4, 0.25, 0.2, 0.15])
    if base in ("legs", "round_legs"):
        lw, inset, splay = rng.uniform(0.015, 0.035), rng.uniform(0.0, 0.04), rng.uniform(0.0, 6.0)
        for sx in (-1, 1):
            for sz in (-1, 1):
                x, z = sx * (w / 2 - lw - inset), sz * (d / 2 - lw - inset)
                tilt = _rotation("z", -sx * splay) @ _rotation("x", sz * splay)
                if base == "legs":
                    b.box("leg", (x, under / 2, z), (lw, under / 2, lw), rotation=tilt)
                else:
                    b.add("leg", "cylinder", (lw, under / 2), (x, under / 2, z), tilt @ _AXIS["y"])
        if rng.random() < 0.4:  # stretchers between the legs
            y = rng.uniform(0.08, 0.2)
            for sz in (-1, 1):
                b.box("rail", (0, y, sz * (d / 2 - lw - inset)), (w / 2 - lw - inset, lw * 0.6, lw * 0.6))
    elif base == "pedestal":
        column_r, foot_len = rng.uniform(0.025, 0.04), rng.uniform(0.24, 0.32)
        b.cylinder("column", (0, (under + 0.06) / 2, 0), column_r, (under - 0.06) / 2)
        feet = int(rng.choice([4, 5]))
        for k in range(feet):
            rot = _rotation("y", 360.0 * k / feet)
            b.box("foot", rot @ np.array([foot_len / 2, 0.05, 0]), (foot_len / 2, 0.02, 0.022), rotation=rot)
        if rng.random() < 0.6:  # casters
            for k in range(feet):
                rot = _rotation("y", 360.0 * k / feet)
                b.sphere("foot", rot @ np.array([foot_len - 0.02, 0.03, 0]), 0.03)
    else:  # sled: two floor runners with front and back posts
        lw = rng.uniform(0.012, 0.025)
        for sx in (-1, 1):
            x = sx * (w / 2 - lw)
            b.box("leg", (x, lw, 0), (lw, lw, d / 2))
            for sz in (-1, 1):
                b.box("leg", (x, under / 2, sz * (d / 2 - lw)), (lw, under / 2, lw))
    hb, bt, tilt = rng.uniform(0.3, 0.55), rng.uniform(0.025, 0.06), rng.uniform(0.0, 15.0)
    back_frame = _pose((0, hs - 0.01, d / 2 - bt / 2), _rotation("x", tilt))  # local y runs up the back
    style = rng.choice(["panel", "slats", "frame"])
    bw = w / 2 * rng.uniform(0.85, 1.0)
    if style == "panel":
        b.box("back", (0, hb / 2, 0), (bw, hb / 2, bt / 2), frame=back_frame)
    else:
        post = rng.uniform(0.018, 0.03)
        for sx in (-1, 1):
            b.box("back", (sx * (bw - post), hb / 2, 0), (post, hb / 2, bt / 2), frame=back_frame)
        b.box("back", (0, hb - post * 1.5, 0), (bw, post * 1.5, bt / 2), frame=back_frame)
        if style == "slats":
            n = int(rng.integers(2, 6))
            for k in range(n):
                x = -bw + post + (2 * bw - 2 * post) * (k + 1) / (n + 1)
                b.box("back", (x, hb / 2, 0), (post * 0.6, hb / 2, bt / 3), frame=back_frame)
        else:
            b.box("back", (0, hb * rng.uniform(0.35, 0.6), 0), (bw, post, bt / 2), frame=back_frame)
    if rng.random() < 0.35:  # arms
        ha, aw = rng.uniform(0.18, 0.26), rng.uniform(0.02, 0.04)
        for sx in (-1, 1):
            x = sx * (w / 2 + aw * 0.5)
            b.box("arm", (x, hs + ha, 0.02), (aw, 0.02, d * 0.42))
            b.box("arm", (x, hs + ha / 2 - 0.01, -d / 2 + 0.06), (aw * 0.7, ha / 2 + 0.01, aw * 0.7))


def _table(b: _Builder, rng: np.random.Generator) -> None:
    H, tt = rng.uniform(0.65, 0.78), rng.uniform(0.025, 0.06)
    round_top = rng.random() < 0.3
    if round_top:
        r = rng.uniform(0.35, 0.6)
        b.cylinder("top", (0, H - tt / 2, 0), r, tt / 2)
        half_x = half_z = r / math.sqrt(2)
    else:
        W = rng.uniform(0.8, 1.8)
        D = min(W, rng.uniform(0.5, 1.0))
        b.box("top", (0, H - tt / 2, 0), (W / 2, tt / 2, D / 2))
        half_x, half_z = W / 2, D / 2
    under = H - tt + 0.01
    base = rng.choice(["legs", "pedestal", "trestle"], p=[0.55, 0.25, 0.2] if not round_top else [0.5, 0.5, 0.0])
    if base == "legs":
        lw, inset = rng.uniform(0.015, 0.04), rng.uniform(0.02, 0.1)
        round_legs = rng.random() < 0.4
        xs, zs = half_x - lw - inset, half_z - lw - inset
        for sx in (-1, 1):
            for sz in (-1, 1):
                if round_legs:
                    b.cylinder("leg", (sx * xs, under / 2, sz * zs), lw, under / 2)
                else:
                    b.box("leg", (sx * xs, under / 2, sz * zs), (lw, under / 2, lw))
        extra = rng.random()
        if extra < 0.3:  # stretchers
            y = rng.uniform(0.1, 0.25)
            b.box("rail", (0, y, -zs), (xs, lw * 0.6, lw * 0.6))
            b.box("rail", (0, y, zs), (xs, lw * 0.6, lw * 0.6))
        elif extra < 0.55:  # lower shelf
            b.box("shelf", (0, rng.uniform(0.12, 0.3), 0), (xs, 0.012, zs))
    elif base == "pedestal":
        column_r = rng.uniform(0.04, 0.08)
        b.cylinder("column", (0, under / 2, 0), column_r, under / 2)
        if rng.random() < 0.5:
            b.cylinder("foot", (0, 0.015, 0), rng.uniform(0.2, 0.35), 0.015)
        else:
            reach = rng.uniform(0.22, 0.35)
            b.box("foot", (0, 0.025, 0), (reach, 0.025, 0.03))
            b.box("foot", (0, 0.025, 0), (0.03, 0.025, reach))
    else:  # trestle: two side panels on floor feet, joined by a beam
        pt, inset = rng.uniform(0.025, 0.05), rng.uniform(0.05, 0.15)
        x = half_x - pt - inset
        for sx in (-1, 1):
            b.box("leg", (sx * x, under / 2, 0), (pt, under / 2, half_z * 0.55))
            b.box("foot", (sx * x, 0.025, 0), (pt * 1.3, 0.025, half_z * 0.8))
        b.box("rail", (0, under * rng.uniform(0.3, 0.6), 0), (x, 0.03, 0.02))


def _sofa(b: _Builder, rng: np.random.Generator) -> None:
    W, D = rng.uniform(1.4, 2.4), rng.uniform(0.75, 0.98)
    feet_h, base_h, cush_t = rng.uniform(0.04, 0.12), rng.uniform(0.18, 0.28), rng.uniform(0.08, 0.15)
    back_h, back_t = rng.uniform(0.3, 0.5), rng.uniform(0.15, 0.25)
    arms = rng.random() < 0.8
    arm_w, arm_h = rng.uniform(0.1, 0.22), rng.uniform(0.12, 0.25)
    seat_top = feet_h + base_h + cush_t
    b.box("base", (0, feet_h + base_h / 2, 0), (W / 2, base_h / 2, D / 2))
    inner = W / 2 - (arm_w if arms else 0.0)
    n = int(rng.choice([1, 2, 3]))
    gap = 0.012
    cush_depth = D - back_t
    for k in range(n):
        x0 = -inner + 2 * inner * k / n
        x1 = -inner + 2 * inner * (k + 1) / n
        b.box("cushion", ((x0 + x1) / 2, feet_h + base_h + cush_t / 2 - 0.005, -back_t / 2),
              ((x1 - x0) / 2 - gap / 2, cush_t / 2 + 0.005, cush_depth / 2))
    b.box("back", (0, (feet_h + seat_top + back_h) / 2, D / 2 - back_t / 2),
          (W / 2 if not arms else inner + 0.01, (seat_top + back_h - feet_h) / 2, back_t / 2))
    if rng.random() < 0.5:  # back cushions
        for k in range(n):
            x0 = -inner + 2 * inner * k / n
            x1 = -inner + 2 * inner * (k + 1) / n
            b.box("cushion", ((x0 + x1) / 2, seat_top + back_h * 0.45, D / 2 - back_t - 0.05),
                  ((x1 - x0) / 2 - gap / 2, back_h * 0.42, 0.06))
    if arms:
        rounded = rng.random() < 0.4
        for sx in (-1, 1):
            x = sx * (W / 2 - arm_w / 2)
            top = seat_top + arm_h
            b.box("arm", (x, (feet_h + top) / 2, 0), (arm_w / 2, (top - feet_h) / 2, D / 2))
            if rounded:
                b.capsule("arm", (x, top, 0), arm_w / 2 * 1.05, D / 2 - arm_w / 2)
    feet = [(sx * (W / 2 - 0.06), z) for sx in (-1, 1) for z in (-D / 2 + 0.06, D / 2 - 0.06)]
    if rng.random() < 0.25:  # chaise longue on one side, on its own front feet
        side = rng.choice([-1, 1])
        cw, cl = W * rng.uniform(0.28, 0.4), rng.uniform(0.45, 0.7)
        x = side * (inner - cw / 2)
        b.box("base", (x, feet_h + base_h / 2, -D / 2 - cl / 2 + 0.01), (cw / 2, base_h / 2, cl / 2 + 0.01))
        b.box("cushion", (x, feet_h + base_h + cush_t / 2 - 0.005, -D / 2 - cl / 2 + 0.02),
              (cw / 2 - gap, cush_t / 2 + 0.005, cl / 2))
        feet += [(x + sx * (cw / 2 - 0.06), -D / 2 - cl + 0.06) for sx in (-1, 1)]
    if rng.random() < 0.7:
        fr = rng.uniform(0.02, 0.04)
        for x, z in feet:
            b.cylinder("foot", (x, (feet_h + 0.01) / 2, z), fr, (feet_h + 0.01) / 2)
    else:  # plinth under the main base
        b.box("foot", (0, (feet_h + 0.01) / 2, 0), (W / 2 - 0.05, (feet_h + 0.01) / 2, D / 2 - 0.05))


def _wing_pair(b: _Builder, label, root, span, chord, thickness, sweep, dihedral):
    """Two wing halves from ``root`` (on the fuselage axis), swept back (+z) and raised by ``dihedral``."""
    for side in (-1, 1):
        frame = _pose(root, _rotation("z", side * dihedral) @ _rotation("y", -side * sweep))
        b.box(label, (side * span / 4, 0, 0), (span / 4, thickness / 2, chord / 2), frame=frame)


def _plane(b: _Builder, rng: np.random.Generator) -> None:
    L = rng.uniform(1.2, 2.0)
    r = L * rng.uniform(0.045, 0.07)
    b.capsule("fuselage", (0, 0, 0), r, L / 2 - r)
    span, chord = L * rng.uniform(0.8, 1.3), L * rng.uniform(0.12, 0.22)
    wt, sweep, dihedral = chord * rng.uniform(0.08, 0.14), rng.uniform(0.0, 35.0), rng.uniform(-3.0, 8.0)
    zw, yw = L * rng.uniform(-0.1, 0.1), r * rng.uniform(-0.6, 0.4)
    _wing_pair(b, "wing", (0, yw, zw), span, chord, wt, sweep, dihedral)
    fin_h, fin_c = L * rng.uniform(0.1, 0.2), chord * rng.uniform(0.6, 1.0)
    fin_z = L / 2 - r - fin_c * 0.4
    fin_frame = _pose((0, r * 0.3, fin_z), _rotation("x", rng.uniform(10.0, 35.0)))
    b.box("tail", (0, fin_h / 2, 0), (wt * 0.4, fin_h / 2, fin_c / 2), frame=fin_frame)
    t_tail = rng.random() < 0.2
    stab_root = (0, r * 0.3 + fin_h * 0.95, fin_z + fin_h * 0.3) if t_tail else (0, r * rng.uniform(0.0, 0.5), fin_z)
    _wing_pair(b, "tail", stab_root, span * rng.uniform(0.25, 0.4), chord * rng.uniform(0.5, 0.8), wt * 0.7,
               sweep * rng.uniform(0.6, 1.1), dihedral * 0.5)
    engines = int(rng.choice([0, 2, 4], p=[0.3, 0.5, 0.2]))
    er, el = r * rng.uniform(0.35, 0.6), chord * rng.uniform(0.8, 1.3)
    stations = [rng.uniform(0.15, 0.28)] if engines == 2 else [rng.uniform(0.13, 0.2), rng.uniform(0.3, 0.4)]
    for s in stations[: engines // 2]:
        for side in (-1, 1):
            x = side * span * s
            # follow the swept, raised wing to its underside at this station
            z = zw + abs(x) * math.tan(math.radians(sweep)) - chord * 0.2
            y = yw + abs(x) * math.tan(math.radians(dihedral)) - wt / 2 - er * 1.1
            b.cylinder("engine", (x, y, z), er, el / 2, axis="z")
            b.box("engine", (x, y + er * 0.9, z + el * 0.1), (er * 0.25, er * 0.75, el * 0.3))


def _car(b: _Builder, rng: np.random.Generator) -> None:
    Lc, Wc = rng.uniform(3.6, 4.9), rng.uniform(1.6, 1.95)
    clearance, body_h = rng.uniform(0.12, 0.25), rng.uniform(0.45, 0.7)
    wheel_r, wheel_w = rng.uniform(0.28, 0.38), rng.uniform(0.18, 0.26)
    kind = rng.choice(["sedan", "hatch", "suv", "pickup"])
    body_bottom = clearance + 0.05
    b.box("body", (0, body_bottom + body_h / 2, 0), (Wc / 2, body_h / 2, Lc / 2))
    roof = body_bottom + body_h
    cab_w = Wc / 2 * rng.uniform(0.8, 0.92)
    if kind == "sedan":
        cl, ch, cz = Lc * rng.uniform(0.4, 0.5), rng.uniform(0.35, 0.48), Lc * rng.uniform(0.0, 0.08)
    elif kind == "hatch":
        cl, ch = Lc * rng.uniform(0.5, 0.6), rng.uniform(0.38, 0.5)
        cz = Lc / 2 - cl / 2 - 0.1
    elif kind == "suv":
        cl, ch = Lc * rng.uniform(0.6, 0.72), rng.uniform(0.5, 0.65)
        cz = Lc / 2 - cl / 2 - 0.05
    else:
        cl, ch, cz = Lc * rng.uniform(0.25, 0.33), rng.uniform(0.45, 0.55), -Lc * rng.uniform(0.02, 0.1)
    b.box("cabin", (0, roof + ch / 2 - 0.01, cz), (cab_w, ch / 2 + 0.01, cl / 2))
    # a raked windshield in front of the cabin
    rake = rng.uniform(25.0, 45.0)
    b.box("cabin", (0, roof + ch / 2 - 0.02, cz - cl / 2), (cab_w * 0.98, ch / 2 / math.cos(math.radians(rake)), 0.05),
          rotation=_rotation("x", -rake))
    if kind == "pickup":
        bed_start = cz + cl / 2
        bed_len = Lc / 2 - bed_start
        for sx in (-1, 1):
            b.box("trim", (sx * (Wc / 2 - 0.03), roof + 0.12, bed_start + bed_len / 2), (0.03, 0.13, bed_len / 2))
        b.box("trim", (0, roof + 0.12, Lc / 2 - 0.03), (Wc / 2, 0.13, 0.03))
    elif rng.random() < 0.2:  # spoiler on posts
        b.box("trim", (0, roof + 0.15, Lc / 2 - 0.15), (Wc / 2 * 0.9, 0.02, 0.12))
        for sx in (-1, 1):
            b.box("trim", (sx * Wc / 4, roof + 0.07, Lc / 2 - 0.15), (0.03, 0.09, 0.03))
    if rng.random() < 0.6:  # bumpers
        for sz in (-1, 1):
            b.box("trim", (0, body_bottom + 0.12, sz * (Lc / 2 + 0.04)), (Wc / 2 * 0.96, 0.08, 0.06))
    axle = Lc / 2 - rng.uniform(0.6, 0.9)
    track = Wc / 2 - wheel_w / 2 + rng.uniform(0.0, 0.04)
    for sx in (-1, 1):
        for sz in (-1, 1):
            b.cylinder("wheel", (sx * track, wheel_r, sz * axle), wheel_r, wheel_w / 2, axis="x")


_GENERATORS = {"chair": _chair, "table": _table, "sofa": _sofa, "plane": _plane, "car": _car}
