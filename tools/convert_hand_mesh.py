"""Convert the WebXR generic hand (glTF binary) into the course's compact mesh file.

Run once by a maintainer; the result, ``data/hand_mesh.npz``, is committed with its
licence (``data/hand_mesh.LICENSE.txt``) so that no user ever needs npm or a network::

    npm pack @webxr-input-profiles/assets@1.0.20        # MIT licence, (c) 2019 Amazon
    tar xzf webxr-input-profiles-assets-1.0.20.tgz
    python tools/convert_hand_mesh.py package/dist/profiles/generic-hand/right.glb

What the script does
--------------------
1. Parses the GLB container (a JSON chunk and a binary chunk) with NumPy only.
2. Reads positions, triangles and the 25-joint skin (joint indices and weights per vertex)
   and the bind pose (from the inverse bind matrices).
3. Expresses everything in the course's *canonical hand frame* (millimetres): wrist at
   the origin, +y from the wrist to the middle-finger MCP, +x towards the index/thumb
   side, +z out of the palm. This is the frame in which ``handlib.hand_model`` defines
   its rest pose, so the mesh and the kinematic model are the same hand by construction.
4. Maps the 25 WebXR joints onto the course's 21 joints (the finger metacarpal joints
   stay inside the palm; see ``MESH_TO_COURSE`` below).
5. Adds a forearm (:func:`add_forearm`): the WebXR hand ends in a flat cap at the wrist,
   visible in many views, while real photos show an arm. The cap's faces are removed,
   the opening's rim is extruded away from the hand (-y) in rings that widen a little
   towards the elbow, and the far end is closed; the new vertices follow the wrist.

Only the right hand is converted; the left hand is its mirror image (``handlib`` mirrors
x and flips the triangle winding).
"""
from __future__ import annotations

import json
import os
import struct
import sys

import numpy as np

# WebXR joint names in skin order -> index into the course's 21 joints (or -1 for the
# finger metacarpal joints, which have no course joint: they stay inside the palm).
WEBXR_JOINTS = [
    "wrist",
    "thumb-metacarpal", "thumb-phalanx-proximal", "thumb-phalanx-distal", "thumb-tip",
]
for _f in ("index", "middle", "ring", "pinky"):
    WEBXR_JOINTS += [f"{_f}-finger-metacarpal", f"{_f}-finger-phalanx-proximal",
                     f"{_f}-finger-phalanx-intermediate", f"{_f}-finger-phalanx-distal",
                     f"{_f}-finger-tip"]
# course order: W, T0..T3 (CMC, MCP, IP, tip), I0..I3 (MCP, PIP, DIP, tip), M, R, L
MESH_TO_COURSE = [0, 1, 2, 3, 4]
for _k in range(4):
    MESH_TO_COURSE += [-1] + [5 + 4 * _k + j for j in range(4)]

_COMPONENT = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16,
              5125: np.uint32, 5126: np.float32}
_NCOMP = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}


def read_glb(path: str) -> tuple[dict, bytes]:
    """Return (json, binary chunk) of a GLB file."""
    with open(path, "rb") as fh:
        blob = fh.read()
    magic, version, _ = struct.unpack("<III", blob[:12])
    if magic != 0x46546C67 or version != 2:
        raise ValueError(f"{path}: not a glTF 2 binary file")
    json_len, _ = struct.unpack("<II", blob[12:20])
    doc = json.loads(blob[20:20 + json_len])
    off = 20 + json_len
    bin_len, _ = struct.unpack("<II", blob[off:off + 8])
    return doc, blob[off + 8: off + 8 + bin_len]


def accessor(doc: dict, binary: bytes, index: int) -> np.ndarray:
    acc = doc["accessors"][index]
    view = doc["bufferViews"][acc["bufferView"]]
    dtype = np.dtype(_COMPONENT[acc["componentType"]])
    n = _NCOMP[acc["type"]]
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    stride = view.get("byteStride", dtype.itemsize * n)
    if stride != dtype.itemsize * n:
        raise NotImplementedError("interleaved buffers are not used by this asset")
    arr = np.frombuffer(binary, dtype=dtype, count=acc["count"] * n, offset=start)
    return arr.reshape(acc["count"], n) if n > 1 else arr


def convert(glb_path: str) -> dict[str, np.ndarray]:
    doc, binary = read_glb(glb_path)
    prim = doc["meshes"][0]["primitives"][0]
    attrs = prim["attributes"]
    pos = accessor(doc, binary, attrs["POSITION"]).astype(np.float64)
    tris = accessor(doc, binary, prim["indices"]).astype(np.int32).reshape(-1, 3)
    jidx = accessor(doc, binary, attrs["JOINTS_0"]).astype(np.int32)
    wts = accessor(doc, binary, attrs["WEIGHTS_0"]).astype(np.float64)
    skin = doc["skins"][0]
    names = [doc["nodes"][j]["name"] for j in skin["joints"]]
    if names != WEBXR_JOINTS:
        raise ValueError(f"unexpected joint names: {names}")
    ibm = accessor(doc, binary, skin["inverseBindMatrices"]).reshape(-1, 4, 4)
    # glTF stores matrices column-major: transpose to row-major
    bind = np.linalg.inv(np.transpose(ibm, (0, 2, 1)).astype(np.float64))
    joints25 = bind[:, :3, 3]                       # metres, mesh frame
    wts = wts / wts.sum(axis=1, keepdims=True)

    j21 = np.zeros((21, 3))
    for mesh_j, course_j in enumerate(MESH_TO_COURSE):
        if course_j >= 0:
            j21[course_j] = joints25[mesh_j]
    # canonical frame: origin wrist, y -> M0, x -> index side, z out of the palm
    wrist, m0, i0, l0 = j21[0], j21[9], j21[5], j21[17]
    y = (m0 - wrist) / np.linalg.norm(m0 - wrist)
    x = (i0 - l0) - np.dot(i0 - l0, y) * y
    x /= np.linalg.norm(x)
    z = np.cross(x, y)
    rot = np.stack([x, y, z])                        # rows: new axes in old coordinates

    def to_canon(p):
        return (p - wrist) @ rot.T * 1000.0          # metres -> millimetres

    verts, tris, jidx, wts, forearm = add_forearm(to_canon(pos), tris, jidx, wts)
    return {
        "vertices": verts.astype(np.float32),                 # (V, 3) mm, canonical
        "triangles": tris,                                     # (F, 3) counter-clockwise
        "skin_joints": jidx,                                   # (V, 4) into the 25 mesh joints
        "skin_weights": wts.astype(np.float32),                # (V, 4) rows sum to 1
        "forearm": forearm,                                    # (V,) bool: added by add_forearm
        "mesh_joints": to_canon(joints25).astype(np.float32),  # (25, 3) mm
        "mesh_joint_names": np.array(WEBXR_JOINTS),
        "mesh_to_course": np.array(MESH_TO_COURSE, dtype=np.int32),
        "rest_joints": to_canon(j21).astype(np.float32),       # (21, 3) mm
    }


FOREARM_LENGTH = 160.0     # mm from the wrist's rim to the closed end
FOREARM_RINGS = 6
FOREARM_WIDENING = 1.15    # the far ring's size relative to the wrist's rim


def _weld(verts: np.ndarray) -> np.ndarray:
    """Index of a representative vertex for each vertex (duplicates at seams share one)."""
    _, first, inv = np.unique(np.round(verts, 4), axis=0, return_index=True, return_inverse=True)
    return first[inv.ravel()]


def add_forearm(verts, tris, jidx, wts):
    """Replace the wrist's cap by a forearm tube (see the module docstring).

    Args: verts (V, 3) mm in the canonical frame (+y towards the fingers), tris (F, 3)
    counter-clockwise seen from outside, skin joints/weights (V, 4). Returns the four
    arrays extended, and a (V',) bool mask of the forearm's vertices; forearm vertices
    are skinned to the wrist (mesh joint 0) only. The result is a closed surface.
    """
    rep = _weld(verts)
    wt = rep[tris]                                         # triangles on welded vertices
    a, b, c = (verts[wt[:, k]] for k in range(3))
    normal = np.cross(b - a, c - a)
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    centroid_y = (a[:, 1] + b[:, 1] + c[:, 1]) / 3
    cap = (normal[:, 1] < -0.7) & (centroid_y < verts[:, 1].min() + 12.0)
    keep = ~cap
    # directed boundary edges of what is left (an edge used once, in the direction a
    # remaining triangle walks it)
    edges = {}
    for t in wt[keep]:
        for u, v in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])):
            edges[(u, v)] = edges.get((u, v), 0) + 1
    boundary = {u: v for (u, v) in edges if (v, u) not in edges}
    if not boundary:
        raise ValueError("no wrist cap found: is this the WebXR generic hand?")
    start = next(iter(boundary))
    loop, cur = [start], boundary[start]
    while cur != start:
        loop.append(cur)
        cur = boundary[cur]
    if len(loop) != len(boundary):
        raise ValueError(f"the wrist opening is not one loop ({len(loop)} of {len(boundary)} edges)")
    rim = verts[loop]
    centre = rim.mean(axis=0)
    y_end = rim[:, 1].min() - FOREARM_LENGTH
    new_verts, rings = [], [np.array(loop)]
    n0 = len(verts)
    for k in range(1, FOREARM_RINGS + 1):
        f = k / FOREARM_RINGS
        ring = rim.copy()
        ring[:, [0, 2]] = centre[[0, 2]] + (rim[:, [0, 2]] - centre[[0, 2]]) * (1 + (FOREARM_WIDENING - 1) * f)
        ring[:, 1] = rim[:, 1] * (1 - f) + y_end * f
        rings.append(n0 + (k - 1) * len(loop) + np.arange(len(loop)))
        new_verts.append(ring)
    end_centre = n0 + FOREARM_RINGS * len(loop)
    new_verts = np.concatenate(new_verts + [[[centre[0], y_end, centre[2]]]])
    new_tris = []
    n = len(loop)
    for r0, r1 in zip(rings[:-1], rings[1:]):
        for i in range(n):
            j = (i + 1) % n
            # the rim's edge r0[i] -> r0[j] is walked by a hand triangle; walk it back
            new_tris.append([r0[j], r0[i], r1[i]])
            new_tris.append([r0[j], r1[i], r1[j]])
    last = rings[-1]
    for i in range(n):
        new_tris.append([last[(i + 1) % n], last[i], end_centre])
    verts_out = np.concatenate([verts, new_verts])
    tris_out = np.concatenate([tris[keep], np.array(new_tris, dtype=tris.dtype)])
    m = len(new_verts)
    jidx_out = np.concatenate([jidx, np.zeros((m, 4), jidx.dtype)])
    wts_out = np.concatenate([wts, np.tile(np.array([[1.0, 0, 0, 0]], wts.dtype), (m, 1))])
    return verts_out, tris_out, jidx_out, wts_out, np.arange(len(verts_out)) >= n0


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__)
        return 2
    out = argv[2] if len(argv) > 2 else os.path.join(
        os.path.dirname(__file__), "..", "data", "hand_mesh.npz")
    arrays = convert(argv[1])
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from handlib import files                      # atomic write, usual permissions
    with files.atomic_path(out) as tmp:
        np.savez_compressed(tmp, **arrays)
    print(f"wrote {out}: {len(arrays['vertices'])} vertices, "
          f"{len(arrays['triangles'])} triangles")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
