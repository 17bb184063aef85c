"""SilNet: the hand-silhouette network that holds the GeoConGAN to the input's shape.

Introduced in ``notebooks/02_geocongan_training.ipynb``.

A small U-Net (encoder-decoder with skip connections): input (B, S, S, 3) images in the
GAN's value range [-1, 1] (S divisible by 8), output (B, S, S, 1) the probability that a
pixel is hand, from a **sigmoid**. It is trained with binary cross-entropy (on
probabilities in [0, 1] against masks in {0, 1}: the loss the public re-implementation
got wrong by pairing a tanh output with masks in [-1, 1]) plus a Dice term, on the
silhouettes of both domains (rendered masks are exact, real masks are keyed). The GAN
then uses it frozen: its geometric loss is the cross-entropy between SilNet(G(x)) and
the silhouette of x.

Training augments colour (brightness, contrast, saturation, hue) and mirrors images, so
the network also reads the in-between looks a generator produces while it learns.
"""
from __future__ import annotations

import numpy as np

from handlib import backend

tf = backend.tensorflow()
import keras  # noqa: E402  (after the quiet TensorFlow import)

FILTERS = (16, 32, 64, 128)
"""Channels per level of the encoder (each level halves the resolution after the first)."""


def _conv_block(x, filters: int, name: str):
    for i in range(2):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv{i}")(x)
        x = keras.layers.BatchNormalization(name=f"{name}_bn{i}")(x)
        x = keras.layers.ReLU(name=f"{name}_relu{i}")(x)
    return x


def build_silnet(filters=FILTERS, name: str = "silnet") -> keras.Model:
    """The SilNet U-Net (functional): (B, S, S, 3) in [-1, 1] -> (B, S, S, 1) probability.
    Any S divisible by 2 ** (len(filters) - 1) works (the model has no fixed size)."""
    inp = keras.Input((None, None, 3), name="image")
    skips, x = [], inp
    for level, f in enumerate(filters):
        if level:
            x = keras.layers.MaxPooling2D(name=f"down{level}")(x)
        x = _conv_block(x, f, f"enc{level}")
        skips.append(x)
    for level in range(len(filters) - 2, -1, -1):
        x = keras.layers.UpSampling2D(interpolation="bilinear", name=f"up{level}")(x)
        x = keras.layers.Concatenate(name=f"skip{level}")([x, skips[level]])
        x = _conv_block(x, filters[level], f"dec{level}")
    out = keras.layers.Conv2D(1, 1, activation="sigmoid", name="hand_probability")(x)
    return keras.Model(inp, out, name=name)


@keras.saving.register_keras_serializable(package="handlib")
class SilhouetteLoss(keras.losses.Loss):
    """Binary cross-entropy of probabilities (B, S, S, 1) against masks in {0, 1}, plus
    ``dice_weight`` x (1 - soft Dice) per image. With ``dice_weight=0`` this is the
    geometric loss's cross-entropy."""

    def __init__(self, dice_weight: float = 1.0, name: str = "silhouette_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dice_weight = float(dice_weight)

    def call(self, y_true, y_pred):
        y_true = tf.cast(y_true, y_pred.dtype)
        bce = tf.reduce_mean(keras.losses.binary_crossentropy(y_true, y_pred), axis=(1, 2))
        if not self.dice_weight:
            return bce
        inter = tf.reduce_sum(y_true * y_pred, axis=(1, 2, 3))
        total = tf.reduce_sum(y_true + y_pred, axis=(1, 2, 3))
        dice = (2 * inter + 1.0) / (total + 1.0)
        return bce + self.dice_weight * (1 - dice)

    def get_config(self):
        return {**super().get_config(), "dice_weight": self.dice_weight}


def augment(image, mask, seed=None):
    """Colour jitter and a random mirror for one training pair: ``image`` (S, S, 3) in
    [-1, 1], ``mask`` (S, S, 1) float. Returns the same shapes."""
    x = (image + 1.0) / 2.0
    x = tf.image.random_brightness(x, 0.15)
    x = tf.image.random_contrast(x, 0.7, 1.3)
    x = tf.image.random_saturation(x, 0.6, 1.4)
    x = tf.image.random_hue(x, 0.05)
    x = tf.clip_by_value(x, 0.0, 1.0) * 2.0 - 1.0
    flip = tf.random.uniform(()) < 0.5
    x = tf.where(flip, tf.reverse(x, [1]), x)
    m = tf.where(flip, tf.reverse(mask, [1]), mask)
    return x, m


def dataset(domains, batch_size: int = 16, training: bool = True, seed: int = 0):
    """A ``tf.data`` pipeline of (image in [-1, 1], mask (S, S, 1) float) pairs from
    :class:`handlib.domains.Domain` objects: shuffled, augmented and repeated when
    ``training``, and with each domain equally likely (so the smaller one is not drowned)."""
    from handlib.domains import to_gan_tensors
    parts = []
    for d in domains:   # crops stay uint8 in memory (and in the shuffle buffer), scaled when drawn
        if not d.mask_known().all():
            raise ValueError(f"SilNet trains on known silhouettes; {d.name!r} has "
                             f"{int((~d.mask_known()).sum())} crops without one")
        ds = tf.data.Dataset.from_tensor_slices((d.images, d.masks[..., None]))
        if training:
            ds = ds.shuffle(len(d), seed=seed, reshuffle_each_iteration=True).repeat()
        parts.append(ds.map(to_gan_tensors, num_parallel_calls=tf.data.AUTOTUNE))
    if training:
        ds = tf.data.Dataset.sample_from_datasets(parts, seed=seed)
        ds = ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = parts[0]
        for p in parts[1:]:
            ds = ds.concatenate(p)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def predict(model, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """Hand probabilities (N, S, S) float32 for uint8 RGB images (N, S, S, 3)."""
    from handlib.domains import to_gan
    if len(images) == 0:
        return np.zeros((0,) + np.shape(images)[1:3], np.float32)
    # direct calls, not model.predict: predict's tf.function generalises the image size to
    # None after a second size, which Keras' bilinear UpSampling2D cannot trace
    x = to_gan(images)
    return np.concatenate([np.asarray(model(x[i:i + batch_size], training=False))[..., 0]
                           for i in range(0, len(x), batch_size)])


def iou(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Intersection over union per image of boolean masks (N, H, W) -> (N,); 1 where
    both are empty."""
    pred, true = np.asarray(pred, bool), np.asarray(true, bool)
    inter = (pred & true).sum(axis=(-2, -1))
    union = (pred | true).sum(axis=(-2, -1))
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def evaluate(model, domain, threshold: float = 0.5) -> dict:
    """IoU of SilNet's silhouettes (probability > ``threshold``) against a domain's
    masks: ``{"mean", "median", "p10", "n"}``."""
    if len(domain) == 0:
        raise ValueError(f"evaluate: the domain {domain.name!r} holds no images")
    if not domain.mask_known().all():
        raise ValueError(f"evaluate: {domain.name!r} has crops without a known silhouette")
    scores = iou(predict(model, domain.images) > threshold, domain.masks)
    return {"mean": float(scores.mean()), "median": float(np.median(scores)),
            "p10": float(np.percentile(scores, 10)), "n": int(len(scores))}


def train(model, train_domains, epochs: int, steps_per_epoch: int, backup_dir=None,
          log_csv=None, batch_size: int = 16, learning_rate: float = 1e-3, seed: int = 0,
          verbose="auto", callbacks=()):
    """Train SilNet with ``fit`` on the domains' crops (Adam, BCE + Dice, learning rate
    decaying by cosine over all steps). ``backup_dir``: a ``BackupAndRestore`` folder, so
    a killed run resumes from its last epoch with the same call. Returns the History."""
    total = epochs * steps_per_epoch
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, total, alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss=SilhouetteLoss(),
                  metrics=[keras.metrics.BinaryIoU(target_class_ids=[1], name="iou")])
    from handlib.training_callbacks import StopOnNaN
    callbacks = [StopOnNaN()] + list(callbacks)     # first: before a backup saves the epoch
    if backup_dir is not None:
        callbacks.append(keras.callbacks.BackupAndRestore(str(backup_dir), double_checkpoint=True,
                                                          delete_checkpoint=False))
    if log_csv is not None:
        callbacks.append(keras.callbacks.CSVLogger(str(log_csv), append=True))
    ds = dataset(train_domains, batch_size, training=True, seed=seed)
    return model.fit(ds, epochs=epochs, steps_per_epoch=steps_per_epoch, callbacks=callbacks,
                     shuffle=False, verbose=verbose)


REGRESSION_SEED, REGRESSION_FRAMES = 2026, 24


def regression_domain(size: int = 128):
    """The fixed, seeded rendered set of the shipped SilNet's regression test:
    :data:`REGRESSION_FRAMES` ``synth`` frames of seed :data:`REGRESSION_SEED`, cut like
    the synth domain (rendered in memory, a few seconds)."""
    from handlib import domains
    from handlib.synthetic import render_index
    imgs, masks = [], []
    for i in range(REGRESSION_FRAMES):
        f = render_index(REGRESSION_SEED, i, look="synth")
        c, side = domains.joint_box(f.uv)
        a, m = domains.cut_sample(f.rgb, f.mask, c, side, size)
        imgs.append(a)
        masks.append(m)
    return domains.Domain("synth regression", np.stack(imgs), np.stack(masks))


def train_run(synth, out, real=None, synth_test=None, size: int = 128, epochs: int = 20,
              steps_per_epoch: int = 20, batch_size: int = 16, save=None, limit=None,
              command: str = "", progress: bool = True) -> dict:
    """The ``train-silnet`` command: train on a rendered set (``synth``) and real photos
    (``real``; default the Sign Language Digits photos, or the real-like stand-in), in
    ``out`` (backups, ``log.csv``), save the model to ``save`` (default
    ``out/silnet.keras``) with its training record, and return the record. IoU is
    measured on ``synth_test`` (a separately seeded rendered set) and on the held-out
    blocks of real photos. Rerunning the same call resumes from the last epoch."""
    from pathlib import Path
    from handlib import domains, files, weights
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: expected a run folder, found a file")
    if not Path(synth).is_dir():
        raise ValueError(f"{synth}: expected a rendered set (make-dataset), found no folder")
    config = {"synth": str(synth), "real": None if real is None else str(real), "size": int(size),
              "epochs": int(epochs), "steps_per_epoch": int(steps_per_epoch),
              "batch_size": int(batch_size), "limit": limit}
    cfg_path = out / "config.json"
    weights.check_run_config(out, config, "train-silnet")
    out.mkdir(parents=True, exist_ok=True)
    files.write_json(cfg_path, config)
    clock_file = out / "wall_time.json"
    before = files.read_json(clock_file, "a wall-time record")["seconds"] if clock_file.is_file() else 0.0
    clock = weights.Stopwatch(before)
    s = domains.synth_domain(synth, size, limit=limit, progress=progress)
    real_train, real_test = domains.real_domain(size, limit=limit, folder=real, progress=progress)
    if len(s) == 0 or len(real_train) == 0:
        raise ValueError(f"train-silnet needs images in both domains: {len(s)} in {synth}, "
                         f"{len(real_train)} real photos kept for training")
    model = build_silnet()
    model.build((None, size, size, 3))
    history = train(model, [s, real_train], epochs, steps_per_epoch, backup_dir=out / "backup",
                    log_csv=out / "log.csv", batch_size=batch_size, seed=0,
                    verbose=1 if progress else 2, callbacks=[weights.wall_clock_callback(clock, clock_file)])
    files.write_json(clock_file, {"seconds": clock.elapsed})
    figures = {"iou_real_held_out": evaluate(model, real_test) if len(real_test) else None}
    if synth_test is not None:
        figures["iou_rendered_held_out"] = evaluate(model, domains.synth_domain(
            synth_test, size, progress=progress))
    figures["regression_iou"] = evaluate(model, regression_domain(size))["mean"]
    save = Path(save) if save is not None else out / "silnet.keras"
    weights.save_model(model, save)
    losses = {k: float(v[-1]) for k, v in history.history.items()} if history.history else {}
    record = {
        "model": "SilNet (handlib.silnet.build_silnet)", "command": command,
        "git_commit": weights.git_commit(), "machine": weights.machine(),
        "data": {"synth": str(synth), "synth_frames": len(s), "real": real_train.name,
                 "real_folder": str(real or domains.real_photos_folder(quiet=True)
                                    or domains.STANDIN_LABEL),
                 "real_train_photos": len(real_train), "real_held_out_photos": len(real_test),
                 "real_held_out_blocks": sorted(set(real_test.groups)),
                 "licences": "rendered: course-made (MIT); Sign Language Digits: Apache-2.0 "
                             "(ardamavi/Sign-Language-Digits-Dataset)"},
        "size": size, "epochs": epochs, "steps_per_epoch": steps_per_epoch,
        "batch_size": batch_size, "images_seen": epochs * steps_per_epoch * batch_size,
        "wall_time_s": round(clock.elapsed, 1), "final_losses": losses, "figures": figures,
    }
    files.write_json(weights.record_path(save), record)
    return record
