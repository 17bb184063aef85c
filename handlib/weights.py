"""Shipped model weights: where they live, how they are saved, loaded and recorded.

Models the notebooks use ship in ``data/weights/NAME.keras`` (Keras' native format,
loaded with ``safe_mode=True``; custom layers are registered under the ``handlib``
package), each with ``NAME.json`` beside it: the training record (exact command, git
commit, data and licences, steps, images seen, wall time, machine, final losses and the
figures its model card reports). Nothing is downloaded.
"""
from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path

from handlib import files

WEIGHTS_DIR = files.REPO_ROOT / "data" / "weights"


def weights_path(name: str) -> Path:
    """``data/weights/NAME.keras``."""
    return WEIGHTS_DIR / f"{name}.keras"


def record_path(name_or_path) -> Path:
    """The training record beside a weights file (``NAME.json``)."""
    p = Path(name_or_path)
    if p.suffix != ".keras":
        p = weights_path(str(name_or_path))
    return p.with_suffix(".json")


def save_model(model, path) -> Path:
    """Save a Keras model atomically (temporary file in the same folder, then rename),
    without its optimizer or compile state: a shipped model is for inference and
    fine-tuning starts a new optimizer (the training runs keep their own backups)."""
    import keras
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if getattr(model, "optimizer", None) is not None:
        bare = keras.Model.from_config(model.get_config())
        bare.set_weights(model.get_weights())
        model = bare
    with files.atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)
    return path


MODEL_MODULES = "handlib.pose_network (RegNet), handlib.gan (the GeoConGAN), handlib.silnet (SilNet)"


def load_model(name_or_path, compile: bool = False):
    """Load ``data/weights/NAME.keras`` (or a path) with ``safe_mode=True``.

    Saving and loading know no model: each model module registers its own layers when it
    is imported, so the caller imports the module of what it loads first (for example
    ``from handlib import pose_network`` before loading ``"regnet"``; the notebooks do it in
    their Setup cell). Raises FileNotFoundError naming the file when it is missing, and
    :class:`handlib.files.DataFileError` when it is not a Keras model file or uses layers
    no imported module has registered (the message says which modules to import).
    """
    from handlib import backend
    backend.tensorflow()
    import keras
    p = Path(name_or_path)
    if p.suffix != ".keras":
        p = weights_path(str(name_or_path))
    if not p.is_file():
        raise FileNotFoundError(f"{p}: expected a Keras model file (.keras); it does not exist. "
                                "Shipped weights live in data/weights/; train your own with the "
                                "command in the model's training record")
    try:
        return keras.saving.load_model(p, compile=compile, safe_mode=True)
    except TypeError as exc:                 # Keras' answer to an unregistered layer class
        raise files.DataFileError(p, "a Keras model whose layers are registered: import the module "
                                  f"that defines it before loading ({MODEL_MODULES})",
                                  f"layers no imported module registered ({str(exc)[:120]}...)") from exc
    except (ValueError, OSError, KeyError) as exc:
        raise files.DataFileError(p, "a Keras model file (.keras, a zip archive)",
                                  f"something unreadable ({type(exc).__name__}: {exc})") from exc


def git_commit() -> str:
    """The repository's current commit (``+dirty`` when files differ), or "unknown"."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=files.REPO_ROOT, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=files.REPO_ROOT, text=True, capture_output=True).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cpu_name() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), else what ``platform`` says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> str:
    """A one-line description of this machine (CPU model and cores, GPU if TensorFlow sees one)."""
    desc = f"{cpu_name()}, {os.cpu_count()} cores"
    try:
        from handlib import backend
        gpus = backend.tensorflow().config.list_physical_devices("GPU")
        if gpus:
            desc += f", GPU: {len(gpus)} x " + ", ".join(g.name for g in gpus)
        else:
            desc += ", no GPU"
    except Exception:  # noqa: BLE001  (a record must not fail on a probe)
        pass
    return desc


class Stopwatch:
    """Wall time across sittings: ``elapsed`` adds this sitting's seconds to ``before``."""

    def __init__(self, before: float = 0.0):
        self.before = float(before)
        self.start = time.time()

    @property
    def elapsed(self) -> float:
        return self.before + time.time() - self.start


def wall_clock_callback(clock: Stopwatch, path):
    """A Keras callback that writes ``{"seconds": clock.elapsed}`` to ``path`` after each
    epoch, so the wall time of a run interrupted and resumed adds up across sittings."""
    import keras
    return keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: files.write_json(path, {"seconds": clock.elapsed}))


def check_run_config(out, config: dict, what: str) -> None:
    """Refuse to resume the run folder ``out`` when its ``config.json`` (written by an
    earlier run) differs from ``config``; ValueError naming the differing settings."""
    path = Path(out) / "config.json"
    if path.is_file():
        old = files.read_json(path, f"a {what} run configuration")
        if old != config:
            diff = {k: (old.get(k), config.get(k)) for k in sorted(set(old) | set(config))
                    if old.get(k) != config.get(k)}
            raise ValueError(f"{out} holds a run with other settings {diff}; choose another "
                             "--out, or the same settings to resume")
