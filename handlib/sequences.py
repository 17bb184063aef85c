"""Rendered video sequences with ground truth: smooth pose trajectories and the course's
demo video (``python -m handlib make-video``).

Introduced in ``notebooks/05_fitting_and_tracking.ipynb``. A sequence is a few key poses
(finger articulations from :func:`handlib.hand_model.sample_articulations`, palm views
within 50 degrees of facing the camera, positions 35-55 cm away) joined by smooth
(cosine-eased) interpolation: finger angles and translation linearly, the global
rotation along the shortest arc. Each frame is rendered into the camera's whole image
(:func:`handlib.synthetic.render_image`) over one fixed background photo, so the video
looks like a hand moving in front of a still scene, with the exact 2D and 3D joints.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from handlib import camera as cam
from handlib import hand_model as hm

VIDEO_INTRINSICS = cam.Intrinsics(fx=308.59, fy=308.59, cx=159.73, cy=119.63, width=320, height=240)
"""The demo video's camera: GANerated's colour camera at half resolution (320x240)."""


def smooth_trajectory(seed: int, frames: int, keyframe_every: int = 24, side: str = "right",
                      intrinsics: cam.Intrinsics = VIDEO_INTRINSICS) -> np.ndarray:
    """Pose parameters (frames, 26) of a smooth hand motion (see the module's docstring)."""
    rng = np.random.default_rng(seed)
    n_keys = frames // keyframe_every + 2
    arts = hm.sample_articulations(rng, n_keys)
    keys = np.zeros((n_keys, 26))
    keys[:, 6:] = arts[:, 6:]
    rots = []
    for k in range(n_keys):
        # palm towards the camera (hand frame +z -> camera -z), fingers up, then turned by
        # up to 50 degrees about a random axis
        base = hm.rotation_matrix([np.pi, 0.0, 0.0])
        axis = rng.normal(size=3)
        axis /= np.linalg.norm(axis)
        turn = hm.rotation_matrix(axis * np.radians(rng.uniform(0, 50)))
        rots.append(turn @ base)
        depth = rng.uniform(350.0, 550.0)
        margin = 0.3
        px = rng.uniform([margin * intrinsics.width, margin * intrinsics.height],
                         [(1 - margin) * intrinsics.width, (1 - margin) * intrinsics.height])
        centre = cam.back_project(intrinsics, px, depth)
        X = hm.forward_kinematics(np.r_[hm.rotation_vector(rots[-1]), 0, 0, 0, keys[k, 6:]], side=side)
        keys[k, 3:6] = centre - X[hm.NORM_ROOT_JOINT]
    out = np.zeros((frames, 26))
    for f in range(frames):
        k, t = divmod(f, keyframe_every)
        s = 0.5 - 0.5 * np.cos(np.pi * t / keyframe_every)          # ease in and out
        out[f, 3:] = (1 - s) * keys[k, 3:] + s * keys[k + 1, 3:]
        rel = rots[k + 1] @ rots[k].T
        out[f, :3] = hm.rotation_vector(hm.rotation_matrix(hm.rotation_vector(rel) * s) @ rots[k])
    return out


def render_sequence(params, side: str = "right", seed: int = 0, look: str = "real-like",
                    intrinsics: cam.Intrinsics = VIDEO_INTRINSICS, progress: bool = False) -> dict:
    """Render poses (F, 26) into whole images over one background photo. Returns
    ``{"rgb": (F, H, W, 3) uint8, "uv": (F, 21, 2) px, "xyz": (F, 21, 3) mm,
    "visible": (F, 21), "params": (F, 26), "K": (3, 3)}``."""
    from handlib import backgrounds, synthetic
    rng = np.random.default_rng(seed)
    files = backgrounds.background_files()
    W, H = intrinsics.width, intrinsics.height
    bg = backgrounds.random_crop(files[int(rng.integers(len(files)))], max(W, H), rng)[:H, :W]
    bg = bg.astype(np.float32) / 255.0
    skin = float(rng.uniform(0.1, 0.8))
    out = {"rgb": [], "uv": [], "xyz": [], "visible": []}
    it = range(len(params))
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc="rendering", unit="frame")
    for f in it:
        scene = synthetic.Scene(params=[float(x) for x in params[f]], side=side, skin=skin, look=look,
                                lights=[([0.3, -0.4, 1.0], 0.75), ([-0.6, 0.2, 0.5], 0.25)],
                                ambient=0.35, background="photos", seed=seed)
        rgb, uv, xyz, vis = synthetic.render_image(scene, intrinsics, background_image=bg)
        for k, v in (("rgb", rgb), ("uv", uv), ("xyz", xyz), ("visible", vis)):
            out[k].append(v)
    res = {k: np.stack(v) for k, v in out.items()}
    res["params"] = np.asarray(params, np.float64)
    res["K"] = intrinsics.K
    return res


def write_video(path, frames, fps: float = 25.0) -> Path:
    """Frames (F, H, W, 3) RGB uint8 -> an mp4v ``.mp4`` (or MJPG ``.avi``) file, written
    atomically and read back to check its frame count."""
    import cv2

    from handlib import files
    path = Path(path)
    fourcc = "MJPG" if path.suffix.lower() == ".avi" else "mp4v"
    with files.atomic_path(path) as tmp:
        H, W = frames.shape[1:3]
        w = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*fourcc), fps, (W, H))
        if not w.isOpened():
            raise RuntimeError(f"OpenCV cannot write {fourcc} video here")
        for f in frames:
            w.write(np.ascontiguousarray(f[..., ::-1]))
        w.release()
        cap = cv2.VideoCapture(str(tmp))
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        cap.release()
        if n != len(frames):
            raise RuntimeError(f"{path}: wrote {len(frames)} frames, read back {n}")
    return path


def make_demo_video(out, frames: int = 150, seed: int = 7, side: str = "right", fps: float = 25.0,
                    progress: bool = True) -> dict:
    """The demo video: ``OUT.mp4`` and its ground truth ``OUT.npz`` (uv, xyz, params, K,
    visible, fps, side). Deterministic for a seed."""
    from handlib import files
    out = Path(out)
    params = smooth_trajectory(seed, frames, side=side)
    seq = render_sequence(params, side=side, seed=seed, progress=progress)
    write_video(out.with_suffix(".mp4"), seq["rgb"], fps)
    with files.atomic_path(out.with_suffix(".npz"), suffix=".npz") as tmp:
        np.savez_compressed(tmp, uv=seq["uv"], xyz=seq["xyz"], params=seq["params"], K=seq["K"],
                            visible=seq["visible"], fps=fps, side=side, seed=seed)
    return {"video": str(out.with_suffix(".mp4")), "ground_truth": str(out.with_suffix(".npz")),
            "frames": frames, "seed": seed, "side": side}
