"""The multi-view optimisation's images: backgrounds under the masks, the focal crop, the resize."""

import math

import numpy as np
import pytest
import torch

from dist_core import Camera
from dist_core.data.inputs import MultiViewInput
from dist_core.data.views import environment_background, prepare_views


def _cameras(count=3, size=16):
    return [Camera.look_at((2.0 * math.sin(a), 0.3, -2.0 * math.cos(a)), width=size, up=(0.0, 1.0, 0.0))
            for a in np.linspace(0.0, 1.0, count)]


def test_environment_background_depends_on_the_viewing_direction_only():
    a = Camera.look_at((0.0, 0.0, -2.0), width=12, up=(0.0, 1.0, 0.0))
    b = Camera(a.K, a.R, a.t + torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64), 12, 12)  # moved, same rotation
    first, moved = environment_background([a, b], seed=5)
    assert np.allclose(first, moved) and first.std() > 0.05
    assert not np.allclose(first, environment_background([a], seed=6)[0])


def test_prepare_views_composites_background_and_keeps_cameras_consistent():
    cameras = _cameras(size=32)
    masks = np.zeros((3, 32, 32), dtype=bool)
    masks[:, 8:24, 8:24] = True
    images = np.where(masks[..., None], 0.7, 0.0).astype(np.float32)
    data = MultiViewInput(images, masks, cameras, np.zeros((1, 3)))
    views, small = prepare_views(data, 16, "environment", seed=1)
    assert views.shape == (3, 16, 16, 3)
    assert np.allclose(views[:, 5:11, 5:11], 0.7) and views[:, :3, :3].std() > 0.0
    point = torch.tensor([[0.1, -0.2, 0.05]], dtype=torch.float64)
    full, _ = cameras[1].project(point)
    half, _ = small[1].project(point)
    assert torch.allclose(half, full / 2, atol=1e-9)
    same, _ = prepare_views(data, 32, "none", seed=1)
    assert np.array_equal(same, images)
    # A longer focal length (Fig. 10a): the central half, magnified.
    cropped, zoomed = prepare_views(data, 32, "none", seed=1, focal_scale=2.0)
    assert np.allclose(cropped, 0.7)
    assert float(zoomed[0].K[0, 0]) == pytest.approx(2 * float(cameras[0].K[0, 0]))
    with pytest.raises(ValueError, match="background"):
        prepare_views(data, 16, "sky", seed=1)


def test_prepare_views_keeps_the_chosen_frames_with_their_own_backgrounds():
    cameras = _cameras(count=4, size=16)
    masks = np.zeros((4, 16, 16), dtype=bool)
    masks[:, 4:12, 4:12] = True
    images = np.where(masks[..., None], np.arange(4, dtype=np.float32)[:, None, None, None] / 4, 0.0)
    data = MultiViewInput(images.astype(np.float32), masks, cameras, np.zeros((1, 3)))
    every, _ = prepare_views(data, 16, "environment", seed=3)
    some, chosen = prepare_views(data, 16, "environment", seed=3, frames=[1, 3])
    assert some.shape == (2, 16, 16, 3) and np.array_equal(some, every[[1, 3]])
    assert torch.equal(chosen[1].R, cameras[3].R)
    with pytest.raises(ValueError, match="4-frame sequence"):
        prepare_views(data, 16, "none", seed=3, frames=[2, 4])
