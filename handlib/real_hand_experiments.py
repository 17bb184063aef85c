"""Real-hand experiments: RegNet arms trained alike, one change each, measured on renders
and on the real-hand yardstick (the ``real-hand-arms`` command).

Introduced in ``notebooks/03_regnet_training.ipynb`` (section "Towards real hands").

A *plan* (JSON, e.g. ``data/experiments/real_hands.json``) fixes the budget every arm
shares and lists the arms::

    {"budget": {"steps": 1600, "batch": 32, "input_size": 128, "steps_per_epoch": 50, "seed": 0},
     "test": "build/regnet/data/test-real-like",
     "baseline": {"name": "synth+GANerated", "from": "data/results/regnet_ablation.json"},
     "arms": [{"name": "framing 1.2-2.2x", "change": "crops 1.2-2.2x the hand, shifted up to 15 %",
               "data": ["build/regnet/data/synth", "build/regnet/data/ganerated"],
               "augment": {"crop_range": [1.2, 2.2], "shift_jitter": 0.15}}, ...]}

Each arm trains in its own resumable run folder (:func:`handlib.pose_training.train_run`),
then is measured on the held-out rendered ``test`` set (2D/3D AUC, as ``evaluate-regnet``)
and on the yardstick (:func:`handlib.pose_evaluation.real_yardstick`: all scored photos
and the video, agreement with MediaPipe, not ground truth). The results file is written
after every arm, so an interrupted plan loses at most the arm it was measuring; rerunning
the command measures only the arms whose entry is missing or whose settings changed.
The ``baseline`` arm (the starting recipe, trained by ``compare-regnet`` under the same
budget) is read from its results file rather than trained again. ``OUT.png`` shows the
yardstick figures of every arm beside the shipped model, the open hand and the goals.
"""
from __future__ import annotations

from pathlib import Path

BUDGET_KEYS = ("steps", "batch", "input_size", "steps_per_epoch", "seed")


def read_plan(path) -> dict:
    """The plan at ``path``, checked: a ``budget`` with :data:`BUDGET_KEYS` (positive
    integers, seed 0 or more), a ``test`` folder, and ``arms``, each with a unique
    ``name``, a ``change`` (one line, what differs from the baseline), ``data`` (folders,
    or a peer cache file for a teacher's 2D), optional ``mix`` (a weight per folder),
    optional ``input_size`` (the crop's pixels, instead of the budget's: a light
    configuration), optional ``seed`` (instead of the budget's: a repeat of an arm) and
    optional ``augment`` (:func:`handlib.pose_training.check_augment`)."""
    from handlib import files
    from handlib.pose_training import check_augment
    plan = files.read_json(path, "an experiment plan (budget, test, arms)")
    where = f"{path}:"
    if not isinstance(plan, dict) or not {"budget", "test", "arms"} <= set(plan):
        raise ValueError(f"{where} expected an object with 'budget', 'test' and 'arms'")
    b = plan["budget"]
    if not isinstance(b, dict) or set(b) != set(BUDGET_KEYS):
        raise ValueError(f"{where} the budget must give exactly {', '.join(BUDGET_KEYS)}")
    for k in BUDGET_KEYS:
        if not isinstance(b[k], int) or b[k] < (0 if k == "seed" else 1):
            raise ValueError(f"{where} budget {k} must be a whole number "
                             f"{'0 or more' if k == 'seed' else 'above 0'}, got {b[k]!r}")
    if b["steps"] % b["steps_per_epoch"] or b["input_size"] % 16:
        raise ValueError(f"{where} steps must be a multiple of steps_per_epoch and input_size of 16")
    arms = plan["arms"]
    if not isinstance(arms, list) or not arms:
        raise ValueError(f"{where} 'arms' must be a non-empty list")
    names = set()
    for i, a in enumerate(arms):
        if not isinstance(a, dict) or not {"name", "change", "data"} <= set(a):
            raise ValueError(f"{where} arm {i} needs 'name', 'change' and 'data'")
        if a["name"] in names:
            raise ValueError(f"{where} two arms are named {a['name']!r}")
        names.add(a["name"])
        if not isinstance(a["data"], list) or not a["data"]:
            raise ValueError(f"{where} arm {a['name']!r}: 'data' must list one or more folders")
        mix = a.get("mix")
        if mix is not None and (not isinstance(mix, list) or len(mix) != len(a["data"])
                                or not all(isinstance(m, (int, float)) and m >= 0 for m in mix)
                                or not sum(mix) > 0):
            raise ValueError(f"{where} arm {a['name']!r}: 'mix' must give a weight (0 or more, "
                             f"not all 0) per data folder ({len(a['data'])})")
        size = a.get("input_size")
        if size is not None and (not isinstance(size, int) or size < 32 or size % 16):
            raise ValueError(f"{where} arm {a['name']!r}: 'input_size' must be a multiple of 16, "
                             f"32 or more, got {size!r}")
        seed = a.get("seed")
        if seed is not None and (not isinstance(seed, int) or seed < 0):
            raise ValueError(f"{where} arm {a['name']!r}: 'seed' must be a whole number 0 or more, got {seed!r}")
        a["augment"] = check_augment(a.get("augment"))
    return plan


def _in_repo(path) -> Path:
    """A path as given, or, where it is relative and not found here, under the repository."""
    from handlib import files
    path = Path(path)
    return files.REPO_ROOT / path if not path.is_absolute() and not path.exists() else path


def arm_settings(plan: dict, arm: dict) -> dict:
    """What makes an arm's result valid: its data, augmentation, budget and test set."""
    return {"data": [str(d) for d in arm["data"]], "mix": arm.get("mix"), "augment": arm["augment"],
            "budget": plan["budget"] | {k: arm[k] for k in ("input_size", "seed") if k in arm},
            "test": str(plan["test"])}


def run_plan(plan_path, runs="build/runs/real-hands", out="data/results/real_hand_arms",
             only=None, limit: int | None = None, command: str = "", progress: bool = True) -> dict:
    """Train and measure every arm of the plan (or those named in ``only``); see the
    module's docstring. Returns the results, also written to ``OUT.json``."""
    from handlib import datasets, files, metrics
    from handlib import weights as wts
    from handlib.pose_evaluation import _labels, predict_batches, real_yardstick, yardstick_summary
    from handlib.pose_training import train_run
    plan = read_plan(plan_path)
    names = [a["name"] for a in plan["arms"]]
    unknown = sorted(set(only or ()) - set(names))
    if unknown:
        raise ValueError(f"no arm named {unknown[0]!r} in {plan_path}; the arms: {names}")
    out = Path(out).with_suffix(".json")
    old = files.read_json(out, "real-hand experiment results") if out.is_file() else {}
    result = {"plan": str(plan_path), "budget": plan["budget"], "test": str(plan["test"]),
              "baseline": plan.get("baseline"), "label": None, "order": names,
              "arms": {k: v for k, v in old.get("arms", {}).items() if k in names}}
    b = plan["budget"]
    samples = datasets.open_dataset(plan["test"], limit=limit)
    if not samples:
        raise ValueError(f"{plan['test']}: no labelled frames for the rendered test")
    gt_uv, gt, bone, vis = _labels(samples)
    for arm in plan["arms"]:
        name = arm["name"]
        settings = arm_settings(plan, arm)
        done = result["arms"].get(name)
        slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
        run = Path(runs) / slug
        if (only and name not in only) or (done and done.get("settings") == settings
                                           and done.get("limit") == limit):
            stored = run / "real_evaluation.json"      # the yardstick's full figures, where kept
            if done and stored.is_file():
                r = files.read_json(stored, "the arm's real-hand figures")
                if name in r.get("sets", {}).get("all_photos", {}).get("models", {}):
                    done["real_yardstick"] = yardstick_summary(r, name)
            continue
        record = train_run(arm["data"], run, input_size=arm.get("input_size", b["input_size"]), steps=b["steps"],
                           batch_size=b["batch"], steps_per_epoch=b["steps_per_epoch"],
                           seed=arm.get("seed", b["seed"]), limit=limit, command=command, progress=progress,
                           augment=arm["augment"], mix=arm.get("mix"))
        model = wts.load_model(run / "regnet.keras")
        p = predict_batches(model, samples)
        test = metrics.evaluate(p["pred_uv_image"], gt_uv, p["pred_xyz_camera"], gt, bone, vis)["all"]
        entry = {"change": arm["change"], "settings": settings, "limit": limit, "run": str(run),
                 "wall_time_s": record["wall_time_s"], "machine": record["machine"],
                 "git_commit": record["git_commit"],
                 "test": {"2d_auc": test["2d"]["auc_0_30px"], "3d_auc": test["3d"]["auc_20_50mm"],
                          "frames": len(samples)}}
        real = real_yardstick(run / "regnet.keras", name, run / "real_evaluation", limit=limit)
        if real is not None:
            entry["real_yardstick"] = real
            result["label"] = real["label"]
        result["arms"][name] = entry
        files.write_json(out, result)
    files.write_json(out, result)
    write_figure(result, out.with_suffix(".png"))
    return result


def write_figure(result: dict, path, real_evaluation="data/results/real_evaluation.json") -> bool:
    """The arms' yardstick figures as a PNG (:func:`handlib.visualisation.plot_arms`,
    beside the shipped model and the open hand from ``evaluate-real``'s results, where
    that file exists); False where no arm has yardstick figures."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from handlib import files, visualisation
    rows = yardstick_rows(result)
    if not rows:
        return False
    real = _in_repo(real_evaluation)
    refs = references(files.read_json(real, "the real-hand yardstick's results")) if real.is_file() else {}
    fig = visualisation.plot_arms(rows, refs, GOALS)
    with files.atomic_path(Path(path), suffix=".png") as tmp:
        fig.savefig(tmp, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return True


def baseline_row(result: dict) -> dict | None:
    """The baseline arm's figures in the arms' shape, read from its results file
    (``compare-regnet``'s), or None where the plan names none or the file lacks it."""
    from handlib import files
    base = result.get("baseline")
    if not base:
        return None
    path = _in_repo(base["from"])
    if not path.is_file():
        return None
    arm = files.read_json(path, "the baseline's results").get("arms", {}).get(base["name"])
    if not arm or "real_yardstick" not in arm:
        return None
    return {"change": "the starting recipe (compare-regnet)", "real_yardstick": arm["real_yardstick"],
            "test": {"2d_auc": arm["test"]["2d"]["auc_0_30px"], "3d_auc": arm["test"]["3d"]["auc_20_50mm"]},
            "wall_time_s": arm.get("wall_time_s")}


def format_arms(result: dict) -> str:
    """A Markdown table: the baseline and every arm, real-hand yardstick and rendered test."""
    rows = ["| arm | change from the starting recipe | 2D AUC 0-30 px | 3D AUC root + scale | "
            "3D AUC aligned | median rotation (tips in front of the wrist) | video agreement (hand sizes) | "
            "video low-confidence | rendered 2D AUC | rendered 3D AUC | minutes |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    order = result.get("order") or list(result["arms"])          # the plan's order
    arms = {n: result["arms"][n] for n in order if n in result["arms"]}
    base = baseline_row(result)
    if base is not None:
        arms = {result["baseline"]["name"]: base} | arms
    def f(x, scale=1.0, digits=3, unit=""):
        return "-" if x is None else f"{scale * x:.{digits}f}{unit}"
    for name, e in arms.items():
        r, t = e.get("real_yardstick", {}), e["test"]
        tilt = "-" if r.get("median_rotation_deg") is None else \
            f"{r['median_rotation_deg']:.0f}° ({r['tips_in_front_of_wrist_mm']:.0f} mm)"
        rows.append(f"| {name} | {e['change']} | {f(r.get('2d_auc'))} | {f(r.get('3d_root_scale_auc'))} | "
                    f"{f(r.get('3d_aligned_auc'))} | {tilt} | {f(r.get('video_agreement'))} | "
                    f"{f(r.get('video_low_confidence'), 100, 0, ' %')} | {f(t['2d_auc'])} | "
                    f"{f(t['3d_auc'])} | {f(e.get('wall_time_s'), 1 / 60, 0)} |")
    return "\n".join(rows)


GOALS = {"2d_auc": 0.70, "3d_root_scale_auc": 0.60, "3d_aligned_auc": 0.90, "video_agreement": 0.15,
         "video_low_confidence": 0.10}
"""The course's goals on the yardstick (all scored photos; the video), for the figure."""


PREVIOUS_SHIPPED = "previous shipped"
"""The name ``evaluate-real`` gives the model the shipped one replaced (README, notebook 03)."""


def references(real_evaluation: dict, shipped: str = "shipped",
               previous: str = PREVIOUS_SHIPPED) -> dict:
    """Reference lines for :func:`handlib.visualisation.plot_arms` from ``evaluate-real``'s
    results: the shipped model and, where measured, the model it replaced (both with their
    own, longer budget), and the fixed open hand."""
    photos = real_evaluation["sets"]["all_photos"]
    out = {}
    for name, label in ((shipped, "shipped model"), (previous, "previous shipped model")):
        m = photos["models"].get(name)
        if m is None:
            continue
        v = (real_evaluation.get("video") or {}).get("models", {}).get(name, {}).get("tracker", {})
        out[label] = {"2d_auc": m["2d"]["auc"], "3d_root_scale_auc": m["3d_root_scale"]["auc"],
                      "3d_aligned_auc": m["3d_aligned"]["auc"],
                      "video_agreement": v.get("agreement_mean_hand_sizes")}
    oh = (photos.get("baselines") or {}).get("fixed_open_hand")
    if oh is not None:
        out["fixed open hand"] = {"3d_root_scale_auc": oh["3d_root_scale"]["auc"],
                                  "3d_aligned_auc": oh["3d_aligned"]["auc"]}
    return out


def yardstick_rows(result: dict) -> dict:
    """``{arm: real_yardstick figures}`` in the plan's order, the baseline first."""
    order = result.get("order") or list(result["arms"])
    rows = {}
    base = baseline_row(result)
    if base is not None:
        rows[result["baseline"]["name"] + " (start)"] = base["real_yardstick"]
    rows |= {n: result["arms"][n]["real_yardstick"] for n in order
             if n in result["arms"] and "real_yardstick" in result["arms"][n]}
    return rows
