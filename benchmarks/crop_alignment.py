"""Geometry: how far 3D targets are from being pictures of their crops (not a speed test).

    python -m benchmarks.crop_alignment      (or python benchmarks/crop_alignment.py)

For hands sampled as the rendered sets sample them (random articulation and view,
25-75 cm away, seeded), placed with their middle knuckle at the image centre, at pixel
(60, 60), and where the scene put them, the crop around the joints is cut two ways:

* affine (the GANerated files' crops; the targets stay in the camera's frame, as the
  pipeline had them before the crop camera),
* perspective (the crop camera; targets turned by its R).

Each target is projected orthographically, one scale and offset are fitted to the
crop's 2D joints, and the worst joint's miss is reported in W-M0 lengths
(:func:`handlib.crop_camera.orthographic_misalignment`): median and 95th percentile
over the hands. What the crop camera leaves is perspective within the crop.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from benchmarks._common import report  # noqa: E402
from handlib import camera as cam, synthetic  # noqa: E402
from handlib import crop_camera as cc  # noqa: E402
from handlib import hand_model as hm  # noqa: E402

K = cam.GANERATED


def misalignments(X: np.ndarray) -> tuple[float, float]:
    uv = cam.project(K, X)
    target = hm.normalise(X)[0]
    affine = cc.crop_from_joints(uv, K.K, 128, perspective=False)
    persp = cc.crop_from_joints(uv, K.K, 128)
    return (cc.orthographic_misalignment(target, affine.to_crop(uv)),
            cc.orthographic_misalignment(persp.to_crop_frame(target), persp.to_crop(uv)))


def main() -> None:
    quick = os.environ.get("HANDLIB_QUICK", "0") not in ("", "0")
    n = 100 if quick else 1000
    rows = []
    for where in ("image centre", "pixel (60, 60)", "where the scene put it"):
        old, new = [], []
        for i in range(n):
            scene = synthetic.sample_scene(synthetic.frame_rng(0, i))
            X = hm.forward_kinematics(scene.params, hm.default_bone_lengths(scene.hand_scale),
                                      side=scene.side)
            if where != "where the scene put it":
                pixel = (K.cx, K.cy) if where == "image centre" else (60.0, 60.0)
                X = X - X[9] + cam.back_project(K, np.array(pixel), X[9, 2])
            a, b = misalignments(X)
            old.append(a)
            new.append(b)
        for name, v in (("affine, camera-frame target", old), ("crop camera", new)):
            rows.append({"hand at": where, "crop": name, "median": float(np.median(v)),
                         "p95": float(np.percentile(v, 95)), "hands": n})
    report("crop_alignment", rows, notes="worst joint's orthographic miss, in W-M0 lengths")


if __name__ == "__main__":
    main()
