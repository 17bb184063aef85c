"""Array backends: one small namespace of operations for NumPy and one for TensorFlow.

Geometry that must run both in NumPy (data making, fitting, tests) and in TensorFlow
(the input pipeline, the networks' layers) is written once against these namespaces
(``xp``), as forward kinematics (:mod:`handlib.hand_model`) and the crop camera
(:mod:`handlib.crop_camera`) are. :func:`tensorflow` imports TensorFlow quietly: every
handlib module imports it through this function.
"""
from __future__ import annotations

import contextlib
import functools
import os
import sys
import tempfile
from types import SimpleNamespace

import numpy as np

NP = SimpleNamespace(
    stack=np.stack, concat=np.concatenate, einsum=np.einsum,
    sin=np.sin, cos=np.cos, sqrt=np.sqrt, sum=np.sum, inv=np.linalg.inv,
    asarray=lambda x, like=None: np.asarray(x, dtype=np.float64),
    const=lambda x, like: np.asarray(x, dtype=like.dtype))
"""The NumPy backend (float64 by default)."""


@contextlib.contextmanager
def _stderr_captured():
    """Point file descriptor 2 at a temporary file for the duration (C++ logs included);
    if the block raises, what was written there is replayed on stderr first.

    Descriptor 2 itself, not ``sys.stderr``: in a Jupyter kernel ``sys.stderr`` is a
    Python stream while the C++ libraries write to descriptor 2, which the kernel
    forwards to the notebook as a red stderr box.
    """
    fd = 2
    try:
        sys.stderr.flush()
        saved = os.dup(fd)
    except OSError:                                    # no descriptor 2: nothing to hide
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), fd)
        try:
            yield
        except BaseException:
            os.dup2(saved, fd)
            capture.seek(0)
            sys.stderr.write(capture.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, fd)
            os.close(saved)


def tensorflow():
    """Import and return TensorFlow without its start-up log lines.

    ``TF_CPP_MIN_LOG_LEVEL=3`` silences TensorFlow's own C++ logs, but the CUDA stub and
    absl print a few lines ("All log messages before absl::InitializeLog() ...", "Could
    not find cuda drivers ...") while the library loads, whatever the settings. They go
    to file descriptor 2, so the first import runs with that descriptor pointed at a
    temporary file; if the import fails, those lines are printed before the error.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _stderr_captured():
        import tensorflow as tf
    return tf


@functools.lru_cache(maxsize=1)
def TF() -> SimpleNamespace:
    """The TensorFlow backend (differentiable)."""
    tf = tensorflow()
    return SimpleNamespace(
        stack=tf.stack, concat=tf.concat, einsum=tf.einsum,
        sin=tf.sin, cos=tf.cos, sqrt=tf.sqrt, sum=tf.reduce_sum, inv=tf.linalg.inv,
        asarray=lambda x, like=None: tf.convert_to_tensor(x),
        const=lambda x, like: tf.constant(x, dtype=like.dtype))
