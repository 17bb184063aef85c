"""The real-hand yardstick: any RegNet on real photos and a real video, scored against a
peer (``python -m handlib evaluate-real``).

Introduced in ``notebooks/03_regnet_training.ipynb`` (section "Real hands, measured").

Every figure here is **agreement with a peer (MediaPipe Hands 0.10.21), not ground
truth**: the course has no measured 3D for real hands (:mod:`handlib.peer_reference`).

**Photos** (the frozen scored subsets of :mod:`handlib.peer_reference` where the peer
found a hand; the model is given the hand's side from the peer's handedness):

- *The reference box*: a square centred on the reference joints' bounding box, of side
  :data:`BOX_FACTOR` (2.0) times their larger extent. 2D distances are measured in pixels
  of that box drawn at :data:`CROP_PX` (256) pixels: ``|uv - uv_ref| * 256 / side``.
- *The model's crop*: the same square moved by a seeded random offset of up to
  :data:`MAX_OFFSET` (20 %) of its side in x and y (the same offsets for every model,
  drawn from the photo's name), so no reference position leaks into the input; padded
  with black where it leaves the photo (as ``predict`` pads).
- *2D*: end-point error and PCK AUC over 0-30 px of the 256 box.
- *3D, root + scale*: prediction and reference both moved to M0 and scaled to the
  course's hand size (|W - M0| = 91.7 mm; the peer's world joints have a size of their
  own), PCK AUC over 20-50 mm. *3D, aligned*: the prediction then moved, rotated and
  scaled onto the reference (Procrustes), same AUC. Also the median rotation between the
  two hands and how far the fingertips sit in front of the wrist (a tilt diagnostic).
- *Baselines*: one fixed open hand (no information: the course's hand model, open, palm
  towards the camera, fingers up, of the photo's side; 3D only) and the mean pose of the
  shipped model's training set placed in the model's crop (2D and 3D).
- Intervals: 95 % percentile bootstrap over photos (per-photo values resampled); for the
  video over frames, which are not independent, so those intervals are too narrow.

**The video** (``asl_hand/``, one right hand; never used in training): the tracker run as
``track --side right`` (the side from the reference's geometry), its fitted 2D joints
against the reference tracks per frame in hand sizes (reference |W - M0| in pixels),
the share of low-confidence frames (mean heatmap maximum below 0.3, or no hand), the
fitted 3D against the reference's world joints (root + scale, aligned), and RegNet alone
on crops cut around the reference joints (:func:`handlib.real_checks.video_agreement`)
beside the mean pose.
"""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from handlib import files, metrics
from handlib import hand_model as hm
from handlib import peer_reference as pr
from handlib.crop_camera import Crop
from handlib.files import DataFileError

BOX_FACTOR = 2.0
MAX_OFFSET = 0.2
CROP_PX = 256
HAND_SIZE_MM = 91.7
"""|W - M0| of the course's hand model (mm): both hands are scaled to it in 3D."""
LOW_CONFIDENCE = 0.3
LABEL = f"agreement with a peer ({pr.PEER}), not ground truth"
PROTOCOL = {"box": f"square centred on the reference joints, side {BOX_FACTOR} x their larger extent",
            "input_crop": f"the box moved by a seeded offset of up to {int(MAX_OFFSET * 100)} % of its side",
            "2d": f"pixels of the box drawn at {CROP_PX} px; AUC over 0-30 px",
            "3d_root_scale": f"M0 at the origin, |W - M0| = {HAND_SIZE_MM} mm for both; AUC over 20-50 mm",
            "3d_aligned": "after a similarity (Procrustes) alignment; AUC over 20-50 mm",
            "side": "the peer's handedness (MediaPipe's mirrored label swapped)",
            "reference_frame": "MediaPipe's world joints turned out of the perspective crop camera of the "
                               "reference box into the camera frame (60 degree field of view assumed)",
            "baselines": "a fixed open hand (3D only: it has no place in the image) and the shipped "
                         "model's training mean pose in the model's crop (2D and 3D)",
            "video_low_confidence": f"mean heatmap maximum < {LOW_CONFIDENCE}, or no hand",
            "intervals": "95 % percentile bootstrap over photos (frames for the video, which are not "
                         "independent: its intervals are too narrow), 1000 draws"}


# ------------------------------------------------------------------------ crops
def reference_box(uv) -> tuple[np.ndarray, float]:
    """The reference box of joints (21, 2) in pixels: (centre (2,), side) with the centre
    at their bounding box's centre and the side :data:`BOX_FACTOR` times its larger extent."""
    uv = np.asarray(uv, np.float64)
    lo, hi = uv.min(0), uv.max(0)
    return (lo + hi) / 2.0, float(BOX_FACTOR * max(hi - lo))


def photo_rng(seed: int, set_name: str, file: str) -> np.random.Generator:
    """A generator seeded by ``seed`` and the photo's name: the same offsets for every
    model and every run, whatever the order of photos."""
    return np.random.default_rng([seed, zlib.crc32(f"{set_name}/{file}".encode())])


def input_box(uv, rng: np.random.Generator) -> tuple[float, float, float]:
    """The model's crop ``(cx, cy, side)``: the reference box moved by up to
    :data:`MAX_OFFSET` of its side in x and y."""
    centre, side = reference_box(uv)
    c = centre + rng.uniform(-MAX_OFFSET, MAX_OFFSET, 2) * side
    return float(c[0]), float(c[1]), side


def reference_in_camera(world_mm, uv, K) -> np.ndarray:
    """The peer's world joints (21, 3) mm in the camera frame. MediaPipe's world joints
    are the hand as seen front-on through its own crop (turned within the image plane
    only: it cannot know the lens), so they are turned out of the perspective crop camera
    that looks at the reference box (:func:`reference_box`, intrinsics ``K``) into the
    camera frame, where the model's answers are."""
    centre, side = reference_box(uv)
    crop = Crop(centre=tuple(centre), side=side, size=CROP_PX, source_K=K, flip=False)
    return crop.from_crop_frame(np.asarray(world_mm, np.float64))


def to_box_px(dist_px, box_side) -> np.ndarray:
    """Image-pixel distances (N, J) -> pixels of the reference box drawn at 256 px."""
    return np.asarray(dist_px, np.float64) * CROP_PX / np.asarray(box_side, np.float64).reshape(-1, 1)


# ------------------------------------------------------------------------ check on renders
def renders_check(samples, answers: dict, boot: int = 1000, seed: int = 0,
                  assumed_fov: float | None = None) -> dict:
    """The yardstick's 3D conversion checked where the truth is known: the peer run over
    rendered frames (``samples``, :class:`handlib.samples.HandSample` with 3D labels and
    their crop) and its answers (``answers``: image file name -> :func:`handlib.peer_reference.read_folder_answers`'s
    entry or None) turned into the camera frame exactly as the photos' are
    (:func:`reference_in_camera`, through each frame's own camera) and scored against the
    renders' joints with :func:`score`, the peer in the predictor's place; beside it the
    fixed open hand against the same joints, and the share of frames whose side the peer
    names right. ``assumed_fov``: turn the peer's joints through a camera of this
    horizontal field of view (degrees) instead of each frame's own, as the photos are turned
    (their camera is unknown: 60 degrees assumed). Returns ``{"frames", "detected",
    "side_right_share", "peer", "fixed_open_hand"}``."""
    import os
    from handlib import camera as cam
    found, ref, truth, d2, right = [], [], [], [], []
    for s in samples:
        a = answers.get(os.path.basename(s.image_path))
        if a is None or s.xyz is None:
            continue
        # the image's own camera: the crop's intrinsics, its frame turned as the crop is
        # (the identity for GANerated's affine crops); or the full image's
        if s.crop is not None:
            K_true, xyz, size = s.crop.K, s.crop.to_crop_frame(s.xyz), (s.crop.size, s.crop.size)
        else:
            K_true, xyz, size = s.intrinsics.K, np.asarray(s.xyz, np.float64), (s.intrinsics.width, s.intrinsics.height)
        K = K_true if assumed_fov is None else cam.default_intrinsics(int(size[0]), int(size[1]), assumed_fov)
        uv_true = cam.project(K_true, xyz)
        ref.append(reference_in_camera(a["world_mm"], a["uv"], K))
        truth.append(xyz)
        d2.append(to_box_px(np.linalg.norm(a["uv"] - uv_true, axis=-1)[None], reference_box(uv_true)[1])[0])
        side = s.side if s.crop is None or not s.crop.flip else {"left": "right", "right": "left"}.get(s.side)
        right.append(a["side"] == side)
        found.append(side)
    if not found:
        raise ValueError("the peer found no hand in the rendered frames (or none has 3D labels)")
    truth = np.stack(truth)
    return {"frames": len(samples), "detected": len(found),
            "side_right_share": float(np.mean(right)),
            "peer": score(np.stack(ref), truth, np.stack(d2), boot, seed),
            "fixed_open_hand": score(np.stack([open_hand(side) for side in found]), truth, None, boot, seed)}


# ------------------------------------------------------------------------ baselines
def open_hand(side: str) -> np.ndarray:
    """The fixed open hand (21, 3) mm, camera frame: the course's hand model in its "open"
    pose, fingers up (W -> M0 along -y), palm towards the camera (the palm's normal, on the
    thumb's side of the wrist-knuckle plane, along -z), of the given side."""
    x = hm.forward_kinematics(hm.NAMED_POSES["open"], side=side)
    x = x - x[hm.NORM_ROOT_JOINT]
    up = x[9] - x[0]
    n = np.cross(x[5] - x[0], x[17] - x[0])
    n = n if np.dot(n, x[1] - x[0]) > 0 else -n                  # towards the palm's side
    f1 = up / np.linalg.norm(up)
    f3 = n - np.dot(n, f1) * f1
    f3 /= np.linalg.norm(f3)
    src = np.stack([f1, np.cross(f3, f1), f3])                   # rows: hand axes
    dst = np.array([[0.0, -1.0, 0.0], np.cross([0.0, 0.0, -1.0], [0.0, -1.0, 0.0]), [0.0, 0.0, -1.0]])
    R = dst.T @ src                                              # maps f1 -> -y, f3 -> -z
    return x @ R.T


def hand_view(joints_cam, side: str) -> tuple[bool, float]:
    """How a hand faces the camera: (palm towards the camera, lean in degrees) of joints
    (21, 3) mm in the camera's axes (looking along +z; absolute or root-relative: the
    direction to the camera is taken as -z, a hand far away compared with its size) of a
    ``side`` hand. The palm's normal comes from the hand's side (the wrist-index-little triangle
    turns one way on a left hand and the other on a right one; the thumb's offset from that
    plane, which :func:`open_hand` uses on the course's model, is too small to trust on a
    peer's joints); the lean is the angle between the wrist-to-M0 line and the image
    plane, positive with the fingers tipped towards the camera (as ``make-dataset --lean``
    counts it)."""
    x = np.asarray(joints_cam, np.float64)
    n = np.cross(x[5] - x[0], x[17] - x[0]) * (-1.0 if side == "left" else 1.0)
    d = x[hm.NORM_ROOT_JOINT] - x[hm.ROOT_JOINT]
    d = d / np.linalg.norm(d)
    return bool(n[2] < 0), float(np.degrees(np.arcsin(np.clip(-d[2], -1.0, 1.0))))


def photo_views(photos) -> dict:
    """:func:`hand_view` over the peer's answers (:class:`handlib.peer_reference.PeerPhoto`,
    world joints turned into the camera frame as the yardstick turns them): the share of
    photos with the palm towards the camera and the lean's mean and standard deviation."""
    from handlib import prediction
    views = [hand_view(reference_in_camera(p.world_mm, p.uv, prediction.default_intrinsics(p.width, p.height)), p.side)
             for p in photos]
    palm = np.array([v[0] for v in views])
    lean = np.array([v[1] for v in views])
    return {"photos": len(views), "palm_towards_camera_share": float(palm.mean()) if views else None,
            "lean_mean_deg": float(lean.mean()) if views else None,
            "lean_sd_deg": float(lean.std()) if views else None}


def mean_pose_prediction(pose: dict, box, side: str, K, input_size: int = 128):
    """The mean-pose baseline in the model's crop: (uv (21, 2) image pixels, xyz (21, 3)
    normalised, camera frame). ``pose``: a training record's ``mean_pose`` (left hands)."""
    crop = Crop(centre=box[:2], side=box[2], size=input_size, source_K=K, flip=(side != "left"))
    return (crop.from_crop(np.asarray(pose["uv_fraction"]) * input_size),
            crop.from_crop_frame(np.asarray(pose["xyz_norm"])))


# ------------------------------------------------------------------------ scoring
def score(pred_xyz, ref_xyz, dist_box_px=None, boot: int = 1000, seed: int = 0) -> dict:
    """Figures for one predictor on N hands: ``pred_xyz``, ``ref_xyz`` (N, 21, 3) in any
    scale and place (both are moved to M0 and scaled to :data:`HAND_SIZE_MM`);
    ``dist_box_px`` (N, 21) 2D distances in pixels of the 256 box, or None (no 2D)."""
    ref = metrics.root_scale(ref_xyz, HAND_SIZE_MM)
    pred = metrics.root_scale(pred_xyz, HAND_SIZE_MM)
    d3 = np.linalg.norm(pred - ref, axis=-1)
    aligned, R, _ = metrics.similarity_align(pred, ref)
    d3a = np.linalg.norm(aligned - ref, axis=-1)
    tips = [4, 8, 12, 16, 20]
    out = {"n": int(len(ref))}

    def block(d, thresholds, unit):
        per = metrics.auc_per_sample(d, thresholds)
        return {"auc": float(per.mean()), "auc_interval": metrics.bootstrap_interval(per, boot, seed),
                f"epe_mean_{unit}": float(d.mean()), f"epe_median_{unit}": float(np.median(d)),
                f"epe_mean_interval_{unit}": metrics.bootstrap_interval(d.mean(1), boot, seed)}
    if dist_box_px is not None:
        out["2d"] = block(np.asarray(dist_box_px, np.float64), metrics.PCK_2D_THRESHOLDS, "px")
    out["3d_root_scale"] = block(d3, metrics.PCK_3D_THRESHOLDS, "mm")
    out["3d_aligned"] = block(d3a, metrics.PCK_3D_THRESHOLDS, "mm")
    out["tilt"] = {"median_rotation_deg": float(np.median(metrics.rotation_angle_deg(R))),
                   "tips_in_front_of_wrist_mm": float(np.mean(pred[:, 0, 2] - pred[:, tips, 2].mean(1))),
                   "reference_tips_in_front_of_wrist_mm": float(np.mean(ref[:, 0, 2] - ref[:, tips, 2].mean(1)))}
    return out


def _load_photos(caches: dict, limit: int | None):
    from handlib import images
    photos = {}
    for name, cache in caches.items():
        scored = [p for p in cache["images"] if p.scored]
        if limit is not None:
            scored = scored[:limit]
        if not scored:
            raise DataFileError(cache["folder"], f"scored photos of {name} with the peer's joints",
                                "none (is the cache from another folder?)")
        photos[name] = []
        for p in scored:
            img = images.read_image(p.path)
            if img.shape[:2] != (p.height, p.width):
                raise DataFileError(p.path, f"the {p.width}x{p.height} photo the peer saw",
                                    f"{img.shape[1]}x{img.shape[0]} (rerun `{pr.MAKE_CACHE} --force`)")
            photos[name].append((p, img))
    return photos


def _reference(photos) -> np.ndarray:
    """The peer's 3D joints of each photo in its camera frame (N, 21, 3) mm."""
    from handlib import prediction
    return np.stack([reference_in_camera(p.world_mm, p.uv, prediction.default_intrinsics(p.width, p.height))
                     for p, _ in photos])


def _predict_photos(model, photos, seed: int):
    """RegNet on each photo's input crop: 2D distances in box pixels (N, 21), normalised
    3D (N, 21, 3), and the predictions themselves."""
    from handlib import prediction
    d2, xyz, preds = [], [], []
    for p, img in photos:
        K = prediction.default_intrinsics(p.width, p.height)
        box = input_box(p.uv, photo_rng(seed, p.set, p.file))
        pred = prediction.predict_hand(model, img, side=p.side, K=K, box=box)
        d2.append(np.linalg.norm(pred.uv - p.uv, axis=-1))
        xyz.append(pred.xyz_mm)
        preds.append(pred)
    sides = np.array([reference_box(p.uv)[1] for p, _ in photos])
    return to_box_px(np.stack(d2), sides), np.stack(xyz), preds


def _fit_photos(photos, preds):
    """The course's one-image fit of each photo's prediction
    (:func:`handlib.prediction.fit_prediction`): 2D distances of the fitted joints'
    projections in box pixels (N, 21) and the fitted joints (N, 21, 3) mm."""
    from handlib import prediction
    d2, xyz = [], []
    for (p, _), q in zip(photos, preds):
        uv, x = prediction.fit_prediction(q, prediction.default_intrinsics(p.width, p.height))
        d2.append(np.linalg.norm(uv - p.uv, axis=-1))
        xyz.append(x)
    sides = np.array([reference_box(p.uv)[1] for p, _ in photos])
    return to_box_px(np.stack(d2), sides), np.stack(xyz)


def _baselines(photos, ref, pose: dict, seed: int, boot: int) -> dict:
    """The fixed open hand and the mean pose on ``photos``, against their reference
    joints ``ref`` (N, 21, 3) mm in the camera frame (:func:`_reference`)."""
    from handlib import prediction
    fixed = np.stack([open_hand(p.side) for p, _ in photos])
    out = {"fixed_open_hand": score(fixed, ref, None, boot, seed)}
    if pose is not None:
        uv, xyz, sides = [], [], []
        for p, _ in photos:
            K = prediction.default_intrinsics(p.width, p.height)
            box = input_box(p.uv, photo_rng(seed, p.set, p.file))
            u, x = mean_pose_prediction(pose, box, p.side, K)
            uv.append(np.linalg.norm(u - p.uv, axis=-1))
            xyz.append(x)
            sides.append(reference_box(p.uv)[1])
        out["mean_pose"] = score(np.stack(xyz), ref, to_box_px(np.stack(uv), np.array(sides)), boot, seed)
    return out


def examples(model, per_set: int = 6, cache_dir=None, folder=None, seed: int = 0) -> list[dict] | None:
    """The first ``per_set`` scored photos of each set with the model's prediction on the
    yardstick's input crop, as items for :func:`handlib.visualisation.show_real_predictions`
    (shown over the reference box); None where the peer reference is absent."""
    from handlib import images, prediction
    caches = pr.load_sets(cache_dir, folder)
    if caches is None:
        return None
    items = []
    for name, cache in caches.items():
        picks = [p for p in cache["images"] if p.scored]
        picks = [picks[i] for i in np.linspace(0, len(picks) - 1, min(per_set, len(picks))).astype(int)]
        for p in picks:
            img = images.read_image(p.path)
            box = input_box(p.uv, photo_rng(seed, p.set, p.file))
            pred = prediction.predict_hand(model, img, side=p.side, K=prediction.default_intrinsics(p.width, p.height),
                                           box=box)
            centre, side = reference_box(p.uv)
            err = float(to_box_px(np.linalg.norm(pred.uv - p.uv, axis=-1)[None], [side]).mean())
            items.append({"image": img, "uv": pred.uv, "ref": p.uv, "box": (*centre, side),
                          "title": f"{name.replace('_', ' ')}: {p.side}, {err:.0f} px of 256"})
    return items


def video_figures(model, reference: dict, mean_pose: dict | None, boot: int = 1000, seed: int = 0,
                  limit: int | None = None) -> dict:
    """The tracker and RegNet alone on the real video against its reference tracks."""
    from handlib import real_checks, tracker
    uv_ref, w_ref = reference["uv"], reference["world_mm"]
    side = "right" if np.median(hm.handedness(w_ref)) > 0 else "left"
    src = tracker.VideoFrames(reference["video"], 0, limit)
    try:
        K = tracker.intrinsics_for(src.width, src.height)
        tr = tracker.Tracker(model, K, side=side)
        results = [tracker.FrameResult(i, 0.0, "skipped", side) if img is None else tr.step(img, i, i / src.fps)
                   for i, img in src]
    finally:
        src.close()
    n = min(len(results), len(uv_ref))
    results = results[:n]
    w_ref = np.stack([reference_in_camera(w, u, K) for w, u in zip(w_ref[:n], uv_ref[:n])])
    uv = np.stack([r.uv for r in results])
    xyz = np.stack([r.xyz_mm for r in results])
    conf = np.array([np.nanmean(r.confidence) if np.any(np.isfinite(r.confidence)) else np.nan for r in results])
    hand_px = np.linalg.norm(uv_ref[:n, 0] - uv_ref[:n, 9], axis=-1)
    per_frame = np.linalg.norm(uv - uv_ref[:n], axis=-1).mean(1) / hand_px
    px = np.linalg.norm(uv - uv_ref[:n], axis=-1)
    ok = np.isfinite(per_frame)
    low = ~(np.nan_to_num(conf, nan=0.0) >= LOW_CONFIDENCE)
    states = [r.state for r in results]
    out = {"frames": n, "side": side, "frames_with_a_hand": int(ok.sum()),
           "tracker_states": {s: states.count(s) for s in tracker.STATES if s in states},
           "tracker": {"agreement_mean_hand_sizes": float(per_frame[ok].mean()) if ok.any() else None,
                       "agreement_median_hand_sizes": float(np.median(per_frame[ok])) if ok.any() else None,
                       "agreement_interval": metrics.bootstrap_interval(per_frame[ok], boot, seed),
                       "median_px": float(np.median(px[ok])) if ok.any() else None,
                       "low_confidence_frames": int(low.sum()), "low_confidence_share": float(low.mean()),
                       "per_frame_agreement": np.round(per_frame, 4).tolist(),
                       "per_frame_confidence": np.round(conf, 4).tolist()}}
    if ok.any():
        s = score(xyz[ok], w_ref[ok], None, boot, seed)
        out["tracker"]["3d_root_scale_auc"] = s["3d_root_scale"]["auc"]
        out["tracker"]["3d_aligned_auc"] = s["3d_aligned"]["auc"]
        f = score(np.stack([open_hand(side)] * int(ok.sum())), w_ref[ok], None, boot, seed)
        out["fixed_open_hand_3d_root_scale_auc"] = f["3d_root_scale"]["auc"]
        out["fixed_open_hand_3d_aligned_auc"] = f["3d_aligned"]["auc"]
    out["tracker_side_auto"] = side_auto_share(model, reference["video"], side, n)
    out["tracker_side_auto_first_frame"] = side_auto_share(model, reference["video"], side, n, side_checks=False)
    v = real_checks.video_agreement(model, mean_pose, side=side, limit=limit, folder=Path(reference["video"]).parents[1])
    if v is not None:
        out["regnet_on_reference_crops"] = {"mean_hand_sizes": v["regnet"]["mean"], "median_hand_sizes": v["regnet"]["median"]}
        if "mean_pose" in v:
            out["mean_pose_on_reference_crops"] = {"mean_hand_sizes": v["mean_pose"]["mean"],
                                                   "median_hand_sizes": v["mean_pose"]["median"]}
    return out


def side_auto_share(model, video, side: str, frames: int, side_checks: bool = True) -> dict:
    """The tracker left to find the hand's side (``track --side auto``) on the first
    ``frames`` frames of ``video`` whose hand is on ``side``: the share of all those frames
    it reports that side on (a frame with no hand found counts as wrong), and how often
    it (re)started a track ("init" frames, a turn to the other side among them).
    ``side_checks=False``: the tracker without its mirror checks (each track keeps the
    side of its first frame), the baseline."""
    from handlib import tracker
    src = tracker.VideoFrames(video, 0, frames)
    try:
        tr = tracker.Tracker(model, tracker.intrinsics_for(src.width, src.height), side="auto",
                             side_checks=side_checks)
        results = [tr.step(img, i, i / src.fps) for i, img in src if img is not None]
    finally:
        src.close()
    right = sum(r.side == side and r.state != "lost" for r in results)
    return {"frames": frames, "right_side_frames": int(right), "right_side_share": right / frames,
            "initialisations": sum(r.state == "init" for r in results),
            "side_checks": {"every": tracker.SIDE_CHECK_EVERY, "votes": tracker.SIDE_VOTE_CHECKS}
            if side_checks else None}


def evaluate_real(weights, names=None, out="data/results/real_evaluation", cache_dir=None, folder=None,
                  seed: int = 0, boot: int = 1000, limit: int | None = None, video: bool = True,
                  command: str = "", keep: int = 0, replace: bool = False, fit: bool = False,
                  lift=None) -> dict:
    """The ``evaluate-real`` command: each model in ``weights`` (paths or shipped names;
    labelled by ``names``) on the frozen real subsets and the video; figures written to
    ``OUT.json`` (atomically) beside the baselines. Rows of other models already in that
    file, measured under the same protocol, seed, bootstrap, peer reference and photos, are
    kept (each row names the commit and command that made it); where the file holds rows
    of other models measured otherwise (a ``limit``, another cache), nothing is written
    and a ValueError says so, unless ``replace`` (then only this run's rows are kept).
    ``keep``: also return that many (photo, image, prediction) per set and model, for a
    grid. ``fit``: also a row "NAME + fit" per model, its predictions through the course's
    one-image fit (:func:`_fit_photos`; photos only: the video's tracker already fits).
    ``lift``: a lifter (:class:`handlib.lifting.Lifter`: called with 2D joints (N, 21, 2), their
    intrinsics and sides, it answers their 3D): also a row "NAME + lift" per model, its 2D
    with the 3D lifted from that 2D (photos only).
    Raises :class:`handlib.files.DataFileError` where the peer reference is missing."""
    from handlib import pose_network  # noqa: F401  (registers RegNet's layers before loading)
    from handlib import weights as wts
    weights = [weights] if isinstance(weights, (str, Path)) else list(weights)
    names = list(names) if names else [Path(str(w)).stem for w in weights]
    if len(names) != len(weights) or len(set(names)) != len(names):
        raise ValueError(f"give one distinct name per model: {len(weights)} models, names {names}")
    caches = pr.load_sets(cache_dir, folder, quiet=True)
    if caches is None:
        raise DataFileError(Path(cache_dir or pr.CACHE_DIR), f"a peer reference cache (run `{pr.MAKE_CACHE}`)",
                            "none")
    models = {n: wts.load_model(w) for n, w in zip(names, weights)}          # fail before work
    # a model measured again replaces its "+ fit" and "+ lift" rows too (dropped without
    # --fit or --lift), so that no row outlives the weights it measured
    rows = set(names) | {f"{n} + fit" for n in names} | {f"{n} + lift" for n in names}
    shipped_record = wts.record_path("regnet")
    pose = files.read_json(shipped_record, "the shipped RegNet's training record").get("mean_pose") \
        if shipped_record.is_file() else None
    import hashlib
    chosen = {n: [p for p in c["images"] if p.scored][:limit] for n, c in caches.items()}
    scored = sorted(f"{p.set}/{p.file}:{p.uv.sum():.3f}" for v in chosen.values() for p in v)
    reference = {"peer": pr.PEER, "photos": {n: len(v) for n, v in chosen.items()},
                 "limit": limit, "seed": seed, "bootstrap": boot,
                 "scored_records_sha1": hashlib.sha1("\n".join(scored).encode()).hexdigest()[:16]}
    result = {"label": LABEL, "protocol": PROTOCOL, "reference": reference, "command": command,
              "git_commit": wts.git_commit(), "machine": wts.machine(),
              "coverage": {n: pr.coverage(c) for n, c in caches.items()},
              "sets": {}, "models": {}, "video": None}
    outp = Path(out).with_suffix(".json")
    old = files.read_json(outp, "real-hand results") if outp.is_file() else None
    same = bool(old) and old.get("protocol") == PROTOCOL and old.get("reference") == reference
    others = sorted(set((old or {}).get("models", {})) - rows)
    if old and not same and others and not replace:
        raise ValueError(f"{outp} holds figures of {', '.join(others)} measured otherwise (another "
                         "protocol, limit, seed or reference): give another --out, or --replace to drop them")
    photos = _load_photos(caches, limit)
    if same:
        result["models"] = {k: v for k, v in old.get("models", {}).items() if k not in rows}
        for s, e in old.get("sets", {}).items():
            result["sets"][s] = {"baselines": e["baselines"], "models": {k: v for k, v in e["models"].items()
                                                                         if k not in rows}}
        if old.get("video"):
            result["video"] = {**old["video"], "models": {k: v for k, v in old["video"]["models"].items()
                                                          if k not in models}}
    all_photos = [x for v in photos.values() for x in v]
    groups = {**photos, "all_photos": all_photos}
    references = {s: _reference(ph) for s, ph in groups.items()}      # once, not per model
    examples = {}
    for name, model in models.items():
        rec = wts.record_path(weights[names.index(name)])
        info = files.read_json(rec, "a training record") if rec.is_file() else {}
        result["models"][name] = {"weights": str(weights[names.index(name)]),
                                  "trained": info.get("command"), "images_seen": info.get("images_seen"),
                                  "measured_by": command, "git_commit": result["git_commit"]}
        per_set, fitted, lifted = {}, {}, {}
        for s, ph in photos.items():
            d2, xyz, preds = _predict_photos(model, ph, seed)
            per_set[s] = (d2, xyz)
            if fit:
                fitted[s] = _fit_photos(ph, preds)
            if lift is not None:
                from handlib import prediction
                lifted[s] = (d2, lift(np.stack([q.uv for q in preds]),
                                      np.stack([prediction.default_intrinsics(p.width, p.height) for p, _ in ph]),
                                      [p.side for p, _ in ph]))
            if keep:
                examples.setdefault(s, {})[name] = [(p, img, q) for (p, img), q in list(zip(ph, preds))[:keep]]
        for row, got in ((name, per_set), (f"{name} + fit", fitted), (f"{name} + lift", lifted)):
            if not got:
                continue
            if row.endswith(" + fit"):
                result["models"][row] = {**result["models"][name], "fitted": "handlib.fitting.calibration_fit "
                                         "(the course's one-image fit of the model's 2D and 3D)"}
            elif row != name:
                result["models"][row] = {**result["models"][name], "lifted": f"handlib.lifting ({getattr(lift, 'weights', lift)}: "
                                         "the model's 2D, its 3D lifted from that 2D)"}
            got["all_photos"] = tuple(np.concatenate([got[s][k] for s in photos]) for k in (0, 1))
            for s, (d2, xyz) in got.items():
                entry = result["sets"].setdefault(s, {"baselines": None, "models": {}})
                entry["models"][row] = score(xyz, references[s], d2, boot, seed)
    for s, ph in groups.items():
        entry = result["sets"].setdefault(s, {"baselines": None, "models": {}})
        entry["photos"] = len(ph)
        entry["baselines"] = _baselines(ph, references[s], pose, seed, boot)
    ref_video = pr.read_video_reference(folder) if video else None
    if ref_video is not None:
        lim = None if limit is None else max(limit, 10)
        vid = result["video"] if result["video"] else {"models": {}}
        for name, model in models.items():
            vid["models"][name] = video_figures(model, ref_video, pose, boot, seed, lim)
        vid["frames"] = next(iter(vid["models"].values()))["frames"]
        result["video"] = vid
    files.write_json(outp, result)
    if keep:
        result["examples"] = examples
    return result


def format_table(result: dict) -> str:
    """A Markdown table of :func:`evaluate_real`'s photo figures (all scored photos) and
    the video's, models then baselines."""
    def ci(b):
        lo, hi = b["auc_interval"]
        return f"{b['auc']:.3f} ({lo:.2f}-{hi:.2f})"
    rows = [f"Real photos ({LABEL}); AUC with 95 % bootstrap intervals:", "",
            "| photos | predictor | 2D EPE (px of 256) | 2D AUC 0-30 px | 3D AUC root + scale | 3D AUC aligned | tilt (median rotation) |",
            "|---|---|---|---|---|---|---|"]
    for s, e in result["sets"].items():
        entries = list(e["models"].items()) + [(k.replace("_", " "), v) for k, v in (e["baselines"] or {}).items()]
        for who, f in entries:
            two = f.get("2d")
            rows.append(f"| {s.replace('_', ' ')} ({e.get('photos', f['n'])}) | {who} | "
                        f"{two['epe_mean_px']:.1f} | {ci(two)} | " if two else
                        f"| {s.replace('_', ' ')} ({e.get('photos', f['n'])}) | {who} | - | - | ")
            rows[-1] += f"{ci(f['3d_root_scale'])} | {ci(f['3d_aligned'])} | {f['tilt']['median_rotation_deg']:.0f} deg |"
    v = result.get("video")
    if v:
        rows += ["", f"The real video ({v['frames']} frames):", "",
                 "| model | tracker agreement (hand sizes, mean) | median px | low-confidence frames | RegNet alone on reference crops (hand sizes) | mean pose on the same crops | `--side auto`: frames on the right side |",
                 "|---|---|---|---|---|---|---|"]
        for name, f in v["models"].items():
            t = f["tracker"]
            r = f.get("regnet_on_reference_crops", {})
            m = f.get("mean_pose_on_reference_crops", {})
            rows.append(f"| {name} | {t['agreement_mean_hand_sizes']:.3f} | {t['median_px']:.0f} | "
                        f"{t['low_confidence_frames']} of {f['frames']} ({100 * t['low_confidence_share']:.0f} %) | "
                        f"{r.get('mean_hand_sizes', float('nan')):.3f} | {m.get('mean_hand_sizes', float('nan')):.3f} | ")
            a = f.get("tracker_side_auto")
            b = f.get("tracker_side_auto_first_frame")
            rows[-1] += (f"{100 * a['right_side_share']:.1f} % ({a['initialisations']} starts)"
                         + (f"; {100 * b['right_side_share']:.1f} % without the mirror checks" if b else "")
                         + " |") if a else "- |"
    return "\n".join(rows)
