"""Tracking one hand through a video: crop, RegNet, fitting, next crop
(``python -m handlib track``).

Introduced in ``notebooks/05_fitting_and_tracking.ipynb``.

Per frame, while the hand is tracked: the crop is the course's crop
(:func:`handlib.crop_camera.crop_from_joints`: margin, minimum size) around the previous
frame's fitted joints projected into the image, a perspective crop camera, padded with
black where it leaves the image (never shifted); RegNet predicts; the hand model is fitted
(:mod:`handlib.fitting`), warm-started from the previous pose, with the temporal term.

**Initialisation** (first frame, and after a lost track): a coarse search over square
crops at :data:`SEARCH_SCALES` of the image's larger side, on a grid with half a crop's
stride, all run through RegNet in one batch; each is scored by its mean heatmap maximum
(with side "auto", both sides of every crop). The best crop is refined once (a new crop
around its predicted joints), and the hand is fitted from :func:`handlib.fitting.initial_pose`.
The track is **lost** when the mean heatmap maximum stays below :data:`LOST_CONFIDENCE`
for :data:`LOST_FRAMES` frames; then the search runs again.

**Scale.** The bone lengths are the model's times a scale calibrated on the first frame
(:func:`handlib.fitting.calibrate_scale`: the hand about 45 cm from the camera, the
paper's convention, or ``hand_size_mm`` when known).

**The hand's side** (side "auto"). One frame's answer is not enough: on the real video
the search picks the wrong side often enough to track a right hand as a left one for most
of it. So while the side is "auto", every :data:`SIDE_CHECK_EVERY` th tracked frame also
runs the crop mirrored (the same box, one batch of two) and remembers by how much its mean
heatmap maximum beats the tracked side's; when, after at least :data:`SIDE_VOTE_CHECKS`
checks, the margins since the track started add up in the mirror's favour, the tracker
turns to the other side and starts again from that frame's mirrored answer (a frame in
state "init"). A long track on the right side thus becomes hard to turn by a few unclear
frames, and a track on the wrong side turns within a few checks. The price: RegNet runs
on two crops on the checked frames (every tracked frame with the defaults); a known side
(``side="left"`` or ``"right"``) skips the check.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from handlib import camera as cam
from handlib import crop_camera as cc
from handlib import fitting as ft
from handlib import hand_model as hm
from handlib import heatmaps as hmaps
from handlib import pose_network as pn
from handlib.crop_camera import Crop
from handlib.files import DataFileError

SEARCH_SCALES = (0.9, 0.55, 0.33)
"""Crop sides of the initial search, as fractions of the image's larger side."""
LOST_CONFIDENCE = 0.3
LOST_FRAMES = 5
SIDE_CHECK_EVERY = 1
SIDE_VOTE_CHECKS = 5
"""Side "auto": the mirror image is checked every :data:`SIDE_CHECK_EVERY` tracked frames;
the checks since the track started decide, once there are :data:`SIDE_VOTE_CHECKS`."""
STATES = ("init", "tracked", "low", "lost", "skipped")
"""Per-frame states: "init" a (re-)initialised frame, "tracked", "low" tracked with a
low confidence, "lost" no hand found, "skipped" an unreadable frame."""


@dataclass
class FrameResult:
    """One frame's answer. ``uv`` (21, 2) image pixels of the fitted joints; ``xyz_mm``
    (21, 3) camera frame, mm; ``params`` (26,); ``confidence`` (21,) heatmap maxima;
    ``box`` (cx, cy, side) of the crop in image pixels; ``regnet_uv``, ``regnet_xyz_mm``
    RegNet's own answer before fitting (its normalised 3D times the calibrated hand size,
    placed at the fitted M0); NaN where there is no hand."""

    index: int
    time_s: float
    state: str
    side: str
    uv: np.ndarray = field(default_factory=lambda: np.full((21, 2), np.nan))
    xyz_mm: np.ndarray = field(default_factory=lambda: np.full((21, 3), np.nan))
    params: np.ndarray = field(default_factory=lambda: np.full(26, np.nan))
    confidence: np.ndarray = field(default_factory=lambda: np.full(21, np.nan))
    box: tuple = (math.nan, math.nan, math.nan)
    regnet_uv: np.ndarray = field(default_factory=lambda: np.full((21, 2), np.nan))
    regnet_xyz_mm: np.ndarray = field(default_factory=lambda: np.full((21, 3), np.nan))


def intrinsics_for(width: int, height: int, fov_deg: float | None = None, intrinsics=None) -> np.ndarray:
    """(3, 3) intrinsics: ``intrinsics`` (fx, fy, cx, cy) when given, else a pinhole of
    ``fov_deg`` horizontal field of view (default
    :data:`handlib.prediction.DEFAULT_FOV_DEG`) centred in the image."""
    from handlib import prediction
    if intrinsics is not None:
        fx, fy, cx, cy = (float(v) for v in intrinsics)
        return np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1.0]])
    return prediction.default_intrinsics(width, height, fov_deg or prediction.DEFAULT_FOV_DEG)


def check_intrinsics(K, width: int, height: int, source="the video") -> None:
    """Refuse (ValueError) intrinsics a ``width`` x ``height`` camera cannot have: focal
    lengths not finite or giving a field of view outside 1-170 degrees, or a principal
    point outside the image (the last two only where the size is known)."""
    K = np.asarray(K, np.float64)
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    text = f"--intrinsics {fx:g},{fy:g},{cx:g},{cy:g}"
    if not np.all(np.isfinite([fx, fy, cx, cy])) or fx <= 0 or fy <= 0:
        raise ValueError(f"{text}: expected finite numbers with fx, fy above 0")
    if width <= 0 or height <= 0:
        return
    for f, n, name in ((fx, width, "fx"), (fy, height, "fy")):
        fov = math.degrees(2 * math.atan(n / (2 * f)))
        if not 1.0 <= fov <= 170.0:
            raise ValueError(f"{text}: {name} gives a field of view of {fov:.3g} degrees across the "
                             f"{width}x{height} image of {source}; expected 1 to 170")
    if not (0 <= cx <= width and 0 <= cy <= height):
        raise ValueError(f"{text}: the principal point ({cx:g}, {cy:g}) lies outside the "
                         f"{width}x{height} image of {source}")


class Tracker:
    """Frame-by-frame tracking (see the module's docstring). ``model`` a RegNet;
    ``K`` (3, 3) the video's intrinsics; ``side`` "left", "right" or "auto" (decided at
    initialisation and kept while tracked); ``weights`` of the per-frame fit (default
    :data:`handlib.fitting.TRACKING_WEIGHTS`); ``iterations`` per frame; ``engine`` of the
    fits (:class:`handlib.fitting.HandFitter`: "compiled" by default, "numpy" the readable
    reference, which gives the same answers more slowly)."""

    def __init__(self, model, K, side: str = "auto", hand_size_mm: float | None = None,
                 start_distance_mm: float = ft.START_DISTANCE_MM, weights: ft.FitWeights | None = None,
                 iterations: int = 3, engine: str = "compiled", side_checks: bool = True):
        """``side_checks=False`` (side "auto" only): no mirror checks, the side of a
        track's first frame is kept while it is tracked (the tracker before the checks;
        the yardstick reports it beside them)."""
        if engine not in ft.ENGINES:
            raise ValueError(f"engine must be one of {ft.ENGINES}, got {engine!r}")
        self.engine = engine
        if side not in ("left", "right", "auto"):
            raise ValueError(f"side must be 'left', 'right' or 'auto', got {side!r}")
        self.model, self.K, self.side_arg = model, np.asarray(K, np.float64), side
        info = pn.model_info(model)
        self.size, self.heat, self.net_side = info["input_size"], info["heatmap_size"], info["side"]
        self.hand_size_mm, self.start_distance_mm = hand_size_mm, start_distance_mm
        self.weights = weights or ft.TRACKING_WEIGHTS
        self.iterations = iterations
        self.scale = None                  # calibrated bone-length scale
        self.fitter = None
        self.side = None if side == "auto" else side
        self.pose = None                   # fitted params of the last frame
        self.joints = None                 # and its joints (21, 3) mm
        self.low = 0
        self.votes = None                  # side "auto": the mirror's margins since the start
        self.since_check = 0
        self.side_checks = side_checks

    # ------------------------------------------------------------ RegNet on crops
    def run_crops(self, image, crops: list[Crop]):
        """RegNet on ``crops`` of ``image`` in one batch. Returns per crop the
        :class:`handlib.fitting.Observation` (image pixels, camera-frame normalised 3D on
        the hand's side) and the mean heatmap maximum (N,)."""
        x = np.stack([c.crop_image(image) for c in crops]).astype(np.float32) / 255.0
        Ks = np.stack([c.K for c in crops]).astype(np.float32)
        out = pn.forward(self.model, x, Ks)
        heat, xyz = out["heatmaps"], out["xyz"]
        uv_hm, peak = hmaps.heatmap_maxima(heat)
        uv_in = hmaps.to_image_coords(uv_hm, self.size, self.heat)
        obs = [ft.Observation(c.from_crop(uv_in[k]), peak[k], c.from_crop_frame(xyz[k]),
                              pixel_scale=c.side / c.size)
               for k, c in enumerate(crops)]
        return obs, peak.mean(axis=1)

    def _crop(self, centre, side_px, hand_side) -> Crop:
        return Crop(centre=tuple(centre), side=float(side_px), size=self.size, source_K=self.K,
                    flip=hand_side != self.net_side)

    def search(self, image):
        """The initial search: (crop, hand side, observation, score) of the best crop."""
        H, W = image.shape[:2]
        sides = [self.side] if self.side else ["left", "right"]
        cands = []
        for frac in SEARCH_SCALES:
            s = frac * max(H, W)
            # centres from one edge to the other at about half a crop's stride
            xs = np.linspace(s / 2, W - s / 2, int(np.ceil((W - s) / (s / 2))) + 1) if W > s else [W / 2]
            ys = np.linspace(s / 2, H - s / 2, int(np.ceil((H - s) / (s / 2))) + 1) if H > s else [H / 2]
            cands += [((x, y), s, hs) for x in xs for y in ys for hs in sides]
        crops = [self._crop(c, s, hs) for c, s, hs in cands]
        obs, score = [], []
        for a in range(0, len(crops), 32):
            o, sc = self.run_crops(image, crops[a:a + 32])
            obs += o
            score.append(sc)
        score = np.concatenate(score)
        k = int(np.argmax(score))
        hand_side = cands[k][2]
        # refine once: the course's crop around the joints just found
        refined = cc.crop_from_joints(obs[k].uv, self.K, self.size, flip=hand_side != self.net_side)
        o2, s2 = self.run_crops(image, [refined])
        if s2[0] >= score[k]:
            return refined, hand_side, o2[0], float(s2[0])
        return crops[k], hand_side, obs[k], float(score[k])

    # ------------------------------------------------------------ one frame
    def step(self, image, index: int = 0, time_s: float = 0.0) -> FrameResult:
        """Track one RGB uint8 frame (H, W, 3)."""
        if self.pose is None:
            crop, hand_side, obs, score = self.search(image)
            if score < LOST_CONFIDENCE:
                return FrameResult(index, time_s, "lost", hand_side, confidence=obs.confidence,
                                   box=(*crop.centre, crop.side))
            self.side = self.side or hand_side
            if self.side_arg == "auto" and self.side_checks:
                self.votes, self.since_check = [], 0
            res, state = self._start(obs), "init"
        else:
            X = self.joints                      # the last fit's joints (at self.pose)
            crop = cc.crop_from_joints(cam.project(self.K, X), self.K, self.size,
                                       flip=self.side != self.net_side)
            self.since_check += 1
            if self.votes is not None and self.since_check >= SIDE_CHECK_EVERY:   # side "auto"
                self.since_check = 0
                mirror = replace(crop, flip=not crop.flip)
                (obs, obs_m), (score, score_m) = self.run_crops(image, [crop, mirror])
                self.votes.append(float(score_m - score))
                if len(self.votes) >= SIDE_VOTE_CHECKS and sum(self.votes) > 0:
                    # the mirror has been the better answer: start again on the other side
                    self.side = "right" if self.side == "left" else "left"
                    crop, obs, score, self.votes, self.fitter = mirror, obs_m, score_m, [], None
            else:
                (obs,), (score,) = self.run_crops(image, [crop])
            if self.fitter is None:
                res, state = self._start(obs), "init"
            else:
                res = self.fitter.fit(obs, self.pose)
                self.low = self.low + 1 if score < LOST_CONFIDENCE else 0
                state = "tracked" if self.low == 0 else "low"
        self.pose, self.joints = res.params, res.joints
        out = FrameResult(index, time_s, state, self.side, uv=cam.project(self.K, res.joints),
                          xyz_mm=res.joints, params=res.params, confidence=obs.confidence,
                          box=(*crop.centre, crop.side), regnet_uv=obs.uv,
                          regnet_xyz_mm=(obs.xyz_norm - obs.xyz_norm[ft.ROOT]) * self.fitter.hand_size
                          + res.joints[ft.ROOT])
        if self.low >= LOST_FRAMES:              # search again on the next frame
            self.pose = None
            self.fitter.reset()
            if self.side_arg == "auto":
                self.side, self.votes = None, None
        return out

    def _start(self, obs):
        """Fit a new track from one observation on :attr:`side` (a first frame, a frame
        after a lost track, or a turn to the other side): the scale calibrated once, a
        fresh fitter, the initial pose, a coarse fit with the default weights (a strong 3D
        term: from far away), then the tracking weights from there."""
        if self.scale is None:
            self.scale = ft.calibrate_scale([obs], self.K, side=self.side,
                                            distance_mm=self.start_distance_mm,
                                            hand_size_mm=self.hand_size_mm, engine=self.engine)
        bl = hm.default_bone_lengths(self.scale)
        self.fitter = ft.HandFitter(self.K, bl, self.side, self.weights, self.iterations, self.engine)
        init = ft.initial_pose(obs, self.K, bl, self.side)
        coarse = ft.HandFitter(self.K, bl, self.side, ft.FitWeights(), 40, self.engine).fit(
            obs, init, remember=False)
        self.low = 0
        return self.fitter.fit(obs, coarse.params, iterations=10)


# ------------------------------------------------------------------ video in
class VideoFrames:
    """Frames of a video file as RGB uint8, with the indices of unreadable ones.

    A failed ``read()`` before the container's frame count is a corrupt frame: it is
    skipped (yielded as ``None``) and reading goes on from the next frame; after the
    frame count (or where the container does not say) it is the end. A file OpenCV cannot
    open, or one without a readable frame, raises :class:`DataFileError` naming it.
    ``path`` may also be a camera index (an int): frames are read live until ``frames``
    frames or until the reader is interrupted (:meth:`stop`).
    """

    def __init__(self, path, start: int = 0, frames: int | None = None):
        import cv2
        self.live = isinstance(path, int)
        self.path = Path(f"camera {path}") if self.live else Path(path)
        if self.live:
            self.cap = cv2.VideoCapture(path)
            if not self.cap.isOpened():
                raise DataFileError(self.path, "a camera OpenCV can open", "none at this index")
        else:
            if not self.path.is_file():
                raise DataFileError(self.path, "a video file", "no such file")
            self.cap = cv2.VideoCapture(str(self.path))
            if not self.cap.isOpened():
                raise DataFileError(self.path, "a video OpenCV can open (mp4, avi, mov)", "a file it cannot open")
        self.count = int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.fps = float(self.cap.get(cv2.CAP_PROP_FPS) or 0.0) or 25.0
        self.width = int(self.cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self.cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.start, self.limit = int(start), frames
        self.skipped: list[int] = []
        if self.start:
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, self.start)

    def __iter__(self):
        import cv2
        i, n, bad_run = self.start, 0, 0
        while self.limit is None or n < self.limit:
            ok, frame = self.cap.read()
            if not ok:
                if self.count and i < self.count - 1 and bad_run < 50:
                    self.skipped.append(i)
                    bad_run += 1
                    i += 1
                    self.cap.set(cv2.CAP_PROP_POS_FRAMES, i)
                    n += 1
                    yield i - 1, None
                    continue
                break
            bad_run = 0
            yield i, frame[..., ::-1].copy()
            i += 1
            n += 1
        if n == 0 or (self.skipped and len(self.skipped) == n):
            raise DataFileError(self.path, "a video with readable frames", "none")

    def close(self):
        self.cap.release()


# ------------------------------------------------------------------ drawing
def draw_frame(image, res: FrameResult, K, fps: float | None = None, show_regnet: bool = True) -> np.ndarray:
    """The frame with the fitted skeleton (colour; RegNet's own 2D thin and grey), the
    crop's outline, the state and a small 3D view (OpenCV only, cheap per frame). RGB
    uint8, same size as ``image``."""
    import cv2

    from handlib import drawing
    img = np.ascontiguousarray(image).copy()
    H, W = img.shape[:2]
    if np.isfinite(res.box[2]):
        crop = Crop(centre=res.box[:2], side=res.box[2], size=64, source_K=K)
        c = crop.from_crop(np.array([[-0.5, -0.5], [63.5, -0.5], [63.5, 63.5], [-0.5, 63.5]]))
        cv2.polylines(img, [np.round(c).astype(np.int32)], True, (80, 170, 255), 2, cv2.LINE_AA)
    if show_regnet and np.all(np.isfinite(res.regnet_uv)):
        drawing.draw_skeleton(img, res.regnet_uv, colors=(200, 200, 200), thickness=1, radius=2)
    if np.all(np.isfinite(res.uv)):
        drawing.draw_skeleton(img, res.uv, thickness=max(2, W // 300), radius=max(3, W // 200), outline=True)
    colour = {"tracked": (90, 220, 90), "init": (255, 210, 60), "low": (255, 150, 60)}.get(res.state, (255, 80, 80))
    lines = [f"frame {res.index}: {res.state}" + (f" ({res.side})" if res.side else "")]
    more = []
    if np.all(np.isfinite(res.confidence)):
        more.append(f"confidence {np.nanmean(res.confidence):.2f}")
    if fps:
        more.append(f"{fps:.1f} fps")
    if more:
        lines.append(", ".join(more))
    # capitals about 1/22 of the frame's shorter side high, so that the text stays readable
    # where the frame is shown small (a notebook's row of frames, a video's thumbnail)
    scale = float(np.clip(min(W, H) / 480.0, 0.4, 2.2))
    thick = max(1, round(1.4 * scale))
    step = int(round(36 * scale))      # line spacing: text 22 px x scale, descenders 10 more
    pad = int(round(6 * scale)) + 2
    for k, line in enumerate(lines):
        drawing.text(img, line, (pad, pad + int(round(22 * scale)) + k * step), scale, color=colour,
                  thickness=thick)
    text_bottom = pad + int(round(22 * scale)) + (len(lines) - 1) * step + pad
    if np.all(np.isfinite(res.xyz_mm)):
        inset = int(np.clip(min(W, H) // 3, 64, 240))
        # in the corner farthest from the hand (the top corners below the text)
        hand = np.nanmean(res.uv, axis=0)
        corners = [(x, y) for x in (4, W - inset - 4) for y in (text_bottom + 4, H - inset - 4)]
        x0, y0 = max(corners, key=lambda c: np.hypot(c[0] + inset / 2 - hand[0], c[1] + inset / 2 - hand[1]))
        # without the view's own small caption; one line at a readable size instead
        view = drawing.skeleton_3d_image([(res.xyz_mm, None, 2)], size=inset, extent_mm=120.0, caption=False)
        small = max(0.4, 0.8 * scale)
        drawing.text(view, "3D, mm", (4, 4 + int(round(22 * small))), small, box=False,
                  thickness=max(1, round(1.4 * small)))
        img[y0:y0 + inset, x0:x0 + inset] = view
    return img


# ------------------------------------------------------------------ the command
CSV_HEADER = (["frame", "time_s", "state", "side", "mean_confidence"]
              + [f"{n}_{a}" for n in hm.JOINT_NAMES for a in ("u", "v")]
              + [f"{n}_{a}_mm" for n in hm.JOINT_NAMES for a in ("x", "y", "z")]
              + list(hm.DOF_NAMES) + [f"{n}_confidence" for n in hm.JOINT_NAMES])


def track_video(video, out, weights=None, side: str = "auto", intrinsics=None, fov_deg: float | None = None,
                start: int = 0, frames: int | None = None, write_video: bool = True,
                hand_size_mm: float | None = None, progress: bool = True) -> dict:
    """The ``track`` command: track the hand through ``video`` and write into ``out``:
    ``annotated.mp4`` (mp4v; unless ``write_video`` is False), ``joints.csv``,
    ``joints.npz`` and ``summary.json`` (each atomically). Returns the summary."""
    import csv
    import io

    import cv2

    from handlib import files, prediction
    from handlib import weights as wts
    if fov_deg is not None and not (math.isfinite(fov_deg) and 1.0 <= fov_deg <= 170.0):
        raise ValueError(f"the field of view must be between 1 and 170 degrees, got {fov_deg}")
    if hand_size_mm is not None and not (math.isfinite(hand_size_mm) and hand_size_mm > 0):
        raise ValueError(f"the hand size must be a finite number of mm above 0, got {hand_size_mm}")
    out = Path(out)
    for folder in (out, *out.parents):
        if folder.exists() and not folder.is_dir():
            raise DataFileError(out, "an output folder", f"a file ({folder})" if folder != out else "a file")
    src = VideoFrames(video, start, frames)                 # fails before any work
    try:
        if not src.live and src.count and start >= src.count:
            raise ValueError(f"{src.path}: --start {start} is past the end of the video "
                             f"({src.count} frames, 0 to {src.count - 1})")
        K = intrinsics_for(src.width, src.height, fov_deg, intrinsics)
        if intrinsics is not None:
            check_intrinsics(K, src.width, src.height, src.path)
        model = wts.load_model(weights or prediction.DEFAULT_WEIGHTS)
    except BaseException:
        src.close()
        raise
    out.mkdir(parents=True, exist_ok=True)
    tracker = Tracker(model, K, side=side, hand_size_mm=hand_size_mm)
    results: list[FrameResult] = []
    total = frames if frames is not None else max(src.count - start, 0) or None
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=total, desc=f"tracking {src.path.name}", unit="frame")
    t_start = time.perf_counter()
    clock = {"busy": 0.0}

    def one_frame(index, image, sink, video_path):
        t0 = time.perf_counter()
        t_video = index / src.fps
        if image is None:
            res = FrameResult(index, t_video, "skipped", tracker.side or "")
        else:
            res = tracker.step(image, index, t_video)
        clock["busy"] += time.perf_counter() - t0
        results.append(res)
        if video_path is not None:
            if sink is None:
                writer = cv2.VideoWriter(str(video_path), cv2.VideoWriter_fourcc(*"mp4v"), src.fps,
                                         (src.width, src.height))
                if not writer.isOpened():
                    raise OSError(f"{out / 'annotated.mp4'}: OpenCV cannot write mp4v video here "
                                  "(use --no-video for the joint files alone)")
                sink = _VideoSink(writer, K)
            frame = np.zeros((src.height, src.width, 3), np.uint8) if image is None else image
            sink.put(frame, res, len(results) / max(clock["busy"], 1e-9))
        if bar is not None:
            bar.update(1)
        return sink

    def run(video_path):
        sink = None
        last = time.perf_counter()
        try:
            for index, image in _until_interrupted(src):
                try:
                    sink = one_frame(index, image, sink, video_path)
                    now = time.perf_counter()
                    clock.setdefault("frames", []).append(now - last)   # read, track, draw, write
                    last = now
                except KeyboardInterrupt:
                    if not src.live:          # a file: stop, write nothing (rerun to redo)
                        raise
                    break                     # a live camera stops here and keeps what it has
        finally:
            if sink is not None:
                sink.close()            # every frame drawn and written (or the thread's error)
        if video_path is not None:
            check = cv2.VideoCapture(str(video_path))
            written = int(check.get(cv2.CAP_PROP_FRAME_COUNT))
            check.release()
            if written != len(results):
                raise OSError(f"{out / 'annotated.mp4'}: the video written has {written} frames, "
                              f"expected {len(results)}")

    try:
        if write_video:
            with files.atomic_path(out / "annotated.mp4", suffix=".mp4") as tmp:
                run(tmp)
        else:
            run(None)
            (out / "annotated.mp4").unlink(missing_ok=True)      # no stale video from an earlier run
    finally:
        if bar is not None:
            bar.close()
        src.close()
    busy = clock["busy"]
    wall = time.perf_counter() - t_start
    # per-frame tables
    rows = []
    for r in results:
        rows.append([r.index, round(r.time_s, 4), r.state, r.side, _num(np.nanmean(r.confidence))
                     if np.any(np.isfinite(r.confidence)) else ""]
                    + [_num(v) for v in r.uv.ravel()] + [_num(v) for v in r.xyz_mm.ravel()]
                    + [_num(v) for v in r.params] + [_num(v) for v in r.confidence])
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_HEADER)
    w.writerows(rows)
    files.write_text(out / "joints.csv", buf.getvalue())
    arrays = {"frame": np.array([r.index for r in results]), "time_s": np.array([r.time_s for r in results]),
              "state": np.array([r.state for r in results]), "uv_px": np.stack([r.uv for r in results]),
              "xyz_mm": np.stack([r.xyz_mm for r in results]), "params": np.stack([r.params for r in results]),
              "confidence": np.stack([r.confidence for r in results]), "K": K}
    with files.atomic_path(out / "joints.npz", suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)
    states = [r.state for r in results]
    summary = {"video": str(video), "frames": len(results), "start": start,
               "tracked": sum(s in ("tracked", "init", "low") for s in states),
               "low_confidence": states.count("low"),
               "initialisations": states.count("init"), "lost": states.count("lost"),
               "skipped_frames": src.skipped, "side": tracker.side, "intrinsics": K.round(3).tolist(),
               "calibration": {"scale": tracker.scale, "hand_size_mm": None if tracker.scale is None else
                               round(float(tracker.scale * np.linalg.norm(hm.rest_pose()[0] - hm.rest_pose()[9])), 2),
                               "rule": "given" if hand_size_mm else f"hand {tracker.start_distance_mm:.0f} mm away at start"},
               "processing_fps": len(results) / max(busy, 1e-9),
               "processing_fps_means": "frames per second of tracking alone (crop, RegNet, fit), "
                                       "without reading, drawing and writing",
               "wall_fps": len(results) / max(wall, 1e-9), "wall_time_s": wall,
               "frame_ms_median": float(1e3 * np.median(clock["frames"])) if clock.get("frames") else None,
               "frame_ms_means": "median wall time per frame: reading, tracking, drawing and writing "
                                 "(the first frame's search and one-off start-up costs are in wall_time_s)",
               "outputs": [str(out / n) for n in (["annotated.mp4"] if write_video else [])
                           + ["joints.csv", "joints.npz", "summary.json"]]}
    files.write_json(out / "summary.json", summary)
    return summary


class _VideoSink:
    """Draws and writes the annotated frames in a second thread, in order, so that the next
    frame is tracked meanwhile (drawing and encoding cost about as much as the crop and the
    fit together). An error in the thread is raised in the caller at the next frame or at
    :meth:`close`."""

    def __init__(self, writer, K, depth: int = 8):
        import queue
        import threading
        self.writer, self.K = writer, K
        self.queue = queue.Queue(maxsize=depth)
        self.error = None
        self.thread = threading.Thread(target=self._run, name="annotated-video", daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            item = self.queue.get()
            if item is None:
                return
            if self.error is not None:
                continue                  # drain; the caller raises the error
            try:
                frame, res, fps = item
                drawn = draw_frame(frame, res, self.K, fps=fps)
                self.writer.write(np.ascontiguousarray(drawn[..., ::-1]))
            except BaseException as exc:  # noqa: BLE001  (handed to the caller)
                self.error = exc

    def put(self, frame, res, fps) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put((frame, res, fps))

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        self.writer.release()
        if self.error is not None:
            raise self.error


def _until_interrupted(src):
    """The frames of ``src``; a live camera stops at Ctrl-C and keeps what was tracked
    (a file's interruption propagates: nothing is written)."""
    it = iter(src)
    while True:
        try:
            item = next(it)
        except StopIteration:
            return
        except KeyboardInterrupt:
            if not src.live:
                raise
            return
        yield item


def _num(v) -> str:
    return "" if not np.isfinite(v) else f"{float(v):.4f}"
