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

from handlib import backend

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
    if uv_hm.ndim < 2 or uv_hm.shape[-1] != 2:
        raise ValueError(f"uv_hm must have shape (..., J, 2), got {uv_hm.shape}")
    g = np.arange(size, dtype=np.float64)
    dx = g[None, :, None] - uv_hm[..., None, None, :, 0]     # (..., 1, size, J)
    dy = g[:, None, None] - uv_hm[..., None, None, :, 1]     # (..., size, 1, J)
    return np.exp(-(dx ** 2 + dy ** 2) / (2 * sigma ** 2)).astype(np.float32)


def gaussian_heatmaps_tf(uv_hm, size: int, sigma: float = DEFAULT_SIGMA):
    """TensorFlow version of :func:`gaussian_heatmaps` (differentiable in ``uv_hm``)."""
    tf = backend.tensorflow()
    uv_hm = tf.convert_to_tensor(uv_hm)
    g = tf.range(size, dtype=uv_hm.dtype)
    dx = g[None, :, None] - uv_hm[..., None, None, :, 0]
    dy = g[:, None, None] - uv_hm[..., None, None, :, 1]
    return tf.exp(-(dx ** 2 + dy ** 2) / (2.0 * sigma ** 2))


def heatmap_maxima(heatmaps) -> tuple[np.ndarray, np.ndarray]:
    """Locations and values of each joint's maximum.

    Args: heatmaps (..., H, W, J) (a single map: ``h[..., None]``).
    Returns (uv_hm (..., J, 2) in heatmap pixels, peak (..., J) values). The peak tells
    an empty map (peak near 0: the joint was not found) from a confident one (near 1).

    The integer maximum is refined to sub-pixel by fitting a parabola to the log of the
    values (exact for a Gaussian), along x and along y: through the maximum and its two
    neighbours inside the map, or, on the first or last row or column, through the
    maximum and the next two pixels inwards (a one-sided fit, so a joint near the border
    keeps its sub-pixel offset). Offsets are clipped to 1 pixel from the maximum (a
    joint further outside the map cannot be located from it); the one-sided fit
    extrapolates, so with noisy maps it is a few times less precise than the central one.
    """
    h = np.asarray(heatmaps, dtype=np.float64)
    if h.ndim < 3:
        raise ValueError(f"heatmaps must have shape (..., H, W, J), got {h.shape}; "
                         "for one map (H, W) pass h[..., None]")
    H, W, J = h.shape[-3:]
    flat = h.reshape(h.shape[:-3] + (H * W, J))
    idx = flat.argmax(axis=-2)                                  # (..., J)
    peak = np.take_along_axis(flat, idx[..., None, :], axis=-2)[..., 0, :]
    y, x = np.divmod(idx, W)
    lead = tuple(np.indices(idx.shape)[:-1])
    jj = np.indices(idx.shape)[-1]

    def value(yy, xx):
        return h[lead + (np.clip(yy, 0, H - 1), np.clip(xx, 0, W - 1), jj)]

    def offset(pos, n, sample):
        """Sub-pixel offset along one axis for integer positions ``pos`` in [0, n)."""
        if n < 3:
            return np.zeros(pos.shape)
        # three consecutive samples t0, t0+1, t0+2 containing pos, inside the map
        t0 = np.clip(pos - 1, 0, n - 3)
        with np.errstate(divide="ignore", invalid="ignore"):
            a, b, c = (np.log(sample(t0 + k)) for k in range(3))
            curv = a - 2 * b + c                                 # 2 * quadratic coefficient
            vertex = t0 + 1 + 0.5 * (a - c) / curv              # where the parabola peaks
        d = vertex - pos
        ok = np.isfinite(d) & (curv < 0)
        return np.where(ok, np.clip(d, -1.0, 1.0), 0.0)

    dx = offset(x, W, lambda t: value(y, t))
    dy = offset(y, H, lambda t: value(t, x))
    return np.stack([x + dx, y + dy], axis=-1), peak


def decoding_errors(sigma: float, size: int, n: int = 2000, noise: float = 0.0, input_size: int = 128,
                    seed: int = 0, refine: bool = True) -> np.ndarray:
    """Measured sub-pixel decoding error of :func:`heatmap_maxima`, in **input** pixels.

    ``n`` joints at random sub-pixel places (away from the border) are drawn as
    Gaussians of width ``sigma`` (heatmap pixels) on ``size`` x ``size`` maps, with
    Gaussian noise of standard deviation ``noise`` (in units of the peak) added, and
    decoded (``refine=False``: the integer maximum only, for comparison); the distances
    to the true places are scaled by ``input_size / size``, the input pixels one heatmap
    pixel covers. Returns (n,) distances.
    """
    rng = np.random.default_rng(seed)
    uv = rng.uniform(3, size - 4, size=(n, 1, 2))
    maps = gaussian_heatmaps(uv, size, sigma)[..., 0]                   # (n, size, size)
    if noise > 0:
        maps = maps + rng.normal(scale=noise, size=maps.shape).astype(np.float32)
    if refine:
        found = heatmap_maxima(maps[..., None])[0][:, 0]
    else:
        y, x = np.divmod(maps.reshape(n, -1).argmax(1), size)
        found = np.stack([x, y], -1).astype(np.float64)
    return np.linalg.norm(found - uv[:, 0], axis=-1) * (input_size / size)
