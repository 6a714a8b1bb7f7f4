"""Ground truth by ray casting agrees with closed forms and with dist_core.render of the same analytic shape."""

import numpy as np
import pytest
import torch
import trimesh

import dist_core
from dist_core.camera import Camera
from dist_core.data.groundtruth import AMBIENT, LIGHT_DIRECTION, backproject, lambertian, raycast
from dist_core.sdf import Box, Sphere

CAMERAS = [Camera.look_at((0.4, 0.7, -2.2), fov_degrees=45, width=48, up=(0.0, 1.0, 0.0)),
           Camera.look_at((-1.5, -0.4, 1.6), fov_degrees=35, width=40, height=32, up=(0.0, 1.0, 0.0))]


def _box_mesh(half, center):
    box = trimesh.creation.box(extents=2 * np.asarray(half))
    box.apply_translation(center)
    return box


def test_sphere_depth_matches_closed_form():
    camera = CAMERAS[0]
    gt = raycast(trimesh.creation.icosphere(subdivisions=6, radius=0.5), camera)
    rays = camera.rays(dtype=torch.float64)
    o, d = rays.origins.numpy(), rays.directions.numpy()
    b = (o * d).sum(1)
    disc = b**2 - ((o * o).sum(1) - 0.25)
    hit = disc > 0
    length = -b - np.sqrt(np.where(hit, disc, 0))
    depth = np.where(hit, length * rays.z_per_length.numpy(), np.inf).reshape(gt.depth.shape)
    both = gt.mask & np.isfinite(depth)
    assert (gt.mask != np.isfinite(depth)).sum() <= 2  # grazing rays on the facetted silhouette
    np.testing.assert_allclose(gt.depth[both], depth[both], atol=3e-4)  # icosphere facets: < 1.5e-4 radial


@pytest.mark.parametrize("camera", CAMERAS)
@pytest.mark.parametrize("shape", ["sphere", "box"])
def test_raycast_depth_agrees_with_render_of_the_analytic_sdf(shape, camera):
    if shape == "sphere":
        sdf, mesh = Sphere(0.5, center=(0.05, -0.02, 0.1)), trimesh.creation.icosphere(subdivisions=6, radius=0.5)
        mesh.apply_translation((0.05, -0.02, 0.1))
    else:
        sdf, mesh = Box((0.4, 0.25, 0.3), center=(0.0, 0.05, -0.05)), _box_mesh((0.4, 0.25, 0.3), (0.0, 0.05, -0.05))
    gt = raycast(mesh, camera)
    with torch.no_grad():
        r = dist_core.render(sdf, sdf.latent, camera)
    valid = r.valid.numpy()
    both = gt.mask & valid
    assert both.sum() > 200
    assert (gt.mask != valid).sum() <= 0.02 * both.sum()  # only silhouette pixels may differ
    np.testing.assert_allclose(r.depth.numpy()[both], gt.depth[both], atol=1e-3)
    cosine = (r.normal.numpy()[both] * gt.normal[both]).sum(-1)
    assert np.median(cosine) > 0.9999 and cosine.min() > 0.98  # box edges: one face vs a blend of two


def test_box_normals_are_axis_aligned_and_face_the_camera():
    gt = raycast(_box_mesh((0.4, 0.25, 0.3), (0, 0, 0)), CAMERAS[0], normal_frame="world")
    n = gt.normal[gt.mask]
    assert np.allclose(np.sort(np.abs(n), axis=1), [0, 0, 1])
    cam = raycast(_box_mesh((0.4, 0.25, 0.3), (0, 0, 0)), CAMERAS[0], normal_frame="camera").normal[gt.mask]
    assert (cam[:, 2] < 0).all()  # outward normals point back towards the camera (-z in the camera frame)


def test_backprojection_returns_the_hit_points():
    camera = CAMERAS[1]
    gt = raycast(_box_mesh((0.4, 0.25, 0.3), (0.1, 0, 0)), camera)
    np.testing.assert_allclose(backproject(gt.depth, gt.mask, camera), gt.points[gt.mask], atol=1e-9)


def test_lambertian_is_view_independent_and_matches_formula():
    mesh = _box_mesh((0.4, 0.25, 0.3), (0, 0, 0))
    colours = []
    for camera in (CAMERAS[0], Camera.look_at((1.5, 0.8, -1.2), fov_degrees=40, width=36, up=(0.0, 1.0, 0.0))):
        gt = raycast(mesh, camera, normal_frame="world")
        albedo = np.where(gt.mask[..., None], 0.6, 0.0) * np.ones(3)
        image = lambertian(albedo, gt.normal, gt.mask)
        assert (image[~gt.mask] == 0).all()
        expected = 0.6 * (AMBIENT + (1 - AMBIENT) * np.clip(gt.normal[gt.mask] @ LIGHT_DIRECTION, 0, None))
        np.testing.assert_allclose(image[gt.mask][:, 0], expected)
        # colour depends only on the face (its normal), not on the camera
        colours.append({tuple(np.round(n, 6)): c for n, c in zip(gt.normal[gt.mask], image[gt.mask][:, 0])})
    shared = set(colours[0]) & set(colours[1])
    assert shared and all(colours[0][k] == pytest.approx(colours[1][k]) for k in shared)


def _soup(mesh, rng):
    """A ShapeNet-like soup of ``mesh``: half its faces wound inwards, a third doubled by a reversed copy."""
    faces = mesh.faces.copy()
    flip = rng.random(len(faces)) < 0.5
    faces[flip] = faces[flip][:, ::-1]
    doubled = faces[rng.random(len(faces)) < 0.33][:, ::-1]
    return trimesh.Trimesh(mesh.vertices, np.concatenate([faces, doubled]), process=False)


@pytest.mark.parametrize("camera", CAMERAS)
def test_normals_of_a_mixed_winding_soup_face_the_camera_like_the_closed_mesh(camera):
    box = _box_mesh((0.4, 0.25, 0.3), (0.05, 0.0, -0.05))
    soup = _soup(box, np.random.default_rng(3))
    assert not soup.is_winding_consistent
    clean, mixed = raycast(box, camera), raycast(soup, camera)
    assert (clean.mask == mixed.mask).all() and clean.mask.sum() > 200
    np.testing.assert_allclose(mixed.depth[mixed.mask], clean.depth[clean.mask], atol=1e-9)
    np.testing.assert_allclose(mixed.normal, clean.normal, atol=1e-12)
    rays = camera.rays(dtype=torch.float64).directions.numpy().reshape(mixed.normal.shape)
    world = raycast(soup, camera, normal_frame="world")
    assert ((world.normal * rays).sum(-1)[world.mask] < 0).all()


def test_deepsdf_samples_along_soup_normals_fall_on_the_right_side_of_the_surface():
    from dist_core.baselines.deepsdf import depth_sdf_samples

    half, center = np.array([0.4, 0.25, 0.3]), np.array([0.05, 0.0, -0.05])
    camera = CAMERAS[0]
    gt = raycast(_soup(_box_mesh(half, center), np.random.default_rng(4)), camera)
    samples = depth_sdf_samples(gt.depth, gt.normal, gt.mask, camera, offsets=(0.025,), surface=False)

    def inside(points):
        return (np.abs(points[:, :3] - center) < half).all(axis=1)

    assert not inside(samples.pos.numpy()).any()
    assert inside(samples.neg.numpy()).all()


def test_an_inside_out_mesh_is_shaded_like_the_outward_one():
    from dist_core.mesh_picture import render_mesh

    box = _box_mesh((0.4, 0.25, 0.3), (0.0, 0.0, 0.0))
    outward = render_mesh(box.vertices, box.faces, size=32)
    inside_out = render_mesh(box.vertices, box.faces[:, ::-1], size=32)
    np.testing.assert_allclose(inside_out, outward, atol=1e-12)
    shaded = outward[outward < 1.0]  # 1.0 is the background
    assert len(shaded) > 50 and len(np.unique(np.round(shaded, 4))) >= 2  # faces lit differently, not ambient only
