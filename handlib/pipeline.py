"""The input pipeline: from any supported data set folder to training batches (tf.data).

Introduced in ``notebooks/01_dataset_preparation.ipynb``.

Per sample, in a parallel ``tf.data`` map:

1. read and decode the image (and the silhouette, when the set has one);
2. cut the course's hand crop (:func:`handlib.crop_camera.crop_from_joints`) as a
   *perspective crop camera*, jittered in centre and size and turned in the image plane,
   and flipped left-right when the sample's hand is not on the networks' canonical side
   (:data:`CANONICAL_SIDE`): one homography ``H = K_crop R K_image^-1`` resamples the
   image in one step;
3. move the labels with the same camera: 2D joints through ``H`` (exact), the normalised
   3D joints rotated by ``R`` into the crop camera's frame (exact: normalising commutes
   with rotations), so a crop's appearance fixes its 3D target wherever it was cut;
4. colour jitter; background replacement through the silhouette (a random view of one
   of the shipped real photo crops, :mod:`handlib.backgrounds`, or a procedural
   background); optionally (``appearance``) what a real camera and room do to a photo
   (:func:`camera_effects`: white balance, exposure, light from one side, blur, sensor
   noise, JPEG);
5. targets: Gaussian heatmaps (:mod:`handlib.heatmaps`), 2D joints in heatmap pixels,
   normalised 3D in the crop frame, per-joint visibility (joints leaving the crop become
   invisible), and the crop itself (``crop_*``) so predictions can be mapped back to the
   original image (:func:`crop_of`).

Randomness is stateless and seeded per element, so a seeded pipeline gives the same
batches on every run (``deterministic`` order), and different augmentations each epoch;
``seed=None`` draws fresh randomness on every run.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from handlib import backend, images
from handlib import crop_camera as cc
from handlib import heatmaps as hmaps
from handlib.crop_camera import Crop

CANONICAL_SIDE = "left"
"""The networks' hand side (GANerated's): other hands are flipped in the crop camera."""


@dataclass
class PipelineConfig:
    """Settings of :func:`make_pipeline` (sizes in pixels, angles in degrees)."""

    input_size: int = 128
    heatmap_size: int = 32
    sigma: float = hmaps.DEFAULT_SIGMA     # heatmap pixels
    margin: float = cc.CROP_MARGIN        # box side = joints' extent * (1 + 2 margin)
    augment: bool = True
    max_rotation: float = 30.0
    scale_jitter: float = 0.15            # box side times exp(U(-j, j))
    crop_range: tuple[float, float] | None = None
                                          # instead of margin and scale jitter: box side =
                                          # joints' extent * log-uniform(lo, hi), e.g. (1.2, 2.2)
    shift_jitter: float = 0.08            # box centre moved by U(-j, j) * side
    color_jitter: float = 0.2
    appearance: float = 0.0               # strength (0-1) of camera_effects; 0: off
    background_prob: float = 0.5          # chance of replacing the background (needs a mask)
    photo_backgrounds: float = 0.5        # share of replaced backgrounds that are real photo
                                          # crops (handlib.backgrounds); the rest procedural
    canonical_side: str | None = CANONICAL_SIDE   # None: never flip
    batch_size: int = 16
    shuffle: bool = True
    seed: int | None = 0                  # None: not seeded (different on every run)
    cache: bool = False                   # keep decoded images in memory after epoch 1


def sample_table(samples, config: PipelineConfig | None = None) -> dict[str, np.ndarray]:
    """Stack the labels of :class:`handlib.samples.HandSample` records into arrays, with
    each sample's base crop (centre, side in image pixels), image intrinsics and flip.

    Every image (and mask) file is checked here, by its first and last bytes
    (:func:`handlib.images.image_kind`), so that a missing, non-image or cut-short file
    is reported with its path before TensorFlow decodes it.
    Samples without 2D joints (RealHands) cannot feed the pose pipeline; samples without
    3D joints (a teacher's 2D, :func:`handlib.peer_reference.teacher_samples`) get zero 3D
    and ``has_3d`` 0, so that the 3D loss terms skip them.
    """
    cfg = config or PipelineConfig()
    if not samples:
        raise ValueError("no samples given to the input pipeline")
    missing = [s.image_path for s in samples if s.uv is None]
    if missing:
        raise ValueError(f"{missing[0]}: the pose pipeline needs 2D joints "
                         f"({len(missing)} samples have none)")
    if cfg.canonical_side not in (None, "left", "right"):
        raise ValueError(f"canonical_side must be 'left', 'right' or None, got {cfg.canonical_side!r}")
    for s in samples:
        images.image_kind(s.image_path)
        if s.mask_path:
            images.image_kind(s.mask_path)
        if not np.allclose(s.image_R, np.eye(3)):
            raise ValueError(f"{s.image_path}: the pipeline cuts crops from unrotated images "
                             "(full images or affine crops such as GANerated's)")
        if cfg.canonical_side is not None and s.side not in ("left", "right"):
            raise ValueError(f"{s.image_path}: the sample's hand side is unknown ({s.side!r}); "
                             "the pipeline needs it to put every hand on the canonical side")
    K = np.stack([s.image_K for s in samples])
    centre, side = cc.crop_boxes(np.stack([s.uv for s in samples]), K, margin=cfg.margin)
    rows = {
        "image": [s.image_path for s in samples],
        "mask": [s.mask_path or "" for s in samples],
        "uv": [s.uv for s in samples],
        "xyz_norm": [s.xyz_norm if s.xyz_norm is not None else np.zeros((21, 3)) for s in samples],
        "has_3d": [float(s.xyz_norm is not None) for s in samples],
        "visible": [s.visible if s.visible is not None else np.ones(21, bool) for s in samples],
        "image_K": K, "centre": centre, "side": side,
        "flip": [float(cfg.canonical_side is not None and s.side != cfg.canonical_side)
                 for s in samples],
    }
    out = {k: np.array(v) for k, v in rows.items()}
    for k in ("uv", "xyz_norm", "has_3d", "visible", "image_K", "centre", "side", "flip"):
        out[k] = out[k].astype(np.float32)
    return out


def warp(image, H, out_size, interpolation="BILINEAR"):
    """Resample ``image`` (h, w, C) float with the homography ``H`` (3, 3), source
    pixels -> output pixels, into (out_size, out_size, C) (TF; zeros outside)."""
    tf = backend.tensorflow()
    t = tf.cast(cc.warp_params(backend.TF(), tf.cast(H, tf.float64)), tf.float32)
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None], transforms=t[None], output_shape=tf.constant([out_size, out_size]),
        interpolation=interpolation, fill_mode="CONSTANT", fill_value=0.0)
    return out[0]


def random_background(seed, size):
    """A procedural background (size, size, 3) in [0, 1]: a two-colour gradient with
    blobs of noise (TF, stateless)."""
    tf = backend.tensorflow()
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


def photo_background(seed, size, files):
    """A random view (size, size, 3) in [0, 1] of a random image among ``files`` (a string
    tensor of paths): side 50-100 % of the image, anywhere in it (TF, stateless)."""
    tf = backend.tensorflow()
    k = tf.random.experimental.stateless_split(seed, 3)
    idx = tf.random.stateless_uniform([], k[0], 0, tf.shape(files)[0], dtype=tf.int32)
    img = _decode(tf.gather(files, idx), 3)
    scale = tf.random.stateless_uniform([], k[1], 0.5, 1.0)
    off = tf.random.stateless_uniform([2], k[2], 0.0, 1.0) * (1.0 - scale)
    box = tf.stack([off[0], off[1], off[0] + scale, off[1] + scale])[None]
    return tf.image.crop_and_resize(img[None], box, [0], [size, size])[0]


def camera_effects(image, seed, strength: float = 1.0):
    """What a real camera and room do to a photo, drawn at random (TF, stateless; the
    ``appearance`` augmentation): ``image`` (S, S, 3) float in [0, 1] -> same shape.

    At ``strength`` 1, in this order: white balance (red and blue gains 1 -/+ up to 0.2,
    warm to cool light) and a hue turn of up to 0.04 of the colour circle (skin tones);
    exposure (gain 0.6-1.4) and gamma (0.7-1.4); light from one side (a linear ramp across
    the crop, in a random direction, darkening one side by up to 50 %); with probability
    1/2 a Gaussian blur (sigma up to 1.5 px, focus and motion); sensor noise (sigma up to
    0.04); with probability 1/2 JPEG compression (quality 30-95). ``strength`` scales
    every range (not the probabilities).
    """
    tf = backend.tensorflow()
    k = tf.random.experimental.stateless_split(seed, 12)
    u = lambda i, lo, hi: tf.random.stateless_uniform([], k[i], lo, hi)  # noqa: E731
    a = float(strength)
    S = tf.shape(image)[0]
    t = u(0, -0.2, 0.2) * a
    image = image * tf.stack([1.0 + t, 1.0, 1.0 - t])
    image = tf.image.adjust_hue(tf.clip_by_value(image, 0.0, 1.0), u(1, -0.04, 0.04) * a)
    image = image * tf.exp(u(2, math.log(0.6), math.log(1.4)) * a)
    image = tf.pow(tf.clip_by_value(image, 0.0, 1.0), tf.exp(u(3, math.log(0.7), math.log(1.4)) * a))
    ang = u(4, 0.0, 2.0 * math.pi)
    r = tf.linspace(-1.0, 1.0, S)
    ramp = tf.cos(ang) * r[None, :] + tf.sin(ang) * r[:, None]            # -1.4 .. 1.4
    image = image * (1.0 - u(5, 0.0, 0.5) * a * (ramp + 1.42) / 2.84)[..., None]
    sigma = u(6, 0.05, 0.05 + 1.5 * a)
    x = tf.range(-3, 4, dtype=tf.float32)
    g = tf.exp(-0.5 * tf.square(x / sigma))
    g /= tf.reduce_sum(g)

    def blur(img):
        out = img[None]
        for kern, pad in ((tf.reshape(g, [1, 7, 1, 1]), [[0, 0], [0, 0], [3, 3], [0, 0]]),
                          (tf.reshape(g, [7, 1, 1, 1]), [[0, 0], [3, 3], [0, 0], [0, 0]])):
            out = tf.nn.depthwise_conv2d(tf.pad(out, pad, "SYMMETRIC"),
                                         tf.tile(kern, [1, 1, 3, 1]), [1, 1, 1, 1], "VALID")
        return out[0]
    # computed only for the crops that get it (tf.cond), not for all and then chosen
    image = tf.cond(u(7, 0.0, 1.0) < 0.5, lambda: blur(image), lambda: image)
    image = image + tf.random.stateless_normal(tf.shape(image), k[8], 0.0, 1.0) * u(9, 0.0, 0.04 * a)
    image = tf.clip_by_value(image, 0.0, 1.0)
    quality = tf.cast(tf.round(95.0 - u(10, 0.0, 65.0 * a)), tf.int32)
    image = tf.cond(u(11, 0.0, 1.0) < 0.5,
                     lambda: tf.reshape(tf.image.adjust_jpeg_quality(image, quality), tf.shape(image)),
                     lambda: image)
    return tf.clip_by_value(image, 0.0, 1.0)


def _decode(path, channels):
    tf = backend.tensorflow()
    img = tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)
    return tf.image.convert_image_dtype(img, tf.float32)


def make_pipeline(samples, config: PipelineConfig | None = None, repeat: bool = False):
    """A ``tf.data.Dataset`` of ``(image, targets)`` batches.

    ``image``: (B, S, S, 3) float32 in [0, 1], S = ``config.input_size``.
    ``targets``: dict with ``heatmaps`` (B, Hs, Hs, 21) float32 (peak 1),
    ``uv`` (B, 21, 2) joints in heatmap pixels, ``uv_input`` (B, 21, 2) in input pixels,
    ``xyz_norm`` (B, 21, 3) normalised 3D in the crop camera's frame (canonical side),
    ``has_3d`` (B,) 1, or 0 for a sample without 3D joints (zeros in ``xyz_norm``),
    ``visible`` (B, 21) 0/1, and the crop: ``crop_R`` (B, 3, 3) camera -> crop frame
    (a reflection when flipped), ``crop_K`` (B, 3, 3) crop intrinsics, ``image_K``
    (B, 3, 3) intrinsics of the sample's image, ``crop_centre`` (B, 2) and
    ``crop_side`` (B,) in image pixels, ``crop_angle`` (B,) radians, ``flipped`` (B,)
    0/1. :func:`crop_of` turns one sample's crop back into a
    :class:`handlib.crop_camera.Crop`.
    """
    tf = backend.tensorflow()
    cfg = config or PipelineConfig()
    table = sample_table(samples, cfg)
    photo_files = None
    if cfg.augment and cfg.background_prob > 0 and cfg.photo_backgrounds > 0:
        from handlib import backgrounds
        photo_files = tf.constant(backgrounds.background_files())
    n = len(table["image"])
    S, Hs = cfg.input_size, cfg.heatmap_size
    base_seed = None if cfg.seed is None else int(cfg.seed)

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
        keys = tf.random.experimental.stateless_split(seed, 10)
        centre, side = item["centre"], item["side"]
        angle = tf.constant(0.0)
        if cfg.augment:
            if cfg.crop_range is None:
                lo, hi = -cfg.scale_jitter, cfg.scale_jitter
            else:   # the table's side is the extent times (1 + 2 margin)
                base = 1.0 + 2.0 * cfg.margin
                lo, hi = math.log(cfg.crop_range[0] / base), math.log(cfg.crop_range[1] / base)
            side *= tf.exp(tf.random.stateless_uniform([], keys[0], lo, hi))
            centre += tf.random.stateless_uniform([2], keys[1], -cfg.shift_jitter, cfg.shift_jitter) * side
            r = math.radians(cfg.max_rotation)
            angle = tf.random.stateless_uniform([], keys[2], -r, r)
        f64 = lambda x: tf.cast(x, tf.float64)  # noqa: E731  (geometry in double precision)
        R, K, H = cc.crop_matrices_tf(f64(centre), f64(side), f64(angle), f64(item["flip"]), S,
                                      f64(item["image_K"]))
        image = warp(item["image_data"], H, S)
        uv_in = tf.cast(cc.apply_homography_tf(H, f64(item["uv"])), tf.float32)   # (21, 2)
        xyz = tf.cast(tf.linalg.matvec(R[None], f64(item["xyz_norm"])), tf.float32)
        if cfg.augment:
            if cfg.background_prob > 0:
                mask = warp(item["mask_data"], H, S)
                use = tf.logical_and(item["has_mask"],
                                     tf.random.stateless_uniform([], keys[3]) < cfg.background_prob)
                bg = random_background(keys[4], S)
                if cfg.photo_backgrounds > 0:
                    photo = tf.random.stateless_uniform([], keys[8]) < cfg.photo_backgrounds
                    bg = tf.cond(photo, lambda: photo_background(keys[9], S, photo_files),
                                 lambda: bg)   # decode a photo only when one is used
                image = tf.where(use, image * mask + bg * (1 - mask), image)
            j = cfg.color_jitter
            if j > 0:
                image = tf.image.stateless_random_brightness(image, j * 0.5, keys[5])
                image = tf.image.stateless_random_contrast(image, 1 - j, 1 + j, keys[6])
                image = tf.image.stateless_random_saturation(image, 1 - j, 1 + j, keys[7])
                image = tf.clip_by_value(image, 0.0, 1.0)
            if cfg.appearance > 0:
                image = camera_effects(image, tf.random.experimental.stateless_fold_in(seed, 1),
                                       cfg.appearance)
        inside = tf.reduce_all((uv_in >= -0.5) & (uv_in <= S - 0.5), axis=-1)
        visible = item["visible"] * tf.cast(inside, tf.float32)
        uv_hm = hmaps.to_heatmap_coords(uv_in, S, Hs)
        heat = hmaps.gaussian_heatmaps_tf(uv_hm, Hs, cfg.sigma)
        image = tf.ensure_shape(image, [S, S, 3])
        f32 = lambda x: tf.cast(x, tf.float32)  # noqa: E731
        return image, {"heatmaps": tf.ensure_shape(heat, [Hs, Hs, 21]), "uv": uv_hm,
                       "uv_input": uv_in, "xyz_norm": xyz, "has_3d": item["has_3d"], "visible": visible,
                       "crop_R": f32(R), "crop_K": f32(K), "image_K": item["image_K"],
                       "crop_centre": centre, "crop_side": side, "crop_angle": angle,
                       "flipped": item["flip"]}

    ds = ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.batch(cfg.batch_size, drop_remainder=False)
    return ds.prefetch(tf.data.AUTOTUNE)


def crop_of(targets, index: int, input_size: int | None = None) -> Crop:
    """The :class:`handlib.crop_camera.Crop` that sample ``index`` of a batch was cut
    with (NumPy), to map predictions back to the sample's image: ``crop.from_crop(uv)``
    for 2D, ``crop.from_crop_frame(xyz)`` for 3D (which also undoes the flip)."""
    get = lambda k: np.asarray(targets[k])[index]  # noqa: E731
    size = input_size or int(round(2 * get("crop_K")[0, 2] + 1))
    return Crop(centre=tuple(get("crop_centre").astype(np.float64)),
                side=float(get("crop_side")), size=size,
                source_K=get("image_K").astype(np.float64), angle=float(get("crop_angle")),
                flip=bool(get("flipped") > 0.5))
