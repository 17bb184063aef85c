"""Pose metrics: 2D end-point error and PCK in pixels, 3D error and PCK in millimetres.

Introduced in ``notebooks/03_regnet_training.ipynb``.

- **2D**: end-point error (EPE), the distance in pixels between predicted and labelled
  joints, in the pixels of the image the labels use (for the data sets' 256x256 crops:
  predictions are mapped back through the crop first); PCK, the share of joints within a
  threshold, over thresholds 0-30 px (:data:`PCK_2D_THRESHOLDS`), and its AUC.
- **3D**: root-relative error in mm with M0 as the root. A normalised prediction
  (|W - M0| = 1) gets the *ground truth's* W-M0 length in mm (the common protocol: the
  network is not asked for the hand's size); PCK over ``linspace(20, 50, 31)`` mm
  (:data:`PCK_3D_THRESHOLDS`) over all (sample, joint) pairs, AUC = trapezoid area / 30.
  A second variant, ``scale="least_squares"``, scales each prediction by the one factor
  that brings it closest to the ground truth (it forgives a wrong overall size).

``visible`` (N, J) masks select visible joints only; None counts all joints.
These figures are not comparable with the paper's (different data, different details of
the protocol).
"""
from __future__ import annotations

import numpy as np

ROOT, WRIST = 9, 0
PCK_2D_THRESHOLDS = np.linspace(0.0, 30.0, 31)     # pixels
PCK_3D_THRESHOLDS = np.linspace(20.0, 50.0, 31)    # millimetres
JOINT_NAMES = ["W", "T0", "T1", "T2", "T3", "I0", "I1", "I2", "I3", "M0", "M1", "M2", "M3",
               "R0", "R1", "R2", "R3", "L0", "L1", "L2", "L3"]


def _mask(dist, visible):
    dist = np.asarray(dist, np.float64)
    if visible is None:
        return dist, np.ones(dist.shape, bool)
    v = np.asarray(visible).astype(bool)
    if v.shape != dist.shape:
        raise ValueError(f"visible must have shape {dist.shape}, got {v.shape}")
    return dist, v


def pck(dist, thresholds, visible=None) -> np.ndarray:
    """Share of (sample, joint) pairs with ``dist <= threshold``, per threshold (T,)."""
    d, v = _mask(dist, visible)
    d = d[v]
    if d.size == 0:
        return np.full(len(thresholds), np.nan)
    return np.array([(d <= t).mean() for t in thresholds])


def auc(thresholds, curve) -> float:
    """Area under a PCK curve divided by the threshold range (1 = every joint within
    the smallest threshold): the trapezoid rule."""
    t = np.asarray(thresholds, np.float64)
    c = np.asarray(curve, np.float64)
    return float(np.sum((c[1:] + c[:-1]) * np.diff(t)) / 2.0 / (t[-1] - t[0]))


def epe_2d(pred_uv, gt_uv) -> np.ndarray:
    """Per-joint 2D distance (N, J) in pixels between (N, J, 2) arrays."""
    return np.linalg.norm(np.asarray(pred_uv, np.float64) - np.asarray(gt_uv, np.float64), axis=-1)


def bone_length(xyz) -> np.ndarray:
    """|W - M0| (N,) of joints (N, J, 3), in their units."""
    x = np.asarray(xyz, np.float64)
    return np.linalg.norm(x[:, WRIST] - x[:, ROOT], axis=-1)


def errors_3d_mm(pred_norm, gt_norm, gt_bone_mm, scale: str = "ground_truth") -> np.ndarray:
    """Per-joint root-relative 3D distance (N, J) in mm.

    ``pred_norm``, ``gt_norm`` (N, J, 3) normalised (any root position: both are moved to
    M0 first); ``gt_bone_mm`` (N,) the ground truth's |W - M0| in mm. ``scale``:
    "ground_truth" (the prediction in hand scales times the ground truth's bone length,
    the common protocol) or "least_squares" (each prediction scaled by the factor that
    minimises its squared distance to the ground truth).
    """
    p = np.asarray(pred_norm, np.float64)
    g = np.asarray(gt_norm, np.float64)
    p = p - p[:, ROOT:ROOT + 1]
    g = g - g[:, ROOT:ROOT + 1]
    gb = np.asarray(gt_bone_mm, np.float64).reshape(-1, 1, 1)
    g_mm = g / np.maximum(bone_length(g), 1e-9).reshape(-1, 1, 1) * gb
    if scale == "ground_truth":
        p_mm = p * gb
    elif scale == "least_squares":
        s = np.sum(p * g_mm, axis=(1, 2)) / np.maximum(np.sum(p * p, axis=(1, 2)), 1e-12)
        p_mm = p * s.reshape(-1, 1, 1)
    else:
        raise ValueError(f"scale must be 'ground_truth' or 'least_squares', got {scale!r}")
    return np.linalg.norm(p_mm - g_mm, axis=-1)


def summary_2d(dist_px, visible=None) -> dict:
    """EPE mean and median (px), PCK curve over 0-30 px and its AUC."""
    d, v = _mask(dist_px, visible)
    curve = pck(d, PCK_2D_THRESHOLDS, v)
    return {"epe_mean_px": float(d[v].mean()), "epe_median_px": float(np.median(d[v])),
            "pck_thresholds_px": PCK_2D_THRESHOLDS.tolist(), "pck": curve.tolist(),
            "auc_0_30px": auc(PCK_2D_THRESHOLDS, curve), "pairs": int(v.sum())}


def summary_3d(dist_mm, visible=None) -> dict:
    """EPE mean and median (mm), PCK curve over 20-50 mm and its AUC."""
    d, v = _mask(dist_mm, visible)
    curve = pck(d, PCK_3D_THRESHOLDS, v)
    return {"epe_mean_mm": float(d[v].mean()), "epe_median_mm": float(np.median(d[v])),
            "pck_thresholds_mm": PCK_3D_THRESHOLDS.tolist(), "pck": curve.tolist(),
            "auc_20_50mm": auc(PCK_3D_THRESHOLDS, curve), "pairs": int(v.sum())}


def per_joint(dist, visible=None) -> dict:
    """Mean distance per joint name (NaN where a joint is never counted)."""
    d, v = _mask(dist, visible)
    out = {}
    for j, name in enumerate(JOINT_NAMES[:d.shape[1]]):
        col = d[:, j][v[:, j]]
        out[name] = float(col.mean()) if col.size else float("nan")
    return out


def evaluate(pred_uv, gt_uv, pred_norm, gt_norm, gt_bone_mm, visible=None) -> dict:
    """Every figure at once: 2D (pixels of ``gt_uv``'s image) and 3D (mm, both scale
    variants), visible-only and all joints, with per-joint tables."""
    d2 = epe_2d(pred_uv, gt_uv)
    d3 = errors_3d_mm(pred_norm, gt_norm, gt_bone_mm)
    d3ls = errors_3d_mm(pred_norm, gt_norm, gt_bone_mm, scale="least_squares")
    out = {"samples": int(d2.shape[0])}
    for tag, vis in (("all", None), ("visible", visible)):
        if tag == "visible" and visible is None:
            continue
        out[tag] = {"2d": summary_2d(d2, vis), "3d": summary_3d(d3, vis),
                    "3d_least_squares_scale": summary_3d(d3ls, vis),
                    "per_joint_2d_px": per_joint(d2, vis), "per_joint_3d_mm": per_joint(d3, vis)}
    return out


# ------------------------------------------------------------------ alignment, intervals
def root_scale(xyz, bone_mm: float) -> np.ndarray:
    """Joints (N, J, 3) moved to M0 and scaled so that |W - M0| = ``bone_mm`` (the
    "root + scale" protocol: neither the hand's place nor its size is asked for)."""
    x = np.asarray(xyz, np.float64)
    x = x - x[:, ROOT:ROOT + 1]
    return x / np.maximum(bone_length(x), 1e-9).reshape(-1, 1, 1) * bone_mm


def similarity_align(pred, ref) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Procrustes with scale (Umeyama 1991): each prediction (N, J, 3) moved, rotated
    (a proper rotation, never a mirror) and scaled onto its reference (N, J, 3) in the
    least-squares sense. Returns (aligned (N, J, 3), rotations (N, 3, 3) applied to the
    centred prediction, scales (N,))."""
    p = np.asarray(pred, np.float64)
    r = np.asarray(ref, np.float64)
    pc, rc = p - p.mean(1, keepdims=True), r - r.mean(1, keepdims=True)
    cov = np.einsum("nji,njk->nik", rc, pc)                       # sum over joints of r p^T
    U, S, Vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(U @ Vt))
    D = np.ones_like(S)
    D[:, -1] = d
    R = U @ (D[..., None] * Vt)
    var = np.maximum(np.sum(pc * pc, axis=(1, 2)), 1e-12)
    s = np.sum(S * D, axis=1) / var
    aligned = s[:, None, None] * np.einsum("nik,njk->nji", R, pc) + r.mean(1, keepdims=True)
    return aligned, R, s


def rotation_angle_deg(R) -> np.ndarray:
    """The angle (N,) in degrees of rotations (N, 3, 3)."""
    tr = np.trace(np.asarray(R, np.float64), axis1=-2, axis2=-1)
    return np.degrees(np.arccos(np.clip((tr - 1.0) / 2.0, -1.0, 1.0)))


def auc_per_sample(dist, thresholds) -> np.ndarray:
    """Each sample's own PCK AUC (N,) from its joints' distances (N, J). With every joint
    counted, their mean equals :func:`auc` of the pooled curve (the AUC is linear in the
    curve), which is what lets :func:`bootstrap_interval` resample samples cheaply."""
    d = np.asarray(dist, np.float64)
    t = np.asarray(thresholds, np.float64)
    curves = (d[:, :, None] <= t).mean(axis=1)                   # (N, T)
    return np.sum((curves[:, 1:] + curves[:, :-1]) * np.diff(t), axis=1) / 2.0 / (t[-1] - t[0])


def bootstrap_interval(values, n: int = 1000, seed: int = 0, level: float = 0.95) -> list[float]:
    """Percentile bootstrap interval ``[lo, hi]`` of the mean of per-sample ``values`` (N,):
    samples (photos, frames) resampled with replacement ``n`` times."""
    v = np.asarray(values, np.float64)
    if v.size == 0:
        return [float("nan"), float("nan")]
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, (n, v.size))].mean(axis=1)
    a = (1.0 - level) / 2.0
    return [float(np.quantile(means, a)), float(np.quantile(means, 1.0 - a))]


# ------------------------------------------------------------------ sequences (notebook 05)
def root_relative_errors_mm(pred_mm, gt_mm) -> np.ndarray:
    """Per-frame, per-joint distance (F, J) in mm after moving both to M0 (no rescaling:
    both are already in mm)."""
    p = np.asarray(pred_mm, np.float64)
    g = np.asarray(gt_mm, np.float64)
    return np.linalg.norm((p - p[:, ROOT:ROOT + 1]) - (g - g[:, ROOT:ROOT + 1]), axis=-1)


def jitter(xyz_mm) -> float:
    """Mean joint acceleration of a sequence (F, J, 3), mm per frame squared: the mean
    of |X(t+1) - 2 X(t) + X(t-1)| over frames and joints (NaN frames skipped)."""
    x = np.asarray(xyz_mm, np.float64)
    a = np.linalg.norm(x[2:] - 2 * x[1:-1] + x[:-2], axis=-1)
    return float(np.nanmean(a))


def bone_length_spread(xyz_mm) -> np.ndarray:
    """Standard deviation over frames of each of the 20 bones' lengths (20,), mm: zero
    for a fitted skeleton (fixed bones), larger for per-frame predictions."""
    from handlib import hand_model as hm
    return np.nanstd(hm.bone_lengths_of(np.asarray(xyz_mm, np.float64)), axis=0)
