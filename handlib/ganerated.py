"""The GANerated Hands layout: reading it and writing it, in one place.

Introduced in ``notebooks/01_dataset_preparation.ipynb``.

Layout, as published (see ``method-notes.md`` in the course's reference notes)::

    .../data/{noObject,withObject}/NNNN/FFFF_color_composed.png   256x256 RGB crop
                                        FFFF_joint_pos.txt        63 floats, normalised 3D
                                        FFFF_joint2D.txt          42 floats, crop pixels
                                        FFFF_joint_pos_global.txt 63 floats, camera mm
                                        FFFF_crop_params.txt      u,v,scale

with ``uv_crop = scale * (project(K, X_global) - [u, v])`` for the 640x480 camera ``K``
(:data:`handlib.camera.GANERATED`): an affine, unrotated crop
(:meth:`handlib.crop_camera.Crop.from_ganerated`). Partitions hold up to 1,024 frames
and vary in size, so they are globbed, never counted. GANerated's hands are left hands.

The course's engine (:mod:`handlib.synthetic`) writes the same files through
:func:`write_frame`, plus ``FFFF_mask.png``, ``FFFF_depth.png`` (uint16 mm),
``FFFF_visibility.txt`` (21 values 0/1) and ``FFFF_scene.json`` (written last: its
presence marks a complete frame), and, at the set's root, ``intrinsics.json`` (its
camera) and ``handlib_dataset.json`` (its settings).
"""
from __future__ import annotations

import glob
import os
import re
from pathlib import Path

import numpy as np

from handlib import camera as cam
from handlib import files, images
from handlib import hand_model as hm
from handlib.crop_camera import Crop
from handlib.files import DataFileError
from handlib.samples import HandSample

INTRINSICS_FILE = "intrinsics.json"
DATASET_INFO_FILE = "handlib_dataset.json"
FRAMES_PER_PARTITION = 1024
CROP_SIZE = 256                     # pixels of a published GANerated crop
SIDE = "left"                       # GANerated's hands (its joint names end in _L)
_FRAME = re.compile(r"^(\d{4})_color_composed\.png$")


# ---------------------------------------------------------------------------- reading
def read_intrinsics(root) -> cam.Intrinsics:
    """The camera of a set: ``intrinsics.json`` at its root, else GANerated's."""
    path = Path(root) / INTRINSICS_FILE
    if not path.is_file():
        return cam.GANERATED
    d = files.read_json(path, "JSON with fx, fy, cx, cy, width, height")
    try:
        intr = cam.Intrinsics(float(d["fx"]), float(d["fy"]), float(d["cx"]), float(d["cy"]),
                              int(d["width"]), int(d["height"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise DataFileError(path, "JSON with fx, fy, cx, cy, width, height",
                            f"an invalid file ({exc!r})") from None
    if not (intr.fx > 0 and intr.fy > 0 and np.isfinite([intr.cx, intr.cy]).all()):
        raise DataFileError(path, "positive focal lengths and a finite principal point", str(d))
    return intr


def read_dataset_info(root) -> dict:
    """The settings a set was made with (``handlib_dataset.json``), or {} for a download."""
    path = Path(root) / DATASET_INFO_FILE
    if not path.is_file():
        return {}
    info = files.read_json(path, "a JSON object describing the data set")
    if not isinstance(info, dict):
        raise DataFileError(path, "a JSON object describing the data set", type(info).__name__)
    return info


def partitions(root) -> list[Path]:
    """All partition folders ``.../{noObject,withObject}/NNNN`` under ``root``, sorted."""
    root = Path(root)
    found = []
    for group in ("noObject", "withObject"):
        for d in glob.glob(str(root / "**" / group / "[0-9][0-9][0-9][0-9]"), recursive=True):
            if os.path.isdir(d):
                found.append(Path(d))
    return sorted(set(found))


def read_frame(partition, frame: str, sequence: str,
               intrinsics: cam.Intrinsics = cam.GANERATED, size: int = CROP_SIZE) -> HandSample:
    """Read one frame ``FFFF`` of a partition folder; any missing or malformed file
    raises :class:`DataFileError` naming it."""
    stem = str(Path(partition) / frame)
    xyz_norm = files.read_floats(stem + "_joint_pos.txt", 63, "normalised 3D joints").reshape(21, 3)
    uv = files.read_floats(stem + "_joint2D.txt", 42, "2D joints in crop pixels").reshape(21, 2)
    xyz = files.read_floats(stem + "_joint_pos_global.txt", 63, "3D joints in mm").reshape(21, 3)
    crop_path = stem + "_crop_params.txt"
    u, v, scale = files.read_floats(crop_path, 3, "crop u,v,scale")
    if scale <= 0:
        raise DataFileError(crop_path, "crop u,v,scale with a positive scale", f"scale {scale}")
    crop = Crop.from_ganerated(u, v, scale, size, intrinsics.K)
    vis_path = stem + "_visibility.txt"
    visible = (files.read_floats(vis_path, 21, "per-joint visibility 0/1") > 0.5
               if os.path.isfile(vis_path) else None)
    side, extra = SIDE, {}
    scene_path = stem + "_scene.json"
    if os.path.isfile(scene_path):
        extra = files.read_json(scene_path, "a JSON scene description")
        side = extra.get("side", side)
        if side not in ("left", "right"):
            raise DataFileError(scene_path, 'side "left" or "right"', repr(side))
    mask, depth = stem + "_mask.png", stem + "_depth.png"
    return HandSample(image_path=stem + "_color_composed.png", sequence=sequence, uv=uv,
                      xyz=xyz, xyz_norm=xyz_norm, crop=crop,
                      mask_path=mask if os.path.isfile(mask) else None,
                      depth_path=depth if os.path.isfile(depth) else None,
                      visible=visible, side=side, intrinsics=intrinsics,
                      source="ganerated", extra=extra)


def read_ganerated(root, limit: int | None = None) -> list[HandSample]:
    """All frames of a GANerated-layout folder (a download or a set made by the engine).

    A frame counts when its ``FFFF_color_composed.png`` exists. A partition folder with
    no frame at all is reported (an incomplete download), not skipped silently.
    """
    root = Path(root)
    parts = partitions(root)
    if not parts:
        raise DataFileError(root, "a GANerated layout: .../noObject/NNNN or .../withObject/NNNN "
                            "partition folders", "none")
    intr = read_intrinsics(root)
    size = int(read_dataset_info(root).get("size", CROP_SIZE))
    out = []
    for part in parts:
        seq = f"{root.resolve().name}/{part.parent.name}/{part.name}"   # unique across sets
        frames = sorted(m.group(1) for m in map(_FRAME.match, os.listdir(part)) if m)
        if not frames:
            raise DataFileError(part, "frames FFFF_color_composed.png in a GANerated partition",
                                "an empty partition")
        for f in frames:
            out.append(read_frame(part, f, seq, intr, size))
            if limit is not None and len(out) >= limit:
                return out
    return out


# ---------------------------------------------------------------------------- writing
def frame_location(root, index: int, group: str = "noObject") -> tuple[Path, str]:
    """(partition folder, frame stem ``FFFF``) of frame ``index`` (0-based) of a set."""
    part = index // FRAMES_PER_PARTITION + 1
    frame = index % FRAMES_PER_PARTITION + 1
    return Path(root) / "data" / group / f"{part:04d}", f"{frame:04d}"


def write_frame(root, index: int, *, rgb, mask, depth, xyz, uv, crop: Crop, visible,
                scene: dict, group: str = "noObject") -> Path:
    """Write one labelled frame in the GANerated layout, every file atomically.

    ``rgb`` (S, S, 3) uint8; ``mask`` (S, S) bool; ``depth`` (S, S) mm; ``xyz`` (21, 3)
    camera mm; ``uv`` (21, 2) crop pixels; ``crop`` the affine, unrotated crop of the
    full image; ``visible`` (21,) bool; ``scene`` a JSON-serialisable description. The
    scene file is written last, so a frame interrupted half-way is never mistaken for a
    complete one (:func:`frame_is_complete`). Returns the partition folder.
    """
    part, stem = frame_location(root, index, group)
    base = part / stem
    u, v, s = crop.ganerated_params()
    images.write_image(f"{base}_color_composed.png", rgb)
    images.write_image(f"{base}_mask.png", np.asarray(mask).astype(np.uint8) * 255)
    images.write_image(f"{base}_depth.png", np.clip(np.round(depth), 0, 65535).astype(np.uint16))
    norm, _, _ = hm.normalise(xyz)
    files.write_floats(f"{base}_joint_pos.txt", norm, "%.8f")
    files.write_floats(f"{base}_joint2D.txt", uv, "%.6f")
    files.write_floats(f"{base}_joint_pos_global.txt", xyz, "%.6f")
    files.write_floats(f"{base}_crop_params.txt", [u, v, s], "%.8f")
    files.write_text(f"{base}_visibility.txt", ",".join(str(int(b)) for b in visible) + "\n")
    files.write_json(f"{base}_scene.json", scene)
    return part


def frame_is_complete(root, index: int, group: str = "noObject") -> bool:
    """True when frame ``index`` was written completely (its scene.json exists)."""
    part, stem = frame_location(root, index, group)
    return (part / f"{stem}_scene.json").is_file()


def write_dataset_info(root, info: dict, intrinsics: cam.Intrinsics) -> None:
    """Write the set's description and its camera at its root (atomically)."""
    files.write_json(Path(root) / DATASET_INFO_FILE, info)
    files.write_json(Path(root) / INTRINSICS_FILE, intrinsics.to_dict())
