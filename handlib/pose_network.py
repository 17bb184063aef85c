"""RegNet, the pose network: a hand crop -> 21 joint heatmaps and root-relative 3D joints.

Introduced in ``notebooks/03_regnet_training.ipynb``. The architecture follows Mueller et
al. (CVPR 2018): a convolutional trunk; an *intermediate* 3D guess; :class:`ProjLayer`
projects it into the crop's heatmap pixels; :class:`RenderingLayer` draws one Gaussian
per joint there (the same :mod:`handlib.heatmaps` definition as the targets); those
rendered heatmaps are concatenated with the trunk's features and refined by more
convolutions into the *final* heatmaps and the *final* 3D joints.

Shapes and units (S = input size, Hs = S / 4 the heatmap size, B the batch):

- inputs: ``image`` (B, S, S, 3) in [0, 1], the crop of a **left** hand (the canonical
  side, :data:`handlib.pipeline.CANONICAL_SIDE`; right hands are flipped in the crop
  camera); ``crop_K`` (B, 3, 3) the crop camera's intrinsics in input pixels (the crop
  defines it: :attr:`handlib.crop_camera.Crop.K`).
- outputs (a dict, names below): ``xyz_intermediate`` and ``xyz`` (B, 21, 3), normalised
  root-relative 3D in the crop camera's frame (M0 at the origin; the training data have
  |W - M0| = 1); ``projection`` (B, 3) ProjLayer's extra numbers; ``uv_projected``
  (B, 21, 2) heatmap pixels; ``heatmaps_rendered`` and ``heatmaps`` (B, Hs, Hs, 21).

**ProjLayer's extra numbers.** A normalised hand has no position, so the network also
predicts where its root is: ``t = X_M0 / s``, the root's camera-frame position divided
by the hand's scale ``s = |W - M0|`` (mm). Then the joints are ``s (xyz + t)`` and their
perspective projection ``u = fx (x + tx) / (z + tz) + cx`` does not depend on ``s``: the
projection is exact, for close or foreshortened hands too (a weak-perspective scale and
offset would not be). The layer's input ``projection = (a, b, c)`` parametrises
``tz = depth0 * exp(c)``, ``tx = a tz``, ``ty = b tz`` (``a, b`` are the root's
normalised image coordinates, about 0 for a centred crop), which keeps ``tz`` positive.
:func:`projection_targets` recovers the exact values from labelled data (a linear
least-squares solve).

Every layer is a registered ``keras.layers.Layer`` with ``get_config``: a saved RegNet
reloads with ``keras.models.load_model(..., safe_mode=True)``. The model's settings
(input and heatmap size, hand side, trunk, Gaussian width) live in its ``regnet_info``
layer's config (:func:`model_info`), which the pipeline, ``predict``, the inspector and
the tracker read: there is no second source of truth.
"""
from __future__ import annotations

import math

import numpy as np

from handlib import backend
from handlib import heatmaps as hmaps

NUM_JOINTS = 21
ROOT = 9            # M0, the middle finger's MCP joint
WRIST = 0
DEPTH0 = 6.0
"""Nominal root depth in hand scales (|W - M0|) for ProjLayer's parametrisation."""
TRUNKS = ("compact", "resnet50")

tf = backend.tensorflow()
import keras  # noqa: E402  (after TensorFlow's quiet import)

_register = keras.saving.register_keras_serializable(package="handlib")


# ---------------------------------------------------------------- the two layers
def project_tf(xyz, projection, crop_K, input_size: int, heatmap_size: int, depth0: float = DEPTH0):
    """ProjLayer's computation (TF): normalised crop-frame joints (B, J, 3), projection
    parameters (B, 3) and crop intrinsics (B, 3, 3) -> heatmap pixels (B, J, 2)."""
    tz = depth0 * tf.exp(tf.clip_by_value(projection[:, 2], -5.0, 5.0))
    t = tf.stack([projection[:, 0] * tz, projection[:, 1] * tz, tz], axis=-1)   # (B, 3)
    X = xyz + t[:, None, :]
    z = tf.maximum(X[..., 2], 0.25 * tz[:, None])   # a wild guess early in training stays finite
    fx, fy = crop_K[:, None, 0, 0], crop_K[:, None, 1, 1]
    cx, cy = crop_K[:, None, 0, 2], crop_K[:, None, 1, 2]
    uv = tf.stack([fx * X[..., 0] / z + cx, fy * X[..., 1] / z + cy], axis=-1)
    return hmaps.to_heatmap_coords(uv, input_size, heatmap_size)


@_register
class ProjLayer(keras.layers.Layer):
    """Projects normalised root-relative 3D joints into the crop's heatmap pixels.

    Call with ``[xyz (B, J, 3), projection (B, 3), crop_K (B, 3, 3)]``; returns
    ``uv`` (B, J, 2) in heatmap pixels (see the module's docstring for ``projection``).
    """

    def __init__(self, input_size: int, heatmap_size: int, depth0: float = DEPTH0, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.input_size, self.heatmap_size, self.depth0 = int(input_size), int(heatmap_size), float(depth0)

    def call(self, inputs):
        xyz, projection, crop_K = (tf.cast(x, tf.float32) for x in inputs)
        return project_tf(xyz, projection, crop_K, self.input_size, self.heatmap_size, self.depth0)

    def get_config(self):
        return dict(super().get_config(), input_size=self.input_size,
                    heatmap_size=self.heatmap_size, depth0=self.depth0)


@_register
class RenderingLayer(keras.layers.Layer):
    """Renders one Gaussian heatmap per joint: ``uv`` (B, J, 2) heatmap pixels ->
    (B, Hs, Hs, J), peak 1 (:func:`handlib.heatmaps.gaussian_heatmaps_tf`, all joints at
    once, differentiable in ``uv``)."""

    def __init__(self, heatmap_size: int, sigma: float = hmaps.DEFAULT_SIGMA, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.heatmap_size, self.sigma = int(heatmap_size), float(sigma)

    def call(self, uv):
        return hmaps.gaussian_heatmaps_tf(tf.cast(uv, tf.float32), self.heatmap_size, self.sigma)

    def get_config(self):
        return dict(super().get_config(), heatmap_size=self.heatmap_size, sigma=self.sigma)


@_register
class RootRelative(keras.layers.Layer):
    """(B, 63) -> (B, 21, 3) with the root joint (M0) moved to the origin."""

    def __init__(self, root: int = ROOT, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.root = int(root)

    def call(self, x):
        xyz = tf.reshape(tf.cast(x, tf.float32), [-1, NUM_JOINTS, 3])
        return xyz - xyz[:, self.root:self.root + 1, :]

    def get_config(self):
        return dict(super().get_config(), root=self.root)


@_register
class RegNetInfo(keras.layers.Layer):
    """Identity on the image; holds the model's settings in its config (the one source
    of truth for input size, heatmap size, hand side, trunk and Gaussian width)."""

    def __init__(self, input_size: int, heatmap_size: int, side: str, trunk: str,
                 sigma: float = hmaps.DEFAULT_SIGMA, **kwargs):
        super().__init__(**kwargs)
        if side not in ("left", "right"):
            raise ValueError(f"side must be 'left' or 'right', got {side!r}")
        self.info = dict(input_size=int(input_size), heatmap_size=int(heatmap_size), side=side,
                         trunk=trunk, sigma=float(sigma))

    def call(self, x):
        return x

    def get_config(self):
        return dict(super().get_config(), **self.info)


def model_info(model) -> dict:
    """A RegNet's settings: ``input_size``, ``heatmap_size``, ``side``, ``trunk``, ``sigma``."""
    return dict(model.get_layer("regnet_info").info)


def forward(model, images, crop_K) -> dict:
    """The model's outputs (NumPy) for ``images`` (B, S, S, 3) in [0, 1] and ``crop_K``
    (B, 3, 3), through a compiled ``tf.function`` kept on the model (an eager Keras call
    of one crop costs about ten times more on a CPU)."""
    cache = getattr(model, "_handlib_forward", None)
    if cache is None:
        fn = tf.function(lambda x, K: model({"image": x, "crop_K": K}, training=False))
        cache = {"fn": fn}
        model._handlib_forward = cache
    x = np.asarray(images, np.float32)
    K = np.asarray(crop_K, np.float32)
    key = (x.shape, K.shape)
    concrete = cache.get(key)
    if concrete is None:          # one traced graph per batch shape, called directly
        concrete = cache["fn"].get_concrete_function(tf.TensorSpec(x.shape, tf.float32),
                                                     tf.TensorSpec(K.shape, tf.float32))
        cache[key] = concrete
    out = concrete(tf.constant(x), tf.constant(K))
    return {k: np.asarray(v) for k, v in out.items()}


# ---------------------------------------------------------- labels for ProjLayer
def projection_targets(xyz_norm, uv_input, crop_K, depth0: float = DEPTH0, visible=None):
    """The exact ProjLayer parameters (N, 3) of labelled samples (NumPy).

    Solves ``fx (x + tx) - (u - cx)(z + tz) = 0`` and its ``v`` twin for ``t`` over all
    joints (linear least squares; ``visible`` (N, J) weights, default all), then returns
    ``(tx / tz, ty / tz, log(tz / depth0))``. Args: ``xyz_norm`` (N, J, 3) normalised
    crop-frame joints, ``uv_input`` (N, J, 2) in input pixels, ``crop_K`` (N, 3, 3).
    """
    xyz = np.asarray(xyz_norm, np.float64)
    uv = np.asarray(uv_input, np.float64)
    K = np.asarray(crop_K, np.float64)
    N, J = xyz.shape[:2]
    w = np.ones((N, J)) if visible is None else np.asarray(visible, np.float64)
    fx, fy, cx, cy = (K[:, 0, 0, None], K[:, 1, 1, None], K[:, 0, 2, None], K[:, 1, 2, None])
    du, dv = uv[..., 0] - cx, uv[..., 1] - cy
    zeros = np.zeros((N, J))
    # rows: [fx, 0, -du] t = du z - fx x ; [0, fy, -dv] t = dv z - fy y
    A = np.concatenate([np.stack([fx + zeros, zeros, -du], -1),
                        np.stack([zeros, fy + zeros, -dv], -1)], axis=1)     # (N, 2J, 3)
    b = np.concatenate([du * xyz[..., 2] - fx * xyz[..., 0],
                        dv * xyz[..., 2] - fy * xyz[..., 1]], axis=1)       # (N, 2J)
    sw = np.sqrt(np.concatenate([w, w], axis=1))
    t = np.stack([np.linalg.lstsq(A[i] * sw[i, :, None], b[i] * sw[i], rcond=None)[0]
                  for i in range(N)])
    return np.stack([t[:, 0] / t[:, 2], t[:, 1] / t[:, 2], np.log(t[:, 2] / depth0)], axis=-1)


def project_np(xyz_norm, projection, crop_K, depth0: float = DEPTH0) -> np.ndarray:
    """ProjLayer's projection in NumPy, in **input** pixels (no clamp on the depth):
    normalised crop-frame joints (..., J, 3), parameters (..., 3) (``a, b, c`` as in the
    module's docstring) and crop intrinsics (..., 3, 3) -> (..., J, 2)."""
    xyz, p, K = (np.asarray(x, np.float64) for x in (xyz_norm, projection, crop_K))
    tz = depth0 * np.exp(p[..., 2])
    X = xyz + np.stack([p[..., 0] * tz, p[..., 1] * tz, tz], axis=-1)[..., None, :]
    return np.stack([K[..., None, 0, 0] * X[..., 0] / X[..., 2] + K[..., None, 0, 2],
                     K[..., None, 1, 1] * X[..., 1] / X[..., 2] + K[..., None, 1, 2]], axis=-1)


def projection_sweep(hands_mm, distances_mm, angles_deg, intrinsics=None, size: int = 128) -> dict:
    """When does a projection of the *normalised* hand match the real picture?

    Each hand (N, 21, 3), camera-frame mm, keeps its orientation and is moved so that
    M0 is ``d`` mm from the camera, ``a`` degrees off the optical axis (to the right).
    Its true 2D joints are cut into the course's crop of ``size`` pixels; then three
    projections of the normalised hand are compared with them, in crop pixels:

    - ``projlayer``: ProjLayer's perspective projection in the crop camera with the
      exact parameters (:func:`projection_targets`): zero up to round-off;
    - ``weak_crop``: weak perspective (orthographic x, y with the least-squares best
      scale and offset, :func:`handlib.crop_camera.orthographic_fit`) in the crop
      camera's frame: what is left is perspective within the hand (depth relief);
    - ``weak_affine``: the same in the camera's frame and an affine, unrotated crop of
      the image (a fixed orthographic map with no intrinsics, as an earlier public
      re-implementation had): off-axis hands are also seen obliquely.

    The best-fit scale and offset make the weak errors lower bounds of what any
    weak-perspective layer can reach. Returns ``{"distances_mm", "angles_deg", name:
    (D, A) mean joint error in crop pixels, name + "_max": (D, A) worst joint}``.
    """
    from handlib import camera as cam
    from handlib import crop_camera as cc
    intr = cam.GANERATED if intrinsics is None else intrinsics
    K = intr.K
    hands = np.asarray(hands_mm, np.float64)
    hands = hands - hands[:, ROOT:ROOT + 1]
    names = ("projlayer", "weak_crop", "weak_affine")
    out = {n: np.zeros((len(distances_mm), len(angles_deg))) for n in names}
    out |= {n + "_max": np.zeros((len(distances_mm), len(angles_deg))) for n in names}
    for i, d in enumerate(distances_mm):
        for j, a in enumerate(angles_deg):
            r = np.radians(a)
            X = hands + d * np.array([np.sin(r), 0.0, np.cos(r)])
            uv = cam.project(K, X)                                    # (N, 21, 2) image px
            centre, side = cc.crop_boxes(uv, K)
            errs = {n: [] for n in names}
            for k in range(len(X)):
                crop = cc.Crop(centre=tuple(centre[k]), side=float(side[k]), size=size, source_K=K)
                truth = crop.to_crop(uv[k])
                s = np.linalg.norm(X[k, WRIST] - X[k, ROOT])
                xyz_c = crop.to_crop_frame(X[k] - X[k, ROOT]) / s
                proj = projection_targets(xyz_c[None], truth[None], crop.K[None])
                errs["projlayer"].append(np.linalg.norm(project_np(xyz_c, proj[0], crop.K) - truth, axis=-1))
                fit, _ = cc.orthographic_fit(xyz_c, truth)
                errs["weak_crop"].append(np.linalg.norm(fit - truth, axis=-1))
                affine = cc.Crop(centre=tuple(centre[k]), side=float(side[k]), size=size, source_K=K,
                                 perspective=False)
                truth_a = affine.to_crop(uv[k])
                fit_a, _ = cc.orthographic_fit((X[k] - X[k, ROOT]) / s, truth_a)
                errs["weak_affine"].append(np.linalg.norm(fit_a - truth_a, axis=-1))
            for n in names:
                e = np.stack(errs[n])
                out[n][i, j], out[n + "_max"][i, j] = e.mean(), e.max()
    return {"distances_mm": np.asarray(distances_mm, float), "angles_deg": np.asarray(angles_deg, float),
            "size": size, "hands": len(hands), **out}


# ------------------------------------------------------------------- the model
def _trunk(name: str, input_size: int, imagenet: bool):
    """A trunk: images in [0, 1] -> features at strides 4, 8, 16 (a dict)."""
    if name == "compact":
        from handlib import efficientnet_lite as lite
        t = lite.trunk(input_size, imagenet=imagenet)
        for layer in t.layers:      # frozen batch-norm statistics (ImageNet's; see build_regnet)
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
        return t
    if name == "resnet50":
        inp = keras.Input((input_size, input_size, 3), name="image")
        x = keras.layers.Rescaling(2.0, offset=-1.0, name="to_minus1_1")(inp)
        r = keras.applications.ResNet50(include_top=False, weights=None, input_tensor=x)
        outs = {"stride4": r.get_layer("conv2_block3_out").output,
                "stride8": r.get_layer("conv3_block4_out").output,
                "stride16": r.get_layer("conv4_block6_out").output}
        return keras.Model(inp, outs, name="resnet50_trunk")
    raise ValueError(f"trunk must be one of {TRUNKS}, got {name!r}")


def _sep(x, filters, name, strides=1):
    return keras.layers.SeparableConv2D(filters, 3, strides=strides, padding="same",
                                        activation="relu", name=name)(x)


def build_regnet(input_size: int = 128, trunk: str = "compact", side: str = "left",
                 imagenet: bool = True, width: int = 64, sigma: float = hmaps.DEFAULT_SIGMA,
                 depth0: float = DEPTH0):
    """RegNet as a Keras functional model (see the module's docstring for the shapes).

    ``trunk``: "compact" (EfficientNet-Lite0 up to stride 16, ImageNet-initialised,
    batch-norm statistics frozen) or "resnet50" (the paper's ResNet-50 up to stride 16,
    ``conv4``; randomly initialised: the course downloads no weights, and no registry
    package ships Keras ResNet-50 ImageNet weights). ``input_size`` must be a multiple of
    16; the heatmaps are ``input_size / 4``. ``width``: channels of the heads.
    """
    if input_size % 16:
        raise ValueError(f"input_size must be a multiple of 16, got {input_size}")
    S, Hs = int(input_size), int(input_size) // 4
    image = keras.Input((S, S, 3), name="image")
    crop_K = keras.Input((3, 3), name="crop_K")
    x = RegNetInfo(S, Hs, side, trunk, sigma, name="regnet_info")(image)
    f = _trunk(trunk, S, imagenet)(x)
    f4, f8, f16 = f["stride4"], f["stride8"], f["stride16"]

    # intermediate 3D and ProjLayer's numbers, from the stride-16 features (kept spatial:
    # flattened, not pooled, so where a finger is stays known)
    a = keras.layers.Conv2D(32, 1, activation="relu", name="mid_reduce")(f16)
    a = keras.layers.Flatten(name="mid_flatten")(a)
    a = keras.layers.LayerNormalization(name="mid_norm")(a)    # O(1) inputs: no early blow-up
    a = keras.layers.Dense(256, activation="relu", name="mid_dense")(a)
    xyz_mid = RootRelative(name="xyz_intermediate")(keras.layers.Dense(
        NUM_JOINTS * 3, name="mid_xyz", dtype="float32",          # 3D in float32 under mixed precision
        kernel_initializer=keras.initializers.RandomNormal(stddev=1e-3))(a))
    projection = keras.layers.Dense(3, kernel_initializer="zeros", name="projection", dtype="float32")(a)
    uv_proj = ProjLayer(S, Hs, depth0, name="uv_projected")([xyz_mid, projection, crop_K])
    rendered = RenderingLayer(Hs, sigma, name="heatmaps_rendered")(uv_proj)

    # features up to stride 4, concatenated with the rendered heatmaps, refined
    u = keras.layers.Conv2D(width, 1, activation="relu", name="up16_reduce")(f16)
    u = keras.layers.UpSampling2D(2, name="up16")(u)
    u = keras.layers.Add(name="up8_add")([u, keras.layers.Conv2D(width, 1, name="up8_skip")(f8)])
    u = _sep(u, width, "up8_conv")
    u = keras.layers.UpSampling2D(2, name="up8")(u)
    u = keras.layers.Add(name="up4_add")([u, keras.layers.Conv2D(width, 1, name="up4_skip")(f4)])
    h = keras.layers.Concatenate(name="with_rendered")([u, rendered])
    h = _sep(h, width, "refine1")
    h = _sep(h, width, "refine2")
    heat = keras.layers.Conv2D(NUM_JOINTS, 1, name="heatmaps_linear",
                               kernel_initializer=keras.initializers.RandomNormal(stddev=1e-3))(h)
    heat = keras.layers.Activation("linear", dtype="float32", name="heatmaps")(heat)

    # final 3D: from the refined features and heatmaps, back down to stride 16
    g = keras.layers.Concatenate(name="final_in")([h, heat])
    g = _sep(g, width, "final_down8", strides=2)
    g = _sep(g, width, "final_down16", strides=2)
    g = keras.layers.Conv2D(32, 1, activation="relu", name="final_reduce")(g)
    g = keras.layers.Flatten(name="final_flatten")(g)
    g = keras.layers.LayerNormalization(name="final_norm")(g)
    g = keras.layers.Dense(256, activation="relu", name="final_dense")(g)
    delta = keras.layers.Dense(NUM_JOINTS * 3, name="final_delta", dtype="float32",
                               kernel_initializer=keras.initializers.RandomNormal(stddev=1e-3))(g)
    flat_mid = keras.layers.Reshape((NUM_JOINTS * 3,), name="mid_flat", dtype="float32")(xyz_mid)
    xyz = RootRelative(name="xyz")(keras.layers.Add(name="final_add", dtype="float32")([flat_mid, delta]))

    outputs = {"xyz_intermediate": xyz_mid, "projection": projection, "uv_projected": uv_proj,
               "heatmaps_rendered": rendered, "heatmaps": heat, "xyz": xyz}
    return keras.Model({"image": image, "crop_K": crop_K}, outputs, name=f"regnet_{trunk}_{S}")


def bare_trunk(model):
    """The same truncated trunk as a RegNet, alone (images -> stride-16 features), for
    benchmarks: what the heads add is RegNet's time minus this one's."""
    info = model_info(model)
    t = model.get_layer(f"{'efficientnet_lite0' if info['trunk'] == 'compact' else 'resnet50'}_trunk")
    return keras.Model(t.input, t.output["stride16"], name=f"{t.name}_bare")


# ------------------------------------------------------------------- the losses
LOSS_WEIGHTS = {"heatmaps": 1.0, "xyz": 1.0, "xyz_intermediate": 1.0, "projection": 1.0}
"""Default weights of :func:`regnet_losses`' terms in the training loss (their weighted sum)."""


def check_loss_weights(loss_weights: dict | None = None) -> dict:
    """All four loss weights: :data:`LOSS_WEIGHTS` updated with ``loss_weights``; a
    ValueError for an unknown term, a weight that is not a finite number at least 0, or
    all four at zero."""
    given = dict(loss_weights or {})
    unknown = sorted(set(given) - set(LOSS_WEIGHTS))
    if unknown:
        raise ValueError(f"loss weights: unknown term(s) {', '.join(map(str, unknown))}; "
                         f"the terms are {', '.join(LOSS_WEIGHTS)}")
    out = dict(LOSS_WEIGHTS)
    for k, v in given.items():
        try:
            v = float(v)
        except (TypeError, ValueError):
            v = math.nan
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"loss weights: {k} must be a finite number, 0 or more, got {given[k]!r}")
        out[k] = v
    if not any(out.values()):
        raise ValueError(f"loss weights: at least one term needs a positive weight, got {out}")
    return out


def heatmap_loss_unit(sigma: float = hmaps.DEFAULT_SIGMA) -> float:
    """Sum over one map's pixels of a target Gaussian's square, ``pi sigma^2``: the
    heatmap loss of an all-zero prediction (so the loss below starts near 1)."""
    return math.pi * sigma ** 2


def regnet_losses(targets, outputs, heatmap_size: int, sigma: float = hmaps.DEFAULT_SIGMA):
    """The four loss terms (TF scalars, means over the batch), each L2:

    - ``heatmaps``: squared difference summed over pixels, averaged over joints, divided
      by :func:`heatmap_loss_unit` (an all-zero prediction scores 1). All joints count,
      visible or not: an occluded joint still has a 2D position (fitting needs it), and a
      joint outside the crop has an empty target map, which teaches "not in this crop".
    - ``xyz``, ``xyz_intermediate``: squared 3D distance in hand scales (|W - M0| = 1),
      averaged over joints (all joints: 3D labels are complete); 0 for a sample whose
      ``has_3d`` target is 0 (a teacher's 2D-only photo).
    - ``projection``: 2D distance between ProjLayer's joints and the labels in units of
      heatmap size / 8 (4 heatmap pixels at Hs = 32), squared up to 1 unit and linear
      beyond (Huber: a wild early guess must not swamp the other terms), averaged over
      visible joints: it teaches the extra numbers where the root is.
    """
    vis = tf.cast(targets["visible"], tf.float32)
    hm = tf.reduce_mean(tf.reduce_sum(tf.square(outputs["heatmaps"] - targets["heatmaps"]),
                                      axis=[1, 2]), axis=-1) / heatmap_loss_unit(sigma)
    has_3d = tf.cast(targets["has_3d"], tf.float32) if "has_3d" in targets else 1.0
    d3 = lambda k: has_3d * tf.reduce_mean(tf.reduce_sum(tf.square(outputs[k] - targets["xyz_norm"]), -1), -1)  # noqa: E731
    d = tf.norm((outputs["uv_projected"] - targets["uv"]) / (heatmap_size / 8.0) + 1e-9, axis=-1)
    d2 = tf.where(d < 1.0, tf.square(d), 2.0 * d - 1.0)
    proj = tf.reduce_sum(d2 * vis, -1) / tf.maximum(tf.reduce_sum(vis, -1), 1.0)
    return {"heatmaps": hm, "xyz": d3("xyz"), "xyz_intermediate": d3("xyz_intermediate"),
            "projection": proj}


# ------------------------------------------------- domain-adversarial training
def stride16_features(net):
    """The RegNet's stride-16 trunk features as a symbolic tensor of its own graph
    (B, S/16, S/16, C), for a model that also returns them."""
    trunk = next(l for l in net.layers if l.name.endswith("_trunk"))
    info = net.get_layer("regnet_info").output
    node = next(n for n in trunk._inbound_nodes if any(x is info for x in n.input_tensors))
    return next(x for x in node.output_tensors if x.shape[1] == net.input["image"].shape[1] // 16)


@tf.custom_gradient
def reverse_gradient(x, scale):
    """Identity forward; the gradient times ``-scale`` backward (Ganin and Lempitsky's
    gradient reversal layer). ``scale`` gets no gradient."""
    def grad(dy):
        return -tf.cast(scale, dy.dtype) * dy, tf.zeros_like(scale)
    return tf.identity(x), grad


def domain_ramp(progress):
    """Ganin and Lempitsky's schedule of the reversed gradient's scale: 0 at the start,
    2 / (1 + exp(-10 p)) - 1 at the share ``p`` of training done (0.46 at p = 0.1,
    0.76 at p = 0.2, 0.99 at p = 0.5), so the pose heads learn before the features are pushed."""
    return 2.0 / (1.0 + tf.exp(-10.0 * progress)) - 1.0


def domain_critic(channels: int = 64):
    """The domain critic: three convolutions on the stride-16 features -> one logit per
    feature cell (B, S/16, S/16, 1): "this cell comes from a real photo"."""
    return keras.Sequential([
        keras.layers.Conv2D(channels, 3, padding="same", activation="relu", name="critic_conv1"),
        keras.layers.Conv2D(channels, 3, padding="same", activation="relu", name="critic_conv2"),
        keras.layers.Conv2D(1, 1, name="critic_logit", dtype="float32")], name="domain_critic")


@_register
class RegNetTrainer(keras.Model):
    """Trains a RegNet with ``fit``: a custom ``train_step`` over the four loss terms
    (:func:`regnet_losses`, weighted by ``loss_weights``), distribution-aware (the loss
    is divided by the number of replicas, as Keras' own losses are), mixed-precision
    aware (the optimizer scales the loss). Logs each term, the total, and two readable
    errors: ``uv_px`` (the final heatmaps' integer arg-max vs the labels, mean input
    pixels over visible joints: it includes up to half a heatmap pixel of rounding per
    axis) and ``xyz_err`` (mean 3D joint distance in hand scales).

    The trainer is a wrapper for training; the RegNet itself (``trainer.net``) is what is
    saved and shipped.

    **Domain-adversarial training** (``domain_weight`` > 0; beyond the paper, after Ganin
    and Lempitsky, ICML 2015): each batch's targets then also hold ``real_image``
    (B', S, S, 3), unlabelled crops of real photos. A small critic
    (:func:`domain_critic`) learns to tell the stride-16 trunk features of renders from
    those of photos (binary cross-entropy per feature cell, the two domains weighted
    equally); the trunk receives the critic's gradient reversed (:func:`reverse_gradient`),
    scaled by ``domain_weight`` times :func:`domain_ramp` of the share of
    ``domain_steps`` done, so it learns features the critic cannot tell apart: the
    features the 3D head reads are pushed to look alike on renders and photos. Logged:
    ``domain`` (the critic's loss: ln 2 = 0.69 when it cannot tell) and ``domain_acc``
    (its accuracy: 0.5 when it cannot tell). No label of a photo is used.
    """

    def __init__(self, net, loss_weights: dict | None = None, domain_weight: float = 0.0,
                 domain_steps: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.net = net
        self.info = model_info(net)
        self.loss_weights = check_loss_weights(loss_weights)
        self.domain_weight = float(domain_weight)
        self.domain_steps = int(domain_steps)
        if not (math.isfinite(self.domain_weight) and self.domain_weight >= 0) or self.domain_steps < 1:
            raise ValueError(f"domain_weight must be a finite number, 0 or more, and domain_steps "
                             f"at least 1; got {domain_weight}, {domain_steps}")
        names = list(LOSS_WEIGHTS) + ["loss", "uv_px", "xyz_err"]
        if self.domain_weight > 0:
            names += ["domain", "domain_acc"]
            f16 = stride16_features(net)
            # not tracked as attributes: they share the RegNet's layers and weights
            object.__setattr__(self, "_with_features", keras.Model(
                net.input, {**net.output, "features": f16}, name="regnet_with_features"))
            object.__setattr__(self, "_features", keras.Model(
                net.input["image"], f16, name="regnet_features"))
            self.critic = domain_critic()
            self.critic.build(f16.shape)
        self.trackers = {k: keras.metrics.Mean(name=k) for k in names}
        self.built = True          # the RegNet (and the critic) are built

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, inputs, training=False):
        return self.net(inputs, training=training)

    def train_variables(self):
        """What training changes: the RegNet's trainable weights (and the critic's)."""
        extra = self.critic.trainable_variables if self.domain_weight > 0 else []
        return self.net.trainable_variables + extra

    def _forward(self, data, training):
        """Outputs, per-sample loss terms (B,) and the per-sample weighted total (B,)."""
        image, t = data
        model = self._with_features if self.domain_weight > 0 and "real_image" in t else self.net
        out = model({"image": image, "crop_K": t["crop_K"]}, training=training)
        terms = regnet_losses(t, out, self.info["heatmap_size"], self.info["sigma"])
        total = tf.add_n([self.loss_weights[k] * terms[k] for k in terms])
        return out, terms, total

    def _domain_loss(self, synth_features, real_image):
        """The critic's loss (scalar) and accuracy on the batch's two domains; the trunk
        sees the loss's gradient reversed and scaled (see the class docstring)."""
        p = tf.cast(self.optimizer.iterations, tf.float32) / float(self.domain_steps)
        scale = self.domain_weight * domain_ramp(tf.minimum(p, 1.0))
        real_features = self._features(real_image, training=True)
        losses, hits = [], []
        for f, label in ((synth_features, 0.0), (real_features, 1.0)):
            logit = self.critic(reverse_gradient(tf.cast(f, tf.float32), scale), training=True)
            y = tf.fill(tf.shape(logit), label)
            losses.append(tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logit)))
            hits.append(tf.reduce_mean(tf.cast((logit > 0) == (y > 0.5), tf.float32)))
        return (losses[0] + losses[1]) / 2.0, (hits[0] + hits[1]) / 2.0

    def _update(self, t, out, terms, total):
        # per-sample values: a short last batch (or an empty replica) weighs what it holds
        for k, v in terms.items():
            self.trackers[k].update_state(v)
        self.trackers["loss"].update_state(total)
        uv = soft_argmax_free_maxima(out["heatmaps"])
        S, Hs = self.info["input_size"], self.info["heatmap_size"]
        d = tf.norm(uv - t["uv"], axis=-1) * (S / Hs)
        vis = tf.cast(t["visible"], tf.float32)
        self.trackers["uv_px"].update_state(d, sample_weight=vis)
        has_3d = tf.cast(t["has_3d"], tf.float32)[:, None] if "has_3d" in t else None
        self.trackers["xyz_err"].update_state(tf.norm(out["xyz"] - t["xyz_norm"], axis=-1),
                                              sample_weight=has_3d)
        return {k: m.result() for k, m in self.trackers.items()}

    def train_step(self, data):
        adversarial = self.domain_weight > 0 and "real_image" in data[1]
        with tf.GradientTape() as tape:
            out, terms, total = self._forward(data, training=True)
            loss = tf.reduce_mean(total)
            if adversarial:
                domain, accuracy = self._domain_loss(out["features"], data[1]["real_image"])
                loss = loss + domain      # the critic learns at full strength
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            scaled = self.optimizer.scale_loss(loss / replicas)
        variables = self.train_variables()
        grads = tape.gradient(scaled, variables)
        self.optimizer.apply(grads, variables)
        if adversarial:
            self.trackers["domain"].update_state(domain)
            self.trackers["domain_acc"].update_state(accuracy)
        return self._update(data[1], out, terms, total)

    def test_step(self, data):
        out, terms, total = self._forward(data, training=False)
        logs = self._update(data[1], out, terms, total)
        return {k: v for k, v in logs.items() if not k.startswith("domain")}   # no photos here

    def get_config(self):
        return {"net": keras.saving.serialize_keras_object(self.net),
                "loss_weights": self.loss_weights, "domain_weight": self.domain_weight,
                "domain_steps": self.domain_steps, **super().get_config()}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        net = keras.saving.deserialize_keras_object(config.pop("net"))
        return cls(net, **config)


def soft_argmax_free_maxima(heatmaps):
    """Integer arg-max of each map (B, Hs, Hs, J) -> (B, J, 2) heatmap pixels (TF; for
    training logs; :func:`handlib.heatmaps.heatmap_maxima` refines to sub-pixel)."""
    shape = tf.shape(heatmaps)
    B, W, J = shape[0], shape[2], shape[3]
    flat = tf.reshape(tf.transpose(heatmaps, [0, 3, 1, 2]), [B, J, -1])
    idx = tf.argmax(flat, axis=-1, output_type=tf.int32)
    return tf.cast(tf.stack([idx % W, idx // W], axis=-1), tf.float32)
