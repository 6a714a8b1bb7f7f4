"""Run-time set-up shared by every entry point: device choice, threads, logging to a file."""

from __future__ import annotations

import logging
import sys

import torch

__all__ = ["resolve_device", "setup"]


def resolve_device(name: str = "auto") -> torch.device:
    """``auto``: CUDA when present, else CPU; any other value is passed to ``torch.device``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} was requested but CUDA is not available; set device: auto or cpu")
    return device


def setup(threads: int, log_path=None, device: str = "auto") -> torch.device:
    """Set torch's thread count, send log records to ``log_path`` and stderr, and pick the device."""
    torch.set_num_threads(max(1, int(threads)))
    handlers = [logging.StreamHandler(sys.stderr)]
    if log_path:
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", handlers=handlers, force=True)
    return resolve_device(device)
