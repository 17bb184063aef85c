"""Callbacks the course's training commands share: a run whose loss stops being finite
stops at once and saves nothing (``train-regnet``, ``train-gan``, ``train-silnet``).

Introduced in ``notebooks/03_regnet_training.ipynb`` (``train-regnet``'s options).
"""
from __future__ import annotations

import numpy as np

from handlib import backend

backend.tensorflow()
import keras  # noqa: E402  (after the quiet TensorFlow import)


class TrainingDiverged(ValueError):
    """A run whose loss (or weights) stopped being finite: nothing is saved or shipped."""


class StopOnNaN(keras.callbacks.TerminateOnNaN):
    """``TerminateOnNaN`` that raises :class:`TrainingDiverged` at the first batch (or
    epoch's end) where a watched value is NaN or infinite. ``keys``: the logged values to
    watch (default ``loss`` and ``val_loss``; a GAN logs its terms by name). Put it first
    among the callbacks: it then runs before ``BackupAndRestore`` saves the epoch, so no
    backup holds the diverged weights and ``fit`` ends without a model."""

    def __init__(self, keys=("loss", "val_loss")):
        super().__init__()
        self.keys = tuple(keys)
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._check(logs, f"step {batch + 1} of epoch {self.epoch + 1}")

    def on_batch_end(self, batch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        self._check(logs, f"the end of epoch {epoch + 1}")

    def _check(self, logs, where):
        for key in self.keys:
            value = (logs or {}).get(key)
            if value is not None and not np.isfinite(float(np.asarray(value))):
                raise TrainingDiverged(
                    f"training diverged: {key} became {float(np.asarray(value))} at {where}; "
                    "no model was saved (try a lower learning rate, in a new --out)")
