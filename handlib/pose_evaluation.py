"""Measuring a trained RegNet on labelled (rendered) sets: predictions mapped back to the
images, 2D/3D metrics beside the mean-pose baseline, the hand's side, the regression
figures of a shipped model, and the ``evaluate-regnet`` command.

Introduced in ``notebooks/03_regnet_training.ipynb``. Training lives in
:mod:`handlib.pose_training`; real hands are measured by :mod:`handlib.real_evaluation`.
"""
from __future__ import annotations

from dataclasses import replace

from pathlib import Path

import numpy as np

from handlib import backend
from handlib import pipeline as pl
from handlib import pose_network as pn

tf = backend.tensorflow()

REGRESSION_SEED, REGRESSION_FRAMES = 2027, 24


def predict_batches(model, samples, batch_size: int = 32, keep_images: bool = False,
                    framing: dict | None = None):
    """Run ``model`` on labelled samples, cut as in training but without augmentation
    (canonical side, crop from the labelled joints). ``framing``: ``{"crop_range": [lo,
    hi], "shift_jitter": s}`` cuts each crop instead with a box side drawn log-uniformly
    between ``lo`` and ``hi`` times the joints' extent and its centre moved by up to ``s``
    of the side (default: training's, 0.08; seeded: the same boxes for every model; nothing else is augmented), as
    ``train-regnet --crop-range`` trains. Returns a dict of NumPy arrays:
    the model's outputs, the targets, and per sample the prediction mapped back to the
    sample's image: ``pred_uv_image`` (N, 21, 2) pixels (from the sub-pixel heatmap
    maxima), ``pred_xyz_camera`` (N, 21, 3) normalised, camera frame, the sample's side
    (un-flipped); and ``confidence`` (N, 21) (heatmap maxima). With ``keep_images``
    also ``images`` (N, S, S, 3) uint8, the crops the model saw."""
    from handlib import heatmaps as hmaps
    info = pn.model_info(model)
    S, Hs = info["input_size"], info["heatmap_size"]
    cfg = pl.PipelineConfig(input_size=S, heatmap_size=Hs, sigma=info["sigma"], augment=False,
                            shuffle=False, batch_size=batch_size, canonical_side=info["side"])
    if framing:        # the pipeline's augmentation with everything but the box switched off
        cfg = replace(cfg, augment=True, crop_range=tuple(framing["crop_range"]),
                      shift_jitter=float(framing.get("shift_jitter", cfg.shift_jitter)), max_rotation=0.0,
                      color_jitter=0.0, appearance=0.0, background_prob=0.0, seed=0)
    outs, tgts, crops = [], [], []
    for image, t in pl.make_pipeline(samples, cfg):
        outs.append(pn.forward(model, image, t["crop_K"]))
        tgts.append({k: np.asarray(v) for k, v in t.items()})
        if keep_images:
            crops.append(np.round(np.asarray(image) * 255).astype(np.uint8))
    cat = lambda dicts: {k: np.concatenate([d[k] for d in dicts]) for k in dicts[0]}  # noqa: E731
    o, t = cat(outs), cat(tgts)
    uv_hm, peak = hmaps.heatmap_maxima(o["heatmaps"])
    uv_in = hmaps.to_image_coords(uv_hm, S, Hs)
    pred_uv, pred_xyz = [], []
    for i in range(len(uv_in)):
        crop = pl.crop_of(t, i, S)
        pred_uv.append(crop.from_crop(uv_in[i]))
        pred_xyz.append(crop.from_crop_frame(o["xyz"][i]))
    out = {"outputs": o, "targets": t, "pred_uv_image": np.stack(pred_uv),
           "pred_xyz_camera": np.stack(pred_xyz), "confidence": peak}
    if keep_images:
        out["images"] = np.concatenate(crops)
    return out


def _labels(samples):
    """Labels of samples for :mod:`handlib.metrics`: 2D (N, 21, 2), normalised 3D
    (N, 21, 3), |W - M0| in mm (N,), visibility (N, 21) (all visible where unknown)."""
    from handlib import metrics
    return (np.stack([s.uv for s in samples]), np.stack([s.xyz_norm for s in samples]),
            metrics.bone_length(np.stack([s.xyz for s in samples])),
            np.stack([s.visible if s.visible is not None else np.ones(21, bool) for s in samples]))


def evaluate_samples(model, samples, batch_size: int = 32, predictions=None) -> dict:
    """:func:`handlib.metrics.evaluate` of ``model`` on labelled samples (2D in the
    pixels of the samples' images, 3D in mm scaled by each label's |W - M0|);
    ``predictions``: :func:`predict_batches`' result, when already computed."""
    from handlib import metrics
    p = predictions if predictions is not None else predict_batches(model, samples, batch_size)
    gt_uv, gt_norm, bone, vis = _labels(samples)
    return metrics.evaluate(p["pred_uv_image"], gt_uv, p["pred_xyz_camera"], gt_norm, bone, vis)


def regression_samples(folder=None, frames: int = REGRESSION_FRAMES):
    """The fixed, seeded rendered set of RegNet's regression test: ``frames`` frames of
    seed :data:`REGRESSION_SEED`, half ``synth`` half ``real-like``, both hand sides
    (rendered into ``folder``, default a folder in the temporary directory, made once)."""
    import tempfile

    from handlib import datasets, synthetic
    if folder is None:
        folder = Path(tempfile.gettempdir()) / f"handlib_regnet_regression_{REGRESSION_SEED}_{frames}"
    root = Path(folder)
    out = []
    for k, look in enumerate(("synth", "real-like")):
        d = root / look              # made once, resumed (and checked) afterwards
        synthetic.make_dataset(d, frames // 2, look=look, seed=REGRESSION_SEED + k, progress=False)
        out += datasets.open_dataset(d)
    return out


def regression_figures(model, pose: dict | None = None) -> dict:
    """2D and 3D mean errors of ``model`` on :func:`regression_samples` (stored in the
    training record as ``figures``; the regression test recomputes them), and with
    ``pose`` (:func:`mean_pose`) the mean-pose baseline's 3D error on the same frames."""
    from handlib import metrics
    samples = regression_samples()
    p = predict_batches(model, samples)
    ev = evaluate_samples(model, samples, predictions=p)
    extra = {}
    if pose is not None:
        _, gt_norm, bone, _ = _labels(samples)
        _, bxyz = baseline_predictions(pose, p["targets"], pn.model_info(model)["input_size"])
        extra = {"mean_pose_epe_3d_mm": float(metrics.errors_3d_mm(bxyz, gt_norm, bone).mean())}
    return {"set": f"pose_evaluation.regression_samples(): {REGRESSION_FRAMES} frames of seeds "
                   f"{REGRESSION_SEED} (synth) and {REGRESSION_SEED + 1} (real-like)",
            "epe_2d_px_256": ev["all"]["2d"]["epe_mean_px"],
            "epe_3d_mm": ev["all"]["3d"]["epe_mean_mm"],
            "auc_3d_20_50mm": ev["all"]["3d"]["auc_20_50mm"], **extra}


# ----------------------------------------------------------------------- evaluation
def mean_pose(sources, input_size: int, mix=None, n: int = 512, seed: int = 0) -> dict:
    """The mean-pose baseline's pose: the mean normalised 3D (21, 3) in the crop camera's
    frame and the mean 2D joints (21, 2) as fractions of the crop, over ``n`` training
    frames drawn from the sources (lists of samples) by their ``mix`` weights, cut as in
    evaluation (unaugmented crops from the labelled joints, canonical side)."""
    rng = np.random.default_rng(seed)
    w = np.ones(len(sources)) if mix is None else np.asarray(mix, np.float64)
    counts = rng.multinomial(n, w / w.sum())
    pick = [src[i] for src, c in zip(sources, counts) if c > 0
            for i in rng.choice(len(src), c, replace=len(src) < c)]
    cfg = pl.PipelineConfig(input_size=input_size, heatmap_size=input_size // 4,
                            batch_size=128, seed=seed, augment=False, shuffle=False)
    xyz, uv = [], []
    for _, t in pl.make_pipeline(pick, cfg):
        xyz.append(np.asarray(t["xyz_norm"])[np.asarray(t["has_3d"]) > 0])  # 3D-labelled only
        uv.append(np.asarray(t["uv_input"]) / input_size)
    return {"xyz_norm": np.concatenate(xyz).mean(0).tolist(),
            "uv_fraction": np.concatenate(uv).mean(0).tolist(), "samples": len(pick),
            "method": "unaugmented crops, sources by mix weight"}


def baseline_predictions(pose: dict, targets, input_size: int):
    """The mean pose placed in each sample's crop: (uv in the sample's image (N, 21, 2),
    normalised 3D in its camera frame (N, 21, 3))."""
    uv_crop = np.asarray(pose["uv_fraction"]) * input_size
    xyz = np.asarray(pose["xyz_norm"])
    uv, x3 = [], []
    for i in range(len(targets["crop_K"])):
        crop = pl.crop_of(targets, i, input_size)
        uv.append(crop.from_crop(uv_crop))
        x3.append(crop.from_crop_frame(xyz))
    return np.stack(uv), np.stack(x3)


def side_accuracy(model, samples) -> dict:
    """How often ``side="auto"`` (:func:`handlib.prediction.predict_hand`) names the hand's
    side on labelled samples, cut by the labelled joints' box."""
    from handlib import crop_camera as cc
    from handlib import prediction
    right = 0
    for s in samples:
        img = s.load_image()
        centre, side = cc.crop_boxes(s.uv[None], s.image_K)
        p = prediction.predict_hand(model, img, side="auto", K=s.image_K,
                                    box=(centre[0, 0], centre[0, 1], side[0]))
        right += p.side == s.side
    return {"samples": len(samples), "correct": int(right), "accuracy": right / max(len(samples), 1)}


def evaluate_run(weights, test_dirs, out=None, limit: int | None = None, command: str = "",
                 framing: dict | None = None) -> dict:
    """The ``evaluate-regnet`` command: metrics of a RegNet on each test folder (2D in the
    pixels of the sets' images, 3D in mm), beside the mean-pose baseline stored in the
    model's training record, and the accuracy of ``side="auto"``. ``framing``: the test
    crops' boxes varied as :func:`predict_batches` says (the side and the real checks
    keep their own crops). Written to ``OUT.json`` (atomically) when ``out`` is given."""
    from handlib import datasets, files, metrics
    from handlib import weights as wts
    model = wts.load_model(weights)
    record = files.read_json(wts.record_path(weights), "a RegNet training record")
    info = pn.model_info(model)
    if framing:        # recorded with the shift it used
        framing = {"crop_range": list(framing["crop_range"]),
                   "shift_jitter": float(framing.get("shift_jitter", pl.PipelineConfig.shift_jitter))}
    result = {"weights": str(weights), "command": command, "git_commit": wts.git_commit(),
              "framing": framing or "fixed: the course's crop, 1.7 times the joints' extent", "sets": {}}
    for d in test_dirs:
        samples = datasets.open_dataset(d, limit=limit)
        p = predict_batches(model, samples, framing=framing)
        gt_uv, gt, bone, vis = _labels(samples)
        entry = {"frames": len(samples), "sides": {k: sum(s.side == k for s in samples)
                                                   for k in ("left", "right")},
                 "regnet": metrics.evaluate(p["pred_uv_image"], gt_uv, p["pred_xyz_camera"], gt, bone, vis)}
        if "mean_pose" in record:
            buv, bxyz = baseline_predictions(record["mean_pose"], p["targets"], info["input_size"])
            entry["mean_pose"] = metrics.evaluate(buv, gt_uv, bxyz, gt, bone, vis)
        entry["auto_side"] = side_accuracy(model, samples)
        result["sets"][str(d)] = entry
    from handlib import real_checks
    pose = record.get("mean_pose")
    v = real_checks.video_agreement(model, pose, side="right")
    if v is not None:
        v["regnet"].pop("per_frame_mean")
        if "mean_pose" in v:
            v["mean_pose"].pop("per_frame_mean")
    b = real_checks.letters_inside_box(model, pose)
    result["real"] = {"video_agreement": v, "letters_inside_box": b,
                      "note": "real data from ../shared/realdata (never committed); None where absent"}
    if out is not None:
        files.write_json(Path(str(out) + ".json") if not str(out).endswith(".json") else Path(out), result)
    return result


def format_results(result) -> str:
    """A Markdown table of :func:`evaluate_run`'s headline figures (all joints)."""
    rows = ["| test set | model | 2D EPE (px) | 2D AUC 0-30 px | 3D EPE (mm) | 3D AUC 20-50 mm | 3D AUC, LS scale |",
            "|---|---|---|---|---|---|---|"]
    f = result.get("framing")
    if isinstance(f, dict):
        rows.insert(0, f"test crops: box side {f['crop_range'][0]:g}-{f['crop_range'][1]:g}x the joints' "
                       f"extent, centre moved up to {f['shift_jitter']:g} of the side\n")
    for d, e in result["sets"].items():
        for name in ("regnet", "mean_pose"):
            if name not in e:
                continue
            a = e[name]["all"]
            rows.append(f"| {Path(d).name} ({e['frames']}) | {name.replace('_', ' ')} | "
                        f"{a['2d']['epe_mean_px']:.1f} | {a['2d']['auc_0_30px']:.3f} | "
                        f"{a['3d']['epe_mean_mm']:.1f} | {a['3d']['auc_20_50mm']:.3f} | "
                        f"{a['3d_least_squares_scale']['auc_20_50mm']:.3f} |")
        rows.append(f"| {Path(d).name} | side=auto picks the right side | "
                    f"{100 * e['auto_side']['accuracy']:.1f} % | | | | |")
    real = result.get("real", {})
    v, b = real.get("video_agreement"), real.get("letters_inside_box")
    if v:
        rows.append(f"\nreal video ({v['frames']} frames): mean 2D distance to the reference tracks "
                    f"{v['regnet']['mean']:.3f} hand sizes (median {v['regnet']['median']:.3f}); "
                    f"mean pose {v['mean_pose']['mean']:.3f}; side=auto says right on "
                    f"{100 * v['auto_side_says_right']:.0f} % of frames")
    if b:
        rows.append(f"real photos ({b['photos']}): {100 * b['regnet']:.1f} % of predicted joints inside "
                    f"the hand box; mean pose {100 * b['mean_pose']:.1f} %; all at the crop centre "
                    f"{100 * b['all_at_crop_centre']:.1f} %")
    return "\n".join(rows)


def real_yardstick(weights, name: str, out, limit: int | None = None) -> dict | None:
    """The real-hand yardstick's headline figures for one model (all scored photos and
    the video; :mod:`handlib.real_evaluation`), or None where the peer reference is absent.
    The full figures go to ``OUT.json``."""
    from handlib import files, peer_reference, real_evaluation
    if files.realdata_dir(quiet=True) is None:
        print("no real photos (the real-data folder is absent): the real-hand yardstick is skipped")
        return None
    if peer_reference.load_sets(quiet=True) is None:
        print(f"no peer reference (run `{peer_reference.MAKE_CACHE}`): the real-hand yardstick is skipped")
        return None
    r = real_evaluation.evaluate_real([weights], [name], out, limit=limit)
    return yardstick_summary(r, name)


def yardstick_summary(r: dict, name: str) -> dict:
    """The headline figures of model ``name`` in ``evaluate-real``'s results ``r``: all
    scored photos (2D AUC, 3D AUCs, the tilt: median rotation to the reference and how far
    the fingertips sit in front of the wrist, the reference's too) and the video."""
    from handlib import real_evaluation
    f = r["sets"]["all_photos"]["models"][name]
    out = {"photos": r["sets"]["all_photos"]["photos"], "2d_auc": f["2d"]["auc"],
           "3d_root_scale_auc": f["3d_root_scale"]["auc"], "3d_aligned_auc": f["3d_aligned"]["auc"],
           "label": real_evaluation.LABEL}
    tilt = f.get("tilt")
    if tilt:
        out |= {"median_rotation_deg": tilt["median_rotation_deg"],
                "tips_in_front_of_wrist_mm": tilt["tips_in_front_of_wrist_mm"],
                "reference_tips_in_front_of_wrist_mm": tilt["reference_tips_in_front_of_wrist_mm"]}
    if r.get("video"):
        t = r["video"]["models"][name]["tracker"]
        out |= {"video_agreement": t["agreement_mean_hand_sizes"], "video_low_confidence": t["low_confidence_share"]}
    return out
