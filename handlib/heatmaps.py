"""Gaussian joint heatmaps: one definition for targets, rendering and decoding.

Introduced in ``notebooks/01_dataset_preparation.ipynb``; RegNet's rendering layer uses
the same functions, so target and rendered heatmaps can never disagree in width, peak or
grid (a mistake of an earlier public re-implementation).

Conventions: a heatmap of ``heatmap_size`` pixels covers an input image of
``input_size`` pixels; pixel centres are at integer coordinates in both, so an input
pixel ``p`` sits at heatmap coordinate ``(p + 0.5) * heatmap_size / input_size - 0.5``.
A joint's heatmap is ``exp(-d^2 / (2 sigma^2))`` with ``d`` the distance in heatmap
pixels to the joint: its peak is 1 at the joint.
"""
from __future__ import annotations

import numpy as np

DEFAULT_SIGMA = 1.5   # heatmap pixels


def to_heatmap_coords(uv, input_size: int, heatmap_size: int):
    """Input-image pixels (..., 2) -> heatmap pixels (NumPy or TF tensors)."""
    r = heatmap_size / input_size
    return (uv + 0.5) * r - 0.5


def to_image_coords(uv_hm, input_size: int, heatmap_size: int):
    """Heatmap pixels (..., 2) -> input-image pixels (inverse of :func:`to_heatmap_coords`)."""
    r = input_size / heatmap_size
    return (uv_hm + 0.5) * r - 0.5


def gaussian_heatmaps(uv_hm, size: int, sigma: float = DEFAULT_SIGMA) -> np.ndarray:
    """Heatmaps (..., size, size, J) for joints at heatmap coordinates (..., J, 2)."""
    uv_hm = np.asarray(uv_hm, dtype=np.float64)
    g = np.arange(size, dtype=np.float64)
    dx = g[None, :, None] - uv_hm[..., None, None, :, 0]     # (..., 1, size, J)
    dy = g[:, None, None] - uv_hm[..., None, None, :, 1]     # (..., size, 1, J)
    return np.exp(-(dx ** 2 + dy ** 2) / (2 * sigma ** 2)).astype(np.float32)


def gaussian_heatmaps_tf(uv_hm, size: int, sigma: float = DEFAULT_SIGMA):
    """TensorFlow version of :func:`gaussian_heatmaps` (differentiable in ``uv_hm``)."""
    import tensorflow as tf
    uv_hm = tf.convert_to_tensor(uv_hm)
    g = tf.range(size, dtype=uv_hm.dtype)
    dx = g[None, :, None] - uv_hm[..., None, None, :, 0]
    dy = g[:, None, None] - uv_hm[..., None, None, :, 1]
    return tf.exp(-(dx ** 2 + dy ** 2) / (2.0 * sigma ** 2))


def heatmap_maxima(heatmaps) -> tuple[np.ndarray, np.ndarray]:
    """Locations and values of each joint's maximum.

    Args: heatmaps (..., H, W, J). Returns (uv_hm (..., J, 2) in heatmap pixels, peak
    (..., J) values). The integer maximum is refined to sub-pixel by fitting a parabola
    to the log of the values either side along x and along y (exact for a Gaussian).
    """
    h = np.asarray(heatmaps, dtype=np.float64)
    H, W, J = h.shape[-3:]
    flat = h.reshape(h.shape[:-3] + (H * W, J))
    idx = flat.argmax(axis=-2)                                  # (..., J)
    peak = np.take_along_axis(flat, idx[..., None, :], axis=-2)[..., 0, :]
    y, x = np.divmod(idx, W)
    lead = tuple(np.indices(idx.shape)[:-1])
    jj = np.indices(idx.shape)[-1]

    def value(yy, xx):
        ok = (yy >= 0) & (yy < H) & (xx >= 0) & (xx < W)
        v = h[lead + (np.clip(yy, 0, H - 1), np.clip(xx, 0, W - 1), jj)]
        return np.where(ok, v, np.nan)

    def offset(lo, mid, hi):
        with np.errstate(divide="ignore", invalid="ignore"):
            a, b, c = np.log(lo), np.log(mid), np.log(hi)
            d = 0.5 * (a - c) / (a - 2 * b + c)
        return np.where(np.isfinite(d) & (np.abs(d) <= 0.5), d, 0.0)

    c = value(y, x)
    dx = offset(value(y, x - 1), c, value(y, x + 1))
    dy = offset(value(y - 1, x), c, value(y + 1, x))
    return np.stack([x + dx, y + dy], axis=-1), peak
