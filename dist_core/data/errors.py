"""The one error type of the data layer: a message naming the file at fault and what to do about it."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DataError"]


class DataError(ValueError):
    """Bad or missing input data.

    Args:
        path: the file or folder at fault.
        problem: what is wrong with it.
        fix: what the user should do.
    """

    def __init__(self, path, problem: str, fix: str):
        self.path = Path(path)
        self.problem = problem
        self.fix = fix
        super().__init__(f"{self.path}: {problem}. {fix}")
