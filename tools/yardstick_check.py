"""The real-hand yardstick checked on renders: is MediaPipe's 3D, turned into the camera
frame as the yardstick turns it, where the renders' true joints are?

    python tools/yardstick_check.py                  # build/regnet/data/test-real-like, 400 frames
    python tools/yardstick_check.py --set build/regnet/data/test-synth --out build/yardstick_check_synth

On photos the yardstick can only score agreement with MediaPipe. On rendered frames the
truth is known, so the same conversion (``handlib.real_evaluation.reference_in_camera``)
can be checked: ``tools/mediapipe_reference.py --folders`` runs MediaPipe Hands 0.10.21 over
the set's images in its own virtual environment, and
``handlib.real_evaluation.renders_check`` scores its 3D (root + scale and aligned AUC, the
fingertips' lean), its 2D and its hand side against the renders' labels, beside the fixed
open hand. ``OUT.json`` is written atomically. Rendered hands are not MediaPipe's domain, so
its figures here are a floor on how well it sees hands, not a measure of it on photos.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--set", default="build/regnet/data/test-real-like",
                   help="a rendered set with 3D labels (make-dataset), default %(default)s")
    p.add_argument("--out", default="data/results/yardstick_check", help="OUT.json")
    p.add_argument("--venv", default=None, help="MediaPipe's virtual environment (mediapipe_reference's default)")
    p.add_argument("--wheelhouse", default=None)
    p.add_argument("--seed", type=int, default=0, help="the bootstrap's seed")
    args = p.parse_args(argv)
    from handlib import files, ganerated
    from handlib import peer_reference as pr
    from handlib import real_evaluation as rev
    from handlib.datasets import open_dataset
    src = Path(args.set)
    try:
        samples = open_dataset(src)
        parts = ganerated.partitions(src)
    except (ValueError, OSError) as exc:
        print(f"error: {exc} (make it with `python -m handlib make-dataset`)", file=sys.stderr)
        return 2
    names = [Path(s.image_path).name for s in samples]
    if len(set(names)) != len(names):
        print("error: image names repeat across the set's partitions; give a set of at most "
              f"{ganerated.FRAMES_PER_PARTITION} frames", file=sys.stderr)
        return 2
    rc = pr.run_on_folders(parts, glob="*_color_composed.png", venv=args.venv, wheelhouse=args.wheelhouse)
    if rc:
        return rc
    answers = {}
    try:
        for part in parts:
            for name, a in pr.read_folder_answers(part / pr.FOLDER_CACHE).items():
                answers[str(part / name)] = a
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    missing = [s.image_path for s in samples if str(Path(s.image_path)) not in answers]
    if missing:
        print(f"error: the peer's answers lack {len(missing)} frames (first {missing[0]}): the cache is "
              "older than the set", file=sys.stderr)
        return 2
    keyed = {n: answers[str(Path(s.image_path))] for n, s in zip(names, samples)}
    from handlib import weights as wts
    res = {"what": "MediaPipe's answers on rendered frames, turned into the camera frame as the "
                   "real-hand yardstick turns them, against the renders' true joints",
           "peer": pr.PEER, "set": str(src), "command": "python " + " ".join([Path(__file__).relative_to(ROOT).as_posix(),
                                                                               *(argv or sys.argv[1:])]),
           "git_commit": wts.git_commit(), "machine": wts.machine(),
           "own_camera": rev.renders_check(samples, keyed, seed=args.seed),
           "assumed_60_degrees": rev.renders_check(samples, keyed, seed=args.seed, assumed_fov=60.0)}
    out = Path(args.out).with_suffix(".json")
    files.write_json(out, res)
    for key, label in (("own_camera", "each frame's own camera"), ("assumed_60_degrees", "a 60-degree camera assumed")):
        r = res[key]
        q, f = r["peer"], r["fixed_open_hand"]
        print(f"{src}, {label}: MediaPipe found {r['detected']} of {r['frames']} hands, named the side right on "
              f"{100 * r['side_right_share']:.1f} %; 2D AUC {q['2d']['auc']:.3f}; 3D root + scale "
              f"{q['3d_root_scale']['auc']:.3f}, aligned {q['3d_aligned']['auc']:.3f} (fixed open hand "
              f"{f['3d_root_scale']['auc']:.3f}, {f['3d_aligned']['auc']:.3f}); median rotation "
              f"{q['tilt']['median_rotation_deg']:.0f} deg; fingertips in front of the wrist "
              f"{q['tilt']['tips_in_front_of_wrist_mm']:.0f} mm (truth {q['tilt']['reference_tips_in_front_of_wrist_mm']:.0f})")
    print(f"-> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
