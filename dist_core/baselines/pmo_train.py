"""Training of the PMO baseline on the priors' train split (embedded data): surface samples for the AtlasNet
decoder, colour renderings of the same shapes from the sequence trajectory (on the same kind of background
as the test sequences) for the image encoder. Real-data users ship PMO weights instead (``table3.pmo.source``).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from ..data import deepsdf, shapenet
from ..data.embedded import load_synthetic_shape, render_colour_views
from ..data.inputs import MultiViewInput
from ..data.preprocess import sample_surface
from ..data.seeding import derived_rng, derive_seed
from ..data.views import prepare_views
from .pmo import PMOModel, train_image_encoder, train_mesh_decoder

__all__ = ["training_set", "train_pmo"]


def training_set(category: str, instances: list, shapenet_root, deepsdf_dir, dataset: str, cameras: list,
                 points: int, resolution: int, background: str, seed: int):
    """Surface points (per shape), images (K, r, r, 3) and their shape index (K,) of the training shapes."""
    synset = shapenet.synset_of(category)
    clouds, images, index = [], [], []
    for k, instance in enumerate(instances):
        norm = deepsdf.read_normalization(deepsdf.normalization_path(deepsdf_dir, dataset, synset, instance))
        shape = load_synthetic_shape(shapenet_root, synset, instance)
        mesh = shapenet.normalized_mesh(shape.mesh, norm)
        clouds.append(sample_surface(mesh, points, derived_rng(seed, category, instance, "pmo_train_points"))[0])
        colour, masks = render_colour_views(shape, norm, cameras)
        data = MultiViewInput(colour, masks, cameras, clouds[-1])
        views, _ = prepare_views(data, resolution, background, derive_seed(seed, category, instance, "table3_background"))
        images.append(views)
        index += [k] * len(views)
    return clouds, np.concatenate(images), np.asarray(index)


def train_pmo(category: str, instances: list, shapenet_root, deepsdf_dir, dataset: str, cameras: list,
              settings: dict, resolution: int, background: str, seed: int, device="cpu", progress: bool = True) -> PMOModel:
    """Train the decoder (Chamfer, auto-decoder codes) then the encoder (code regression) of one category.

    Args:
        settings: config ``table3.pmo`` (``decoder``, ``encoder``, ``train_points``).
    """
    start = time.perf_counter()
    clouds, images, index = training_set(category, instances, shapenet_root, deepsdf_dir, dataset, cameras,
                                         settings["train_points"], resolution, background, seed)
    data_seconds = time.perf_counter() - start
    decoder, codes, decoder_loss = train_mesh_decoder(clouds, settings["decoder"], seed, device, progress)
    encoder, encoder_loss = train_image_encoder(images, index, codes, settings["encoder"], seed, device, progress)
    specs = {"category": category, "decoder": settings["decoder"], "encoder": settings["encoder"],
             "train_instances": len(instances), "train_images": int(len(images)), "image_resolution": resolution,
             "background": background, "seed": seed, "decoder_loss": decoder_loss, "encoder_loss": encoder_loss,
             "data_seconds": data_seconds, "training_seconds": time.perf_counter() - start}
    return PMOModel(decoder.cpu(), encoder.cpu(), codes.cpu(), specs)
