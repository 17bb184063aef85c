"""The GeoConGAN judged by a real-trained peer: does MediaPipe find the hands, and their
joints, as well in GANerated frames as in the untranslated renders?

    python tools/gan_peer_judge.py                     # the shipped generator, 300 frames
    python tools/gan_peer_judge.py --generator 'GANerated, shipped generator=data/weights/geocongan_synth_to_real.keras' \\
        --generator 'GANerated, longer=build/runs/gan-longer/g_synth_to_real.keras'
    python tools/gan_peer_judge.py --generator ... --keep data/results/gan_peer_judge.json
                                                       # keep earlier generators' rows

1. :func:`handlib.gan_evaluation.peer_frames` writes the frames of every arm (the render as
   it is, the untranslated hand over a background photo, the hand translated by each
   generator over the same photo) under ``--work`` (default ``build/gan-peer-judge/``);
2. ``tools/mediapipe_reference.py --folders`` runs MediaPipe Hands 0.10.21 over each arm's
   folder in its own virtual environment (made once; MediaPipe is never a dependency of
   the course);
3. :func:`handlib.gan_evaluation.peer_judge` scores the answers against the renders'
   labels; ``OUT.json`` (figures, the command, the table) and ``OUT.png`` (frames with the
   peer's answers) are written atomically.

The rendered set (default ``build/regnet/data/gan-src``, the source ``make weights``
GANerates) needs ``make-dataset``; nothing here trains.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = "GANerated, shipped generator"
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--src", default="build/regnet/data/gan-src", help="a rendered set (make-dataset --look synth)")
    p.add_argument("--generator", action="append", metavar="NAME=PATH",
                   help="an arm: a name and a synth->real generator (.keras with its record); repeatable "
                        "(default 'GANerated, shipped generator=data/weights/geocongan_synth_to_real.keras')")
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--seed", type=int, default=0, help="the background photos' seed (and the bootstrap's)")
    p.add_argument("--work", default="build/gan-peer-judge", help="where the frames and the peer's answers go")
    p.add_argument("--out", default="data/results/gan_peer_judge", help="OUT.json and OUT.png")
    p.add_argument("--venv", default=None, help="MediaPipe's virtual environment (mediapipe_reference's default)")
    p.add_argument("--wheelhouse", default=None)
    p.add_argument("--keep", default=None, metavar="JSON",
                   help="an earlier result on the same frames: keep the rows of its generators not judged "
                        "now (their weights may be gone); the shared rows must re-measure the same")
    args = p.parse_args(argv)
    gens = {}
    for spec in args.generator or [f"{SHIPPED}=data/weights/geocongan_synth_to_real.keras"]:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            p.error(f"--generator expects NAME=PATH, got {spec!r}")
        gens[name] = path
    from handlib import files
    from handlib import gan_evaluation as ge
    from handlib import visualisation as vis
    if Path.cwd().resolve() != ROOT:    # the defaults name places in the repository
        for key in ("src", "work", "out"):
            if getattr(args, key) == p.get_default(key):
                setattr(args, key, str(ROOT / getattr(args, key)))
        if not args.generator:
            gens = {name: str(ROOT / path) for name, path in gens.items()}
    index = ge.peer_frames(args.src, args.work, gens, frames=args.frames, seed=args.seed)
    folders = [str(Path(args.work) / slug) for slug in index["arms"].values()]
    from handlib import peer_reference as pr
    rc = pr.run_on_folders(folders, venv=args.venv, wheelhouse=args.wheelhouse)
    if rc:
        return rc
    res = ge.peer_judge(args.work, seed=args.seed)
    if args.keep:
        res = ge.keep_generators(res, files.read_json(args.keep, "an earlier peer-judge result (OUT.json)"))
    res["command"] = shlex.join(["python", "tools/gan_peer_judge.py", *(argv if argv is not None else sys.argv[1:])])
    res["table"] = ge.format_peer_table(res)
    out = Path(args.out)
    import matplotlib
    matplotlib.use("Agg")
    fig = vis.show_peer_judge(args.work, {**res, "arm_order": [a for a in res["arm_order"]   # frames at hand
                                                              if a not in res["generators"]
                                                              or "measured_by" not in res["generators"][a]]})
    with files.atomic_path(out.with_suffix(".png")) as tmp:
        fig.savefig(tmp, dpi=100)
    files.write_json(out.with_suffix(".json"), res)        # last: the figures with their picture
    print(res["table"])
    print(f"written {out.with_suffix('.json')} and {out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
