"""Priors load as DeepSDF leaves them: official experiment folders without MeanLatent.pth, non-finite values
reported with the file, and a description of the prior for the tables' notes."""

import logging

import pytest
import torch

from dist_core.decoder import Decoder, load_experiment, save_experiment
from dist_core.prior import (MEAN_LATENT_FILE, describe_prior, format_prior, load_mean_latent, load_prior,
                             mean_latent_source)
from realdata_tree import official_specs, write_official_experiment


@pytest.fixture
def official(tmp_path):
    """``examples/sofas`` as DeepSDF's training leaves it, at a test size."""
    specs = official_specs(6, [16, 16, 16, 16], "sofa")
    torch.manual_seed(0)
    decoder = Decoder.from_specs(specs)
    codes = torch.randn(5, 6) * 0.1
    return write_official_experiment(tmp_path / "examples" / "sofas", specs, decoder.state_dict(), codes), decoder, codes


def test_official_experiment_without_mean_latent_starts_from_the_mean_of_its_codes(official, caplog):
    folder, reference, codes = official
    assert not (folder / MEAN_LATENT_FILE).exists()
    with caplog.at_level(logging.INFO, logger="dist_core.prior"):
        decoder, mean = load_prior(folder)
    assert torch.allclose(mean, codes.mean(dim=0))
    assert "no MeanLatent.pth, mean latent computed from the 5 training codes" in caplog.text
    assert not decoder.training and not any(p.requires_grad for p in decoder.parameters())
    points = torch.rand(50, 3) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(decoder(mean, points), reference.eval()(mean, points), atol=1e-6)


def test_mean_latent_file_wins_over_the_codes_and_the_log_says_so(official, caplog):
    folder, _, _ = official
    torch.save({"epoch": 2000, "mean_latent": torch.full((6,), 0.5)}, folder / MEAN_LATENT_FILE)
    assert mean_latent_source(folder) == MEAN_LATENT_FILE
    with caplog.at_level(logging.INFO, logger="dist_core.prior"):
        assert torch.equal(load_mean_latent(folder), torch.full((6,), 0.5))
    assert f"mean latent from {MEAN_LATENT_FILE}" in caplog.text


@pytest.mark.parametrize("broken", ["codes", "mean", "parameters"])
def test_a_nan_or_inf_in_a_prior_is_reported_at_load_naming_the_file(official, broken):
    folder, decoder, codes = official
    if broken == "codes":
        codes = codes.clone()
        codes[3, 1] = float("nan")
        write_official_experiment(folder, official_specs(6, [16] * 4, "sofa"), decoder.state_dict(), codes)
        file, load = "LatentCodes/latest.pth", load_mean_latent
    elif broken == "mean":
        torch.save({"epoch": 1, "mean_latent": torch.tensor([0.0, float("inf"), 0, 0, 0, 0])}, folder / MEAN_LATENT_FILE)
        file, load = MEAN_LATENT_FILE, load_mean_latent
    else:
        state = decoder.state_dict()
        state["lin2.bias"] = state["lin2.bias"].clone().fill_(float("nan"))
        write_official_experiment(folder, official_specs(6, [16] * 4, "sofa"), state, codes)
        file, load = "ModelParameters/latest.pth", load_experiment
    with pytest.raises(RuntimeError, match=f"{folder / file}: .*NaN or infinite.*retrain"):
        load(folder)


def test_describe_prior_names_the_folder_the_network_and_the_mean_latent(official, tmp_path):
    folder, decoder, _ = official
    description = describe_prior(folder)
    assert description["path"] == str(folder.resolve())
    assert description["network"] == "4 x 16" and description["dims"] == [16, 16, 16, 16]
    assert description["latent_size"] == 6 and description["training_codes"] == 5 and description["epoch"] == 2000
    assert description["parameters"] == sum(p.numel() for p in decoder.parameters())
    assert description["mean_latent"] == "LatentCodes/latest.pth"
    assert description["description"].startswith("This experiment learns a shape representation for sofas")
    assert format_prior(description) == f"{folder.resolve()}: 4 x 16, latent 6, epoch 2000, mean latent of 5 training codes"
    specs = {"CodeLength": 3, "NetworkSpecs": {"dims": [8, 12]}}
    ours = save_experiment(tmp_path / "ours", Decoder.from_specs(specs), specs, epoch=7)
    torch.save({"epoch": 7, "mean_latent": torch.zeros(3)}, ours / MEAN_LATENT_FILE)
    mine = describe_prior(ours)
    assert mine["network"] == "8 / 12" and mine["training_codes"] is None and mine["epoch"] == 7
    assert format_prior(mine).endswith("epoch 7, mean latent from MeanLatent.pth")
