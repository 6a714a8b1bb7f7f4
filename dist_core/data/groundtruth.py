"""Ground-truth images of a mesh by ray casting (trimesh with the embree backend), in our camera convention.

The rays are exactly :meth:`dist_core.camera.Camera.rays` (pixel centres at +0.5, OpenCV frame), so a GT
image and :func:`dist_core.render` of the same shape see the same pixels. Depth is the camera-frame z of
the first hit (paper eq. 2); the normal is the hit triangle's normal turned to face the camera
(``n . d <= 0`` for the ray direction ``d``), in the camera frame (x right, y down, z forward; the frame
:func:`dist_core.render` uses by default) or the world frame.

Why facing the camera and not the winding normal: ShapeNet meshes are triangle soups that mix outward and
inward winding and hold coincident double-sided faces, so a triangle's winding says nothing about which side
is outside. The first surface a ray from a camera outside the object hits is seen from outside, so the normal
that faces the ray is the outward one; on a closed, consistently outward-wound mesh it is the winding normal itself, so the embedded
data are unchanged. An SDF's normal (``dist_core.render``) points outwards as well, and the DeepSDF
baseline's samples at ``p +- d n`` fall outside / inside as it assumes.

Colour views are Lambertian under a fixed world light (view independent, so photometric consistency
between views holds exactly): ``albedo * (ambient + (1 - ambient) * max(0, n . l))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

from ..camera import Camera

__all__ = ["GroundTruth", "raycast", "lambertian", "LIGHT_DIRECTION", "AMBIENT", "backproject"]

#: Direction towards the light in the object (world) frame: from above, front-right (+y up, front -z).
LIGHT_DIRECTION = np.array([0.4, 0.8, -0.45]) / np.linalg.norm([0.4, 0.8, -0.45])
AMBIENT = 0.35


@dataclass
class GroundTruth:
    """Images of one view.

    Attributes:
        depth: (H, W) camera-frame z, +inf on background.
        mask: (H, W) bool, rays that hit the mesh.
        normal: (H, W, 3) unit normal facing the camera (the outward one) in ``normal_frame``, 0 on
            background.
        points: (H, W, 3) world-frame hit points, 0 on background.
        normal_frame: "camera" or "world".
    """

    depth: np.ndarray
    mask: np.ndarray
    normal: np.ndarray
    points: np.ndarray
    normal_frame: str


def _intersector(mesh: trimesh.Trimesh):
    try:
        from trimesh.ray.ray_pyembree import RayMeshIntersector
    except ImportError as err:  # embreex missing: the project requires it, and the slow fallback is 100x slower
        raise ImportError("ground-truth ray casting needs embreex (pip install embreex)") from err
    return RayMeshIntersector(mesh)


def raycast(mesh: trimesh.Trimesh, camera: Camera, normal_frame: str = "camera") -> GroundTruth:
    """Depth, mask, normals and hit points of ``mesh`` (in the camera's world frame) seen by ``camera``.

    ``mesh`` may be any triangle soup (open, mixed winding, double-sided faces): each normal is oriented
    against its ray, never taken from the winding (module docstring).
    """
    if normal_frame not in ("camera", "world"):
        raise ValueError(f"normal_frame must be 'camera' or 'world', got {normal_frame!r}")
    import torch

    rays = camera.rays(dtype=torch.float64)
    origins = rays.origins.numpy()
    directions = rays.directions.numpy()
    locations, ray_index, tri_index = _intersector(mesh).intersects_location(origins, directions, multiple_hits=False)
    H, W = camera.height, camera.width
    R = camera.R.detach().double().numpy()
    t = camera.t.detach().double().numpy()
    depth = np.full(H * W, np.inf)
    normal = np.zeros((H * W, 3))
    points = np.zeros((H * W, 3))
    # embree works in float32: recompute each hit exactly on its triangle's plane along the float64 ray
    n_world = mesh.face_normals[tri_index]
    o, d = origins[ray_index], directions[ray_index]
    on_plane = mesh.triangles[tri_index][:, 0]
    facing = (d * n_world).sum(axis=1)
    exact = np.abs(facing) > 1e-12  # a grazing ray or a zero-area sliver keeps embree's float32 hit
    length = ((on_plane - o) * n_world).sum(axis=1) / np.where(exact, facing, 1.0)
    hits = np.where(exact[:, None], o + length[:, None] * d, locations)
    n_world = np.where((facing > 0)[:, None], -n_world, n_world)  # face the camera (module docstring)
    points[ray_index] = hits
    depth[ray_index] = hits @ R[2] + t[2]
    normal[ray_index] = n_world @ R.T if normal_frame == "camera" else n_world
    mask = np.isfinite(depth)
    return GroundTruth(depth.reshape(H, W), mask.reshape(H, W), normal.reshape(H, W, 3), points.reshape(H, W, 3),
                       normal_frame)


def lambertian(albedo: np.ndarray, world_normal: np.ndarray, mask: np.ndarray,
               light: np.ndarray = LIGHT_DIRECTION, ambient: float = AMBIENT) -> np.ndarray:
    """(H, W, 3) shaded colour in [0, 1]; 0 on background.

    Args:
        albedo: (H, W, 3) surface colour.
        world_normal: (H, W, 3) unit normals in the world frame (the light's frame).
        mask: (H, W) foreground.
    """
    shade = ambient + (1.0 - ambient) * np.clip(world_normal @ np.asarray(light), 0.0, None)
    return np.where(mask[..., None], np.clip(albedo * shade[..., None], 0.0, 1.0), 0.0)


def backproject(depth: np.ndarray, mask: np.ndarray, camera: Camera) -> np.ndarray:
    """(M, 3) world points of the ``mask`` pixels of a z-depth image (row-major pixel order)."""
    ys, xs = np.nonzero(mask)
    K = camera.K.double().numpy()
    R = camera.R.detach().double().numpy()
    t = camera.t.detach().double().numpy()
    z = depth[ys, xs]
    pixels = np.stack([xs + 0.5, ys + 0.5, np.ones_like(z)], axis=1)
    cam = (pixels @ np.linalg.inv(K).T) * z[:, None]
    return (cam - t) @ R
