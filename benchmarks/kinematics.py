"""Forward kinematics of a batch of poses: NumPy and TensorFlow against a naive loop.

    python -m benchmarks.kinematics      (or python benchmarks/kinematics.py)

The baseline is a plain Python loop over poses and joints (what one writes first);
the table gives poses per second and the speed-up over that baseline, all measured in
this process.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from benchmarks._common import best_time, report  # noqa: E402
from handlib import hand_model as hm  # noqa: E402


def naive_fk(params: np.ndarray, bone_lengths: np.ndarray) -> np.ndarray:
    """One pose at a time, one joint at a time, 3x3 matrices built per joint."""
    rm = hm.rest_model()

    def rot(axis, angle):
        k = np.asarray(axis)
        K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
        return np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * K @ K

    out = np.zeros((len(params), 21, 3))
    for b, p in enumerate(params):
        R = hm.rotation_matrix(p[0:3])
        joints = [np.zeros(3)] * 21
        for i, name in enumerate(hm.FINGER_NAMES):
            j = hm.FINGERS[name]
            a = p[6 + 4 * i: 10 + 4 * i]
            joints[j[0]] = bone_lengths[j[0] - 1] * rm.bone_dirs[j[0]]
            g = rot(rm.abd_axes[i], a[1]) @ rot(rm.flex_axes[j[0]], a[0])
            for k in range(1, 4):
                c = j[k]
                joints[c] = joints[j[k - 1]] + bone_lengths[c - 1] * (g @ rm.bone_dirs[c])
                if k < 3:
                    g = g @ rot(rm.flex_axes[c], a[1 + k])
        for n in range(21):
            out[b, n] = R @ joints[n] + p[3:6]
    return out


def main() -> None:
    from handlib import backend
    tf = backend.tensorflow()
    rng = np.random.default_rng(0)
    rows = []
    bl = hm.default_bone_lengths()
    for batch in (1, 256, 4096):
        params = np.zeros((batch, 26))
        params[:, 0:3] = hm.random_rotations(rng, batch)
        params[:, 3:6] = [0, 0, 500]
        params[:, 6:] = hm.sample_articulations(rng, batch)[:, 6:]
        ref = hm.forward_kinematics(params, bl)
        assert np.allclose(naive_fk(params[:64], bl), ref[:64], atol=1e-9)
        nb = min(batch, 256)
        t_naive = best_time(lambda: naive_fk(params[:nb], bl), repeats=3) / nb
        t_np = best_time(lambda: hm.forward_kinematics(params, bl), repeats=5) / batch
        tp, tbl = tf.constant(params, tf.float32), tf.constant(bl, tf.float32)
        fk_graph = tf.function(lambda x: hm.forward_kinematics_tf(x, tbl))
        t_tf = best_time(lambda: fk_graph(tp).numpy(), repeats=5, warmup=2) / batch
        for impl, t in (("naive loop (baseline)", t_naive), ("numpy, vectorised", t_np),
                        ("tensorflow, tf.function", t_tf)):
            rows.append({"batch": batch, "implementation": impl,
                         "poses_per_s": 1.0 / t, "speedup_vs_naive": t_naive / t})
    report("kinematics", rows, notes="speed-ups are against the naive loop timed in this run")


if __name__ == "__main__":
    main()
