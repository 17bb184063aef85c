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

import json
from dataclasses import dataclass, field, replace

import numpy as np

from handlib import backend

CROP_MARGIN = 0.35
"""Margin of every hand crop, as a fraction of the 2D joints' extent on each side: the
box side is ``extent * (1 + 2 * CROP_MARGIN)``, so the joints span 59 % of the crop. The
joints lie inside the hand (finger tips short of the skin's end, the palm's edge beyond
its knuckles), by more of the joints' extent when the hand is foreshortened: on 150
rendered views, the skin stays inside the crop in 96 % of views with 0.35 (75 % with
0.25, 91 % with 0.3; ``tests/test_crop_camera.py`` measures it). The rest of the margin
leaves room for the motion between two video frames when the tracker places a crop
from the previous frame's pose."""
SOURCE_CONTEXT = 1.5
"""How much larger than the hand crop a *stored* source image is (rendered sets): the
input pipeline cuts jittered, rotated perspective crops out of it, which must stay
within rendered pixels."""
MIN_CROP_SIDE = 16.0
"""Smallest crop side in source pixels: a floor against degenerate boxes (all joints on
one pixel); a real hand at arm's length spans more than 100 px of a 640x480 image."""

FLIP = np.diag([-1.0, 1.0, 1.0])
"""The reflection of the crop camera's x axis (the left-right flip)."""


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
      perspective: False for an affine crop (a box cut and resized, like GANerated's):
        then R = Rz(angle) and the image map is a similarity; flip must be 0.
    Returns: R (camera -> crop frame), K_crop, H (source pixels -> crop pixels).
    """
    fx, fy = source_K[0, 0], source_K[1, 1]
    o = (size - 1) / 2.0
    zoom = size / side
    Rz = _rotation_z(xp, angle)
    if perspective:
        ray = xp.einsum("ij,j->i", xp.inv(source_K),
                        xp.stack([centre[0], centre[1], centre[0] * 0.0 + 1.0]))
        d = ray / xp.sqrt(xp.sum(ray * ray))
        F = xp.stack([xp.stack([1.0 - 2.0 * flip, flip * 0.0, flip * 0.0]),
                      xp.stack([flip * 0.0, flip * 0.0 + 1.0, flip * 0.0]),
                      xp.stack([flip * 0.0, flip * 0.0, flip * 0.0 + 1.0])])
        R = xp.einsum("ij,jk,kl->il", F, Rz, _rotation_onto_axis(xp, d))
        zero = fx * 0.0
        K = xp.stack([xp.stack([fx * zoom, zero, zero + o]),
                      xp.stack([zero, fy * zoom, zero + o]),
                      xp.stack([zero, zero, zero + 1.0])])
    else:
        # p_out = zoom Rz2d (p - centre) + o, written as A; K_crop = A K_source Rz^T
        c, s = xp.cos(angle), xp.sin(angle)
        zero = c * 0.0
        tx = o - zoom * (c * centre[0] - s * centre[1])
        ty = o - zoom * (s * centre[0] + c * centre[1])
        A = xp.stack([xp.stack([zoom * c, -zoom * s, tx]), xp.stack([zoom * s, zoom * c, ty]),
                      xp.stack([zero, zero, zero + 1.0])])
        R = Rz
        K = xp.einsum("ij,jk,lk->il", A, source_K, Rz)
    H = xp.einsum("ij,jk,kl->il", K, R, xp.inv(source_K))
    return R, K, H


def warp_params(xp, H):
    """The 8 parameters of ``ImageProjectiveTransformV3`` (output pixel -> source
    pixel) for the homography ``H`` (source -> output)."""
    Hi = xp.inv(H)
    Hi = Hi / Hi[2, 2]
    return xp.stack([Hi[0, 0], Hi[0, 1], Hi[0, 2], Hi[1, 0], Hi[1, 1], Hi[1, 2],
                     Hi[2, 0], Hi[2, 1]])


def apply_homography(H, uv):
    """Pixels (..., 2) mapped by the homography ``H`` (3, 3) (NumPy)."""
    uv = np.asarray(uv, dtype=np.float64)
    if uv.shape[-1] != 2:
        raise ValueError(f"uv must have shape (..., 2), got {uv.shape}")
    h = uv @ np.asarray(H)[:, :2].T + np.asarray(H)[:, 2]
    return h[..., :2] / h[..., 2:3]


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
        if self.flip and not self.perspective:
            raise ValueError("an affine crop cannot be flipped exactly; use a perspective crop")
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

    def resized(self, size: int) -> "Crop":
        """The same view at another output size."""
        return replace(self, size=int(size))

    def scaled(self, factor: float) -> "Crop":
        """The same centre and output size, with ``factor`` times the side (more
        context for factor > 1)."""
        return replace(self, side=self.side * float(factor))

    def with_source(self, source_K) -> "Crop":
        """The same crop described against another image of the same camera frame
        (e.g. the full 640x480 image instead of a 256x256 GANerated crop of it)."""
        K_old, K_new = np.array(self.source_K), np.asarray(source_K, dtype=np.float64)
        if self.perspective:
            c = apply_homography(K_new @ np.linalg.inv(K_old), self.centre)
            side = self.side * K_new[0, 0] / K_old[0, 0]
            return replace(self, centre=tuple(c), side=side, source_K=K_new)
        raise ValueError("only perspective crops can be moved to another source image")

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

    def to_dict(self) -> dict:
        return {"centre": list(self.centre), "side": self.side, "size": self.size,
                "source_K": [list(r) for r in self.source_K], "angle": self.angle,
                "flip": self.flip, "perspective": self.perspective}

    @classmethod
    def from_dict(cls, d: dict) -> "Crop":
        return cls(centre=tuple(d["centre"]), side=float(d["side"]), size=int(d["size"]),
                   source_K=d["source_K"], angle=float(d.get("angle", 0.0)),
                   flip=bool(d.get("flip", False)), perspective=bool(d.get("perspective", True)))

    def to_json(self) -> str:
        return json.dumps(self.to_dict())


def crop_from_joints(uv, source_K, size: int, margin: float = CROP_MARGIN,
                     min_side: float = MIN_CROP_SIDE, angle: float = 0.0, flip: bool = False,
                     perspective: bool = True) -> Crop:
    """The course's one hand crop: a square box around 2D joints (N, 2) in source pixels.

    Affine: centred on the joints' bounding box, side = larger extent x (1 + 2 margin)
    (at least ``min_side``). Perspective: the same, measured in the view of the crop
    camera itself (the joints' rays turned by ``R0``), re-centred twice so the joints'
    box is centred in the crop wherever the hand is in the image.
    """
    uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
    if not np.all(np.isfinite(uv)):
        raise ValueError("crop_from_joints: the 2D joints contain NaN or infinite values")
    K = np.asarray(source_K, dtype=np.float64)
    lo, hi = uv.min(axis=0), uv.max(axis=0)
    centre = (lo + hi) / 2
    grow = 1 + 2 * margin
    side = max(float((hi - lo).max()) * grow, min_side)
    if perspective:
        for _ in range(3):
            view = Crop(centre=tuple(centre), side=1.0, size=1, source_K=K)
            # the joints seen by the crop camera, in source-pixel units at the centre
            ray = view.to_crop_frame(np.concatenate([uv, np.ones((len(uv), 1))], 1)
                                     @ np.linalg.inv(K).T)
            xy = ray[:, :2] / ray[:, 2:3] * np.array([K[0, 0], K[1, 1]])
            lo, hi = xy.min(axis=0), xy.max(axis=0)
            side = max(float((hi - lo).max()) * grow, min_side)
            mid = (lo + hi) / 2                         # offset from the current axis
            back = view.from_crop_frame(np.array([mid[0] / K[0, 0], mid[1] / K[1, 1], 1.0]))
            centre = (K @ back)[:2] / (K @ back)[2]
    return Crop(centre=tuple(centre), side=side, size=size, source_K=K, angle=angle,
                flip=flip, perspective=perspective)


def orthographic_misalignment(xyz_target, uv_crop) -> float:
    """How far a 3D target is from being a picture of its crop, in W-M0 lengths.

    Projects the target (21, 3) orthographically (drops z), fits one scale and one 2D
    offset to the crop's 2D joints (21, 2) by least squares, and returns the largest
    joint residual divided by the fitted scale. Perspective within the crop keeps it
    above zero; a target in the wrong frame (an off-axis crop with camera-frame
    targets) makes it large.
    """
    X = np.asarray(xyz_target, dtype=np.float64)[:, :2]
    uv = np.asarray(uv_crop, dtype=np.float64)
    Xc, uvc = X - X.mean(axis=0), uv - uv.mean(axis=0)
    s = float((Xc * uvc).sum() / (Xc * Xc).sum())
    residual = np.linalg.norm(uvc - s * Xc, axis=1)
    return float(residual.max() / abs(s))


def crop_matrices_tf(centre, side, angle, flip, size: int, source_K):
    """TensorFlow twin of :func:`crop_matrices` (perspective crops), for the pipeline."""
    return crop_matrices(backend.TF(), centre, side, angle, flip, size, source_K, True)
