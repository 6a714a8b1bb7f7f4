"""Training of the PMO baseline (:mod:`dist_core.baselines.pmo`) on the priors' train split, and its quality.

PMO pretrains AtlasNet as a point-cloud autoencoder, then trains a ResNet-18 image encoder and the decoder
end to end with the Chamfer loss on renderings of the 72 views of its trajectory composited on SUN360
backgrounds (``main_pretrain.py``, ``data.py``: a random background per sample). Here:

1. :func:`train_mesh_decoder`: the decoder as an auto-decoder (one learnt code per training shape, like the
   DeepSDF priors), AtlasNet's symmetric Chamfer loss between decoded random template points and surface
   samples, Adam;
2. :func:`train_image_encoder`: the encoder, from renderings of the training shapes seen from the sequence
   trajectory, each composited on a background drawn from a bank of seeded procedural panoramas at every
   epoch (``background: environment``, PMO's SUN360 stand-in), with PMO's loss: the Chamfer loss between
   the decoded prediction and the shape's surface samples (the decoder frozen; PMO also fine-tunes it), or
   by regression of the auto-decoder codes; a fixed subset of the trajectory's views is held out to measure it.

:func:`network_quality` gives what a reader needs to judge the networks: the decoder's autoencoding Chamfer
on training shapes (DeepSDF's Chamfer x1000, mesh frame, as the priors' quality table) and the encoder's code
error and decoded Chamfer on held-out views.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .. import metrics
from ..data import deepsdf, shapenet
from ..data.embedded import load_synthetic_shape, render_colour_views
from ..data.preprocess import sample_surface
from ..data.seeding import derive_seed, derived_rng
from ..data.views import environment_background
from .pmo import ImageEncoder, MeshDecoder, PMOModel, chamfer_loss

__all__ = ["training_settings", "TrainingSet", "training_set", "held_out_views", "train_mesh_decoder",
           "train_image_encoder", "network_quality", "train_pmo"]


@dataclass
class TrainingSet:
    """The training shapes of one category as the networks see them.

    Attributes:
        instances: shape ids.
        clouds: per shape, (N, 3) surface samples in the normalised frame (the decoder's frame).
        normalizations: per shape, its DeepSDF NormalizationParameters.
        meshes: per shape, the mesh in its own (mesh) frame, for the quality report.
        colour: (S, V, r, r, 3) float16, colour times coverage at the encoder's resolution ``r``.
        alpha: (S, V, r, r) float16, coverage of each pixel by the object.
        backgrounds: (K, V, r, r, 3) float16, a bank of procedural panoramas seen by the V cameras.
    """

    instances: list
    clouds: list
    normalizations: list
    meshes: list
    colour: np.ndarray
    alpha: np.ndarray
    backgrounds: np.ndarray

    def images(self, shapes: np.ndarray, views: np.ndarray, backgrounds: np.ndarray) -> torch.Tensor:
        """(B, r, r, 3) composites of shape ``shapes[k]`` from view ``views[k]`` on background ``backgrounds[k]``."""
        colour = torch.from_numpy(self.colour[shapes, views].astype(np.float32))
        alpha = torch.from_numpy(self.alpha[shapes, views].astype(np.float32))[..., None]
        background = torch.from_numpy(self.backgrounds[backgrounds, views].astype(np.float32))
        return colour + (1.0 - alpha) * background


NOT_TRAINING_KEYS = ("source", "shipped_dir", "optimization")


def training_settings(pmo: dict) -> dict:
    """The keys of the config section ``table3.pmo`` that the networks are trained with (recorded as
    ``specs.json``'s ``config``): not where the networks come from, nor how PMO optimises with them."""
    return {k: v for k, v in pmo.items() if k not in NOT_TRAINING_KEYS}


def _area(images: np.ndarray, size: int) -> np.ndarray:
    """(..., H, W, C) area-resized to (..., size, size, C)."""
    shape = images.shape
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).reshape(-1, *shape[-3:]).permute(0, 3, 1, 2)
    x = F.interpolate(x, size=(size, size), mode="area").permute(0, 2, 3, 1)
    return x.reshape(*shape[:-3], size, size, shape[-1]).numpy()


def training_set(category: str, instances: list, shapenet_root, deepsdf_dir, dataset: str, cameras: list,
                 points: int, encoder_resolution: int, backgrounds: int, seed: int,
                 progress: bool = True) -> TrainingSet:
    """Render and sample the training shapes.

    Args:
        cameras: the sequence trajectory, acting on each shape's mesh frame (as the PMO sequences' cameras),
            at the resolution of the test images; renderings are area-resized to ``encoder_resolution``.
        points: surface samples per shape.
        backgrounds: size of the panorama bank.
    """
    synset = shapenet.synset_of(category)
    clouds, normalizations, meshes, colours, alphas = [], [], [], [], []
    for instance in tqdm(instances, desc=f"PMO training set {category}", disable=not progress, mininterval=2):
        norm = deepsdf.read_normalization(deepsdf.normalization_path(deepsdf_dir, dataset, synset, instance))
        shape = load_synthetic_shape(shapenet_root, synset, instance)
        cloud, _ = sample_surface(shapenet.normalized_mesh(shape.mesh, norm), points,
                                  derived_rng(seed, category, instance, "pmo_train_points"))
        colour, masks = render_colour_views(shape, deepsdf.Normalization.identity(), cameras)
        coverage = masks.astype(np.float32)
        colours.append(_area(colour * coverage[..., None], encoder_resolution).astype(np.float16))
        alphas.append(_area(coverage[..., None], encoder_resolution)[..., 0].astype(np.float16))
        clouds.append(cloud)
        normalizations.append(norm)
        meshes.append(shape.mesh)
    bank = np.stack([_area(environment_background(cameras, derive_seed(seed, category, str(k), "pmo_background")),
                           encoder_resolution) for k in range(backgrounds)]).astype(np.float16)
    return TrainingSet(list(instances), clouds, normalizations, meshes, np.stack(colours), np.stack(alphas), bank)


def held_out_views(views: int, every: int) -> np.ndarray:
    """Indices of the trajectory views held out from the encoder's training: one in ``every``, from ``every // 2``."""
    return np.arange(every // 2, views, every)


def train_mesh_decoder(clouds: list, settings: dict, seed: int, device="cpu",
                       progress: bool = True) -> tuple[MeshDecoder, torch.Tensor, list]:
    """Train the AtlasNet decoder and one code per shape (auto-decoder) with the Chamfer loss.

    Args:
        clouds: per training shape, (N, 3) surface samples in the normalised frame.
        settings: ``code_size``, ``patches``, ``grid``, ``sphere_subdivisions`` (null: patches), ``hidden``
            (null: the code size), ``epochs``, ``batch``, ``points_per_patch`` (random template points per
            patch and shape, AtlasNet: 100), ``target_points`` (surface samples per shape and step), ``lr``,
            ``code_lr``, ``code_init_std``, ``code_regularization`` (weight of mean(z^2)).
    Returns:
        the decoder (eval mode), the codes (S, D) and the mean loss of every epoch.
    """
    torch.manual_seed(seed)
    generator = np.random.default_rng(seed)
    torch_generator = torch.Generator().manual_seed(seed)
    decoder = MeshDecoder(settings["code_size"], settings["patches"], settings["grid"],
                          settings.get("sphere_subdivisions"), settings.get("hidden")).to(device)
    codes = torch.nn.Parameter(torch.randn(len(clouds), settings["code_size"], generator=torch_generator)
                               .mul(settings["code_init_std"]).to(device))
    optimizer = torch.optim.Adam([{"params": decoder.parameters(), "lr": settings["lr"]},
                                  {"params": [codes], "lr": settings["code_lr"]}])
    clouds = [torch.as_tensor(np.asarray(p), dtype=torch.float32) for p in clouds]
    history = []
    bar = tqdm(range(settings["epochs"]), desc="PMO mesh decoder", disable=not progress, mininterval=2)
    for _ in bar:
        order = generator.permutation(len(clouds))
        total = 0.0
        for start in range(0, len(order), settings["batch"]):
            batch = order[start:start + settings["batch"]]
            target = torch.stack([clouds[i][generator.integers(0, len(clouds[i]), settings["target_points"])]
                                  for i in batch]).to(device)
            optimizer.zero_grad()
            c = codes[torch.as_tensor(batch, device=device)]
            template = decoder.sample_template(settings["points_per_patch"], torch_generator).to(device)
            loss = chamfer_loss(decoder(c, template), target) + settings["code_regularization"] * c.pow(2).mean()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
        history.append(total / len(clouds))
        bar.set_postfix(loss=f"{history[-1]:.5f}", refresh=False)
    return decoder.eval(), codes.detach(), history


def train_image_encoder(data: TrainingSet, codes: torch.Tensor, settings: dict, views: np.ndarray, seed: int,
                        decoder: MeshDecoder | None = None, device="cpu", progress: bool = True) -> tuple[ImageEncoder, list]:
    """Train the encoder on renderings of the training shapes.

    Args:
        views: the trajectory views to train on; every epoch visits each (shape, view) once, on a background
            drawn from the bank.
        settings: ``width``, ``resolution``, ``epochs``, ``batch``, ``lr``, ``loss``: ``chamfer`` (PMO's:
            the symmetric Chamfer loss between the points ``decoder`` makes of the predicted code from
            ``points_per_patch`` random template points and ``target_points`` surface samples of the shape,
            both as the decoder was trained; the decoder is frozen) or ``code`` (mean squared error to the
            shape's auto-decoder code).
        decoder: the trained decoder (``chamfer``).
    Returns:
        the encoder (eval mode) and the mean loss of every epoch.
    """
    torch.manual_seed(seed)
    generator = np.random.default_rng(seed + 1)
    torch_generator = torch.Generator().manual_seed(seed + 1)
    encoder = ImageEncoder(codes.shape[1], settings["width"], settings["resolution"]).to(device)
    optimizer = torch.optim.Adam(encoder.parameters(), lr=settings["lr"])
    shapes, chosen = np.meshgrid(np.arange(len(data.instances)), np.asarray(views), indexing="ij")
    shapes, chosen = shapes.reshape(-1), chosen.reshape(-1)
    targets = codes.detach().to(device)
    clouds = [torch.as_tensor(np.asarray(c), dtype=torch.float32) for c in data.clouds]
    if settings["loss"] == "chamfer":
        if decoder is None:
            raise ValueError("the encoder's chamfer loss needs the trained decoder")
        for p in decoder.parameters():
            p.requires_grad_(False)
    elif settings["loss"] != "code":
        raise ValueError(f"table3.pmo.encoder.loss must be 'chamfer' or 'code', got {settings['loss']!r}")
    history = []
    bar = tqdm(range(settings["epochs"]), desc="PMO image encoder", disable=not progress, mininterval=2)
    for _ in bar:
        encoder.train()
        order = generator.permutation(len(shapes))
        total = 0.0
        for start in range(0, len(order), settings["batch"]):
            batch = order[start:start + settings["batch"]]
            backgrounds = generator.integers(0, len(data.backgrounds), len(batch))
            images = data.images(shapes[batch], chosen[batch], backgrounds).to(device)
            optimizer.zero_grad()
            predicted = encoder(images)
            if settings["loss"] == "chamfer":
                points = torch.stack([clouds[i][generator.integers(0, len(clouds[i]), settings["target_points"])]
                                      for i in shapes[batch]]).to(device)
                template = decoder.sample_template(settings["points_per_patch"], torch_generator).to(device)
                loss = chamfer_loss(decoder(predicted, template), points)
            else:
                loss = (predicted - targets[torch.as_tensor(shapes[batch], device=device)]).pow(2).mean()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
        history.append(total / len(shapes))
        bar.set_postfix(loss=f"{history[-1]:.5f}", refresh=False)
    if decoder is not None:
        for p in decoder.parameters():
            p.requires_grad_(True)
    return encoder.eval(), history


def _chamfer_x1000(decoder: MeshDecoder, code: torch.Tensor, data: TrainingSet, shape: int, gt: np.ndarray,
                   seed: int) -> float:
    """DeepSDF's Chamfer x1000 (mesh frame) of the decoded mesh of ``code`` against ``gt`` (mesh frame)."""
    with torch.no_grad():
        vertices = decoder(code).cpu().double().numpy()
    norm = data.normalizations[shape]
    return metrics.TABLE_SCALE * metrics.chamfer_deepsdf(gt, vertices, decoder.faces.cpu().numpy(), norm.offset,
                                                         norm.scale, seed=seed)


def network_quality(model: PMOModel, data: TrainingSet, views: np.ndarray, seed: int, shapes: int = 8) -> dict:
    """The networks' own quality on the first ``shapes`` training shapes.

    Returns:
        ``decoder_train_chamfer_x1000``: median over shapes of DeepSDF's Chamfer x1000 (mesh frame, 30,000
        points) between the decoded mesh of the shape's learnt code and its surface;
        ``encoder_relative_code_error``: on the held-out ``views`` (background 0), mean squared error of the
        predicted code over the variance of the training codes (0: exact, 1: no better than their mean);
        ``encoder_heldout_chamfer_x1000``: median over shapes and held-out views of the Chamfer of the mesh
        decoded from the predicted code; plus the counts.
    """
    count = min(shapes, len(data.instances))
    gt = [np.asarray(data.meshes[s].sample(30000, seed=derive_seed(seed, "pmo", data.instances[s], "gt")))
          for s in range(count)]
    decoded = [_chamfer_x1000(model.decoder, model.codes[s], data, s, gt[s], seed) for s in range(count)]
    s_index, v_index = np.meshgrid(np.arange(count), np.asarray(views), indexing="ij")
    s_index, v_index = s_index.reshape(-1), v_index.reshape(-1)
    with torch.no_grad():
        predicted = model.encoder(data.images(s_index, v_index, np.zeros(len(s_index), dtype=int)))
    target = model.codes[torch.as_tensor(s_index)]
    spread = (model.codes - model.codes.mean(dim=0)).pow(2).sum(dim=1).mean()
    relative = float((predicted - target).pow(2).sum(dim=1).mean() / spread)
    encoded = [_chamfer_x1000(model.decoder, predicted[k], data, int(s), gt[int(s)], seed)
               for k, s in enumerate(s_index)]
    return {"decoder_train_chamfer_x1000": float(np.median(decoded)), "encoder_relative_code_error": relative,
            "encoder_heldout_chamfer_x1000": float(np.median(encoded)), "shapes": count,
            "heldout_views": [int(v) for v in views]}


def train_pmo(category: str, instances: list, shapenet_root, deepsdf_dir, dataset: str, cameras: list,
              settings: dict, seed: int, device="cpu", progress: bool = True) -> PMOModel:
    """Train the decoder (Chamfer, auto-decoder codes), then the encoder (code regression), of one category,
    and measure them (:func:`network_quality`).

    Args:
        cameras: the sequence trajectory on the mesh frame at the test images' resolution.
        settings: config ``table3.pmo`` (``train_points``, ``backgrounds``, ``heldout_every``, ``decoder``,
            ``encoder``).
    """
    start = time.perf_counter()
    data = training_set(category, instances, shapenet_root, deepsdf_dir, dataset, cameras, settings["train_points"],
                        settings["encoder"]["resolution"], settings["backgrounds"], seed, progress)
    data_seconds = time.perf_counter() - start
    decoder, codes, decoder_loss = train_mesh_decoder(data.clouds, settings["decoder"], seed, device, progress)
    decoder_seconds = time.perf_counter() - start - data_seconds
    held_out = held_out_views(len(cameras), settings["heldout_every"])
    training_views = np.setdiff1d(np.arange(len(cameras)), held_out)
    sampling = {k: settings["decoder"][k] for k in ("points_per_patch", "target_points")}
    encoder, encoder_loss = train_image_encoder(data, codes, {**settings["encoder"], **sampling}, training_views, seed,
                                                decoder, device, progress)
    training_seconds = time.perf_counter() - start
    model = PMOModel(decoder.cpu(), encoder.cpu(), codes.cpu(), {})
    model.specs = {"category": category, "decoder": settings["decoder"], "encoder": settings["encoder"],
                   "train_instances": len(instances), "train_views": len(training_views),
                   "image_resolution": cameras[0].width, "background": "environment", "seed": seed,
                   "decoder_loss": decoder_loss, "encoder_loss": encoder_loss, "data_seconds": data_seconds,
                   "decoder_seconds": decoder_seconds, "training_seconds": training_seconds,
                   "quality": network_quality(model, data, held_out, seed)}
    return model
