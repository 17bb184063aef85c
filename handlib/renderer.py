"""The renderer: a z-buffer triangle rasteriser and smooth shading, in NumPy.

Introduced in ``notebooks/01_dataset_preparation.ipynb``.

:func:`rasterize` finds, for every pixel, the nearest triangle covering the pixel's
centre (a z-buffer, so self-occlusion is correct), with perspective-correct barycentric
coordinates; :func:`shade` lights the interpolated vertex normals (Lambert diffuse with a
"wrap" term for skin, ambient, Blinn-Phong specular). Everything is vectorised over
triangles and pixels: a 256x256 hand renders in a few milliseconds on one core.

Units: vertices in the camera frame (mm, OpenCV axes), depth in mm along the optical
axis, pixel centres at integer coordinates.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Fragments:
    """The result of rasterising a mesh into an ``H`` x ``W`` image.

    ``triangle`` (H, W) int: index of the visible triangle, -1 for background.
    ``bary`` (H, W, 3): perspective-correct barycentric coordinates of the pixel centre.
    ``depth`` (H, W): depth (z) in mm, ``inf`` for background.
    """

    triangle: np.ndarray
    bary: np.ndarray
    depth: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """(H, W) bool silhouette."""
        return self.triangle >= 0


def vertex_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals (V, 3) of a counter-clockwise mesh."""
    v = vertices
    fn = np.cross(v[triangles[:, 1]] - v[triangles[:, 0]], v[triangles[:, 2]] - v[triangles[:, 0]])
    n = np.zeros_like(v)
    for k in range(3):
        np.add.at(n, triangles[:, k], fn)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def rasterize(vertices: np.ndarray, triangles: np.ndarray, K: np.ndarray,
              width: int, height: int, cull_backfaces: bool = True,
              near: float = 1.0) -> Fragments:
    """Z-buffer rasterisation of a triangle mesh seen by a pinhole camera.

    Args:
      vertices: (V, 3) camera frame, mm. triangles: (F, 3) counter-clockwise seen from
        outside. K: 3x3 intrinsics (pixels). width, height: image size in pixels.
      cull_backfaces: skip triangles facing away from the camera (correct for a closed
        surface; a hole then shows what is behind the mesh).
      near: triangles with a vertex closer than this (mm) are skipped.
    """
    v = np.asarray(vertices, dtype=np.float64)
    tri = np.asarray(triangles, dtype=np.int64)
    z = v[:, 2]
    zs = np.where(z > near, z, np.inf)
    x = K[0, 0] * v[:, 0] / zs + K[0, 2]
    y = K[1, 1] * v[:, 1] / zs + K[1, 2]
    keep = np.all(z[tri] > near, axis=1)
    if cull_backfaces:
        a, b, c = v[tri[:, 0]], v[tri[:, 1]], v[tri[:, 2]]
        normal = np.cross(b - a, c - a)
        keep &= np.einsum("ij,ij->i", normal, a) < 0
    tri = tri[keep]
    tx, ty = x[tri], y[tri]                                     # (F, 3) pixels
    x0 = np.maximum(np.ceil(tx.min(1)), 0).astype(np.int64)
    x1 = np.minimum(np.floor(tx.max(1)), width - 1).astype(np.int64)
    y0 = np.maximum(np.ceil(ty.min(1)), 0).astype(np.int64)
    y1 = np.minimum(np.floor(ty.max(1)), height - 1).astype(np.int64)
    w = x1 - x0 + 1
    h = y1 - y0 + 1
    ok = (w > 0) & (h > 0)
    tri, tx, ty, x0, y0, w, h = tri[ok], tx[ok], ty[ok], x0[ok], y0[ok], w[ok], h[ok]
    tri_index = np.flatnonzero(keep)[ok]

    # one candidate per (triangle, pixel of its bounding box)
    n = w * h
    fid = np.repeat(np.arange(len(tri)), n)
    start = np.cumsum(n) - n
    local = np.arange(fid.size) - start[fid]
    px = x0[fid] + local % w[fid]
    py = y0[fid] + local // w[fid]

    # barycentric coordinates by edge functions (pixel centres at integers)
    ax, ay = tx[fid, 0], ty[fid, 0]
    bx, by = tx[fid, 1], ty[fid, 1]
    cx, cy = tx[fid, 2], ty[fid, 2]
    area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
    w0 = ((bx - px) * (cy - py) - (by - py) * (cx - px))
    w1 = ((cx - px) * (ay - py) - (cy - py) * (ax - px))
    w2 = ((ax - px) * (by - py) - (ay - py) * (bx - px))
    with np.errstate(divide="ignore", invalid="ignore"):
        l0, l1, l2 = w0 / area, w1 / area, w2 / area
    eps = -1e-9
    inside = (l0 >= eps) & (l1 >= eps) & (l2 >= eps) & (np.abs(area) > 1e-12)
    fid, px, py, l0, l1, l2 = fid[inside], px[inside], py[inside], l0[inside], l1[inside], l2[inside]

    # perspective-correct interpolation: 1/z is affine in screen space
    tz = z[tri[fid]]
    inv_z = l0 / tz[:, 0] + l1 / tz[:, 1] + l2 / tz[:, 2]
    depth = 1.0 / inv_z
    pix = py * width + px
    zbuf = np.full(width * height, np.inf)
    np.minimum.at(zbuf, pix, depth)
    win = depth <= zbuf[pix]
    tri_buf = np.full(width * height, -1, dtype=np.int64)
    bary = np.zeros((width * height, 3))
    idx = pix[win]
    tri_buf[idx] = tri_index[fid[win]]
    pc = np.stack([l0[win] / tz[win, 0], l1[win] / tz[win, 1], l2[win] / tz[win, 2]], 1)
    bary[idx] = pc / inv_z[win, None]
    return Fragments(triangle=tri_buf.reshape(height, width),
                     bary=bary.reshape(height, width, 3),
                     depth=zbuf.reshape(height, width))


def interpolate(frags: Fragments, triangles: np.ndarray, attributes: np.ndarray,
                background=0.0) -> np.ndarray:
    """Interpolate per-vertex ``attributes`` (V, C) over the visible pixels -> (H, W, C)."""
    H, W = frags.triangle.shape
    out = np.empty((H, W, attributes.shape[1]))
    out[...] = background
    m = frags.mask
    t = triangles[frags.triangle[m]]                       # (P, 3)
    b = frags.bary[m]                                      # (P, 3)
    out[m] = np.einsum("pk,pkc->pc", b, attributes[t])
    return out


@dataclass
class Light:
    """A directional light: ``direction`` (3,) points *from* the light into the scene
    (camera frame), ``color`` (3,) RGB intensity."""

    direction: np.ndarray
    color: np.ndarray


def shade(frags: Fragments, vertices: np.ndarray, triangles: np.ndarray,
          albedo: np.ndarray, lights: list[Light], ambient=0.3, wrap: float = 0.0,
          specular: float = 0.0, shininess: float = 20.0) -> np.ndarray:
    """Smooth-shaded colour of the visible pixels.

    Args:
      albedo: (V, 3) per-vertex RGB in [0, 1], or (3,) for a uniform material.
      lights: directional lights; ambient: scalar or (3,) RGB ambient light.
      wrap: "wrap lighting" in [0, 1] (0 = Lambert; larger softens the terminator like
        light scattering under skin).
      specular: Blinn-Phong specular strength.
    Returns:
      (H, W, 3) float RGB in [0, 1] (zero outside the mask); composite it over a
      background with :attr:`Fragments.mask`.
    """
    normals = vertex_normals(vertices, triangles)
    m = frags.mask
    t = triangles[frags.triangle[m]]
    b = frags.bary[m]
    n = np.einsum("pk,pkc->pc", b, normals[t])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    pos = np.einsum("pk,pkc->pc", b, vertices[t])
    view = -pos / np.linalg.norm(pos, axis=1, keepdims=True)
    alb = np.asarray(albedo, dtype=np.float64)
    alb = np.einsum("pk,pkc->pc", b, alb[t]) if alb.ndim == 2 else np.broadcast_to(alb, n.shape)
    light = np.zeros_like(n) + np.asarray(ambient, dtype=np.float64)
    spec = np.zeros_like(n)
    for L in lights:
        d = -np.asarray(L.direction, dtype=np.float64)
        d = d / np.linalg.norm(d)
        ndl = n @ d
        diffuse = np.clip((ndl + wrap) / (1.0 + wrap), 0.0, None)
        light += diffuse[:, None] * np.asarray(L.color)
        if specular > 0:
            half = d + view
            half /= np.linalg.norm(half, axis=1, keepdims=True)
            s = np.clip(np.sum(n * half, axis=1), 0.0, None) ** shininess
            spec += (specular * s * (ndl > 0))[:, None] * np.asarray(L.color)
    H, W = frags.triangle.shape
    out = np.zeros((H, W, 3))
    out[m] = np.clip(alb * light + spec, 0.0, 1.0)
    return out
