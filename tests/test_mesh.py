"""Sparse coarse-to-fine marching cubes against analytic shapes and against the dense DeepSDF grid."""

import numpy as np
import pytest
import torch

from dist_core import metrics
from dist_core.data.deepsdf import Normalization
from dist_core.mesh import extract_mesh, grid_coordinates, load_mesh, save_mesh, to_mesh_frame
from dist_core.sdf import Box, Sphere, Torus, Union


def sphere_points(count, radius, seed):
    directions = np.random.default_rng(seed).normal(size=(count, 3))
    return radius * directions / np.linalg.norm(directions, axis=1, keepdims=True)


def test_grid_is_deepsdfs_minus_one_to_one_with_n_points():
    coords = grid_coordinates(256)
    assert coords[0] == -1.0 and coords[-1] == pytest.approx(1.0)
    assert np.diff(coords) == pytest.approx(np.full(255, 2.0 / 255))


def test_sparse_sphere_mesh_at_256_is_within_1e_5_chamfer_of_the_true_sphere_with_few_queries():
    sphere = Sphere(0.5)
    mesh = extract_mesh(sphere, sphere.latent, resolution=256)
    # Chamfer to the true surface without sampling noise: mesh samples -> sphere exactly, sphere samples ->
    # a million mesh samples (floor 1 / (pi * density) ~ 1e-6).
    on_mesh = metrics.sample_mesh_surface(mesh.vertices, mesh.faces, 30000, seed=1)
    mesh_to_sphere = np.mean((np.linalg.norm(on_mesh, axis=1) - 0.5) ** 2)
    dense_mesh = metrics.sample_mesh_surface(mesh.vertices, mesh.faces, 1_000_000, seed=2)
    sphere_to_mesh = metrics.chamfer_one_sided(sphere_points(30000, 0.5, 3), dense_mesh)
    assert mesh_to_sphere + sphere_to_mesh < 1e-5
    assert mesh_to_sphere < 1e-8
    assert mesh.dense_queries == 256**3
    assert mesh.queries < 0.05 * mesh.dense_queries
    # Outward normals (negative SDF inside): positive enclosed volume, close to 4/3 pi r^3.
    assert mesh.to_trimesh().volume == pytest.approx(4.0 / 3.0 * np.pi * 0.125, rel=1e-3)


def test_sparse_mesh_is_identical_to_the_dense_grid_mesh():
    shape = Union(Box((0.4, 0.05, 0.3), center=(0.0, -0.2, 0.0)), Torus(0.5, 0.04), Sphere(0.1, (0.3, 0.4, 0.1)))
    sparse = extract_mesh(shape, shape.latent, resolution=100, coarse_stride=8)
    dense = extract_mesh(shape, shape.latent, resolution=100, dense=True)
    assert np.array_equal(sparse.vertices, dense.vertices) and np.array_equal(sparse.faces, dense.faces)
    assert dense.queries == 100**3 and sparse.queries < 0.25 * dense.queries


class RecordingSDF(torch.nn.Module):
    """Wraps an SDF and keeps every point it is asked for."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.points = inner, []

    def forward(self, latent, points):
        self.points.append(points.numpy().copy())
        return self.inner(latent, points)


def test_sparse_grid_queries_each_grid_point_at_most_once_and_counts_every_query():
    shape = Union(Box((0.4, 0.05, 0.3), center=(0.0, -0.2, 0.0)), Torus(0.5, 0.04), Sphere(0.1, (0.3, 0.4, 0.1)))
    recording = RecordingSDF(shape)
    mesh = extract_mesh(recording, shape.latent, resolution=100, coarse_stride=8, chunk=20000)
    points = np.concatenate(recording.points).astype(np.float64)
    assert len(points) == mesh.queries
    # Back to grid indices: every query is a grid point, and none is asked for twice across the levels.
    step = 2.0 / 99
    index = np.rint((points + 1.0) / step).astype(np.int64)
    assert np.allclose(index * step - 1.0, points, atol=1e-6)
    assert len(np.unique(np.ravel_multi_index(index.T, (100,) * 3))) == mesh.queries


class OverstatedFarField(torch.nn.Module):
    """A sphere SDF that exaggerates distances beyond 0.1, as a decoder trained with clamp 0.1 may."""

    def forward(self, latent, points):
        d = points.norm(dim=-1) - latent[0]
        return torch.where(d.abs() > 0.1, d * 20.0, d)


def test_trusted_distance_keeps_the_mesh_of_an_sdf_that_overstates_far_values():
    sdf, latent = OverstatedFarField(), torch.tensor([0.45])
    dense = extract_mesh(sdf, latent, resolution=64, dense=True)
    trusted = extract_mesh(sdf, latent, resolution=64, coarse_stride=16, trusted_distance=0.1)
    assert np.array_equal(trusted.vertices, dense.vertices) and np.array_equal(trusted.faces, dense.faces)


def test_no_zero_crossing_gives_an_empty_mesh_and_infinite_chamfer():
    sphere = Sphere(0.2, center=(3.0, 0.0, 0.0))
    mesh = extract_mesh(sphere, sphere.latent, resolution=32)
    assert mesh.empty
    assert metrics.chamfer_deepsdf(sphere_points(100, 0.2, 0), mesh.vertices, mesh.faces) == np.inf


def test_mesh_round_trips_through_ply_and_back_to_the_mesh_frame(tmp_path):
    sphere = Sphere(0.6)
    mesh = extract_mesh(sphere, sphere.latent, resolution=40)
    normalization = Normalization(np.array([0.1, -0.2, 0.3]), 2.5)
    in_mesh_frame = to_mesh_frame(mesh.vertices, normalization.offset, normalization.scale)
    assert np.allclose(normalization.apply(in_mesh_frame), mesh.vertices)
    loaded = load_mesh(save_mesh(tmp_path / "m.ply", in_mesh_frame, mesh.faces))
    assert np.allclose(loaded.vertices, in_mesh_frame, atol=1e-6)
    assert np.array_equal(loaded.faces, mesh.faces)
