"""The input pipeline: from any supported data set folder to training batches (tf.data).

Introduced in ``notebooks/01_dataset_preparation.ipynb``.

Per sample, in a parallel ``tf.data`` map:

1. read and decode the image (and the silhouette, when the set has one);
2. choose a square box around the 2D joints (``margin`` on each side), jitter its
   centre and size, and pick an in-plane rotation: together one affine map from input
   pixels to network-input pixels, applied to the image with one resampling;
3. transform the labels with the same map: 2D joints exactly; the normalised 3D joints
   rotated about the camera's z axis by the same angle (exact for a rotation about the
   principal point, a close approximation for an off-centre crop);
4. colour jitter; background replacement through the silhouette (a random procedural
   background);
5. targets: Gaussian heatmaps (:mod:`handlib.heatmaps`), 2D joints in heatmap pixels,
   normalised 3D, per-joint visibility (joints leaving the crop become invisible).

Randomness is stateless and seeded per element, so a seeded pipeline gives the same
batches on every run (``deterministic`` order), and different augmentations each epoch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from handlib import heatmaps as hmaps


@dataclass
class PipelineConfig:
    """Settings of :func:`make_pipeline` (sizes in pixels, angles in degrees)."""

    input_size: int = 128
    heatmap_size: int = 32
    sigma: float = hmaps.DEFAULT_SIGMA     # heatmap pixels
    margin: float = 0.2                   # box side = joints' extent * (1 + 2 margin)
    augment: bool = True
    max_rotation: float = 30.0
    scale_jitter: float = 0.15            # box side times exp(U(-j, j))
    shift_jitter: float = 0.08            # box centre moved by U(-j, j) * side
    color_jitter: float = 0.2
    background_prob: float = 0.5          # chance of replacing the background (needs a mask)
    batch_size: int = 16
    shuffle: bool = True
    seed: int | None = 0
    cache: bool = False                   # keep decoded images in memory after epoch 1


def sample_table(samples) -> dict[str, np.ndarray]:
    """Stack the labels of :class:`handlib.datasets.HandSample` records into arrays.

    Samples without 2D/3D joints (RealHands) cannot feed the pose pipeline.
    """
    if not samples:
        raise ValueError("no samples given to the input pipeline")
    missing = [s.image_path for s in samples if s.uv is None or s.xyz_norm is None]
    if missing:
        raise ValueError(f"{missing[0]}: the pose pipeline needs 2D and 3D joints "
                         f"({len(missing)} samples have none)")
    vis = [s.visible if s.visible is not None else np.ones(21, bool) for s in samples]
    return {
        "image": np.array([s.image_path for s in samples]),
        "mask": np.array([s.mask_path or "" for s in samples]),
        "uv": np.stack([s.uv for s in samples]).astype(np.float32),
        "xyz_norm": np.stack([s.xyz_norm for s in samples]).astype(np.float32),
        "visible": np.stack(vis).astype(np.float32),
    }


def affine_for_box(centre, side, angle, out_size):
    """The 2x3 map (TF) from input pixels to output pixels for a rotated square box.

    ``p_out = s R(angle) (p_in - centre) + (out_size - 1) / 2`` with ``s = out_size / side``;
    pixel centres at integers. Returns (A (2, 2), b (2,)).
    """
    import tensorflow as tf
    s = out_size / side
    c, si = tf.cos(angle), tf.sin(angle)
    A = s * tf.stack([tf.stack([c, -si]), tf.stack([si, c])])
    b = (out_size - 1) / 2.0 - tf.linalg.matvec(A, centre)
    return A, b


def warp(image, A, b, out_size, interpolation="BILINEAR"):
    """Resample ``image`` (H, W, C) float with the map ``p_out = A p_in + b`` (TF)."""
    import tensorflow as tf
    Ainv = tf.linalg.inv(A)
    binv = -tf.linalg.matvec(Ainv, b)
    # ImageProjectiveTransformV3 maps output pixel (x, y) to input (a0 x + a1 y + a2, ...)
    t = tf.stack([Ainv[0, 0], Ainv[0, 1], binv[0], Ainv[1, 0], Ainv[1, 1], binv[1], 0.0, 0.0])
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None], transforms=t[None], output_shape=tf.constant([out_size, out_size]),
        interpolation=interpolation, fill_mode="CONSTANT", fill_value=0.0)
    return out[0]


def random_background(seed, size):
    """A procedural background (size, size, 3) in [0, 1]: a two-colour gradient with
    blobs of noise (TF, stateless)."""
    import tensorflow as tf
    s = tf.random.experimental.stateless_split(seed, 4)
    c = tf.random.stateless_uniform([2, 3], s[0])
    ang = tf.random.stateless_uniform([], s[1], 0, 2 * math.pi)
    t = tf.linspace(0.0, 1.0, size)
    g = tf.cos(ang) * t[None, :] + tf.sin(ang) * t[:, None]
    g = (g - tf.reduce_min(g)) / (tf.reduce_max(g) - tf.reduce_min(g) + 1e-6)
    img = c[0] * (1 - g[..., None]) + c[1] * g[..., None]
    blobs = tf.random.stateless_uniform([size // 8, size // 8, 3], s[2], -0.25, 0.25)
    img += tf.image.resize(blobs, [size, size], method="bicubic")
    img += tf.random.stateless_normal([size, size, 3], s[3], 0.0, 0.02)
    return tf.clip_by_value(img, 0.0, 1.0)


def _decode(path, channels):
    import tensorflow as tf
    img = tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)
    return tf.image.convert_image_dtype(img, tf.float32)


def make_pipeline(samples, config: PipelineConfig | None = None, repeat: bool = False):
    """A ``tf.data.Dataset`` of ``(image, targets)`` batches.

    ``image``: (B, S, S, 3) float32 in [0, 1], S = ``config.input_size``.
    ``targets``: dict with ``heatmaps`` (B, Hs, Hs, 21) float32 (peak 1),
    ``uv`` (B, 21, 2) joints in heatmap pixels, ``uv_input`` (B, 21, 2) in input pixels,
    ``xyz_norm`` (B, 21, 3) normalised 3D, ``visible`` (B, 21) 0/1.
    """
    import tensorflow as tf
    cfg = config or PipelineConfig()
    table = sample_table(samples)
    n = len(table["image"])
    S, Hs = cfg.input_size, cfg.heatmap_size
    base_seed = 0 if cfg.seed is None else int(cfg.seed)

    ds = tf.data.Dataset.from_tensor_slices(table)

    def load(item):
        image = _decode(item["image"], 3)
        has_mask = tf.strings.length(item["mask"]) > 0
        mask = tf.cond(has_mask, lambda: _decode(item["mask"], 1),
                       lambda: tf.zeros_like(image[..., :1]))
        return dict(item, image_data=image, mask_data=mask, has_mask=has_mask)

    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if cfg.cache:
        ds = ds.cache()
    if repeat:
        ds = ds.repeat()
    if cfg.shuffle:
        ds = ds.shuffle(min(n, 2048), seed=base_seed, reshuffle_each_iteration=True)
    seeds = tf.data.Dataset.random(seed=base_seed, rerandomize_each_iteration=True).batch(2)
    ds = tf.data.Dataset.zip((ds, seeds))

    def augment(item, seed):
        seed = tf.cast(seed, tf.int64)
        keys = tf.random.experimental.stateless_split(seed, 8)
        uv = item["uv"]
        lo = tf.reduce_min(uv, axis=0)
        hi = tf.reduce_max(uv, axis=0)
        centre = (lo + hi) / 2.0
        side = tf.maximum(tf.reduce_max(hi - lo) * (1 + 2 * cfg.margin), 8.0)
        angle = tf.constant(0.0)
        if cfg.augment:
            side *= tf.exp(tf.random.stateless_uniform([], keys[0], -cfg.scale_jitter, cfg.scale_jitter))
            centre += tf.random.stateless_uniform([2], keys[1], -cfg.shift_jitter, cfg.shift_jitter) * side
            r = math.radians(cfg.max_rotation)
            angle = tf.random.stateless_uniform([], keys[2], -r, r)
        A, b = affine_for_box(centre, side, angle, S)
        image = warp(item["image_data"], A, b, S)
        uv_in = tf.linalg.matvec(A[None], uv) + b                        # (21, 2) input pixels
        c, s = tf.cos(angle), tf.sin(angle)
        R3 = tf.stack([tf.stack([c, -s, 0.0]), tf.stack([s, c, 0.0]), tf.constant([0.0, 0.0, 1.0])])
        xyz = tf.linalg.matvec(R3[None], item["xyz_norm"])
        if cfg.augment:
            if cfg.background_prob > 0:
                mask = warp(item["mask_data"], A, b, S)
                use = tf.logical_and(item["has_mask"],
                                     tf.random.stateless_uniform([], keys[3]) < cfg.background_prob)
                bg = random_background(keys[4], S)
                image = tf.where(use, image * mask + bg * (1 - mask), image)
            j = cfg.color_jitter
            if j > 0:
                image = tf.image.stateless_random_brightness(image, j * 0.5, keys[5])
                image = tf.image.stateless_random_contrast(image, 1 - j, 1 + j, keys[6])
                image = tf.image.stateless_random_saturation(image, 1 - j, 1 + j, keys[7])
                image = tf.clip_by_value(image, 0.0, 1.0)
        inside = tf.reduce_all((uv_in >= -0.5) & (uv_in <= S - 0.5), axis=-1)
        visible = item["visible"] * tf.cast(inside, tf.float32)
        uv_hm = hmaps.to_heatmap_coords(uv_in, S, Hs)
        heat = hmaps.gaussian_heatmaps_tf(uv_hm, Hs, cfg.sigma)
        image = tf.ensure_shape(image, [S, S, 3])
        return image, {"heatmaps": tf.ensure_shape(heat, [Hs, Hs, 21]), "uv": uv_hm,
                       "uv_input": uv_in, "xyz_norm": xyz, "visible": visible}

    ds = ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.batch(cfg.batch_size, drop_remainder=False)
    return ds.prefetch(tf.data.AUTOTUNE)
