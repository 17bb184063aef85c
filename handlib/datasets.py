"""The data sets: open any supported folder, whatever its layout.

Introduced in ``notebooks/01_dataset_preparation.ipynb``. One module per layout holds
its reader (and, for GANerated, its writer): :mod:`handlib.ganerated`,
:mod:`handlib.synthhands`, :mod:`handlib.realhands`; every reader returns
:class:`handlib.samples.HandSample` records; :mod:`handlib.splits` splits them by
sequence; :mod:`handlib.images` reads and writes the images. This module detects a
folder's layout and re-exports the names a notebook needs.
"""
from __future__ import annotations

import glob
from pathlib import Path

from handlib.files import DataFileError
from handlib.ganerated import partitions as ganerated_partitions
from handlib.ganerated import read_ganerated
from handlib.realhands import read_realhands
from handlib.samples import HandSample
from handlib.splits import split_by_sequence
from handlib.synthhands import read_synthhands

__all__ = ["HandSample", "detect_layout", "open_dataset", "read_ganerated",
           "read_synthhands", "read_realhands", "split_by_sequence", "DataFileError"]


def detect_layout(root) -> str:
    """"ganerated", "synthhands" or "realhands" for a folder, by its layout."""
    root = Path(root)
    if not root.is_dir():
        raise DataFileError(root, "a data set folder", "no such folder")
    if ganerated_partitions(root):
        return "ganerated"
    if any(root.glob("user*/color")):
        return "realhands"
    if glob.glob(str(root / "**" / "*_joint_pos.txt"), recursive=True):
        return "synthhands"
    raise DataFileError(root, "a GANerated, SynthHands or RealHands layout", "none of them")


def open_dataset(root, limit: int | None = None) -> list[HandSample]:
    """Read any supported folder (layout detected by :func:`detect_layout`)."""
    layout = detect_layout(root)
    reader = {"ganerated": read_ganerated, "synthhands": read_synthhands,
              "realhands": read_realhands}[layout]
    return reader(root, limit=limit)
