"""The data sets: readers for GANerated, SynthHands and RealHands, and the writer.

Introduced in ``notebooks/01_dataset_preparation.ipynb``.

All readers return :class:`HandSample` records (labels loaded, images loaded on demand),
so training code does not care where a sample came from. Layouts, as published (see
``method-notes.md`` in the course's reference notes):

* **GANerated** ``.../data/{noObject,withObject}/NNNN/FFFF_color_composed.png`` with
  ``FFFF_joint_pos.txt`` (63 floats, normalised: M0 at the origin, |W-M0| = 1),
  ``FFFF_joint2D.txt`` (42 floats, crop pixels), ``FFFF_joint_pos_global.txt`` (63 floats,
  camera mm) and ``FFFF_crop_params.txt`` (``u,v,scale``). Partitions are globbed, never
  counted. The course's engine writes the same files, plus ``FFFF_mask.png``,
  ``FFFF_depth.png`` (uint16 mm), ``FFFF_visibility.txt`` (21 0/1 values) and
  ``FFFF_scene.json``; a set made with another camera than GANerated's stores it in
  ``intrinsics.json`` at the set's root.
* **SynthHands** ``{male,female}_{object,noobject}/seqNN/camNN/NN/%08d_color.png`` with
  ``%08d_joint_pos.txt`` (63 floats, mm, in the *depth* camera's frame): add
  :data:`handlib.camera.SYNTHHANDS_DEPTH_TO_COLOR` to project onto ``color.png`` with the
  GANerated intrinsics.
* **RealHands** ``userNN/color/image_XXXX_color.{jpg,png}`` with masks in
  ``userNN/mask(s)/image_XXXX.{jpg,png}``: images and (cleaned) silhouettes, no joints.

Splits are by sequence (GANerated partition, SynthHands camera sequence, RealHands
user), never by frame: neighbouring frames are near-duplicates.
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from handlib import camera as cam
from handlib import files
from handlib import hand_model as hm
from handlib.files import DataFileError

INTRINSICS_FILE = "intrinsics.json"
DATASET_INFO_FILE = "handlib_dataset.json"


@dataclass
class HandSample:
    """One labelled (or unlabelled) hand image.

    ``image_path``: the RGB image. ``uv`` (21, 2): joints in the image's pixels (the crop
    for GANerated; the full image for SynthHands). ``xyz`` (21, 3): joints in the camera
    frame, mm (of the colour camera). ``xyz_norm`` (21, 3): root-relative normalised 3D.
    ``crop`` (u, v, scale): the image's crop of the full camera image (identity for full
    images). ``mask_path``/``depth_path``: optional silhouette and depth images.
    ``visible`` (21,) bool or None. ``side``: "left"/"right"/None. ``sequence``: the split
    unit. ``intrinsics``: the full camera's :class:`handlib.camera.Intrinsics`.
    Joint arrays are None for RealHands.
    """

    image_path: str
    sequence: str
    uv: np.ndarray | None = None
    xyz: np.ndarray | None = None
    xyz_norm: np.ndarray | None = None
    crop: tuple = (0.0, 0.0, 1.0)
    mask_path: str | None = None
    depth_path: str | None = None
    visible: np.ndarray | None = None
    side: str | None = None
    intrinsics: cam.Intrinsics = cam.GANERATED
    source: str = ""
    extra: dict = field(default_factory=dict)

    def load_image(self) -> np.ndarray:
        """The RGB image (H, W, 3) uint8."""
        return read_image(self.image_path)

    def load_mask(self, clean: bool = False) -> np.ndarray | None:
        """The silhouette (H, W) bool, or None; ``clean`` applies :func:`clean_mask`."""
        if self.mask_path is None:
            return None
        m = read_image(self.mask_path, gray=True) > 127
        return clean_mask(m) if clean else m

    def load_depth(self) -> np.ndarray | None:
        """Depth (H, W) float in mm (0 = no surface), or None."""
        if self.depth_path is None:
            return None
        import cv2
        d = cv2.imread(self.depth_path, cv2.IMREAD_UNCHANGED)
        if d is None:
            raise DataFileError(self.depth_path, "a 16-bit PNG depth image", "an unreadable file")
        return d.astype(np.float64)

    @property
    def crop_intrinsics(self) -> np.ndarray:
        """3x3 intrinsics of this sample's image."""
        return cam.crop_intrinsics(self.intrinsics, *self.crop)


def read_image(path, gray: bool = False) -> np.ndarray:
    """Read an image as RGB uint8 (H, W, 3), or grey (H, W); clear error if unreadable."""
    import cv2
    if not os.path.isfile(path):
        raise DataFileError(path, "an image file", "no such file")
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR)
    if img is None:
        raise DataFileError(path, "an image readable by OpenCV (png, jpg)", "an unreadable file")
    return img if gray else img[..., ::-1].copy()


def clean_mask(mask: np.ndarray) -> np.ndarray:
    """Clean a noisy silhouette (H, W) bool: keep the largest connected component and
    fill its holes (the RealHands masks are known to be noisy)."""
    import cv2
    m = mask.astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if n <= 1:
        return np.zeros_like(mask, bool)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    m = (labels == largest).astype(np.uint8)
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    filled = np.zeros_like(m)
    cv2.drawContours(filled, contours, -1, 1, thickness=-1)
    return filled.astype(bool)


# ------------------------------------------------------------------------- GANerated
_GAN_FRAME = re.compile(r"^(\d{4})_color_composed\.png$")


def _read_intrinsics(root: Path) -> cam.Intrinsics:
    path = root / INTRINSICS_FILE
    if not path.is_file():
        return cam.GANERATED
    try:
        d = json.loads(path.read_text())
        return cam.Intrinsics(float(d["fx"]), float(d["fy"]), float(d["cx"]), float(d["cy"]),
                              int(d["width"]), int(d["height"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise DataFileError(path, "JSON with fx, fy, cx, cy, width, height",
                            f"an invalid file ({exc})") from None


def ganerated_partitions(root) -> list[Path]:
    """All partition folders ``.../{noObject,withObject}/NNNN`` under ``root``, sorted."""
    root = Path(root)
    found = []
    for group in ("noObject", "withObject"):
        for d in glob.glob(str(root / "**" / group / "[0-9][0-9][0-9][0-9]"), recursive=True):
            if os.path.isdir(d):
                found.append(Path(d))
    return sorted(set(found))


def read_ganerated_frame(partition: Path, frame: str, sequence: str,
                         intrinsics: cam.Intrinsics = cam.GANERATED) -> HandSample:
    """Read one GANerated-layout frame ``FFFF`` of a partition folder."""
    p = Path(partition)
    stem = str(p / frame)
    xyz_norm = files.read_floats(stem + "_joint_pos.txt", 63, "normalised 3D joints").reshape(21, 3)
    uv = files.read_floats(stem + "_joint2D.txt", 42, "2D joints in crop pixels").reshape(21, 2)
    xyz = files.read_floats(stem + "_joint_pos_global.txt", 63, "3D joints in mm").reshape(21, 3)
    crop = tuple(float(c) for c in files.read_floats(stem + "_crop_params.txt", 3, "crop u,v,scale"))
    vis_path = stem + "_visibility.txt"
    visible = (files.read_floats(vis_path, 21, "per-joint visibility 0/1") > 0.5
               if os.path.isfile(vis_path) else None)
    side, extra = "left", {}
    scene_path = stem + "_scene.json"
    if os.path.isfile(scene_path):
        try:
            extra = json.loads(Path(scene_path).read_text())
        except ValueError as exc:
            raise DataFileError(scene_path, "a JSON scene description", f"invalid JSON ({exc})") from None
        side = extra.get("side", side)
    mask = stem + "_mask.png"
    depth = stem + "_depth.png"
    return HandSample(image_path=stem + "_color_composed.png", sequence=sequence, uv=uv,
                      xyz=xyz, xyz_norm=xyz_norm, crop=crop,
                      mask_path=mask if os.path.isfile(mask) else None,
                      depth_path=depth if os.path.isfile(depth) else None,
                      visible=visible, side=side, intrinsics=intrinsics,
                      source="ganerated", extra=extra)


def read_ganerated(root, limit: int | None = None) -> list[HandSample]:
    """All frames of a GANerated-layout folder (a download or a set made by the engine).

    A frame counts when its ``FFFF_color_composed.png`` exists; any missing or malformed
    label file raises :class:`DataFileError` naming it.
    """
    root = Path(root)
    parts = ganerated_partitions(root)
    if not parts:
        raise DataFileError(root, "a GANerated layout: .../noObject/NNNN or .../withObject/NNNN "
                            "partition folders", "none")
    intr = _read_intrinsics(root)
    out = []
    for part in parts:
        seq = f"{root.resolve().name}/{part.parent.name}/{part.name}"   # unique across sets
        frames = sorted(m.group(1) for m in map(_GAN_FRAME.match, os.listdir(part)) if m)
        for f in frames:
            out.append(read_ganerated_frame(part, f, seq, intr))
            if limit is not None and len(out) >= limit:
                return out
    return out


# ------------------------------------------------------------------------ SynthHands
def read_synthhands(root, limit: int | None = None, crop_size: int = 256,
                    crop_margin: float = 0.2) -> list[HandSample]:
    """Frames of a SynthHands folder. ``uv`` are full-image colour pixels; ``crop`` is a
    square box around the joints (``crop_margin``) for ``crop_size`` crops."""
    root = Path(root)
    pattern = str(root / "**" / "*_joint_pos.txt")
    paths = sorted(glob.glob(pattern, recursive=True))
    paths = [p for p in paths if re.search(r"(male|female)_(object|noobject)", p)]
    if not paths:
        raise DataFileError(root, "a SynthHands layout: {male,female}_{object,noobject}/"
                            "seqNN/camNN/NN/%08d_joint_pos.txt", "none")
    out = []
    for jp in paths:
        stem = jp[: -len("_joint_pos.txt")]
        xyz_depth = files.read_floats(jp, 63, "3D joints in mm, depth-camera frame").reshape(21, 3)
        xyz = xyz_depth + cam.SYNTHHANDS_DEPTH_TO_COLOR
        uv = cam.project(cam.GANERATED, xyz)
        norm, _, _ = hm.normalise(xyz)
        rel = os.path.relpath(os.path.dirname(jp), root)
        color = stem + "_color.png"
        out.append(HandSample(
            image_path=color, sequence=rel, uv=uv, xyz=xyz, xyz_norm=norm,
            crop=(0.0, 0.0, 1.0), depth_path=stem + "_depth.png" if os.path.isfile(stem + "_depth.png") else None,
            side="right", intrinsics=cam.GANERATED, source="synthhands",
            extra={"xyz_depth_frame": xyz_depth,
                   "crop_box": cam.square_crop_box(uv, crop_size, margin=crop_margin),
                   "color_on_depth": stem + "_color_on_depth.png"}))
        if limit is not None and len(out) >= limit:
            break
    return out


# ------------------------------------------------------------------------- RealHands
_REAL_IMAGE = re.compile(r"^image_(\d+)_color\.(jpg|jpeg|png)$", re.I)


def read_realhands(root, limit: int | None = None) -> list[HandSample]:
    """Images and silhouettes of a RealHands folder (``userNN/color``, ``userNN/mask(s)``).

    Images without a mask are kept with ``mask_path=None``; use
    ``sample.load_mask(clean=True)`` for the cleaned silhouette.
    """
    root = Path(root)
    users = sorted(p for p in root.glob("user*") if p.is_dir())
    if not users:
        raise DataFileError(root, "a RealHands layout: userNN/color/image_XXXX_color.jpg", "none")
    out = []
    for user in users:
        color_dir = user / "color"
        mask_dirs = [d for d in (user / "mask", user / "masks") if d.is_dir()]
        if not color_dir.is_dir():
            raise DataFileError(color_dir, "a folder of image_XXXX_color images", "no such folder")
        for name in sorted(os.listdir(color_dir)):
            m = _REAL_IMAGE.match(name)
            if not m:
                continue
            mask = None
            for d in mask_dirs:
                for ext in ("png", "jpg", "jpeg"):
                    cand = d / f"image_{m.group(1)}.{ext}"
                    if cand.is_file():
                        mask = str(cand)
                        break
                if mask:
                    break
            out.append(HandSample(image_path=str(color_dir / name), sequence=user.name,
                                  mask_path=mask, source="realhands"))
            if limit is not None and len(out) >= limit:
                return out
    return out


def detect_layout(root) -> str:
    """"ganerated", "synthhands" or "realhands" for a folder, by its layout."""
    root = Path(root)
    if not root.is_dir():
        raise DataFileError(root, "a data set folder", "no such folder")
    if ganerated_partitions(root):
        return "ganerated"
    if any(root.glob("user*/color")):
        return "realhands"
    if glob.glob(str(root / "**" / "*_joint_pos.txt"), recursive=True):
        return "synthhands"
    raise DataFileError(root, "a GANerated, SynthHands or RealHands layout", "none of them")


def open_dataset(root, limit: int | None = None) -> list[HandSample]:
    """Read any supported folder (layout detected by :func:`detect_layout`)."""
    layout = detect_layout(root)
    reader = {"ganerated": read_ganerated, "synthhands": read_synthhands,
              "realhands": read_realhands}[layout]
    return reader(root, limit=limit)


def split_by_sequence(samples: list[HandSample], val_fraction: float = 0.1,
                      test_fraction: float = 0.1, seed: int = 0):
    """Split samples into (train, val, test) by whole sequences.

    Each sequence goes to one split, chosen by a hash of its name and ``seed`` (stable
    across runs and machines); with few sequences, at least one goes to each non-empty
    fraction when there are three or more sequences.
    """
    seqs = sorted({s.sequence for s in samples})
    def key(name):
        return int(hashlib.sha1(f"{seed}:{name}".encode()).hexdigest()[:8], 16)
    order = sorted(seqs, key=key)
    n = len(order)
    n_test = int(round(test_fraction * n))
    n_val = int(round(val_fraction * n))
    if n >= 3:
        n_test = max(n_test, 1 if test_fraction > 0 else 0)
        n_val = max(n_val, 1 if val_fraction > 0 else 0)
    test = set(order[:n_test])
    val = set(order[n_test:n_test + n_val])
    split = {"train": [], "val": [], "test": []}
    for s in samples:
        split["test" if s.sequence in test else "val" if s.sequence in val else "train"].append(s)
    return split["train"], split["val"], split["test"]


# ---------------------------------------------------------------------------- writer
FRAMES_PER_PARTITION = 1024


def frame_location(root, index: int, group: str = "noObject") -> tuple[Path, str]:
    """(partition folder, frame stem ``FFFF``) of frame ``index`` (0-based) of a set."""
    part = index // FRAMES_PER_PARTITION + 1
    frame = index % FRAMES_PER_PARTITION + 1
    return Path(root) / "data" / group / f"{part:04d}", f"{frame:04d}"


def write_frame(root, index: int, frame, group: str = "noObject") -> Path:
    """Write a :class:`handlib.synthetic.Frame` in the GANerated layout (atomically).

    Files: color_composed.png, joint_pos.txt (normalised 3D), joint2D.txt,
    joint_pos_global.txt, crop_params.txt, mask.png, depth.png (uint16 mm),
    visibility.txt, and scene.json written last (its presence marks a complete frame).
    Returns the partition folder.
    """
    import cv2
    part, stem = frame_location(root, index, group)
    base = part / stem
    def png(path, img):
        with files.atomic_path(path) as tmp:
            if not cv2.imwrite(str(tmp), img):
                raise OSError(f"{path}: could not write the image")
    png(f"{base}_color_composed.png", frame.rgb[..., ::-1])
    png(f"{base}_mask.png", frame.mask.astype(np.uint8) * 255)
    png(f"{base}_depth.png", np.clip(np.round(frame.depth), 0, 65535).astype(np.uint16))
    norm, _, _ = hm.normalise(frame.xyz)
    files.write_floats(f"{base}_joint_pos.txt", norm, "%.8f")
    files.write_floats(f"{base}_joint2D.txt", frame.uv, "%.6f")
    files.write_floats(f"{base}_joint_pos_global.txt", frame.xyz, "%.6f")
    files.write_floats(f"{base}_crop_params.txt", frame.crop, "%.8f")
    files.write_text(f"{base}_visibility.txt", ",".join(str(int(v)) for v in frame.visible) + "\n")
    files.write_json(f"{base}_scene.json", frame.scene.to_dict())
    return part


def frame_is_complete(root, index: int, group: str = "noObject") -> bool:
    """True when frame ``index`` was written completely (its scene.json exists)."""
    part, stem = frame_location(root, index, group)
    return (part / f"{stem}_scene.json").is_file()


def write_dataset_info(root, info: dict, intrinsics: cam.Intrinsics) -> None:
    """Write the set's description and its camera at its root (atomically)."""
    files.write_json(Path(root) / DATASET_INFO_FILE, info)
    files.write_json(Path(root) / INTRINSICS_FILE, intrinsics.to_dict())
