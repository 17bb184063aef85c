"""The crop camera: one definition of a hand crop, shared by data, training, fitting and tracking.

Introduced in ``notebooks/00_course_overview.ipynb``; used by the renderer, the readers,
the input pipeline and (later) the tracker and the metrics.

The networks see a square crop around the hand, never the whole image. How the crop is
cut decides what its 3D target must be:

* An **affine crop** (cut a box out of the image and resize it, as the GANerated data
  set does) is just another set of intrinsics: ``uv_crop = scale * (uv - [u, v])``. But
  a box far from the principal point shows the hand *from the side*: the same crop
  image can come with different root-relative 3D joints depending on where it was cut.
* A **perspective crop** turns a virtual camera about its centre until its optical axis
  goes through the crop's centre (rotation ``R0``), turns it about that axis by the
  in-plane angle (``Rz``), and zooms (``K_crop``). The crop image is the source image
  resampled with the homography ``H = K_crop R K_source^-1``; the 3D target is the joints
  rotated by ``R`` (then normalised). A crop's appearance then fixes its target, wherever
  in the image it was cut: only the perspective *within* the crop remains.

Flipping (left hand <-> right hand) is part of the crop: ``flip=True`` reflects the crop
camera's x axis (``R = F Rz R0`` with ``F = diag(-1, 1, 1)``). Because the crop camera's
principal point is the crop's centre, that is *exactly* the image flip ``u -> S - 1 - u``
together with ``x -> -x`` for the 3D joints: one flip for images and labels.

Conventions: camera frames as OpenCV (x right, y down, z forward), millimetres; pixel
centres at integer coordinates (so a crop of ``S`` pixels has its centre at
``(S - 1) / 2``); angles in radians. ``R`` maps camera-frame vectors into the crop
camera's frame (``X_crop = R X_camera``); it is orthogonal, so its inverse is ``R.T``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from handlib import backend

CROP_MARGIN = 0.35
"""Margin of every hand crop, as a fraction of the 2D joints' extent on each side: the
box side is ``extent * (1 + 2 * CROP_MARGIN)``, so the joints span 59 % of the crop. The
joints lie inside the hand (finger tips short of the skin's end, the palm's edge beyond
its knuckles), by more of the joints' extent when the hand is foreshortened: on 150
rendered views the hand's skin (not its forearm) stays inside the crop in at least 93 %
of views with 0.35 and in at most 88 % with 0.25 (``tests/test_crop_camera.py`` checks
both). The rest of the margin leaves
room for the motion between two video frames when the tracker places a crop from the
previous frame's pose."""
MIN_CROP_SIDE = 16.0
"""Smallest crop side, in pixels of the source image: a floor against degenerate boxes
(all joints on one pixel), far below any real hand (a hand at arm's length spans more
than 100 px of a 640x480 image, and about 85 px of a rendered 256x256 crop)."""


# ------------------------------------------------------------------- shared maths (xp)
def _rotation_onto_axis(xp, d):
    """Rotations (..., 3, 3) taking unit vectors ``d`` (..., 3) onto +z by the smallest
    angle: ``R = I + [v]x + [v]x^2 / (1 + c)`` with ``v = d x z``, ``c = d . z``."""
    dx, dy, c = d[..., 0], d[..., 1], d[..., 2]
    k = 1.0 / (1.0 + c)
    return xp.stack([
        xp.stack([1.0 - dx * dx * k, -dx * dy * k, -dx], -1),
        xp.stack([-dx * dy * k, 1.0 - dy * dy * k, -dy], -1),
        xp.stack([dx, dy, c], -1)], -2)


def _rotation_z(xp, angle):
    c, s = xp.cos(angle), xp.sin(angle)
    zero, one = c * 0.0, c * 0.0 + 1.0
    return xp.stack([xp.stack([c, -s, zero], -1), xp.stack([s, c, zero], -1),
                     xp.stack([zero, zero, one], -1)], -2)


def crop_matrices(xp, centre, side, angle, flip, size, source_K, perspective=True):
    """The crop camera's ``R`` (3, 3), ``K_crop`` (3, 3) and homography ``H`` (3, 3).

    One implementation for NumPy (``xp = backend.NP``) and TensorFlow
    (``xp = backend.TF()``); all arguments are scalars or arrays of that backend
    except ``size`` and ``perspective`` (Python values).

    Args:
      centre: (2,) source pixels where the crop's optical axis meets the source image.
      side: crop side in source pixels (measured at the crop's centre).
      angle: in-plane rotation in radians (positive turns the image content clockwise
        on screen, as ``p_out = R(angle) p_in`` with y down).
      flip: 0 or 1 (a float): reflect the crop camera's x axis.
      size: output size S in pixels. source_K: (3, 3) intrinsics of the source image.
      perspective: False for an affine, unrotated, unflipped crop (a box cut and
        resized, like GANerated's): then R = I and ``K_crop = A K_source`` (callers
        pass angle = flip = 0; :class:`Crop` checks it).
    Returns: R (camera -> crop frame), K_crop, H (source pixels -> crop pixels).
    """
    fx, fy = source_K[0, 0], source_K[1, 1]
    o = (size - 1) / 2.0
    zoom = size / side
    zero = fx * 0.0
    one = zero + 1.0
    if perspective:
        ray = xp.einsum("ij,j->i", xp.inv(source_K), xp.stack([centre[0], centre[1], one]))
        d = ray / xp.sqrt(xp.sum(ray * ray))
        F = xp.stack([xp.stack([1.0 - 2.0 * flip, zero, zero]), xp.stack([zero, one, zero]),
                      xp.stack([zero, zero, one])])
        R = xp.einsum("ij,jk,kl->il", F, _rotation_z(xp, angle), _rotation_onto_axis(xp, d))
        K = xp.stack([xp.stack([fx * zoom, zero, zero + o]),
                      xp.stack([zero, fy * zoom, zero + o]),
                      xp.stack([zero, zero, one])])
    else:
        # p_out = zoom (p - centre) + o, i.e. the GANerated map scale * (p - [u, v])
        A = xp.stack([xp.stack([zero + zoom, zero, o - zoom * centre[0]]),
                      xp.stack([zero, zero + zoom, o - zoom * centre[1]]),
                      xp.stack([zero, zero, one])])
        R = xp.stack([xp.stack([one, zero, zero]), xp.stack([zero, one, zero]),
                      xp.stack([zero, zero, one])])
        K = xp.einsum("ij,jk->ik", A, source_K)
    H = xp.einsum("ij,jk,kl->il", K, R, xp.inv(source_K))
    return R, K, H


def warp_params(xp, H):
    """The 8 parameters of ``ImageProjectiveTransformV3`` (output pixel -> source
    pixel) for the homography ``H`` (source -> output)."""
    Hi = xp.inv(H)
    Hi = Hi / Hi[2, 2]
    return xp.stack([Hi[0, 0], Hi[0, 1], Hi[0, 2], Hi[1, 0], Hi[1, 1], Hi[1, 2],
                     Hi[2, 0], Hi[2, 1]])


def _apply_homography(xp, H, uv):
    h = xp.einsum("ij,...j->...i", H[:, :2], uv) + H[:, 2]
    return h[..., :2] / h[..., 2:3]


def apply_homography(H, uv):
    """Pixels (..., 2) mapped by the homography ``H`` (3, 3) (NumPy)."""
    uv = np.asarray(uv, dtype=np.float64)
    if uv.shape[-1] != 2:
        raise ValueError(f"uv must have shape (..., 2), got {uv.shape}")
    return _apply_homography(backend.NP, np.asarray(H, dtype=np.float64), uv)


def apply_homography_tf(H, uv):
    """TensorFlow twin of :func:`apply_homography` (``H`` and ``uv`` of one dtype)."""
    return _apply_homography(backend.TF(), H, uv)


# ------------------------------------------------------------------------ the object
@dataclass(frozen=True)
class Crop:
    """A square crop of a source image, as a virtual camera.

    ``centre`` (2,) and ``side`` in source pixels, ``size`` output pixels, ``angle``
    in-plane rotation (radians), ``flip`` (left-right), ``source_K`` (3x3 intrinsics of
    the image the crop is cut from), ``perspective`` (False: an affine box, as the
    GANerated files store). Derived: :attr:`R`, :attr:`K`, :attr:`H`.
    """

    centre: tuple
    side: float
    size: int
    source_K: tuple = field(repr=False)
    angle: float = 0.0
    flip: bool = False
    perspective: bool = True

    def __post_init__(self):
        K = np.asarray(self.source_K, dtype=np.float64)
        if K.shape != (3, 3) or not np.all(np.isfinite(K)):
            raise ValueError(f"source_K must be a finite 3x3 matrix, got {K!r}")
        centre = np.asarray(self.centre, dtype=np.float64)
        if centre.shape != (2,) or not np.all(np.isfinite(centre)):
            raise ValueError(f"centre must be two finite pixels, got {self.centre!r}")
        if not (np.isfinite(self.side) and self.side > 0):
            raise ValueError(f"side must be a positive number of pixels, got {self.side!r}")
        if int(self.size) < 1:
            raise ValueError(f"size must be a positive number of pixels, got {self.size!r}")
        if not self.perspective and (self.flip or self.angle != 0.0):
            raise ValueError("an affine crop (GANerated's kind) is unrotated and unflipped; "
                             "turn or flip a perspective crop instead (exact in the crop camera)")
        object.__setattr__(self, "source_K", tuple(map(tuple, K)))
        object.__setattr__(self, "centre", (float(centre[0]), float(centre[1])))
        object.__setattr__(self, "side", float(self.side))
        object.__setattr__(self, "size", int(self.size))
        object.__setattr__(self, "angle", float(self.angle))
        object.__setattr__(self, "flip", bool(self.flip))
        R, K, H = crop_matrices(backend.NP, np.array(self.centre), self.side, self.angle,
                                float(self.flip), self.size, np.array(self.source_K),
                                self.perspective)
        object.__setattr__(self, "_mats", (R, K, H))

    # derived matrices ----------------------------------------------------------
    @property
    def R(self) -> np.ndarray:
        """(3, 3) camera frame -> crop frame (a rotation; a reflection when flipped)."""
        return self._mats[0].copy()

    @property
    def K(self) -> np.ndarray:
        """(3, 3) the crop camera's intrinsics (pixels of the S x S crop)."""
        return self._mats[1].copy()

    @property
    def H(self) -> np.ndarray:
        """(3, 3) homography from source pixels to crop pixels."""
        return self._mats[2].copy()

    # 2D ------------------------------------------------------------------------
    def to_crop(self, uv_source) -> np.ndarray:
        """Source pixels (..., 2) -> crop pixels (..., 2)."""
        return apply_homography(self.H, uv_source)

    def from_crop(self, uv_crop) -> np.ndarray:
        """Crop pixels (..., 2) -> source pixels (..., 2) (inverse of :meth:`to_crop`)."""
        return apply_homography(np.linalg.inv(self.H), uv_crop)

    def project(self, points_camera) -> np.ndarray:
        """3D points (..., 3) in the camera frame (mm) -> crop pixels (..., 2)."""
        from handlib import camera as cam
        return cam.project(self.K, self.to_crop_frame(points_camera))

    # 3D ------------------------------------------------------------------------
    def to_crop_frame(self, points_camera) -> np.ndarray:
        """Camera-frame vectors or points (..., 3) -> the crop camera's frame (``R X``).

        Works for normalised joints too: normalising commutes with ``R``.
        """
        p = np.asarray(points_camera, dtype=np.float64)
        if p.shape[-1] != 3:
            raise ValueError(f"points must have shape (..., 3), got {p.shape}")
        return p @ self.R.T

    def from_crop_frame(self, points_crop) -> np.ndarray:
        """Crop-frame vectors or points (..., 3) -> camera frame (``R^T X``); for a
        flipped crop this also un-flips (a left-hand prediction becomes a right hand)."""
        p = np.asarray(points_crop, dtype=np.float64)
        if p.shape[-1] != 3:
            raise ValueError(f"points must have shape (..., 3), got {p.shape}")
        return p @ self.R

    # images --------------------------------------------------------------------
    def crop_image(self, image: np.ndarray, interpolation=None, border_value=0) -> np.ndarray:
        """Resample the source ``image`` (H, W[, C]) into the S x S crop (OpenCV)."""
        import cv2
        if interpolation is None:
            interpolation = cv2.INTER_LINEAR
        return cv2.warpPerspective(np.asarray(image), self.H, (self.size, self.size),
                                   flags=interpolation, borderMode=cv2.BORDER_CONSTANT,
                                   borderValue=border_value)

    # variants and conversions --------------------------------------------------
    def flipped(self) -> "Crop":
        """The same crop, flipped left-right (image, 2D and 3D together)."""
        return replace(self, flip=not self.flip)

    def with_source(self, source_K) -> "Crop":
        """The same view described against another image of the same camera frame whose
        pixels differ from this source's by a zoom and a shift (e.g. the full 640x480
        image instead of a 256x256 GANerated crop of it): same R, K and crop pixels."""
        K_old, K_new = np.array(self.source_K), np.asarray(source_K, dtype=np.float64)
        M = K_new @ np.linalg.inv(K_old)
        if not (np.isclose(M[0, 0], M[1, 1], rtol=1e-9)
                and np.allclose([M[0, 1], M[1, 0], M[2, 0], M[2, 1]], 0.0, atol=1e-12)):
            raise ValueError("with_source: the two images must differ by one zoom and a shift")
        c = apply_homography(M, self.centre)
        return replace(self, centre=tuple(c), side=self.side * M[0, 0], source_K=K_new)

    @classmethod
    def from_ganerated(cls, u: float, v: float, scale: float, size: int, source_K) -> "Crop":
        """The affine, unrotated crop of the GANerated files: ``uv_crop = scale *
        (uv - [u, v])`` for a ``size`` x ``size`` crop of the image with ``source_K``."""
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"a crop scale must be positive, got {scale!r}")
        side = size / scale
        centre = (u + (size - 1) / (2.0 * scale), v + (size - 1) / (2.0 * scale))
        return cls(centre=centre, side=side, size=size, source_K=source_K, perspective=False)

    def ganerated_params(self) -> tuple[float, float, float]:
        """``(u, v, scale)`` of an affine, unrotated crop (inverse of
        :meth:`from_ganerated`)."""
        if self.perspective or self.angle != 0.0:
            raise ValueError("only an unrotated affine crop has GANerated (u, v, scale)")
        scale = self.size / self.side
        off = (self.size - 1) / (2.0 * scale)
        return self.centre[0] - off, self.centre[1] - off, scale


def crop_boxes(uv, source_K, margin: float = CROP_MARGIN, min_side: float = MIN_CROP_SIDE,
               perspective: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The course's crop boxes for many hands at once: centres (N, 2) and sides (N,) in
    source pixels, for 2D joints (N, J, 2) and intrinsics (3, 3) or (N, 3, 3).

    Affine: centred on the joints' bounding box, side = larger extent x (1 + 2 margin)
    (at least ``min_side``). Perspective: the same, measured in the view of the crop
    camera itself (the joints' rays turned by ``R0``), re-centred until the joints' box
    is centred in the crop wherever the hand is in the image (three passes).
    """
    uv = np.asarray(uv, dtype=np.float64)
    if uv.ndim != 3 or uv.shape[-1] != 2:
        raise ValueError(f"uv must have shape (N, J, 2), got {uv.shape}")
    if not np.all(np.isfinite(uv)):
        raise ValueError("crop boxes: the 2D joints contain NaN or infinite values")
    K = np.broadcast_to(np.asarray(source_K, dtype=np.float64), (len(uv), 3, 3))
    grow = 1 + 2 * margin

    def box(xy):
        lo, hi = xy.min(axis=1), xy.max(axis=1)
        return (lo + hi) / 2, np.maximum((hi - lo).max(axis=1) * grow, min_side)

    centre, side = box(uv)
    if perspective:
        f = np.stack([K[:, 0, 0], K[:, 1, 1]], -1)                       # (N, 2)
        rays = np.einsum("nij,nkj->nki", np.linalg.inv(K),
                         np.concatenate([uv, np.ones(uv.shape[:2] + (1,))], -1))
        for _ in range(3):
            c_ray = np.einsum("nij,nj->ni", np.linalg.inv(K), np.c_[centre, np.ones(len(uv))])
            R0 = _rotation_onto_axis(backend.NP, c_ray / np.linalg.norm(c_ray, axis=1, keepdims=True))
            seen = np.einsum("nij,nkj->nki", R0, rays)
            xy = seen[..., :2] / seen[..., 2:3] * f[:, None]             # source px at the axis
            mid, side = box(xy)
            back = np.einsum("nji,nj->ni", R0, np.c_[mid / f, np.ones(len(uv))])   # R0^T
            h = np.einsum("nij,nj->ni", K, back)
            centre = h[:, :2] / h[:, 2:3]
    return centre, side


def crop_from_joints(uv, source_K, size: int, margin: float = CROP_MARGIN,
                     min_side: float = MIN_CROP_SIDE, angle: float = 0.0, flip: bool = False,
                     perspective: bool = True) -> Crop:
    """The course's one hand crop around 2D joints (J, 2) in source pixels
    (:func:`crop_boxes` for one hand), as a :class:`Crop` of ``size`` pixels."""
    uv = np.asarray(uv, dtype=np.float64).reshape(1, -1, 2)
    centre, side = crop_boxes(uv, source_K, margin, min_side, perspective)
    return Crop(centre=tuple(centre[0]), side=float(side[0]), size=size, source_K=source_K,
                angle=angle, flip=flip, perspective=perspective)


def orthographic_fit(xyz_target, uv_crop) -> tuple[np.ndarray, float]:
    """The target (J, 3) projected orthographically (x, y) with the scale and 2D offset
    that best fit the crop's 2D joints (J, 2) (least squares). Returns (fitted 2D (J, 2),
    largest joint residual divided by the scale, in W-M0 lengths)."""
    X = np.asarray(xyz_target, dtype=np.float64)[:, :2]
    uv = np.asarray(uv_crop, dtype=np.float64)
    Xc, uvc = X - X.mean(axis=0), uv - uv.mean(axis=0)
    s = float((Xc * uvc).sum() / (Xc * Xc).sum())
    fitted = s * Xc + uv.mean(axis=0)
    return fitted, float(np.linalg.norm(uv - fitted, axis=1).max() / abs(s))


def orthographic_misalignment(xyz_target, uv_crop) -> float:
    """How far a 3D target is from being a picture of its crop, in W-M0 lengths.

    Projects the target (21, 3) orthographically (drops z), fits one scale and one 2D
    offset to the crop's 2D joints (21, 2) by least squares (:func:`orthographic_fit`),
    and returns the largest joint residual divided by the fitted scale. Perspective
    within the crop keeps it above zero; a target in the wrong frame (an off-axis crop
    with camera-frame targets) makes it large.
    """
    return orthographic_fit(xyz_target, uv_crop)[1]


def crop_matrices_tf(centre, side, angle, flip, size: int, source_K):
    """TensorFlow twin of :func:`crop_matrices` (perspective crops), for the pipeline."""
    return crop_matrices(backend.TF(), centre, side, angle, flip, size, source_K, True)
