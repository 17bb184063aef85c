"""Data: frames rendered per second, and input-pipeline samples per second.

    python -m benchmarks.data      (or python benchmarks/data.py)

1. Rendering a 256x256 frame (pose sampling, skinning, z-buffer, shading, compositing),
   one process, both looks, against a naive rasteriser (a Python loop over triangles,
   each filled with NumPy in its bounding box) timed in the same run.
2. The tf.data pipeline at 128x128 with augmentation, against what training consumes:
   a Keras ResNet-50 train step at 128x128 (the scale of the course's pose network),
   timed in the same run. The pipeline should deliver at least twice that rate.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from benchmarks._common import report  # noqa: E402
from handlib import hand_mesh, renderer, synthetic  # noqa: E402


def naive_rasterize(verts, tris, K, size):
    """Z-buffer, one triangle at a time (the baseline)."""
    z = verts[:, 2]
    x = K[0, 0] * verts[:, 0] / z + K[0, 2]
    y = K[1, 1] * verts[:, 1] / z + K[1, 2]
    zbuf = np.full((size, size), np.inf)
    for t in tris:
        tx, ty = x[t], y[t]
        x0, x1 = max(int(np.ceil(tx.min())), 0), min(int(np.floor(tx.max())), size - 1)
        y0, y1 = max(int(np.ceil(ty.min())), 0), min(int(np.floor(ty.max())), size - 1)
        if x1 < x0 or y1 < y0:
            continue
        px, py = np.meshgrid(np.arange(x0, x1 + 1), np.arange(y0, y1 + 1))
        area = (tx[1] - tx[0]) * (ty[2] - ty[0]) - (ty[1] - ty[0]) * (tx[2] - tx[0])
        if abs(area) < 1e-12:
            continue
        l0 = ((tx[1] - px) * (ty[2] - py) - (ty[1] - py) * (tx[2] - px)) / area
        l1 = ((tx[2] - px) * (ty[0] - py) - (ty[2] - py) * (tx[0] - px)) / area
        l2 = 1 - l0 - l1
        inside = (l0 >= 0) & (l1 >= 0) & (l2 >= 0)
        d = 1 / (l0 / z[t[0]] + l1 / z[t[1]] + l2 / z[t[2]])
        sub = zbuf[y0:y1 + 1, x0:x1 + 1]
        np.copyto(sub, np.where(inside & (d < sub), d, sub))
    return zbuf


def bench_render(n: int) -> list[dict]:
    rows = []
    # baseline: the naive rasteriser on the same meshes
    frames = [synthetic.render_index(0, i) for i in range(8)]
    t0 = time.perf_counter()
    for f in frames:
        v, t, _ = hand_mesh.skin(np.asarray(f.scene.params), None, f.scene.side)
        naive_rasterize(v, t, f.crop.K, 256)
    naive = len(frames) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for f in frames:
        v, t, _ = hand_mesh.skin(np.asarray(f.scene.params), None, f.scene.side)
        renderer.rasterize(v, t, f.crop.K, 256, 256)
    fast = len(frames) / (time.perf_counter() - t0)
    rows.append({"what": "skin + z-buffer only, naive loop (baseline)", "per_s": naive, "ratio": 1.0})
    rows.append({"what": "skin + z-buffer only, vectorised", "per_s": fast, "ratio": fast / naive})
    fps = {}
    for look in synthetic.LOOKS:
        synthetic.render_index(1, 0, look=look)                  # warm caches
        t0 = time.perf_counter()
        for i in range(n):
            synthetic.render_index(1, i, look=look)
        fps[look] = n / (time.perf_counter() - t0)
        rows.append({"what": f"full frame 256x256, look={look}", "per_s": fps[look],
                     "ratio": fps[look] / naive})
    rows.append({"what": "time per frame, real-like / synth (target <= 1.5)",
                 "per_s": None, "ratio": fps["synth"] / fps["real-like"]})
    return rows


def bench_pipeline(n_frames: int, batches: int) -> list[dict]:
    from handlib import backend
    tf = backend.tensorflow()               # before Keras, which would import it loudly
    import keras
    from handlib import datasets, pipeline
    with tempfile.TemporaryDirectory() as tmp:
        synthetic.make_dataset(tmp, n_frames, look="real-like", seed=0, progress=False)
        samples = datasets.open_dataset(tmp)
        cfg = pipeline.PipelineConfig(input_size=128, heatmap_size=32, batch_size=16, seed=0)
        ds = pipeline.make_pipeline(samples, cfg, repeat=True)
        it = iter(ds)
        next(it)
        t0 = time.perf_counter()
        for _ in range(batches):
            next(it)
        pipe = batches * cfg.batch_size / (time.perf_counter() - t0)
    model = keras.applications.ResNet50(weights=None, input_shape=(128, 128, 3), classes=63)
    model.compile(optimizer="adam", loss="mse")
    x = np.random.rand(16, 128, 128, 3).astype("float32")
    y = np.random.rand(16, 63).astype("float32")
    model.train_on_batch(x, y)
    steps = 3
    t0 = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    train = steps * 16 / (time.perf_counter() - t0)
    del tf
    return [{"what": "ResNet-50 train step 128x128, batch 16 (consumption)", "per_s": train, "ratio": 1.0},
            {"what": "tf.data pipeline 128x128 with augmentation", "per_s": pipe, "ratio": pipe / train}]


def main() -> None:
    quick = os.environ.get("HANDLIB_QUICK", "0") not in ("", "0")
    rows = bench_render(20 if quick else 200)
    report("data_render", rows, notes="frames per second, one process; ratio against the naive loop")
    rows = bench_pipeline(64 if quick else 512, 10 if quick else 40)
    report("data_pipeline", rows, notes="samples per second; ratio against training consumption")


if __name__ == "__main__":
    main()
