"""The SynthHands layout (Mueller et al., ICCV 2017): a reader.

Introduced in ``notebooks/01_dataset_preparation.ipynb``.

Layout: ``{male,female}_{object,noobject}/seqNN/camNN/NN/%08d_color.png`` with
``%08d_joint_pos.txt`` (63 floats, mm, in the *depth* camera's frame): add
:data:`handlib.camera.SYNTHHANDS_DEPTH_TO_COLOR` to project onto ``color.png`` with the
GANerated intrinsics. Each motion sequence ``seqNN`` is rendered from several cameras
``camNN`` and cut into chunks ``NN``, so the split unit is the motion,
``{sex_object}/seqNN`` (:mod:`handlib.splits`).

Hand side: a public loader of this set marks every frame "left", and GANerated (made
from the same renders) is left-handed; the course could not read the set's own README
here, so the reader decides each frame's side from its joints
(:func:`handlib.hand_model.handedness`: the thumb's base lies on the palm's side of the
wrist-knuckle plane, which a mirror turns round); a frame whose joints do not say
(degenerate labels) gets ``side=None``, which the pose pipeline refuses by name.
"""
from __future__ import annotations

import glob
import os
import re
from pathlib import Path

from handlib import camera as cam
from handlib import files
from handlib import hand_model as hm
from handlib.files import DataFileError
from handlib.samples import HandSample

_GROUP = re.compile(r"(?:^|/)((?:male|female)_(?:object|noobject))/(seq\d+)/")


def motion_sequence(relative_dir: str) -> str:
    """The split unit of a frame folder ``{sex_object}/seqNN/camNN/NN``:
    ``{sex_object}/seqNN`` (every camera and chunk of one motion together)."""
    m = _GROUP.search(relative_dir.replace(os.sep, "/") + "/")
    return f"{m.group(1)}/{m.group(2)}" if m else relative_dir


def read_synthhands(root, limit: int | None = None) -> list[HandSample]:
    """Frames of a SynthHands folder. ``uv`` are full-image colour pixels (640x480); the
    sample has no crop (the pipeline cuts one around the joints)."""
    root = Path(root)
    paths = sorted(glob.glob(str(root / "**" / "*_joint_pos.txt"), recursive=True))
    paths = [p for p in paths if _GROUP.search(p.replace(os.sep, "/"))]
    if not paths:
        raise DataFileError(root, "a SynthHands layout: {male,female}_{object,noobject}/"
                            "seqNN/camNN/NN/%08d_joint_pos.txt", "none")
    out = []
    for jp in paths:
        stem = jp[: -len("_joint_pos.txt")]
        xyz_depth = files.read_floats(jp, 63, "3D joints in mm, depth-camera frame").reshape(21, 3)
        xyz = xyz_depth + cam.SYNTHHANDS_DEPTH_TO_COLOR
        if (xyz[:, 2] <= 0).any():
            raise DataFileError(jp, "joints in front of the camera (z > 0 mm)",
                                f"z = {xyz[:, 2].min():.1f} mm")
        norm, _, _ = hm.normalise(xyz)
        rel = os.path.relpath(os.path.dirname(jp), root)
        depth = stem + "_depth.png"
        out.append(HandSample(
            image_path=stem + "_color.png", sequence=motion_sequence(rel),
            uv=cam.project(cam.GANERATED, xyz), xyz=xyz, xyz_norm=norm, crop=None,
            depth_path=depth if os.path.isfile(depth) else None,
            side={1.0: "right", -1.0: "left"}.get(float(hm.handedness(xyz))),
            intrinsics=cam.GANERATED, source="synthhands",
            extra={"xyz_depth_frame": xyz_depth, "folder": rel,
                   "color_on_depth": stem + "_color_on_depth.png"}))
        if limit is not None and len(out) >= limit:
            break
    return out
