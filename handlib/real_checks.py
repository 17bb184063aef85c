"""Checks of a pose network on real hands, where no 3D labels exist.

Introduced in ``notebooks/03_regnet_training.ipynb``. Both read ``../shared/realdata/``
(or the folder in ``HANDLIB_REALDATA_DIR``), never committed, and return None with a
message where it is absent.

- :func:`video_agreement`: a real video (``asl_hand/``, one right hand) with reference
  tracks from MediaPipe Hands (a strong peer's output, **not ground truth**). Each frame
  is cut around the reference joints with the course's crop (as in training), RegNet
  predicts, and the per-joint 2D distance to the reference is divided by the reference
  hand size (wrist to middle-finger MCP, pixels). This is *agreement* with a peer.
- :func:`letters_inside_box`: real photos in ordinary rooms (``asl_letters/``, several
  people and skin tones) with one hand box each. The crop's side is 2-2.4 times the box's
  larger side (at least 50 % margin on each side) and the box sits at a random place
  inside it (so that a prediction at the crop's centre mostly misses), and the figure is
  the share of predicted joints inside the box: weak evidence, but real.

Each is reported beside the mean-pose baseline (the training set's mean pose placed in
the same crop) and, for the boxes, beside all joints at the crop's centre.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from handlib import crop_camera as cc
from handlib import files, images, metrics
from handlib import pose_network as pn
from handlib import prediction
from handlib.crop_camera import Crop
from handlib.files import DataFileError

VIDEO = "asl_hand/asl_hand.25fps.mp4"
TRACKS = "asl_hand/asl_hand.full.json"
LETTERS = "asl_letters/American-Sign-Language-Letters-1"


def read_video(path, every: int = 1, limit: int | None = None) -> np.ndarray:
    """Frames (N, H, W, 3) RGB uint8 of a video file (every ``every``-th frame); a file
    OpenCV cannot open raises :class:`DataFileError` naming it."""
    import cv2
    path = Path(path)
    if not path.is_file():
        raise DataFileError(path, "a video file", "no such file")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise DataFileError(path, "a video OpenCV can open (mp4, avi)", "a file it cannot open")
    frames, i = [], 0
    try:
        while limit is None or len(frames) < limit:
            ok, frame = cap.read()
            if not ok:
                break
            if i % every == 0:
                frames.append(frame[..., ::-1].copy())
            i += 1
    finally:
        cap.release()
    if not frames:
        raise DataFileError(path, "a video with frames", "no readable frame")
    return np.stack(frames)


def read_tracks(path) -> np.ndarray:
    """Reference tracks (F, 21, 2) in pixels from a JSON list of F x 21 x [x, y, z]."""
    data = np.asarray(files.read_json(path, "reference tracks (F x 21 x [x, y, z])"), dtype=object)
    try:
        arr = np.asarray(data.tolist(), dtype=np.float64)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.ndim != 3 or arr.shape[1:] != (21, 3):
        raise DataFileError(path, "F x 21 x [x, y, z] numbers", f"shape {getattr(arr, 'shape', '?')}")
    return arr[..., :2]


def _baseline_uv(pose, crop: Crop) -> np.ndarray:
    return crop.from_crop(np.asarray(pose["uv_fraction"]) * crop.size)


def video_agreement(model, mean_pose: dict | None = None, side: str = "right", every: int = 1,
                    limit: int | None = None, folder=None, keep: int = 0) -> dict | None:
    """Per-joint 2D distance to the reference tracks / reference hand size, per frame,
    for RegNet (``side``: the video's hand is a right hand) and the mean-pose baseline.
    ``keep``: also return that many (frame, prediction, reference joints), spread over
    the video. Returns None (with a message) where the real data are absent."""
    base = Path(folder) if folder is not None else files.realdata_dir(quiet=True)
    if base is None or not (base / VIDEO).is_file():
        print(f"real video not found under {base}: the agreement check is skipped")
        return None
    frames = read_video(base / VIDEO, every, limit)
    tracks = read_tracks(base / TRACKS)[::every][:len(frames)]
    if len(tracks) != len(frames):
        raise DataFileError(base / TRACKS, f"reference tracks for all {len(frames)} frames read",
                            f"{len(tracks)}")
    H, W = frames.shape[1:3]
    K = prediction.default_intrinsics(W, H)
    size = pn.model_info(model)["input_size"]
    d_net, d_base, auto_right, kept = [], [], 0, []
    keep_at = set(np.linspace(0, len(frames) - 1, keep).astype(int).tolist()) if keep else set()
    for i, (img, ref) in enumerate(zip(frames, tracks)):
        centre, side_px = cc.crop_boxes(ref[None], K)
        box = (centre[0, 0], centre[0, 1], side_px[0])
        p = prediction.predict_hand(model, img, side=side, K=K, box=box)
        hand = np.linalg.norm(ref[metrics.WRIST] - ref[metrics.ROOT])
        d_net.append(np.linalg.norm(p.uv - ref, axis=-1) / hand)
        if mean_pose is not None:
            crop = Crop(centre=box[:2], side=box[2], size=size, source_K=K, flip=p.crop.flip)
            d_base.append(np.linalg.norm(_baseline_uv(mean_pose, crop) - ref, axis=-1) / hand)
        if side != "auto":
            auto_right += prediction.predict_hand(model, img, side="auto", K=K, box=box).side == "right"
        if i in keep_at:
            kept.append((img, p, ref))
    d_net = np.stack(d_net)
    out = {"frames": len(frames), "every": every, "unit": "reference hand size (wrist to M0, px)",
           "regnet": _agreement(d_net), "side": side,
           "auto_side_says_right": auto_right / len(frames) if side != "auto" else None}
    if d_base:
        out["mean_pose"] = _agreement(np.stack(d_base))
    if keep:
        out["examples"] = kept
    return out


def _agreement(d):
    return {"mean": float(d.mean()), "median": float(np.median(d)),
            "per_joint": dict(zip(metrics.JOINT_NAMES, np.round(d.mean(0), 4).tolist())),
            "per_frame_mean": np.round(d.mean(1), 4).tolist()}


def letter_photos(folder=None, splits=("valid", "test")):
    """(image path, box (cx, cy, w, h) in pixels) of the distinct ASL-letter photos (the
    ``valid`` and ``test`` splits; ``train`` holds augmented copies)."""
    base = Path(folder) if folder is not None else files.realdata_dir(quiet=True)
    if base is None or not (base / LETTERS).is_dir():
        return None
    out = []
    for split in splits:
        for img in sorted((base / LETTERS / split / "images").glob("*.jpg")):
            label = base / LETTERS / split / "labels" / f"{img.stem}.txt"
            text = files.read_text(label, "a YOLO label (class cx cy w h, normalised)").split()
            try:
                _, cx, cy, w, h = (float(v) for v in text[:5])
            except ValueError:
                raise DataFileError(label, "a YOLO label (class cx cy w h, normalised)",
                                    f"{' '.join(text[:5])!r}") from None
            out.append((img, (cx, cy, w, h)))
    return out


def letters_inside_box(model, mean_pose: dict | None = None, side: str = "auto", seed: int = 0,
                       limit: int | None = None, folder=None, keep: int = 0) -> dict | None:
    """Share of predicted joints inside each photo's hand box, with crops of side
    ``max(w, h)`` x U(2, 2.4) placed at random around the box (the box stays in the
    crop). Beside it: the mean-pose baseline and all joints at the crop's centre.
    ``keep``: also return that many (image, prediction, box) for a grid.
    Returns None (with a message) where the photos are absent."""
    photos = letter_photos(folder)
    if photos is None:
        print("ASL letter photos not found in the real-data folder: the box check is skipped")
        return None
    rng = np.random.default_rng(seed)
    if limit is not None:
        photos = [photos[i] for i in sorted(rng.choice(len(photos), min(limit, len(photos)), replace=False))]
    size = pn.model_info(model)["input_size"]
    share_net, share_base, share_centre, sides, kept = [], [], [], [], []
    for path, (cx, cy, w, h) in photos:
        img = images.read_image(path)
        H, W = img.shape[:2]
        bx, by, bw, bh = cx * W, cy * H, w * W, h * H
        side_px = max(bw, bh) * rng.uniform(2.0, 2.4)
        slack = (side_px - np.array([bw, bh])) / 2
        centre = np.array([bx, by]) + rng.uniform(-1, 1, 2) * slack
        K = prediction.default_intrinsics(W, H)
        p = prediction.predict_hand(model, img, side=side, K=K, box=(centre[0], centre[1], side_px))

        def inside(uv):
            return float(np.mean((np.abs(uv[:, 0] - bx) <= bw / 2) & (np.abs(uv[:, 1] - by) <= bh / 2)))
        share_net.append(inside(p.uv))
        share_centre.append(inside(np.tile(centre, (21, 1))))
        if mean_pose is not None:
            crop = Crop(centre=tuple(centre), side=side_px, size=size, source_K=K, flip=p.crop.flip)
            share_base.append(inside(_baseline_uv(mean_pose, crop)))
        sides.append(p.side)
        if len(kept) < keep:
            kept.append((img, p, (bx, by, bw, bh)))
    out = {"photos": len(photos), "side": side, "crop": "box side x U(2, 2.4), box at a random place inside",
           "regnet": float(np.mean(share_net)), "all_at_crop_centre": float(np.mean(share_centre)),
           "auto_sides": {s: sides.count(s) for s in ("left", "right")} if side == "auto" else None}
    if share_base:
        out["mean_pose"] = float(np.mean(share_base))
    if keep:
        out["examples"] = kept
    return out
