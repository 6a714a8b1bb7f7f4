"""SDF -> triangle mesh by marching cubes on a sparse coarse-to-fine grid, and mesh frame helpers.

The grid is DeepSDF's (``deep_sdf/mesh.py``, ``create_mesh``): ``resolution`` points per axis spanning the
cube ``[-1, 1]^3`` of the normalised object frame (voxel size ``2 / (resolution - 1)``), marching cubes at
level 0 (scikit-image). DeepSDF queries every one of the ``resolution^3`` points; here the grid is refined
from coarse to fine and a block of the grid is only subdivided when the surface may cross it:

* level 0 evaluates the lattice of every ``coarse_stride``-th grid point (plus the last one);
* a block between neighbouring lattice points is *settled* when its eight corners share one sign and each
  corner is farther from the surface than half the block's diagonal (``|sdf| > safety * half diagonal``):
  by the Lipschitz bound every point of the closed block then has the corners' sign, so no fine cell inside
  it can hold a triangle;
* the stride halves and only the lattice points inside unsettled blocks are queried, down to stride 1.

Grid points that were never queried take the value of the nearest lattice point below them, which lies in
a settled block with the same sign; marching cubes only places vertices on edges whose two ends changed
sign, and those ends were all queried, so the mesh equals DeepSDF's dense mesh for any SDF that is
1-Lipschitz up to ``trusted_distance`` (a DeepSDF decoder trained with clamp 0.1 is only trusted up to
about the clamp: pass ``trusted_distance=0.1``). :class:`SDFMesh` reports the queries made against the
dense ``resolution^3``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

__all__ = ["SDFMesh", "extract_mesh", "grid_coordinates", "evaluate_sdf", "to_mesh_frame", "save_mesh", "load_mesh"]


@dataclass
class SDFMesh:
    """A mesh extracted from an SDF.

    Attributes:
        vertices: (V, 3) float64 in the SDF's frame (the normalised object frame for a DeepSDF decoder).
        faces: (F, 3) int64, outward normals by the right-hand rule (negative SDF inside).
        queries: SDF evaluations made.
        dense_queries: ``resolution^3``, what the dense DeepSDF grid evaluates.
        resolution: grid points per axis.
        seconds: wall time of the extraction (queries plus marching cubes).
    """

    vertices: np.ndarray
    faces: np.ndarray
    queries: int
    dense_queries: int
    resolution: int
    seconds: float

    @property
    def empty(self) -> bool:
        """True when the SDF has no zero crossing inside the grid (marching cubes found no surface)."""
        return len(self.faces) == 0

    @property
    def query_fraction(self) -> float:
        return self.queries / self.dense_queries

    def to_trimesh(self):
        import trimesh

        return trimesh.Trimesh(self.vertices, self.faces, process=False)


def grid_coordinates(resolution: int, bounds: tuple[float, float] = (-1.0, 1.0)) -> np.ndarray:
    """(resolution,) coordinates of the grid points along each axis: DeepSDF's ``-1 + i * 2 / (N - 1)``."""
    if resolution < 2:
        raise ValueError(f"resolution must be at least 2, got {resolution}")
    low, high = bounds
    return low + np.arange(resolution, dtype=np.float64) * ((high - low) / (resolution - 1))


@torch.no_grad()
def evaluate_sdf(sdf, latent: torch.Tensor, points: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """SDF values (N,) float32 at ``points`` (N, 3), evaluated in chunks of ``chunk`` points."""
    device = latent.device
    values = np.empty(len(points), dtype=np.float32)
    for start in range(0, len(points), chunk):
        block = torch.as_tensor(points[start : start + chunk], dtype=torch.float32, device=device)
        values[start : start + chunk] = sdf(latent, block).float().cpu().numpy()
    return values


def _lattice(resolution: int, stride: int) -> np.ndarray:
    """Grid indices of a level: every ``stride``-th index plus the last one."""
    indices = np.arange(0, resolution, stride)
    return indices if indices[-1] == resolution - 1 else np.append(indices, resolution - 1)


# Offsets of a block's eight corners (and of a block's eight children), x slowest.
_CORNERS = np.stack(np.meshgrid((0, 1), (0, 1), (0, 1), indexing="ij"), axis=-1).reshape(-1, 3)


def _flat(positions: np.ndarray, size: int) -> np.ndarray:
    """Row-major flat index of (M, 3) positions in a ``size^3`` array."""
    return (positions[:, 0] * size + positions[:, 1]) * size + positions[:, 2]


def _unsettled_blocks(level: np.ndarray, points: np.ndarray, blocks: np.ndarray, safety: float,
                      trusted: float) -> np.ndarray:
    """Rows of ``blocks`` (M, 3 lattice positions of the lower corner) that the surface may cross.

    ``level`` holds the SDF on the lattice (L, L, L), ``points`` the lattice's coordinates along an axis (L,).
    """
    size = level.shape[0]
    flat = _flat(blocks, size)
    values = level.reshape(-1)
    corners = np.stack([values[flat + (dx * size + dy) * size + dz] for dx, dy, dz in _CORNERS], axis=1)
    extent = np.diff(points)[blocks]
    half_diagonal = 0.5 * np.linalg.norm(extent, axis=1)
    same_sign = (corners > 0).all(axis=1) | (corners < 0).all(axis=1)
    far = np.minimum(np.abs(corners).min(axis=1), trusted) > safety * half_diagonal
    return blocks[~(same_sign & far)]


def extract_mesh(sdf, latent: torch.Tensor, resolution: int = 256, coarse_stride: int = 16, safety: float = 1.0,
                 trusted_distance: float = float("inf"), chunk: int = 65536, dense: bool = False,
                 bounds: tuple[float, float] = (-1.0, 1.0)) -> SDFMesh:
    """Mesh of the zero level set of ``sdf(latent, points)`` on DeepSDF's grid.

    Args:
        sdf: called as ``sdf(latent, points (N, 3)) -> (N,)`` (a :class:`~dist_core.decoder.Decoder` in eval
            mode or an analytic shape of :mod:`dist_core.sdf`).
        latent: (D,) code, on the device the SDF runs on.
        resolution: grid points per axis (DeepSDF: 256).
        coarse_stride: grid spacing of the first level, a power of two.
        safety: multiplies the Lipschitz bound (use > 1 for SDFs that are not quite distances).
        trusted_distance: SDF magnitudes above it are only trusted for their sign.
        chunk: points per SDF call.
        dense: query every grid point (DeepSDF's ``create_mesh``), for comparison.
        bounds: the grid's cube along each axis.
    """
    if coarse_stride < 1 or coarse_stride & (coarse_stride - 1):
        raise ValueError(f"coarse_stride must be a power of two, got {coarse_stride}")
    start_time = time.perf_counter()
    coords = grid_coordinates(resolution, bounds)
    if dense:
        coarse_stride = 1
    stride = coarse_stride
    lattice = _lattice(resolution, stride)
    index = np.stack(np.meshgrid(lattice, lattice, lattice, indexing="ij"), axis=-1).reshape(-1, 3)
    # Every array below lives on the current lattice (L, L, L), indexed by lattice positions; at stride 1 the
    # lattice is the whole grid.
    level = evaluate_sdf(sdf, latent, coords[index], chunk).reshape(len(lattice), len(lattice), len(lattice))
    queries = index.shape[0]
    known = np.ones(level.shape, dtype=bool)  # queried, as opposed to filled from the lattice point below
    # Lower-corner lattice positions of every block of the first level.
    n = len(lattice) - 1
    blocks = np.stack(np.meshgrid(np.arange(n), np.arange(n), np.arange(n), indexing="ij"), axis=-1).reshape(-1, 3)
    while stride > 1:
        active = _unsettled_blocks(level, coords[lattice], blocks, safety, trusted_distance)
        finer = _lattice(resolution, stride // 2)
        size = len(finer)
        # Position of each coarse lattice index in the finer lattice (the finer one contains it).
        position = np.searchsorted(finer, lattice)
        # A block's children span [position[b], position[b + 1]) per axis (two positions, or one for a short
        # last block): they partition the block, so the children of distinct blocks are distinct.
        low, high = position[active], position[active + 1]
        blocks = np.concatenate([low[np.all(low + offset < high, axis=1)] + offset for offset in _CORNERS])
        # Grid points at the corners of the child blocks that have not been queried yet, in grid order.
        corner = np.zeros(size**3, dtype=bool)
        flat = _flat(blocks, size)
        for dx, dy, dz in _CORNERS:
            corner[flat + (dx * size + dy) * size + dz] = True
        was_known = np.zeros((size,) * 3, dtype=bool)
        was_known[np.ix_(position, position, position)] = known
        corner &= ~was_known.reshape(-1)
        new_flat = np.flatnonzero(corner)
        # Fill the finer level from the lattice point below (the last axis first, on the smallest array).
        below = np.searchsorted(lattice, finer, side="right") - 1
        level = level.take(below, axis=2).take(below, axis=1).take(below, axis=0)
        if len(new_flat):
            new = finer[np.stack(np.unravel_index(new_flat, level.shape), axis=1)]
            level.reshape(-1)[new_flat] = evaluate_sdf(sdf, latent, coords[new], chunk)
        known = was_known
        known.reshape(-1)[new_flat] = True
        queries += len(new_flat)
        stride //= 2
        lattice = finer
    vertices, faces = _marching_cubes(level, coords)
    return SDFMesh(vertices, faces, int(queries), resolution**3, resolution, time.perf_counter() - start_time)


def _marching_cubes(values: np.ndarray, coords: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from skimage.measure import marching_cubes

    if not (values.min() < 0 < values.max()):
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)
    spacing = float(coords[1] - coords[0])
    vertices, faces, _, _ = marching_cubes(values, level=0.0, spacing=(spacing,) * 3)
    return vertices.astype(np.float64) + coords[0], faces.astype(np.int64)


def to_mesh_frame(vertices: np.ndarray, offset, scale: float) -> np.ndarray:
    """Normalised-frame points back to the mesh's own frame, DeepSDF's ``x / scale - offset``."""
    return np.asarray(vertices, dtype=np.float64) / float(scale) - np.asarray(offset, dtype=np.float64).reshape(3)


def save_mesh(path, vertices: np.ndarray, faces: np.ndarray) -> Path:
    """Write a triangle mesh (PLY or OBJ by suffix) atomically."""
    import trimesh

    from .io import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        trimesh.Trimesh(vertices, faces, process=False).export(tmp)
    return path


def load_mesh(path):
    """A trimesh.Trimesh from a PLY / OBJ file, vertices and faces as stored."""
    import trimesh

    return trimesh.load(Path(path), process=False, force="mesh")
