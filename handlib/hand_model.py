"""The hand model: 21 joints, their skeleton, 26-DoF forward kinematics, joint limits.

Introduced in ``notebooks/00_course_overview.ipynb``; used by every later notebook.

Conventions
-----------
* **Joints** follow the Max Planck data sets (GANerated, SynthHands, RealHands) and
  MediaPipe: ``W, T0 T1 T2 T3, I0..I3, M0..M3, R0..R3, L0..L3`` (wrist, then thumb, index,
  middle, ring, little finger, each from base to tip). For the four fingers ``X0`` is the
  MCP knuckle, ``X1`` the PIP, ``X2`` the DIP and ``X3`` the tip; for the thumb ``T0`` is
  the CMC (inside the palm), ``T1`` the MCP, ``T2`` the IP and ``T3`` the tip.
* **Canonical hand frame** (millimetres), the frame of the rest pose: wrist at the origin,
  +y from the wrist towards the middle-finger MCP, +x towards the index/thumb side, +z out
  of the palm (for a right hand). A left hand is the mirror image (x -> -x).
* **Camera frame**: OpenCV's (x right, y down, z forward), millimetres.
* **Pose parameters** (26 numbers, see :data:`DOF_NAMES`): global rotation as a rotation
  vector (axis * angle, radians, 3), global translation of the wrist in millimetres (3),
  then per finger (thumb, index, middle, ring, little) flexion and abduction at the base
  joint, flexion at the middle joint, flexion at the last joint (radians, 4 x 5 = 20).
  All zero = the rest pose, with the wrist at the camera centre.
  Positive flexion curls a finger towards the palm; positive abduction moves a finger
  towards the thumb side (the thumb: towards the palm, "palmar abduction").
* The rest pose and default bone lengths come from the course's hand mesh
  (``data/hand_mesh.npz``), so the kinematic model and the rendered mesh are one hand.

One implementation serves NumPy and TensorFlow: :func:`forward_kinematics` takes NumPy
arrays, :func:`forward_kinematics_tf` takes tensors and is differentiable.
"""
from __future__ import annotations

import functools
from types import SimpleNamespace

import numpy as np

from handlib import backend, files

# --------------------------------------------------------------------------- joints
JOINT_NAMES = ["W"] + [f"{f}{k}" for f in "TIMRL" for k in range(4)]
"""The 21 joint names, in data set order."""
NUM_JOINTS = 21
FINGER_NAMES = ["thumb", "index", "middle", "ring", "little"]
FINGERS = {name: [1 + 4 * i + k for k in range(4)] for i, name in enumerate(FINGER_NAMES)}
"""Finger name -> its four joint indices, base to tip."""
PARENTS = [-1] + [0 if k == 0 else 1 + 4 * i + k - 1 for i in range(5) for k in range(4)]
"""Parent joint of each joint (-1 for the wrist)."""
BONES = [(PARENTS[j], j) for j in range(1, NUM_JOINTS)]
"""The 20 bones as (parent, child) pairs; bone ``j - 1`` ends at joint ``j``."""
ROOT_JOINT = 0          # the wrist: root of the kinematic tree
NORM_ROOT_JOINT = 9     # M0: origin of the data sets' normalised 3D
NORM_BONE = (0, 9)      # W-M0: the bone that has length 1 after normalisation
FINGER_COLORS = {"palm": "#7f7f7f", "thumb": "#e41a1c", "index": "#ff7f00",
                 "middle": "#4daf4a", "ring": "#377eb8", "little": "#984ea3"}

# ------------------------------------------------------------------ degrees of freedom
_FINGER_DOFS = ["base_flex", "base_abd", "mid_flex", "tip_flex"]
DOF_NAMES = (["rot_x", "rot_y", "rot_z", "trans_x", "trans_y", "trans_z"]
             + [f"{f}_{d}" for f in FINGER_NAMES for d in _FINGER_DOFS])
"""Names of the 26 pose parameters."""
NUM_DOF = 26


_PART = {"thumb": ["CMC", "MCP", "IP", "tip"]}


def joint_label(j: int) -> str:
    """A readable name for joint ``j`` (0-20): ``"8 I3: index tip"``."""
    if j == ROOT_JOINT:
        return "0 W: wrist"
    finger = FINGER_NAMES[(j - 1) // 4]
    part = _PART.get(finger, ["MCP", "PIP", "DIP", "tip"])[(j - 1) % 4]
    return f"{j} {JOINT_NAMES[j]}: {finger} {part}"


def dof_index(name: str) -> int:
    """Index of a pose parameter by name, e.g. ``dof_index("index_mid_flex") == 12``."""
    return DOF_NAMES.index(name)


# Anatomical limits in degrees, relative to the rest pose (columns: low, high).
# Sources: typical active ranges of motion (e.g. Hume et al. 1990; Lee & Kunii 1995),
# rounded; the rest pose of the mesh is a nearly flat hand.
_FINGER_LIMITS_DEG = {
    #          base_flex    base_abd     mid_flex    tip_flex
    "thumb":  [(-20, 50),  (-15, 45),  (-10, 65),  (-15, 80)],
    "index":  [(-25, 90),  (-12, 22),  (0, 110),   (-5, 85)],
    "middle": [(-25, 90),  (-15, 15),  (0, 110),   (-5, 85)],
    "ring":   [(-25, 90),  (-20, 12),  (0, 110),   (-5, 85)],
    "little": [(-30, 90),  (-30, 12),  (0, 110),   (-5, 85)],
}
JOINT_LIMITS = np.array(
    [(-np.inf, np.inf)] * 6
    + [np.deg2rad(lim) for f in FINGER_NAMES for lim in _FINGER_LIMITS_DEG[f]],
    dtype=np.float64)
"""(26, 2) lower and upper limit of each pose parameter (radians; global DoFs unbounded)."""


def clip_to_limits(params: np.ndarray) -> np.ndarray:
    """Clip pose parameters (..., 26) to :data:`JOINT_LIMITS`."""
    return np.clip(params, JOINT_LIMITS[:, 0], JOINT_LIMITS[:, 1])


# ------------------------------------------------------------------------- rest pose
@functools.lru_cache(maxsize=1)
def rest_model() -> SimpleNamespace:
    """The rest pose and the fixed axes of the kinematic model, derived from the mesh.

    Returns a namespace with
      ``joints``      (21, 3) rest joints in the canonical frame, mm;
      ``bone_dirs``   (21, 3) unit direction of the bone ending at each joint (row 0 unused);
      ``bone_lengths``(20,)   default bone lengths in mm (bone j-1 ends at joint j);
      ``flex_axes``   (21, 3) flexion axis of the joint at the start of each finger bone,
                      indexed by that joint (rows of W and tips unused);
      ``abd_axes``    (5, 3)  abduction axis of each finger's base joint.
    """
    joints = files.load_npz(files.data_file("hand_mesh.npz"),
                            {"rest_joints": (21, 3)})["rest_joints"].astype(np.float64)
    bone_vec = np.zeros((21, 3))
    for p, c in BONES:
        bone_vec[c] = joints[c] - joints[p]
    lengths = np.linalg.norm(bone_vec[1:], axis=1)
    bone_dirs = np.zeros((21, 3))
    bone_dirs[1:] = bone_vec[1:] / lengths[:, None]

    z = np.array([0.0, 0.0, 1.0])
    palm_centre = joints[[0, 5, 17]].mean(axis=0)
    flex_axes = np.zeros((21, 3))
    abd_axes = np.zeros((5, 3))
    for i, name in enumerate(FINGER_NAMES):
        j = FINGERS[name]
        for k in range(3):                        # joints j[0], j[1], j[2] rotate
            d = bone_dirs[j[k + 1]]               # direction of the bone they move
            # palmar direction: the way the bone curls. Fingers curl out of the palm
            # plane (+z); the thumb curls towards the centre of the palm.
            towards = palm_centre - joints[j[k]] if name == "thumb" else z
            p = towards - np.dot(towards, d) * d
            p /= np.linalg.norm(p)
            flex_axes[j[k]] = np.cross(d, p)      # rotating d about d x p moves it to p
            if k == 0:
                abd_axes[i] = -p                  # rotating d about -p moves it to +flex axis
    return SimpleNamespace(joints=joints, bone_dirs=bone_dirs, bone_lengths=lengths,
                           flex_axes=flex_axes, abd_axes=abd_axes)


def default_bone_lengths(scale: float = 1.0) -> np.ndarray:
    """Default adult bone lengths (20,) in mm, times ``scale`` (1.0 = the mesh's hand,
    about 180 mm from wrist to middle fingertip)."""
    return rest_model().bone_lengths * float(scale)


# --------------------------------------------------------------------- array backends
_NP = backend.NP
_tf_backend = backend.TF


def _axis_angle_matrix(xp, axis, angle):
    """Rotation matrices (..., 3, 3) about fixed unit ``axis`` (3,) by ``angle`` (...)."""
    kx, ky, kz = (float(a) for a in axis)
    K = np.array([[0, -kz, ky], [kz, 0, -kx], [-ky, kx, 0]])
    K2 = K @ K
    s = xp.sin(angle)[..., None, None]
    c = (1.0 - xp.cos(angle))[..., None, None]
    eye = xp.const(np.eye(3), angle)
    return eye + s * xp.const(K, angle) + c * xp.const(K2, angle)


def _rotvec_matrix(xp, rotvec):
    """Rodrigues: rotation vectors (..., 3) -> matrices (..., 3, 3); smooth at zero."""
    theta = xp.sqrt(xp.sum(rotvec * rotvec, axis=-1) + 1e-20)
    k = rotvec / theta[..., None]
    kx, ky, kz = k[..., 0], k[..., 1], k[..., 2]
    zero = kx * 0.0
    K = xp.stack([xp.stack([zero, -kz, ky], -1), xp.stack([kz, zero, -kx], -1),
                  xp.stack([-ky, kx, zero], -1)], -2)
    K2 = xp.einsum("...ij,...jk->...ik", K, K)
    s = xp.sin(theta)[..., None, None]
    c = (1.0 - xp.cos(theta))[..., None, None]
    return xp.const(np.eye(3), rotvec) + s * K + c * K2


def rotation_matrix(rotvec):
    """Rotation vectors (..., 3) in radians -> rotation matrices (..., 3, 3) (NumPy)."""
    return _rotvec_matrix(_NP, np.asarray(rotvec, dtype=np.float64))


def rotation_vector(R) -> np.ndarray:
    """Rotation matrices (..., 3, 3) -> rotation vectors (..., 3), angle in [0, pi].

    The inverse of :func:`rotation_matrix` (its logarithm map), computed from the
    quaternion of ``R`` (stable near 0 and pi).
    """
    R = np.asarray(R, dtype=np.float64)
    if R.shape[-2:] != (3, 3):
        raise ValueError(f"R must have shape (..., 3, 3), got {R.shape}")
    # quaternion (w, x, y, z) by the largest-diagonal method
    tr = np.trace(R, axis1=-2, axis2=-1)
    d = np.stack([tr, R[..., 0, 0], R[..., 1, 1], R[..., 2, 2]], axis=-1)
    k = d.argmax(axis=-1)
    q = np.empty(R.shape[:-2] + (4,))
    r = lambda i, j: R[..., i, j]  # noqa: E731
    cands = [
        np.stack([1 + tr, r(2, 1) - r(1, 2), r(0, 2) - r(2, 0), r(1, 0) - r(0, 1)], -1),
        np.stack([r(2, 1) - r(1, 2), 1 + 2 * r(0, 0) - tr, r(0, 1) + r(1, 0), r(0, 2) + r(2, 0)], -1),
        np.stack([r(0, 2) - r(2, 0), r(0, 1) + r(1, 0), 1 + 2 * r(1, 1) - tr, r(1, 2) + r(2, 1)], -1),
        np.stack([r(1, 0) - r(0, 1), r(0, 2) + r(2, 0), r(1, 2) + r(2, 1), 1 + 2 * r(2, 2) - tr], -1)]
    for i in range(4):
        q = np.where((k == i)[..., None], cands[i], q)
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    q = np.where(q[..., :1] < 0, -q, q)                     # w >= 0: angle in [0, pi]
    s = np.linalg.norm(q[..., 1:], axis=-1)
    angle = 2 * np.arctan2(s, q[..., 0])
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.where(s > 1e-12, angle / np.where(s > 0, s, 1.0), 2.0)
    return q[..., 1:] * factor[..., None]


def axis_rotation(axis: str, degrees: float) -> np.ndarray:
    """The 3x3 rotation by ``degrees`` about the named axis ("x", "y" or "z")."""
    i = "xyz".index(axis)
    v = np.zeros(3)
    v[i] = np.deg2rad(degrees)
    return rotation_matrix(v)


def _fk(xp, params, bone_lengths, side_sign):
    """Shared forward kinematics. Returns (joints (..., 21, 3) camera mm,
    rotations (..., 21, 3, 3) camera frame, canonical joints (..., 21, 3))."""
    rm = rest_model()
    mv = lambda R, v: xp.einsum("...ij,j->...i", R, xp.const(v, params))  # noqa: E731
    mm = lambda A, B: xp.einsum("...ij,...jk->...ik", A, B)                # noqa: E731
    eye = xp.const(np.eye(3), params) + params[..., 0, None, None] * 0.0
    joints = [None] * 21
    rots = [None] * 21
    joints[0] = params[..., 0:3] * 0.0
    rots[0] = eye
    for i, name in enumerate(FINGER_NAMES):
        j = FINGERS[name]
        a = params[..., 6 + 4 * i: 10 + 4 * i]
        base = joints[0] + bone_lengths[..., j[0] - 1, None] * xp.const(rm.bone_dirs[j[0]], params)
        g = mm(_axis_angle_matrix(xp, rm.abd_axes[i], a[..., 1]),
               _axis_angle_matrix(xp, rm.flex_axes[j[0]], a[..., 0]))
        joints[j[0]], rots[j[0]] = base, g
        for k in range(1, 4):
            c = j[k]
            joints[c] = joints[j[k - 1]] + bone_lengths[..., c - 1, None] * mv(g, rm.bone_dirs[c])
            if k < 3:
                g = mm(g, _axis_angle_matrix(xp, rm.flex_axes[c], a[..., 1 + k]))
            rots[c] = g
    canon = xp.stack(joints, -2)
    rot = xp.stack(rots, -3)
    if side_sign < 0:                      # left hand: mirror x in the hand frame
        m = xp.const(np.diag([-1.0, 1.0, 1.0]), params)
        canon = canon * xp.const(np.array([-1.0, 1.0, 1.0]), params)
        rot = xp.einsum("ij,...jk,kl->...il", m, rot, m)
    R = _rotvec_matrix(xp, params[..., 0:3])
    cam = xp.einsum("...ij,...nj->...ni", R, canon) + params[..., None, 3:6]
    rot_cam = xp.einsum("...ij,...njk->...nik", R, rot)
    return cam, rot_cam, canon


def _side_sign(side: str) -> int:
    if side not in ("right", "left"):
        raise ValueError(f"side must be 'right' or 'left', got {side!r}")
    return 1 if side == "right" else -1


def forward_kinematics(params, bone_lengths=None, side: str = "right",
                       return_rotations: bool = False):
    """Joint positions from pose parameters (NumPy, vectorised over any leading axes).

    Args:
      params: (..., 26) pose parameters (see module docstring; radians and mm).
      bone_lengths: (..., 20) or (20,) bone lengths in mm; default :func:`default_bone_lengths`.
      side: ``"right"`` or ``"left"``.
      return_rotations: also return each joint's rotation (..., 21, 3, 3) from the
        canonical frame to the camera frame (used by the mesh skinning).

    Returns:
      (..., 21, 3) joint positions in the camera frame, mm.
    """
    params = np.asarray(params, dtype=np.float64)
    if params.shape[-1] != NUM_DOF:
        raise ValueError(f"params must end in {NUM_DOF} values, got shape {params.shape}")
    bl = default_bone_lengths() if bone_lengths is None else np.asarray(bone_lengths, np.float64)
    cam, rot, _ = _fk(_NP, params, bl, _side_sign(side))
    return (cam, rot) if return_rotations else cam


def forward_kinematics_tf(params, bone_lengths=None, side: str = "right"):
    """TensorFlow version of :func:`forward_kinematics` (differentiable; float32 or 64).

    Args:
      params: (..., 26) tensor. bone_lengths: (..., 20) or (20,) tensor, mm.
    Returns:
      (..., 21, 3) tensor, camera frame, mm.
    """
    tf = backend.tensorflow()
    params = tf.convert_to_tensor(params)
    if bone_lengths is None:
        bone_lengths = default_bone_lengths()
    bl = tf.cast(tf.convert_to_tensor(bone_lengths), params.dtype)
    cam, _, _ = _fk(_tf_backend(), params, bl, _side_sign(side))
    return cam


def rest_pose(bone_lengths=None, side: str = "right") -> np.ndarray:
    """(21, 3) joints of the rest pose (all parameters zero), mm."""
    return forward_kinematics(np.zeros(NUM_DOF), bone_lengths, side)


# -------------------------------------------------------------- normalisation, mirror
def _joints_array(joints, name: str = "joints") -> np.ndarray:
    """``joints`` as float64, checked to be (..., 21, 3)."""
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim < 2 or joints.shape[-2:] != (NUM_JOINTS, 3):
        raise ValueError(f"{name} must have shape (..., 21, 3), got {joints.shape}")
    return joints


def normalise(joints):
    """The data sets' root-relative normalisation.

    Args: joints (..., 21, 3) in any metric frame (mm).
    Returns: (normalised (..., 21, 3) with M0 at the origin and |W - M0| = 1,
      root (..., 3) the M0 position, scale (...) the W-M0 length in input units).
    Normalising commutes with rotations and reflections: ``normalise(X @ R.T)[0] ==
    normalise(X)[0] @ R.T``, which is why a crop camera can rotate normalised targets.
    """
    joints = _joints_array(joints)
    root = joints[..., NORM_ROOT_JOINT, :]
    scale = np.linalg.norm(joints[..., NORM_BONE[0], :] - joints[..., NORM_BONE[1], :], axis=-1)
    if np.any(scale <= 0) or not np.all(np.isfinite(scale)):
        raise ValueError("normalise: the W-M0 bone has zero or non-finite length")
    return (joints - root[..., None, :]) / scale[..., None, None], root, scale


def denormalise(normalised, root, scale):
    """Inverse of :func:`normalise`: (..., 21, 3), (..., 3), (...) -> (..., 21, 3)."""
    normalised = _joints_array(normalised, "normalised")
    return normalised * np.asarray(scale)[..., None, None] + np.asarray(root)[..., None, :]


def mirror(joints):
    """Mirror 3D joints (..., 21, 3) in their frame's x: a right hand becomes a left one.

    In a *crop camera* (:mod:`handlib.crop_camera`, principal point at the crop's centre)
    this is exactly what flipping the crop image left-right does to the joints; in the
    full camera it is not (an image flip maps u to W-1-u, a mirror in x maps u to
    2 cx - u). Images and labels are flipped together by ``Crop(..., flip=True)``.
    """
    return _joints_array(joints) * np.array([-1.0, 1.0, 1.0])


def mirror_params(params) -> np.ndarray:
    """Pose parameters (..., 26) of the mirror image of a hand: camera x negated.

    ``forward_kinematics(mirror_params(p), side=other) == mirror(forward_kinematics(p,
    side=side))``: a left hand with parameters ``p`` is the mirror image of a right hand
    with rotation vector (rx, -ry, -rz), translation (-tx, ty, tz) and the same finger
    angles (for a reflection M, M R(r) M = R(-M r)).
    """
    p = np.array(params, dtype=np.float64)
    if p.shape[-1] != NUM_DOF:
        raise ValueError(f"params must end in {NUM_DOF} values, got shape {p.shape}")
    p[..., 1:4] *= -1.0           # ry, rz and tx
    return p


def handedness(joints) -> np.ndarray:
    """Which hand (..., 21, 3) joints are, from their geometry alone: +1 right, -1 left.

    The sign of det[I0 - W, L0 - W, T0 - W]: the thumb's base (T0, the CMC) sits in front
    of the plane of the wrist and the knuckles, on the palm's side (in the rest pose of
    ``data/hand_mesh.npz``, as anatomically), and
    finger angles never move these four joints. A rotation keeps the sign; a mirror
    (a left hand) turns it round. Degenerate joints (the four in one plane) give 0.
    """
    j = _joints_array(joints)
    w = j[..., 0, :]
    m = np.stack([j[..., 5, :] - w, j[..., 17, :] - w, j[..., 1, :] - w], axis=-1)
    return np.sign(np.linalg.det(m))


def bone_lengths_of(joints) -> np.ndarray:
    """Lengths (..., 20) of the 20 bones of joints (..., 21, 3)."""
    joints = _joints_array(joints)
    p = [b[0] for b in BONES]
    c = [b[1] for b in BONES]
    return np.linalg.norm(joints[..., c, :] - joints[..., p, :], axis=-1)


# ------------------------------------------------------------------------ named poses
def _finger_pose(**fingers) -> np.ndarray:
    """Build a (26,) parameter vector from per-finger degrees: name=(flex, abd, mid, tip)."""
    p = np.zeros(NUM_DOF)
    for name, vals in fingers.items():
        i = FINGER_NAMES.index(name)
        p[6 + 4 * i: 10 + 4 * i] = np.deg2rad(vals)
    return p


# Thumb angles of "pinch" and "ok" were found by a small search that brings the thumb tip
# to the index tip (within ~13 mm and ~1 mm centre to centre).
_CURLED = (80, 0, 100, 60)
NAMED_POSES = {
    "open": _finger_pose(index=(0, 8, 0, 0), middle=(0, 0, 0, 0), ring=(0, -8, 0, 0),
                         little=(0, -18, 0, 0), thumb=(0, 5, 0, 0)),
    "fist": _finger_pose(thumb=(35, 25, 45, 45), index=_CURLED, middle=_CURLED,
                         ring=_CURLED, little=_CURLED),
    "point": _finger_pose(thumb=(35, 25, 45, 45), index=(0, 0, 0, 0), middle=_CURLED,
                          ring=_CURLED, little=_CURLED),
    "pinch": _finger_pose(thumb=(25, 29, 0, 10), index=(45, 0, 45, 30),
                          middle=(10, 0, 10, 5), ring=(15, -5, 15, 10), little=(20, -10, 20, 10)),
    "ok": _finger_pose(thumb=(22, 33, 0, 10), index=(50, 0, 60, 30),
                       middle=(5, 0, 5, 0), ring=(5, -8, 5, 0), little=(5, -18, 5, 0)),
    "peace": _finger_pose(thumb=(35, 25, 45, 45), index=(0, 12, 0, 0), middle=(0, -10, 0, 0),
                          ring=_CURLED, little=_CURLED),
    "thumbs_up": _finger_pose(thumb=(-15, -10, -5, 0), index=_CURLED, middle=_CURLED,
                              ring=_CURLED, little=_CURLED),
}
"""Finger articulations (26,) of demo poses, global rotation and translation zero."""


def named_pose(name: str) -> np.ndarray:
    """A copy of a named pose's parameters (26,); see :data:`NAMED_POSES`."""
    if name not in NAMED_POSES:
        raise KeyError(f"unknown pose {name!r}; known: {sorted(NAMED_POSES)}")
    return NAMED_POSES[name].copy()


def default_view_pose(name: str = "open", distance_mm: float = 450.0) -> np.ndarray:
    """Pose parameters (26,) of a named pose, palm towards the camera, fingers up,
    wrist ``distance_mm`` in front of the camera and a little below its centre."""
    p = named_pose(name)
    p[0:3] = [np.pi, 0.0, 0.0]       # hand frame +z (palm) -> camera -z; +y -> camera -y
    p[3:6] = [0.0, 80.0, distance_mm]
    return p


def rotate_view(params, R_view, pivot_joint: int = NORM_ROOT_JOINT) -> np.ndarray:
    """Turn a posed hand by the rotation ``R_view`` (3x3, camera frame) about one of its
    joints (default M0), keeping that joint where it is. Returns new params (26,)."""
    p = np.array(params, dtype=np.float64)
    pivot = forward_kinematics(p)[pivot_joint]
    R = np.asarray(R_view, dtype=np.float64) @ rotation_matrix(p[0:3])
    p[0:3] = rotation_vector(R)
    # the wrist moves with the rotation about the pivot
    p[3:6] = pivot + R_view @ (p[3:6] - pivot)
    return p


# ---------------------------------------------------------------------------- sampling
def sample_articulations(rng: np.random.Generator, n: int) -> np.ndarray:
    """Anatomically plausible finger articulations (n, 26) (global part zero).

    Real fingers do not move independently: a grasp curls all fingers together, the
    ring and little fingers are mechanically coupled, and the DIP flexes about 2/3 as
    much as the PIP. Each sample mixes a shared "grasp" level, per-finger curls
    correlated with their neighbours, a spread level, and a little independent noise;
    a quarter of the samples start from a named pose instead. All values are clipped to
    :data:`JOINT_LIMITS`.
    """
    out = np.zeros((n, NUM_DOF))
    lo, hi = JOINT_LIMITS[6:, 0], JOINT_LIMITS[6:, 1]
    grasp = rng.beta(0.7, 0.9, size=n)                          # 0 open ... 1 fist
    neighbour = rng.normal(size=(n, 5))
    # correlation between neighbouring fingers (ring and little most coupled)
    curls = np.empty((n, 5))
    curls[:, 0] = neighbour[:, 0]
    for f, rho in zip(range(1, 5), (0.3, 0.6, 0.8, 0.9)):
        curls[:, f] = rho * curls[:, f - 1] + np.sqrt(1 - rho ** 2) * neighbour[:, f]
    curl = np.clip(grasp[:, None] + 0.35 * curls, 0.0, 1.0)      # (n, 5) in [0, 1]
    spread = rng.uniform(-0.3, 1.0, size=n) * (1.0 - grasp)      # spread when open
    for i in range(5):
        s = slice(6 + 4 * i, 10 + 4 * i)
        l, h = JOINT_LIMITS[s, 0], JOINT_LIMITS[s, 1]
        c = curl[:, i]
        out[:, s.start + 0] = l[0] * 0.3 * (1 - c) + c * h[0] * rng.uniform(0.6, 1.0, n)
        out[:, s.start + 2] = c * h[2] * rng.uniform(0.6, 1.0, n)
        out[:, s.start + 3] = out[:, s.start + 2] * rng.uniform(0.5, 0.8, n)
        # spread: index towards thumb, ring/little away from it, middle a little
        direction = {0: 0.6, 1: 1.0, 2: 0.0, 3: -0.6, 4: -1.0}[i]
        span = h[1] if direction > 0 else -l[1]
        out[:, s.start + 1] = direction * spread * span + rng.normal(0, np.deg2rad(3), n)
    # a quarter start from named poses
    names = list(NAMED_POSES)
    pick = rng.random(n) < 0.25
    if pick.any():
        chosen = rng.integers(0, len(names), size=pick.sum())
        base = np.stack([NAMED_POSES[names[c]] for c in chosen])
        out[pick, 6:] = base[:, 6:]
    out[:, 6:] += rng.normal(0, np.deg2rad(4), size=(n, 20))
    out[:, 6:] = np.clip(out[:, 6:], lo, hi)
    return out


def random_rotations(rng: np.random.Generator, n: int) -> np.ndarray:
    """Rotation vectors (n, 3) uniformly distributed over SO(3) (palm, back, side views)."""
    q = rng.normal(size=(n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    q[q[:, 0] < 0] *= -1
    angle = 2 * np.arccos(np.clip(q[:, 0], -1, 1))
    s = np.sqrt(np.maximum(1 - q[:, 0] ** 2, 1e-12))
    return q[:, 1:] / s[:, None] * angle[:, None]
