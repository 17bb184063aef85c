"""Where the course's files live, atomic writes, and loading with clear errors.

Every output of the course is written atomically (a temporary file in the same folder,
then :func:`os.replace`), so an interrupted run never leaves a half-written file, and
every input is checked so that a missing or malformed file raises :class:`DataFileError`
naming the file and what was expected.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("HANDLIB_DATA", REPO_ROOT / "data"))


class DataFileError(ValueError):
    """A data file is missing or does not hold what was expected."""

    def __init__(self, path, expected: str, found: str | None = None):
        self.path = str(path)
        msg = f"{self.path}: expected {expected}"
        if found is not None:
            msg += f", found {found}"
        super().__init__(msg)


def data_file(name: str) -> Path:
    """Path of a file shipped in the repository's ``data/`` folder (must exist)."""
    path = DATA_DIR / name
    if not path.is_file():
        raise DataFileError(path, f"the course data file {name!r} (it ships with the "
                            "repository; set HANDLIB_DATA if you moved data/)", "no such file")
    return path


def load_npz(path, shapes: dict[str, tuple]) -> dict[str, np.ndarray]:
    """Load an ``.npz`` and check that it holds arrays of the given shapes (-1: any size)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise DataFileError(path, "an .npz file", "no such file") from None
    except Exception as exc:                              # zip or format errors
        raise DataFileError(path, "an .npz file", f"an unreadable file ({exc})") from None
    for key, shape in shapes.items():
        if key not in arrays:
            raise DataFileError(path, f"an array {key!r}", f"only {sorted(arrays)}")
        got = arrays[key].shape
        if len(got) != len(shape) or any(s not in (-1, g) for s, g in zip(shape, got)):
            raise DataFileError(path, f"{key!r} of shape {shape}", f"shape {got}")
    return arrays


@contextlib.contextmanager
def atomic_path(path, suffix: str | None = None):
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    The temporary name keeps the file's extension (``suffix``, default that of ``path``)
    so that writers which pick a format by extension (OpenCV, NumPy) work. On error the
    temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix if suffix is None else suffix
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def write_text(path, text: str) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path, obj) -> None:
    """Write a JSON file atomically (pretty-printed)."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_floats(path, count: int, what: str) -> np.ndarray:
    """Read ``count`` comma/whitespace-separated floats from a text file.

    Raises :class:`DataFileError` naming the file if it is missing, unreadable or holds
    another number of values.
    """
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise DataFileError(path, f"{count} floats ({what})", "no such file") from None
    tokens = text.replace(",", " ").split()
    try:
        values = np.array([float(t) for t in tokens], dtype=np.float64)
    except ValueError:
        raise DataFileError(path, f"{count} floats ({what})", "text that is not numbers") from None
    if values.size != count:
        raise DataFileError(path, f"{count} floats ({what})", f"{values.size}")
    return values


def write_floats(path, values, fmt: str = "%.6f") -> None:
    """Write floats comma-separated on one line, atomically (the data sets' text format)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    write_text(path, ",".join(fmt % v for v in values) + "\n")
