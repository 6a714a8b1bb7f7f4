"""The oracle-gap diagnostic (dist_core.experiments.oracle_gap) on one validation shape with the shipped sofa
prior, at sizes that run in seconds: its ``fit`` code is the table's schedule, its losses are the fit's."""

from pathlib import Path

import pytest
import yaml

from dist_core.experiments.oracle_gap import CODES, oracle_gap, summarize
from dist_core.experiments.table2 import Table2Options, _renderer_target, load_prior
from dist_core.experiments.table2_sizing import _merge, load_views, validation_views
from dist_core.fit import depth_fit_loss, fit_latents_to_depth

ROOT = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("single_thread")


def test_oracle_gap_scores_every_code_and_its_fit_is_the_tables_schedule(tmp_path):
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    table2 = _merge(config["table2"], {"ours": {"iterations": 3}, "mesh_resolution": 32, "chamfer_samples": 2000,
                                       "deepsdf": {"iterations": 6, "samples_per_step": 500}})
    single_view = {**config["data"]["single_view"], "resolution": 32, "sparse": ["dense", "20pts"]}
    shapes = validation_views(tmp_path, "sofa", 0, 1, surface_samples=2000, sdf_samples=4000)
    prior_dir = ROOT / "resources" / "priors" / "sofa"
    rows = oracle_gap("sofa", shapes, table2, config["renderer"], single_view, ["dense", "20pts"], ["ours_mask"],
                      long_factor=2, seed=0, prior_dir=prior_dir)
    assert [(r["setting"], r["code"]) for r in rows] == [(s, c) for s in ("dense", "20pts") for c in CODES]
    assert all(r["chamfer_normalized_x1000"] > 0 for r in rows)

    # The `fit` row is the code after the table's 3 iterations from the mean (not after 2 or 4): the same loss.
    decoder, mean = load_prior(prior_dir)
    options = Table2Options.from_config(table2, config["renderer"])
    view = load_views("sofa", shapes, single_view, 0)[0][0]
    target = _renderer_target(view, "20pts", "ours_mask", False)
    alone = fit_latents_to_depth(decoder, [target], mean, options.fit_options())[0]
    expected = depth_fit_loss(decoder, target, alone.latent, options.fit_options())["loss"]
    fit_row = next(r for r in rows if r["setting"] == "20pts" and r["code"] == "fit")
    assert fit_row["loss"] == pytest.approx(expected, rel=1e-4)
    no_l2 = next(r for r in rows if r["setting"] == "20pts" and r["code"] == "no_l2")
    assert no_l2["loss"] != pytest.approx(fit_row["loss"], rel=1e-6)

    summary = summarize(rows)
    assert [(s["setting"], s["shapes"]) for s in summary] == [("dense", 1), ("20pts", 1)]
    assert all(0.0 <= s["oracle_loss_lower"] <= 1.0 and s["median_ratio_fit_to_oracle"] > 0 for s in summary)
