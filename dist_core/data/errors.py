"""The errors of the data layer: :class:`DataError` names the file at fault and what to do about it;
:class:`SkippedInstance` says that an instance's input was recorded as skipped by the data stage."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DataError", "SkippedInstance"]


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


class SkippedInstance(Exception):
    """The data stage could not prepare this instance and recorded why instead of failing the table.

    Raised by the readers of the per-instance inputs (:func:`dist_core.data.inputs.read_single_view`,
    :func:`~dist_core.data.inputs.read_multi_view`) for an input file that holds a skip record; a table
    counts such an instance as skipped and is built from the rest.

    Args:
        path: the per-instance input file holding the skip record.
        file: the source file at fault (a mesh, a metadata file, ...).
        reason: the data error's message (what is wrong and the fix).
    """

    def __init__(self, path, file, reason: str):
        self.path = Path(path)
        self.file = str(file)
        self.reason = reason
        super().__init__(f"{self.path}: instance skipped by the data stage: {reason}")
