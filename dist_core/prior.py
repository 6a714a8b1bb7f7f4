"""Shape priors: DeepSDF auto-decoder training, and DeepSDF's latent fit to SDF samples.

:func:`train_auto_decoder` is DeepSDF's ``train_deep_sdf.py`` driven by a DeepSDF ``specs.json`` dict
(:func:`deepsdf_specs` builds one from the ``priors`` section of the config):

* one latent code per training shape, an ``nn.Embedding`` with ``max_norm = CodeBound`` (1.0) initialised
  N(0, (CodeInitStdDev / sqrt(CodeLength))^2), DeepSDF's default CodeInitStdDev being 1.0;
* each batch holds ``ScenesPerBatch`` shapes with ``SamplesPerScene`` SDF samples each, half drawn (with
  replacement) from ``pos`` and half from ``neg`` as DeepSDF's ``unpack_sdf_samples``;
* loss ``sum |clamp(f) - clamp(s)| / n + lambda * min(1, epoch / 100) * sum ||z_i|| / n`` over the n
  samples of the batch (clamp ``ClampingDistance`` 0.1, lambda ``CodeRegularizationLambda`` 1e-4, the
  code norm counted once per sample as DeepSDF does);
* one Adam with two parameter groups, decoder and codes, each with its own step schedule
  ``Initial * Factor^(epoch // Interval)`` (DeepSDF: 5e-4 and 1e-3, halved every 500 of 2001 epochs);
* a snapshot (``latest``: model, codes, optimizer and random state, logs) every ``SnapshotFrequency``
  epochs; a killed run restarts from it and continues exactly as if it had not been interrupted.

The experiment folder is DeepSDF's layout (``specs.json``, ``ModelParameters/``, ``LatentCodes/``,
``OptimizerParameters/``, ``Logs.pth``), readable by DeepSDF's own tools and by
:func:`dist_core.decoder.load_experiment`, plus ``loss.csv`` (per epoch, human-readable),
``MeanLatent.pth`` (the mean of the training codes, the paper's initialisation for Table 2) and
``provenance.json`` (config, git revision, timings).

:func:`fit_latent_to_sdf_samples` is DeepSDF's ``reconstruct.py``: 800 Adam iterations from
N(0, 0.01^2), lr 5e-3 divided by 10 half-way, 8000 samples per step (contiguous windows of the shuffled
pos / neg arrays), L1 on clamped SDF plus ``1e-4 * mean(z^2)``.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .decoder import (LATENT_CODES_DIR, MODEL_PARAMS_DIR, SPECS_FILE, Decoder, load_experiment, require_finite,
                      save_experiment)
from .io import atomic_path, write_json

__all__ = [
    "OPTIMIZER_PARAMS_DIR",
    "LOGS_FILE",
    "LOSS_CSV",
    "MEAN_LATENT_FILE",
    "PROVENANCE_FILE",
    "SdfSamples",
    "deepsdf_specs",
    "paper_specs",
    "learning_rate",
    "TrainingResult",
    "train_auto_decoder",
    "snapshot_epoch",
    "mean_latent_source",
    "load_mean_latent",
    "load_prior",
    "describe_prior",
    "format_prior",
    "FitResult",
    "fit_latent_to_sdf_samples",
    "git_revision",
    "load_sdf_samples",
    "SHIPPED_FILES",
    "ship_prior",
]

log = logging.getLogger(__name__)

OPTIMIZER_PARAMS_DIR = "OptimizerParameters"
LOGS_FILE = "Logs.pth"
LOSS_CSV = "loss.csv"
MEAN_LATENT_FILE = "MeanLatent.pth"
PROVENANCE_FILE = "provenance.json"


@dataclass
class SdfSamples:
    """DeepSDF SdfSamples of one shape: ``pos`` (sdf > 0) and ``neg`` (sdf <= 0), each (N, 4) xyz + sdf."""

    pos: torch.Tensor
    neg: torch.Tensor

    @classmethod
    def from_arrays(cls, pos, neg) -> "SdfSamples":
        def clean(array):
            tensor = torch.as_tensor(np.asarray(array, dtype=np.float32))
            return tensor[~torch.isnan(tensor[:, 3])]  # DeepSDF's remove_nans

        return cls(clean(pos), clean(neg))


def paper_specs() -> dict:
    """DeepSDF's published training specs (``examples/chairs/specs.json``): the paper's 8 x 512 network."""
    layers = list(range(8))
    return {
        "NetworkArch": "deep_sdf_decoder",
        "NetworkSpecs": {"dims": [512] * 8, "dropout": layers, "dropout_prob": 0.2, "norm_layers": layers,
                         "latent_in": [4], "xyz_in_all": False, "use_tanh": False, "latent_dropout": False,
                         "weight_norm": True},
        "CodeLength": 256,
        "NumEpochs": 2001,
        "SnapshotFrequency": 1000,
        "AdditionalSnapshots": [100, 500],
        "LearningRateSchedule": [{"Type": "Step", "Initial": 0.0005, "Interval": 500, "Factor": 0.5},
                                 {"Type": "Step", "Initial": 0.001, "Interval": 500, "Factor": 0.5}],
        "SamplesPerScene": 16384,
        "ScenesPerBatch": 64,
        "ClampingDistance": 0.1,
        "CodeRegularization": True,
        "CodeRegularizationLambda": 1e-4,
        "CodeBound": 1.0,
        "CodeInitStdDev": 1.0,
    }


def deepsdf_specs(priors: dict, data_source: str = "", train_split: str = "", test_split: str = "",
                  description: str = "") -> dict:
    """A DeepSDF ``specs.json`` dict from the ``priors`` section of the config (keys as in config.yaml)."""
    network = dict(priors["network"])
    training = priors["training"]
    schedule = [{"Type": "Step", "Initial": float(training[f"lr_{part}"]), "Interval": int(training["lr_interval"]),
                 "Factor": float(training["lr_factor"])} for part in ("decoder", "codes")]
    return {
        "Description": description or "dist: DeepSDF auto-decoder trained by the dist pipeline",
        "DataSource": str(data_source),
        "TrainSplit": str(train_split),
        "TestSplit": str(test_split),
        "NetworkArch": "deep_sdf_decoder",
        "NetworkSpecs": network,
        "CodeLength": int(priors["latent_size"]),
        "NumEpochs": int(training["epochs"]),
        "SnapshotFrequency": int(training["snapshot_every"]),
        "AdditionalSnapshots": [],
        "LearningRateSchedule": schedule,
        "SamplesPerScene": int(training["samples_per_scene"]),
        "ScenesPerBatch": int(training["scenes_per_batch"]),
        "ClampingDistance": float(training["clamp"]),
        "CodeRegularization": True,
        "CodeRegularizationLambda": float(training["code_regularization"]),
        "CodeRegularizationRampEpochs": int(training.get("code_regularization_ramp", 100)),
        "CodeBound": float(training["code_bound"]),
        "CodeInitStdDev": float(training["code_init_std"]),
        "Seed": int(priors.get("seed", 0)),
    }


def learning_rate(schedule: dict, epoch: int) -> float:
    """DeepSDF's learning-rate schedules (Step, Warmup, Constant) at ``epoch``."""
    kind = schedule["Type"]
    if kind == "Step":
        return schedule["Initial"] * schedule["Factor"] ** (epoch // schedule["Interval"])
    if kind == "Warmup":
        if epoch > schedule["Length"]:
            return schedule["Final"]
        return schedule["Initial"] + (schedule["Final"] - schedule["Initial"]) * epoch / schedule["Length"]
    if kind == "Constant":
        return schedule["Value"]
    raise ValueError(f"unknown learning rate schedule type {kind!r}")


def _draw_samples(shape: SdfSamples, count: int, generator: torch.Generator) -> torch.Tensor:
    """DeepSDF's ``unpack_sdf_samples``: ``count // 2`` samples from pos and from neg, with replacement."""
    half = count // 2
    pos = shape.pos[torch.randint(len(shape.pos), (half,), generator=generator)]
    neg = shape.neg[torch.randint(len(shape.neg), (half,), generator=generator)]
    return torch.cat([pos, neg], 0)


@dataclass
class TrainingResult:
    """What :func:`train_auto_decoder` produced.

    Attributes:
        path: the experiment folder.
        decoder: the trained decoder (eval mode).
        latent_codes: (n_shapes, CodeLength) training codes, row i for shape i of the input list.
        losses: mean batch loss per epoch, from epoch 1 (including epochs of an interrupted earlier run).
        seconds: training time of all epochs, including earlier interrupted runs.
        resumed_from: the epoch the run started after (0 for a fresh run).
    """

    path: Path
    decoder: Decoder
    latent_codes: torch.Tensor
    losses: list[float]
    seconds: float
    resumed_from: int = 0


def snapshot_epoch(path) -> int:
    """The epoch of the ``latest`` snapshot of an experiment folder (0 when there is none)."""
    params = Path(path) / MODEL_PARAMS_DIR / "latest.pth"
    if not params.is_file():
        return 0
    return int(torch.load(params, map_location="cpu", weights_only=True)["epoch"])


def _save_snapshot(path: Path, specs: dict, decoder: Decoder, codes: nn.Embedding, optimizer, epoch: int,
                   generator: torch.Generator, logs: dict, checkpoint: str = "latest") -> None:
    save_experiment(path, decoder, specs, codes.weight, epoch=epoch, checkpoint=checkpoint)
    _atomic_torch_save({"epoch": epoch, "optimizer_state_dict": optimizer.state_dict(),
                        "sampler_state": generator.get_state(), "torch_rng_state": torch.get_rng_state()},
                       path / OPTIMIZER_PARAMS_DIR / f"{checkpoint}.pth")
    _atomic_torch_save({"epoch": epoch, **logs}, path / LOGS_FILE)


def _atomic_torch_save(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def _write_loss_csv(path: Path, logs: dict) -> None:
    with atomic_path(path / LOSS_CSV) as tmp:
        with open(tmp, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["epoch", "loss", "lr_decoder", "lr_codes", "seconds", "latent_magnitude"])
            for epoch, (loss, lrs, seconds, magnitude) in enumerate(
                    zip(logs["loss"], logs["learning_rate"], logs["timing"], logs["latent_magnitude"]), start=1):
                writer.writerow([epoch, f"{loss:.8g}", f"{lrs[0]:.6g}", f"{lrs[1]:.6g}", f"{seconds:.4f}",
                                 f"{magnitude:.6g}"])


def train_auto_decoder(specs: dict, shapes: list[SdfSamples], path, device="cpu", progress: bool = True,
                       provenance: dict | None = None, stop_after_epoch: int | None = None) -> TrainingResult:
    """Train a DeepSDF auto-decoder on ``shapes`` into the experiment folder ``path``.

    Resumes from ``path``'s ``latest`` snapshot when one exists with the same specs; a folder holding a
    snapshot of different specs is an error (delete it to retrain). ``stop_after_epoch`` ends the run
    early after that epoch's snapshot, as a kill would (for tests of resuming).
    """
    from tqdm import tqdm

    path = Path(path)
    device = torch.device(device)
    seed = int(specs.get("Seed", 0))
    num_epochs = int(specs["NumEpochs"])
    samples_per_scene = int(specs["SamplesPerScene"])
    scenes_per_batch = min(int(specs["ScenesPerBatch"]), len(shapes))
    clamp = float(specs["ClampingDistance"])
    reg_lambda = float(specs.get("CodeRegularizationLambda", 1e-4)) if specs.get("CodeRegularization", True) else 0.0
    ramp = float(specs.get("CodeRegularizationRampEpochs", 100))
    snapshot_every = int(specs.get("SnapshotFrequency", 10))
    latent_size = int(specs["CodeLength"])

    torch.manual_seed(seed)
    decoder = Decoder.from_specs(specs).to(device)
    codes = nn.Embedding(len(shapes), latent_size, max_norm=specs.get("CodeBound")).to(device)
    nn.init.normal_(codes.weight.data, 0.0, float(specs.get("CodeInitStdDev", 1.0)) / math.sqrt(latent_size))
    schedules = specs["LearningRateSchedule"]
    optimizer = torch.optim.Adam([{"params": decoder.parameters(), "lr": learning_rate(schedules[0], 0)},
                                  {"params": codes.parameters(), "lr": learning_rate(schedules[1], 0)}])
    generator = torch.Generator().manual_seed(seed)
    logs = {"loss": [], "learning_rate": [], "timing": [], "latent_magnitude": []}

    start_epoch = snapshot_epoch(path)
    if start_epoch:
        saved = json.loads((path / SPECS_FILE).read_text())
        if saved != json.loads(json.dumps(specs, sort_keys=True)):
            raise RuntimeError(f"{path} holds a snapshot trained with other specs; delete the folder to retrain")
        loaded, latent_codes, _ = load_experiment(path, "latest", map_location=device)
        decoder.load_state_dict(loaded.state_dict())
        codes.weight.data.copy_(latent_codes)
        state = torch.load(path / OPTIMIZER_PARAMS_DIR / "latest.pth", map_location="cpu", weights_only=True)
        optimizer.load_state_dict(state["optimizer_state_dict"])
        generator.set_state(state["sampler_state"])
        torch.set_rng_state(state["torch_rng_state"])
        saved_logs = torch.load(path / LOGS_FILE, map_location="cpu", weights_only=False)
        logs = {k: list(saved_logs[k])[:start_epoch] for k in logs}
        log.info("resuming %s after epoch %d", path, start_epoch)
    else:
        path.mkdir(parents=True, exist_ok=True)

    samples_gpu = [SdfSamples(s.pos.to(device), s.neg.to(device)) for s in shapes]
    batches_per_epoch = len(shapes) // scenes_per_batch  # DeepSDF's DataLoader drops the last partial batch
    bar = tqdm(range(start_epoch + 1, num_epochs + 1), initial=start_epoch, total=num_epochs, desc=f"prior {path.name}",
               disable=not progress, unit="epoch", mininterval=2.0)
    epoch = start_epoch
    for epoch in bar:
        started = time.perf_counter()
        decoder.train()
        lrs = [learning_rate(s, epoch) for s in schedules]
        for group, lr in zip(optimizer.param_groups, lrs):
            group["lr"] = lr
        order = torch.randperm(len(shapes), generator=generator)
        epoch_loss = 0.0
        for b in range(batches_per_epoch):
            indices = order[b * scenes_per_batch : (b + 1) * scenes_per_batch]
            batch = torch.cat([_draw_samples(samples_gpu[i], samples_per_scene, generator).to(device) for i in indices])
            scene = indices.to(device).repeat_interleave(samples_per_scene)
            n = batch.shape[0]
            optimizer.zero_grad()
            latent = codes(scene)
            pred = decoder(latent, batch[:, :3]).clamp(-clamp, clamp)
            loss = (pred - batch[:, 3].clamp(-clamp, clamp)).abs().sum() / n
            if reg_lambda:
                loss = loss + reg_lambda * min(1.0, epoch / ramp) * latent.norm(dim=1).sum() / n
            loss.backward()
            optimizer.step()
            epoch_loss += loss.item()
        logs["loss"].append(epoch_loss / max(batches_per_epoch, 1))
        logs["learning_rate"].append(lrs)
        logs["timing"].append(time.perf_counter() - started)
        logs["latent_magnitude"].append(float(codes.weight.detach().norm(dim=1).mean()))
        bar.set_postfix(loss=f"{logs['loss'][-1]:.5f}", refresh=False)
        if epoch % snapshot_every == 0 or epoch == num_epochs or epoch == stop_after_epoch:
            _save_snapshot(path, specs, decoder, codes, optimizer, epoch, generator, logs)
            _write_loss_csv(path, logs)
        if epoch == stop_after_epoch:
            break
    bar.close()
    if epoch == num_epochs:
        _save_snapshot(path, specs, decoder, codes, optimizer, epoch, generator, logs, checkpoint=str(epoch))
        mean = codes.weight.detach().mean(dim=0).cpu()
        _atomic_torch_save({"epoch": epoch, "mean_latent": mean}, path / MEAN_LATENT_FILE)
        record = dict(provenance or {})
        record.update({"epochs": epoch, "training_seconds": float(sum(logs["timing"])), "shapes": len(shapes),
                       "final_loss": logs["loss"][-1], "torch": torch.__version__,
                       "threads": torch.get_num_threads(), "device": str(device)})
        write_json(path / PROVENANCE_FILE, record)
    decoder.eval()
    return TrainingResult(path, decoder, codes.weight.detach().clone(), list(logs["loss"]),
                          float(sum(logs["timing"])), start_epoch)


def mean_latent_source(path) -> str:
    """Which file :func:`load_mean_latent` reads: ``MeanLatent.pth`` when present, else ``LatentCodes/latest.pth``."""
    return MEAN_LATENT_FILE if (Path(path) / MEAN_LATENT_FILE).is_file() else f"{LATENT_CODES_DIR}/latest.pth"


def load_mean_latent(path) -> torch.Tensor:
    """The (CodeLength,) mean training code of an experiment folder: the paper's initialisation for Table 2.

    ``MeanLatent.pth`` (``{"epoch", "mean_latent"}``, written by :func:`train_auto_decoder`) when present;
    for an experiment trained by DeepSDF itself, which has none, the mean of its ``LatentCodes/latest.pth``.
    The log says which was used. A NaN or infinity in either is an error naming the file.
    """
    path = Path(path)
    source = path / mean_latent_source(path)
    if source.name == MEAN_LATENT_FILE:
        try:
            mean = torch.load(source, map_location="cpu", weights_only=True)["mean_latent"]
        except Exception as error:  # a truncated or foreign file: say which one
            raise RuntimeError(f"cannot read {source}: {error}; re-download or retrain the prior "
                               "(dist_core.prior ship, or snakemake priors)") from error
        log.info("%s: mean latent from %s", path, MEAN_LATENT_FILE)
        return require_finite(mean, source, "the mean latent")
    _, codes, _ = load_experiment(path)
    if codes is None:
        raise FileNotFoundError(f"{path} has neither {MEAN_LATENT_FILE} nor {LATENT_CODES_DIR}/latest.pth: point the "
                                "config at a DeepSDF experiment folder that holds its training codes")
    codes = codes.reshape(codes.shape[0], -1)
    log.info("%s: no %s, mean latent computed from the %d training codes of %s", path, MEAN_LATENT_FILE,
             codes.shape[0], source)
    return codes.mean(dim=0)


def load_prior(folder, device="cpu") -> tuple[Decoder, torch.Tensor]:
    """A category's decoder (eval mode, frozen) and its mean training code (:func:`load_mean_latent`) on ``device``.

    ``folder`` is any DeepSDF experiment: a prior trained by dist (``snakemake priors``, the shipped ones) or
    one trained by DeepSDF's ``train_deep_sdf.py`` (``module.`` keys, no ``MeanLatent.pth``).
    """
    decoder, _, _ = load_experiment(folder, map_location=device)
    decoder.eval()
    for p in decoder.parameters():
        p.requires_grad_(False)
    return decoder, load_mean_latent(folder).to(device).float()


def describe_prior(folder) -> dict:
    """What a table needs to say about the prior that produced it.

    Returns:
        ``{"path", "network", "dims", "latent_size", "parameters", "epoch", "training_codes",
        "mean_latent", "description"}``: the resolved folder, the network as ``"8 x 512"``, DeepSDF's hidden
        widths and CodeLength, the decoder's parameter count, the checkpoint's epoch, the number of training
        codes (None without ``LatentCodes``), where the mean latent comes from (:func:`mean_latent_source`)
        and the ``Description`` of ``specs.json`` (joined when DeepSDF's list of lines).
    """
    folder = Path(folder)
    decoder, codes, specs = load_experiment(folder)
    dims = list(specs["NetworkSpecs"]["dims"])
    network = f"{len(dims)} x {dims[0]}" if len(set(dims)) == 1 else " / ".join(map(str, dims))
    description = specs.get("Description", "")
    return {
        "path": str(folder.resolve()),
        "network": network,
        "dims": dims,
        "latent_size": int(specs["CodeLength"]),
        "parameters": sum(p.numel() for p in decoder.parameters()),
        "epoch": snapshot_epoch(folder),
        "training_codes": None if codes is None else int(codes.shape[0]),
        "mean_latent": mean_latent_source(folder),
        "description": " ".join(description) if isinstance(description, list) else str(description),
    }


def format_prior(description: dict) -> str:
    """One line for a table's notes from :func:`describe_prior`, e.g.
    ``/data/DeepSDF/examples/sofas: 8 x 512, latent 256, epoch 2000, mean latent of 1628 training codes``."""
    if description["mean_latent"] == MEAN_LATENT_FILE:
        mean = f"mean latent from {MEAN_LATENT_FILE}"
    else:
        mean = f"mean latent of {description['training_codes']} training codes"
    return (f"{description['path']}: {description['network']}, latent {description['latent_size']}, "
            f"epoch {description['epoch']}, {mean}")


@dataclass
class FitResult:
    """A latent code fitted to SDF samples.

    Attributes:
        latent: (D,) fitted code (detached).
        loss: the loss of the last iteration (DeepSDF's returned error).
        losses: loss per iteration.
        seconds: wall time.
    """

    latent: torch.Tensor
    loss: float
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


def _window(samples: torch.Tensor, half: int, generator: torch.Generator) -> torch.Tensor:
    """DeepSDF's ``unpack_sdf_samples_from_ram``: a contiguous window of ``half`` rows at a random start,
    or ``half`` rows drawn with replacement when there are too few."""
    if len(samples) <= half:
        return samples[torch.randint(len(samples), (half,), generator=generator)]
    start = int(torch.randint(0, len(samples) - half + 1, (1,), generator=generator))
    return samples[start : start + half]


def fit_latent_to_sdf_samples(decoder, samples: SdfSamples, iterations: int = 800, lr: float = 5e-3,
                              samples_per_step: int = 8000, l2_reg: float = 1e-4, clamp: float = 0.1,
                              init_std: float = 0.01, init: torch.Tensor | None = None, seed: int = 0,
                              lr_decrease: float = 10.0, progress: bool = False) -> FitResult:
    """DeepSDF's ``reconstruct``: fit one latent code of a frozen decoder to a shape's SDF samples.

    Args:
        decoder: called as ``decoder(latent (D,), points (N, 3)) -> (N,)``; put in eval mode here.
        samples: the shape's SdfSamples (normalised frame).
        iterations, lr, samples_per_step, l2_reg, clamp: DeepSDF's 800, 5e-3, 8000, 1e-4, 0.1.
        init_std: std of the random initial code (DeepSDF: 0.01); ignored when ``init`` is given.
        init: (D,) initial code, e.g. the mean training code.
        seed: seeds the initial code and the sample windows.
        lr_decrease: the lr is divided by it every ``iterations // 2`` iterations (DeepSDF: 10).
    """
    from tqdm import tqdm

    started = time.perf_counter()
    decoder.eval()
    parameter = next(iter(decoder.parameters()), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    generator = torch.Generator().manual_seed(seed)
    latent_size = decoder.latent_size
    if init is None:
        latent = torch.randn(latent_size, generator=generator) * init_std
    else:
        latent = init.detach().clone().float().cpu()
    latent = latent.to(device).requires_grad_(True)
    # reconstruct.py shuffles pos and neg once, then reads random contiguous windows.
    pos = samples.pos[torch.randperm(len(samples.pos), generator=generator)]
    neg = samples.neg[torch.randperm(len(samples.neg), generator=generator)]
    optimizer = torch.optim.Adam([latent], lr=lr)
    adjust_every = max(1, iterations // 2)
    frozen = [p for p in decoder.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    losses = []
    try:
        bar = tqdm(range(iterations), desc="latent fit", disable=not progress, mininterval=2.0)
        for iteration in bar:
            batch = torch.cat([_window(pos, samples_per_step // 2, generator),
                               _window(neg, samples_per_step // 2, generator)]).to(device)
            for group in optimizer.param_groups:
                group["lr"] = lr * (1.0 / lr_decrease) ** (iteration // adjust_every)
            optimizer.zero_grad()
            pred = decoder(latent, batch[:, :3]).clamp(-clamp, clamp)
            loss = (pred - batch[:, 3].clamp(-clamp, clamp)).abs().mean()
            if l2_reg:
                loss = loss + l2_reg * latent.pow(2).mean()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{losses[-1]:.5f}", refresh=False)
    finally:
        for p in frozen:
            p.requires_grad_(True)
    return FitResult(latent.detach(), losses[-1] if losses else float("nan"), losses, time.perf_counter() - started)


def git_revision(root=".") -> dict:
    """``{"revision": sha, "dirty": bool}`` of the repository at ``root`` (``unknown`` outside git)."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                capture_output=True, text=True, check=True).stdout
        return {"revision": sha, "dirty": bool(status.strip())}
    except (OSError, subprocess.CalledProcessError):
        return {"revision": "unknown", "dirty": None}


def load_sdf_samples(data_dir, split_path) -> tuple[list[tuple[str, str, str]], list[SdfSamples]]:
    """Every shape of a DeepSDF split: ``[(dataset, synset, id)]`` and their SdfSamples, in split order."""
    from .data import deepsdf

    instances = deepsdf.split_instances(deepsdf.read_split(split_path))
    shapes = [SdfSamples.from_arrays(*deepsdf.read_sdf_samples(deepsdf.sdf_samples_path(data_dir, *key)))
              for key in instances]
    return instances, shapes


SHIPPED_FILES = (SPECS_FILE, f"{MODEL_PARAMS_DIR}/latest.pth", f"{LATENT_CODES_DIR}/latest.pth", MEAN_LATENT_FILE,
                 PROVENANCE_FILE, LOSS_CSV)


def ship_prior(source, destination) -> list[Path]:
    """Copy what the tables need of a finished experiment (no optimizer state or epoch checkpoints)."""
    import shutil

    source, destination = Path(source), Path(destination)
    if not (source / PROVENANCE_FILE).is_file():
        raise FileNotFoundError(f"{source} has no {PROVENANCE_FILE}: training has not finished there")
    copied = []
    for name in SHIPPED_FILES:
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, target)
        copied.append(target)
    return copied


def main(argv=None) -> None:
    """``python -m dist_core.prior ship [--source results/priors] [--destination resources/priors] CATEGORY...``

    Copies finished priors (``snakemake priors``) to the folder the embedded default reads
    (``priors.shipped_dir``), so that they can be committed. No Snakemake rule writes that folder: a
    fresh clone never retrains because of file timestamps.
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m dist_core.prior", description=main.__doc__.splitlines()[2])
    commands = parser.add_subparsers(dest="command", required=True)
    ship = commands.add_parser("ship", help="copy trained priors to the shipped folder")
    ship.add_argument("categories", nargs="+")
    ship.add_argument("--source", default="results/priors", help="folder of trained priors (default %(default)s)")
    ship.add_argument("--destination", default="resources/priors",
                      help="folder of shipped priors (default %(default)s)")
    args = parser.parse_args(argv)
    for category in args.categories:
        try:
            copied = ship_prior(Path(args.source) / category, Path(args.destination) / category)
        except FileNotFoundError as error:
            parser.exit(1, f"error: {error}; run `snakemake priors` first\n")
        print(f"{category}: {len(copied)} files -> {Path(args.destination) / category}")


if __name__ == "__main__":
    main()
