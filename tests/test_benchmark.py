"""dist_core.benchmark helpers that Table 1 relies on."""

import torch

from dist_core import benchmark
from dist_core.decoder import Decoder


def test_geometric_init_starts_every_code_as_a_sphere_sdf():
    torch.manual_seed(0)
    # DeepSDF's architecture, as Table 1 uses it.
    decoder = benchmark.geometric_init_(Decoder(256, [512] * 8, norm_layers=range(8), latent_in=(4,), weight_norm=True),
                                        radius=0.5)
    directions = torch.nn.functional.normalize(torch.randn(400, 3), dim=1)
    with torch.no_grad():
        for latent in (torch.zeros(256), torch.randn(256)):
            means = [decoder(latent, directions * r).mean().item() for r in (0.2, 0.5, 0.8)]
            # Inside negative, the sphere near zero, outside positive: a field the tracer can hit.
            assert means[0] < -0.2 and abs(means[1]) < 0.1 and means[2] > 0.15, means
