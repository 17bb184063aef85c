"""The rigged hand mesh and its linear blend skinning.

Introduced in ``notebooks/01_dataset_preparation.ipynb``.

The mesh is the WebXR generic hand (MIT licence, (c) 2019 Amazon; converted by
``tools/convert_hand_mesh.py`` into ``data/hand_mesh.npz``) with a forearm added by the
converter (the original ends in a flat cap at the wrist): 1,481 vertices (121 of them
the forearm's), 2,556 triangles, a closed surface, a 25-joint skin. Its rest pose *is* the rest pose of
:mod:`handlib.hand_model`, so posing it with the hand model's forward kinematics moves the
skin with the 21 labelled joints by construction.

Skinning: each of the 25 mesh joints moves its vertices rigidly with one bone of the
kinematic model, ``v' = A_j (v - p_j) + q_j`` with ``p_j`` the joint's rest position,
``q_j`` its posed position and ``A_j`` the bone's rotation (times a stretch along the
bone when a bone length differs from the mesh's); a vertex blends up to four such
transforms with its skin weights.
"""
from __future__ import annotations

import functools
from types import SimpleNamespace

import numpy as np

from handlib import files, hand_model as hm


@functools.lru_cache(maxsize=1)
def load_mesh() -> SimpleNamespace:
    """The right-hand mesh in the canonical hand frame (mm).

    Returns a namespace with ``vertices`` (V, 3), ``triangles`` (F, 3) int (counter-
    clockwise seen from outside), ``skin_joints`` (V, 4) int and ``skin_weights`` (V, 4),
    ``mesh_joints`` (25, 3) rest positions, ``driver`` (25,) the course joint whose bone
    moves each mesh joint, ``pivot`` (25,) the course joint each mesh joint sits at
    (-1 for finger metacarpals: pivot on the wrist), ``forearm`` (V,) bool: the vertices
    of the forearm (it follows the wrist).
    """
    z = files.load_npz(files.data_file("hand_mesh.npz"), {
        "vertices": (-1, 3), "triangles": (-1, 3), "skin_joints": (-1, 4),
        "skin_weights": (-1, 4), "mesh_joints": (25, 3), "mesh_to_course": (25,),
        "rest_joints": (21, 3), "forearm": (-1,)})
    m2c = z["mesh_to_course"]
    # Which course joint's rotation drives each mesh joint's vertices: a joint's flesh
    # follows the bone that starts at it; tips follow the last bone (the DIP's rotation).
    driver = np.zeros(25, dtype=np.int64)
    anchor = np.zeros(25, dtype=np.int64)   # course joint whose posed position is q_j
    stretch_bone = np.full(25, -1)          # bone (index of its child joint) to stretch along
    for mj, cj in enumerate(m2c):
        if cj == 0:                          # wrist: palm, rigid
            driver[mj], anchor[mj] = 0, 0
        elif cj < 0:                         # finger metacarpal: palm, stretched W -> X0
            x0 = m2c[mj + 1]
            driver[mj], anchor[mj], stretch_bone[mj] = 0, 0, x0
        else:
            is_tip = hm.FINGERS[hm.FINGER_NAMES[(cj - 1) // 4]][3] == cj
            driver[mj] = hm.PARENTS[cj] if is_tip else cj
            anchor[mj] = cj
            stretch_bone[mj] = -1 if is_tip else cj + 1
    return SimpleNamespace(vertices=z["vertices"].astype(np.float64),
                           triangles=z["triangles"].astype(np.int64),
                           skin_joints=z["skin_joints"].astype(np.int64),
                           skin_weights=z["skin_weights"].astype(np.float64),
                           mesh_joints=z["mesh_joints"].astype(np.float64),
                           mesh_to_course=m2c, driver=driver, anchor=anchor,
                           stretch_bone=stretch_bone, forearm=z["forearm"].astype(bool))


def skin(params, bone_lengths=None, side: str = "right"):
    """Pose the mesh (one pose).

    Args:
      params: (26,) pose parameters; bone_lengths: (20,) mm or None; side: right/left.
    Returns:
      (vertices (V, 3) camera frame mm, triangles (F, 3) counter-clockwise seen from
      outside in the camera frame, joints (21, 3) camera frame mm).
    """
    mesh = load_mesh()
    rm = hm.rest_model()
    bl = hm.default_bone_lengths() if bone_lengths is None else np.asarray(bone_lengths, float)
    joints, rots = hm.forward_kinematics(params, bl, side=side, return_rotations=True)
    # per mesh joint: A (25,3,3), rest pivot p (25,3), posed position q (25,3)
    ratio = bl / rm.bone_lengths                              # (20,)
    A = rots[mesh.driver].copy()
    p = mesh.mesh_joints.copy()
    sign = np.array([-1.0 if side == "left" else 1.0, 1.0, 1.0])
    has = mesh.stretch_bone >= 0
    if np.any(np.abs(ratio - 1) > 1e-9):
        u = rm.bone_dirs[mesh.stretch_bone[has]]             # rest directions, right hand
        r = ratio[mesh.stretch_bone[has] - 1]
        S = np.eye(3) + (r - 1)[:, None, None] * u[:, :, None] * u[:, None, :]
        S = S * sign[:, None] * sign[None, :]                 # mirror for the left hand
        A[has] = A[has] @ S
    # rest pivots in the (possibly mirrored) canonical frame; metacarpals pivot at W
    p = p * sign
    p[mesh.mesh_to_course < 0] = 0.0
    q = joints[mesh.anchor]
    q[mesh.mesh_to_course < 0] = joints[0]
    verts = mesh.vertices * sign                              # (V, 3)
    J, W = mesh.skin_joints, mesh.skin_weights                # (V, 4)
    local = verts[:, None, :] - p[J]                          # (V, 4, 3)
    moved = np.einsum("vkij,vkj->vki", A[J], local) + q[J]    # (V, 4, 3)
    out = np.einsum("vk,vki->vi", W, moved)
    tris = mesh.triangles if side == "right" else mesh.triangles[:, ::-1]
    return out, tris, joints
