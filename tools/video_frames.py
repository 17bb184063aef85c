"""Save frames of a video as one PNG strip (for the README and notes: browsers do not
play the mp4v videos OpenCV writes).

    python tools/video_frames.py build/demo/track/annotated.mp4 data/results/track_demo.png --frames 0,60,120
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from handlib import files, images, tracker  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("video")
    p.add_argument("out", help="a .png file")
    p.add_argument("--frames", default="0", help="comma-separated frame indices")
    p.add_argument("--height", type=int, default=0, help="resize each frame to this height (0: as is)")
    args = p.parse_args(argv)
    want = [int(v) for v in args.frames.split(",")]
    got = {i: f for i, f in tracker.VideoFrames(args.video) if i in want and f is not None}
    missing = [i for i in want if i not in got]
    if missing:
        raise files.DataFileError(args.video, f"frames {want}", f"none at {missing}")
    frames = [got[i] for i in want]
    if args.height:
        import cv2
        frames = [cv2.resize(f, (round(f.shape[1] * args.height / f.shape[0]), args.height),
                             interpolation=cv2.INTER_AREA) for f in frames]
    gap = np.full((frames[0].shape[0], 6, 3), 255, np.uint8)
    strip = np.concatenate(sum(([f, gap] for f in frames), [])[:-1], axis=1)
    images.write_image(args.out, strip)
    print(f"{args.out}: frames {want} of {args.video}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
