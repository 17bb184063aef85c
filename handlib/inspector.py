"""The heatmap inspector: RegNet's outputs for many samples, one selector away.

Introduced in ``notebooks/04_projection_and_rendering.ipynb``.

Two halves, so that each can be tested and timed on its own:

- **Cached predictions** (:class:`SourcePredictions`). The model runs once per data source,
  in batches: :func:`from_samples` for labelled samples (a rendered test set: crops cut as
  in training, with targets), :func:`from_images` for any photos or video frames (cut and
  side-handled exactly as ``python -m handlib predict`` does, through
  :func:`handlib.prediction.candidate_crops`), :func:`video_source` for the real video
  where it exists. Everything the panels show is kept: the crop, the final heatmaps, the
  RenderingLayer's heatmaps of the projected intermediate 3D, both 3D outputs, and, where
  labels exist, the target heatmaps and per-joint errors.
- **Drawing** (:func:`render_crop`, :func:`render_heatmaps`, :func:`render_3d`,
  :func:`joint_table_html`). Pure NumPy and OpenCV on the cached arrays, with no model
  call and no matplotlib (``python -m benchmarks.inspector`` times a redraw beside one
  RegNet forward pass; the README gives the figures).

:func:`inspector` puts both behind an ipywidgets app (:class:`Inspector`). Displayed in a
notebook it sends the live widgets and, for viewers without a kernel (a rendered copy of
the notebook), a PNG of the current view.

Coordinates: heatmap pixels (``Hs = S / 4``) for 2D on the heatmaps, crop (input) pixels
for 2D errors, millimetres for 3D (normalised 3D times the hand size |W - M0|: the
label's where known, else :data:`handlib.prediction.DEFAULT_HAND_SIZE_MM`), all in the
crop camera's frame on the network's side (a right hand is shown mirrored, as the
network sees it).
"""
from __future__ import annotations

import base64
import functools
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from handlib import hand_model as hm
from handlib import heatmaps as hmaps
from handlib import metrics
from handlib import pose_network as pn
from handlib.drawing import BONE_RGB, draw_skeleton, skeleton_3d_image, view_rotation  # noqa: F401
from handlib.drawing import text as _text

ALL_JOINTS = -1
"""The joint selector's value for the "all joints" view (maximum over the 21 maps)."""
ORDERS = {"sample order": None, "worst 2D first": "err_2d", "worst 3D first": "err_3d_mm",
          "least confident first": "confidence"}
"""The sample orderings the inspector offers (the error orderings need labels)."""
def joint_label(j: int) -> str:
    """A readable name for joint ``j``: ``"8 I3: index tip"``
    (:func:`handlib.hand_model.joint_label`); -1 is all joints."""
    return "all joints (max)" if j == ALL_JOINTS else hm.joint_label(j)


# ------------------------------------------------------------------ cached predictions
@dataclass
class SourcePredictions:
    """RegNet's outputs for the N samples of one data source (NumPy arrays).

    ``crops`` (N, S, S, 3) uint8: what the network saw (canonical side);
    ``heatmaps``, ``rendered`` (N, Hs, Hs, 21): final heatmaps and the RenderingLayer's
    heatmaps of the projected intermediate 3D; ``uv_projected`` (N, 21, 2) the ProjLayer's
    2D (heatmap pixels); ``xyz``, ``xyz_intermediate`` (N, 21, 3) normalised (M0 at the
    origin, |W - M0| = 1), crop frame. Optional labels: ``target`` (N, Hs, Hs, 21),
    ``gt_uv`` (N, 21, 2) heatmap pixels, ``gt_xyz`` (N, 21, 3) normalised, ``visible``
    (N, 21). ``hand_mm`` (N,) the hand size used to show 3D in mm; ``labels`` and
    ``sides`` (N,) where each sample came from and which side it was treated as.
    Derived: ``uv`` (N, 21, 2) and ``confidence`` (N, 21) from the heatmap maxima;
    ``refinement_px`` (N, 21) how far refinement moved each joint from the ProjLayer's
    2D (crop pixels); ``rendered_uv`` and ``target_uv`` (N, 21, 2) the maxima of the
    other maps; ``all_joints`` {"predicted", "rendered"[, "target"]}: (N, Hs, Hs) each
    map's maximum over the 21 joints (what the all-joints view shows); with labels, ``err_2d`` (N, 21) crop pixels, ``err_3d_mm`` and
    ``err_2d_projected`` (the ProjLayer's 2D against the label, crop pixels).
    """

    name: str
    input_size: int
    crops: np.ndarray
    heatmaps: np.ndarray
    rendered: np.ndarray
    uv_projected: np.ndarray
    xyz: np.ndarray
    xyz_intermediate: np.ndarray
    labels: list
    sides: list
    hand_mm: np.ndarray
    network_side: str = "left"
    target: np.ndarray | None = None
    gt_uv: np.ndarray | None = None
    gt_xyz: np.ndarray | None = None
    visible: np.ndarray | None = None
    uv: np.ndarray = field(init=False)
    confidence: np.ndarray = field(init=False)
    refinement_px: np.ndarray = field(init=False)
    rendered_uv: np.ndarray = field(init=False)
    target_uv: np.ndarray | None = field(init=False, default=None)
    all_joints: dict = field(init=False, default_factory=dict)
    err_2d: np.ndarray | None = field(init=False, default=None)
    err_3d_mm: np.ndarray | None = field(init=False, default=None)
    err_2d_projected: np.ndarray | None = field(init=False, default=None)

    def __post_init__(self):
        n = len(self.crops)
        if n == 0:
            raise ValueError(f"source {self.name!r} has no samples")
        self.uv, self.confidence = hmaps.heatmap_maxima(self.heatmaps)
        to_px = self.input_size / self.heatmap_size
        self.refinement_px = np.linalg.norm(self.uv - self.uv_projected, axis=-1) * to_px
        self.rendered_uv = hmaps.heatmap_maxima(self.rendered)[0]
        if self.target is not None:
            self.target_uv = hmaps.heatmap_maxima(self.target)[0]
        self.all_joints = {n: m.max(-1) for n, m in (("predicted", self.heatmaps), ("target", self.target),
                                                      ("rendered", self.rendered)) if m is not None}
        if self.gt_uv is not None:
            self.err_2d = metrics.epe_2d(self.uv, self.gt_uv) * to_px
            self.err_2d_projected = metrics.epe_2d(self.uv_projected, self.gt_uv) * to_px
            self.err_3d_mm = metrics.errors_3d_mm(self.xyz, self.gt_xyz, self.hand_mm)

    def __len__(self) -> int:
        return len(self.crops)

    @property
    def heatmap_size(self) -> int:
        return self.heatmaps.shape[1]

    @property
    def has_labels(self) -> bool:
        return self.gt_uv is not None

    def order(self, how: str = "sample order") -> np.ndarray:
        """Sample indices in the order ``how`` (a key of :data:`ORDERS`): worst first
        means the largest mean error (2D over visible joints, 3D over all joints)."""
        key = ORDERS[how]
        if key is None:
            return np.arange(len(self))
        if key == "confidence":
            return np.argsort(self.confidence.mean(1), kind="stable")
        if not self.has_labels:
            raise ValueError(f"ordering {how!r} needs labelled samples; {self.name!r} has none")
        err = getattr(self, key)
        # 2D: visible joints (a hidden joint's place is a guess); 3D labels are complete
        w = (np.ones_like(err) if self.visible is None or key == "err_3d_mm"
             else self.visible.astype(np.float64))
        score = (err * w).sum(1) / np.maximum(w.sum(1), 1)
        return np.argsort(-score, kind="stable")


def _outputs(model, crops_float, crop_Ks, batch_size: int) -> dict:
    keys = ("heatmaps", "heatmaps_rendered", "uv_projected", "xyz", "xyz_intermediate")
    outs = {k: [] for k in keys}
    for a in range(0, len(crops_float), batch_size):
        o = pn.forward(model, crops_float[a:a + batch_size], crop_Ks[a:a + batch_size])
        for k in keys:
            outs[k].append(o[k])
    return {k: np.concatenate(v) for k, v in outs.items()}


def from_samples(model, samples, name: str = "rendered", batch_size: int = 32) -> SourcePredictions:
    """Cached predictions for labelled samples (:class:`handlib.samples.HandSample`, e.g.
    ``datasets.open_dataset(folder)``), cut as in training without augmentation."""
    from handlib import pose_evaluation as pe
    samples = list(samples)
    p = pe.predict_batches(model, samples, batch_size=batch_size, keep_images=True)
    o, t = p["outputs"], p["targets"]
    info = pn.model_info(model)
    gt_mm = metrics.bone_length(np.stack([s.xyz for s in samples]))
    return SourcePredictions(
        name=name, input_size=info["input_size"], crops=p["images"], heatmaps=o["heatmaps"],
        rendered=o["heatmaps_rendered"], uv_projected=o["uv_projected"], xyz=o["xyz"],
        xyz_intermediate=o["xyz_intermediate"],
        labels=[Path(s.image_path).name if getattr(s, "image_path", None) else f"sample {i}"
                for i, s in enumerate(samples)],
        sides=[s.side or "unknown" for s in samples], network_side=info["side"], hand_mm=gt_mm,
        target=t["heatmaps"], gt_uv=t["uv"],
        gt_xyz=t["xyz_norm"], visible=t["visible"] > 0.5)


def from_images(model, images, side: str, name: str = "images", K=None, boxes=None,
                labels=None, batch_size: int = 32, hand_size_mm: float | None = None) -> SourcePredictions:
    """Cached predictions for unlabelled images: a folder, a list of files, or a list of
    RGB uint8 arrays (e.g. video frames). Each is cut and side-handled as by
    ``python -m handlib predict``: ``side`` "left", "right" or "auto" (both crops run;
    the side with the higher mean heatmap maximum is kept); ``boxes`` (N, 3) optional
    ``(cx, cy, side)`` squares in image pixels (default: centred, the image's larger
    side); ``K`` (3, 3) intrinsics for all images (default: 60 degree field of view)."""
    from handlib import images as imio
    from handlib import prediction
    if isinstance(images, (str, Path)):
        images = imio.list_images(images)
    images = list(images)
    if labels is None:
        labels = [Path(x).name if isinstance(x, (str, Path)) else f"image {i}"
                  for i, x in enumerate(images)]
    arrays = [imio.read_image(x) if isinstance(x, (str, Path)) else np.asarray(x) for x in images]
    info = pn.model_info(model)
    crops, Ks, owner, cand_side = [], [], [], []
    for i, img in enumerate(arrays):
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise ValueError(f"{labels[i]}: expected an RGB uint8 image (H, W, 3), "
                             f"got {img.dtype} {img.shape}")
        box = None if boxes is None else tuple(float(v) for v in boxes[i])
        for s, crop in prediction.candidate_crops(model, img.shape, side, K, box).items():
            crops.append(crop.crop_image(img))
            Ks.append(crop.K.astype(np.float32))
            owner.append(i)
            cand_side.append(s)
    if not crops:
        raise ValueError(f"source {name!r}: no images given")
    crops = np.stack(crops)
    o = _outputs(model, crops.astype(np.float32) / 255.0, np.stack(Ks), batch_size)
    owner = np.asarray(owner)
    mean_conf = np.asarray(hmaps.heatmap_maxima(o["heatmaps"])[1]).mean(1)
    keep = []
    for i in range(len(arrays)):
        cands = np.flatnonzero(owner == i)
        keep.append(cands[np.argmax(mean_conf[cands])])      # "auto": the surer side
    keep = np.asarray(keep)
    size = prediction.DEFAULT_HAND_SIZE_MM if hand_size_mm is None else hand_size_mm
    return SourcePredictions(
        name=name, input_size=info["input_size"], crops=crops[keep], heatmaps=o["heatmaps"][keep],
        rendered=o["heatmaps_rendered"][keep], uv_projected=o["uv_projected"][keep],
        xyz=o["xyz"][keep], xyz_intermediate=o["xyz_intermediate"][keep], labels=list(labels),
        sides=[cand_side[k] for k in keep], network_side=info["side"],
        hand_mm=np.full(len(arrays), float(size)))


def video_source(model, every: int = 25, limit: int | None = None, folder=None,
                 name: str = "real video") -> SourcePredictions | None:
    """The real video of ``../shared/realdata`` (one right hand), every ``every``-th
    frame, cut around the reference tracks with the course's crop (as in
    :func:`handlib.real_checks.video_agreement`). None, with a message, where it is
    absent. The reference tracks only place the crop: they are not ground truth."""
    from handlib import crop_camera as cc
    from handlib import files, prediction, real_checks
    base = Path(folder) if folder is not None else files.realdata_dir(quiet=True)
    if base is None or not (base / real_checks.VIDEO).is_file():
        print(f"real video not found under {base}: the inspector shows no video frames")
        return None
    frames = real_checks.read_video(base / real_checks.VIDEO, every, limit)
    tracks = real_checks.read_tracks(base / real_checks.TRACKS)[::every][:len(frames)]
    if len(tracks) != len(frames):
        raise files.DataFileError(base / real_checks.TRACKS, f"reference tracks for all {len(frames)} frames read",
                                  f"{len(tracks)}")
    H, W = frames.shape[1:3]
    K = prediction.default_intrinsics(W, H)
    centre, side = cc.crop_boxes(tracks, K)
    boxes = np.concatenate([centre, side[:, None]], axis=1)
    return from_images(model, list(frames), "right", name=name, K=K, boxes=boxes,
                       labels=[f"frame {i * every}" for i in range(len(frames))])


STAND_IN_BACKGROUNDS = ("interior", "studio", "apartment")
"""Words in the names of the shipped background photos (:mod:`handlib.backgrounds`) that
:func:`stand_in_pictures` uses: rooms, as behind a hand photographed at home."""


def stand_in_pictures(folder, n: int = 4, seed: int = 0, size: int = 320, fill: float = 0.7) -> list:
    """Write ``n`` course-made pictures that stand in for a user's own photos of one hand
    to ``folder`` (``stand_in_1.png`` ...) and return their paths: ``size`` x ``size``
    renders (:func:`handlib.synthetic.render_image`, ``real-like`` look, random finger
    poses, left and right hands in turn) of a hand held up with its palm or back to the
    camera, centred, wrist to fingertips about ``fill`` of the picture's side, in front of
    a shipped photo of a room; the camera is ``predict``'s default (60 degree field of
    view), as for a photo of unknown intrinsics. Deterministic for a seed."""
    import dataclasses
    from handlib import backgrounds, images, prediction, synthetic
    from handlib import camera as cam
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    K = prediction.default_intrinsics(size, size)
    intr = cam.Intrinsics(K[0, 0], K[1, 1], K[0, 2], K[1, 2], size, size)
    rooms = sorted(str(f) for f in backgrounds.BACKGROUND_DIR.glob("*.jpg")
                   if any(w in f.name for w in STAND_IN_BACKGROUNDS))
    rng = np.random.default_rng(seed)
    paths = []
    while len(paths) < n:
        scene = synthetic.sample_scene(rng, look="real-like", background=rooms[int(rng.integers(len(rooms)))],
                                       side=("right", "left")[len(paths) % 2], intrinsics=intr)
        R = hm.rotation_matrix(np.asarray(scene.params[:3]))
        if R[1, 1] > -0.6 or abs(R[2, 2]) < 0.6:      # fingers up, palm or back to the camera
            continue
        p = np.asarray(scene.params, float)
        X = hm.forward_kinematics(np.r_[p[:3], 0, 0, 0, p[6:]], hm.default_bone_lengths(scene.hand_scale),
                                  side=scene.side)
        length = 2.0 * np.linalg.norm(X[hm.ROOT_JOINT] - X[hm.NORM_ROOT_JOINT])   # wrist to tips
        p[3:6] = np.array([0.0, 0.0, K[0, 0] * length / (fill * size)]) - X[hm.NORM_ROOT_JOINT]
        try:
            rgb = synthetic.render_image(dataclasses.replace(scene, params=[float(v) for v in p]), intr)[0]
        except ValueError:                             # a forearm through the camera: next
            continue
        paths.append(folder / f"stand_in_{len(paths) + 1}.png")
        images.write_image(paths[-1], rgb)
    return paths


# ------------------------------------------------------------------ drawing
_LUT = None


def _colormap_lut() -> np.ndarray:
    """viridis as a (256, 3) uint8 RGB table (computed once)."""
    global _LUT
    if _LUT is None:
        from matplotlib import colormaps
        _LUT = np.round(colormaps["viridis"](np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8)
    return _LUT


def render_crop(src: SourcePredictions, i: int, joint: int = ALL_JOINTS, scale: int = 2,
                intermediate: bool = False) -> np.ndarray:
    """The input crop (enlarged ``scale`` times) with the predicted skeleton in colour,
    the labelled one in white where known and, with ``intermediate``, the ProjLayer's 2D
    of the intermediate 3D in grey; the selected joint ringed. RGB uint8."""
    import cv2
    S = src.input_size
    img = cv2.resize(src.crops[i], (S * scale, S * scale), interpolation=cv2.INTER_LINEAR)

    def to_px(uv_hm):                     # heatmap pixels -> pixels of the enlarged crop
        return (hmaps.to_image_coords(uv_hm, S, src.heatmap_size) + 0.5) * scale - 0.5
    if intermediate:
        draw_skeleton(img, to_px(src.uv_projected[i]), colors=(150, 150, 150), thickness=1, radius=2)
    if src.has_labels:
        draw_skeleton(img, to_px(src.gt_uv[i]), colors=(255, 255, 255), thickness=1, radius=2)
    draw_skeleton(img, to_px(src.uv[i]), thickness=2, radius=3, highlight=joint, outline=True)
    legend = ("colour: predicted" + (", white: label" if src.has_labels else "")
              + (", grey: ProjLayer" if intermediate else ""))
    _text(img, legend, (4, img.shape[0] - 6), 0.38)
    return img


_STRIP = 16        # pixels of the title and value strips above and below a heatmap panel
_BAR = 46          # pixels of the colour bar's column


def _heat_panel(out, h, lo, hi, f, marks, title, note):
    """Draw one heatmap (Hs, Hs), enlarged ``f`` times and coloured on [lo, hi], into
    ``out`` (a white (Hs * f + 2 * _STRIP, Hs * f, 3) view of the row): its maxima marked
    with red crosses, a title strip above and a note strip below (each one short line:
    the panel is only ``Hs * f`` pixels wide). RGB uint8, in place."""
    import cv2
    lut = _colormap_lut()
    idx = np.clip((h - lo) * (255.0 / max(hi - lo, 1e-9)), 0, 255).astype(np.uint8)
    # colour the small map, then enlarge (nearest neighbour keeps each heatmap pixel)
    img = cv2.resize(lut[idx], None, fx=f, fy=f, interpolation=cv2.INTER_NEAREST)
    arm = 4 if len(marks) > 1 else 7         # half the cross's length, pixels (2 wide)
    centres = np.round((np.asarray(marks) + 0.5) * f - 0.5).astype(int)
    dx, dy = _cross_offsets(arm)
    x, y = (centres[:, :1] + dx).ravel(), (centres[:, 1:] + dy).ravel()
    ok = (x >= 0) & (x < img.shape[1]) & (y >= 0) & (y < img.shape[0])
    img[y[ok], x[ok]] = (255, 40, 40)                                  # all crosses at once
    out[_STRIP:_STRIP + img.shape[0]] = img
    _text(out[:_STRIP], title, (2, 12), 0.4, color=(0, 0, 0), box=False)
    _text(out[_STRIP + img.shape[0]:], note, (2, 12), 0.36, color=(0, 0, 0), box=False)


@functools.lru_cache(maxsize=4)
def _cross_offsets(arm: int) -> tuple:
    """Pixel offsets (dx, dy) of a cross centred on a pixel: a horizontal and a vertical
    bar ``2 * arm + 1`` long and 2 pixels wide (the centre pixel and the one after it)."""
    along = np.arange(-arm, arm + 1)
    dx = np.concatenate([along, along, np.zeros_like(along), np.ones_like(along)])
    dy = np.concatenate([np.zeros_like(along), np.ones_like(along), along, along])
    return dx[None, :], dy[None, :]


@functools.lru_cache(maxsize=64)
def _colour_bar_cached(labels: tuple, height: int, width: int) -> np.ndarray:
    lut = _colormap_lut()
    bar = np.full((height, width, 3), 255, np.uint8)
    bar[:, 2:12] = lut[np.linspace(255, 0, height).astype(np.uint8)][:, None, :]
    for frac, label in zip((0.0, 0.5, 1.0), labels):
        y = int(round((1 - frac) * (height - 1)))
        _text(bar, label, (14, min(max(y + 4, 9), height - 2)), 0.33, color=(0, 0, 0), box=False)
    bar.setflags(write=False)
    return bar


def _colour_bar(lo, hi, height, width=_BAR) -> np.ndarray:
    """The colour scale [lo, hi] as a (height, width, 3) RGB uint8 column, labelled at its
    bottom, middle and top (drawn once per scale and size: the scale is almost always
    [0, 1]). Read-only."""
    labels = tuple(f"{lo + frac * (hi - lo):.2f}" for frac in (0.0, 0.5, 1.0))
    return _colour_bar_cached(labels, int(height), int(width))


def render_heatmaps(src: SourcePredictions, i: int, joint: int = ALL_JOINTS, panel: int = 128,
                    gap: int = 6) -> np.ndarray:
    """Predicted, target (where labelled) and rendered intermediate heatmaps of joint
    ``joint`` (or the maximum over all joints), nearest-neighbour enlarged so each heatmap
    pixel stays visible, on one colour scale (bar at the right), each map's maximum
    marked (all 21 maxima in the all-joints view), its value in the title above it and,
    for one joint, its place (heatmap pixels) below it. RGB uint8."""
    Hs = src.heatmap_size
    f = max(1, panel // Hs)
    maps = [("predicted", src.heatmaps, src.uv)]
    # (a map without a peak, e.g. a joint outside the crop, still has a maximum: it is
    # marked like the others; its value below the map says how little it means)
    if src.target is not None:
        maps.append(("target", src.target, src.target_uv))
    maps.append(("rendered", src.rendered, src.rendered_uv))
    if joint == ALL_JOINTS:        # the maxima over joints, computed once with the cache
        shown = [(n, src.all_joints[n][i], uv[i]) for n, _, uv in maps]
    else:
        shown = [(n, m[i, ..., joint], uv[i, joint:joint + 1]) for n, m, uv in maps]
    peaks = [float(s.max()) for _, s, _ in shown]
    lo = min(0.0, min(float(s.min()) for _, s, _ in shown))
    hi = max(1.0, max(peaks))
    h, w = Hs * f, Hs * f
    out = np.full((h + 2 * _STRIP, len(shown) * (w + gap) + _BAR, 3), 255, np.uint8)
    for k, ((n, s, marks), peak) in enumerate(zip(shown, peaks)):
        note = (f"peak at ({marks[0, 0]:.1f}, {marks[0, 1]:.1f})" if len(marks) == 1
                else "+: each joint's peak")
        _heat_panel(out[:, k * (w + gap):k * (w + gap) + w], s, lo, hi, f, marks, f"{n}, max {peak:.2f}", note)
    out[_STRIP:_STRIP + h, -_BAR:] = _colour_bar(lo, hi, h)
    return out


def render_3d(src: SourcePredictions, i: int, azimuth: float = 35.0, elevation: float = -20.0,
              size: int = 256, extent_mm: float = 110.0, show_intermediate: bool = False) -> np.ndarray:
    """Sample ``i``'s root-relative 3D (:func:`skeleton_3d_image`, crop camera frame):
    predicted in colour, labelled in white, the intermediate (ProjLayer) guess in grey
    when asked. RGB uint8 (size, size, 3)."""
    mm = src.hand_mm[i]
    layers = []
    if show_intermediate:
        layers.append((src.xyz_intermediate[i] * mm, (150, 150, 150), 1))
    if src.has_labels:
        layers.append((src.gt_xyz[i] * mm, (255, 255, 255), 1))
    layers.append((src.xyz[i] * mm, None, 2))
    legend = ("colour: predicted" + (", white: label" if src.has_labels else "")
              + (", grey: intermediate" if show_intermediate else ""))
    return skeleton_3d_image(layers, azimuth, elevation, size, extent_mm, legend)


def joint_table_html(src: SourcePredictions, i: int, joint: int = ALL_JOINTS) -> str:
    """Per-joint figures of sample ``i`` as an HTML table (joints as columns): heatmap
    maximum (confidence), refinement shift (crop px) and, where labelled, 2D error (crop
    px) and 3D error (mm). Low confidence and large errors are tinted; the selected
    joint's column is outlined."""
    rows = [("confidence", src.confidence[i], "{:.2f}", lambda v: v < 0.3),
            ("refinement (px)", src.refinement_px[i], "{:.1f}", lambda v: False)]
    if src.has_labels:
        rows += [("2D error (px)", src.err_2d[i], "{:.1f}", lambda v: v > 10),
                 ("3D error (mm)", src.err_3d_mm[i], "{:.0f}", lambda v: v > 30)]
    cell = "padding:1px 4px;text-align:right;font-family:monospace;font-size:11px;"
    head = "".join(
        f'<th style="{cell}{"outline:2px solid #1f77b4;" if j == joint else ""}">{n}</th>'
        for j, n in enumerate(metrics.JOINT_NAMES))
    body = []
    for name, vals, fmt, bad in rows:
        tds = "".join(
            f'<td style="{cell}{"background:#fdd;" if bad(v) else ""}'
            f'{"outline:2px solid #1f77b4;" if j == joint else ""}">{fmt.format(v)}</td>'
            for j, v in enumerate(vals))
        body.append(f'<tr><th style="{cell}text-align:left">{name}</th>{tds}</tr>')
    return (f'<table style="border-collapse:collapse"><tr><th></th>{head}</tr>'
            + "".join(body) + "</table>")


def sample_text(src: SourcePredictions, i: int) -> str:
    """``"sample 7 of 12 (0007_color_composed.png)"`` for index ``i`` = 6: what the app
    shows counts samples from 1, as the slider does (Python indices stay 0-based)."""
    return f"sample {i + 1} of {len(src)} ({src.labels[i]})"


def summary_line(src: SourcePredictions, i: int) -> str:
    """One line about sample ``i``: its label, side, mean confidence and errors."""
    s = (f"<b>{src.name}</b> {sample_text(src, i)}, {src.sides[i]} hand"
         f"{' (shown mirrored)' if src.sides[i] not in (src.network_side, 'unknown') else ''}, "
         f"mean confidence {src.confidence[i].mean():.2f}")
    if src.has_labels:
        s += f", 2D error {src.err_2d[i].mean():.1f} px, 3D error {src.err_3d_mm[i].mean():.1f} mm"
    return s


def render_view(src: SourcePredictions, i: int, joint: int = ALL_JOINTS, azimuth: float = 35.0,
                elevation: float = -20.0, intermediate: bool = False) -> np.ndarray:
    """The three panels of the inspector side by side with captions (the PNG shown where
    no kernel is running): crop, heatmaps, 3D. RGB uint8."""
    panels = [("input crop", render_crop(src, i, joint, intermediate=intermediate)),
              (f"heatmaps, joint {joint_label(joint)}", render_heatmaps(src, i, joint)),
              ("3D (root-relative)", render_3d(src, i, azimuth, elevation, show_intermediate=intermediate))]
    h = max(p.shape[0] for _, p in panels) + 22
    out = []
    for cap, p in panels:
        tile = np.full((h, p.shape[1] + 10, 3), 255, np.uint8)
        tile[22:22 + p.shape[0], 5:5 + p.shape[1]] = p
        _text(tile, cap, (5, 15), 0.42, color=(0, 0, 0), box=False)
        out.append(tile)
    img = np.concatenate(out, axis=1)
    foot = np.full((20, img.shape[1], 3), 255, np.uint8)
    line = f"{src.name}: {sample_text(src, i)}, mean confidence {src.confidence[i].mean():.2f}"
    if src.has_labels:
        line += f", 2D error {src.err_2d[i].mean():.1f} px, 3D error {src.err_3d_mm[i].mean():.1f} mm"
    _text(foot, line, (5, 14), 0.42, color=(0, 0, 0), box=False)
    return np.concatenate([img, foot], axis=0)


def jpeg_bytes(img: np.ndarray, quality: int = 90, full_colour: bool = False) -> bytes:
    """JPEG encoding of an RGB uint8 image (for photos and drawings: fast and small).
    ``full_colour``: no chroma subsampling (4:4:4), so that thin coloured marks (the red
    crosses on a heatmap) keep their colour."""
    import cv2
    params = [cv2.IMWRITE_JPEG_QUALITY, quality]
    if full_colour:
        params += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def png_bytes(img: np.ndarray) -> bytes:
    """PNG encoding of an RGB uint8 image, tuned for speed on drawn panels (light
    compression, the "up" filter: flat colour blocks compress 20x in about a millisecond)."""
    import cv2
    params = [cv2.IMWRITE_PNG_COMPRESSION, 1]
    if hasattr(cv2, "IMWRITE_PNG_FILTER"):                 # OpenCV >= 4.11
        params += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP]
    ok, buf = cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


# ------------------------------------------------------------------ the app
class Inspector:
    """The ipywidgets app over one or more :class:`SourcePredictions` (see
    :func:`inspector`). ``state()`` tells what is shown; ``select(...)`` changes it as
    the selectors do; ``last_redraw_s`` is the duration of the last redraw (drawing,
    PNG encoding and widget updates: everything the Python handler does).

    Counting: what the app shows counts from 1 (the slider runs 1 to N, "sample 7 of
    12"); ``state()`` and ``select()`` use Python's 0-based positions and indices."""

    def __init__(self, sources: dict, joint: int = ALL_JOINTS):
        import ipywidgets as w
        if not sources:
            raise ValueError("the inspector needs at least one source of samples")
        self.sources = dict(sources)
        self.last_redraw_s = float("nan")
        self.redraws = 0
        self._order = np.arange(len(next(iter(self.sources.values()))))
        lay = w.Layout
        self.source = w.Dropdown(options=list(self.sources), description="source",
                                 disabled=len(self.sources) == 1, layout=lay(width="260px"))
        self.ordering = w.Dropdown(options=list(ORDERS), description="order", layout=lay(width="260px"))
        self.prev = w.Button(description="\u25c0 previous", layout=lay(width="100px"))
        self.next = w.Button(description="next \u25b6", layout=lay(width="100px"))
        self.sample = w.IntSlider(min=1, max=len(self._order), value=1, description="sample",
                                  continuous_update=True, layout=lay(width="420px"))
        self.joint = w.Dropdown(options=[(joint_label(j), j) for j in [ALL_JOINTS, *range(21)]],
                                value=joint, description="joint", layout=lay(width="260px"))
        self.azimuth = w.IntSlider(min=-180, max=180, step=5, value=35, description="azimuth",
                                   continuous_update=True, layout=lay(width="256px"))
        self.intermediate = w.Checkbox(value=False, description="show the intermediate (ProjLayer) guess",
                                       indent=False, layout=lay(width="300px"))
        self.crop_image = w.Image(format="jpeg")       # photo: JPEG is 10x faster to encode
        # heatmaps: JPEG at quality 95 without chroma subsampling, 3x faster to encode than
        # PNG; colours within 4 of 255 levels on 99 % of pixels for one joint, 7 for all 21
        # (more crosses), mean error 0.5-1 level (measured on the regression samples), so the
        # colour scale reads the same (a snapshot of the view is PNG, lossless)
        self.heat_image = w.Image(format="jpeg")
        self.view_image = w.Image(format="jpeg")
        self.heat_caption = w.HTML()
        self.summary = w.HTML()
        self.table = w.HTML()
        self.crop_image.add_class("handlib-crop")
        self.heat_image.add_class("handlib-heatmaps")
        self.view_image.add_class("handlib-3d")
        cap = lambda s: w.HTML(f"<b>{s}</b>")  # noqa: E731
        self.widget = w.VBox([
            w.HBox([self.source, self.ordering, self.joint]),
            w.HBox([self.prev, self.sample, self.next, self.intermediate]),
            self.summary,
            w.HBox([w.VBox([cap("input crop"), self.crop_image]),
                    w.VBox([self.heat_caption, self.heat_image]),
                    w.VBox([cap("3D, root-relative (mm)"), self.view_image, self.azimuth])],
                   layout=lay(align_items="flex-start", gap="8px")),
            self.table])
        self.widget.add_class("handlib-inspector")
        self.source.observe(self._on_source, names="value")
        self.ordering.observe(self._on_order, names="value")
        self.sample.observe(lambda _: self.redraw(), names="value")
        self.joint.observe(lambda _: self.redraw(("crop", "heatmaps", "table")), names="value")
        self.azimuth.observe(lambda _: self.redraw(("3d",)), names="value")
        self.intermediate.observe(lambda _: self.redraw(("crop", "3d")), names="value")
        self.prev.on_click(lambda _: self._step(-1))
        self.next.on_click(lambda _: self._step(+1))
        self._on_source()

    # selectors
    @property
    def current(self) -> SourcePredictions:
        return self.sources[self.source.value]

    def _on_source(self, _=None):
        src = self.current
        allowed = [k for k, v in ORDERS.items() if v in (None, "confidence") or src.has_labels]
        keep = self.ordering.value if self.ordering.value in allowed else "sample order"
        if list(self.ordering.options) != allowed:
            # new options reset the value (ipywidgets): put it back without a second redraw
            self.ordering.unobserve(self._on_order, names="value")
            self.ordering.options = allowed
            self.ordering.value = keep
            self.ordering.observe(self._on_order, names="value")
        elif self.ordering.value != keep:
            self.ordering.unobserve(self._on_order, names="value")
            self.ordering.value = keep
            self.ordering.observe(self._on_order, names="value")
        self._on_order()

    def _on_order(self, _=None):
        self._order = self.current.order(self.ordering.value)
        with self.sample.hold_trait_notifications():
            self.sample.max = len(self._order)
            self.sample.description = "sample" if ORDERS[self.ordering.value] is None else "rank"
        if self.sample.value != 1:
            self.sample.value = 1          # observed: redraws
        else:
            self.redraw()

    def _step(self, d: int):
        self.sample.value = int(np.clip(self.sample.value + d, 1, self.sample.max))

    def select(self, source: str | None = None, order: str | None = None, sample: int | None = None,
               joint: int | None = None) -> None:
        """Change the selectors as a user would (each change redraws once); ``sample``
        is the 0-based position in the current ordering (the slider shows it plus 1)."""
        if source is not None:
            self.source.value = source
        if order is not None:
            self.ordering.value = order
        if sample is not None:
            self.sample.value = int(sample) + 1
        if joint is not None:
            self.joint.value = joint

    def state(self) -> dict:
        """What is shown: source, ordering, position in it and sample index (both 0-based:
        the slider shows position + 1), joint."""
        pos = self.sample.value - 1
        return {"source": self.source.value, "order": self.ordering.value,
                "position": pos, "sample": int(self._order[pos]),
                "joint": self.joint.value}

    # drawing
    PANELS = ("crop", "heatmaps", "3d", "table")

    def redraw(self, panels=PANELS) -> None:
        """Redraw ``panels`` for the current selection (the selectors' handler: a new
        sample redraws all, a new joint all but the 3D view, the azimuth only the 3D)."""
        t0 = time.perf_counter()
        src, i, j = self.current, int(self._order[self.sample.value - 1]), self.joint.value
        inter = self.intermediate.value
        if "crop" in panels:
            self.crop_image.value = jpeg_bytes(render_crop(src, i, j, intermediate=inter))
        if "heatmaps" in panels:
            self.heat_image.value = jpeg_bytes(render_heatmaps(src, i, j), 95, full_colour=True)
            self.heat_caption.value = f"<b>heatmaps: {joint_label(j)}</b>"
        if "3d" in panels:
            self.view_image.value = jpeg_bytes(render_3d(src, i, self.azimuth.value, show_intermediate=inter))
        if "table" in panels:
            self.summary.value = summary_line(src, i)
            self.table.value = joint_table_html(src, i, j)
        self.last_redraw_s = time.perf_counter() - t0
        self.redraws += 1

    def snapshot(self) -> np.ndarray:
        """The current view as one RGB image (:func:`render_view`)."""
        s = self.state()
        return render_view(self.current, s["sample"], s["joint"], self.azimuth.value,
                           intermediate=self.intermediate.value)

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs) or {}
        bundle["image/png"] = base64.b64encode(png_bytes(self.snapshot())).decode("ascii")
        names = ", ".join(f"{k} ({len(v)})" for k, v in self.sources.items())
        bundle["text/plain"] = (f"<heatmap inspector: {names}; "
                                "run the notebook in JupyterLab for the live widgets>")
        return bundle


def inspector(model, samples=None, images=None, side: str | None = None, video: bool = False,
              video_every: int = 25, video_limit: int | None = None, sources: dict | None = None,
              batch_size: int = 32, joint: int = ALL_JOINTS, images_name: str | None = None) -> Inspector:
    """The heatmap inspector for any trained RegNet, in one call.

    ``samples``: labelled samples (a data set folder or a list of
    :class:`handlib.samples.HandSample`): shown with targets, errors and a worst-first
    ordering. ``images``: a folder of the user's own images, a list of files or RGB
    arrays, cut and side-handled as by ``predict`` (``side`` "left", "right" or "auto"
    is then required). ``video``: add frames of the real video where it exists.
    ``images_name``: the images' name in the source selector (default: the folder's
    name, or "your images" for a list). ``sources``: ready :class:`SourcePredictions` by
    name (shown first). Predictions are computed here, once per source, in batches of
    ``batch_size``.
    """
    from handlib import datasets
    found = dict(sources or {})               # ready ones first: shown first
    if samples is not None:
        if isinstance(samples, (str, Path)):
            name, samples = Path(samples).name, datasets.open_dataset(samples)
        else:
            name = "rendered samples"
        found[name] = from_samples(model, samples, name=name, batch_size=batch_size)
    if images is not None:
        if side is None:
            raise ValueError("images need side='left', 'right' or 'auto' (as in predict)")
        name = images_name or (Path(images).name if isinstance(images, (str, Path)) else "your images")
        found[name] = from_images(model, images, side, name=name, batch_size=batch_size)
    if video:
        v = video_source(model, every=video_every, limit=video_limit)
        if v is not None:
            found[v.name] = v
    if not found:
        raise ValueError("give samples, images, video=True (with the real video present) or sources")
    return Inspector(found, joint=joint)
