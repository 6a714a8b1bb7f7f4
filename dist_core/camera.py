"""Pinhole cameras and camera rays in the OpenCV convention used throughout dist.

Convention (the README's "Conventions"):

* ``K`` is 3x3 in pixels; the principal point is ``(cx, cy)``; pixel centres sit at ``+0.5``, so the
  centre of the top-left pixel is ``(0.5, 0.5)``.
* Extrinsics ``R, t`` map world to camera, ``x_cam = R @ x_world + t``; the camera looks down ``+z``, the
  image ``x`` axis points right and ``y`` down.
* Depth is the ``z`` coordinate in the camera frame (paper eq. 2), not the ray length.

The pose can be optimised: :class:`Camera` stores ``R`` and ``t`` as plain tensors, and
:meth:`Camera.with_pose_delta` returns a camera whose pose is ``exp([w]_x) R, t + dt`` for a differentiable
axis-angle ``w`` and translation ``dt`` (section 4.1 of the paper optimises camera extrinsics this way).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch

__all__ = [
    "Camera",
    "RayBundle",
    "axis_angle_to_matrix",
    "look_at",
    "intrinsics_from_fov",
    "opengl_to_opencv",
    "opencv_to_opengl",
]


@dataclass
class RayBundle:
    """Camera rays of an image, flattened in row-major pixel order.

    Attributes:
        origins: (N, 3) ray origins in the world frame (the camera centre, repeated).
        directions: (N, 3) unit ray directions in the world frame.
        z_per_length: (N,) camera-frame depth gained per unit of ray length, ``1 / |K^-1 (x, y, 1)|``
            (paper eq. 2), so that ``depth = length * z_per_length``.
        pixels: (N, 2) pixel-centre coordinates ``(x, y)`` of the rays.
    """

    origins: torch.Tensor
    directions: torch.Tensor
    z_per_length: torch.Tensor
    pixels: torch.Tensor


def axis_angle_to_matrix(w: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula, differentiable at ``w = 0``.

    Args:
        w: (3,) axis-angle vector; its norm is the angle in radians.
    Returns:
        (3, 3) rotation matrix.
    """
    theta2 = (w * w).sum()
    zero = torch.zeros((), dtype=w.dtype, device=w.device)
    wx = torch.stack(
        [
            torch.stack([zero, -w[2], w[1]]),
            torch.stack([w[2], zero, -w[0]]),
            torch.stack([-w[1], w[0], zero]),
        ]
    )
    small = theta2 < 1e-12
    # Taylor expansions keep the gradient finite at w = 0, where the closed form divides 0 by 0.
    theta = torch.sqrt(torch.where(small, torch.ones_like(theta2), theta2))
    a = torch.where(small, 1.0 - theta2 / 6.0, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24.0, (1.0 - torch.cos(theta)) / (theta * theta))
    eye = torch.eye(3, dtype=w.dtype, device=w.device)
    return eye + a * wx + b * (wx @ wx)


def intrinsics_from_fov(width: int, height: int, fov_degrees: float, axis: str = "x") -> torch.Tensor:
    """K for a centred principal point and a field of view measured across ``axis`` ("x" or "y")."""
    extent = width if axis == "x" else height
    focal = 0.5 * extent / math.tan(math.radians(fov_degrees) / 2.0)
    return torch.tensor(
        [[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]], dtype=torch.float64
    )


def look_at(eye, target=(0.0, 0.0, 0.0), up=(0.0, -1.0, 0.0)) -> tuple[torch.Tensor, torch.Tensor]:
    """World-to-camera ``R, t`` for a camera at ``eye`` looking at ``target``.

    ``up`` is the world direction that should appear upwards in the image; since image ``y`` points
    down, the camera's ``y`` axis is ``-up`` projected orthogonally to the viewing direction.
    """
    eye = torch.as_tensor(eye, dtype=torch.float64)
    target = torch.as_tensor(target, dtype=torch.float64)
    up = torch.as_tensor(up, dtype=torch.float64)
    z = target - eye
    z = z / z.norm()
    x = torch.linalg.cross(-up, z)
    if x.norm() < 1e-9:
        raise ValueError(f"look_at: up {up.tolist()} is parallel to the viewing direction; pass another up")
    x = x / x.norm()
    y = torch.linalg.cross(z, x)
    R = torch.stack([x, y, z])
    t = -R @ eye
    return R, t


_FLIP_YZ = torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64))


def opengl_to_opencv(R_gl: torch.Tensor, t_gl: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """World-to-camera pose of an OpenGL/Blender camera (looks down -z, y up) in OpenCV's convention."""
    flip = _FLIP_YZ.to(R_gl)
    return flip @ R_gl, flip @ t_gl


def opencv_to_opengl(R_cv: torch.Tensor, t_cv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse of :func:`opengl_to_opencv` (the flip is its own inverse)."""
    return opengl_to_opencv(R_cv, t_cv)


def _camera_frame_directions(K: torch.Tensor, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit camera-frame directions (N, 3) through ``pixels`` (N, 2) and their ``z_per_length`` (N,)."""
    homogeneous = torch.cat([pixels, torch.ones_like(pixels[:, :1])], dim=-1)
    cam_dirs = homogeneous @ torch.linalg.inv(K).transpose(0, 1)
    length = cam_dirs.norm(dim=-1)
    return cam_dirs / length[:, None], 1.0 / length


@functools.lru_cache(maxsize=32)
def _camera_frame_grid(intrinsics: tuple, width: int, height: int, scale: int, device: torch.device, dtype):
    """The camera-frame rays of a pixel grid, cached per intrinsics, size, scale, device and dtype (the
    tracer asks for the same pyramid at every step of an optimisation). Returns (unit, z_per_length,
    pixels)."""
    K = torch.tensor(intrinsics, dtype=torch.float64).reshape(3, 3).to(device=device, dtype=dtype)
    ys, xs = torch.meshgrid(
        torch.arange(math.ceil(height / scale), device=device, dtype=dtype) * scale + 0.5 * scale,
        torch.arange(math.ceil(width / scale), device=device, dtype=dtype) * scale + 0.5 * scale,
        indexing="ij",
    )
    pixels = torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=-1)
    unit, z_per_length = _camera_frame_directions(K, pixels)
    return unit, z_per_length, pixels


class Camera:
    """An OpenCV pinhole camera of ``width`` x ``height`` pixels.

    Args:
        K: (3, 3) intrinsics in pixels.
        R: (3, 3) world-to-camera rotation.
        t: (3,) world-to-camera translation.
        width, height: image size in pixels.
    """

    def __init__(self, K, R, t, width: int, height: int):
        self.K = torch.as_tensor(K, dtype=torch.float64)
        self.R = torch.as_tensor(R) if isinstance(R, torch.Tensor) else torch.as_tensor(R, dtype=torch.float64)
        self.t = torch.as_tensor(t) if isinstance(t, torch.Tensor) else torch.as_tensor(t, dtype=torch.float64)
        self.width = int(width)
        self.height = int(height)
        if self.K.shape != (3, 3) or self.R.shape != (3, 3) or self.t.shape != (3,):
            raise ValueError(
                f"Camera needs K (3, 3), R (3, 3), t (3,); got {tuple(self.K.shape)}, "
                f"{tuple(self.R.shape)}, {tuple(self.t.shape)}"
            )

    @classmethod
    def look_at(cls, eye, target=(0.0, 0.0, 0.0), fov_degrees: float = 40.0, width: int = 512,
                height: int | None = None, up=(0.0, -1.0, 0.0)) -> "Camera":
        """A camera at ``eye`` looking at ``target`` with a horizontal field of view."""
        height = width if height is None else height
        R, t = look_at(eye, target, up)
        return cls(intrinsics_from_fov(width, height, fov_degrees), R, t, width, height)

    @classmethod
    def orbit(cls, azimuth: float, elevation: float, distance: float = 1.8, fov_degrees: float = 40.0,
              width: int = 512, height: int | None = None, up=(0.0, -1.0, 0.0)) -> "Camera":
        """A camera on a sphere of ``distance`` around the origin, looking at it (degrees).

        Azimuth 0 and elevation 0 put the camera on the -z axis (with the default ``up`` = -y: the
        three-quarter views of Table 1 use azimuth 40, elevation 25); positive azimuth turns it about
        ``up`` towards +x, positive elevation raises it towards ``up``.
        """
        u = torch.nn.functional.normalize(torch.as_tensor(up, dtype=torch.float64), dim=0)
        front = torch.tensor([0.0, 0.0, -1.0], dtype=torch.float64)
        front = front - (front @ u) * u
        if front.norm() < 1e-9:
            raise ValueError(f"orbit: up {list(up)} is the z axis; pass an up orthogonal to z")
        front = front / front.norm()
        side = torch.linalg.cross(u, front)
        a, e = math.radians(azimuth), math.radians(elevation)
        eye = distance * (math.cos(e) * (math.cos(a) * front + math.sin(a) * side) + math.sin(e) * u)
        return cls.look_at(eye.tolist(), fov_degrees=fov_degrees, width=width, height=height, up=tuple(u.tolist()))

    @property
    def center(self) -> torch.Tensor:
        """(3,) camera centre in the world frame, ``-R^T t``."""
        return -self.R.transpose(0, 1) @ self.t

    def scaled(self, factor: float) -> "Camera":
        """The same camera rendering ``factor`` times as many pixels along each axis.

        The image plane is kept: pixel centres of the new grid subdivide those of the old one, which is
        what coarse-to-fine tracing needs (a coarse pixel covers ``1 / factor`` fine pixels per axis).
        """
        width = max(1, int(round(self.width * factor)))
        height = max(1, int(round(self.height * factor)))
        S = torch.diag(torch.tensor([width / self.width, height / self.height, 1.0], dtype=self.K.dtype))
        return Camera(S @ self.K, self.R, self.t, width, height)

    def with_pose_delta(self, rotation: torch.Tensor, translation: torch.Tensor) -> "Camera":
        """Camera with pose ``exp([rotation]_x) R, t + translation``; differentiable in both arguments."""
        dR = axis_angle_to_matrix(rotation.to(self.R.dtype))
        return Camera(self.K, dR @ self.R, self.t + translation.to(self.t.dtype), self.width, self.height)

    def to(self, device=None, dtype=None) -> "Camera":
        return Camera(self.K.to(device=device, dtype=dtype), self.R.to(device=device, dtype=dtype),
                      self.t.to(device=device, dtype=dtype), self.width, self.height)

    def pixel_grid(self, device=None, dtype=torch.float32, scale: int = 1) -> torch.Tensor:
        """(ceil(H / scale) * ceil(W / scale), 2) pixel coordinates ``(x, y)``, row-major: the pixel centres
        for ``scale`` 1, else the centres of the ``scale`` x ``scale`` blocks of pixels (coarse-to-fine
        tracing)."""
        height, width = math.ceil(self.height / scale), math.ceil(self.width / scale)
        ys, xs = torch.meshgrid(
            torch.arange(height, device=device, dtype=dtype) * scale + 0.5 * scale,
            torch.arange(width, device=device, dtype=dtype) * scale + 0.5 * scale,
            indexing="ij",
        )
        return torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=-1)

    def rays(self, device=None, dtype=torch.float32, pixels: torch.Tensor | None = None, scale: int = 1) -> RayBundle:
        """Rays through ``pixels`` (default: :meth:`pixel_grid` at ``scale``), see :class:`RayBundle`.

        The rays are differentiable in ``R`` and ``t`` when those require gradients. The camera-frame part of
        the default grid depends on ``K`` and the image size only and is computed once per intrinsics
        (cameras are values: do not change ``K`` in place).
        """
        R = self.R.to(device=device, dtype=dtype)
        t = self.t.to(device=device, dtype=dtype)
        if pixels is None and not self.K.requires_grad:
            unit, z_per_length, pixels = _camera_frame_grid(self._intrinsics_key(), self.width, self.height, scale,
                                                            torch.device(device) if device is not None else
                                                            torch.device("cpu"), dtype)
        else:
            if pixels is None:
                pixels = self.pixel_grid(device=device, dtype=dtype, scale=scale)
            unit, z_per_length = _camera_frame_directions(self.K.to(device=device, dtype=dtype), pixels)
        world_dirs = unit @ R
        origin = -(R.transpose(0, 1) @ t)
        return RayBundle(origin.expand_as(world_dirs), world_dirs, z_per_length, pixels)

    def _intrinsics_key(self) -> tuple:
        return tuple(self.K.detach().cpu().double().flatten().tolist())

    def project(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Project (N, 3) world points; returns pixel coordinates (N, 2) and camera-frame depth (N,)."""
        R = self.R.to(points)
        cam = points @ R.transpose(0, 1) + self.t.to(points)
        uvw = cam @ self.K.to(points).transpose(0, 1)
        return uvw[:, :2] / uvw[:, 2:3], cam[:, 2]

    def world_to_camera(self, points: torch.Tensor) -> torch.Tensor:
        return points @ self.R.to(points).transpose(0, 1) + self.t.to(points)

    def __repr__(self) -> str:
        c = self.center.detach().cpu().tolist()
        return f"Camera({self.width}x{self.height}, fx={float(self.K[0, 0]):.2f}, centre={[round(v, 4) for v in c]})"
