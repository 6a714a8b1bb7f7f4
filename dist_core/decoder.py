"""The DeepSDF decoder, and DeepSDF's experiment folder layout.

:class:`Decoder` is the network of DeepSDF's ``networks/deep_sdf_decoder.py`` with every option of its
``specs.json`` (``dims``, ``dropout``, ``dropout_prob``, ``norm_layers``, ``latent_in``, ``weight_norm``,
``xyz_in_all``, ``use_tanh``, ``latent_dropout``), the same parameter names (``lin<i>.weight``,
``lin<i>.weight_g`` / ``weight_v`` under weight norm, ``bn<i>`` layer norms) and the same arithmetic, so
official checkpoints load unchanged. The input layout is ``[latent, xyz]`` and a final ``tanh`` is always
applied, as in DeepSDF.

It is called like every SDF in dist, ``decoder(latent, points) -> sdf (N,)``. When ``latent`` is a single
code (D,), its contribution to the first layer and to the ``latent_in`` layers is the same for every
point, so it is folded into those layers' biases once per call: the same result as DeepSDF's
concatenation, with ``latent_size`` fewer multiply-adds per row and layer (about 15 % of the 8 x 512
network's cost), and still differentiable in the latent. The batched renderer calls
``decoder(codes, points, code_index=index)`` with B codes (B, D) and each point's code row (N,): each
code's contribution is folded once per call into a (B, width) bias that is gathered per point, so a batch
of B images costs what its points cost, not B concatenations of the latent.

Experiment folders (DeepSDF's ``deep_sdf/workspace.py`` names): ``specs.json``,
``ModelParameters/<checkpoint>.pth`` = ``{"epoch", "model_state_dict"}`` (keys may carry ``module.`` from
``DataParallel``), ``LatentCodes/<checkpoint>.pth`` = ``{"epoch", "latent_codes": {"weight": (n, D)}}``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Decoder", "load_experiment", "save_experiment", "require_finite", "SPECS_FILE", "MODEL_PARAMS_DIR",
           "LATENT_CODES_DIR"]

SPECS_FILE = "specs.json"
MODEL_PARAMS_DIR = "ModelParameters"
LATENT_CODES_DIR = "LatentCodes"


class WeightNormLinear(nn.Module):
    """``nn.Linear`` under weight normalisation, stored as DeepSDF stores it (``weight_g``, ``weight_v``).

    ``weight = weight_g * weight_v / ||weight_v||`` with one norm per output row, as
    ``torch.nn.utils.weight_norm(nn.Linear(...))`` computes it (dim 0).
    """

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        linear = nn.Linear(in_features, out_features)
        self.weight_v = nn.Parameter(linear.weight.detach().clone())
        self.weight_g = nn.Parameter(linear.weight.detach().norm(dim=1, keepdim=True))
        self.bias = nn.Parameter(linear.bias.detach().clone())

    @property
    def weight(self) -> torch.Tensor:
        return torch._weight_norm(self.weight_v, self.weight_g, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


class Decoder(nn.Module):
    """DeepSDF's auto-decoder MLP; arguments as in DeepSDF's ``NetworkSpecs``."""

    takes_code_index = True

    def __init__(
        self,
        latent_size: int,
        dims,
        dropout=None,
        dropout_prob: float = 0.0,
        norm_layers=(),
        latent_in=(),
        weight_norm: bool = False,
        xyz_in_all: bool = False,
        use_tanh: bool = False,
        latent_dropout: bool = False,
    ):
        super().__init__()
        self.latent_size = int(latent_size)
        dims = [self.latent_size + 3] + list(dims) + [1]
        self.num_layers = len(dims)
        self.norm_layers = tuple(norm_layers or ())
        self.latent_in = tuple(latent_in or ())
        self.dropout = tuple(dropout) if dropout is not None else None
        self.dropout_prob = float(dropout_prob)
        self.weight_norm = bool(weight_norm)
        self.xyz_in_all = bool(xyz_in_all)
        self.use_tanh = bool(use_tanh)
        self.latent_dropout = bool(latent_dropout)
        for layer in range(self.num_layers - 1):
            if layer + 1 in self.latent_in:
                out_dim = dims[layer + 1] - dims[0]
            else:
                out_dim = dims[layer + 1]
                if self.xyz_in_all and layer != self.num_layers - 2:
                    out_dim -= 3
            if self.weight_norm and layer in self.norm_layers:
                lin = WeightNormLinear(dims[layer], out_dim)
            else:
                lin = nn.Linear(dims[layer], out_dim)
            setattr(self, f"lin{layer}", lin)
            if not self.weight_norm and layer in self.norm_layers:
                setattr(self, f"bn{layer}", nn.LayerNorm(out_dim))

    @classmethod
    def from_specs(cls, specs: dict) -> "Decoder":
        """Build from a DeepSDF ``specs.json`` dict (``CodeLength`` and ``NetworkSpecs``)."""
        if "CodeLength" not in specs or "NetworkSpecs" not in specs:
            raise ValueError("specs.json needs 'CodeLength' and 'NetworkSpecs' (DeepSDF's experiment format)")
        return cls(specs["CodeLength"], **specs["NetworkSpecs"])

    def forward(self, latent: torch.Tensor, points: torch.Tensor, code_index: torch.Tensor | None = None) -> torch.Tensor:
        """SDF at ``points`` (N, 3) -> (N,) for ``latent`` (D,) shared by all points, (N, D) one per point, or
        (B, D) codes with ``code_index`` (N,) giving each point's row of ``latent``."""
        folding = not (self.latent_dropout and self.training)
        if code_index is not None:
            if folding:
                return self._forward_folded(latent, points, code_index)
            latent = latent[code_index]
        if latent.dim() == 1 and folding:
            return self._forward_folded(latent, points)
        if latent.dim() == 1:
            latent = latent.unsqueeze(0).expand(points.shape[0], -1)
        return self.inference(torch.cat([latent, points], dim=1)).squeeze(1)

    def inference(self, inputs: torch.Tensor) -> torch.Tensor:
        """DeepSDF's ``Decoder.forward``: ``inputs`` (N, latent_size + 3) -> (N, 1)."""
        xyz = inputs[:, -3:]
        if inputs.shape[1] > 3 and self.latent_dropout:
            x = torch.cat([F.dropout(inputs[:, :-3], p=0.2, training=self.training), xyz], 1)
        else:
            x = inputs
        for layer in range(self.num_layers - 1):
            if layer in self.latent_in:
                x = torch.cat([x, inputs], 1)
            elif layer != 0 and self.xyz_in_all:
                x = torch.cat([x, xyz], 1)
            x = getattr(self, f"lin{layer}")(x)
            x = self._activate(layer, x)
        return torch.tanh(x)

    def _activate(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        last = layer == self.num_layers - 2
        if last and self.use_tanh:
            x = torch.tanh(x)
        if not last:
            if layer in self.norm_layers and not self.weight_norm:
                x = getattr(self, f"bn{layer}")(x)
            x = F.relu(x)
            if self.dropout is not None and layer in self.dropout:
                x = F.dropout(x, p=self.dropout_prob, training=self.training)
        return x

    def _forward_folded(self, latent: torch.Tensor, xyz: torch.Tensor, code_index: torch.Tensor | None = None) -> torch.Tensor:
        """:meth:`inference` with the latent folded into the biases of the layers that read it: one code
        (D,) for every point, or B codes (B, D) gathered per point by ``code_index`` (N,)."""
        L = self.latent_size
        x = xyz
        for layer in range(self.num_layers - 1):
            lin = getattr(self, f"lin{layer}")
            weight, bias = lin.weight, lin.bias
            per_point_bias = None
            if layer == 0 or layer in self.latent_in:
                # Columns that multiply the latent part of [.., latent, xyz]; the latent block starts
                # after the previous activations (none in layer 0).
                start = 0 if layer == 0 else weight.shape[1] - (L + 3)
                w_latent = weight[:, start : start + L]
                if code_index is None:
                    bias = bias + w_latent @ latent.to(weight.dtype)
                else:
                    per_point_bias = torch.addmm(bias, latent.to(weight.dtype), w_latent.transpose(0, 1))[code_index]
                weight = torch.cat([weight[:, :start], weight[:, start + L :]], dim=1)
                if layer != 0:
                    x = torch.cat([x, xyz], 1)
            elif self.xyz_in_all:
                x = torch.cat([x, xyz], 1)
            x = F.linear(x, weight, bias) if per_point_bias is None else torch.addmm(per_point_bias, x, weight.transpose(0, 1))
            x = self._activate(layer, x)
        return torch.tanh(x).squeeze(1)


def _atomic_torch_save(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _strip_module_prefix(state_dict: dict) -> dict:
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state_dict.items()}


def require_finite(tensor: torch.Tensor, path, what: str) -> torch.Tensor:
    """``tensor`` unchanged, or a RuntimeError naming ``path`` when it holds a NaN or an infinity (a diverged
    training run would otherwise give NaN depth images and tables without a word)."""
    bad = int((~torch.isfinite(tensor)).sum())
    if bad:
        raise RuntimeError(f"{path}: {what} hold {bad} NaN or infinite values of {tensor.numel()}; the training "
                           "diverged or the file is damaged: retrain, or point the config at another checkpoint")
    return tensor


def load_experiment(path, checkpoint: str = "latest", map_location="cpu"):
    """Load a DeepSDF experiment folder, as DeepSDF's ``train_deep_sdf.py`` writes it or :func:`save_experiment`.

    Returns:
        ``(decoder, latent_codes, specs)``: the decoder in eval mode, the (n, D) training codes of
        ``LatentCodes/<checkpoint>.pth`` (``None`` when absent) and the parsed ``specs.json``.

    Raises:
        FileNotFoundError: no ``specs.json`` or no such checkpoint (the message lists those present).
        RuntimeError: an unreadable file, parameters that do not match ``specs.json``, or a NaN / infinity in
            the parameters or codes; each message names the file.
    """
    path = Path(path)
    specs_path = path / SPECS_FILE
    if not specs_path.is_file():
        raise FileNotFoundError(
            f"{specs_path} not found: point to a DeepSDF experiment folder (it holds specs.json and "
            f"{MODEL_PARAMS_DIR}/<checkpoint>.pth)"
        )
    try:
        specs = json.loads(specs_path.read_text())
    except json.JSONDecodeError as error:
        raise RuntimeError(f"{specs_path} is not valid JSON ({error}); restore the experiment's specs.json") from error
    decoder = Decoder.from_specs(specs)
    params_path = path / MODEL_PARAMS_DIR / f"{checkpoint}.pth"
    if not params_path.is_file():
        available = sorted(p.stem for p in (path / MODEL_PARAMS_DIR).glob("*.pth"))
        raise FileNotFoundError(f"{params_path} not found; checkpoints in this experiment: {available or 'none'}")
    try:
        data = torch.load(params_path, map_location=map_location, weights_only=True)
    except Exception as error:  # a truncated or foreign file: say which one
        raise RuntimeError(f"cannot read checkpoint {params_path}: {error}; re-download or retrain it") from error
    state = data["model_state_dict"] if isinstance(data, dict) and "model_state_dict" in data else data
    for name, value in state.items():
        require_finite(value, params_path, f"parameters {name}")
    try:
        missing, unexpected = decoder.load_state_dict(_strip_module_prefix(state), strict=False)
    except RuntimeError as error:  # tensor shapes that disagree with specs.json
        raise RuntimeError(f"{params_path} does not match {specs_path}: {error}") from error
    if missing or unexpected:
        raise RuntimeError(
            f"{params_path} does not match {specs_path}: missing {sorted(missing)}, unexpected {sorted(unexpected)}"
        )
    decoder.eval()
    latent_codes = None
    codes_path = path / LATENT_CODES_DIR / f"{checkpoint}.pth"
    if codes_path.is_file():
        try:
            codes = torch.load(codes_path, map_location=map_location, weights_only=True)
        except Exception as error:  # a truncated or foreign file: say which one
            raise RuntimeError(f"cannot read latent codes {codes_path}: {error}; re-download or retrain it") from error
        codes = codes.get("latent_codes", codes) if isinstance(codes, dict) else codes
        latent_codes = require_finite(codes["weight"] if isinstance(codes, dict) else codes, codes_path, "latent codes")
    return decoder, latent_codes, specs


def save_experiment(path, decoder: Decoder, specs: dict, latent_codes: torch.Tensor | None = None,
                    epoch: int = 0, checkpoint: str = "latest") -> Path:
    """Write ``decoder`` (and ``latent_codes``) in DeepSDF's experiment layout; returns the folder."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / SPECS_FILE).write_text(json.dumps(specs, indent=2, sort_keys=True) + "\n")
    state = {k: v.detach().cpu() for k, v in decoder.state_dict().items()}
    _atomic_torch_save({"epoch": epoch, "model_state_dict": state}, path / MODEL_PARAMS_DIR / f"{checkpoint}.pth")
    if latent_codes is not None:
        _atomic_torch_save({"epoch": epoch, "latent_codes": {"weight": latent_codes.detach().cpu()}},
                           path / LATENT_CODES_DIR / f"{checkpoint}.pth")
    return path
