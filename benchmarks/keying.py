"""Keying: how well the plain-background keying recovers exact silhouettes (not a speed test).

    python -m benchmarks.keying      (or python benchmarks/keying.py)

Rendered hands (seeded scenes, 256x256) have exact masks. Each is keyed
(:func:`handlib.real_photos.key_silhouette`) on the render's white background and on a
plain grey wall darkened towards the corners (like a flash photo), and compared with the
exact mask: IoU mean, worst decile mean and minimum. This is the ceiling of the keying
as an independent judge of silhouettes (GeoConGAN's with/without comparison), and a
check of the method the real-photo reader uses.
"""
from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from benchmarks._common import report  # noqa: E402
from handlib import real_photos as rp, synthetic  # noqa: E402


def grey_wall(size: int = 256, grey: float = 0.78) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    r2 = ((xx - size / 2) ** 2 + (yy - size / 2) ** 2) / (size ** 2 / 2)
    return np.array([grey, grey, grey + 0.02])[None, None] * (1 - 0.35 * r2)[..., None]


def main() -> None:
    quick = os.environ.get("HANDLIB_QUICK", "0") not in ("", "0")
    n = 10 if quick else 40
    rows = []
    for name, bg in (("white", None), ("grey wall, vignetted", grey_wall())):
        scores, t = [], 0.0
        for i in range(n):
            frame = synthetic.render_frame(synthetic.sample_scene(synthetic.frame_rng(9, i)),
                                           background_image=bg)
            t0 = time.perf_counter()
            mask = rp.key_silhouette(frame.rgb)
            t += time.perf_counter() - t0
            scores.append((mask & frame.mask).sum() / max((mask | frame.mask).sum(), 1))
        s = np.sort(scores)
        rows.append({"background": name, "frames": n, "iou_mean": float(s.mean()),
                     "iou_worst_decile": float(s[: max(1, n // 10)].mean()),
                     "iou_min": float(s[0]), "ms_per_frame": 1000 * t / n})
    report("keying", rows, notes="IoU of keyed against exact silhouettes of rendered hands")


if __name__ == "__main__":
    main()
