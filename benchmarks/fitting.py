"""Fitting and tracking benchmarks, each against a baseline timed in the same run.

    python -m benchmarks.fitting           # HANDLIB_QUICK=1 for a short run

1. The course's Levenberg-Marquardt (analytic Jacobian), readable (NumPy) and compiled
   (:mod:`handlib.fitting_compiled`), beside ``scipy.optimize.least_squares``
   (trust-region reflective, the same energy, start and Jacobian, its callbacks the
   readable residuals): the time each needs to reach scipy's converged energy within 1 %
   (each run with the smallest budget that gets there, timed alike; both engines take the
   same steps), and the energies reached. Robust weights are off here (plain weighted
   least squares), so that all minimise exactly the same function. Target: the compiled
   cold-start fit >= 5x faster than scipy.
2. Real time, everything beside one compiled RegNet forward pass of the default model
   (its milliseconds printed): the tracker per frame (no video) with each engine (target
   <= 1.3x) and with the side left to it (``side="auto"``: a mirrored crop per frame),
   the tracker's per-frame fit alone (3 iterations, temporal term; target
   <= 0.15x), ``track`` end to end on ``make-video`` seed 7 (320x240, writing
   ``annotated.mp4``; the median per frame, target <= 1.6x), and the light configuration
   (a 96 px RegNet, ``--light``; default: the ``light 96 px`` arm of
   ``python -m handlib real-hand-arms``): its forward pass and its ``track`` end to end
   (target <= 0.8x the default's forward pass).
3. A rendered sequence (``make-video`` seed 23, not one of the two used to choose the
   weights): RegNet alone, fitted, fitted + temporal term, as mean 3D error (mm,
   root-relative) and jitter (mean joint acceleration, mm/frame^2).
4. The weights: the tracker on two rendered sequences (``make-video`` seeds 7 and 11)
   with the default per-frame weights and with one changed at a time (the figures
   behind :data:`handlib.fitting.TRACKING_WEIGHTS`).

Run on an otherwise idle machine.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from benchmarks._common import best_time, report
from handlib import backend

tf = backend.tensorflow()

import numpy as np  # noqa: E402

from handlib import camera as cam  # noqa: E402
from handlib import crop_camera as cc  # noqa: E402
from handlib import fitting as ft  # noqa: E402
from handlib import hand_model as hm  # noqa: E402

QUICK = os.environ.get("HANDLIB_QUICK") == "1"


def left_jacobian(r):
    """SO(3) left Jacobian: exp(J(r) dr) R(r) = R(r + dr) to first order."""
    th = np.linalg.norm(r)
    S = ft._skew(np.asarray(r, float))
    if th < 1e-8:
        return np.eye(3) + 0.5 * S
    return np.eye(3) + (1 - np.cos(th)) / th ** 2 * S + (th - np.sin(th)) / th ** 3 * S @ S


def bench_solver(cases: int) -> list[dict]:
    from scipy.optimize import least_squares
    K = cam.GANERATED.K
    rng = np.random.default_rng(0)
    weights = ft.FitWeights(robust_2d_px=np.inf, robust_3d_mm=np.inf)
    rows, ours_t, scipy_t, e_ours, e_scipy, comp_t, e_comp = [], [], [], [], [], [], []
    names = list(hm.NAMED_POSES)
    for c in range(cases):
        true = hm.default_view_pose(names[c % len(names)])
        true[:3] = hm.rotation_vector(hm.axis_rotation("y", rng.uniform(-40, 40)) @ hm.rotation_matrix(true[:3]))
        X = hm.forward_kinematics(true)
        obs = ft.Observation(cam.project(K, X) + rng.normal(0, 3, (21, 2)), np.ones(21),
                             (X - X[9]) / np.linalg.norm(X[0] - X[9]) + rng.normal(0, 0.1, (21, 3)))
        start = true.copy()
        start[:3] = hm.rotation_vector(hm.axis_rotation("x", 25) @ hm.rotation_matrix(true[:3]))
        start[6:] = np.clip(true[6:] + rng.normal(0, 0.3, 20), hm.JOINT_LIMITS[6:, 0], hm.JOINT_LIMITS[6:, 1])
        fitter = ft.HandFitter(K, side="right", weights=weights)

        def fun(p):
            return fitter.residuals(p, obs, jacobian=False)[0]

        def jac(p):
            J = fitter.residuals(p, obs)[1].copy()
            J[:, :3] = J[:, :3] @ left_jacobian(p[:3])
            return J

        sol = least_squares(fun, start, jac=jac, method="trf", xtol=1e-10, ftol=1e-10, gtol=1e-10, max_nfev=500)
        target = 1.01 * float(sol.fun @ sol.fun)          # within 1 % of scipy's converged energy
        # each solver: the smallest budget that gets within 1 %, then that run timed alike
        nfev = 1
        while nfev < 500:
            s_sol = least_squares(fun, start, jac=jac, method="trf", xtol=1e-10, ftol=1e-10, gtol=1e-10,
                                  max_nfev=nfev)
            if float(s_sol.fun @ s_sol.fun) <= target:
                break
            nfev += 1
        t_scipy = best_time(lambda: least_squares(fun, start, jac=jac, method="trf", xtol=1e-10, ftol=1e-10,
                                                  gtol=1e-10, max_nfev=nfev), 3, 1)
        n = 1
        while n < 200:
            res = fitter.fit(obs, start, iterations=n, remember=False)
            if res.energy <= target:
                break
            n += 1
        if res.energy > target:
            raise RuntimeError(f"case {c}: the course's solver did not reach scipy's energy within 1 % in 200 "
                               "iterations")
        t_ours = best_time(lambda: fitter.fit(obs, start, iterations=n, remember=False), 3, 1)
        compiled = ft.HandFitter(K, side="right", weights=weights, engine="compiled")
        res_c = compiled.fit(obs, start, iterations=n, remember=False)
        t_comp = best_time(lambda: compiled.fit(obs, start, iterations=n, remember=False), 5, 5)
        comp_t.append(t_comp)
        e_comp.append(res_c.energy)
        ours_t.append(t_ours)
        scipy_t.append(t_scipy)
        e_ours.append(res.energy)
        e_scipy.append(float(sol.fun @ sol.fun))
    rows.append({"what": f"scipy least_squares (trf) to within 1 % of its converged energy, {cases} fits",
                 "ms_per_fit": 1e3 * np.mean(scipy_t),
                 "energy": float(np.mean(e_scipy)), "ratio": "1x"})
    rows.append({"what": "course LM, readable (NumPy), to within 1 % of scipy's energy",
                 "ms_per_fit": 1e3 * np.mean(ours_t), "energy": float(np.mean(e_ours)),
                 "ratio": f"{np.mean(scipy_t) / np.mean(ours_t):.1f}x faster"})
    rows.append({"what": "course LM, compiled (the same steps)", "ms_per_fit": 1e3 * np.mean(comp_t),
                 "energy": float(np.mean(e_comp)),
                 "ratio": f"{np.mean(scipy_t) / np.mean(comp_t):.1f}x faster (target >= 5x)"})
    return rows


def _timed_fits(trk, times):
    """Wrap the tracker's per-frame fitter (made at initialisation) to time its fits."""
    fit = trk.fitter.fit

    def timed(*a, **k):
        t0 = time.perf_counter()
        r = fit(*a, **k)
        times.append(time.perf_counter() - t0)
        return r
    trk.fitter.fit = timed


def bench_tracker(frames: int, light=None) -> tuple[list[dict], list[dict]]:
    from handlib import pose_network as pn
    from handlib import sequences as sq
    from handlib import tracker as tr
    from handlib import weights as wts
    d = Path(tempfile.mkdtemp(prefix="bench_track_"))
    sq.make_demo_video(d / "demo", frames=frames, seed=23, progress=False)   # not used to choose the weights
    gt = np.load(d / "demo.npz")
    K = gt["K"]
    model = wts.load_model("regnet")
    src = list(tr.VideoFrames(d / "demo.mp4"))

    def forward_once(net, trk, image):
        """One compiled forward pass of ``net`` on the tracker's current crop (s)."""
        crop = trk.search(image)[0] if trk.joints is None else cc.crop_from_joints(
            cam.project(K, trk.joints), K, trk.size, flip=trk.side != trk.net_side)
        x = crop.crop_image(image).astype(np.float32)[None] / 255.0
        Kc = crop.K[None].astype(np.float32)
        pn.forward(net, x, Kc)
        t0 = time.perf_counter()
        pn.forward(net, x, Kc)
        return time.perf_counter() - t0

    # every tracked frame is followed by one forward pass on the same crop, so that the
    # baseline and the tracker see the same machine load (medians over the frames)
    results, fit_times, fwd = {}, {}, []
    from dataclasses import replace
    for name, weights, engine, side in (
            ("fitted", replace(ft.TRACKING_WEIGHTS, w_temporal=0.0), "compiled", "right"),
            ("fitted + temporal", ft.TRACKING_WEIGHTS, "compiled", "right"),
            ("fitted + temporal, readable fit", ft.TRACKING_WEIGHTS, "numpy", "right"),
            # the side left to the tracker: the mirrored crop checked on every tracked frame
            ("fitted + temporal, side auto", ft.TRACKING_WEIGHTS, "compiled", "auto")):
        trk = tr.Tracker(model, K, side=side, weights=weights, engine=engine)
        out, times, fits = [], [], []
        for i, img in src:
            t0 = time.perf_counter()
            out.append(trk.step(img, i))
            times.append(time.perf_counter() - t0)
            if i == src[0][0]:
                _timed_fits(trk, fits)
            else:
                fwd.append(forward_once(model, trk, img))
        results[name] = (out, np.median(times[1:]))
        fit_times[name] = np.median(fits)
    t_fwd = float(np.median(fwd))
    rows = [{"what": "RegNet forward, one 128 px crop (compiled, pn.forward; median, interleaved with the frames)",
             "ms_per_frame": 1e3 * t_fwd, "ratio": "1x"}]
    for name, (out, t) in results.items():
        rows.append({"what": f"tracker per frame, {name} (no video)", "ms_per_frame": 1e3 * t,
                     "ratio": f"{t / t_fwd:.2f}x" + (" (target <= 1.3x)" if name == "fitted + temporal" else "")})
    for name, label in (("fitted + temporal", "compiled"), ("fitted + temporal, readable fit", "readable")):
        rows.append({"what": f"the per-frame fit alone (3 iterations, temporal term), {label}",
                     "ms_per_frame": 1e3 * fit_times[name],
                     "ratio": f"{fit_times[name] / t_fwd:.3f}x" + (" (target <= 0.15x)" if label == "compiled" else "")})

    def forward_median(net, n=30):
        trk = tr.Tracker(net, K, side="right")
        trk.step(src[0][1], 0)
        return float(np.median([forward_once(net, trk, src[0][1]) for _ in range(n)]))
    # track end to end, as a user runs it: make-video seed 7, writing annotated.mp4
    sq.make_demo_video(d / "seed7", frames=frames, seed=7, progress=False)
    g7 = np.load(d / "seed7.npz")
    intr = (g7["K"][0, 0], g7["K"][1, 1], g7["K"][0, 2], g7["K"][1, 2])

    def end_to_end(weights_path):
        s = tr.track_video(d / "seed7.mp4", d / "track", weights=weights_path, side="right", intrinsics=intr,
                           progress=False)
        return s["frame_ms_median"] / 1e3
    # the baseline again just before and after (the same load, as far as one can tell)
    before = forward_median(model)
    t_e2e = end_to_end(None)
    t_base = float(np.median([before, forward_median(model)]))
    rows.append({"what": "RegNet forward again, just before and after track (median)", "ms_per_frame": 1e3 * t_base,
                 "ratio": f"{t_base / t_fwd:.2f}x"})
    rows.append({"what": "track end to end, make-video seed 7 (320x240, writing annotated.mp4), median per frame",
                 "ms_per_frame": 1e3 * t_e2e, "ratio": f"{t_e2e / t_base:.2f}x (target <= 1.6x)"})
    if light is not None and Path(light).is_file():
        light_model = wts.load_model(light)
        size = pn.model_info(light_model)["input_size"]
        before = forward_median(model)
        t_lf = forward_median(light_model)
        t_le = end_to_end(light)
        t_base = float(np.median([before, forward_median(model)]))
        rows.append({"what": f"light configuration ({size} px, {light}): RegNet forward (median)",
                     "ms_per_frame": 1e3 * t_lf, "ratio": f"{t_lf / t_base:.2f}x the default's"})
        rows.append({"what": "light configuration: track end to end, median per frame", "ms_per_frame": 1e3 * t_le,
                     "ratio": f"{t_le / t_base:.2f}x the default's forward pass (target <= 0.8x)"})
    else:
        print(f"no light model at {light}: train it with python -m handlib real-hand-arms --only 'light 96 px'")

    def errors(xyz):
        rel = lambda a: a - a[:, 9:10]  # noqa: E731
        e = np.linalg.norm(rel(xyz) - rel(gt["xyz"]), axis=-1).mean()
        acc = np.linalg.norm(xyz[2:] - 2 * xyz[1:-1] + xyz[:-2], axis=-1).mean()
        return e, acc
    seq_rows = []
    first = results["fitted"][0]
    for name, xyz in [("RegNet alone (its 3D x the calibrated size)", np.stack([o.regnet_xyz_mm for o in first]))] + [
            (n, np.stack([o.xyz_mm for o in out])) for n, (out, _) in results.items()]:
        e, acc = errors(xyz)
        seq_rows.append({"what": name, "mean_3d_error_mm": e, "jitter_mm_per_frame2": acc})
    seq_rows.append({"what": "ground truth (its own smooth motion)", "mean_3d_error_mm": 0.0,
                     "jitter_mm_per_frame2": errors(gt["xyz"].astype(float))[1]})
    return rows, seq_rows


def bench_weights(frames: int) -> list[dict]:
    from dataclasses import replace

    from handlib import metrics
    from handlib import sequences as sq
    from handlib import tracker as tr
    from handlib import weights as wts
    model = wts.load_model("regnet")
    d = Path(tempfile.mkdtemp(prefix="bench_weights_"))
    variants = {"tracking default (3D 0.3, temporal 0.15)": ft.TRACKING_WEIGHTS,
                "no 3D term": replace(ft.TRACKING_WEIGHTS, w_3d=0.0),
                "3D 1.0, temporal 0.5": replace(ft.TRACKING_WEIGHTS, w_3d=1.0, w_temporal=0.5),
                "no temporal term": replace(ft.TRACKING_WEIGHTS, w_temporal=0.0)}
    rows = []
    for seed in (7, 11):
        sq.make_demo_video(d / f"s{seed}", frames=frames, seed=seed, progress=False)
        gt = np.load(d / f"s{seed}.npz")
        video = list(tr.VideoFrames(d / f"s{seed}.mp4"))
        for name, w in variants.items():
            trk = tr.Tracker(model, gt["K"], side="right", weights=w)
            out = [trk.step(img, i) for i, img in video]
            x = np.stack([o.xyz_mm for o in out])
            rows.append({"sequence": f"seed {seed}, {frames} frames", "weights": name,
                         "3d_error_mm": float(metrics.root_relative_errors_mm(x, gt["xyz"]).mean()),
                         "2d_error_px": float(np.linalg.norm(np.stack([o.uv for o in out]) - gt["uv"], axis=-1).mean()),
                         "jitter": metrics.jitter(x), "inits": [o.state for o in out].count("init")})
        rx = np.stack([o.regnet_xyz_mm for o in out])
        rows.append({"sequence": f"seed {seed}, {frames} frames", "weights": "RegNet alone",
                     "3d_error_mm": float(metrics.root_relative_errors_mm(rx, gt["xyz"]).mean()),
                     "2d_error_px": float(np.linalg.norm(np.stack([o.regnet_uv for o in out]) - gt["uv"], axis=-1).mean()),
                     "jitter": metrics.jitter(rx), "inits": 0})
    return rows


LIGHT = "build/runs/real-hands/light-96-px/regnet.keras"

if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="fitting and tracking benchmarks")
    ap.add_argument("--light", default=LIGHT, help="a light RegNet (.keras) for the light configuration's rows")
    ap.add_argument("--skip-weights", action="store_true", help="leave out the weights table (minutes)")
    args = ap.parse_args()
    report("fitting_solver", bench_solver(4 if QUICK else 16))
    rows, seq = bench_tracker(12 if QUICK else 100, args.light)
    report("tracker_speed", rows)
    report("tracker_sequence", seq)
    if not args.skip_weights:
        report("tracker_weights", bench_weights(40 if QUICK else 150))
