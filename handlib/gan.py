"""The GeoConGAN: a CycleGAN whose generators are held to the input's silhouette.

Introduced in ``notebooks/02_geocongan_training.ipynb``.

Two generators translate between the domains of :mod:`handlib.domains`: ``G``
(synth -> real) and ``F`` (real -> synth); two discriminators ``D_real`` and
``D_synth`` tell real images of their domain from generated ones. All images are
(B, S, S, 3) in [-1, 1].

* Generators (:func:`resnet_generator`): c7s1-f, two stride-2 down-samplings (2f, 4f),
  ``blocks`` residual blocks, two up-samplings (nearest resize then a 3x3 convolution,
  not transposed convolutions, which paint a checkerboard), c7s1-3 with tanh; instance
  normalisation (``GroupNormalization(groups=-1)``) and reflection padding. Fully
  convolutional: trained on S x S crops, they translate any image whose sides are
  multiples of 4.
* Discriminators (:func:`patch_discriminator`): the 70x70 PatchGAN (C64-C128-C256-C512,
  4x4 kernels, LeakyReLU 0.2), one logit per overlapping 70x70 patch.
* Losses (:class:`GeoConGAN`): least-squares adversarial (a discriminator's target is 1
  for real, 0 for generated); cycle L1, weight ``cycle_weight`` (10); identity L1,
  weight ``identity_weight`` x ``cycle_weight`` (0.5 x 10); and the **geometric loss**,
  weight ``geo_weight``: the binary cross-entropy between the frozen SilNet's silhouette
  of G(x) and the silhouette of x, and of F(y) and y. ``geo_weight=0`` is a plain CycleGAN.
* Discriminators see generated images through an image pool of 50 (half the time an
  older generated image replaces the new one); Adam 2e-4, beta1 0.5; the learning rate
  is constant for the first half of training and then decays linearly to 0
  (:class:`LinearDecay`, a function of the optimizer's step count, so a resumed run
  continues the schedule).

Training goes through ``fit`` (:func:`train_run` is the ``train-gan`` command): short
epochs with ``BackupAndRestore(double_checkpoint=True)``, so a killed run resumes from
its last epoch. A resume restores the weights, the optimizers (moments, step count and so
the learning rate) and the image pools, but not the data order (the shuffles start anew)
nor the random generators' state.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from handlib import backend

tf = backend.tensorflow()
import keras  # noqa: E402

POOL_SIZE = 50
LOGGED = ("generator", "adversarial", "cycle", "identity", "geometric", "d_real", "d_synth")
"""The losses ``fit`` logs (epoch means)."""


@keras.saving.register_keras_serializable(package="handlib")
class ReflectionPad2D(keras.layers.Layer):
    """Pads height and width by ``pad`` pixels, mirroring the image at its edges
    (no new border values, unlike zero padding): (B, H, W, C) -> (B, H+2p, W+2p, C)."""

    def __init__(self, pad: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.pad = int(pad)

    def call(self, x):
        p = self.pad
        return tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT")

    def compute_output_shape(self, shape):
        grow = lambda n: None if n is None else n + 2 * self.pad  # noqa: E731
        return (shape[0], grow(shape[1]), grow(shape[2]), shape[3])

    def get_config(self):
        return {**super().get_config(), "pad": self.pad}


def _norm(name):
    return keras.layers.GroupNormalization(groups=-1, epsilon=1e-5, name=name)


def resnet_generator(filters: int = 32, blocks: int = 6, name: str = "generator") -> keras.Model:
    """The CycleGAN ResNet generator: (B, H, W, 3) in [-1, 1] -> same shape, tanh.
    H and W must be multiples of 4. ``filters`` is the first layer's width (the widest
    layers have 4x), ``blocks`` the number of residual blocks."""
    inp = keras.Input((None, None, 3), name="image")
    x = ReflectionPad2D(3, name="pad_in")(inp)
    x = keras.layers.Conv2D(filters, 7, name="c7s1")(x)
    x = keras.layers.ReLU()(_norm("c7s1_norm")(x))
    for i, f in enumerate((2 * filters, 4 * filters)):
        x = keras.layers.Conv2D(f, 3, strides=2, padding="same", name=f"down{i}")(x)
        x = keras.layers.ReLU()(_norm(f"down{i}_norm")(x))
    for b in range(blocks):
        y = ReflectionPad2D(1, name=f"res{b}_pad0")(x)
        y = keras.layers.Conv2D(4 * filters, 3, name=f"res{b}_conv0")(y)
        y = keras.layers.ReLU()(_norm(f"res{b}_norm0")(y))
        y = ReflectionPad2D(1, name=f"res{b}_pad1")(y)
        y = keras.layers.Conv2D(4 * filters, 3, name=f"res{b}_conv1")(y)
        x = keras.layers.Add(name=f"res{b}")([x, _norm(f"res{b}_norm1")(y)])
    for i, f in enumerate((2 * filters, filters)):
        # Resize, then convolve: a stride-2 transposed convolution (the original
        # CycleGAN's up-sampling) paints a checkerboard whenever its kernel overlaps
        # unevenly (Odena et al., "Deconvolution and checkerboard artifacts", Distill
        # 2016); our first generators showed it as a fine grid over every translation.
        x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"up{i}_resize")(x)
        x = ReflectionPad2D(1, name=f"up{i}_pad")(x)
        x = keras.layers.Conv2D(f, 3, name=f"up{i}")(x)
        x = keras.layers.ReLU()(_norm(f"up{i}_norm")(x))
    x = ReflectionPad2D(3, name="pad_out")(x)
    out = keras.layers.Conv2D(3, 7, activation="tanh", name="c7s1_out")(x)
    return keras.Model(inp, out, name=name)


def patch_discriminator(filters: int = 64, name: str = "discriminator") -> keras.Model:
    """The 70x70 PatchGAN: (B, H, W, 3) in [-1, 1] -> (B, H/8 - 2, W/8 - 2, 1) logits
    (for H = 128: 14 x 14 patches, each seeing a 70x70 window)."""
    inp = keras.Input((None, None, 3), name="image")
    x = keras.layers.Conv2D(filters, 4, strides=2, padding="same", name="c64")(inp)
    x = keras.layers.LeakyReLU(0.2)(x)
    for i, mult in enumerate((2, 4)):
        x = keras.layers.Conv2D(filters * mult, 4, strides=2, padding="same", name=f"c{i}")(x)
        x = keras.layers.LeakyReLU(0.2)(_norm(f"c{i}_norm")(x))
    x = keras.layers.ZeroPadding2D(1)(x)
    x = keras.layers.Conv2D(filters * 8, 4, name="c512")(x)
    x = keras.layers.LeakyReLU(0.2)(_norm("c512_norm")(x))
    x = keras.layers.ZeroPadding2D(1)(x)
    out = keras.layers.Conv2D(1, 4, name="patch_logits")(x)
    return keras.Model(inp, out, name=name)


@keras.saving.register_keras_serializable(package="handlib")
class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """``rate`` for the first ``decay_start`` steps, then linearly down to 0 at
    ``total_steps`` (CycleGAN's schedule), as a function of the optimizer's step."""

    def __init__(self, rate: float, total_steps: int, decay_start: int | None = None):
        self.rate = float(rate)
        self.total_steps = int(total_steps)
        self.decay_start = int(total_steps // 2 if decay_start is None else decay_start)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        span = float(max(self.total_steps - self.decay_start, 1))
        frac = tf.clip_by_value((step - self.decay_start) / span, 0.0, 1.0)
        return self.rate * (1.0 - frac)

    def get_config(self):
        return {"rate": self.rate, "total_steps": self.total_steps, "decay_start": self.decay_start}


def lsgan_loss(logits, target: float):
    """Least-squares adversarial loss: mean of (logits - target)^2."""
    return tf.reduce_mean(tf.square(logits - target))


def silhouette_bce(prob, mask):
    """Mean binary cross-entropy of SilNet probabilities (B, S, S, 1) against masks in
    {0, 1}. Pixels whose mask is negative (-1: a photo whose silhouette is unknown, see
    :attr:`handlib.domains.Domain.known`) are left out of the mean; 0 when none is known."""
    prob = tf.clip_by_value(prob, 1e-6, 1 - 1e-6)
    mask = tf.cast(mask, prob.dtype)
    known = tf.cast(mask >= 0, prob.dtype)
    bce = -(mask * tf.math.log(prob) + (1 - mask) * tf.math.log(1 - prob))
    return tf.reduce_sum(known * bce) / tf.maximum(tf.reduce_sum(known), 1.0)


class GeoConGAN(keras.Model):
    """Generators ``g`` (synth->real), ``f`` (real->synth), discriminators ``d_real``,
    ``d_synth`` and a frozen ``silnet``; trained with ``fit`` on batches
    ``(synth, synth_mask, real, real_mask)``: images (B, S, S, 3) in [-1, 1], masks
    (B, S, S, 1) in {0, 1}. ``pool_probability`` is the chance that the pool swaps in
    an older image (0 turns the pool's randomness off). See the module docstring."""

    def __init__(self, g, f, d_real, d_synth, silnet, image_size: int, geo_weight: float = 5.0,
                 cycle_weight: float = 10.0, identity_weight: float = 0.5,
                 pool_size: int = POOL_SIZE, pool_probability: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        self.g, self.f, self.d_real, self.d_synth = g, f, d_real, d_synth
        self.silnet = silnet
        self.silnet.trainable = False
        self.geo_weight = float(geo_weight)
        self.cycle_weight = float(cycle_weight)
        self.identity_weight = float(identity_weight)
        self.pool_size = int(pool_size)
        self.pool_probability = float(pool_probability)
        shape = (max(self.pool_size, 1), image_size, image_size, 3)
        self.pool_real = self.add_weight(shape=shape, initializer="zeros", trainable=False,
                                         name="pool_real", aggregation="only_first_replica")
        self.pool_synth = self.add_weight(shape=shape, initializer="zeros", trainable=False,
                                          name="pool_synth", aggregation="only_first_replica")
        self.pool_real_count = self.add_weight(shape=(), initializer="zeros", dtype="int32",
                                               trainable=False, name="pool_real_count",
                                               aggregation="only_first_replica")
        self.pool_synth_count = self.add_weight(shape=(), initializer="zeros", dtype="int32",
                                                trainable=False, name="pool_synth_count",
                                                aggregation="only_first_replica")
        self.trackers = {name: keras.metrics.Mean(name=name) for name in LOGGED}

    @property
    def metrics(self):
        """The epoch means of the logged losses (reset by ``fit`` at each epoch)."""
        return list(self.trackers.values())

    def compile(self, g_optimizer, d_optimizer, **kwargs):
        """Two optimizers: one for both generators, one for both discriminators (built
        here, so that a backup can be restored into them before the first step)."""
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        super().compile(optimizer=g_optimizer, **kwargs)
        self.g_optimizer.build(self.g.trainable_variables + self.f.trainable_variables)
        self.d_optimizer.build(self.d_real.trainable_variables + self.d_synth.trainable_variables)

    def call(self, synth, training=False):
        """Translate synth images to real (G)."""
        return self.g(synth, training=training)

    def _pool(self, images, pool, count):
        """Images for the discriminator (CycleGAN's image pool), one image at a time;
        ``images`` needs a static batch size (``gan_dataset`` drops remainders). Under a
        distribution strategy the pool keeps the first replica's images only (its
        variables aggregate as "only first replica")."""
        if self.pool_size == 0:
            return images
        out = []
        for i in range(images.shape[0]):
            img = images[i]
            n = count.value
            full = n >= self.pool_size
            slot = tf.where(full, tf.random.uniform((), 0, self.pool_size, dtype=tf.int32), n)
            swap = tf.logical_and(full, tf.random.uniform(()) < self.pool_probability)
            old = tf.gather(pool.value, slot)
            out.append(tf.where(swap, old, img))
            keep = tf.where(tf.logical_and(full, tf.logical_not(swap)), old, img)
            pool.assign(tf.tensor_scatter_nd_update(pool.value, slot[None, None], keep[None]))
            count.assign(tf.minimum(n + 1, self.pool_size))
        return tf.stack(out)

    def losses_for(self, synth, synth_mask, real, real_mask, training=True):
        """All generator-side terms for one batch (a dict of scalars and the fakes)."""
        fake_real = self.g(synth, training=training)
        fake_synth = self.f(real, training=training)
        cycle = (tf.reduce_mean(tf.abs(synth - self.f(fake_real, training=training)))
                 + tf.reduce_mean(tf.abs(real - self.g(fake_synth, training=training))))
        identity = (tf.reduce_mean(tf.abs(real - self.g(real, training=training)))
                    + tf.reduce_mean(tf.abs(synth - self.f(synth, training=training))))
        adv = (lsgan_loss(self.d_real(fake_real, training=training), 1.0)
               + lsgan_loss(self.d_synth(fake_synth, training=training), 1.0))
        geo = (silhouette_bce(self.silnet(fake_real, training=False), synth_mask)
               + silhouette_bce(self.silnet(fake_synth, training=False), real_mask))
        total = (adv + self.cycle_weight * cycle
                 + self.identity_weight * self.cycle_weight * identity
                 + self.geo_weight * geo)
        return {"adversarial": adv, "cycle": cycle, "identity": identity, "geometric": geo,
                "generator": total, "fake_real": fake_real, "fake_synth": fake_synth}

    def train_step(self, data):
        synth, synth_mask, real, real_mask = data
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        g_vars = self.g.trainable_variables + self.f.trainable_variables
        d_vars = self.d_real.trainable_variables + self.d_synth.trainable_variables
        with tf.GradientTape() as tape:
            terms = self.losses_for(synth, synth_mask, real, real_mask, training=True)
            scaled = terms["generator"] / replicas
        self.g_optimizer.apply(tape.gradient(scaled, g_vars), g_vars)
        fake_real = self._pool(tf.stop_gradient(terms["fake_real"]), self.pool_real,
                               self.pool_real_count)
        fake_synth = self._pool(tf.stop_gradient(terms["fake_synth"]), self.pool_synth,
                                self.pool_synth_count)
        with tf.GradientTape() as tape:
            d_real = 0.5 * (lsgan_loss(self.d_real(real, training=True), 1.0)
                            + lsgan_loss(self.d_real(fake_real, training=True), 0.0))
            d_synth = 0.5 * (lsgan_loss(self.d_synth(synth, training=True), 1.0)
                             + lsgan_loss(self.d_synth(fake_synth, training=True), 0.0))
            d_scaled = (d_real + d_synth) / replicas
        self.d_optimizer.apply(tape.gradient(d_scaled, d_vars), d_vars)
        values = {k: v for k, v in terms.items() if not k.startswith("fake")}
        values.update(d_real=d_real, d_synth=d_synth)
        for name, tracker in self.trackers.items():
            tracker.update_state(values[name])
        # the epoch's mean of each loss, and the learning rate the *next* step will use
        return {name: t.result() for name, t in self.trackers.items()} | {
            "learning_rate": tf.cast(self.g_optimizer.learning_rate, tf.float32)}


def build_gan(silnet, image_size: int, filters: int = 32, blocks: int = 6,
              disc_filters: int = 64, geo_weight: float = 5.0, total_steps: int = 1000,
              learning_rate: float = 2e-4, pool_probability: float = 0.5,
              pool_size: int = POOL_SIZE) -> GeoConGAN:
    """A compiled :class:`GeoConGAN` with fresh generators and discriminators."""
    model = GeoConGAN(resnet_generator(filters, blocks, "g_synth_to_real"),
                      resnet_generator(filters, blocks, "f_real_to_synth"),
                      patch_discriminator(disc_filters, "d_real"),
                      patch_discriminator(disc_filters, "d_synth"), silnet, image_size,
                      geo_weight=geo_weight, pool_probability=pool_probability, pool_size=pool_size)
    shape = (None, image_size, image_size, 3)
    for net in (model.g, model.f, model.d_real, model.d_synth):
        net.build(shape)
    model.build(shape)
    model.compile(g_optimizer=keras.optimizers.Adam(LinearDecay(learning_rate, total_steps), beta_1=0.5),
                  d_optimizer=keras.optimizers.Adam(LinearDecay(learning_rate, total_steps), beta_1=0.5))
    return model


def gan_dataset(synth, real, batch_size: int = 1, seed: int = 0, mirror: bool = True):
    """Endless ``tf.data`` batches ``(synth, synth_mask, real, real_mask)`` from two
    :class:`handlib.domains.Domain` objects, each shuffled on its own and mirrored at
    random (appearance does not depend on the hand's side). Batches have a fixed size
    (``drop_remainder``). The crops stay uint8 in memory (a float32 copy of 3,000 crops
    at 128 px would take 590 MB); each is scaled to [-1, 1] as it is drawn. Masks are
    float32 in {0, 1}, and -1 everywhere for a crop whose silhouette is unknown
    (``Domain.known``), which :func:`silhouette_bce` leaves out."""
    from handlib.domains import to_gan_tensors

    def scale(image, mask, known):
        x, m = to_gan_tensors(image, mask)
        return x, tf.where(known, m, -tf.ones_like(m))

    def one(d, s):
        ds = tf.data.Dataset.from_tensor_slices((d.images, d.masks[..., None], d.mask_known()))
        ds = ds.shuffle(len(d), seed=s, reshuffle_each_iteration=True).repeat()
        ds = ds.map(scale, num_parallel_calls=tf.data.AUTOTUNE)
        if mirror:
            def flip(x, m):
                c = tf.random.uniform(()) < 0.5
                return tf.where(c, tf.reverse(x, [1]), x), tf.where(c, tf.reverse(m, [1]), m)
            ds = ds.map(flip, num_parallel_calls=tf.data.AUTOTUNE)
        return ds
    ds = tf.data.Dataset.zip((one(synth, seed), one(real, seed + 1)))
    ds = ds.map(lambda a, b: (a[0], a[1], b[0], b[1]))
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def translate(generator, images: np.ndarray, batch_size: int = 8) -> np.ndarray:
    """Translate uint8 RGB images (N, H, W, 3) (H, W multiples of 4) -> uint8 RGB."""
    from handlib.domains import from_gan, to_gan
    if len(images) == 0:
        return np.zeros_like(images)
    out = [np.asarray(generator(to_gan(images[i:i + batch_size]), training=False))
           for i in range(0, len(images), batch_size)]
    return from_gan(np.concatenate(out))


class SampleTranslations(keras.callbacks.Callback):
    """Every ``every`` steps, write a PNG (atomically) of fixed examples: synth, G(synth),
    real, F(real), one column each, to ``folder/step_NNNNNN.png``."""

    def __init__(self, folder, synth: np.ndarray, real: np.ndarray, every: int = 200):
        super().__init__()
        self.folder, self.every = Path(folder), int(every)
        self.synth, self.real = synth, real

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.g_optimizer.iterations.numpy())
        if step % self.every == 0:
            self.write(step)

    def write(self, step: int):
        from handlib import images
        rows = [np.concatenate(list(x), axis=1) for x in
                (self.synth, translate(self.model.g, self.synth),
                 self.real, translate(self.model.f, self.real))]
        images.write_image(self.folder / f"step_{step:06d}.png", np.concatenate(rows, axis=0))


RUN_CONFIG = "config.json"


def train_run(synth, out, real=None, silnet_path=None, geo_weight: float = 5.0, size: int = 128,
              steps: int = 4000, steps_per_epoch: int = 25, batch_size: int = 1,
              filters: int = 32, blocks: int | None = None, disc_filters: int = 64,
              sample_every: int = 250, limit: int | None = None, save=None, command: str = "",
              seed: int = 0, progress: bool = True, letters: bool = False) -> dict:
    """The ``train-gan`` command. Trains in ``out`` (``config.json``, ``backup/``,
    ``log.csv``, ``samples/``), then saves the generators as ``out/g_synth_to_real.keras``
    and ``out/f_real_to_synth.keras`` (and G also to ``save`` when given, with the log as
    ``SAVE.log.csv``) with a training record beside each. Rerunning the same call
    resumes; a different one raises ValueError.
    ``blocks`` defaults to 6 at 128 px and above, 3 below. ``letters``: widen the real
    domain with the ASL letters' ``train/`` photos (hands in rooms,
    :func:`handlib.domains.letters_domain`, always from ``HANDLIB_REALDATA_DIR``, whatever
    ``real`` says; ``limit`` applies to them separately); no silhouette is known for them,
    so the geometric loss's real->synth term sees only the keyed photos: it is zero on the
    steps that draw a letters photo (at batch 1, about 4 steps in 10 with the digits), so
    the logged ``geometric`` loss is not comparable with a run without them."""
    from handlib import domains, files, weights
    from handlib import silnet as silnet_mod  # noqa: F401  (registers SilNet's layers before loading it)
    out = Path(out)
    blocks = blocks if blocks is not None else (6 if size >= 128 else 3)
    silnet_path = Path(silnet_path) if silnet_path is not None else weights.weights_path("silnet")
    config = {"synth": str(synth), "real": None if real is None else str(real),
              "silnet": str(silnet_path), "geo_weight": float(geo_weight), "size": int(size),
              "steps": int(steps), "steps_per_epoch": int(steps_per_epoch),
              "batch_size": int(batch_size), "filters": int(filters), "blocks": int(blocks),
              "disc_filters": int(disc_filters), "limit": limit, "seed": int(seed),
              "upsampling": "resize-conv"}   # runs from before the change used transposed convs
    if letters:                     # only when set: earlier runs' configs stay valid
        config["real_letters"] = True
    if size % 8:
        raise ValueError(f"size must be a multiple of 8, got {size}")
    if steps % steps_per_epoch:
        raise ValueError(f"steps ({steps}) must be a multiple of steps per epoch ({steps_per_epoch})")
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: expected a run folder, found a file")
    cfg_path = out / RUN_CONFIG
    weights.check_run_config(out, config, "train-gan")
    if save is not None and Path(save).suffix != ".keras":
        raise ValueError(f"--save must name a .keras file, got {save}")
    finished = out / "g_synth_to_real.keras"
    if cfg_path.is_file() and finished.is_file() and weights.record_path(finished).is_file():
        record = files.read_json(weights.record_path(finished), "a training record")
        if "figures" not in record:     # a run finished before records carried figures:
            figures = regression_figures(weights.load_model(finished),   # add them (with the
                                         weights.load_model(silnet_path), size)  # run's SilNet path)
            for net in ("g_synth_to_real", "f_real_to_synth"):
                path = weights.record_path(out / f"{net}.keras")
                if path.is_file():
                    files.write_json(path, files.read_json(path, "a training record") | {"figures": figures})
            record["figures"] = figures
        if save is not None:
            _ship(finished, out / "log.csv", Path(save))
        return record          # a finished run: nothing to train, no weights rewritten
    if not Path(synth).is_dir():
        raise ValueError(f"{synth}: expected a rendered set (make-dataset), found no folder")
    sil = weights.load_model(silnet_path)
    s = domains.synth_domain(synth, size, limit=limit, progress=progress)
    real_train, _ = domains.real_domain(size, limit=limit, folder=real, progress=progress)
    letters_report = None
    if letters:
        extra, letters_report = domains.letters_domain(size, limit=limit, progress=progress)
        if len(extra) == 0:
            raise ValueError("--real-letters needs the ASL letters' photos under "
                             f"{files.realdata_dir(quiet=True) or 'HANDLIB_REALDATA_DIR'}"
                             f"/{domains.LETTERS_PHOTOS}; found none")
        if real_train.name == domains.STANDIN_LABEL:
            print(f"warning: --real-letters mixes the letters' photos with the {domains.STANDIN_LABEL} "
                  "(no keyed photos found)")
        real_train = domains.join_domains(f"{real_train.name} + letters", real_train, extra)
    if len(s) == 0 or len(real_train) == 0:
        raise ValueError(f"train-gan needs images in both domains: {len(s)} in {synth}, "
                         f"{len(real_train)} real photos kept for training from "
                         f"{real or domains.real_photos_folder(quiet=True) or 'the stand-in'}")
    out.mkdir(parents=True, exist_ok=True)
    files.write_json(cfg_path, config)
    keras.utils.set_random_seed(seed)
    model = build_gan(sil, size, filters, blocks, disc_filters, geo_weight, total_steps=steps)
    clock_file = out / "wall_time.json"
    before = files.read_json(clock_file, "a wall-time record")["seconds"] if clock_file.is_file() else 0.0
    clock = weights.Stopwatch(before)
    pick = np.linspace(0, len(s) - 1, 4).astype(int), np.linspace(0, len(real_train) - 1, 4).astype(int)
    from handlib.training_callbacks import StopOnNaN
    callbacks = [
        StopOnNaN(LOGGED),                   # first: before BackupAndRestore saves an epoch
        keras.callbacks.BackupAndRestore(str(out / "backup"), double_checkpoint=True,
                                         delete_checkpoint=False),
        keras.callbacks.CSVLogger(str(out / "log.csv"), append=True),
        SampleTranslations(out / "samples", s.images[pick[0]], real_train.images[pick[1]], sample_every),
        weights.wall_clock_callback(clock, clock_file),
    ]
    history = model.fit(gan_dataset(s, real_train, batch_size, seed), epochs=steps // steps_per_epoch,
                        steps_per_epoch=steps_per_epoch, callbacks=callbacks, shuffle=False,
                        verbose=1 if progress else 2)
    losses = {k: float(v[-1]) for k, v in history.history.items()} if history.history else {}
    record = {
        "model": "GeoConGAN generator (handlib.gan.resnet_generator)", "command": command,
        "config": config, "git_commit": weights.git_commit(), "machine": weights.machine(),
        "data": {"synth": str(synth), "synth_frames": len(s), "real": real_train.name,
                 "real_folder": str(real or domains.real_photos_folder(quiet=True)
                                    or domains.STANDIN_LABEL),
                 "real_train_photos": len(real_train),
                 "licences": "rendered: course-made (MIT); Sign Language Digits: Apache-2.0 "
                             "(ardamavi/Sign-Language-Digits-Dataset)"
                             + ("; ASL letters: public domain per its export (David Lee / "
                                "Roboflow Universe)" if letters else "")}
                | ({"letters": letters_report} if letters else {}),
        "images_seen": steps * batch_size, "wall_time_s": round(clock.elapsed, 1),
        "final_losses": losses,
        "not_restored_on_resume": "data order (shuffles restart), random generator state",
        "logged_losses": "epoch means; learning_rate is the rate of the step after the epoch",
        "figures": regression_figures(model.g, sil, size),
    }
    for net in (model.g, model.f):
        path = out / f"{net.name}.keras"
        weights.save_model(net, path)
        files.write_json(weights.record_path(path), record | {"direction": net.name})
    if save is not None:
        _ship(out / f"{model.g.name}.keras", out / "log.csv", Path(save))
    return record


def regression_figures(generator, sil, size: int) -> dict:
    """Figures of a synth->real ``generator`` on the fixed, seeded rendered set of the
    regression tests (:func:`handlib.silnet.regression_domain`, 24 frames cut at ``size``):
    the mean IoU between the frozen SilNet's silhouette of G(x) and x's exact mask (what
    the geometric loss optimised), the keying judge's mean IoU and the share of
    translations where it finds no hand, and the mean absolute change G(x) - x in uint8
    levels (how far the look moved). Stored in the training record as ``figures``."""
    from handlib import silnet
    from handlib.real_photos import key_silhouettes      # the keying judge (gan_evaluation.judge)
    d = silnet.regression_domain(size)
    fake = translate(generator, d.images)
    judged = key_silhouettes(fake)
    return {"set": f"silnet.regression_domain({size}): {len(d)} synth frames of seed "
                   f"{silnet.REGRESSION_SEED}",
            "figures_of": "g_synth_to_real",
            "silnet_iou": float(silnet.iou(silnet.predict(sil, fake) > 0.5, d.masks).mean()),
            "judge_iou": float(silnet.iou(judged, d.masks).mean()),
            "judge_no_hand_found": float(1 - judged.any(axis=(1, 2)).mean()),
            "mean_abs_change": float(np.abs(fake.astype(np.float32) - d.images).mean())}


def _ship(model_file: Path, log: Path, save: Path) -> None:
    """Copy a run's generator, its record and its log to ``save`` (atomically)."""
    import shutil
    from handlib import files, weights
    for src, dst in ((model_file, save), (weights.record_path(model_file), weights.record_path(save)),
                     (log, save.with_suffix(".log.csv"))):
        with files.atomic_path(dst) as tmp:
            shutil.copyfile(src, tmp)
