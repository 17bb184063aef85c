"""Training RegNet (:mod:`handlib.pose_network`): the ``train-regnet`` command, its data
mixing, resuming and distribution, and the paper's ablation (``compare-regnet``). How a
trained RegNet is measured lives in :mod:`handlib.pose_evaluation`.

Introduced in ``notebooks/03_regnet_training.ipynb``.

A run lives in a folder: ``config.json`` (the settings; a different command refuses to
resume it), ``backup/`` (``BackupAndRestore``: rerunning the same command after a kill
continues from the last finished epoch), ``log.csv`` (each epoch's loss terms and
errors, training and validation), ``tensorboard/`` and, at the end, ``regnet.keras``
with its training record ``regnet.json``.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from handlib import backend
from handlib import pipeline as pl
from handlib import pose_network as pn
from handlib.training_callbacks import StopOnNaN, TrainingDiverged  # noqa: F401  (re-exported)
from handlib.pose_evaluation import (_labels, baseline_predictions, mean_pose, predict_batches,
                                     real_yardstick, regression_figures)

tf = backend.tensorflow()
import keras  # noqa: E402

STRATEGIES = ("default", "mirrored", "multiworker")


def make_strategy(name: str):
    """A ``tf.distribute`` strategy: "default" (one device), "mirrored" (every local GPU,
    or the logical devices configured before TensorFlow started), "multiworker" (one
    replica per machine listed in the ``TF_CONFIG`` environment variable)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        import os
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--strategy multiworker needs the TF_CONFIG environment variable "
                             "(the cluster's workers and this worker's index; see the README)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}")


def split_sources(data_dirs, limit: int | None = None, val_fraction: float = 0.1):
    """Open each folder (any layout :func:`handlib.datasets.open_dataset` reads, or a peer
    cache file: :func:`handlib.peer_reference.teacher_samples`) and split
    it by sequence (:func:`handlib.splits.split_by_sequence`; a rendered set's sequences
    are its 1,024-frame partitions, whose frames are independent draws).
    Returns [(folder, train samples, validation samples)]."""
    from handlib import datasets, peer_reference, splits
    out = []
    for d in data_dirs:
        if Path(d).suffix == ".json":       # a peer cache: a teacher's 2D on real photos
            samples = peer_reference.teacher_samples(d, limit=limit)
        else:
            samples = datasets.open_dataset(d, limit=limit)
        if not samples:
            raise ValueError(f"{d}: no labelled frames found")
        train, val, _ = splits.split_by_sequence(samples, val_fraction=val_fraction, test_fraction=0.0)
        if not train:
            train, val = samples, []
        out.append((str(d), train, val))
    return out


def mixed_dataset(sources, config: pl.PipelineConfig, mix=None, seed: int = 0):
    """One repeating ``tf.data`` stream of training batches drawn from several sets,
    sample by sample, with probabilities ``mix`` (default: equal)."""
    streams = []
    for i, samples in enumerate(sources):
        cfg = pl.PipelineConfig(**{**config.__dict__, "batch_size": 32, "seed": seed + i})
        streams.append(pl.make_pipeline(samples, cfg, repeat=True).unbatch())
    w = np.ones(len(streams)) if mix is None else np.asarray(mix, np.float64)
    if len(w) != len(streams) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"mix must give one non-negative weight per data folder, got {mix}")
    ds = streams[0] if len(streams) == 1 else tf.data.Dataset.sample_from_datasets(
        streams, weights=list(w / w.sum()), seed=seed)
    return ds.batch(config.batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


NO_PHOTOS = ("domain-adversarial training needs real photos: none found (the Sign Language "
             "Digits or the ASL letters under HANDLIB_REALDATA_DIR, default ../shared/realdata; "
             "see the README)")


def domain_photo_stream(input_size: int, batch_size: int, seed: int = 0, limit: int | None = None,
                        per_photo: int = 2, progress: bool = True, framing: str = "inside"):
    """A repeating ``tf.data`` stream of unlabelled real crops (B, S, S, 3) float32 in
    [0, 1] for domain-adversarial training (:func:`handlib.domains.regnet_photo_crops`,
    framed as the renders' loose crops, kept inside the photo or padded (``framing``), cut once; each pass shuffles them and jitters
    their colour). Returns ``(dataset, number of crops)``; a ValueError where no real
    photos are found (``HANDLIB_REALDATA_DIR``)."""
    from handlib import domains
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    crops = domains.regnet_photo_crops(input_size, per_photo=per_photo, seed=seed,
                                       limit=limit, progress=progress, framing=framing)
    if len(crops) == 0:
        raise ValueError(NO_PHOTOS)

    def jitter(image, s):
        image = tf.cast(image, tf.float32) / 255.0
        image = tf.image.stateless_random_brightness(image, 0.1, s)
        image = tf.image.stateless_random_contrast(image, 0.8, 1.2, s + 1)
        return tf.clip_by_value(image, 0.0, 1.0)

    ds = tf.data.Dataset.from_tensor_slices(crops).repeat().shuffle(min(len(crops), 4096), seed=seed)
    seeds = tf.data.Dataset.random(seed=seed).batch(2)
    ds = tf.data.Dataset.zip((ds, seeds)).map(jitter, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE), len(crops)


AUGMENT_OPTIONS = ("crop_range", "shift_jitter", "appearance")
"""The augmentation settings ``train-regnet`` can change (:class:`handlib.pipeline.PipelineConfig`)."""


def check_augment(augment: dict | None) -> dict:
    """``augment`` checked: only :data:`AUGMENT_OPTIONS`; ``crop_range`` two box sides in
    units of the joints' extent, 1 <= lo <= hi <= 4; ``shift_jitter`` 0-0.5 of the box side;
    ``appearance`` 0-1. Returns a plain dict for JSON (empty when nothing is changed)."""
    out = {}
    for k, v in (augment or {}).items():
        if k not in AUGMENT_OPTIONS:
            raise ValueError(f"unknown augmentation setting {k!r}; expected one of {AUGMENT_OPTIONS}")
        if k == "crop_range":
            lo, hi = (float(x) for x in v)
            if not (np.isfinite(lo) and np.isfinite(hi) and 1.0 <= lo <= hi <= 4.0):
                raise ValueError(f"crop_range must be two box sides 1 <= lo <= hi <= 4 (times the "
                                 f"joints' extent), got {list(v)}")
            out[k] = [lo, hi]
        else:
            x, top = float(v), (0.5 if k == "shift_jitter" else 1.0)
            if not (np.isfinite(x) and 0.0 <= x <= top):
                raise ValueError(f"{k} must be between 0 and {top}, got {v}")
            out[k] = x
    return out


def build_trainer(input_size: int, trunk: str, lr: float, steps: int, imagenet: bool = True,
                  loss_weights=None, domain_weight: float = 0.0):
    """A compiled :class:`handlib.pose_network.RegNetTrainer` (Adam; the learning rate
    rises linearly over the first 5 % of ``steps`` (at most 200), then follows a cosine
    decay: a function of ``optimizer.iterations``, so a resumed run continues the
    schedule)."""
    net = pn.build_regnet(input_size, trunk, imagenet=imagenet)
    trainer = pn.RegNetTrainer(net, loss_weights, domain_weight=domain_weight, domain_steps=steps)
    warmup = min(200, max(int(steps) // 20, 1))
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=max(int(steps) - warmup, 1), alpha=0.05, warmup_target=lr, warmup_steps=warmup)
    trainer.compile(optimizer=keras.optimizers.Adam(schedule))
    trainer.optimizer.build(trainer.train_variables())   # so a backup can be restored
    return trainer


def train_run(data, out, trunk: str = "compact", input_size: int = 128, steps: int = 2000,
              batch_size: int = 16, steps_per_epoch: int = 50, strategy: str = "default",
              mixed_precision: bool = False, mix=None, lr: float = 1e-3, seed: int = 0,
              limit: int | None = None, val_samples: int = 128, validation_freq: int = 5,
              save=None, imagenet: bool = True, command: str = "", progress: bool = True,
              callbacks=(), loss_weights: dict | None = None, augment: dict | None = None,
              domain_weight: float = 0.0, domain_framing: str = "inside") -> dict:
    """The ``train-regnet`` command: train RegNet on the folders ``data`` (mixed by
    ``mix``) in the run folder ``out``; save ``out/regnet.keras`` with its training record
    (and a copy to ``save``); return the record. Rerunning the same call resumes.
    ``callbacks``: extra Keras callbacks (a notebook's live plot). ``loss_weights``:
    weights of the loss terms by name (:data:`handlib.pose_network.LOSS_WEIGHTS`; those
    not given keep their defaults), recorded in ``config.json`` and the training record.
    ``augment``: augmentation settings that differ from
    :class:`handlib.pipeline.PipelineConfig`'s defaults (:data:`AUGMENT_OPTIONS`: the
    real-hand experiments' ``crop_range``, ``shift_jitter``, ``appearance``), recorded too.
    ``domain_weight`` > 0: domain-adversarial training against unlabelled crops of the
    real photos outside the yardstick's frozen subsets (:func:`domain_photo_stream`, their
    boxes kept inside the photos or padded: ``domain_framing``;
    :class:`handlib.pose_network.RegNetTrainer`), recorded too; a ValueError where no
    photos are found. Every setting is checked before anything is written; a run whose loss becomes NaN
    raises :class:`TrainingDiverged` and saves no model."""
    from handlib import files, weights
    out = Path(out)
    data = [str(d) for d in data]
    loss_weights = pn.check_loss_weights(loss_weights)
    if not (np.isfinite(lr) and 0 < lr):
        raise ValueError(f"the learning rate must be a finite number above 0, got {lr}")
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    if strategy == "multiworker" and "TF_CONFIG" not in os.environ:
        raise ValueError("--strategy multiworker needs the TF_CONFIG environment variable "
                         "(the cluster's workers and this worker's index; see the README)")
    if mix is not None:
        m = np.asarray(mix, np.float64)
        if m.shape != (len(data),) or not np.all(np.isfinite(m)) or np.any(m < 0) or m.sum() <= 0:
            raise ValueError(f"mix must give one finite weight, 0 or more, per data folder "
                             f"({len(data)}), not all zero; got {list(mix)}")
    augment = check_augment(augment)
    if not (np.isfinite(domain_weight) and domain_weight >= 0):
        raise ValueError(f"domain_weight must be a finite number, 0 or more, got {domain_weight}")
    if domain_weight > 0:
        from handlib import domains
        if trunk != "compact":
            raise ValueError("domain-adversarial training needs the compact trunk: the ResNet-50 trunk's "
                             "batch norm normalises each batch by its own statistics, so photo batches "
                             "would be normalised apart from the renders and shift its averages")
        if domain_framing not in domains.PHOTO_FRAMINGS:
            raise ValueError(f"domain_framing must be one of {domains.PHOTO_FRAMINGS}, got {domain_framing!r}")
        if not domains.regnet_photo_folders():
            raise ValueError(NO_PHOTOS)
    config = {"data": data, "mix": None if mix is None else [float(m) for m in mix],
              "trunk": trunk, "input_size": int(input_size), "steps": int(steps),
              "batch_size": int(batch_size), "steps_per_epoch": int(steps_per_epoch),
              "strategy": strategy, "mixed_precision": bool(mixed_precision), "lr": float(lr),
              "seed": int(seed), "limit": limit, "imagenet": bool(imagenet),
              "loss_weights": loss_weights}
    if augment:             # only when given, so that older run folders still resume
        config["augment"] = augment
    if domain_weight > 0:   # the same
        config["domain_weight"] = float(domain_weight)
        if domain_framing != "padded":   # the first domain-adversarial runs padded
            config["domain_framing"] = domain_framing
    if trunk not in pn.TRUNKS:
        raise ValueError(f"trunk must be one of {pn.TRUNKS}, got {trunk!r}")
    if steps % steps_per_epoch:
        raise ValueError(f"steps ({steps}) must be a multiple of steps per epoch ({steps_per_epoch})")
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: expected a run folder, found a file")
    if save is not None and Path(save).suffix != ".keras":
        raise ValueError(f"--save must name a .keras file, got {save}")
    weights.check_run_config(out, config, "train-regnet")
    finished = out / "regnet.keras"
    if finished.is_file() and weights.record_path(finished).is_file():
        if save is not None:
            _ship(finished, out / "log.csv", Path(save))
        return files.read_json(weights.record_path(finished), "a training record")
    commit_at_start = weights.git_commit()      # the code that trains (this sitting's start)
    sources = split_sources(data, limit=limit)
    out.mkdir(parents=True, exist_ok=True)
    files.write_json(out / "config.json", config)
    previous_policy = keras.mixed_precision.global_policy().name
    if mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        return _train(out, config, sources, command, commit_at_start, trunk, input_size, steps,
                      batch_size, steps_per_epoch, strategy, mixed_precision, mix, lr, seed,
                      val_samples, validation_freq, save, imagenet, progress, callbacks)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)


def _train(out, config, sources, command, commit_at_start, trunk, input_size, steps, batch_size,
           steps_per_epoch, strategy, mixed_precision, mix, lr, seed, val_samples,
           validation_freq, save, imagenet, progress, callbacks):
    from handlib import files, weights
    finished = out / "regnet.keras"
    keras.utils.set_random_seed(seed)
    strat = make_strategy(strategy)
    # a resumed sitting draws other batches than the first (the data order is not restored)
    meta = out / "backup" / "training_metadata.json"
    start = int(files.read_json(meta, "a backup's metadata").get("epoch", 0)) if meta.is_file() else 0
    data_seed = seed + 7919 * start
    cfg = pl.PipelineConfig(input_size=input_size, heatmap_size=input_size // 4,
                            batch_size=batch_size * strat.num_replicas_in_sync, seed=data_seed,
                            **{k: (tuple(v) if k == "crop_range" else v)
                               for k, v in config.get("augment", {}).items()})
    train_ds = mixed_dataset([s[1] for s in sources], cfg, mix, data_seed)
    domain_weight = config.get("domain_weight", 0.0)
    photos = 0
    if domain_weight > 0:
        real_batch = max(batch_size * strat.num_replicas_in_sync // 2, strat.num_replicas_in_sync)
        real, photos = domain_photo_stream(input_size, real_batch,
                                           seed=data_seed, limit=config["limit"], progress=progress,
                                           framing=config.get("domain_framing", "padded"))
        train_ds = tf.data.Dataset.zip((train_ds, real)).map(
            lambda batch, r: (batch[0], {**batch[1], "real_image": r}))
    val = [x for s in sources for x in s[2]]
    val_ds, val_steps = None, None
    if val and val_samples > 0:
        rng = np.random.default_rng(seed)
        val = [val[i] for i in sorted(rng.choice(len(val), min(val_samples, len(val)), replace=False))]
        vcfg = pl.PipelineConfig(**{**cfg.__dict__, "augment": False, "shuffle": False})
        val_ds = pl.make_pipeline(val, vcfg)
        val_steps = int(np.ceil(len(val) / vcfg.batch_size))
    with strat.scope():
        trainer = build_trainer(input_size, trunk, lr, steps, imagenet, config["loss_weights"],
                                domain_weight)
    clock_file = out / "wall_time.json"
    before = files.read_json(clock_file, "a wall-time record")["seconds"] if clock_file.is_file() else 0.0
    clock = weights.Stopwatch(before)
    callbacks = [
        StopOnNaN(),                         # first: before BackupAndRestore saves an epoch
        keras.callbacks.BackupAndRestore(str(out / "backup"), double_checkpoint=True,
                                         delete_checkpoint=False),
        keras.callbacks.CSVLogger(str(out / "log.csv"), append=True),
        keras.callbacks.TensorBoard(str(out / "tensorboard"), update_freq="epoch",
                                    write_graph=False),
        weights.wall_clock_callback(clock, clock_file),
        *callbacks,
    ]
    pose = mean_pose([s[1] for s in sources], input_size, mix, seed=seed)
    history = trainer.fit(train_ds, epochs=steps // steps_per_epoch, steps_per_epoch=steps_per_epoch,
                          validation_data=val_ds, validation_steps=val_steps,
                          validation_freq=validation_freq, callbacks=callbacks,
                          verbose=1 if progress else 2)
    losses = {k: float(v[-1]) for k, v in history.history.items()} if history.history else {}
    net = trainer.net
    if not all(np.all(np.isfinite(w)) for w in net.get_weights()):
        raise TrainingDiverged("training diverged: the network's weights are not finite; "
                               "no model was saved (try a lower --lr, in a new --out)")
    if mixed_precision:       # ship a float32 model: the same weights, portable to any CPU
        keras.mixed_precision.set_global_policy("float32")
        plain = pn.build_regnet(input_size, trunk, imagenet=False)
        plain.set_weights(net.get_weights())
        net = plain
    record = {
        "model": f"RegNet ({trunk} trunk, {input_size}x{input_size} input, "
                 f"{input_size // 4}x{input_size // 4} heatmaps, left hands)",
        "command": command, "config": config, "git_commit": commit_at_start,
        "machine": weights.machine(),
        "data": {d: {"train_frames": len(tr), "validation_frames": len(va)} for d, tr, va in sources},
        "licences": "rendered and GANerated sets: course-made (MIT); EfficientNet-Lite0 "
                    "ImageNet weights: Apache-2.0 (data/weights/efficientnet_lite0_imagenet.LICENSE)"
                    + ("; unlabelled real photos (domain-adversarial): Sign Language Digits "
                       "(Apache-2.0), ASL letters train/ (public domain; CC BY 4.0 David Lee / "
                       "Roboflow)" if domain_weight > 0 else ""),
        "images_seen": int(steps * batch_size * strat.num_replicas_in_sync),
        **({"domain_photos": {"crops": photos, "per_step": real_batch}}
           if domain_weight > 0 else {}),
        "optimizer_steps": int(trainer.optimizer.iterations.numpy()),
        "wall_time_s": round(clock.elapsed, 1), "final_losses": losses,
        "not_restored_on_resume": "the data order: a resumed sitting draws from a stream seeded "
                                  "by its starting epoch",
        "logged_losses": "epoch means of each loss term; val_* on held-out partitions, no augmentation",
        "figures": regression_figures(net, pose),
        "mean_pose": pose,
    }
    weights.save_model(net, finished)
    files.write_json(weights.record_path(finished), record)
    if save is not None:
        _ship(finished, out / "log.csv", Path(save))
    return record


def _ship(model_file: Path, log: Path, save: Path) -> None:
    """Copy a run's model, its record and its log to ``save`` (atomically)."""
    import shutil

    from handlib import files, weights
    for src, dst in ((model_file, save), (weights.record_path(model_file), weights.record_path(save)),
                     (log, save.with_suffix(".log.csv"))):
        if src.is_file():
            with files.atomic_path(dst) as tmp:
                shutil.copyfile(src, tmp)


# ------------------------------------------------------------- predictions and figures
# ------------------------------------------------------------------------- ablation
def ablation_run(synth, ganerated, test, runs, out="data/results/regnet_ablation",
                 steps: int = 1200, batch_size: int = 32, input_size: int = 128,
                 steps_per_epoch: int = 50, real_every: int = 2, real_limit: int | None = None,
                 command: str = "", progress: bool = True, loss_weights: dict | None = None) -> dict:
    """The paper's ablation (the ``compare-regnet`` command): two RegNets trained alike
    (same steps, batch, seed, schedule) on ``synth`` alone and on ``synth`` + ``ganerated``
    (equal mix), each in its own resumable run folder under ``runs``; both are measured on
    the held-out ``test`` set (rendered, ``real-like`` look) and on the two real checks
    (:mod:`handlib.real_checks`, where the real data exist). Figures go to ``OUT.json``
    and the PCK curves on the test set to ``OUT.png`` (course-made images only)."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from handlib import datasets, files, real_checks, visualisation
    from handlib import weights as wts
    arms = {"synth": [synth], "synth+GANerated": [synth, ganerated]}
    loss_weights = pn.check_loss_weights(loss_weights)
    result = {"command": command, "steps": steps, "batch_size": batch_size, "input_size": input_size,
              "loss_weights": loss_weights, "test": str(test), "arms": {}}
    from handlib import metrics
    samples = datasets.open_dataset(test)
    gt_uv, gt, bone, vis = _labels(samples)
    for name, data in arms.items():
        run = Path(runs) / f"ablation-{name.replace('+', '-')}"
        record = train_run(data, run, input_size=input_size, steps=steps, batch_size=batch_size,
                           steps_per_epoch=steps_per_epoch, command=command, progress=progress,
                           loss_weights=loss_weights)
        model = wts.load_model(run / "regnet.keras")
        p = predict_batches(model, samples)
        entry = {"run": str(run), "wall_time_s": record["wall_time_s"],
                 "images_seen": record["images_seen"],
                 "test": metrics.evaluate(p["pred_uv_image"], gt_uv, p["pred_xyz_camera"], gt, bone, vis)["all"]}
        buv, bxyz = baseline_predictions(record["mean_pose"], p["targets"], input_size)
        result.setdefault("mean_pose_test", metrics.evaluate(buv, gt_uv, bxyz, gt, bone, vis)["all"])
        v = real_checks.video_agreement(model, record["mean_pose"], every=real_every, limit=real_limit)
        if v is not None:
            entry["video_agreement"] = {k: v[k] for k in ("frames", "unit")} | {
                "regnet_mean": v["regnet"]["mean"], "mean_pose_mean": v["mean_pose"]["mean"]}
        b = real_checks.letters_inside_box(model, record["mean_pose"], limit=real_limit)
        if b is not None:
            entry["letters_inside_box"] = {k: b[k] for k in ("photos", "regnet", "mean_pose",
                                                             "all_at_crop_centre")}
        real = real_yardstick(run / "regnet.keras", name, run / "real_evaluation", limit=real_limit)
        if real is not None:
            entry["real_yardstick"] = real
        result["arms"][name] = entry
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    curves = {name: e["test"] for name, e in result["arms"].items()} | {"mean pose": result["mean_pose_test"]}
    visualisation.plot_pck({k: c["2d"] for k, c in curves.items()}, "2d", ax=axes[0],
                           title=f"2D PCK, {Path(test).name}")
    visualisation.plot_pck({k: c["3d"] for k, c in curves.items()}, "3d", ax=axes[1],
                           title=f"3D PCK, {Path(test).name}")
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with files.atomic_path(out.with_suffix(".png"), suffix=".png") as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)
    files.write_json(out.with_suffix(".json"), result)
    return result


def format_ablation(result) -> str:
    """A Markdown table of :func:`ablation_run`'s figures."""
    rows = ["| training data | 2D EPE (px) | 3D EPE (mm) | 3D AUC 20-50 mm | video agreement (hand sizes, lower is better) | joints inside the box |",
            "|---|---|---|---|---|---|"]
    for name, e in result["arms"].items():
        v = e.get("video_agreement", {})
        b = e.get("letters_inside_box", {})
        rows.append(f"| {name} | {e['test']['2d']['epe_mean_px']:.1f} | {e['test']['3d']['epe_mean_mm']:.1f} | "
                    f"{e['test']['3d']['auc_20_50mm']:.3f} | {v.get('regnet_mean', float('nan')):.3f} | "
                    f"{100 * b.get('regnet', float('nan')):.0f} % |")
    m = result["mean_pose_test"]
    first = next(iter(result["arms"].values()))
    rows.append(f"| mean pose (baseline) | {m['2d']['epe_mean_px']:.1f} | {m['3d']['epe_mean_mm']:.1f} | "
                f"{m['3d']['auc_20_50mm']:.3f} | {first.get('video_agreement', {}).get('mean_pose_mean', float('nan')):.3f} | "
                f"{100 * first.get('letters_inside_box', {}).get('mean_pose', float('nan')):.0f} % |")
    real = {name: e["real_yardstick"] for name, e in result["arms"].items() if e.get("real_yardstick")}
    if real:
        rows += ["", f"On the real-hand yardstick ({next(iter(real.values()))['label']}; "
                     "all scored photos, `evaluate-real`):", "",
                 "| training data | 2D AUC 0-30 px | 3D AUC root + scale | 3D AUC aligned | "
                 "video: tracker agreement (hand sizes) | video: low-confidence frames |",
                 "|---|---|---|---|---|---|"]
        for name, r in real.items():
            rows.append(f"| {name} | {r['2d_auc']:.3f} | {r['3d_root_scale_auc']:.3f} | {r['3d_aligned_auc']:.3f} | "
                        f"{r.get('video_agreement', float('nan')):.3f} | "
                        f"{100 * r.get('video_low_confidence', float('nan')):.0f} % |")
    return "\n".join(rows)
