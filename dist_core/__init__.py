"""dist: differentiable sphere tracing of deep implicit signed distance functions (DIST, CVPR 2020).

``dist_core.render(decoder, latent, camera)`` renders depth, normals and silhouette of a DeepSDF decoder
(or any SDF with the call ``sdf(latent, points) -> (N,)``) with gradients to the latent code and the
camera pose; ``render(decoder, codes (B, D), [camera, ...])`` renders a batch of images in one trace. The
modules below hold the parts (camera, tracer, decoder, analytic SDFs); ``python -m dist_core render`` renders
a DeepSDF experiment from the command line.
"""

from .camera import Camera, RayBundle
from .decoder import Decoder, load_experiment, save_experiment
from .render import Rendering, render
from .sdf import Box, Sphere, Torus, Union
from .tracer import Trace, TracerOptions, sphere_trace

__all__ = [
    "Camera",
    "RayBundle",
    "Decoder",
    "load_experiment",
    "save_experiment",
    "Rendering",
    "render",
    "Sphere",
    "Box",
    "Torus",
    "Union",
    "Trace",
    "TracerOptions",
    "sphere_trace",
]
