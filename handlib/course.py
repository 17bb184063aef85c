"""Helpers for the notebooks' Setup cell: quick mode, seeds, version checks.

Quick mode (``HANDLIB_QUICK=1`` in the environment) is the course's one declared switch
for a fast run: less data and fewer steps through the *same* code path. ``make test``
sets it; ``make course`` and ``make lab`` leave it off.
"""
from __future__ import annotations

import os
import random
import sys

import numpy as np

from handlib.files import REPO_ROOT

#: The course folder. Notebooks name files from it rather than from "..", so that a copy
#: opened from elsewhere (``build/student/``, ``build/html/``) finds the same data.
ROOT = REPO_ROOT


def quick_mode() -> bool:
    """True when ``HANDLIB_QUICK`` is set to anything but ``""``, ``0`` or ``false``."""
    return os.environ.get("HANDLIB_QUICK", "0").strip().lower() not in ("", "0", "false", "no")


def pick(quick, full):
    """``quick`` in quick mode, else ``full`` (e.g. ``n_frames = pick(24, 2000)``)."""
    return quick if quick_mode() else full


def seed_everything(seed: int = 42) -> None:
    """Seed Python, NumPy and (if already imported) Keras/TensorFlow."""
    random.seed(seed)
    np.random.seed(seed)
    if "keras" in sys.modules or "tensorflow" in sys.modules:
        import keras
        keras.utils.set_random_seed(seed)


def _version_tuple(v: str) -> tuple[int, ...]:
    parts = []
    for p in v.split(".")[:3]:
        digits = "".join(ch for ch in p if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def require(package: str, minimum: str) -> str:
    """Assert that ``package`` is installed at ``minimum`` or newer; return its version."""
    from importlib.metadata import version
    found = version(package)
    assert _version_tuple(found) >= _version_tuple(minimum), \
        f"{package} {found} is older than the course needs ({minimum}); run `make lab` again"
    return found


def plot_defaults() -> None:
    """The course's matplotlib defaults (readable on a projector)."""
    import matplotlib.pyplot as plt
    plt.rcParams.update({"figure.dpi": 90, "axes.grid": False, "font.size": 10,
                         "axes.titlesize": 11, "image.interpolation": "nearest"})


def check(key: str, value, **context) -> None:
    """Check an exercise's answer without showing it: ``course.check("01.3", value)``.

    Prints "NN.k: correct." or "NN.k: not yet. Hint: ..."; see :mod:`handlib.exercises`.
    """
    from handlib import exercises
    exercises.check(key, value, **context)
