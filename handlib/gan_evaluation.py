"""What the geometric loss does, measured: does a translated hand keep its silhouette?

Introduced in ``notebooks/02_geocongan_training.ipynb``.

A generator that changes the hand's shape breaks the labels carried over from the
rendered frame. To measure it without SilNet itself (which the geometric loss optimises,
and a second SilNet would share its blind spots), the **judge** is the keying method of
the real-photo reader (:func:`handlib.real_photos.key_silhouette`): both domains have
plain backgrounds, so keying the translated image gives a silhouette. The judge is **not
independent of training**: the same keying made the real-domain masks SilNet was trained
on and chose which photos form the real domain, and SilNet's silhouettes of the shipped
generator's translations agree with it at IoU 0.881 (the 24 regression renders of seed
2026). The score of a translated image is the IoU between the judge's silhouette and the
input's exact rendered mask.

* the judge's **ceiling**: the same IoU on the *untranslated* ``synth`` renders (what
  a perfect, shape-keeping translation could score);
* per arm: mean IoU and the mean of the worst decile (the 10 % lowest), with bootstrap
  95 % intervals; between arms, the paired difference with its interval;
* why an IoU is low: the share of images where the judge found **no hand** (an empty
  silhouette: the translation is not keyable, for example speckled backgrounds) and the
  mean IoU where it found one; between arms, the paired difference over the images where
  it found a hand in **both** (the same images for both arms, so a fair comparison).

``python -m handlib compare-gan`` writes these figures (JSON) and a grid (PNG) to
``data/results/``.

**The peer judge.** A second judge, independent of training: does a real-trained hand
detector find the hands, and their joints, as well in GANerated frames as in the renders
they came from?

The keying judge above shares its method with the GAN's real domain. The **peer judge**
shares nothing with it: MediaPipe Hands 0.10.21 (the real-hand yardstick's peer, run by
``tools/mediapipe_reference.py --folders``, never a dependency of the course) is given
the same rendered frames in several versions, each a folder of PNGs written by
:func:`peer_frames`:

* ``render, own background``: the frame as rendered (the renderer's plain background);
* ``render over a photo``: the untranslated hand composited through its exact silhouette
  onto a background photo, the same photo as the translated versions get (so that only
  the hand's pixels differ between this arm and a generator's);
* one arm per generator: the hand translated as ``ganerate`` translates it
  (:func:`handlib.ganerate.translate_frame`), over the same photo.

Per arm: the share of frames where the peer finds a hand, and where it does, its 2D
joints' mean distance from the render's labels (pixels of the 256 px frame). The labels
are exact, but MediaPipe's joints are not defined exactly as the course's hand model's
(where a knuckle or the wrist sits), so part of that distance is the definitions' and is
the same in every version; the paired differences cancel most of it. Between a generator
and ``render over a photo``: the paired difference of the detection rate (same frames)
and of the error over the frames detected in both. A translation that makes hands look
more real to a real-trained peer raises the first and lowers the second.

``python tools/gan_peer_judge.py`` writes its figures and a picture to ``data/results/``.
"""
from __future__ import annotations

import numpy as np

from handlib.silnet import iou


def judge(images: np.ndarray) -> np.ndarray:
    """Silhouettes (N, H, W) bool of uint8 RGB images (N, H, W, 3) by keying
    (:func:`handlib.real_photos.key_silhouettes`)."""
    from handlib.real_photos import key_silhouettes
    return key_silhouettes(images)


def worst_decile_mean(values) -> float:
    """Mean of the lowest 10 % of ``values`` (at least one value)."""
    v = np.sort(np.asarray(values, float))
    return float(v[:max(1, int(np.ceil(0.1 * len(v))))].mean())


def bootstrap_interval(values, stat, n: int = 2000, seed: int = 0, level: float = 0.95):
    """Percentile bootstrap interval of ``stat(values)`` (resampling the images)."""
    values = np.asarray(values)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(n, len(values)))
    stats = np.array([stat(values[i]) for i in idx])
    a = (1 - level) / 2
    return float(np.quantile(stats, a)), float(np.quantile(stats, 1 - a))


def paired_interval(a, b, stat, n: int = 2000, seed: int = 0, level: float = 0.95):
    """Bootstrap interval of ``stat(b) - stat(a)`` resampling the *same* images for both."""
    a, b = np.asarray(a), np.asarray(b)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a), size=(n, len(a)))
    diffs = np.array([stat(b[i]) - stat(a[i]) for i in idx])
    q = (1 - level) / 2
    return float(np.quantile(diffs, q)), float(np.quantile(diffs, 1 - q))


def summarise(scores, found=None) -> dict:
    """Mean and worst-decile mean of per-image IoU with bootstrap 95 % intervals; with
    ``found`` (N,) bool (the judge returned a non-empty silhouette), also the share of
    images where it found no hand and the mean IoU over the others, which tell a
    translation the judge cannot read from one whose shape changed."""
    scores = np.asarray(scores, float)
    out = {"mean": float(scores.mean()), "mean_ci95": bootstrap_interval(scores, np.mean),
           "worst_decile": worst_decile_mean(scores),
           "worst_decile_ci95": bootstrap_interval(scores, worst_decile_mean),
           "n": int(len(scores))}
    if found is not None:
        found = np.asarray(found, bool)
        out["no_hand_found"] = float(1 - found.mean())
        out["mean_where_found"] = float(scores[found].mean()) if found.any() else None
    return out


def compare(inputs: np.ndarray, masks: np.ndarray, translations: dict) -> dict:
    """Figures for held-out rendered ``inputs`` (N, S, S, 3) uint8 with exact ``masks``
    (N, S, S) bool and ``translations`` ``{arm: (N, S, S, 3) uint8}`` (first arm = the
    baseline). Returns the judge's ceiling, each arm's summary and per-image scores, and
    each later arm's paired differences against the first."""
    judged = judge(inputs)
    ceiling = iou(judged, masks)
    out = {"judge": "handlib.real_photos.key_silhouette",
           "ceiling": summarise(ceiling, judged.any(axis=(1, 2))), "arms": {}, "differences": {}}
    scores, found = {}, {}
    for arm, images in translations.items():
        judged = judge(images)
        scores[arm], found[arm] = iou(judged, masks), judged.any(axis=(1, 2))
        out["arms"][arm] = summarise(scores[arm], found[arm])
    names = list(translations)
    for arm in names[1:]:
        a, b = scores[names[0]], scores[arm]
        out["differences"][f"{arm} - {names[0]}"] = {
            "mean": float(b.mean() - a.mean()), "mean_ci95": paired_interval(a, b, np.mean),
            "worst_decile": worst_decile_mean(b) - worst_decile_mean(a),
            "worst_decile_ci95": paired_interval(a, b, worst_decile_mean)}
        both = found[names[0]] & found[arm]
        out["differences"][f"{arm} - {names[0]}"]["where_both_found"] = {
            "n": int(both.sum()),
            "mean": float(b[both].mean() - a[both].mean()) if both.any() else None,
            "mean_ci95": paired_interval(a[both], b[both], np.mean) if both.sum() > 1 else None}
    out["per_image"] = {"ceiling": ceiling.round(4).tolist(),
                        **{k: v.round(4).tolist() for k, v in scores.items()}}
    return out


def comparison_grid(inputs, masks, translations: dict, columns=None, path=None):
    """A figure: rows = input and each arm, columns = examples; the input's exact
    silhouette (green) and the judge's silhouette of each image (magenta) outlined.
    Saved atomically to ``path`` when given. Returns the figure."""
    import matplotlib.pyplot as plt
    from handlib import files
    columns = np.arange(min(8, len(inputs))) if columns is None else np.asarray(columns)
    rows = [("input (synth)", inputs)] + list(translations.items())
    fig, axes = plt.subplots(len(rows), len(columns), figsize=(1.6 * len(columns), 1.7 * len(rows)),
                             squeeze=False)
    for r, (name, imgs) in enumerate(rows):
        keyed = judge(imgs[columns])
        for c, i in enumerate(columns):
            ax = axes[r, c]
            ax.imshow(imgs[i])
            ax.contour(masks[i], levels=[0.5], colors="lime", linewidths=0.8)
            ax.contour(keyed[c], levels=[0.5], colors="magenta", linewidths=0.8)
            score = iou(keyed[c][None], masks[i][None])[0]
            ax.set_title(f"IoU {score:.2f}", fontsize=7, pad=2)
            ax.set_xticks([]), ax.set_yticks([])
        axes[r, 0].set_ylabel(name, fontsize=8)
    fig.suptitle("green: the input's exact silhouette; magenta: the keying judge's silhouette",
                 fontsize=8)
    fig.tight_layout()
    if path is not None:
        with files.atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110)
    return fig


def compare_runs(plain_run, geo_run, test_set, out_stem, limit=None, command: str = "") -> dict:
    """The ``compare-gan`` command: translate the held-out rendered set ``test_set`` with
    the synth->real generator of both ``train-gan`` runs (at the runs' image size), judge
    the silhouettes, and write ``OUT_STEM.json`` (figures, both runs' configurations and
    records) and ``OUT_STEM.png`` (the grid) atomically."""
    from pathlib import Path
    from handlib import domains, files, gan, weights
    runs = {"plain CycleGAN": Path(plain_run), "GeoConGAN": Path(geo_run)}
    configs = {}
    for name, run in runs.items():
        configs[name] = files.read_json(run / gan.RUN_CONFIG, "a train-gan run configuration")
        if not (run / "g_synth_to_real.keras").is_file():
            raise files.DataFileError(run / "g_synth_to_real.keras",
                                      "the generator of a finished train-gan run", "no file")
    sizes = {c["size"] for c in configs.values()}
    if len(sizes) != 1:
        raise ValueError(f"the two runs were trained at different sizes {sizes}")
    if configs["plain CycleGAN"]["geo_weight"] != 0 or configs["GeoConGAN"]["geo_weight"] <= 0:
        raise ValueError("--plain must be a run with --geo-weight 0 and --geo one with a positive weight")
    others = {k for k in configs["GeoConGAN"] if k != "geo_weight"
              and configs["GeoConGAN"][k] != configs["plain CycleGAN"][k]}
    for name, c in configs.items():
        if Path(c["synth"]).resolve() == Path(test_set).resolve():
            raise ValueError(f"--test {test_set} is the training set of the {name} run: "
                             "judge on a separately seeded set (make-dataset --seed 1)")
    size = sizes.pop()
    test = domains.synth_domain(test_set, size, limit=limit)
    translations = {name: gan.translate(weights.load_model(run / "g_synth_to_real.keras"), test.images)
                    for name, run in runs.items()}
    res = compare(test.images, test.masks, translations)
    res.update({"command": command, "test_set": str(test_set), "size": size,
                "runs": {name: {"config": configs[name],
                                "record": files.read_json(weights.record_path(run / "g_synth_to_real.keras"),
                                                          "a training record")}
                         for name, run in runs.items()},
                "settings_that_differ_besides_geo_weight": sorted(others)})
    out_stem = Path(out_stem)
    files.write_json(out_stem.with_suffix(".json"), res)
    comparison_grid(test.images, test.masks, translations,
                    columns=np.linspace(0, len(test) - 1, min(8, len(test))).astype(int),
                    path=out_stem.with_suffix(".png"))
    return res


def format_table(res: dict) -> str:
    """The figures of :func:`compare` (or ``geometric_loss.json``) as a text table."""
    def ci(v, sign=""):
        return "" if v is None else f"[{v[0]:{sign}.3f}, {v[1]:{sign}.3f}]"
    def num(v, fmt):
        return "-" if v is None else format(v, fmt)
    lines = [f"{'':31s} {'mean IoU':>8s} {'95% interval':>16s} {'worst decile':>12s} "
             f"{'95% interval':>16s} {'no hand found':>13s} {'IoU where found':>15s}"]
    for name, r in [("judge's ceiling (untranslated)", res["ceiling"])] + list(res["arms"].items()):
        lines.append(f"{name:31s} {r['mean']:8.3f} {ci(r['mean_ci95']):>16s} {r['worst_decile']:12.3f} "
                     f"{ci(r['worst_decile_ci95']):>16s} {num(r.get('no_hand_found'), '13.0%')} "
                     f"{num(r.get('mean_where_found'), '15.3f')}")
    for name, d in res["differences"].items():
        lines.append(f"\n{name} (paired over the same images):")
        lines.append(f"  mean {d['mean']:+.3f} {ci(d['mean_ci95'], '+')}, worst decile "
                     f"{d['worst_decile']:+.3f} {ci(d['worst_decile_ci95'], '+')}")
        both = d.get("where_both_found")
        if both:
            lines.append(f"  where the judge found a hand in both ({both['n']} images): mean "
                         f"{num(both['mean'], '+.3f')} {ci(both['mean_ci95'], '+')}")
    return "\n".join(lines)


# ----------------------------------------------------------------- the peer judge
# (see "The peer judge" in the module docstring)


PEER_FRAMES_FORMAT = "handlib-gan-peer-frames/1"
PEER_RENDER = "render, own background"
PEER_RENDER_OVER_PHOTO = "render over a photo"


def _slug(name: str) -> str:
    import re
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "arm"


def peer_frames(src, out, generators: dict | None = None, frames: int = 300, seed: int = 0,
                progress: bool = True) -> dict:
    """Write the peer judge's frames: ``frames`` rendered frames of the set ``src`` (GANerated
    layout, e.g. ``make-dataset --look synth``), evenly spaced through it, in every arm's
    version (module section above), as ``out/<arm>/NNNN.png`` (256 px, or the set's size),
    and ``out/frames.json`` (the arms, their folders, the generators' files and each frame's
    source and 2D labels ``uv_px`` (21, 2) in pixels of the frame; ``arm_order``, the arms
    in the order above). ``generators``: arm name
    -> synth->real generator (.keras, with its training record). Backgrounds: the shipped
    photo crops, frame ``i`` drawn with :func:`handlib.synthetic.frame_rng` (``seed``, i).
    Images are written atomically; the settings are written to ``frames.json`` before the
    first image, so a rerun with the same settings keeps the images that exist and one with
    others is refused (after regenerating frames, run the peer again: its answers carry no
    link to the images).
    Returns the contents of ``frames.json``."""
    from pathlib import Path

    from handlib import files, ganerate, images
    from handlib import gan as gan_mod  # noqa: F401  (registers the generator's layers)
    from handlib import weights as wts
    from handlib.synthetic import frame_rng
    src, out = Path(src), Path(out)
    generators = dict(generators or {})
    clash = {_slug(n) for n in generators} & {_slug(PEER_RENDER), _slug(PEER_RENDER_OVER_PHOTO)}
    if clash or len({_slug(n) for n in generators}) != len(generators):
        raise ValueError(f"generator names must differ from each other and from the render arms: {list(generators)}")
    every = list(ganerate._source_frames(src))
    if not every:
        raise files.DataFileError(src, "a rendered set in the GANerated layout (make-dataset)", "no frames")
    if not 1 <= frames:
        raise ValueError(f"frames must be at least 1, got {frames}")
    pick = np.unique(np.linspace(0, len(every) - 1, min(frames, len(every))).round().astype(int))
    gens, sizes, gen_info = {}, {}, {}
    for name, path in generators.items():
        sizes[name], digest = ganerate.generator_info(path)     # checks the file and its record
        gens[name] = wts.load_model(path)
        gen_info[name] = {"weights": str(path), "sha256": digest, "size": sizes[name]}
    arms = [PEER_RENDER, PEER_RENDER_OVER_PHOTO, *generators]
    info = {"format": PEER_FRAMES_FORMAT, "source": str(src), "seed": int(seed), "frames": len(pick),
            "arms": {a: _slug(a) for a in arms}, "arm_order": arms, "generators": gen_info}
    index_path = out / "frames.json"
    if index_path.is_file():
        old = files.read_json(index_path, "the peer judge's frame index")
        if {k: old.get(k) for k in info} != info:
            raise ValueError(f"{out} holds frames made with other settings; choose another folder "
                             "or the same settings")
    from handlib import backgrounds
    backgrounds.background_files()          # fails early, naming the folder, if there are none
    out.mkdir(parents=True, exist_ok=True)
    files.write_json(index_path, info)      # the settings first, so that a rerun after an
    records = []                            # interruption is checked against them
    it = enumerate(pick)
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, total=len(pick), unit="frame", desc="peer judge frames")
    for k, i in it:
        part, stem = every[i]
        base = part / stem
        uv = files.read_floats(f"{base}_joint2D.txt", 42, "2D joints in crop pixels").reshape(21, 2)
        name = f"{k:04d}.png"
        records.append({"file": name, "source": str(Path(part).relative_to(src) / stem),
                        "uv_px": np.round(uv, 3).tolist()})
        todo = [a for a in arms if not (out / _slug(a) / name).is_file()]
        if not todo:
            continue
        rgb = images.read_image(f"{base}_color_composed.png")
        mask = images.read_image(f"{base}_mask.png", gray=True) > 127
        bg = ganerate.frame_background("photos", rgb.shape, frame_rng(seed, int(i)))
        for a in todo:
            if a == PEER_RENDER:
                img = rgb
            elif a == PEER_RENDER_OVER_PHOTO:
                img = ganerate.composite(rgb, mask, bg)
            else:
                img = ganerate.composite(ganerate.translate_frame(gens[a], rgb, uv, mask, sizes[a]), mask, bg)
            (out / _slug(a)).mkdir(parents=True, exist_ok=True)
            images.write_image(out / _slug(a) / name, img)
    info = info | {"images": records}       # the labels last: the frames are all written
    files.write_json(index_path, info)
    return info


def peer_judge(frames_dir, caches: dict | None = None, seed: int = 0) -> dict:
    """Score the peer's answers on the frames of :func:`peer_frames` (``frames_dir``).
    ``caches``: arm -> the peer's answers for that arm's folder (a file written by
    ``tools/mediapipe_reference.py --folders``; default ``<arm folder>/`` +
    :data:`handlib.peer_reference.FOLDER_CACHE`). Returns ``{"arms": {arm: {"frames",
    "detected", "detection_rate", "detection_rate_ci95", "error_px_mean", "error_px_median",
    "error_px_mean_ci95"}}, "differences": {generator arm: {"detection_rate",
    "detection_rate_ci95", "both_detected", "error_px_mean", "error_px_mean_ci95"}}}``:
    errors are the mean over the 21 joints of the distance between the peer's 2D joints and
    the labels, in pixels of the frame, over the frames where the peer found a hand; the
    differences are the generator's figure minus ``render over a photo``'s, paired over
    the same frames (95 % bootstrap intervals, ``seed``)."""
    from pathlib import Path

    from handlib import files, peer_reference
    frames_dir = Path(frames_dir)
    index = files.read_json(frames_dir / "frames.json", f"the peer judge's frame index ({PEER_FRAMES_FORMAT})")
    if not isinstance(index, dict) or index.get("format") != PEER_FRAMES_FORMAT:
        raise files.DataFileError(frames_dir / "frames.json", f"a frame index of format {PEER_FRAMES_FORMAT!r}",
                                  repr(index.get("format") if isinstance(index, dict) else type(index).__name__))
    for key in ("images", "arm_order"):
        if key not in index:
            raise files.DataFileError(frames_dir / "frames.json", f"a finished frame index with {key!r} "
                                      "(rerun peer_frames / tools/gan_peer_judge.py)", "none")
    labels = {r["file"]: np.asarray(r["uv_px"], float) for r in index["images"]}
    names = sorted(labels)
    caches = dict(caches or {})
    per_arm = {}
    order = index["arm_order"]
    for arm in order:
        slug = index["arms"][arm]
        path = Path(caches.get(arm, frames_dir / slug / peer_reference.FOLDER_CACHE))
        answers = peer_reference.read_folder_cache(path, unreadable="raise")
        missing = [n for n in names if n not in answers]
        if missing:
            raise files.DataFileError(path, f"the peer's answer for every frame of {frames_dir}",
                                      f"none for {len(missing)} (first {missing[0]})")
        found = np.array([answers[n] is not None for n in names])
        err = np.array([np.linalg.norm(answers[n] - labels[n], axis=1).mean() if answers[n] is not None
                        else np.nan for n in names])
        per_arm[arm] = (found, err)
    res = {"frames": len(names), "source": index["source"], "seed_backgrounds": index["seed"],
           "generators": index["generators"], "arm_order": order, "arms": {}, "differences": {},
           "peer": peer_reference.PEER,
           "error_means": "mean over the 21 joints of the distance between the peer's 2D joints "
                          "and the render's labels, pixels of the frame, frames where it found a hand",
           "intervals": "95 % percentile bootstrap over frames; differences paired over the same frames"}
    for arm, (found, err) in per_arm.items():
        ok = err[found]
        res["arms"][arm] = {
            "frames": int(len(found)), "detected": int(found.sum()),
            "detection_rate": float(found.mean()),
            "detection_rate_ci95": bootstrap_interval(found.astype(float), np.mean, seed=seed),
            "error_px_mean": float(ok.mean()) if len(ok) else None,
            "error_px_median": float(np.median(ok)) if len(ok) else None,
            "error_px_mean_ci95": bootstrap_interval(ok, np.mean, seed=seed) if len(ok) > 1 else None}
    base_found, base_err = per_arm[PEER_RENDER_OVER_PHOTO]
    for arm in index["generators"]:
        found, err = per_arm[arm]
        both = base_found & found
        d = {"detection_rate": float(found.mean() - base_found.mean()),
             "detection_rate_ci95": paired_interval(base_found.astype(float), found.astype(float), np.mean,
                                                    seed=seed),
             "both_detected": int(both.sum()), "error_px_mean": None, "error_px_mean_ci95": None}
        if both.sum() > 1:
            d["error_px_mean"] = float(err[both].mean() - base_err[both].mean())
            d["error_px_mean_ci95"] = paired_interval(base_err[both], err[both], np.mean, seed=seed)
        res["differences"][arm] = d
    return res


def keep_generators(new: dict, old: dict, tolerance_px: float = 0.05) -> dict:
    """``new`` (:func:`peer_judge`'s result) with the generators of ``old`` (an earlier
    result on the same frames) that ``new`` did not judge: their rows, their paired
    differences and their weights, each marked with the command that measured it
    (``measured_by``). The frames must be the same: same source, frame count and
    background seed, and every arm judged in both (the untranslated versions, and any
    generator judged again) must have re-measured the same figures: the same number of
    hands found, the mean error within ``tolerance_px`` (a generator's last output bits
    differ between CPUs and software stacks, which moves the peer's joints by hundredths
    of a pixel); otherwise a ValueError names what differs. Used by ``tools/gan_peer_judge.py --keep`` when an
    earlier generator's weights are no longer at hand."""
    import copy
    for key in ("source", "frames", "seed_backgrounds"):
        if new.get(key) != old.get(key):
            raise ValueError(f"cannot keep the earlier generators: its {key} is {old.get(key)!r}, "
                             f"this judge's {new.get(key)!r} (not the same frames)")
    for arm in set(new["arms"]) & set(old["arms"]):
        a, b = new["arms"][arm], old["arms"][arm]
        if a["detected"] != b["detected"] or abs((a["error_px_mean"] or 0.0)
                                                 - (b["error_px_mean"] or 0.0)) > tolerance_px:
            raise ValueError(f"cannot keep the earlier generators: {arm!r} measured {a['detected']} hands, "
                             f"{a['error_px_mean']} px now and {b['detected']}, {b['error_px_mean']} px then "
                             "(not the same frames or not the same peer)")
    out = copy.deepcopy(new)
    kept = [g for g in old["arm_order"] if g in old.get("differences", {}) and g not in new["arms"]]
    for g in kept:
        out["arms"][g] = copy.deepcopy(old["arms"][g])
        out["differences"][g] = copy.deepcopy(old["differences"][g])
        out["generators"][g] = copy.deepcopy(old["generators"][g]) | {
            "measured_by": old["generators"][g].get("measured_by", old.get("command"))}
    base = [a for a in new["arm_order"] if a not in new["differences"]]
    out["arm_order"] = base + [g for g in old["arm_order"] if g in out["differences"] and g not in base] + [
        g for g in new["arm_order"] if g in new["differences"] and g not in old["arm_order"]]
    return out


def format_peer_table(res: dict) -> str:
    """The figures of :func:`peer_judge` as a Markdown table (the README's)."""
    def ci(v, fmt):
        return "" if v is None else f" ({format(v[0], fmt)} to {format(v[1], fmt)})"
    lines = ["| frames | peer found a hand | its 2D error where found (px of the frame, mean; median) |",
             "|---|---|---|"]
    for arm in res["arm_order"]:
        r = res["arms"][arm]
        err = "-" if r["error_px_mean"] is None else (
            f"{r['error_px_mean']:.1f}{ci(r['error_px_mean_ci95'], '.1f')}; {r['error_px_median']:.1f}")
        lines.append(f"| {arm} | {100 * r['detection_rate']:.0f} %"
                     f"{ci([100 * v for v in r['detection_rate_ci95']], '.0f')} of {r['frames']} | {err} |")
    for arm in [a for a in res["arm_order"] if a in res["differences"]]:
        d = res["differences"][arm]
        err = "-" if d["error_px_mean"] is None else (
            f"{d['error_px_mean']:+.1f}{ci(d['error_px_mean_ci95'], '+.1f')} over the {d['both_detected']} "
            "frames found in both")
        lines.append(f"| {arm} − {PEER_RENDER_OVER_PHOTO} (paired) | {100 * d['detection_rate']:+.0f} points"
                     f"{ci([100 * v for v in d['detection_rate_ci95']], '+.0f')} | {err} |")
    return "\n".join(lines)
