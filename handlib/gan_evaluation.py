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
