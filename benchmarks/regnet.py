"""RegNet benchmarks: what the heads add to the trunk per frame, whether training waits
for its input pipeline, and the weights' file sizes. Every speed figure is a ratio
against a baseline timed in the same run.

    python -m benchmarks.regnet            # HANDLIB_QUICK=1 for a short run

Run on an otherwise idle machine (no training in the background).
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from benchmarks._common import ROOT, best_time, report
from handlib import backend

tf = backend.tensorflow()

import keras  # noqa: E402
import numpy as np  # noqa: E402

from handlib import pipeline as pl  # noqa: E402
from handlib import pose_network as pn  # noqa: E402
from handlib import pose_training as pt  # noqa: E402

QUICK = os.environ.get("HANDLIB_QUICK") == "1"


def bench_inference(size: int) -> list[dict]:
    """Per-frame forward time (batch 1, compiled) of RegNet with each trunk, beside its
    own bare trunk (same truncated trunk, same input) and a plain Keras ResNet-50."""
    x = np.random.default_rng(0).uniform(size=(1, size, size, 3)).astype(np.float32)
    K = np.array([[[size, 0, (size - 1) / 2], [0, size, (size - 1) / 2], [0, 0, 1]]], np.float32)
    repeats, number = (3, 5) if QUICK else (7, 30)
    rows = []
    plain = keras.applications.ResNet50(weights=None, input_shape=(size, size, 3))
    f_plain = tf.function(lambda: plain(x, training=False))
    t_plain = best_time(f_plain, repeats, number)
    rows.append({"what": f"Keras ResNet-50 (whole classifier) at {size} px", "ms_per_frame": 1e3 * t_plain,
                 "ratio": "1x (reference)"})
    for trunk in ("compact", "resnet50"):
        net = pn.build_regnet(size, trunk, imagenet=False)
        bare = pn.bare_trunk(net)
        f_net = tf.function(lambda: net({"image": x, "crop_K": K}, training=False))
        f_bare = tf.function(lambda: bare(x, training=False))
        t_bare = best_time(f_bare, repeats, number)
        t_net = best_time(f_net, repeats, number)
        rows.append({"what": f"bare {trunk} trunk (to stride 16)", "ms_per_frame": 1e3 * t_bare,
                     "ratio": f"{t_bare / t_plain:.2f}x ResNet-50"})
        rows.append({"what": f"RegNet, {trunk} trunk", "ms_per_frame": 1e3 * t_net,
                     "ratio": f"heads add {100 * (t_net / t_bare - 1):.0f} % to the bare trunk (target <= 20 %)"})
    return rows


def bench_training(size: int, batch: int) -> list[dict]:
    """Training images/s with the real input pipeline (rendered set, augmentation, photo
    backgrounds) beside training on one cached in-memory batch (target ratio >= 0.9)."""
    from handlib import datasets, synthetic
    folder = Path(tempfile.mkdtemp(prefix="bench_regnet_")) / "synth"
    synthetic.make_dataset(folder, 64, look="real-like", seed=5, progress=False)
    samples = datasets.open_dataset(folder)
    cfg = pl.PipelineConfig(input_size=size, heatmap_size=size // 4, batch_size=batch, seed=0)
    stream = pt.mixed_dataset([samples], cfg)
    cached = tf.data.Dataset.from_tensors(next(iter(stream))).repeat()
    steps = 4 if QUICK else 20
    rates = {}
    for name, ds in (("cached", cached), ("pipeline", stream)):
        trainer = pt.build_trainer(size, "compact", 1e-3, 1000)
        trainer.fit(ds, steps_per_epoch=2, epochs=1, verbose=0)          # compile, warm up
        t0 = time.perf_counter()
        trainer.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
        rates[name] = steps * batch / (time.perf_counter() - t0)
    return [{"what": f"train RegNet (compact, {size} px, batch {batch}) on one cached batch",
             "images_per_s": rates["cached"], "ratio": "1x"},
            {"what": "the same with the real input pipeline", "images_per_s": rates["pipeline"],
             "ratio": f"{rates['pipeline'] / rates['cached']:.2f}x (target >= 0.9)"}]


def file_sizes() -> list[dict]:
    rows = []
    for name in ("regnet", "efficientnet_lite0_imagenet"):
        p = ROOT / "data" / "weights" / f"{name}.keras"
        if p.is_file():
            rows.append({"what": f"data/weights/{name}.keras", "megabytes": p.stat().st_size / 1e6})
    with tempfile.TemporaryDirectory() as d:
        for trunk in ("compact", "resnet50"):
            p = Path(d) / f"{trunk}.keras"
            pn.build_regnet(128, trunk, imagenet=False).save(p)
            rows.append({"what": f"a RegNet with the {trunk} trunk, 128 px (untrained)",
                         "megabytes": p.stat().st_size / 1e6})
    return rows


if __name__ == "__main__":
    size = 64 if QUICK else 128
    report("regnet_inference", bench_inference(size))
    report("regnet_training", bench_training(size, 8 if QUICK else 32))
    report("regnet_files", file_sizes())
