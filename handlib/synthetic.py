"""The rendered data set engine: poses, looks, backgrounds, one labelled frame at a time.

Introduced in ``notebooks/01_dataset_preparation.ipynb``.

A frame is described by a :class:`Scene` (pose, hand side and size, skin tone, lights,
look, background), sampled by :func:`sample_scene` from a seeded generator, and turned
into images and labels by :func:`render_frame`:

* the hand model poses the rigged mesh (:mod:`handlib.hand_mesh`), so the 21 labelled
  joints and the pixels agree by construction;
* the crop is stored as the GANerated data set stores it (an affine, unrotated square
  box around the hand in the 640x480 image of the GANerated camera, resized to 256x256;
  the course's one box rule, :func:`handlib.crop_camera.crop_from_joints`), and the mesh
  is rendered straight into the crop through the crop's intrinsics, so
  ``uv = scale * (project(K, X_global) - [u, v])`` holds exactly;
* two looks: ``synth`` (uniform material, simple lighting: the SynthHands look, the
  GeoConGAN's synthetic domain) and ``real-like`` (a stand-in for real photographs:
  skin colour variation, soft multi-light shading, blur, sensor noise, JPEG).

Frame index ``i`` of a set with seed ``s`` is always rendered from the generator
``np.random.default_rng([s, i])``, so a set can be resumed or regenerated frame by frame.
"""
from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from handlib import camera as cam
from handlib import ganerated, hand_mesh, images, renderer
from handlib import hand_model as hm
from handlib.crop_camera import Crop

LOOKS = ("synth", "real-like")

BACKGROUNDS = ("white", "green", "clutter", "photos")
GREEN_SCREEN = (14, 255, 14)          # SynthHands' green-screen colour (RGB, 0-255)

# Skin tones (sRGB, 0-1) from very light to very dark; sampled by interpolation.
SKIN_TONES = np.array([
    [0.96, 0.80, 0.69], [0.92, 0.72, 0.60], [0.84, 0.62, 0.49],
    [0.72, 0.52, 0.38], [0.56, 0.38, 0.27], [0.40, 0.26, 0.19], [0.29, 0.19, 0.14]])


def skin_tone(t: float) -> np.ndarray:
    """Skin albedo (3,) at ``t`` in [0, 1] along :data:`SKIN_TONES` (0 light, 1 dark)."""
    x = np.clip(t, 0, 1) * (len(SKIN_TONES) - 1)
    i = min(int(x), len(SKIN_TONES) - 2)
    return SKIN_TONES[i] * (1 - (x - i)) + SKIN_TONES[i + 1] * (x - i)


@dataclass
class Scene:
    """Everything needed to render one frame (all JSON-serialisable).

    ``params``: 26 pose parameters (radians, mm; camera frame of the GANerated camera).
    ``side``: "right"/"left". ``hand_scale``: bone-length factor (1 = the mesh's hand).
    ``skin``: skin-tone position in [0, 1]. ``lights``: list of (direction (3,),
    intensity) in the camera frame. ``ambient``: ambient light level.
    ``look``: "synth" or "real-like". ``background``: "white", "green", "clutter" or an
    image path. ``seed``: seed of the per-frame details (textures, noise).
    """

    params: list
    side: str = "right"
    hand_scale: float = 1.0
    skin: float = 0.3
    lights: list = field(default_factory=lambda: [([0.3, 0.5, 1.0], 0.8)])
    ambient: float = 0.35
    look: str = "synth"
    background: str = "white"
    seed: int = 0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["params"] = [float(x) for x in self.params]
        return d


MAX_ARM_TOWARDS_CAMERA = 0.6
"""Views are uniform over all rotations, except those whose forearm points nearly
straight at the camera: the arm's unit direction may have a component of at most 0.6
towards the camera along the optical axis, so arms within 53 degrees (arccos 0.6) of
pointing at it are not sampled (measured against the optical axis, not the ray to the
hand, so off-centre hands get some slack). Such an arm covers its own hand, and people
seldom hold a hand that way in front of a camera. The rejected directions are a cap
of (1 - 0.6) / 2 = a fifth of the sphere, so a fifth of rotations are drawn again."""


def _arm_rotation(rng: np.random.Generator) -> np.ndarray:
    """A rotation vector, uniform over rotations whose forearm (the hand frame's -y)
    does not point at the camera more steeply than :data:`MAX_ARM_TOWARDS_CAMERA`."""
    while True:
        rv = hm.random_rotations(rng, 1)[0]
        if -hm.rotation_matrix(rv)[2, 1] >= -MAX_ARM_TOWARDS_CAMERA:
            return rv


HELD_UP_SPREAD_DEG = {"lean": 30.0, "turn": 45.0, "roll": 35.0}
"""How far a held-up view (:func:`held_up_rotation`) strays from the upright pose, in
degrees, each uniform within +/- its value: ``lean`` about the camera's x axis (fingers
towards or away from the camera), ``turn`` about y (palm towards one side), ``roll``
about z (the hand tipped in the image)."""

PHOTO_VIEWS = {"palm_share": 0.9, "lean_deg": (-20.0, 40.0)}
"""Held-up views as photographs show them (``make-dataset --palm-share 0.9 --lean -20 40``):
MediaPipe's world joints on the 1,485 Sign Language Digits photos outside the scored
subset put the palm towards the camera in 95 % of them and lean the wrist-to-knuckle line
towards the camera by 7 degrees on average (standard deviation 13); on the 1,205 unscored
ASL letter photos 89 % and 13 degrees (26). The even default (half palm, half back, lean
+/-30 degrees) has neither preference. Measured by ``python tools/photo_views.py``
(:func:`handlib.real_evaluation.photo_views`)."""


def _lean_deg(lean) -> tuple[float, float]:
    lo, hi = (float(v) for v in lean)
    if not (-90.0 <= lo <= hi <= 90.0):
        raise ValueError(f"lean must be two angles -90 <= low <= high <= 90 (degrees), got {lean}")
    return lo, hi


def _palm_share(palm_share) -> float:
    if not 0.0 <= float(palm_share) <= 1.0:
        raise ValueError(f"palm_share must be between 0 and 1, got {palm_share}")
    return float(palm_share)


def held_up_rotation(rng: np.random.Generator, side: str, palm_share: float = 0.5,
                     lean=(-30.0, 30.0)) -> np.ndarray:
    """A rotation vector of a hand held up to a camera, as people show a hand: fingers up
    (wrist to M0 along the image's -y, forearm from below), the palm towards the camera
    in a share ``palm_share`` of hands and the back in the others, turned within
    :data:`HELD_UP_SPREAD_DEG` except the lean: uniform between ``lean`` = (low, high)
    degrees, positive tipping the fingers towards the camera (:data:`PHOTO_VIEWS`)."""
    palm_share, (lo, hi) = _palm_share(palm_share), _lean_deg(lean)
    x = hm.forward_kinematics(np.zeros(hm.NUM_DOF), side=side)
    up = x[hm.NORM_ROOT_JOINT] - x[hm.ROOT_JOINT]
    normal = np.cross(x[5] - x[0], x[17] - x[0])
    normal = normal if np.dot(normal, x[1] - x[0]) > 0 else -normal     # the palm's side
    f1 = up / np.linalg.norm(up)
    f3 = normal - np.dot(normal, f1) * f1
    f3 /= np.linalg.norm(f3)
    hand = np.stack([f1, np.cross(f3, f1), f3])
    palm_to_camera = np.array([[0.0, -1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])  # f1 -> -y, f3 -> -z
    R = palm_to_camera.T @ hand
    if rng.random() < 1.0 - palm_share:                   # the back of the hand towards the camera
        R = hm.axis_rotation("y", 180.0) @ R
    spread = HELD_UP_SPREAD_DEG
    # the same draws for every range: (-30, 30) gives exactly the even default's angles
    R = (hm.axis_rotation("z", rng.uniform(-1, 1) * spread["roll"])
         @ hm.axis_rotation("x", (lo + hi) / 2.0 + rng.uniform(-1, 1) * (hi - lo) / 2.0)
         @ hm.axis_rotation("y", rng.uniform(-1, 1) * spread["turn"]) @ R)
    return hm.rotation_vector(R)


def sample_scene(rng: np.random.Generator, look: str = "synth", background: str | None = None,
                 side: str | None = None, articulation=None,
                 intrinsics: cam.Intrinsics = cam.GANERATED, held_up: float = 0.0,
                 palm_share: float = 0.5, lean=(-30.0, 30.0)) -> Scene:
    """Sample a plausible scene.

    Poses: :func:`handlib.hand_model.sample_articulations` (correlated fingers within the
    joint limits) unless ``articulation`` (26,) is given; global rotation uniform over all
    views (palm, back, side) except forearms pointing at the camera
    (:data:`MAX_ARM_TOWARDS_CAMERA`); hand 25-75 cm from the camera, anywhere in the image;
    size +/-15 %; skin tones over :data:`SKIN_TONES`; 1-3 lights of random direction and
    intensity; ambient 0.2-0.5. Backgrounds default to white for ``synth`` and to a crop
    of one of the shipped real photos (:mod:`handlib.backgrounds`) for ``real-like``.
    ``held_up`` (0-1): the share of scenes whose rotation is a hand held up to the camera
    (:func:`held_up_rotation`) instead of the uniform one; with 0 (the default) the
    random draws, and so every rendered set, are those of the uniform views alone.
    ``palm_share``, ``lean``: how held-up hands face the camera (:func:`held_up_rotation`).
    """
    if not 0.0 <= held_up <= 1.0:
        raise ValueError(f"held_up must be between 0 and 1, got {held_up}")
    if look not in LOOKS:
        raise ValueError(f"look must be one of {LOOKS}, got {look!r}")
    params = np.zeros(hm.NUM_DOF)
    if articulation is None:
        params[6:] = hm.sample_articulations(rng, 1)[0, 6:]
    else:
        params[6:] = np.asarray(articulation, float)[6:]
    if held_up > 0 and rng.random() < held_up:
        side = side or ("left" if rng.random() < 0.5 else "right")
        params[0:3] = held_up_rotation(rng, side, palm_share, lean)
    else:
        params[0:3] = _arm_rotation(rng)
    # place the hand's centre (about the middle knuckle) at a random pixel and depth
    depth = rng.uniform(250.0, 750.0)
    margin = 0.18 * min(intrinsics.width, intrinsics.height)
    pixel = rng.uniform([margin, margin], [intrinsics.width - margin, intrinsics.height - margin])
    centre = cam.back_project(intrinsics, pixel, depth)
    scale = float(rng.uniform(0.85, 1.15))
    side = side or ("left" if rng.random() < 0.5 else "right")
    canon = hm.forward_kinematics(np.r_[params[0:3], 0, 0, 0, params[6:]],
                                  hm.default_bone_lengths(scale), side=side)
    params[3:6] = centre - canon[hm.NORM_ROOT_JOINT]
    n_lights = 1 if look == "synth" else int(rng.integers(1, 4))
    lights = []
    for k in range(n_lights):
        d = rng.normal(size=3)
        d[2] = abs(d[2]) + 0.3                    # mostly from the camera's side
        intensity = rng.uniform(0.5, 0.9) if k == 0 else rng.uniform(0.1, 0.4)
        lights.append(([float(x) for x in d / np.linalg.norm(d)], float(intensity)))
    if background is None:
        background = "white" if look == "synth" else "photos"
    return Scene(params=[float(x) for x in params], side=side, hand_scale=scale,
                 skin=float(rng.beta(1.2, 1.5)), lights=lights,
                 ambient=float(rng.uniform(0.2, 0.5)), look=look, background=background,
                 seed=int(rng.integers(0, 2**31 - 1)))


# ----------------------------------------------------------------------------- looks
@functools.lru_cache(maxsize=1)
def _mesh_features():
    """Per-vertex features of the rest mesh used by the looks and visibility."""
    mesh = hand_mesh.load_mesh()
    normals = renderer.vertex_normals(mesh.vertices, mesh.triangles)
    palm_side = np.clip(normals[:, 2] * 1.5, 0, 1)           # +z = palm side (right hand)
    rest = hm.rest_model().joints
    d = np.linalg.norm(mesh.vertices[None] - rest[:, None], axis=2)
    # flesh radius around each joint: typical distance to the nearest surface vertices
    radius = np.percentile(np.sort(d, axis=1)[:, :20], 80, axis=1)
    # closeness of each vertex to a knuckle or fingertip (redder skin there)
    near = np.exp(-d[[4, 8, 12, 16, 20, 5, 9, 13, 17]].min(axis=0) ** 2 / 150.0)
    return palm_side, radius, near


def _skin_albedo(scene: Scene, rng: np.random.Generator) -> np.ndarray:
    """Per-vertex albedo (V, 3) or a uniform one (3,) for the scene's look."""
    base = skin_tone(scene.skin)
    if scene.look == "synth":
        return base
    mesh = hand_mesh.load_mesh()
    palm_side, _, near = _mesh_features()
    v = mesh.vertices
    # low-frequency colour variation: a sum of random plane waves over the rest surface
    field_ = np.zeros(len(v))
    for _ in range(6):
        k = rng.normal(size=3) / rng.uniform(15, 60)
        field_ += np.sin(v @ k + rng.uniform(0, 2 * np.pi))
    field_ /= 6
    palm = np.array([0.93, 0.70, 0.62])                       # palms are lighter and pinker
    alb = base[None] * (1 + 0.08 * field_[:, None] * np.array([1.0, 0.9, 0.8]))
    alb = alb * (1 - 0.35 * palm_side[:, None]) + palm * 0.35 * palm_side[:, None] * (0.6 + 0.4 * base.mean())
    # redder knuckles and fingertips
    alb = alb * (1 - 0.08 * near[:, None]) + np.array([0.8, 0.35, 0.3]) * 0.08 * near[:, None]
    return np.clip(alb, 0, 1)


NOISE_TILE = 512


@functools.lru_cache(maxsize=1)
def _noise_tile() -> np.ndarray:
    """A fixed (512, 512, 3) float32 field of unit-variance uniform noise (seeded)."""
    rng = np.random.default_rng(20261125)
    return (rng.random((NOISE_TILE, NOISE_TILE, 3), dtype=np.float32) * 2 - 1) * np.float32(np.sqrt(3.0))


def uniform_noise(rng: np.random.Generator, shape, std: float) -> np.ndarray:
    """Zero-mean noise (float32) of standard deviation ``std``: uniform in
    [-std sqrt 3, std sqrt 3] (after blur and JPEG not told apart from Gaussian noise).

    For images up to 512x512 the noise is a random window of a fixed noise field, read
    in one of eight orientations, which costs a copy instead of 196k random draws per
    256x256 frame; the window and orientation come from ``rng``, so frames stay
    reproducible. Larger shapes draw fresh noise."""
    shape = tuple(shape)
    a = np.float32(std)
    if len(shape) == 3 and shape[0] <= NOISE_TILE and shape[1] <= NOISE_TILE and shape[2] <= 3:
        tile = _noise_tile()
        if rng.random() < 0.5:
            tile = tile.transpose(1, 0, 2)
        y = int(rng.integers(0, NOISE_TILE - shape[0] + 1))
        x = int(rng.integers(0, NOISE_TILE - shape[1] + 1))
        window = tile[y:y + shape[0], x:x + shape[1], :shape[2]]
        flip = int(rng.integers(0, 4))
        window = window[::-1] if flip & 1 else window
        window = window[:, ::-1] if flip & 2 else window
        return window * a
    return (rng.random(shape, dtype=np.float32) * 2 - 1) * (a * np.float32(np.sqrt(3.0)))


@functools.lru_cache(maxsize=4)
def _photo_files(folder: str) -> tuple[str, ...]:
    from handlib import backgrounds
    return tuple(backgrounds.background_files())


def make_background(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """A background image (size, size, 3) float RGB in [0, 1].

    ``kind``: "white", "green" (SynthHands' green screen), "clutter" (procedural: a colour
    gradient, shapes, lines and noise, blurred), "photos" (a random view of a random
    shipped photo crop, :func:`handlib.backgrounds.random_crop`) or the path of an image
    file.
    """
    import cv2
    if kind == "photos":
        from handlib import backgrounds
        photo_files = _photo_files(str(backgrounds.BACKGROUND_DIR))
        img = backgrounds.random_crop(photo_files[int(rng.integers(len(photo_files)))], size, rng)
        return img.astype(np.float32) / np.float32(255.0)
    if kind == "white":
        return np.ones((size, size, 3))
    if kind == "green":
        return np.broadcast_to(np.array(GREEN_SCREEN) / 255.0, (size, size, 3)).copy()
    if kind == "clutter":
        c0, c1 = rng.uniform(0.05, 0.95, size=(2, 3)).astype(np.float32)
        t = np.linspace(0, 1, size, dtype=np.float32)
        ang = rng.uniform(0, 2 * np.pi)
        g = np.float32(np.cos(ang)) * t[None, :] + np.float32(np.sin(ang)) * t[:, None]
        g = (g - g.min()) / max(float(np.ptp(g)), 1e-6)
        img = c0 + g[..., None] * (c1 - c0)                      # float32 throughout
        for _ in range(int(rng.integers(3, 10))):
            color = tuple(float(x) for x in rng.uniform(0, 1, 3))
            kind_s = rng.integers(0, 3)
            p = rng.integers(-size // 4, size + size // 4, size=4)
            if kind_s == 0:
                cv2.rectangle(img, (int(p[0]), int(p[1])), (int(p[2]), int(p[3])), color, -1)
            elif kind_s == 1:
                cv2.circle(img, (int(p[0]), int(p[1])), int(rng.integers(5, size // 3)), color, -1)
            else:
                cv2.line(img, (int(p[0]), int(p[1])), (int(p[2]), int(p[3])), color,
                         int(rng.integers(1, 8)))
        img += uniform_noise(rng, img.shape, 0.03)
        k = int(rng.integers(0, 3)) * 2 + 1
        img = cv2.GaussianBlur(img, (k, k), 0) if k > 1 else img
        return np.clip(img, 0, 1)
    path = Path(kind)
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f"{path}: expected a background image readable by OpenCV")
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB).astype(np.float64) / 255.0
    h, w = img.shape[:2]
    side = min(h, w)
    y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    return cv2.resize(img[y:y + side, x:x + side], (size, size), interpolation=cv2.INTER_AREA)


# ---------------------------------------------------------------------------- frames
@dataclass
class Frame:
    """One rendered, labelled frame (the crop).

    ``rgb`` (S, S, 3) uint8; ``mask`` (S, S) bool; ``depth`` (S, S) float mm (0 outside);
    ``xyz`` (21, 3) joints in the camera frame, mm; ``uv`` (21, 2) crop pixels;
    ``visible`` (21,) bool; ``crop`` the affine, unrotated crop of the full image of
    ``intrinsics`` (:class:`handlib.crop_camera.Crop`, GANerated's ``u, v, scale``).
    """

    rgb: np.ndarray
    mask: np.ndarray
    depth: np.ndarray
    xyz: np.ndarray
    uv: np.ndarray
    visible: np.ndarray
    crop: Crop
    intrinsics: cam.Intrinsics
    scene: Scene


def stored_crop(uv, K, size: int) -> Crop:
    """The affine, unrotated crop a rendered frame is stored as, for 2D joints (21, 2) in
    the full image of ``K``.

    The input pipeline cuts perspective crops around the joints
    (:func:`handlib.crop_camera.crop_from_joints`) and, with its default augmentation
    (:class:`handlib.pipeline.PipelineConfig`), makes them up to e^scale_jitter larger,
    moves their centre by up to shift_jitter of their side along each axis and turns
    them by up to max_rotation. The stored square is the bounding square of the corners
    of the extreme cases (the four shifts, at the largest size, at -max, 0 and +max
    degrees), so every default augmented crop is cut from rendered pixels. Off-axis
    hands get a larger square (a perspective crop covers more of the image there).
    """
    from handlib import backend, crop_camera as cc
    from handlib.pipeline import PipelineConfig
    aug = PipelineConfig()
    K = np.asarray(K, dtype=np.float64)
    centre, side = cc.crop_boxes(np.asarray(uv, dtype=np.float64)[None], K)
    side = side[0] * np.exp(aug.scale_jitter)
    shifts = aug.shift_jitter * side * np.array([[-1, -1], [-1, 1], [1, -1], [1, 1]], float)
    centres = centre[0] + shifts                                              # (4, 2)
    rays = np.c_[centres, np.ones(4)] @ np.linalg.inv(K).T
    R0 = cc._rotation_onto_axis(backend.NP, rays / np.linalg.norm(rays, axis=1, keepdims=True))
    Rz = cc._rotation_z(backend.NP, np.deg2rad([-aug.max_rotation, 0.0, aug.max_rotation]))
    R = np.einsum("aij,cjk->caik", Rz, R0)                                    # (4, 3, 3, 3)
    # crop corners -> rays in the crop frame (K_crop^-1) -> camera frame (R^T) -> pixels (K)
    o, f = (size - 1) / 2.0, np.array([K[0, 0], K[1, 1]]) * size / side
    corners = np.array([[-0.5, -0.5], [size - 0.5, -0.5], [-0.5, size - 0.5], [size - 0.5, size - 0.5]])
    crop_rays = np.c_[(corners - o) / f, np.ones(4)]                          # (4, 3)
    cam_rays = np.einsum("caji,nj->cani", R, crop_rays)                      # R^T r
    h = cam_rays @ K.T
    pts = (h[..., :2] / h[..., 2:3]).reshape(-1, 2)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return Crop(centre=tuple((lo + hi) / 2), side=float((hi - lo).max()), size=size,
                source_K=K, perspective=False)


PALM_JOINTS = (0, 1, 2, 5, 9, 13, 17)
"""Joints inside the thick part of the hand (wrist, thumb CMC and MCP, knuckles)."""


@functools.lru_cache(maxsize=1)
def _triangle_segments() -> np.ndarray:
    """(F,) the hand segment of each mesh triangle: the course joint whose rotation moves
    it (0 = palm), from the skin weight of its vertices' dominant joint."""
    mesh = hand_mesh.load_mesh()
    dominant = mesh.skin_joints[np.arange(len(mesh.vertices)), mesh.skin_weights.argmax(1)]
    seg_v = mesh.driver[dominant]
    tri = mesh.triangles
    # majority over the three vertices (ties: the first vertex)
    a, b, c = seg_v[tri[:, 0]], seg_v[tri[:, 1]], seg_v[tri[:, 2]]
    return np.where(b == c, b, a)


def joint_visibility(xyz, uv, frags: renderer.Fragments, hand_scale: float = 1.0) -> np.ndarray:
    """Per-joint visibility (21,) from the z-buffer.

    A joint is visible when its pixel lies in the image and on the silhouette, the
    surface seen there belongs to one of the two hand segments that meet at the joint
    (another finger, or the palm in front of a fingertip, occludes it), and that surface
    is no further in front of the joint than the flesh around it: the joint's radius on
    the rest mesh plus 25 % for finger joints, 30 mm for the thick palm joints
    (:data:`PALM_JOINTS`), times ``hand_scale``.
    """
    _, radius, _ = _mesh_features()
    segments = _triangle_segments()
    H, W = frags.depth.shape
    px = np.round(uv).astype(int)
    inside = (px[:, 0] >= 0) & (px[:, 0] < W) & (px[:, 1] >= 0) & (px[:, 1] < H)
    vis = np.zeros(21, bool)
    for j in np.flatnonzero(inside):
        x, y = px[j]
        t = frags.triangle[y, x]
        if t < 0:
            continue
        own = segments[t] in (j, hm.PARENTS[j]) or (j == 0 and segments[t] == 0)
        tol = (30.0 if j in PALM_JOINTS else 1.25 * radius[j]) * hand_scale
        vis[j] = own and frags.depth[y, x] >= xyz[j, 2] - tol
    return vis


def _draw(scene: Scene, verts, tris, K, width: int, height: int, rng, background):
    """Rasterise, shade and composite the hand over ``background()`` (a callable, so that
    the random numbers are drawn in a fixed order); the ``real-like`` look's blur, noise
    and JPEG round trip. Returns (RGB uint8 (height, width, 3), fragments)."""
    import cv2
    frags = renderer.rasterize(verts, tris, K, width, height)
    lights = [renderer.Light(np.asarray(d, float), np.full(3, i)) for d, i in scene.lights]
    albedo = _skin_albedo(scene, rng)
    if scene.look == "synth":
        color = renderer.shade(frags, verts, tris, albedo, lights, ambient=scene.ambient)
    else:
        tint = rng.uniform(0.9, 1.1, 3)
        lights = [renderer.Light(L.direction, L.color * tint) for L in lights]
        color = renderer.shade(frags, verts, tris, albedo, lights, ambient=scene.ambient,
                               wrap=0.4, specular=0.12, shininess=12.0)
    mask = frags.mask
    background_image = background()
    # soften the silhouette edge a little (anti-aliasing by blurring the mask)
    alpha = cv2.GaussianBlur(mask.astype(np.float32), (3, 3), 0.6)[..., None]
    img = color.astype(np.float32) * alpha + background_image.astype(np.float32) * (1 - alpha)
    if scene.look == "real-like":
        sigma = rng.uniform(0.3, 1.0)
        img = cv2.GaussianBlur(img, (0, 0), sigma)
        img += uniform_noise(rng, img.shape, rng.uniform(0.005, 0.025))
    rgb = np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
    if scene.look == "real-like":
        q = int(rng.integers(55, 95))
        ok, buf = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
        rgb = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].copy()
    return rgb, frags


def render_image(scene: Scene, intrinsics: cam.Intrinsics = cam.GANERATED,
                 background_image: np.ndarray | None = None):
    """Render a scene into the camera's whole image (not a crop), for videos.

    Returns (RGB uint8 (H, W, 3), 2D joints (21, 2) pixels, 3D joints (21, 3) mm camera
    frame, visibility (21,)). ``background_image``: float RGB (H, W, 3) in [0, 1];
    default the scene's background kind, cut to the image's shape.
    """
    rng = np.random.default_rng(scene.seed)
    bl = hm.default_bone_lengths(scene.hand_scale)
    verts, tris, xyz = hand_mesh.skin(np.asarray(scene.params), bl, side=scene.side)
    if np.any(verts[~hand_mesh.load_mesh().forearm, 2] < 10.0):
        raise ValueError("the hand is behind or too close to the camera")
    W, H = intrinsics.width, intrinsics.height

    def background():
        if background_image is not None:
            return background_image
        return make_background(scene.background, max(W, H), rng)[:H, :W]

    rgb, frags = _draw(scene, verts, tris, intrinsics.K, W, H, rng, background)
    uv = cam.project(intrinsics, xyz)
    return rgb, uv, xyz, joint_visibility(xyz, uv, frags, scene.hand_scale)


def render_frame(scene: Scene, size: int = 256, intrinsics: cam.Intrinsics = cam.GANERATED,
                 background_image: np.ndarray | None = None) -> Frame:
    """Render one scene into a labelled ``size`` x ``size`` crop.

    The stored crop is affine and unrotated, as in the GANerated files: the smallest
    square that contains every crop the input pipeline's default augmentation can cut
    around these joints (:func:`stored_crop`).
    """
    rng = np.random.default_rng(scene.seed)
    bl = hm.default_bone_lengths(scene.hand_scale)
    verts, tris, xyz = hand_mesh.skin(np.asarray(scene.params), bl, side=scene.side)
    if np.any(verts[~hand_mesh.load_mesh().forearm, 2] < 10.0):
        raise ValueError("the hand is behind or too close to the camera")
    # a forearm reaching behind the camera loses the triangles that cross its near plane
    # (the rasteriser skips them): the arm then leaves the picture through the camera
    crop = stored_crop(cam.project(intrinsics, xyz), intrinsics.K, size)
    uv = crop.project(xyz)
    rgb, frags = _draw(scene, verts, tris, crop.K, size, size, rng,
                       lambda: background_image if background_image is not None
                       else make_background(scene.background, size, rng))
    mask = frags.mask
    depth = np.where(mask, frags.depth, 0.0)
    visible = joint_visibility(xyz, uv, frags, scene.hand_scale)
    return Frame(rgb=rgb, mask=mask, depth=depth, xyz=xyz, uv=uv, visible=visible,
                 crop=crop, intrinsics=intrinsics, scene=scene)


def frame_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of frame ``index`` in a set made with ``seed``."""
    return np.random.default_rng([int(seed), int(index)])


def render_index(seed: int, index: int, look: str = "synth", background: str | None = None,
                 size: int = 256, intrinsics: cam.Intrinsics = cam.GANERATED,
                 background_files: list[str] | None = None, held_up: float = 0.0,
                 palm_share: float = 0.5, lean=(-30.0, 30.0)) -> Frame:
    """Render frame ``index`` of a set made with ``seed`` (deterministic)."""
    rng = frame_rng(seed, index)
    if background_files:
        background = background_files[int(rng.integers(0, len(background_files)))]
    scene = sample_scene(rng, look=look, background=background, intrinsics=intrinsics, held_up=held_up,
                         palm_share=palm_share, lean=lean)
    return render_frame(scene, size=size, intrinsics=intrinsics)


def paired_looks(scene: Scene, size: int = 256, intrinsics: cam.Intrinsics = cam.GANERATED):
    """The same scene rendered in both looks: ``{"synth": Frame, "real-like": Frame}``."""
    out = {}
    for look in LOOKS:
        bg = "white" if look == "synth" else scene.background if scene.background != "white" else "photos"
        s = Scene(**{**scene.to_dict(), "look": look, "background": bg})
        out[look] = render_frame(s, size=size, intrinsics=intrinsics)
    return out



# ----------------------------------------------------------------- whole data sets
def write_frame(root, index: int, frame: Frame) -> Path:
    """Write a rendered frame in the GANerated layout (:func:`handlib.ganerated.write_frame`)."""
    return ganerated.write_frame(root, index, rgb=frame.rgb, mask=frame.mask, depth=frame.depth,
                                 xyz=frame.xyz, uv=frame.uv, crop=frame.crop,
                                 visible=frame.visible, scene=frame.scene.to_dict())


def _render_one(args):
    index, seed, look, background, size, bg_files, held_up, palm_share, lean = args
    return index, render_index(seed, index, look=look, background=background, size=size,
                               background_files=bg_files, held_up=held_up, palm_share=palm_share,
                               lean=lean)


def make_dataset(out, frames: int, look: str = "synth", seed: int = 0, background=None,
                 size: int = 256, workers: int = 1, progress: bool = True, held_up: float = 0.0,
                 palm_share: float = 0.5, lean=(-30.0, 30.0)) -> dict:
    """Render frames ``0 .. frames-1`` into ``out`` (GANerated layout), resuming if possible.

    ``background``: None (the look's default), "white", "green", "clutter", "photos" or a folder of
    images. Frames already complete are skipped, so rerunning the same command resumes and
    a larger ``frames`` extends the set. ``held_up``: the share of hands held up to the
    camera (:func:`sample_scene`); ``palm_share``, ``lean``: how they face it
    (:func:`held_up_rotation`, :data:`PHOTO_VIEWS`). Returns ``{"written", "skipped", "total"}``.
    Raises ValueError if ``out`` holds a set made with other settings.
    """
    out = Path(out)
    if look not in LOOKS:
        raise ValueError(f"look must be one of {LOOKS}, got {look!r}")
    bg_files = None
    if background is not None and background not in BACKGROUNDS:
        bg_files = images.list_images(background)
    info = {"generator": "handlib.synthetic", "look": look, "seed": int(seed),
            "background": background, "size": int(size), "layout": "ganerated"}
    if not 0.0 <= held_up <= 1.0:
        raise ValueError(f"held_up must be between 0 and 1, got {held_up}")
    palm_share, lean = _palm_share(palm_share), _lean_deg(lean)
    if held_up > 0:                       # absent for the uniform views (older sets resume)
        info["held_up"] = float(held_up)
        if (palm_share, lean) != (0.5, (-30.0, 30.0)):      # absent for the even default
            info["held_up_palm_share"], info["held_up_lean_deg"] = palm_share, list(lean)
    if frames < 1:
        raise ValueError(f"frames must be a positive number, got {frames}")
    for folder in (out, *out.parents):
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"{out}: expected an output folder, but {folder} is a file")
    info_path = out / ganerated.DATASET_INFO_FILE
    if info_path.is_file():
        try:
            old = json.loads(info_path.read_text())
        except (ValueError, UnicodeDecodeError):
            old = None
        if not isinstance(old, dict) or {k: old.get(k) for k in info} != info \
                or float(old.get("held_up", 0.0)) != float(held_up) \
                or old.get("held_up_palm_share") != info.get("held_up_palm_share") \
                or old.get("held_up_lean_deg") != info.get("held_up_lean_deg"):
            raise ValueError(f"{out} holds a set made with other settings ({info_path}: {old}); "
                             "choose another output folder, or the same settings to resume")
    ganerated.write_dataset_info(out, info, cam.GANERATED)
    todo = [i for i in range(frames) if not ganerated.frame_is_complete(out, i)]
    jobs = [(i, seed, look, background, size, bg_files, held_up, palm_share, lean) for i in todo]
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=frames, initial=frames - len(todo), unit="frame", desc=f"rendering {out}")
    try:
        if workers > 1 and len(jobs) > 1:
            import multiprocessing as mp
            with mp.get_context("spawn").Pool(workers) as pool:
                results = pool.imap_unordered(_render_one, jobs, chunksize=4)
                for index, frame in results:
                    write_frame(out, index, frame)
                    if bar:
                        bar.update(1)
        else:
            for job in jobs:
                write_frame(out, *_render_one(job))
                if bar:
                    bar.update(1)
    finally:
        if bar:
            bar.close()
    return {"written": len(todo), "skipped": frames - len(todo), "total": frames}
