"""Command line: ``python -m handlib COMMAND``.

Commands
--------
``make-dataset``  render a labelled data set in the GANerated layout::

    python -m handlib make-dataset --out datasets/synth --frames 2000 --look synth --seed 0

Rerunning the same command resumes where it stopped: frame ``i`` is always rendered from
seed ``(seed, i)``, each file is written atomically, and a frame whose ``scene.json``
(written last) exists is skipped.
"""
from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m handlib", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("make-dataset", help="render a labelled data set (GANerated layout)")
    p.add_argument("--out", required=True, help="output folder (created; resumed if it exists)")
    p.add_argument("--frames", type=int, required=True, help="number of frames")
    p.add_argument("--look", default="synth", choices=["synth", "real-like"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--background", default=None,
                   help="white, green, clutter, or a folder of images (default: white for "
                        "synth, clutter for real-like)")
    p.add_argument("--size", type=int, default=256, help="crop size in pixels (default 256)")
    p.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    args = parser.parse_args(argv)
    if args.command == "make-dataset":
        try:
            from handlib.synthetic import make_dataset
            summary = make_dataset(args.out, args.frames, args.look, args.seed, args.background,
                                   args.size, args.workers)
        except (ValueError, FileNotFoundError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"{args.out}: {summary['written']} frames written, "
              f"{summary['skipped']} already there, {summary['total']} in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
