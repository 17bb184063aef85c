"""Kinematic skeleton fitting: the 26-DoF hand model fitted to RegNet's 2D and 3D.

Introduced in ``notebooks/05_fitting_and_tracking.ipynb``.

RegNet's outputs are noisy, unscaled and frame by frame. Fitting the course's hand model
(:mod:`handlib.hand_model`) to them gives a pose in the camera frame in millimetres, with
constant bone lengths, inside the joint limits and smooth in time. The unknowns are the
26 pose parameters ``theta`` (global rotation vector, wrist translation in mm, 20 finger
angles in radians); the bone lengths are fixed by calibration (:func:`calibrate_scale`).

**Energy.** ``E(theta) = |r(theta)|^2`` with four blocks of residuals:

- ``E_2D``: for each joint with a finite 2D input and confidence ``c > 0``,
  ``w_2d * sqrt(c) * rho * (pi(K X_j) - u_j) / k``: the image-pixel miss (``pi`` the
  pinhole projection, ``u`` RegNet's heatmap maxima mapped back from the crop, ``c`` the
  heatmap maximum) in pixels of the network's crop (``k`` image pixels per crop pixel);
- ``E_3D``: ``w_3d * rho * ((X_j - X_M0) - s y_j)`` in mm, ``y`` RegNet's normalised 3D
  brought back to the camera frame and the input's hand side, ``s`` the calibrated
  |W - M0| (the whole term is dropped for a frame whose M0 is missing: it is the origin);
- ``E_limits``: ``w_limits * (lo - theta)_+`` and ``(theta - hi)_+`` for the 20 finger
  angles (radians; :data:`handlib.hand_model.JOINT_LIMITS`), a soft penalty;
- ``E_temporal``: ``w_temporal * (X_j - X_j^pred)`` in mm, where ``X^pred`` extrapolates
  the previous frames at constant velocity (an acceleration penalty; with one previous
  frame, a velocity penalty).

``rho`` are robust weights (Cauchy, scales ``robust_2d_px`` and ``robust_3d_mm``),
recomputed at every iteration (iteratively reweighted least squares), so that one or two
wrong joints pull little. A joint whose input is NaN is dropped, never propagated.

**Solver.** Levenberg-Marquardt on the 26 parameters with the analytic Jacobian of
:func:`joint_jacobian` (NumPy): the global rotation is updated by a small rotation on the
left (``R <- exp(delta) R``), the other parameters additively. Warm-started from the
previous frame's pose with a small iteration budget per frame.

**Two engines.** This module is the readable fit, and the reference; the tracker runs the
same fit compiled (:mod:`handlib.fitting_compiled`, ``HandFitter(..., engine="compiled")``),
which gives the same iterates to round-off in a small fraction of the time.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace

import numpy as np

from handlib import hand_model as hm

ROOT = hm.NORM_ROOT_JOINT          # M0
WRIST = hm.ROOT_JOINT
START_DISTANCE_MM = 450.0
"""The paper's calibration convention: the hand is about 45 cm from the camera at start."""


def _skew(v):
    """(..., 3) -> (..., 3, 3) cross-product matrices: skew(a) b = a x b."""
    z = np.zeros(v.shape[:-1])
    return np.stack([np.stack([z, -v[..., 2], v[..., 1]], -1),
                     np.stack([v[..., 2], z, -v[..., 0]], -1),
                     np.stack([-v[..., 1], v[..., 0], z], -1)], -2)


# ------------------------------------------------------------------ fast kinematics
def _rodrigues(r) -> np.ndarray:
    """One rotation vector (3,) -> its matrix (3, 3) (Rodrigues), without the generic
    backend's overhead (the solver calls it thousands of times per second)."""
    th = float(np.sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]))
    if th < 1e-12:
        return np.eye(3)
    k = r / th
    K = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + np.sin(th) * K + (1.0 - np.cos(th)) * (K @ K)


@functools.lru_cache(maxsize=1)
def _fk_tables():
    """Fixed parts of the kinematic chain, per finger (5): the cross-product matrices of
    the abduction axis and the three flexion axes (5, 4, 3, 3) and their squares, the bone
    directions (5, 4, 3) and the joint indices (5, 4)."""
    rm = hm.rest_model()
    idx = np.array([hm.FINGERS[n] for n in hm.FINGER_NAMES])                  # (5, 4)
    axes = np.stack([np.stack([rm.abd_axes[i], rm.flex_axes[idx[i, 0]], rm.flex_axes[idx[i, 1]],
                               rm.flex_axes[idx[i, 2]]]) for i in range(5)])   # (5, 4, 3)
    Kx = _skew(axes)
    return Kx, Kx @ Kx, rm.bone_dirs[idx], idx


def fast_forward_kinematics(params, bone_lengths, side: str = "right"):
    """:func:`handlib.hand_model.forward_kinematics` for one pose, specialised for the
    solver (the same chain, all rotations of a kind in one NumPy call). Returns the
    joints (21, 3) mm and the rotation frames (21, 3, 3), camera frame."""
    p = np.asarray(params, np.float64)
    bl = np.asarray(bone_lengths, np.float64)
    Kx, K2, dirs, idx = _fk_tables()
    a = p[6:].reshape(5, 4)[:, [1, 0, 2, 3]]            # abduction, base, middle, last flexion
    Rs = np.eye(3) + np.sin(a)[..., None, None] * Kx + (1 - np.cos(a))[..., None, None] * K2   # (5, 4, 3, 3)
    g0 = Rs[:, 0] @ Rs[:, 1]
    g1 = g0 @ Rs[:, 2]
    g2 = g1 @ Rs[:, 3]
    L = bl[idx - 1]                                                            # (5, 4)
    j0 = L[:, 0, None] * dirs[:, 0]
    j1 = j0 + L[:, 1, None] * np.einsum("fij,fj->fi", g0, dirs[:, 1])
    j2 = j1 + L[:, 2, None] * np.einsum("fij,fj->fi", g1, dirs[:, 2])
    j3 = j2 + L[:, 3, None] * np.einsum("fij,fj->fi", g2, dirs[:, 3])
    canon = np.zeros((21, 3))
    rot = np.empty((21, 3, 3))
    rot[0] = np.eye(3)
    canon[idx] = np.stack([j0, j1, j2, j3], axis=1)
    rot[idx] = np.stack([g0, g1, g2, g2], axis=1)
    if side == "left":
        m = np.array([-1.0, 1.0, 1.0])
        canon = canon * m
        rot = rot * m[None, :, None] * m[None, None, :]
    R = _rodrigues(p[:3])
    return canon @ R.T + p[3:6], R @ rot


# ------------------------------------------------------------------ the Jacobian
def joint_jacobian(params, bone_lengths=None, side: str = "right"):
    """Joints (21, 3) in mm and their analytic Jacobian (21, 3, 26) for one pose.

    Columns 0-2 are derivatives with respect to a small rotation ``delta`` applied on the
    left of the global rotation (``R <- exp(delta) R``, camera frame: ``dX/ddelta =
    -[X - t]_x``), columns 3-5 to the translation (identity), columns 6-25 to the finger
    angles: ``a x (X_k - X_pivot)`` for every joint ``k`` the angle moves, with ``a`` the
    joint's axis in the camera frame (for a left hand the mirrored axis, sign reversed).
    """
    p = np.asarray(params, np.float64)
    bl = hm.default_bone_lengths() if bone_lengths is None else np.asarray(bone_lengths, np.float64)
    X, rots = fast_forward_kinematics(p, bl, side)
    sgn = 1.0 if side == "right" else -1.0
    frames, local, pivots, moved = _dof_table()
    # each finger angle's axis in the camera frame: the rotation of the frame it turns in
    # (the global rotation for abduction) applied to its fixed local axis, mirrored for
    # a left hand (a reflection reverses the sense of rotation: hence the sign)
    R = _rodrigues(p[:3])
    Rf = np.where((frames < 0)[:, None, None], R[None], rots[np.maximum(frames, 0)])
    axes = sgn * np.einsum("dij,dj->di", Rf, local * np.array([sgn, 1.0, 1.0]))
    J = np.empty((21, 3, 26))
    J[:, :, 0:3] = -_skew(X - p[3:6])
    J[:, :, 3:6] = np.eye(3)
    lever = X[None, :, :] - X[pivots][:, None, :]                        # (20, 21, 3)
    J[:, :, 6:] = (np.cross(axes[:, None, :], lever) * moved[:, :, None]).transpose(1, 2, 0)
    return X, J


@functools.lru_cache(maxsize=1)
def _dof_table():
    """Per finger angle (20): the joint whose rotation frame carries its axis (-1: the
    global frame), the axis in that frame, the pivot joint, and the joints it moves
    (20, 21) 0/1."""
    rm = hm.rest_model()
    frames, local, pivots = [], [], []
    moved = np.zeros((20, 21))
    for i, name in enumerate(hm.FINGER_NAMES):
        j0, j1, j2, j3 = hm.FINGERS[name]
        for k, (frame, axis, pivot, kids) in enumerate([
                (j0, rm.flex_axes[j0], j0, (j1, j2, j3)),      # base flexion
                (-1, rm.abd_axes[i], j0, (j1, j2, j3)),        # base abduction
                (j1, rm.flex_axes[j1], j1, (j2, j3)),          # middle flexion
                (j2, rm.flex_axes[j2], j2, (j3,))]):           # last flexion
            frames.append(frame)
            local.append(axis)
            pivots.append(pivot)
            moved[4 * i + k, list(kids)] = 1.0
    return np.array(frames), np.array(local), np.array(pivots), moved


@functools.lru_cache(maxsize=1)
def compiled_tables() -> tuple:
    """The chain's fixed tables as contiguous arrays for :mod:`handlib.fitting_compiled`:
    those of :func:`_fk_tables` and :func:`_dof_table` (integers as int64), and the
    finger angles' limits (20,) low and high."""
    Kx, K2, dirs, idx = _fk_tables()
    frames, local, pivots, moved = _dof_table()
    c = np.ascontiguousarray
    return (c(Kx), c(K2), c(dirs), c(idx.astype(np.int64)), c(frames.astype(np.int64)), c(local),
            c(pivots.astype(np.int64)), c(moved), c(hm.JOINT_LIMITS[6:, 0]), c(hm.JOINT_LIMITS[6:, 1]))


def apply_step(params, step) -> np.ndarray:
    """The pose after a solver step (26,): rotation ``exp(step[:3]) R``, the rest added."""
    p = np.asarray(params, np.float64).copy()
    R = _rodrigues(step[:3]) @ _rodrigues(p[:3])
    p[:3] = hm.rotation_vector(R)
    p[3:] += step[3:]
    return p


def projection_jacobian(K, X):
    """Pixels (J, 2) of camera-frame points (J, 3) and d pixels / d X (J, 2, 3)."""
    K = np.asarray(K, np.float64)
    x, y, z = X[:, 0], X[:, 1], np.maximum(X[:, 2], 1e-6)
    uv = np.stack([K[0, 0] * x / z + K[0, 2], K[1, 1] * y / z + K[1, 2]], -1)
    D = np.zeros((len(X), 2, 3))
    D[:, 0, 0] = K[0, 0] / z
    D[:, 0, 2] = -K[0, 0] * x / z ** 2
    D[:, 1, 1] = K[1, 1] / z
    D[:, 1, 2] = -K[1, 1] * y / z ** 2
    return uv, D


# ------------------------------------------------------------------ the energy
@dataclass(frozen=True)
class FitWeights:
    """Weights and robust scales of the energy (see the module's docstring).

    These defaults suit a fit from far away (a strong 3D term settles the global rotation
    and the finger bends). Frame-to-frame tracking uses :data:`TRACKING_WEIGHTS`.
    """

    w_2d: float = 1.0               # per pixel of the network's crop (see Observation)
    w_3d: float = 1.0               # per mm
    w_limits: float = 200.0         # per radian beyond a limit
    w_temporal: float = 0.0         # per mm of acceleration (0: frame by frame)
    robust_2d_px: float = 8.0       # Cauchy scale of 2D residuals, crop pixels
    robust_3d_mm: float = 25.0      # Cauchy scale of 3D residuals


TRACKING_WEIGHTS = FitWeights(w_3d=0.3, w_temporal=0.15)
"""The tracker's per-frame weights. The 2D : 3D ratio follows the inputs' typical errors
(RegNet's 2D about 3 pixels of its crop, its 3D about 18 mm: notebook 03) and was checked
on two rendered sequences (``python -m handlib make-video``, seeds 7 and 11, 150 frames):
see the README's tracking section for the figures."""


@dataclass
class Observation:
    """One frame's inputs to the fit.

    ``uv`` (21, 2) pixels of the full image (NaN: missing); ``confidence`` (21,) heatmap
    maxima in [0, 1]; ``xyz_norm`` (21, 3) RegNet's normalised root-relative 3D in the
    camera frame on the hand's own side (NaN: missing) or None; ``pixel_scale`` image
    pixels per pixel of the network's crop (crop side / input size): 2D residuals are
    divided by it, so the 2D weight and robust scale mean the same for any video size.
    """

    uv: np.ndarray
    confidence: np.ndarray
    xyz_norm: np.ndarray | None = None
    pixel_scale: float = 1.0


@dataclass
class FitResult:
    params: np.ndarray               # (26,)
    joints: np.ndarray               # (21, 3) camera frame, mm
    energy: float                    # final E
    terms: dict = field(default_factory=dict)   # each block's share of E
    iterations: int = 0


def _cauchy(r_norm, scale):
    return 1.0 / np.sqrt(1.0 + (r_norm / scale) ** 2)


ENGINES = ("numpy", "compiled")


class HandFitter:
    """Fits the hand model to :class:`Observation` s (one at a time, warm-started).

    ``K`` (3, 3) full-image intrinsics; ``bone_lengths`` (20,) mm (calibrated);
    ``side`` "left" or "right"; ``weights`` :class:`FitWeights`; ``iterations`` the
    per-frame budget. ``engine``: "numpy" (this module's readable code, the reference) or
    "compiled" (the same fit as machine code, :mod:`handlib.fitting_compiled`: the same
    iterates to round-off, many times faster; the tracker's default).
    """

    def __init__(self, K, bone_lengths=None, side: str = "right", weights: FitWeights | None = None,
                 iterations: int = 10, engine: str = "numpy"):
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
        self.engine = engine
        self.K = np.asarray(K, np.float64)
        self.bone_lengths = hm.default_bone_lengths() if bone_lengths is None else np.asarray(bone_lengths, float)
        self.side = side
        self.weights = weights or FitWeights()
        self.iterations = int(iterations)
        self.previous: list[np.ndarray] = []      # fitted joints of earlier frames, newest last
        self.hand_size = float(np.linalg.norm(hm.rest_pose(self.bone_lengths)[WRIST]
                                              - hm.rest_pose(self.bone_lengths)[ROOT]))

    # -------------------------------------------------------------- residuals
    def residuals(self, params, obs: Observation, predicted=None, rho=None, jacobian: bool = True):
        """Stacked residuals r and Jacobian dr/dstep (len(r), 26) at ``params``, each
        block's slice, the joints, and the robust weights used. ``predicted`` (21, 3): the
        temporal term's target. ``rho``: robust weights to hold fixed (a dict with "2d"
        and "3d" arrays of 21), default computed here from the residuals. Without
        ``jacobian`` the Jacobian returned is None (cheaper: for trial steps)."""
        w = self.weights
        rho_used = {}
        if jacobian:
            X, JX = joint_jacobian(params, self.bone_lengths, self.side)
        else:
            X, JX = fast_forward_kinematics(params, self.bone_lengths, self.side)[0], None
        blocks, jacs, names = [], [], []
        # 2D
        uv_obs = np.asarray(obs.uv, np.float64)
        conf = np.nan_to_num(np.asarray(obs.confidence, np.float64), nan=0.0)
        ok = np.all(np.isfinite(uv_obs), -1) & (conf > 0)
        if w.w_2d > 0 and ok.any():
            uv, D = projection_jacobian(self.K, X[ok])   # (D is cheap: always computed)
            r = uv - uv_obs[ok]
            rho2 = (_cauchy(np.linalg.norm(r, axis=-1) / obs.pixel_scale, w.robust_2d_px)
                    if rho is None or "2d" not in rho
                    else rho["2d"][ok])
            rho_used["2d"] = np.zeros(21)
            rho_used["2d"][ok] = rho2
            s = (w.w_2d / obs.pixel_scale * np.sqrt(np.clip(conf[ok], 0, 1)) * rho2)[:, None]
            blocks.append((s * r).ravel())
            if jacobian:
                jacs.append((s[:, :, None] * np.einsum("jab,jbk->jak", D, JX[ok])).reshape(-1, 26))
            names.append(("2d", len(blocks[-1])))
        # 3D
        if obs.xyz_norm is not None and w.w_3d > 0:
            y = np.asarray(obs.xyz_norm, np.float64)
            ok3 = np.all(np.isfinite(y), -1)
            if ok3[ROOT] and ok3.sum() > 1:
                rel = X - X[ROOT]
                r = rel[ok3] - self.hand_size * (y[ok3] - y[ROOT])
                rho3 = (_cauchy(np.linalg.norm(r, axis=-1), w.robust_3d_mm) if rho is None or "3d" not in rho
                        else rho["3d"][ok3])
                rho_used["3d"] = np.zeros(21)
                rho_used["3d"][ok3] = rho3
                s = (w.w_3d * rho3)[:, None]
                blocks.append((s * r).ravel())
                if jacobian:
                    jacs.append((s[:, :, None] * (JX[ok3] - JX[ROOT][None])).reshape(-1, 26))
                names.append(("3d", len(blocks[-1])))
        # joint limits (finger angles only)
        lo, hi = hm.JOINT_LIMITS[6:, 0], hm.JOINT_LIMITS[6:, 1]
        a = np.asarray(params, np.float64)[6:]
        r_lim = np.concatenate([np.minimum(a - lo, 0.0), np.maximum(a - hi, 0.0)]) * w.w_limits
        J_lim = np.zeros((40, 26))
        # active at the limit too (<=): a step that would cross it is then seen as costly
        J_lim[np.arange(20), 6 + np.arange(20)] = np.where(a <= lo, w.w_limits, 0.0)
        J_lim[20 + np.arange(20), 6 + np.arange(20)] = np.where(a >= hi, w.w_limits, 0.0)
        blocks.append(r_lim)
        jacs.append(J_lim)
        names.append(("limits", 40))
        # temporal
        if predicted is not None and w.w_temporal > 0:
            blocks.append((w.w_temporal * (X - predicted)).ravel())
            if jacobian:
                jacs.append((w.w_temporal * JX).reshape(-1, 26))
            names.append(("temporal", 63))
        r = np.concatenate(blocks)
        slices, a0 = {}, 0
        for n, k in names:
            slices[n] = slice(a0, a0 + k)
            a0 += k
        return r, (np.concatenate(jacs) if jacobian else None), slices, X, rho_used

    def _predicted(self):
        if self.weights.w_temporal <= 0 or not self.previous:
            return None
        if len(self.previous) == 1:
            return self.previous[-1]
        return 2 * self.previous[-1] - self.previous[-2]       # constant velocity

    # -------------------------------------------------------------- solving
    def fit(self, obs: Observation, init, iterations: int | None = None, remember: bool = True) -> FitResult:
        """Levenberg-Marquardt from ``init`` (26,); the temporal term uses the frames
        fitted before (``remember`` adds this one to them)."""
        p = np.asarray(init, np.float64).copy()
        pred = self._predicted()
        if self.engine == "compiled":
            return self._fit_compiled(obs, p, pred, self.iterations if iterations is None else int(iterations),
                                      remember)
        lam = 1e-3
        n_iter = self.iterations if iterations is None else int(iterations)
        done = 0
        for done in range(1, n_iter + 1):
            # iteratively reweighted: robust weights from the current pose, held fixed
            # while this iteration's step is chosen
            r, J, slices, X, rho = self.residuals(p, obs, pred)
            E = float(r @ r)
            A = J.T @ J
            g = J.T @ r
            improved = False
            for _ in range(12):
                step = np.linalg.solve(A + lam * (np.diag(np.diag(A)) + 1e-6 * np.eye(26)), -g)
                p_new = apply_step(p, step)
                r_new, _, s_new, X_new, _ = self.residuals(p_new, obs, pred, rho=rho, jacobian=False)
                E_new = float(r_new @ r_new)
                if np.isfinite(E_new) and E_new < E:
                    p, r, slices, X, E = p_new, r_new, s_new, X_new, E_new
                    lam = max(lam / 3.0, 1e-7)
                    improved = True
                    break
                lam *= 4.0
            if not improved or np.linalg.norm(step) < 1e-8:
                break
        if n_iter == 0:
            r, _, slices, X, _ = self.residuals(p, obs, pred, jacobian=False)
            E = float(r @ r)
        # the energy and its terms at the result (robust weights of the last iteration)
        terms = {n: float(r[s] @ r[s]) for n, s in slices.items()}
        if remember:
            self.previous = (self.previous + [X])[-2:]
        return FitResult(params=p, joints=X, energy=E, terms=terms, iterations=done)

    def _fit_compiled(self, obs: Observation, p, pred, n_iter: int, remember: bool) -> FitResult:
        from handlib import fitting_compiled as fc
        w = self.weights
        uv = np.ascontiguousarray(obs.uv, np.float64)
        conf = np.nan_to_num(np.asarray(obs.confidence, np.float64), nan=0.0)
        ok2 = np.all(np.isfinite(uv), -1) & (conf > 0)
        use3d = obs.xyz_norm is not None
        y = np.ascontiguousarray(obs.xyz_norm if use3d else np.zeros((21, 3)), np.float64)
        ok3 = np.all(np.isfinite(y), -1)
        use_pred = pred is not None
        pred_a = np.ascontiguousarray(pred if use_pred else np.zeros((21, 3)), np.float64)
        p, X, E, terms, ends, done = fc.lm_fit(
            p, n_iter, self.K, self.bone_lengths.astype(np.float64), self.side == "left",
            self.hand_size, uv, conf, ok2, y, ok3, use3d, float(obs.pixel_scale), w.w_2d, w.w_3d,
            w.w_limits, w.w_temporal, w.robust_2d_px, w.robust_3d_mm, pred_a, use_pred, compiled_tables())
        rows = np.diff(np.concatenate([[0], ends]))
        names = ("2d", "3d", "limits", "temporal")
        if remember:
            self.previous = (self.previous + [X])[-2:]
        return FitResult(params=p, joints=X, energy=float(E), iterations=int(done),
                         terms={n: float(t) for n, t, k in zip(names, terms, rows) if k > 0})

    def reset(self) -> None:
        """Forget the previous frames (after a lost track)."""
        self.previous = []


# ------------------------------------------------------------------ initialisation
def kabsch(source, target):
    """Rotation R (3, 3) and translation t minimising |R source + t - target|^2 over
    corresponding points (N, 3) (no reflection)."""
    a, b = np.asarray(source, float), np.asarray(target, float)
    ca, cb = a.mean(0), b.mean(0)
    U, _, Vt = np.linalg.svd((a - ca).T @ (b - cb))
    d = np.sign(np.linalg.det(Vt.T @ U.T))
    R = Vt.T @ np.diag([1.0, 1.0, d]) @ U.T
    return R, cb - R @ ca


PALM = [0, 1, 5, 9, 13, 17]          # W and the five finger bases: not moved by finger angles


def initial_pose(obs: Observation, K, bone_lengths=None, side: str = "right",
                 distance_mm: float | None = None) -> np.ndarray:
    """A starting pose (26,) for the first frame or after a lost track: fingers at the
    rest pose, the palm turned onto RegNet's 3D (Kabsch on the wrist and the five finger
    bases), placed so that M0 projects onto its 2D input at ``distance_mm`` (default: the
    depth at which the model's palm has the 2D input's size)."""
    bl = hm.default_bone_lengths() if bone_lengths is None else np.asarray(bone_lengths, float)
    rest = hm.forward_kinematics(np.zeros(26), bl, side)
    size = np.linalg.norm(rest[WRIST] - rest[ROOT])
    p = np.zeros(26)
    y = None if obs.xyz_norm is None else np.asarray(obs.xyz_norm, float)
    if y is not None and np.all(np.isfinite(y[PALM])):
        R, _ = kabsch(rest[PALM] - rest[ROOT], (y[PALM] - y[ROOT]) * size)
        p[:3] = hm.rotation_vector(R)
    X = hm.forward_kinematics(p, bl, side)
    uv = np.asarray(obs.uv, float)
    Kf = np.asarray(K, float)
    if distance_mm is None:
        ok = np.all(np.isfinite(uv[PALM]), -1)
        if ok.sum() >= 3:
            spread_px = np.linalg.norm(uv[PALM][ok] - uv[PALM][ok].mean(0), axis=-1).mean()
            spread_mm = np.linalg.norm(X[PALM][ok] - X[PALM][ok].mean(0), axis=-1).mean()
            distance_mm = Kf[0, 0] * spread_mm / max(spread_px, 1e-6)
        else:
            distance_mm = START_DISTANCE_MM
    m0 = uv[ROOT] if np.all(np.isfinite(uv[ROOT])) else Kf[:2, 2]
    ray = np.linalg.solve(Kf, np.array([m0[0], m0[1], 1.0]))
    target = ray / ray[2] * distance_mm
    p[3:6] = target - (X[ROOT] - p[3:6])
    return p


CALIBRATION_WEIGHTS = FitWeights(w_3d=0.1)
"""The weights of the calibration fit's second stage (:func:`calibration_fit`): the 2D
decides where the hand is, the 3D term (0.1 per mm against 1 per crop pixel) only keeps
what the 2D cannot see (which way a finger bends out of the image plane).

Why not the default weights (3D 1.0 per mm) alone, as before: the fitted depth is where
the model's root-relative shape, projected, best matches the 2D. RegNet's 3D is off by
about 18 mm per joint and its 2D by about 3 crop pixels, so with the default weights the
3D term holds about 90 % of the energy and the fitted shape is RegNet's, wrong finger
bends included; a least-squares fit places a shape whose errors the 2D does not share
too far away (it cannot match every joint, and a smaller projection is the compromise).
Measured with the shipped RegNet on ``make-video`` seed 7 (20 frames; frames 0, 5, 10,
15): with the true 2D and RegNet's 3D, the default weights put M0 9 % too far on
average, this two-stage fit 2 %; with RegNet's 2D as well, 11 % and 6 % (the rest is
RegNet's 2D, whose joints lie about 4 % too close to the hand's centre). The second
stage's 3D weight was chosen on 120 frames of seven other motions (seeds 3, 5, 11, 13,
17, 23, and seed 7 at 150 frames) among 0, 0.03, 0.1, 0.17 and 0.3: 0.1 gave the
smallest root mean square error of the calibrated depth, 6.8 % against 8.6 % for the
default weights alone. Both are about 4 % too far on average there: RegNet's 2D again
(5 % too small about the hand's centre), which no weighting of the fit removes."""


def calibration_fit(obs: Observation, K, side: str = "right", iterations: int = 30,
                    engine: str = "numpy") -> FitResult:
    """The calibration's fit of one frame at the model's size (depth free): from
    :func:`initial_pose`, first with the default weights (a strong 3D term turns the hand
    and bends the fingers from the rest pose), then with :data:`CALIBRATION_WEIGHTS` from
    there, so that the 2D decides the depth (``iterations`` each; ``engine`` as in
    :class:`HandFitter`)."""
    coarse = HandFitter(K, side=side, weights=FitWeights(), iterations=iterations, engine=engine).fit(
        obs, initial_pose(obs, K, side=side), remember=False)
    return HandFitter(K, side=side, weights=CALIBRATION_WEIGHTS, iterations=iterations, engine=engine).fit(
        obs, coarse.params, remember=False)


def calibrate_scale(observations, K, side: str = "right", distance_mm: float = START_DISTANCE_MM,
                    hand_size_mm: float | None = None, iterations: int = 30, engine: str = "numpy") -> float:
    """The hand's scale (bone lengths = default x scale) from the first frames.

    With ``hand_size_mm`` (|W - M0| in mm, when known) the scale is that over the model's.
    Otherwise the paper's convention: the hand is ``distance_mm`` from the camera at
    start. Each frame is fitted at the model's size (depth free, :func:`calibration_fit`),
    and since a hand ``k`` times larger looks the same ``k`` times farther away, the scale
    is the one that puts the fitted M0 at ``distance_mm`` (the median over frames).
    Monocular 2D cannot tell a small near hand from a large far one: the convention
    decides.
    """
    size0 = np.linalg.norm(hm.rest_pose()[WRIST] - hm.rest_pose()[ROOT])
    if hand_size_mm is not None:
        return float(hand_size_mm) / size0
    scales = []
    for obs in observations:
        res = calibration_fit(obs, K, side=side, iterations=iterations, engine=engine)
        # the fitted hand's depth is where it looks right at the model's size; a hand of
        # scale k at the same 2D size sits k times as far: choose k so M0 is at distance
        scales.append(distance_mm / res.joints[ROOT, 2])
    return float(np.median(scales))


def with_weights(fitter: HandFitter, **changes) -> HandFitter:
    """A copy of ``fitter`` with some weights changed (the notebook switches terms off)."""
    f = HandFitter(fitter.K, fitter.bone_lengths, fitter.side, replace(fitter.weights, **changes),
                   fitter.iterations, fitter.engine)
    return f
