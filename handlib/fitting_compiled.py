"""The skeleton fit compiled: :mod:`handlib.fitting`'s energy, Jacobian and
Levenberg-Marquardt loop as machine code (Numba), for the tracker's real-time budget.

Introduced in ``notebooks/05_fitting_and_tracking.ipynb`` (section "Real time").

:mod:`handlib.fitting` is the readable version, the one the course teaches and the
reference this module is tested against (the same residuals, Jacobian, energy and LM
iterates, to round-off: ``tests/test_fitting_compiled.py``). Its cost is Python's: every
energy evaluation is a few dozen small NumPy calls of a few microseconds each, and a fit
needs dozens of evaluations. Here the same arithmetic, in the same order, runs as loops
that Numba compiles once (``cache=True``: the machine code is kept on disk beside this
file, so later sessions load it in about a second).

Why Numba: the fit is thousands of operations on arrays of 3 to 208 numbers, where the
cost of each call, not the arithmetic, decides. Numba compiles the loops as written into
one machine-code function per piece, cheap to call; a TensorFlow graph
(``tf.function``, with or without XLA) has a fixed cost per call and per operation that is
large against arrays this small. A TensorFlow version of the fit was not built to compare;
``python -m benchmarks.fitting`` measures this one against the readable fit and scipy.

Use it through :class:`handlib.fitting.HandFitter` with ``engine="compiled"`` (the tracker
does); nothing here is meant to be read before the NumPy version.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from handlib import hand_model as hm

MAX_ROWS = 42 + 63 + 40 + 63
"""Residual rows at most: 2D (21 x 2), 3D (21 x 3), joint limits (40), temporal (21 x 3)."""
ROOT = hm.NORM_ROOT_JOINT


# ------------------------------------------------------------------ small pieces
@njit(cache=True)
def _rodrigues(r0, r1, r2):
    th = np.sqrt(r0 * r0 + r1 * r1 + r2 * r2)
    out = np.eye(3)
    if th < 1e-12:
        return out
    k0, k1, k2 = r0 / th, r1 / th, r2 / th
    K = np.array([[0.0, -k2, k1], [k2, 0.0, -k0], [-k1, k0, 0.0]])
    KK = K @ K
    s, c = np.sin(th), 1.0 - np.cos(th)
    for i in range(3):
        for j in range(3):
            out[i, j] += s * K[i, j] + c * KK[i, j]
    return out


@njit(cache=True)
def _rotation_vector(R):
    """:func:`handlib.hand_model.rotation_vector` for one matrix (the same quaternion
    method, the same choice among the four candidates)."""
    tr = R[0, 0] + R[1, 1] + R[2, 2]
    d = np.array([tr, R[0, 0], R[1, 1], R[2, 2]])
    k = 0
    for i in range(1, 4):
        if d[i] > d[k]:
            k = i
    if k == 0:
        q = np.array([1 + tr, R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]])
    elif k == 1:
        q = np.array([R[2, 1] - R[1, 2], 1 + 2 * R[0, 0] - tr, R[0, 1] + R[1, 0], R[0, 2] + R[2, 0]])
    elif k == 2:
        q = np.array([R[0, 2] - R[2, 0], R[0, 1] + R[1, 0], 1 + 2 * R[1, 1] - tr, R[1, 2] + R[2, 1]])
    else:
        q = np.array([R[1, 0] - R[0, 1], R[0, 2] + R[2, 0], R[1, 2] + R[2, 1], 1 + 2 * R[2, 2] - tr])
    q = q / np.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3])
    if q[0] < 0:
        q = -q
    s = np.sqrt(q[1] * q[1] + q[2] * q[2] + q[3] * q[3])
    angle = 2 * np.arctan2(s, q[0])
    factor = angle / s if s > 1e-12 else 2.0
    return np.array([q[1] * factor, q[2] * factor, q[3] * factor])


@njit(cache=True)
def apply_step(p, step):
    """:func:`handlib.fitting.apply_step`: rotation ``exp(step[:3]) R``, the rest added."""
    out = p.copy()
    R = _rodrigues(step[0], step[1], step[2]) @ _rodrigues(p[0], p[1], p[2])
    out[:3] = _rotation_vector(R)
    for i in range(3, 26):
        out[i] += step[i]
    return out


@njit(cache=True)
def forward_kinematics(p, bl, left, Kx, K2, dirs, idx):
    """:func:`handlib.fitting.fast_forward_kinematics`: joints (21, 3) mm and rotation
    frames (21, 3, 3), camera frame."""
    canon = np.zeros((21, 3))
    rot = np.zeros((21, 3, 3))
    for i in range(3):
        rot[0, i, i] = 1.0
    order = (1, 0, 2, 3)          # abduction, base, middle, last flexion
    for f in range(5):
        Rs = np.empty((4, 3, 3))
        for k in range(4):
            a = p[6 + 4 * f + order[k]]
            s, c = np.sin(a), 1.0 - np.cos(a)
            for i in range(3):
                for j in range(3):
                    Rs[k, i, j] = (1.0 if i == j else 0.0) + s * Kx[f, k, i, j] + c * K2[f, k, i, j]
        g0 = Rs[0] @ Rs[1]
        g1 = g0 @ Rs[2]
        g2 = g1 @ Rs[3]
        L0, L1, L2, L3 = bl[idx[f, 0] - 1], bl[idx[f, 1] - 1], bl[idx[f, 2] - 1], bl[idx[f, 3] - 1]
        j0 = L0 * dirs[f, 0]
        j1 = j0 + L1 * (g0 @ dirs[f, 1])
        j2 = j1 + L2 * (g1 @ dirs[f, 2])
        j3 = j2 + L3 * (g2 @ dirs[f, 3])
        canon[idx[f, 0]] = j0
        canon[idx[f, 1]] = j1
        canon[idx[f, 2]] = j2
        canon[idx[f, 3]] = j3
        rot[idx[f, 0]] = g0
        rot[idx[f, 1]] = g1
        rot[idx[f, 2]] = g2
        rot[idx[f, 3]] = g2
    if left:
        m = np.array([-1.0, 1.0, 1.0])
        for j in range(21):
            for a in range(3):
                canon[j, a] *= m[a]
                for b in range(3):
                    rot[j, a, b] *= m[a] * m[b]
    R = _rodrigues(p[0], p[1], p[2])
    X = canon @ R.T
    rots = np.empty((21, 3, 3))
    for j in range(21):
        for a in range(3):
            X[j, a] += p[3 + a]
        rots[j] = R @ rot[j]
    return X, rots


@njit(cache=True)
def joint_jacobian(p, X, rots, left, frames, local, pivots, moved):
    """:func:`handlib.fitting.joint_jacobian` given the joints and frames: (21, 3, 26)."""
    sgn = -1.0 if left else 1.0
    R = _rodrigues(p[0], p[1], p[2])
    J = np.zeros((21, 3, 26))
    for j in range(21):
        v0, v1, v2 = X[j, 0] - p[3], X[j, 1] - p[4], X[j, 2] - p[5]
        # -skew(v)
        J[j, 0, 1] = v2
        J[j, 0, 2] = -v1
        J[j, 1, 0] = -v2
        J[j, 1, 2] = v0
        J[j, 2, 0] = v1
        J[j, 2, 1] = -v0
        J[j, 0, 3] = 1.0
        J[j, 1, 4] = 1.0
        J[j, 2, 5] = 1.0
    for d in range(20):
        Rf = R if frames[d] < 0 else rots[frames[d]]
        loc = np.array([local[d, 0] * sgn, local[d, 1], local[d, 2]])
        ax = sgn * (Rf @ loc)
        pv = X[pivots[d]]
        for j in range(21):
            if moved[d, j] == 0.0:
                continue
            l0, l1, l2 = X[j, 0] - pv[0], X[j, 1] - pv[1], X[j, 2] - pv[2]
            J[j, 0, 6 + d] = (ax[1] * l2 - ax[2] * l1) * moved[d, j]
            J[j, 1, 6 + d] = (ax[2] * l0 - ax[0] * l2) * moved[d, j]
            J[j, 2, 6 + d] = (ax[0] * l1 - ax[1] * l0) * moved[d, j]
    return J


# ------------------------------------------------------------------ the residuals
@njit(cache=True)
def residuals(p, want_jacobian, fixed_rho, rho2, rho3, r, Jr, K, bl, left, hand_size,
              uv_obs, conf, ok2, y, ok3, use3d, pixel_scale, w2d, w3d, wlim, wtemp,
              robust2d, robust3d, pred, use_pred, tab):
    """:meth:`handlib.fitting.HandFitter.residuals`, written into ``r`` (MAX_ROWS,) and
    ``Jr`` (MAX_ROWS, 26). ``tab``: the chain's fixed tables
    (:func:`handlib.fitting.compiled_tables`). ``rho2``, ``rho3`` (21,): robust weights, read when
    ``fixed_rho``, else written. Returns the joints (21, 3), the rows used, and the
    blocks' ends (2D, 3D, limits, temporal: cumulative row counts)."""
    Kx, K2, dirs, idx, frames, local, pivots, moved, lo, hi = tab
    X, rots = forward_kinematics(p, bl, left, Kx, K2, dirs, idx)
    JX = joint_jacobian(p, X, rots, left, frames, local, pivots, moved) if want_jacobian \
        else np.zeros((1, 1, 1))
    n = 0
    ends = np.zeros(4, np.int64)
    # 2D
    if w2d > 0 and ok2.any():
        fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
        for j in range(21):
            if not ok2[j]:
                continue
            x, yy, z = X[j, 0], X[j, 1], max(X[j, 2], 1e-6)
            u0, u1 = fx * x / z + cx - uv_obs[j, 0], fy * yy / z + cy - uv_obs[j, 1]
            if not fixed_rho:
                rn = np.sqrt(u0 * u0 + u1 * u1) / pixel_scale
                rho2[j] = 1.0 / np.sqrt(1.0 + (rn / robust2d) ** 2)
            s = w2d / pixel_scale * np.sqrt(min(max(conf[j], 0.0), 1.0)) * rho2[j]
            r[n] = s * u0
            r[n + 1] = s * u1
            if want_jacobian:
                d00, d02 = fx / z, -fx * x / z ** 2
                d11, d12 = fy / z, -fy * yy / z ** 2
                for c in range(26):
                    Jr[n, c] = s * (d00 * JX[j, 0, c] + d02 * JX[j, 2, c])
                    Jr[n + 1, c] = s * (d11 * JX[j, 1, c] + d12 * JX[j, 2, c])
            n += 2
    ends[0] = n
    # 3D
    if use3d and w3d > 0 and ok3[ROOT] and ok3.sum() > 1:
        for j in range(21):
            if not ok3[j]:
                continue
            e0 = X[j, 0] - X[ROOT, 0] - hand_size * (y[j, 0] - y[ROOT, 0])
            e1 = X[j, 1] - X[ROOT, 1] - hand_size * (y[j, 1] - y[ROOT, 1])
            e2 = X[j, 2] - X[ROOT, 2] - hand_size * (y[j, 2] - y[ROOT, 2])
            if not fixed_rho:
                rn = np.sqrt(e0 * e0 + e1 * e1 + e2 * e2)
                rho3[j] = 1.0 / np.sqrt(1.0 + (rn / robust3d) ** 2)
            s = w3d * rho3[j]
            r[n] = s * e0
            r[n + 1] = s * e1
            r[n + 2] = s * e2
            if want_jacobian:
                for a in range(3):
                    for c in range(26):
                        Jr[n + a, c] = s * (JX[j, a, c] - JX[ROOT, a, c])
            n += 3
    ends[1] = n
    # joint limits
    for i in range(20):
        a = p[6 + i]
        r[n + i] = min(a - lo[i], 0.0) * wlim
        r[n + 20 + i] = max(a - hi[i], 0.0) * wlim
        if want_jacobian:
            for c in range(26):
                Jr[n + i, c] = 0.0
                Jr[n + 20 + i, c] = 0.0
            Jr[n + i, 6 + i] = wlim if a <= lo[i] else 0.0
            Jr[n + 20 + i, 6 + i] = wlim if a >= hi[i] else 0.0
    n += 40
    ends[2] = n
    # temporal
    if use_pred and wtemp > 0:
        for j in range(21):
            for a in range(3):
                r[n] = wtemp * (X[j, a] - pred[j, a])
                if want_jacobian:
                    for c in range(26):
                        Jr[n, c] = wtemp * JX[j, a, c]
                n += 1
    ends[3] = n
    return X, n, ends


@njit(cache=True)
def _sq(r, a, b):
    e = 0.0
    for i in range(a, b):
        e += r[i] * r[i]
    return e


@njit(cache=True)
def lm_fit(p0, n_iter, K, bl, left, hand_size, uv_obs, conf, ok2, y, ok3, use3d, pixel_scale,
           w2d, w3d, wlim, wtemp, robust2d, robust3d, pred, use_pred, tab):
    """:meth:`handlib.fitting.HandFitter.fit`'s loop: the same damping, the same 12 trial
    steps per iteration, the same stopping rules. Returns (params (26,), joints (21, 3),
    energy, the four blocks' energies (4,) in the order 2D, 3D, limits, temporal, the
    blocks' ends (4,), iterations done)."""
    p = p0.copy()
    r = np.zeros(MAX_ROWS)
    Jr = np.zeros((MAX_ROWS, 26))
    r_new = np.zeros(MAX_ROWS)
    rho2, rho3 = np.zeros(21), np.zeros(21)
    lam = 1e-3
    done = 0
    E = 0.0
    X = np.zeros((21, 3))
    n = 0
    ends = np.zeros(4, np.int64)
    eye = np.eye(26)
    for it in range(1, n_iter + 1):
        done = it
        X, n, ends = residuals(p, True, False, rho2, rho3, r, Jr, K, bl, left, hand_size, uv_obs,
                               conf, ok2, y, ok3, use3d, pixel_scale, w2d, w3d, wlim, wtemp,
                               robust2d, robust3d, pred, use_pred, tab)
        E = _sq(r, 0, n)
        J = Jr[:n]
        A = J.T @ J
        g = J.T @ r[:n]
        improved = False
        step = np.zeros(26)
        for _ in range(12):
            M = A + lam * (np.diag(np.diag(A)) + 1e-6 * eye)
            step = np.linalg.solve(M, -g)
            p_new = apply_step(p, step)
            X_new, n_new, ends_new = residuals(p_new, False, True, rho2, rho3, r_new, Jr, K, bl, left,
                                               hand_size, uv_obs, conf, ok2, y, ok3, use3d,
                                               pixel_scale, w2d, w3d, wlim, wtemp, robust2d,
                                               robust3d, pred, use_pred, tab)
            E_new = _sq(r_new, 0, n_new)
            if np.isfinite(E_new) and E_new < E:
                p, X, E, n, ends = p_new, X_new, E_new, n_new, ends_new
                r[:n] = r_new[:n]
                lam = max(lam / 3.0, 1e-7)
                improved = True
                break
            lam *= 4.0
        if not improved or np.sqrt(np.sum(step * step)) < 1e-8:
            break
    if n_iter == 0:
        X, n, ends = residuals(p, False, False, rho2, rho3, r, Jr, K, bl, left, hand_size, uv_obs,
                               conf, ok2, y, ok3, use3d, pixel_scale, w2d, w3d, wlim, wtemp,
                               robust2d, robust3d, pred, use_pred, tab)
        E = _sq(r, 0, n)
    terms = np.zeros(4)
    a = 0
    for b in range(4):
        terms[b] = _sq(r, a, ends[b])
        a = ends[b]
    return p, X, E, terms, ends, done
