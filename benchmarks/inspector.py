"""Heatmap inspector benchmark: what one redraw after a selector change costs, beside one
RegNet forward pass of a single crop (the work the cache saves), timed in the same run.

    python -m benchmarks.inspector          # HANDLIB_QUICK=1 for a short run

The redraw is the Python handler (drawing, image encoding, widget updates), timed through
the widgets' own change events; the browser's round trip is recorded by
``tests/test_inspector_browser.py``. Target: a redraw after a new sample <= 0.25x one
forward pass. Run on an otherwise idle machine.
"""
from __future__ import annotations

import os
import statistics
import time

from benchmarks._common import best_time, report
from handlib import backend

tf = backend.tensorflow()

import numpy as np  # noqa: E402

from handlib import inspector as ins  # noqa: E402
from handlib import pose_evaluation as pe  # noqa: E402
from handlib import weights  # noqa: E402

QUICK = os.environ.get("HANDLIB_QUICK") == "1"


def main() -> None:
    model = weights.load_model("regnet")
    samples = pe.regression_samples()[: 8 if QUICK else 24]
    t0 = time.perf_counter()
    src = ins.from_samples(model, samples)
    t_cache = time.perf_counter() - t0
    app = ins.Inspector({"rendered": src})

    x = src.crops[:1].astype(np.float32) / 255.0
    K = np.array([[[128, 0, 63.5], [0, 128, 63.5], [0, 0, 1]]], np.float32)
    compiled = tf.function(lambda: model({"image": x, "crop_K": K}, training=False))
    repeats, number = (3, 5) if QUICK else (7, 20)
    t_fwd = best_time(compiled, repeats, number)
    t_eager = best_time(lambda: model({"image": x, "crop_K": K}, training=False), repeats, number)

    def handler_times(change, n):
        times = []
        for k in range(n):
            change(k)
            times.append(app.last_redraw_s)
        return statistics.median(times)

    n = 8 if QUICK else 40
    nsamp = len(src)
    t_sample = handler_times(lambda k: app.select(sample=(app.state()["position"] + 1) % nsamp), n)
    t_joint = handler_times(lambda k: app.select(joint=k % 21), n)
    t_all = handler_times(lambda k: app.select(joint=[ins.ALL_JOINTS, 8][k % 2]), n)
    t_az = handler_times(lambda k: setattr(app.azimuth, "value", -180 + 5 * (k % 72)), n)
    rows = [{"what": "RegNet forward pass, one 128 px crop (compiled tf.function)", "ms": 1e3 * t_fwd,
             "ratio": "1x (reference)"},
            {"what": "the same, eager model(...) call", "ms": 1e3 * t_eager,
             "ratio": f"{t_eager / t_fwd:.2f}x"}]
    for what, t in (("redraw after a new sample (all panels)", t_sample),
                    ("redraw after a new joint (crop, heatmaps, table)", t_joint),
                    ("redraw switching to and from all joints", t_all),
                    ("redraw after a new azimuth (3D view only)", t_az)):
        rows.append({"what": what, "ms": 1e3 * t,
                     "ratio": f"{t / t_fwd:.2f}x a forward pass" + (" (target <= 0.25)" if "sample" in what else "")})
    rows.append({"what": f"building the cache once ({nsamp} samples, batched)", "ms": 1e3 * t_cache,
                 "ratio": f"{t_cache / nsamp / t_fwd:.2f}x a forward pass per sample"})
    report("inspector", rows, notes="redraw: median over selector changes; forward: best of repeats")


if __name__ == "__main__":
    main()
