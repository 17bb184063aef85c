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


REALDATA_ENV = "HANDLIB_REALDATA_DIR"


def realdata_dir(subfolder: str | None = None, quiet: bool = False) -> Path | None:
    """The folder of real hand photos and video (``HANDLIB_REALDATA_DIR``, default
    ``../shared/realdata`` from the repository's root), or one of its subfolders; None,
    with a one-line message unless ``quiet``, where it is absent or empty. The course
    never needs it: code that uses it falls back to rendered stand-ins."""
    base = Path(os.environ.get(REALDATA_ENV) or REPO_ROOT.parent / "shared" / "realdata")
    folder = base / subfolder if subfolder else base
    if folder.is_dir() and any(folder.iterdir()):
        return folder
    if not quiet:
        print(f"real data not found at {folder} (set {REALDATA_ENV} to use it); "
              "using the rendered stand-in instead")
    return None


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


def _umask() -> int:
    """The process's file-creation mask: read from /proc where it can be (Linux),
    otherwise by setting and restoring it (which another thread could race with)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync(path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path, suffix: str | None = None):
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    The temporary name keeps the file's extension (``suffix``, default that of ``path``)
    so that writers which pick a format by extension (OpenCV, NumPy) work. On success the
    data are flushed to disk (fsync), the file gets the usual permissions (0666 minus the
    umask, as ``open`` would give; ``mkstemp`` alone would leave 0600, unreadable by other
    users or a container) and is renamed over ``path``. On error the temporary file is
    removed and ``path`` is untouched.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path}: expected a file to write, found a folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix if suffix is None else suffix
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        _fsync(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def write_text(path, text: str) -> None:
    """Write a text file atomically, in UTF-8."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path, obj) -> None:
    """Write a JSON file atomically (pretty-printed)."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_text(path, what: str) -> str:
    """Read a UTF-8 text file; a missing, binary or non-UTF-8 file raises
    :class:`DataFileError` naming it and ``what`` was expected."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise DataFileError(path, what, "no such file") from None
    except IsADirectoryError:
        raise DataFileError(path, what, "a folder") from None
    if b"\0" in raw:
        raise DataFileError(path, what, "a binary file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFileError(path, what, f"text that is not UTF-8 ({exc.reason} at byte "
                            f"{exc.start})") from None


def read_floats(path, count: int, what: str) -> np.ndarray:
    """Read ``count`` comma/whitespace-separated finite floats from a text file.

    Raises :class:`DataFileError` naming the file if it is missing, binary, not UTF-8,
    holds something that is not a number, NaN or infinity, or another number of values.
    """
    expected = f"{count} floats ({what})"
    tokens = read_text(path, expected).replace(",", " ").split()
    try:
        values = np.array([float(t) for t in tokens], dtype=np.float64)
    except ValueError:
        raise DataFileError(path, expected, "text that is not numbers") from None
    if values.size != count:
        raise DataFileError(path, expected, f"{values.size}")
    if not np.all(np.isfinite(values)):
        bad = int(np.flatnonzero(~np.isfinite(values))[0])
        raise DataFileError(path, expected, f"a non-finite value ({tokens[bad]}) at position {bad + 1}")
    return values


def read_json(path, what: str):
    """Read a JSON file with a clear :class:`DataFileError` if it is missing or invalid."""
    text = read_text(path, what)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise DataFileError(path, what, f"invalid JSON ({exc})") from None


def write_floats(path, values, fmt: str = "%.6f") -> None:
    """Write floats comma-separated on one line, atomically (the data sets' text format)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    write_text(path, ",".join(fmt % v for v in values) + "\n")
