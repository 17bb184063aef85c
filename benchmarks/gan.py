"""GeoConGAN benchmarks: what the geometric loss costs per training step, how fast the
generator translates beside how fast the renderer renders, and the ``real-like`` look
beside ``synth``. Every figure is a ratio against a baseline timed in the same run.

    python -m benchmarks.gan            # HANDLIB_QUICK=1 for a short run

Run on an otherwise idle machine (no training in the background).
"""
from __future__ import annotations

import os
import time

from benchmarks._common import best_time, report
from handlib import backend

tf = backend.tensorflow()

import numpy as np  # noqa: E402

from handlib import domains, gan, silnet, synthetic  # noqa: E402


def bench_train_step(size: int, steps: int) -> list[dict]:
    """Steps/s of one GeoConGAN step (geo weight 5) beside a plain CycleGAN step (geo
    weight 0): same networks, same data, one process."""
    frames = [synthetic.render_index(0, i) for i in range(8)]
    imgs, masks = [], []
    for f in frames:
        c, side = domains.joint_box(f.uv)
        a, m = domains.cut_sample(f.rgb, f.mask, c, side, size)
        imgs.append(a)
        masks.append(m)
    d = domains.Domain("synth", np.stack(imgs), np.stack(masks))
    sil = silnet.build_silnet()
    rates = {}
    for w in (0.0, 5.0):
        model = gan.build_gan(sil, size, geo_weight=w, total_steps=1000)
        batch = next(iter(gan.gan_dataset(d, d, batch_size=1)))
        step = tf.function(model.train_step)          # the step fit compiles, without fit's loop
        rates[w] = 1.0 / best_time(lambda: step(batch), repeats=3, number=steps, warmup=2)
    return [{"what": f"CycleGAN train step {size}x{size}, geo weight 0 (baseline)",
             "per_s": rates[0.0], "ratio": 1.0},
            {"what": f"GeoConGAN train step {size}x{size}, geo weight 5",
             "per_s": rates[5.0], "ratio": rates[5.0] / rates[0.0]},
            {"what": "cost of the geometric loss (time per step, geo / plain)",
             "per_s": None, "ratio": rates[0.0] / rates[5.0]}]


def bench_translation(n: int) -> list[dict]:
    """Frames/s of the renderer (synth look, 256x256) beside frames/s of GANerating them
    (translate_frame at the generator's scale, one frame at a time)."""
    from handlib import ganerate
    g = gan.resnet_generator()
    frames = [synthetic.render_index(2, i) for i in range(n)]
    render = 1.0 / best_time(lambda: [synthetic.render_index(2, i) for i in range(n)], repeats=2) * n
    translate = 1.0 / best_time(lambda: [ganerate.translate_frame(g, f.rgb, f.uv, f.mask, 128) for f in frames],
                                repeats=2) * n
    return [{"what": "render a frame 256x256, synth look (baseline)", "per_s": render, "ratio": 1.0},
            {"what": "translate a frame (hand box at 128 px, pasted back)", "per_s": translate,
             "ratio": translate / render}]


def bench_looks(n: int) -> list[dict]:
    """Frames/s of the two looks (same scenes' seeds)."""
    fps = {}
    for look in synthetic.LOOKS:
        synthetic.render_index(1, 0, look=look)
        t0 = time.perf_counter()
        for i in range(n):
            synthetic.render_index(1, i, look=look)
        fps[look] = n / (time.perf_counter() - t0)
    return [{"what": "render, look=synth (baseline)", "per_s": fps["synth"], "ratio": 1.0},
            {"what": "render, look=real-like", "per_s": fps["real-like"],
             "ratio": fps["real-like"] / fps["synth"]},
            {"what": "time per frame, real-like / synth (target <= 1.5)", "per_s": None,
             "ratio": fps["synth"] / fps["real-like"]}]


def main() -> None:
    quick = os.environ.get("HANDLIB_QUICK", "0") not in ("", "0")
    report("gan_train_step", bench_train_step(64 if quick else 128, 2 if quick else 5),
           notes="training steps per second (batch 1); ratio against the plain CycleGAN step")
    report("gan_translation", bench_translation(4 if quick else 16),
           notes="frames per second, one process; ratio against rendering")
    report("gan_looks", bench_looks(10 if quick else 100),
           notes="frames per second; ratio against the synth look")


if __name__ == "__main__":
    main()
