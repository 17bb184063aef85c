"""The camera: pinhole intrinsics, projection, back-projection, crops as intrinsics.

Introduced in ``notebooks/00_course_overview.ipynb``.

Conventions: camera frame as OpenCV (x right, y down, z forward), millimetres. Pixel
coordinates ``(u, v)`` = (column, row), with the *centre* of pixel ``(i, j)`` at
``u = j, v = i`` (OpenCV's convention).

A crop of the GANerated data set is described by ``(u, v, scale)``: the crop's top-left
corner in the original image and its scale, so that a point's crop pixel is
``uv_crop = scale * (project(K, X) - [u, v])``. That is the same as projecting with the
*crop intrinsics* ``crop_intrinsics(K, u, v, scale)``; :func:`crop_image` resamples an
image with exactly this map.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


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

    def crop(self, u: float, v: float, scale: float, size: int) -> "Intrinsics":
        """Intrinsics of a ``size`` x ``size`` crop with top-left ``(u, v)`` and ``scale``."""
        return replace(self, fx=self.fx * scale, fy=self.fy * scale,
                       cx=(self.cx - u) * scale, cy=(self.cy - v) * scale,
                       width=int(size), height=int(size))

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
    return camera.K if isinstance(camera, Intrinsics) else np.asarray(camera, dtype=np.float64)


def project(camera, points) -> np.ndarray:
    """Project 3D points (..., 3) in mm (camera frame) to pixels (..., 2).

    ``camera``: an :class:`Intrinsics` or a 3x3 matrix.
    """
    K = _K(camera)
    p = np.asarray(points, dtype=np.float64)
    z = p[..., 2:3]
    return np.concatenate([K[0, 0] * p[..., 0:1] / z + K[0, 2],
                           K[1, 1] * p[..., 1:2] / z + K[1, 2]], axis=-1)


def back_project(camera, uv, depth) -> np.ndarray:
    """Pixels (..., 2) at depths (...) in mm -> 3D points (..., 3) in the camera frame."""
    K = _K(camera)
    uv = np.asarray(uv, dtype=np.float64)
    z = np.asarray(depth, dtype=np.float64)
    x = (uv[..., 0] - K[0, 2]) / K[0, 0] * z
    y = (uv[..., 1] - K[1, 2]) / K[1, 1] * z
    return np.stack([x, y, np.broadcast_to(z, x.shape)], axis=-1)


def crop_intrinsics(K, u: float, v: float, scale: float) -> np.ndarray:
    """The 3x3 intrinsics of a crop (top-left ``(u, v)``, ``scale``) of an image with ``K``."""
    K = _K(K)
    A = np.array([[scale, 0.0, -scale * u], [0.0, scale, -scale * v], [0.0, 0.0, 1.0]])
    return A @ K


def to_crop(uv, u: float, v: float, scale: float) -> np.ndarray:
    """Full-image pixels (..., 2) -> crop pixels: ``scale * (uv - [u, v])``."""
    return scale * (np.asarray(uv, dtype=np.float64) - np.array([u, v]))


def from_crop(uv_crop, u: float, v: float, scale: float) -> np.ndarray:
    """Crop pixels (..., 2) -> full-image pixels (inverse of :func:`to_crop`)."""
    return np.asarray(uv_crop, dtype=np.float64) / scale + np.array([u, v])


def square_crop_box(uv, size: int, margin: float = 0.25, min_side: float = 16.0):
    """A square crop ``(u, v, scale)`` around 2D points (N, 2) in full-image pixels.

    The box is centred on the points' bounding box and its side is the larger extent
    times ``1 + 2 * margin``; ``scale = size / side`` maps it to ``size`` pixels.
    """
    uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
    lo, hi = uv.min(axis=0), uv.max(axis=0)
    centre = (lo + hi) / 2
    side = max(float((hi - lo).max()) * (1 + 2 * margin), min_side)
    scale = size / side
    # pixel centres: crop pixel 0 and size-1 sit symmetrically about the centre
    u, v = centre - (size - 1) / (2 * scale)
    return float(u), float(v), float(scale)


def crop_image(image: np.ndarray, u: float, v: float, scale: float, size: int,
               interpolation=None, border_value=0) -> np.ndarray:
    """Resample the crop ``(u, v, scale)`` of ``image`` into a ``size`` x ``size`` image.

    Uses the exact map of :func:`to_crop` (pixel centres), so 2D labels transformed with
    :func:`to_crop` land on the same image features.
    """
    import cv2
    if interpolation is None:
        interpolation = cv2.INTER_LINEAR
    M = np.array([[scale, 0.0, -scale * u], [0.0, scale, -scale * v]])
    return cv2.warpAffine(image, M, (int(size), int(size)), flags=interpolation,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=border_value)
