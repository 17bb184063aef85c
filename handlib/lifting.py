"""Lifting 2D joints to 3D: where is the 3D lost on real photos, in the 2D or after it?

RegNet regresses its 3D from the image. On real photos its 3D agrees with a real-trained
peer less well than one fixed open hand (the README's real-hand table), while its 2D is
the better half. This module splits the problem in two with a *lifter*, a small network
that sees only 21 2D joints and answers their root-relative 3D (Martinez et al., ICCV 2017,
for bodies; Zimmermann and Brox, ICCV 2017, for hands). It is trained on the rendered sets'
labels alone (no image, no photo, no peer), so it carries nothing from the photo domain:
fed the peer's own 2D, it says how good the 3D can be from 2D this good with the course's
pose and view prior; fed RegNet's 2D, what RegNet's 2D is worth in 3D. This goes beyond the
paper, whose 3D comes from RegNet and the kinematic fit.

The canonical frame (the same for training and use): a perspective crop camera
(:class:`handlib.crop_camera.Crop`) looks at the 2D joints' box (centre of their bounding
box, side twice its larger extent: :func:`handlib.real_evaluation.reference_box`, the real-hand
yardstick's reference box), flipped for a right hand so that
every hand is a left one. The lifter's input is the 2D joints in that crop, normalised to
[-1, 1] across its side (42 numbers, ``u`` then ``v`` per joint); its output the
root-relative 3D in the crop camera's frame, M0 at the origin and |W - M0| = 1 (63
numbers). :meth:`Crop.from_crop_frame` turns it back into the camera frame (and un-flips).

Training (``python -m handlib train-lifter``): each rendered frame gives ``copies`` pairs,
its 2D turned in the image plane by up to ``max_angle`` degrees and moved by Gaussian noise
whose standard deviation is drawn per pair from 0 to ``noise`` times the box's side, so
the lifter learns to tolerate a 2D that is off (the box is then taken from the noisy 2D,
as it is in use). The diagnostic (``python -m handlib lift-diagnostic``) scores lifted 3D on
the real-hand yardstick's photos (:mod:`handlib.real_evaluation`'s protocol).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from handlib import hand_model as hm
from handlib.crop_camera import Crop

CANON_PX = 256
"""Pixels of the canonical crop (only the normalised coordinates reach the lifter)."""
WIDTH, BLOCKS, DROPOUT = 1024, 2, 0.2
NOISE = 0.1
"""Training noise: each pair's 2D standard deviation is drawn from 0 to this fraction of
the canonical box's side, up to 25.6 px of the box drawn at 256 px, the scale of RegNet's
own 2D error on the real-hand yardstick's photos (25 px on average). A lifter trained
with 0.04 (up to 10 px) lifts RegNet's 2D less well (README, *Where the 3D is lost*)."""
NOISE_LEVELS_PX = (0.0, 5.0, 10.0, 15.0, 20.0, 30.0)
"""The diagnostic's noise on the peer's 2D: standard deviations per coordinate in pixels
of the reference box drawn at 256 px (the yardstick's 2D unit)."""


# ----------------------------------------------------------------- canonical frame
def canonical_crop(uv, K, side: str) -> Crop:
    """The canonical crop camera of 2D joints ``uv`` (21, 2) image pixels with intrinsics
    ``K`` (3, 3): it looks at their box and is flipped for a right hand."""
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    uv = np.asarray(uv, np.float64)
    if uv.shape != (21, 2) or not np.all(np.isfinite(uv)):
        raise ValueError(f"expected 21 finite 2D joints (21, 2), got {uv.shape}")
    from handlib.crop_camera import MIN_CROP_SIDE
    from handlib.real_evaluation import reference_box
    centre, side_px = reference_box(uv)
    return Crop(centre=tuple(centre), side=max(side_px, MIN_CROP_SIDE), size=CANON_PX, source_K=K,
                flip=(side == "right"))


def canonical_2d(uv, crop: Crop) -> np.ndarray:
    """2D joints (21, 2) image pixels -> the lifter's input (42,), the joints in ``crop``
    normalised so that the crop spans [-1, 1]."""
    half = crop.size / 2.0
    return ((crop.to_crop(uv) - (crop.size - 1) / 2.0) / half).reshape(-1)


def canonical_3d(xyz, crop: Crop) -> np.ndarray:
    """3D joints (21, 3) camera frame, any unit -> the lifter's target (63,): in the crop
    camera's frame, M0 at the origin, |W - M0| = 1."""
    x = crop.to_crop_frame(np.asarray(xyz, np.float64))
    x = x - x[hm.NORM_ROOT_JOINT]
    return (x / np.linalg.norm(x[hm.ROOT_JOINT])).reshape(-1)


# ----------------------------------------------------------------- the network
def lifter_model(width: int = WIDTH, blocks: int = BLOCKS, dropout: float = DROPOUT):
    """The lifter: 42 -> ``width`` -> ``blocks`` residual blocks of two ``width`` layers
    (ReLU, dropout) -> 63, a functional Keras model named "lifter" (Martinez et al.'s
    shape without batch normalisation)."""
    import keras
    x_in = keras.Input((42,), name="uv_canonical")
    h = keras.layers.Dense(width, activation="relu", name="stem")(x_in)
    for b in range(blocks):
        r = keras.layers.Dense(width, activation="relu", name=f"block{b}_a")(h)
        r = keras.layers.Dropout(dropout, name=f"block{b}_dropout")(r)
        r = keras.layers.Dense(width, activation="relu", name=f"block{b}_b")(r)
        h = keras.layers.Add(name=f"block{b}_add")([h, r])
    out = keras.layers.Dense(63, name="xyz_canonical")(h)
    return keras.Model(x_in, out, name="lifter")


def lift(model, uv, K, side) -> np.ndarray:
    """Lift 2D joints: ``uv`` (N, 21, 2) image pixels, ``K`` (3, 3) or (N, 3, 3), ``side``
    one side or N of them -> (N, 21, 3) root-relative 3D in the camera frame, M0 at the
    origin, |W - M0| = 1 (RegNet's normalised units)."""
    uv = np.asarray(uv, np.float64)
    n = len(uv)
    Ks = np.broadcast_to(np.asarray(K, np.float64), (n, 3, 3))
    sides = [side] * n if isinstance(side, str) else list(side)
    if len(sides) != n:
        raise ValueError(f"expected {n} sides, got {len(sides)}")
    crops = [canonical_crop(u, k, s) for u, k, s in zip(uv, Ks, sides)]
    x = np.stack([canonical_2d(u, c) for u, c in zip(uv, crops)]).astype(np.float32)
    y = np.asarray(model.predict(x, batch_size=256, verbose=0), np.float64).reshape(n, 21, 3)
    y = y - y[:, hm.NORM_ROOT_JOINT:hm.NORM_ROOT_JOINT + 1]       # the network's answer is close to
    y = y / np.linalg.norm(y[:, hm.ROOT_JOINT], axis=-1)[:, None, None]   # normalised; make it exact
    return np.stack([c.from_crop_frame(v) for c, v in zip(crops, y)])


class Lifter:
    """A loaded lifter as a function: ``Lifter(path)(uv, K, side)`` is :func:`lift` with
    its network; ``weights`` names the file (the real-hand yardstick records it)."""

    def __init__(self, weights="lifter"):
        from handlib import pose_network  # noqa: F401  (registers RegNet's layers, so that a
        from handlib import weights as wts  # RegNet given by mistake loads and is refused as no lifter)
        self.weights = str(weights)
        self.model = wts.load_model(weights)
        check_lifter(self.model, weights)

    def __call__(self, uv, K, side) -> np.ndarray:
        return lift(self.model, uv, K, side)


def training_pairs(samples, copies: int = 4, noise: float = NOISE, max_angle: float = 30.0,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (input (N, 42), target (N, 63), float32) from labelled samples
    (:class:`handlib.samples.HandSample` with camera-frame ``xyz`` and ``intrinsics``):
    ``copies`` per sample, each turned with the camera about its optical axis by up to
    ``max_angle`` degrees, projected through the full camera and moved by Gaussian noise with a
    standard deviation drawn from 0 to ``noise`` times the box's side (see the module's
    docstring)."""
    from handlib import camera as cam
    from handlib.real_evaluation import reference_box
    if copies < 1 or noise < 0 or not 0 <= max_angle <= 180:
        raise ValueError(f"copies >= 1, noise >= 0 and 0 <= max_angle <= 180 expected, "
                         f"got {copies}, {noise}, {max_angle}")
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for s in samples:
        if s.xyz is None:
            raise ValueError(f"{s.image_path}: the lifter trains on 3D labels, this sample has none")
        K = s.intrinsics.K
        for _ in range(copies):
            # the camera turned about its optical axis: the 3D turns about z, the 2D follows
            xyz = s.xyz @ hm.axis_rotation("z", rng.uniform(-max_angle, max_angle)).T
            uv = cam.project(K, xyz)
            box_side = reference_box(uv)[1]
            uv = uv + rng.normal(0.0, rng.uniform(0.0, noise) * box_side, uv.shape)
            crop = canonical_crop(uv, K, s.side or "left")
            xs.append(canonical_2d(uv, crop))
            ys.append(canonical_3d(xyz, crop))
    return np.asarray(xs, np.float32), np.asarray(ys, np.float32)


# ----------------------------------------------------------------- training
def _labelled(folders, limit):
    from handlib.datasets import open_dataset
    out = []
    for f in folders:
        if not Path(f).is_dir():
            raise ValueError(f"{f}: expected a labelled data set folder (make-dataset), found none")
        samples = [s for s in open_dataset(f, limit=limit) if s.xyz is not None]
        if not samples:
            raise ValueError(f"{f}: expected frames with 3D joints, found none")
        out += samples
    return out


def regression_figures(model) -> dict:
    """The lifter on the exact 2D of RegNet's fixed regression renders
    (:func:`handlib.pose_evaluation.regression_samples`, both looks, both sides): stored
    in the training record as ``figures``, recomputed by the regression test; beside it
    the fixed open hand's error on the same frames, root and size from the truth."""
    from handlib import metrics
    from handlib import pose_evaluation as pe
    from handlib import real_evaluation as re_
    samples = pe.regression_samples()
    got = test_figures(model, samples)
    truth = np.stack([s.xyz for s in samples])
    fixed = np.stack([re_.open_hand(s.side or "left") for s in samples])
    d = np.linalg.norm(metrics.root_scale(fixed, 1.0) - metrics.root_scale(truth, 1.0), axis=-1)
    size = np.linalg.norm(truth[:, hm.ROOT_JOINT] - truth[:, hm.NORM_ROOT_JOINT], axis=-1)
    return {"set": f"pose_evaluation.regression_samples(): {len(samples)} frames", **got,
            "fixed_open_hand_epe_mean_mm": float((d * size[:, None]).mean())}


def test_figures(model, samples) -> dict:
    """The lifter on labelled samples' exact 2D: mean per-joint 3D error in mm with the
    root (M0) and the hand's size (|W - M0|) taken from the truth, and its AUC over
    20-50 mm (:data:`handlib.metrics.PCK_3D_THRESHOLDS`)."""
    from handlib import camera as cam
    from handlib import metrics
    uv = np.stack([cam.project(s.intrinsics.K, s.xyz) for s in samples])
    pred = lift(model, uv, np.stack([s.intrinsics.K for s in samples]), [s.side or "left" for s in samples])
    truth = np.stack([s.xyz for s in samples])
    size = np.linalg.norm(truth[:, hm.ROOT_JOINT] - truth[:, hm.NORM_ROOT_JOINT], axis=-1)
    d = np.linalg.norm(pred * size[:, None, None] - (truth - truth[:, hm.NORM_ROOT_JOINT:hm.NORM_ROOT_JOINT + 1]),
                       axis=-1)
    return {"frames": len(samples), "epe_mean_mm": float(d.mean()),
            "auc_20_50_mm": float(metrics.auc_per_sample(d, metrics.PCK_3D_THRESHOLDS).mean())}


def train_run(data, out, test=None, epochs: int = 8, copies: int = 4, noise: float = NOISE,
              max_angle: float = 30.0, batch_size: int = 256, lr: float = 1e-3, seed: int = 0,
              limit: int | None = None, save=None, command: str = "", progress: bool = True) -> dict:
    """The ``train-lifter`` command: the lifter trained on the labels of the rendered
    folders ``data`` (no images are read) in the run folder ``out`` (``config.json``,
    ``backup/``, ``log.csv``), saved as ``save`` (default ``out/lifter.keras``) with its
    training record (figures on :func:`regression_figures`' fixed renders, and on the
    labelled folder ``test`` when given). Rerunning the same call resumes from the last
    finished epoch; one with other settings is refused. Returns the record."""
    import keras

    from handlib import files, weights
    from handlib.training_callbacks import StopOnNaN
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: expected a run folder, found a file")
    config = {"data": [str(d) for d in data], "epochs": int(epochs), "copies": int(copies),
              "noise": float(noise), "max_angle": float(max_angle), "batch_size": int(batch_size),
              "lr": float(lr), "seed": int(seed), "limit": limit,
              "width": WIDTH, "blocks": BLOCKS, "dropout": DROPOUT}
    weights.check_run_config(out, config, "train-lifter")
    samples = _labelled(data, limit)
    tests = _labelled([test], limit) if test is not None else None      # refused before training
    x, y = training_pairs(samples, copies, noise, max_angle, seed)
    out.mkdir(parents=True, exist_ok=True)
    files.write_json(out / "config.json", config)
    clock_file = out / "wall_time.json"
    before = files.read_json(clock_file, "a wall-time record")["seconds"] if clock_file.is_file() else 0.0
    clock = weights.Stopwatch(before)
    keras.utils.set_random_seed(seed)
    model = lifter_model()
    steps = int(np.ceil(len(x) / batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(lr, epochs * steps, alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mse")
    import tensorflow as tf
    ds = (tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
          .batch(batch_size).prefetch(tf.data.AUTOTUNE))
    history = model.fit(ds, epochs=epochs, shuffle=False, verbose=1 if progress else 2, callbacks=[
        StopOnNaN(),                     # first: before the backup saves the epoch
        keras.callbacks.BackupAndRestore(str(out / "backup"), double_checkpoint=True, delete_checkpoint=False),
        keras.callbacks.CSVLogger(str(out / "log.csv"), append=True),
        weights.wall_clock_callback(clock, clock_file)])
    files.write_json(clock_file, {"seconds": clock.elapsed})
    save = Path(save) if save is not None else out / "lifter.keras"
    weights.save_model(model, save)
    record = {"model": "2D-to-3D lifter (handlib.lifting.lifter_model)", "command": command,
              "git_commit": weights.git_commit(), "machine": weights.machine(),
              "data": {"folders": config["data"], "frames": len(samples), "pairs": int(len(x)),
                       "what": "rendered labels only (2D projected from the 3D joints); no image, no photo, "
                               "no peer"},
              **{k: config[k] for k in ("epochs", "copies", "noise", "max_angle", "batch_size", "lr", "seed")},
              "wall_time_s": round(clock.elapsed, 1),
              "final_loss": float(history.history["loss"][-1]) if history.history.get("loss") else None,
              "figures": regression_figures(model),
              "test": {str(test): test_figures(model, tests)} if tests is not None else None}
    old_path = weights.record_path(save)
    if record["final_loss"] is None and old_path.is_file():     # a finished run run again trains
        old = files.read_json(old_path, "the lifter's training record")   # no epoch: keep its loss
        record["final_loss"] = old.get("final_loss") if isinstance(old, dict) else None
    files.write_json(weights.record_path(save), record)
    return record


# ----------------------------------------------------------------- the diagnostic
def turned_over(uv, uv_ref) -> np.ndarray:
    """Whether each 2D hand ``uv`` (N, 21, 2) is read from its other face than ``uv_ref``
    (N, 21, 2): its index and little knuckles (I0, L0) turn around the wrist the other
    way in the image (the sign of the 2D cross product ``(I0 - W) x (L0 - W)``). For a hand
    of known side that is the palm read as the back or the back as the palm; lifted, such
    a 2D gives the hand turned over. (N,) bool."""
    def turn(u):
        u = np.asarray(u, np.float64)
        a, b = u[:, 5] - u[:, 0], u[:, 17] - u[:, 0]
        return np.sign(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0])
    return turn(uv) != turn(uv_ref)


def _noisy(photos, levels, seed: int) -> np.ndarray:
    """The peer's 2D of each photo moved by Gaussian noise at each level (a standard
    deviation per coordinate, in pixels of the box drawn at 256 px; the mean displacement
    is about 1.25 times it): (L, N, 21, 2) image pixels, seeded per photo (order-free, a
    stream of its own, apart from the yardstick's crop offsets)."""
    from handlib import real_evaluation as re_
    out = np.zeros((len(levels), len(photos), 21, 2))
    for i, (p, _) in enumerate(photos):
        rng = re_.photo_rng(seed, p.set, p.file + "#lifting-noise")
        unit = re_.reference_box(p.uv)[1] / re_.CROP_PX
        z = rng.normal(size=(len(levels), 21, 2))
        out[:, i] = p.uv + z * np.asarray(levels, np.float64)[:, None, None] * unit
    return out


def row_order(rows) -> list:
    """The diagnostic's rows in reading order (RegNet, its fit, RegNet's 2D lifted, the
    peer's 2D lifted by growing noise, the fixed open hand): JSON files keep no order."""
    first = ["RegNet", "RegNet + fit", "RegNet's 2D, lifted"]
    noisy = sorted((k for k in rows if "noise_px" in rows[k]), key=lambda k: rows[k]["noise_px"])
    return [k for k in first if k in rows] + noisy + [k for k in rows if k not in first and k not in noisy]


def set_order(sets) -> list:
    """Photo sets in the yardstick's order, "all_photos" last."""
    return sorted(sets, key=lambda s: (s == "all_photos", s != "sign_language_digits", s))


def check_lifter(model, path) -> None:
    """Refuse a model that is not a lifter (42 numbers in, 63 out): a
    :class:`handlib.files.DataFileError` naming ``path``."""
    from handlib.files import DataFileError
    shapes = (tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else None,
              tuple(model.outputs[0].shape[1:]) if getattr(model, "outputs", None) else None)
    if shapes != ((42,), (63,)):
        raise DataFileError(path, "a lifter (train-lifter's lifter.keras: 42 numbers in, 63 out)",
                            f"a model with inputs {shapes[0]} and outputs {shapes[1]}")


def diagnostic(lifter, regnet="regnet", out="data/results/lifting_diagnostic", cache_dir=None,
               folder=None, levels=NOISE_LEVELS_PX, seed: int = 0, boot: int = 1000,
               limit: int | None = None, command: str = "") -> dict:
    """The ``lift-diagnostic`` command: on the real-hand yardstick's scored photos
    (:mod:`handlib.real_evaluation`'s protocol, crops and seed), the 3D of

    * RegNet (``regnet``: a path or a shipped name) alone, and through the course's fit;
    * the lifter (``lifter``: a path) fed RegNet's 2D;
    * the lifter fed the peer's own 2D, exactly and moved by Gaussian noise at each of
      ``levels`` (pixels of the box drawn at 256 px): the 3D that 2D this good allows
      *with this lifter*; the peer's 2D and 3D come from one network and the lifter's
      crop around the peer's exact 2D is the crop the yardstick turns the peer's 3D out
      of, so these rows agree with the peer more easily than any other 2D would;

    beside the fixed open hand, scored against the peer's 3D; and, per set, how often a 2D
    reads the hand from its other face than the peer's (:func:`turned_over`): RegNet's,
    and for comparison each noisy copy of the peer's, with the lifted 3D and the fixed
    open hand on the photos RegNet turns over and on the others. Writes ``OUT.json``
    (atomically) and ``OUT.png`` (3D AUC against the 2D AUC of the lifter's input); returns
    the figures."""
    import time

    from handlib import files
    from handlib import peer_reference as pr
    from handlib import pose_network  # noqa: F401  (registers RegNet's layers)
    from handlib import prediction
    from handlib import real_evaluation as re_
    from handlib import weights as wts
    t0 = time.time()
    levels = [float(v) for v in levels]
    if not levels or min(levels) < 0:
        raise ValueError(f"noise levels must be 0 or more pixels, got {levels}")
    caches = pr.load_sets(cache_dir, folder, quiet=True)
    if caches is None:
        raise files.DataFileError(Path(cache_dir or pr.CACHE_DIR), f"a peer reference cache (run `{pr.MAKE_CACHE}`)",
                                  "none")
    lift_net, net = wts.load_model(lifter), wts.load_model(regnet)
    check_lifter(lift_net, lifter)
    photos = re_._load_photos(caches, limit)
    per: dict = {}
    for s, ph in photos.items():                 # every model runs once per photo
        d2, xyz, preds = re_._predict_photos(net, ph, seed)
        d2f, xyzf = re_._fit_photos(ph, preds)
        uv_pred = np.stack([q.uv for q in preds])
        Ks = np.stack([prediction.default_intrinsics(p.width, p.height) for p, _ in ph])
        sides = [p.side for p, _ in ph]
        uv_peer = np.stack([p.uv for p, _ in ph])
        boxes = np.array([re_.reference_box(p.uv)[1] for p, _ in ph])
        noisy = _noisy(ph, levels, seed)
        per[s] = {"ref": re_._reference(ph), "d2": d2, "xyz": xyz, "d2f": d2f, "xyzf": xyzf,
                  "lifted": lift(lift_net, uv_pred, Ks, sides),
                  "over": turned_over(uv_pred, uv_peer),
                  "fixed": np.stack([re_.open_hand(x) for x in sides]),
                  "noisy_d2": [re_.to_box_px(np.linalg.norm(uv - uv_peer, axis=-1), boxes) for uv in noisy],
                  "noisy_xyz": [lift(lift_net, uv, Ks, sides) for uv in noisy],
                  "noisy_over": [turned_over(uv, uv_peer) for uv in noisy]}
    per["all_photos"] = {k: (np.concatenate([per[s][k] for s in photos]) if not isinstance(per[next(iter(photos))][k], list)
                             else [np.concatenate([per[s][k][i] for s in photos]) for i in range(len(levels))])
                         for k in per[next(iter(photos))]}
    rows: dict = {}
    for s, v in per.items():
        ref = v["ref"]
        r = {"RegNet": re_.score(v["xyz"], ref, v["d2"], boot, seed),
             "RegNet + fit": re_.score(v["xyzf"], ref, v["d2f"], boot, seed),
             "RegNet's 2D, lifted": re_.score(v["lifted"], ref, v["d2"], boot, seed)}
        for lv, d, x, o in zip(levels, v["noisy_d2"], v["noisy_xyz"], v["noisy_over"]):
            name = "the peer's 2D, lifted" if lv == 0 else f"the peer's 2D + {lv:g} px noise, lifted"
            r[name] = {**re_.score(x, ref, d, boot, seed), "noise_px": lv, "turned_over_share": float(o.mean())}
        r["fixed open hand"] = re_.score(v["fixed"], ref, None, boot, seed)
        split = {"share": float(v["over"].mean())}
        for key, m in (("turned_over", v["over"]), ("not_turned_over", ~v["over"])):
            if m.any():
                split[key] = {"photos": int(m.sum()),
                              "lifted_3d_root_scale_auc": re_.score(v["lifted"][m], ref[m], None, 20, seed)[
                                  "3d_root_scale"]["auc"],
                              "fixed_open_hand_3d_root_scale_auc": re_.score(v["fixed"][m], ref[m], None, 20, seed)[
                                  "3d_root_scale"]["auc"]}
        rows[s] = {"photos": int(len(ref)), "rows": r, "regnet_2d_turned_over": split}
    rec = wts.record_path(lifter)
    record = files.read_json(rec, "the lifter's training record") if rec.is_file() else {}
    record = record if isinstance(record, dict) else {}
    result = {"label": re_.LABEL, "protocol": re_.PROTOCOL, "command": command,
              "git_commit": wts.git_commit(), "machine": wts.machine(),
              "lifter": {"weights": str(lifter), **{k: record.get(k) for k in
                                                   ("command", "git_commit", "machine", "noise", "copies", "epochs",
                                                    "wall_time_s", "test")}},
              "regnet": str(regnet), "noise_levels_px": levels, "seed": seed, "bootstrap": boot,
              "limit": limit, "sets": rows, "wall_time_s": round(time.time() - t0, 1)}
    outp = Path(out).with_suffix(".json")
    from handlib import visualisation as vis
    fig = vis.plot_lifting_diagnostic(result)          # before any write: a failing plot leaves
    files.write_json(outp, result)                     # the old JSON and PNG as they were
    with files.atomic_path(outp.with_suffix(".png")) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    import matplotlib.pyplot as plt
    plt.close(fig)
    return result


def format_table(result: dict) -> str:
    """The diagnostic's Markdown table (README), one row per predictor and photo set, and
    per set a line on the 2D read from the hand's other face."""
    lines = [result["label"] + "; AUC with 95 % bootstrap intervals:", "",
             "| photos | 3D from | 2D AUC 0-30 px (mean error, px of 256) of the 2D it used | 3D AUC root + scale "
             "| 3D AUC aligned | fingertips in front of the wrist (reference) |", "|---|---|---|---|---|---|"]

    def ci(b):
        lo, hi = b["auc_interval"]
        return f"{b['auc']:.3f} ({lo:.2f}-{hi:.2f})"
    sets = result["sets"]
    for s in set_order(sets):
        e = sets[s]
        label = f"{s.replace('_', ' ')} ({e['photos']})"
        for name in row_order(e["rows"]):
            r = e["rows"][name]
            t = r["tilt"]
            two = f"{ci(r['2d'])} ({r['2d']['epe_mean_px']:.1f})" if "2d" in r else "-"
            lines.append(f"| {label} | {name} | {two} | {ci(r['3d_root_scale'])} "
                         f"| {ci(r['3d_aligned'])} | {t['tips_in_front_of_wrist_mm']:.0f} mm "
                         f"({t['reference_tips_in_front_of_wrist_mm']:.0f}) |")
    lines.append("")
    for s in set_order(sets):
        e = sets[s]
        t = e.get("regnet_2d_turned_over")
        if not (t and "turned_over" in t and "not_turned_over" in t):
            continue
        noisy = [(r["noise_px"], r["turned_over_share"]) for n, r in e["rows"].items()
                 if r.get("noise_px") and "turned_over_share" in r]
        ctrl = ", ".join(f"{100 * o:.0f} % at {lv:g} px" for lv, o in sorted(noisy))
        lines.append(f"- {s.replace('_', ' ')}: RegNet's 2D reads the hand from its other face than the peer's "
                     f"on {100 * t['share']:.0f} % of the photos (the peer's 2D with noise: {ctrl}); lifted "
                     f"root + scale {t['turned_over']['lifted_3d_root_scale_auc']:.3f} there and "
                     f"{t['not_turned_over']['lifted_3d_root_scale_auc']:.3f} on the others (fixed open hand "
                     f"{t['turned_over']['fixed_open_hand_3d_root_scale_auc']:.3f} and "
                     f"{t['not_turned_over']['fixed_open_hand_3d_root_scale_auc']:.3f})")
    return "\n".join(lines)
