"""PMO baseline parts: AtlasNet's patches and sphere, the rasteriser, the virtual camera, PMO's photometric loss
(consistency at the true shape, gradient), its optimisation, the encoder, save/load and PMO's own meshes."""

import numpy as np
import pytest
import torch
import trimesh

from dist_core import Camera
from dist_core.baselines.pmo import (ImageEncoder, MeshDecoder, PMOModel, PMOSettings, chamfer_loss, icosphere,
                                     interpolate_camera, load_pmo, load_pmo_mesh, optimize_pmo, patch_grid,
                                     photometric_loss, rasterize, rasterize_views, save_pmo)
from dist_core.baselines.pmo_train import held_out_views, train_mesh_decoder
from dist_core.data.groundtruth import raycast


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Small tensors: torch's thread barriers cost more than they save on a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _ring(count, size=24, radius=2.0, step=0.25):
    return [Camera.look_at((radius * np.sin(a), 0.3, -radius * np.cos(a)), fov_degrees=40.0, width=size,
                           up=(0.0, 1.0, 0.0)) for a in step * np.arange(count)]


def _albedo(points):
    """A smooth colour field on 3D points (N, 3) -> (N, 3) in [0, 1], fixed to the object."""
    return 0.5 + 0.4 * np.sin(np.stack([7.0 * points[:, 0] + 1.0, 5.0 * points[:, 1] - 2.0 * points[:, 2],
                                        6.0 * points[:, 2] + 3.0 * points[:, 0]], axis=-1))


def _frames(mesh, cameras):
    images = []
    for camera in cameras:
        gt = raycast(mesh, camera, normal_frame="world")
        image = np.zeros((camera.height, camera.width, 3))
        image[gt.mask] = _albedo(gt.points[gt.mask])
        images.append(image)
    return torch.tensor(np.stack(images), dtype=torch.float64)


def test_patch_grid_and_templates_have_pmos_sizes():
    uv, faces = patch_grid(5)
    assert uv.shape == (36, 2) and faces.shape == (50, 3) and uv.min() == 0.0 and uv.max() == 1.0
    patches = MeshDecoder(code_size=8, patches=25, grid=5)
    assert patches.template.shape == (25, 36, 2) and patches.faces.shape == (1250, 3)
    assert int(patches.faces.max()) == 25 * 36 - 1
    sphere = MeshDecoder(code_size=8, sphere_subdivisions=3)
    assert sphere.template.shape == (1, 642, 3) and sphere.faces.shape == (1280, 3)
    assert patches(torch.zeros(8)).shape == (900, 3) and patches(torch.zeros(2, 8)).shape == (2, 900, 3)
    vertices, faces = icosphere(3)
    assert vertices.shape == (642, 3) and faces.shape == (1280, 3)


def test_each_patch_has_its_own_network():
    decoder = MeshDecoder(code_size=4, patches=3, grid=2)
    with torch.no_grad():
        decoder.biases[-1][1] += 0.5  # move only the second patch's output
        moved = decoder(torch.zeros(4)).reshape(3, 9, 3)
        decoder.biases[-1][1] -= 0.5
        base = decoder(torch.zeros(4)).reshape(3, 9, 3)
    assert torch.allclose(moved[[0, 2]], base[[0, 2]]) and not torch.allclose(moved[1], base[1])


def test_rasterize_matches_ray_casting_and_recovers_the_hit_points():
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.5)
    camera = _ring(1, size=32)[0]
    vertices, faces = torch.tensor(sphere.vertices), torch.tensor(sphere.faces)
    raster = rasterize(vertices, faces, camera)
    gt = raycast(sphere, camera)
    hit = raster.face >= 0
    assert np.array_equal(hit.reshape(32, 32).numpy(), gt.mask)
    assert torch.equal(raster.pixels, torch.nonzero(hit).squeeze(1))
    points = (raster.barycentric[:, :, None] * vertices[faces[raster.face[raster.pixels]]]).sum(dim=1)
    _, depth = camera.project(points)
    np.testing.assert_allclose(depth.numpy(), gt.depth[gt.mask], atol=1e-6)  # rays along an edge: either face
    assert (raster.barycentric >= -1e-9).all() and torch.allclose(raster.barycentric.sum(1),
                                                                  torch.ones(int(hit.sum()), dtype=torch.float64))
    away = Camera.look_at((0.0, 0.0, -2.0), target=(0.0, 5.0, -2.0), width=8, up=(0.0, 0.0, 1.0))
    assert (rasterize(vertices, faces, away).face == -1).all()
    other = _ring(3, size=32)[2]
    together = rasterize_views(vertices, faces, [camera, away, other])  # one ray cast for every view
    alone = rasterize(vertices, faces, other)
    assert torch.equal(together[0].face, raster.face) and (together[1].face == -1).all()
    assert torch.equal(together[2].face, alone.face) and torch.allclose(together[2].barycentric, alone.barycentric)


def test_virtual_camera_lies_halfway_on_the_orbit():
    a, b = _ring(2, step=0.6)
    middle = interpolate_camera(a, b)
    expected = torch.tensor([2.0 * np.sin(0.3), 0.3, -2.0 * np.cos(0.3)], dtype=torch.float64)
    assert torch.allclose(middle.center, expected, atol=1e-3)
    origin, _ = middle.project(torch.zeros(1, 3, dtype=torch.float64))
    torch.testing.assert_close(origin[0], torch.tensor([12.0, 12.0], dtype=torch.float64))


def test_photometric_loss_is_lowest_at_the_true_shape():
    # Faces several pixels wide: PMO keeps a pixel only where the four pixels around both projections see its face.
    sphere = trimesh.creation.icosphere(subdivisions=2, radius=0.5)
    cameras = _ring(3, size=48)
    images = _frames(sphere, cameras)
    vertices, faces = torch.tensor(sphere.vertices), torch.tensor(sphere.faces)
    pairs = [(0, 1), (1, 2)]
    true, kept = photometric_loss(vertices, faces, images, cameras, pairs)
    shifted, _ = photometric_loss(vertices + torch.tensor([0.08, 0.0, 0.0], dtype=torch.float64), faces, images,
                                  cameras, pairs)
    smaller, _ = photometric_loss(0.85 * vertices, faces, images, cameras, pairs)
    assert kept > 200 and float(true) < 0.02
    assert float(shifted) > 3 * float(true) and float(smaller) > 3 * float(true)


def test_photometric_loss_gradient_matches_finite_differences():
    # One large tilted triangle: no visible face changes under small vertex moves.
    vertices = torch.tensor([[-3.0, -3.0, 0.1], [3.0, -3.0, -0.1], [0.0, 3.0, 0.05]], dtype=torch.float64,
                            requires_grad=True)
    faces = torch.tensor([[0, 1, 2]])
    cameras = [Camera.look_at((x, 0.1, -2.0), fov_degrees=30.0, width=12, up=(0.0, 1.0, 0.0)) for x in (-0.1, 0.1)]
    u, v = np.meshgrid(np.linspace(0, 1, 12), np.linspace(0, 1, 12))
    images = torch.tensor(np.stack([np.stack([u, v, u * v], -1), np.stack([v, u, 0.5 + 0.3 * u], -1)]))
    rasters = {}  # PMO's gradient holds visibility and barycentric coordinates fixed: so do the differences
    loss, _ = photometric_loss(vertices, faces, images, cameras, [(0, 1)], rasters)
    loss.backward()
    step = 1e-6
    for index in [(0, 2), (1, 0), (2, 1), (2, 2)]:
        moved, back = vertices.detach().clone(), vertices.detach().clone()
        moved[index] += step
        back[index] -= step
        numeric = (photometric_loss(moved, faces, images, cameras, [(0, 1)], rasters)[0]
                   - photometric_loss(back, faces, images, cameras, [(0, 1)], rasters)[0]) / (2 * step)
        assert float(vertices.grad[index]) == pytest.approx(float(numeric), rel=1e-4, abs=1e-7)


class _Scaled(MeshDecoder):
    """A sphere decoder whose single code value is the log of the radius."""

    def forward(self, code, template=None):
        return 0.5 * torch.exp(code[..., :1])[..., None] * 2.0 * self.template[0]


def test_pmo_optimisation_moves_the_shape_towards_photo_consistency():
    truth = trimesh.creation.icosphere(subdivisions=2, radius=0.5)
    cameras = _ring(4, size=40, step=0.2)
    images = _frames(truth, cameras)
    decoder = _Scaled(code_size=1, sphere_subdivisions=2, hidden=4)
    model = PMOModel(decoder, ImageEncoder(1, 4, 16), torch.zeros(1, 1), {})
    start = torch.tensor([np.log(0.8)])
    settings = PMOSettings(iterations=30, lr=1e-2, code_weight=0.0, similarity=False, snapshot_every=10)
    result = optimize_pmo(model, images, cameras, settings, start, progress=False)
    assert result.steps == 30 and len(result.losses) == 30 and [s for s, _ in result.snapshots] == [0, 10, 20, 30]
    assert abs(float(result.code.exp()) - 1.0) < 0.5 * 0.2  # the radius recovered half of its 20 % error
    assert result.kept_pixels_per_step > 30 and result.similarity[0] == 1.0
    pulled = optimize_pmo(model, images, cameras, PMOSettings(iterations=30, lr=1e-2, code_weight=100.0,
                                                              similarity=False), start, progress=False)
    assert abs(float(pulled.code - start)) < abs(float(result.code - start))  # the code prior holds it back


def test_chamfer_loss_of_known_point_sets_and_its_gradient():
    a = torch.tensor([[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]], requires_grad=True)
    b = torch.tensor([[[0.0, 0.5, 0.0]]])
    loss = chamfer_loss(a, b)
    # a -> b: (0.25 + 1.25) / 2; b -> a: 0.25
    assert float(loss.detach()) == pytest.approx(0.75 + 0.25)
    loss.backward()
    # d/da0 = (a0 - b) (a -> b, mean over 2) + 2 (a0 - b) (b -> a, a0 is b's nearest)
    torch.testing.assert_close(a.grad[0, 0], torch.tensor([0.0, -0.5 - 1.0, 0.0]))
    torch.testing.assert_close(a.grad[0, 1], torch.tensor([1.0, -0.5, 0.0]))


def _tiny_decoder_settings(epochs=200):
    return dict(code_size=4, patches=1, grid=2, sphere_subdivisions=1, hidden=32, epochs=epochs, batch=2,
                points_per_patch=30, target_points=200, lr=3e-3, code_lr=3e-3, code_init_std=0.1,
                code_regularization=1e-4)


def test_mesh_decoder_learns_two_spheres():
    rng = np.random.default_rng(0)
    directions = rng.normal(size=(400, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    clouds = [0.3 * directions, 0.7 * directions]
    decoder, codes, losses = train_mesh_decoder(clouds, _tiny_decoder_settings(), seed=0, progress=False)
    assert losses[-1] < 0.2 * losses[0]
    with torch.no_grad():
        radii = [float(decoder(codes[k]).norm(dim=-1).mean()) for k in range(2)]
    assert radii[0] == pytest.approx(0.3, abs=0.08) and radii[1] == pytest.approx(0.7, abs=0.08)


def test_held_out_views_are_spread_over_the_trajectory():
    assert list(held_out_views(24, 6)) == [3, 9, 15, 21]


def test_models_round_trip_and_a_mismatched_file_is_named(tmp_path):
    decoder = MeshDecoder(4, patches=3, grid=2, hidden=16)
    encoder = ImageEncoder(4, 4, 16).eval()
    specs = {"decoder": {"code_size": 4, "patches": 3, "grid": 2, "sphere_subdivisions": None, "hidden": 16},
             "encoder": {"width": 4, "resolution": 16}}
    save_pmo(tmp_path / "pmo", PMOModel(decoder, encoder, torch.zeros(2, 4), specs))
    loaded = load_pmo(tmp_path / "pmo")
    images = torch.rand(2, 16, 16, 3)
    code = torch.tensor([0.1, -0.2, 0.3, 0.0])
    with torch.no_grad():
        assert torch.allclose(loaded.encoder(images), encoder(images))
        assert torch.allclose(loaded.decoder(code), decoder(code))
    assert not any(p.requires_grad for p in loaded.decoder.parameters())
    specs["decoder"]["patches"] = 4
    (tmp_path / "pmo" / "specs.json").write_text(__import__("json").dumps(specs))
    with pytest.raises(ValueError, match="does not match"):
        load_pmo(tmp_path / "pmo")
    with pytest.raises(FileNotFoundError, match="table3"):
        load_pmo(tmp_path / "missing")


def test_load_pmo_mesh_reads_ply(tmp_path):
    box = trimesh.creation.box()
    box.export(tmp_path / "pmo_out.ply")
    vertices, faces = load_pmo_mesh(tmp_path / "pmo_out.ply")
    assert vertices.shape == (8, 3) and faces.shape == (12, 3)
    with pytest.raises(FileNotFoundError, match="table3.pmo"):
        load_pmo_mesh(tmp_path / "nothing.ply")


@pytest.mark.parametrize("category", ["car", "plane"])
def test_the_shipped_networks_load_with_the_current_code(category):
    """resources/pmo is what real data uses (PMO's networks cannot be trained on PMO's sequences here): its networks
    must match the architecture the code builds from their specs, and carry their measured quality."""
    from pathlib import Path

    from dist_core.baselines.pmo import load_pmo

    folder = Path(__file__).resolve().parents[1] / "resources" / "pmo" / category
    model = load_pmo(folder)
    assert model.codes.shape[0] == model.specs["train_instances"]
    quality = model.specs["quality"]
    assert quality["decoder_train_chamfer_x1000"] > 0 and quality["encoder_heldout_chamfer_x1000"] > 0
