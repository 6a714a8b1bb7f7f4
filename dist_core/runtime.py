"""Run-time set-up shared by every entry point: device choice, threads, and a log that holds the job's output.

:func:`setup` makes a job's log file (Snakemake's ``log:``) hold everything the job says, as well as the
terminal: log records, warnings, whatever it prints on stdout or stderr, and the traceback of an exception
that ends it. Progress bars are kept on the terminal as they are; the log gets each bar's last state only.
"""

from __future__ import annotations

import atexit
import io
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


class _LogCopy:
    """The log file's side of a stream: whole lines only, and of a line rewritten with carriage returns (a
    progress bar) only its last state."""

    def __init__(self, file):
        self.file = file
        self.pending = ""

    @staticmethod
    def _last_state(line: str) -> str:
        states = [s for s in line.split("\r") if s]
        return states[-1] if states else ""

    def write(self, text: str) -> None:
        *lines, rest = (self.pending + text).split("\n")
        for line in lines:
            self.file.write(self._last_state(line) + "\n")
        self.pending = self._last_state(rest)
        if lines:
            self.file.flush()

    def close(self) -> None:
        if self.pending:
            self.file.write(self.pending + "\n")
            self.pending = ""
        self.file.flush()


class _Tee(io.TextIOBase):
    """A text stream that writes to the terminal's stream and to a copy in the log file."""

    def __init__(self, stream, copy: _LogCopy):
        self.stream, self.copy = stream, copy

    def write(self, text: str) -> int:
        self.stream.write(text)
        self.copy.write(text)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self):
        return getattr(self.stream, "encoding", "utf-8")


def _close_log(file, copies) -> None:
    for copy in copies:
        copy.close()
    file.close()


def setup(threads: int, log_path=None, device: str = "auto") -> torch.device:
    """Set torch's thread count, pick the device, and copy the job's output into ``log_path``.

    With ``log_path``, the file (overwritten) receives what the terminal does: log records (INFO and up),
    warnings, stdout, stderr and the traceback of an uncaught exception. Output written by C code straight
    to the file descriptors, and anything printed before this call (a failing import), reach the terminal
    only. Returns the device (:func:`resolve_device`).
    """
    torch.set_num_threads(max(1, int(threads)))
    for name in ("stdout", "stderr"):  # a second call replaces the first one's copy
        stream = getattr(sys, name)
        if isinstance(stream, _Tee):
            setattr(sys, name, stream.stream)
    if log_path:
        file = open(log_path, "w", encoding="utf-8")
        copies = [_LogCopy(file), _LogCopy(file)]
        sys.stdout, sys.stderr = _Tee(sys.stdout, copies[0]), _Tee(sys.stderr, copies[1])
        atexit.register(_close_log, file, copies)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s",
                        handlers=[logging.StreamHandler(sys.stderr)], force=True)
    logging.captureWarnings(True)
    chosen = resolve_device(device)
    logging.getLogger("runtime").info("device %s (config: %s), %d torch threads", chosen, device,
                                      torch.get_num_threads())
    return chosen
