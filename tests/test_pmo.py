"""PMO baseline parts: the embree mesh depth renderer and its vertex gradient, the AtlasNet decoder, the
encoder, save/load and the loader of PMO's own meshes."""

import numpy as np
import pytest
import torch
import trimesh

from dist_core import Camera
from dist_core.baselines.pmo import (ImageEncoder, MeshDecoder, PMOModel, chamfer_loss, icosphere, load_pmo,
                                     load_pmo_mesh, mesh_depth, optimize_pmo, save_pmo, train_image_encoder,
                                     train_mesh_decoder)
from dist_core.data.groundtruth import raycast
from dist_core.multiview import MultiViewSettings


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Small tensors: torch's thread barriers cost more than they save on a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _camera(size=24):
    return Camera.look_at((0.3, 0.4, -2.0), fov_degrees=40.0, width=size, up=(0.0, 1.0, 0.0))


def test_mesh_depth_matches_ray_casting():
    sphere = trimesh.creation.icosphere(subdivisions=2, radius=0.5)
    camera = _camera()
    depth = mesh_depth(torch.tensor(sphere.vertices, dtype=torch.float64), torch.tensor(sphere.faces), camera)
    gt = raycast(sphere, camera)
    assert torch.equal(torch.isfinite(depth), torch.from_numpy(gt.mask))
    assert np.allclose(depth.numpy()[gt.mask], gt.depth[gt.mask], atol=1e-6)


def test_mesh_depth_gradient_in_vertices_matches_finite_differences():
    # A tilted triangle covering the whole image: no silhouette or crease moves under small vertex moves
    # (depth has a kink across a crease between two faces, where finite differences are one-sided).
    vertices = torch.tensor([[-3.0, -3.0, 0.1], [3.0, -3.0, -0.1], [0.0, 3.0, 0.05]], dtype=torch.float64,
                            requires_grad=True)
    faces = torch.tensor([[0, 1, 2]])
    camera = Camera.look_at((0.0, 0.0, -2.0), fov_degrees=30.0, width=12, up=(0.0, 1.0, 0.0))
    weights = torch.rand(12, 12, dtype=torch.float64)

    def objective(v):
        d = mesh_depth(v, faces, camera)
        return (torch.where(torch.isfinite(d), d, torch.zeros_like(d)) * weights).sum()

    objective(vertices).backward()
    step = 1e-6
    for index in [(0, 2), (1, 0), (2, 1), (2, 2)]:
        moved = vertices.detach().clone()
        moved[index] += step
        back = vertices.detach().clone()
        back[index] -= step
        numeric = (objective(moved) - objective(back)) / (2 * step)
        assert float(vertices.grad[index]) == pytest.approx(float(numeric), rel=1e-4, abs=1e-6)


def test_mesh_depth_of_an_empty_view_is_background():
    vertices, faces = icosphere(1)
    far = Camera.look_at((0.0, 0.0, -2.0), target=(0.0, 5.0, -2.0), width=8, up=(0.0, 0.0, 1.0))
    assert torch.isinf(mesh_depth(torch.from_numpy(vertices), torch.from_numpy(faces), far)).all()


def test_icosphere_has_pmos_642_vertices_at_three_subdivisions():
    vertices, faces = icosphere(3)
    assert vertices.shape == (642, 3) and faces.shape == (1280, 3)


def test_chamfer_loss_of_known_point_sets():
    a = torch.tensor([[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]])
    b = torch.tensor([[[0.0, 0.5, 0.0]]])
    # a -> b: (0.25 + 1.25) / 2; b -> a: 0.25
    assert float(chamfer_loss(a, b)) == pytest.approx(0.75 + 0.25)


def _tiny_decoder_settings(epochs=200):
    return dict(code_size=4, hidden=32, layers=2, subdivisions=1, epochs=epochs, batch=2, points_per_shape=200,
                template_points=30, lr=3e-3, code_lr=3e-3, code_init_std=0.1, code_regularization=1e-4)


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
    assert decoder(codes[0]).shape == (decoder.template.shape[0], 3)


def test_image_encoder_regresses_codes_and_round_trips(tmp_path):
    images = np.stack([np.full((16, 16, 3), 0.2), np.full((16, 16, 3), 0.8)]).astype(np.float32)
    codes = torch.tensor([[1.0, -1.0, 0.0, 0.5], [-1.0, 1.0, 0.5, 0.0]])
    settings = dict(width=8, resolution=16, epochs=150, batch=2, lr=3e-3)
    encoder, losses = train_image_encoder(images, np.array([0, 1]), codes, settings, seed=0, progress=False)
    assert losses[-1] < 0.05 * losses[0]
    decoder = MeshDecoder(4, 32, 2, 1)
    specs = {"decoder": _tiny_decoder_settings(), "encoder": settings}
    save_pmo(tmp_path / "pmo", PMOModel(decoder, encoder, codes, specs))
    loaded = load_pmo(tmp_path / "pmo")
    with torch.no_grad():
        assert torch.allclose(loaded.encoder(torch.from_numpy(images)), encoder(torch.from_numpy(images)))
        assert torch.allclose(loaded.decoder(codes[0]), decoder(codes[0]))
    with pytest.raises(FileNotFoundError, match="table3"):
        load_pmo(tmp_path / "missing")


def test_pmo_optimisation_runs_the_shared_schedule():
    decoder = MeshDecoder(4, 32, 2, 1)
    model = PMOModel(decoder.eval(), ImageEncoder(4, 8, 16), torch.zeros(1, 4), {})
    cameras = [Camera.look_at((2.0 * np.sin(a), 0.3, -2.0 * np.cos(a)), width=16, up=(0.0, 1.0, 0.0))
               for a in (0.0, 0.4, 0.8)]
    images = np.random.default_rng(0).uniform(size=(3, 16, 16, 3))
    result = optimize_pmo(model, images, cameras, MultiViewSettings(epochs=2, views_per_round=3, depth_threshold=1.0),
                          torch.zeros(4), progress=False)
    assert result.steps == 2 and len(result.losses) == 2 and result.code.shape == (4,)


def test_load_pmo_mesh_reads_ply(tmp_path):
    box = trimesh.creation.box()
    box.export(tmp_path / "pmo_out.ply")
    vertices, faces = load_pmo_mesh(tmp_path / "pmo_out.ply")
    assert vertices.shape == (8, 3) and faces.shape == (12, 3)
    with pytest.raises(FileNotFoundError, match="table3.pmo"):
        load_pmo_mesh(tmp_path / "nothing.ply")
