"""Paper Fig. 5 on one instance: loss and Chamfer along the renderer-based optimisation."""

import json
import logging

from dist_core import io
from dist_core.runtime import setup
from dist_core.experiments.table2 import Table2Options, curve_figure, load_instance, load_prior, loss_chamfer_curve

device = setup(snakemake.threads, snakemake.log[0], snakemake.params.device)
log = logging.getLogger("table2_curve")
curve = json.loads(snakemake.params.curve)
options = Table2Options.from_config(json.loads(snakemake.params.table2), json.loads(snakemake.params.renderer))
decoder, mean_latent = load_prior(snakemake.params.prior_dir, device)
view, gt_points, normalization = load_instance(snakemake.input.view, snakemake.params.deepsdf_dir, snakemake.params.dataset)
frame = loss_chamfer_curve(decoder, mean_latent, view, curve["setting"], curve["method"], gt_points, normalization,
                           options, curve["every"], curve["mesh_resolution"], snakemake.params.seed, progress=True)
with io.atomic_path(snakemake.output.csv) as tmp:
    frame.to_csv(tmp, index=False)
curve_figure(snakemake.output.figure, frame, f"{curve['category']} {view.attrs['instance'][:8]}, {curve['setting']}, "
                                             f"{curve['method']}")
log.info("curve: %d iterations, Chamfer x1000 %s", len(frame), frame.chamfer_x1000.dropna().round(3).tolist())
