"""The camera: pinhole intrinsics, projection, back-projection, crops as intrinsics.

Introduced in ``notebooks/00_course_overview.ipynb``.

Conventions: camera frame as OpenCV (x right, y down, z forward), millimetres. Pixel
coordinates ``(u, v)`` = (column, row), with the *centre* of pixel ``(i, j)`` at
``u = j, v = i`` (OpenCV's convention).

A crop of the GANerated data set is described by ``(u, v, scale)``: the crop's top-left
corner in the original image and its scale, so that a point's crop pixel is
``uv_crop = scale * (project(K, X) - [u, v])``. That is the same as projecting with the
*crop intrinsics* ``crop_intrinsics(K, u, v, scale)``. Crops in general (the course's
perspective crop camera, rotations, flips) live in :mod:`handlib.crop_camera`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from handlib import backend


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels, and the image size they belong to."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    @property
    def K(self) -> np.ndarray:
        """The 3x3 intrinsic matrix."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def to_dict(self) -> dict:
        return {"fx": self.fx, "fy": self.fy, "cx": self.cx, "cy": self.cy,
                "width": self.width, "height": self.height}


GANERATED = Intrinsics(fx=617.173, fy=617.173, cx=315.453, cy=242.259, width=640, height=480)
"""The 640x480 colour camera of GANerated Hands (and SynthHands' colour images)."""
SYNTHHANDS_DEPTH = Intrinsics(fx=475.62, fy=475.62, cx=311.125, cy=245.965, width=640, height=480)
"""SynthHands' depth camera, the frame of its ``joint_pos.txt``."""
SYNTHHANDS_DEPTH_TO_COLOR = np.array([24.7, -0.0471401, 3.72045])
"""Translation (mm) to add to SynthHands' depth-frame joints before projecting on colour."""


def _K(camera) -> np.ndarray:
    K = camera.K if isinstance(camera, Intrinsics) else np.asarray(camera, dtype=np.float64)
    if K.shape != (3, 3):
        raise ValueError(f"camera must be Intrinsics or a 3x3 matrix, got shape {K.shape}")
    return K


def _trailing(name: str, a, n: int):
    if a.ndim < 1 or a.shape[-1] != n:
        raise ValueError(f"{name} must have shape (..., {n}), got {tuple(a.shape)}")


def _project(xp, K, p):
    """Shared pinhole projection for NumPy and TensorFlow (``xp``: a backend)."""
    z = p[..., 2:3]
    return xp.concat([K[0, 0] * p[..., 0:1] / z + K[0, 2],
                      K[1, 1] * p[..., 1:2] / z + K[1, 2]], -1)


def project(camera, points) -> np.ndarray:
    """Project 3D points (..., 3) in mm (camera frame) to pixels (..., 2).

    ``camera``: an :class:`Intrinsics` or a 3x3 matrix (zero skew).
    """
    p = np.asarray(points, dtype=np.float64)
    _trailing("points", p, 3)
    return _project(backend.NP, _K(camera), p)


def project_tf(camera, points):
    """TensorFlow twin of :func:`project` (differentiable in ``points`` and ``camera``).

    ``camera``: :class:`Intrinsics`, a 3x3 matrix, or a batch of matrices (B..., 3, 3)
    for points (B..., N, 3) (one camera per sample, e.g. the pipeline's ``crop_K``).
    ``points`` (..., 3) tensor in mm; returns (..., 2) pixels in the points' dtype. Used
    by RegNet's projection layer and the fitting's 2D term.
    """
    tf = backend.tensorflow()
    p = tf.convert_to_tensor(points)
    _trailing("points", p, 3)
    if isinstance(camera, Intrinsics) or np.ndim(camera) == 2:
        return _project(backend.TF(), tf.constant(_K(camera), dtype=p.dtype), p)
    K = tf.cast(tf.convert_to_tensor(camera), p.dtype)
    if K.shape[-2:] != (3, 3) or K.shape.rank != p.shape.rank:
        raise ValueError(f"a batch of cameras (B..., 3, 3) needs points (B..., N, 3); got "
                         f"{tuple(K.shape)} and {tuple(p.shape)}")
    k = lambda i, j: K[..., i, j][..., None, None]  # noqa: E731  (broadcast over points)
    z = p[..., 2:3]
    return tf.concat([k(0, 0) * p[..., 0:1] / z + k(0, 2),
                      k(1, 1) * p[..., 1:2] / z + k(1, 2)], -1)


def back_project(camera, uv, depth) -> np.ndarray:
    """Pixels (..., 2) at depths (...) in mm -> 3D points (..., 3) in the camera frame."""
    K = _K(camera)
    uv = np.asarray(uv, dtype=np.float64)
    _trailing("uv", uv, 2)
    z = np.asarray(depth, dtype=np.float64)
    x = (uv[..., 0] - K[0, 2]) / K[0, 0] * z
    y = (uv[..., 1] - K[1, 2]) / K[1, 1] * z
    return np.stack([x, y, np.broadcast_to(z, x.shape)], axis=-1)


def crop_intrinsics(K, u: float, v: float, scale: float) -> np.ndarray:
    """The 3x3 intrinsics of an affine crop (top-left ``(u, v)``, ``scale``) of an image
    with ``K``: the GANerated files' crops. See :mod:`handlib.crop_camera` for crops in
    general (perspective, rotated, flipped)."""
    K = _K(K)
    A = np.array([[scale, 0.0, -scale * u], [0.0, scale, -scale * v], [0.0, 0.0, 1.0]])
    return A @ K


DEFAULT_FOV_DEG = 60.0
"""Horizontal field of view assumed when no intrinsics are given (a typical webcam)."""


def default_intrinsics(width: int, height: int, fov_deg: float = DEFAULT_FOV_DEG) -> np.ndarray:
    """(3, 3) pinhole intrinsics of a ``width`` x ``height`` image with the given
    horizontal field of view (degrees), principal point at the image's centre (pixels)."""
    f = (width / 2.0) / math.tan(math.radians(fov_deg) / 2.0)
    return np.array([[f, 0, (width - 1) / 2.0], [0, f, (height - 1) / 2.0], [0, 0, 1.0]])
