"""DeepSDF auto-decoder training and latent fitting on analytic shapes written as real SdfSamples files."""

import json

import numpy as np
import pytest
import torch

from dist_core.data import deepsdf
from dist_core.decoder import load_experiment
from dist_core.prior import (LOSS_CSV, MEAN_LATENT_FILE, PROVENANCE_FILE, SdfSamples, deepsdf_specs,
                             fit_latent_to_sdf_samples, learning_rate, load_mean_latent, load_sdf_samples,
                             paper_specs, snapshot_epoch, train_auto_decoder)
from dist_core.sdf import Box, Sphere

SYNSET = "00000000"
SHAPES = {"sphere": Sphere(0.55), "box": Box((0.35, 0.6, 0.25), center=(0.05, 0.0, 0.0))}

PRIORS = {
    "latent_size": 4,
    "seed": 3,
    "network": {"dims": [32, 32, 32], "dropout": None, "dropout_prob": 0.0, "norm_layers": [0, 1, 2],
                "latent_in": [2], "xyz_in_all": False, "use_tanh": False, "latent_dropout": False,
                "weight_norm": True},
    "training": {"epochs": 300, "samples_per_scene": 1024, "scenes_per_batch": 2, "lr_decoder": 5e-3,
                 "lr_codes": 1e-2, "lr_interval": 200, "lr_factor": 0.5, "clamp": 0.1,
                 "code_regularization": 1e-4, "code_regularization_ramp": 100, "code_bound": 1.0,
                 "code_init_std": 1.0, "snapshot_every": 100},
}


def write_analytic_dataset(root):
    """SdfSamples npz (DeepSDF's format) of the analytic shapes: near-surface plus uniform samples."""
    rng = np.random.default_rng(0)
    for name, shape in SHAPES.items():
        uniform = rng.uniform(-1, 1, size=(1500, 3))
        points = np.concatenate([uniform, _near_surface(shape, rng, 6000)])
        sdf = shape(shape.latent, torch.tensor(points, dtype=torch.float32)).numpy()
        samples = np.concatenate([points, sdf[:, None]], axis=1).astype(np.float32)
        deepsdf.write_sdf_samples(deepsdf.sdf_samples_path(root, "Analytic", SYNSET, name),
                                  samples[sdf > 0], samples[sdf <= 0])
    return deepsdf.write_split(root / "split.json", "Analytic", {SYNSET: list(SHAPES)})


def _near_surface(shape, rng, count):
    points = torch.tensor(rng.uniform(-1, 1, size=(count, 3)), dtype=torch.float32, requires_grad=True)
    for _ in range(8):  # Newton steps onto the zero level set (exact distance: unit gradient)
        d = shape(shape.latent, points)
        (grad,) = torch.autograd.grad(d.sum(), points)
        points = (points - d[:, None] * grad).detach().requires_grad_(True)
    points = points.detach().numpy()
    return points + rng.normal(scale=np.sqrt(0.005), size=points.shape) * (rng.uniform(size=(count, 1)) < 0.5) \
        + rng.normal(scale=np.sqrt(0.0005), size=points.shape)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("deepsdf")
    split = write_analytic_dataset(root)
    return root, split


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory):
    root, split = dataset
    torch.set_num_threads(1)
    _, shapes = load_sdf_samples(root, split)
    path = tmp_path_factory.mktemp("experiment") / "analytic"
    result = train_auto_decoder(deepsdf_specs(PRIORS), shapes, path, progress=False, provenance={"test": True})
    return result, shapes


def l1_error(decoder, latent, shape: SdfSamples, clamp=0.1):
    samples = torch.cat([shape.pos, shape.neg])
    with torch.no_grad():
        pred = decoder(latent, samples[:, :3]).clamp(-clamp, clamp)
    return float((pred - samples[:, 3].clamp(-clamp, clamp)).abs().mean())


def test_split_and_samples_load_in_split_order(dataset):
    root, split = dataset
    instances, shapes = load_sdf_samples(root, split)
    assert [i for _, _, i in instances] == list(SHAPES)
    assert all((s.pos[:, 3] > 0).all() and (s.neg[:, 3] <= 0).all() for s in shapes)


def test_training_decreases_the_loss_and_separates_the_two_codes(trained):
    result, shapes = trained
    losses = result.losses
    assert len(losses) == PRIORS["training"]["epochs"]
    assert np.mean(losses[-5:]) < 0.4 * np.mean(losses[:5])
    codes = result.latent_codes
    assert codes.norm(dim=1).max() <= 1.0 + 1e-6  # CodeBound
    # Each code decodes its own shape better than the other shape's code does.
    for i in range(2):
        own = l1_error(result.decoder, codes[i], shapes[i])
        other = l1_error(result.decoder, codes[1 - i], shapes[i])
        assert own < 0.5 * other, (i, own, other)
        assert own < 0.02


def test_saved_experiment_reloads_bit_identically(trained):
    result, _ = trained
    decoder, codes, specs = load_experiment(result.path)
    assert specs["CodeLength"] == 4 and specs["NetworkSpecs"]["dims"] == [32, 32, 32]
    assert torch.equal(codes, result.latent_codes)
    for (name, a), (_, b) in zip(decoder.state_dict().items(), result.decoder.state_dict().items()):
        assert torch.equal(a, b), name
    points = torch.rand(1000, 3) * 2 - 1
    with torch.no_grad():
        assert torch.equal(decoder(codes[0], points), result.decoder(codes[0], points))
    # DeepSDF's final-epoch checkpoint, the mean latent and the provenance record sit beside it.
    epochs = PRIORS["training"]["epochs"]
    assert torch.equal(load_experiment(result.path, str(epochs))[1], codes)
    assert torch.allclose(load_mean_latent(result.path), codes.mean(dim=0))
    assert json.loads((result.path / PROVENANCE_FILE).read_text())["epochs"] == epochs
    assert len((result.path / LOSS_CSV).read_text().splitlines()) == epochs + 1


def test_killed_run_resumes_from_its_snapshot_exactly(dataset, tmp_path):
    root, split = dataset
    _, shapes = load_sdf_samples(root, split)
    priors = json.loads(json.dumps(PRIORS))
    priors["training"].update(epochs=6, snapshot_every=2)
    specs = deepsdf_specs(priors)
    straight = train_auto_decoder(specs, shapes, tmp_path / "straight", progress=False)
    killed = train_auto_decoder(specs, shapes, tmp_path / "resumed", progress=False, stop_after_epoch=3)
    assert snapshot_epoch(tmp_path / "resumed") == 3 and killed.losses == straight.losses[:3]
    resumed = train_auto_decoder(specs, shapes, tmp_path / "resumed", progress=False)
    assert resumed.resumed_from == 3
    assert resumed.losses == straight.losses
    assert torch.equal(resumed.latent_codes, straight.latent_codes)
    for a, b in zip(resumed.decoder.state_dict().values(), straight.decoder.state_dict().values()):
        assert torch.equal(a, b)
    # A snapshot of other specs is not silently continued.
    priors["training"]["lr_decoder"] = 1e-3
    with pytest.raises(RuntimeError, match="other specs"):
        train_auto_decoder(deepsdf_specs(priors), shapes, tmp_path / "resumed", progress=False)


def test_latent_fit_recovers_a_code_for_each_training_shape(trained):
    result, shapes = trained
    for i in range(2):
        fit = fit_latent_to_sdf_samples(result.decoder, shapes[i], iterations=200, samples_per_step=2000, seed=i)
        assert fit.latent.shape == (4,) and not fit.latent.requires_grad
        assert fit.losses[-1] < 0.5 * fit.losses[0]
        assert l1_error(result.decoder, fit.latent, shapes[i]) < 0.5 * l1_error(result.decoder, fit.latent, shapes[1 - i])
    # The decoder stays trainable afterwards.
    assert all(p.requires_grad for p in result.decoder.parameters())


def test_deepsdf_schedules_and_published_specs():
    step = {"Type": "Step", "Initial": 5e-4, "Interval": 500, "Factor": 0.5}
    assert [learning_rate(step, e) for e in (0, 499, 500, 1000, 2000)] == [5e-4, 5e-4, 2.5e-4, 1.25e-4, 3.125e-5]
    warmup = {"Type": "Warmup", "Initial": 0.0, "Final": 1.0, "Length": 10}
    assert learning_rate(warmup, 5) == 0.5 and learning_rate(warmup, 11) == 1.0
    paper = paper_specs()
    assert paper["CodeLength"] == 256 and paper["NetworkSpecs"]["dims"] == [512] * 8
    assert paper["NetworkSpecs"]["latent_in"] == [4] and paper["ClampingDistance"] == 0.1


def test_report_scores_a_learned_code_against_surface_samples_in_the_mesh_frame(trained, dataset, tmp_path):
    from dist_core.experiments.prior_report import reconstruct
    from dist_core.mesh_picture import render_mesh

    result, _ = trained
    root, _ = dataset
    key = ("Analytic", SYNSET, "sphere")
    # The shape as stored in its own mesh frame: normalised = (x + offset) * scale.
    normalization = deepsdf.Normalization(np.array([0.2, -0.1, 0.0]), 0.5)
    deepsdf.write_normalization(deepsdf.normalization_path(root, *key), normalization)
    directions = np.random.default_rng(4).normal(size=(30000, 3))
    on_sphere = 0.55 * directions / np.linalg.norm(directions, axis=1, keepdims=True)
    deepsdf.write_surface_samples(deepsdf.surface_samples_path(root, *key), normalization.invert(on_sphere))
    recon = reconstruct(result.decoder, result.latent_codes[0], key, root, None, "train", seed=0, resolution=64,
                        trusted_distance=0.1)
    # A small network after 300 steps: close to the sphere, far closer than the wrong shape's code.
    wrong = reconstruct(result.decoder, result.latent_codes[1], key, root, None, "train", seed=0, resolution=64,
                        trusted_distance=0.1)
    assert recon.chamfer < 0.25 * wrong.chamfer
    assert recon.chamfer * 0.5**2 < 2e-3  # in the normalised frame: Chamfer scales with scale^2
    assert recon.row("test")["chamfer_x1000"] == pytest.approx(recon.chamfer * 1000)
    image = render_mesh(recon.mesh.vertices, recon.mesh.faces, size=32)
    assert image.shape == (32, 32) and (image < 1.0).any() and (image == 1.0).any()
