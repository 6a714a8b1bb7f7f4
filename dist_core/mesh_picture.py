"""Grey pictures of triangle meshes for figures: ray cast from a fixed three-quarter view, Lambert-shaded.

The shading uses the normals of :func:`dist_core.data.groundtruth.raycast`, which face the camera: a ShapeNet
soup of mixed winding, or a decoded mesh that came out inside-out, shades like its outward-wound twin."""

from __future__ import annotations

import numpy as np
import trimesh

from .camera import Camera
from .data.groundtruth import lambertian, raycast

__all__ = ["render_mesh"]


def render_mesh(vertices: np.ndarray, faces: np.ndarray, size: int = 128) -> np.ndarray:
    """(size, size) grey image of a normalised-frame mesh from a fixed three-quarter view (0 = background)."""

    camera = Camera.look_at((1.6, 1.1, -1.9), fov_degrees=40.0, width=size, up=(0.0, 1.0, 0.0))
    if len(faces) == 0:
        return np.zeros((size, size))
    gt = raycast(trimesh.Trimesh(vertices, faces, process=False), camera, normal_frame="world")
    image = lambertian(np.full(gt.normal.shape, 0.85), gt.normal, gt.mask)
    return np.where(gt.mask, image[..., 0], 1.0)
