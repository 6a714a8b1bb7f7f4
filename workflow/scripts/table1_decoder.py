"""Fit a decoder of DeepSDF's architecture to the procedural chair (the Table 1 decoder scene)."""

import json
from pathlib import Path

import torch
from tqdm import tqdm

from dist_core.experiments.table1 import fit_decoder_to_sdf, geometric_init_, procedural_chair
from dist_core.decoder import Decoder, save_experiment
from dist_core.runtime import setup

spec = json.loads(snakemake.params.settings)  # the fit keys of table1.decoder
device = setup(snakemake.threads, snakemake.log[0], snakemake.params.device)
specs = {
    "Description": "Table 1 benchmark decoder: DeepSDF's architecture fitted to dist_core.experiments.table1.procedural_chair "
                   "from a geometric initialisation",
    "CodeLength": spec["latent_size"],
    "NetworkSpecs": {"dims": spec["dims"], "dropout": None, "dropout_prob": 0.0,
                     "norm_layers": list(range(len(spec["dims"]))), "latent_in": [len(spec["dims"]) // 2],
                     "xyz_in_all": False, "use_tanh": False, "latent_dropout": False, "weight_norm": True},
}
torch.manual_seed(snakemake.params.seed)
decoder = geometric_init_(Decoder.from_specs(specs)).to(device)
latent = (torch.randn(spec["latent_size"]) * 0.01).to(device)
losses = fit_decoder_to_sdf(decoder, procedural_chair(), latent, spec["fit_iterations"], batch=spec["fit_batch"],
                            lr=spec["fit_lr"],
                            seed=snakemake.params.seed, progress=lambda it: tqdm(it, desc="fit decoder", mininterval=5))
out = Path(snakemake.output.specs).parent
save_experiment(out, decoder.cpu(), specs, latent_codes=latent.cpu()[None], epoch=len(losses))
(out / "loss.json").write_text(json.dumps(losses))
