"""Paper Fig. 5 on one instance: loss and Chamfer along the renderer-based optimisation, and their
correlation (loss_chamfer.csv, loss_chamfer_correlation.csv, loss_chamfer.png)."""

import json
import logging

import pandas as pd

from dist_core import io
from dist_core.data.errors import SkippedInstance
from dist_core.experiments.table2 import Table2Options, load_instance, load_prior
from dist_core.experiments.table2_figures import curve_correlation, curve_figure, loss_chamfer_curve
from dist_core.runtime import setup


def main():
    device = setup(snakemake.threads, snakemake.log[0], snakemake.params.device)
    log = logging.getLogger("table2_curve")
    curve = json.loads(snakemake.params.curve)
    options = Table2Options.from_config(json.loads(snakemake.params.table2), json.loads(snakemake.params.renderer))
    try:
        view, gt_points, normalization = load_instance(snakemake.input.view, snakemake.params.deepsdf_dir,
                                                       snakemake.params.dataset)
    except SkippedInstance as skipped:
        raise SystemExit(f"table2.curve: instance {curve['instance']} of {curve['category']} was skipped by the data "
                         f"stage ({skipped.reason}); set table2.curve.instance to another one") from skipped
    decoder, mean_latent = load_prior(snakemake.params.prior_dir, device)
    frame = loss_chamfer_curve(decoder, mean_latent, view, curve["setting"], curve["method"], gt_points, normalization,
                               options, curve["every"], curve["mesh_resolution"], snakemake.params.seed,
                               overrides=curve.get("ours"), progress=True)
    rows = [{"category": curve["category"], "instance": view.attrs["instance"], "setting": curve["setting"],
             "method": curve["method"], "frame": name, **curve_correlation(frame, f"chamfer_{name}_x1000")}
            for name in ("normalized", "mesh")]
    with io.atomic_path(snakemake.output.csv) as tmp:
        frame.to_csv(tmp, index=False)
    with io.atomic_path(snakemake.output.correlation) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
    curve_figure(snakemake.output.figure, frame, f"{curve['category']} {view.attrs['instance'][:8]}, "
                                                 f"{curve['setting']}, {curve['method']}")
    log.info("curve: %d iterations, Chamfer x1000 %s; loss vs Chamfer (normalised): Pearson %.3f, Spearman %.3f",
             len(frame), frame.chamfer_normalized_x1000.dropna().round(3).tolist(), rows[0]["pearson_r"],
             rows[0]["spearman_rho"])


main()
