"""The DeepSDF decoder against an independent re-statement of DeepSDF's network, and the experiment layout."""

import json

import pytest
import torch
from torch import nn

from dist_core import Decoder, load_experiment, save_experiment

# DeepSDF's examples/*/specs.json network, at a test-sized width.
SPECS = {
    "CodeLength": 16,
    "NetworkSpecs": {
        "dims": [32, 32, 32, 32, 32, 32, 32, 32],
        "dropout": [0, 1, 2, 3, 4, 5, 6, 7],
        "dropout_prob": 0.2,
        "norm_layers": [0, 1, 2, 3, 4, 5, 6, 7],
        "latent_in": [4],
        "xyz_in_all": False,
        "use_tanh": False,
        "latent_dropout": False,
        "weight_norm": True,
    },
}


class ReferenceDeepSDF(nn.Module):
    """DeepSDF's decoder written from its description (8 layers, torch's own weight_norm, latent
    re-injected at layer 4, ReLU, final tanh), in eval mode; used only to check ours."""

    def __init__(self, latent, width=32, latent_in=4, layers=8):
        super().__init__()
        dims = [latent + 3] + [width] * layers + [1]
        self.latent_in = latent_in
        for i in range(len(dims) - 1):
            out = dims[i + 1] - dims[0] if i + 1 == latent_in else dims[i + 1]
            linear = nn.Linear(dims[i], out)
            # DeepSDF normalises the hidden layers (norm_layers 0..7), not the output layer.
            setattr(self, f"lin{i}", nn.utils.weight_norm(linear) if i < layers else linear)
        self.n = len(dims) - 1

    def forward(self, inputs):
        x = inputs
        for i in range(self.n):
            if i == self.latent_in:
                x = torch.cat([x, inputs], 1)
            x = getattr(self, f"lin{i}")(x)
            if i < self.n - 1:
                x = torch.relu(x)
        return torch.tanh(x)


@pytest.fixture
def reference():
    torch.manual_seed(3)
    with pytest.warns(FutureWarning):
        ref = ReferenceDeepSDF(16).eval()
    # Non-trivial gains so that weight_g matters.
    with torch.no_grad():
        for name, p in ref.named_parameters():
            if name.endswith("weight_g"):
                p.mul_(torch.rand_like(p) + 0.5)
    return ref


def write_official_experiment(path, ref, codes):
    (path / "ModelParameters").mkdir(parents=True)
    (path / "LatentCodes").mkdir()
    (path / "specs.json").write_text(json.dumps(SPECS))
    state = {f"module.{k}": v for k, v in ref.state_dict().items()}  # as saved from DataParallel
    torch.save({"epoch": 2000, "model_state_dict": state}, path / "ModelParameters" / "latest.pth")
    torch.save({"epoch": 2000, "latent_codes": {"weight": codes}}, path / "LatentCodes" / "latest.pth")


def test_official_experiment_loads_and_matches_deepsdf(tmp_path, reference):
    codes = torch.randn(5, 16) * 0.1
    write_official_experiment(tmp_path, reference, codes)
    decoder, latent_codes, specs = load_experiment(tmp_path)
    assert torch.equal(latent_codes, codes) and specs["CodeLength"] == 16
    assert not decoder.training
    points = torch.rand(1000, 3) * 2 - 1
    with torch.no_grad():
        expected = reference(torch.cat([codes[2].expand(1000, -1), points], 1)).squeeze(1)
        shared = decoder(codes[2], points)
        per_point = decoder(codes[2].expand(1000, -1), points)
    assert torch.allclose(per_point, expected, atol=1e-6)
    assert torch.allclose(shared, expected, atol=1e-6)


def test_shared_latent_gradient_equals_concatenated_path():
    decoder = Decoder.from_specs(SPECS).eval()
    z = torch.randn(16, requires_grad=True)
    points = torch.rand(200, 3)
    decoder(z, points).sum().backward()
    folded = z.grad.clone()
    z.grad = None
    decoder(z.expand(200, -1), points).sum().backward()
    assert torch.allclose(folded, z.grad, atol=1e-5)


def test_xyz_in_all_and_layer_norm_variants_agree_between_paths():
    decoder = Decoder(8, [24, 24, 24, 24], norm_layers=[0, 1, 2], latent_in=[2], xyz_in_all=True).eval()
    z, points = torch.randn(8), torch.rand(50, 3)
    with torch.no_grad():
        assert torch.allclose(decoder(z, points), decoder(z.expand(50, -1), points), atol=1e-6)


def test_saved_experiment_reloads_bit_identically(tmp_path):
    decoder = Decoder.from_specs(SPECS)
    codes = torch.randn(3, 16)
    save_experiment(tmp_path / "exp", decoder, SPECS, latent_codes=codes, epoch=7)
    loaded, loaded_codes, specs = load_experiment(tmp_path / "exp")
    for (k, a), (k2, b) in zip(decoder.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    assert torch.equal(codes, loaded_codes) and specs == SPECS
    assert torch.load(tmp_path / "exp" / "ModelParameters" / "latest.pth")["epoch"] == 7


def test_missing_and_mismatched_experiments_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="specs.json"):
        load_experiment(tmp_path)
    save_experiment(tmp_path, Decoder.from_specs(SPECS), SPECS)
    with pytest.raises(FileNotFoundError, match="checkpoints in this experiment: \\['latest'\\]"):
        load_experiment(tmp_path, checkpoint="1000")
    other = dict(SPECS, CodeLength=8)
    (tmp_path / "specs.json").write_text(json.dumps(other))
    with pytest.raises((RuntimeError, ValueError), match="latest.pth"):
        load_experiment(tmp_path)


def test_per_code_fold_matches_per_point_codes_and_their_gradients():
    """decoder(codes, points, code_index=i) is decoder(codes[i], points), each code folded once per call."""
    torch.manual_seed(1)
    decoder = Decoder.from_specs(SPECS).eval()
    codes = torch.randn(3, 16, requires_grad=True)
    points = torch.rand(120, 3) * 2 - 1
    index = torch.randint(0, 3, (120,))
    folded = decoder(codes, points, code_index=index)
    gathered = decoder(codes[index], points)
    assert torch.allclose(folded, gathered, atol=1e-6)
    (grad_folded,) = torch.autograd.grad(folded.square().sum(), codes)
    (grad_gathered,) = torch.autograd.grad(gathered.square().sum(), codes)
    assert torch.allclose(grad_folded, grad_gathered, atol=1e-5)
    # Training with latent dropout still concatenates (the dropout acts on the code columns).
    dropout = Decoder(16, [32, 32], latent_in=[1], latent_dropout=True).train()
    torch.manual_seed(2)
    a = dropout(codes, points, code_index=index)
    torch.manual_seed(2)
    b = dropout(codes[index], points)
    assert torch.equal(a, b)
