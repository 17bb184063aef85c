"""The exercises' checks: what ``course.check("NN.k", value)`` compares a student's answer with.

Every exercise in a notebook has an answer cell (tagged ``solution``; ``make student``
replaces it by a stub) and a check cell that calls :func:`check`. The expected answers
are kept here, out of the notebooks (so out of the student copies):

- :class:`Hashed`: the SHA-256 of the answer's canonical form, salted with the exercise's
  key (names, choices, lists of names);
- :class:`Near`: a number or a tuple of numbers with a tolerance (values a student
  measures or computes);
- :class:`Satisfies`: a test function, for answers that depend on the notebook's own data
  (quick or full mode) and are recomputed from it, or for functions a student writes.

A check prints ``NN.k: correct`` or ``NN.k: not yet ...`` with a hint, never the answer.
This keeps answers from a glance, not from a determined student: the :class:`Near`
numbers are written out here, the :class:`Satisfies` tests can be read or called, and a
:class:`Hashed` answer (a short name, letter or list) is recovered by trying candidates.
An answer still left as ``...`` (the student copy's stub) is "not yet" too, not an error.
With ``HANDLIB_CHECKS=strict`` in the environment (``make test``, ``make html``) a wrong
or missing answer raises instead, so that the instructor copies cannot drift from their
checks unnoticed.
"""
from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

NOT_YET = "not yet"


@dataclass(frozen=True)
class Hashed:
    """An exact answer, stored as ``digest(key, answer, unordered)`` (see :func:`canonical`)."""
    digests: tuple[str, ...]        # any of these is right (e.g. a name or its index)
    hint: str = ""
    unordered: bool = False         # lists and tuples compared as sets


@dataclass(frozen=True)
class Near:
    """A number (or tuple of numbers) right within ``rtol``/``atol`` (as ``np.isclose``)."""
    value: tuple[float, ...]
    rtol: float = 1e-3
    atol: float = 1e-6
    hint: str = ""


@dataclass(frozen=True)
class Satisfies:
    """``test(value, **context)`` returns ``None`` when right, else a hint (str)."""
    test: Callable[..., str | None]


# ----------------------------------------------------------------------------- canonical
def canonical(value: Any, unordered: bool = False) -> str:
    """A stable text form of an exact answer: strings stripped and lower-cased, numbers in
    ``%.6g``, lists and tuples in order (sorted if ``unordered``), sets and dicts sorted;
    NumPy values as Python's."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        return value.strip().lower()
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return f"{float(value):.6g}"
    if isinstance(value, (list, tuple)) and not unordered:
        return "[" + ",".join(canonical(v) for v in value) + "]"
    if isinstance(value, (list, tuple, set, frozenset)):
        return "{" + ",".join(sorted(canonical(v, unordered) for v in value)) + "}"
    if isinstance(value, dict):
        items = sorted((canonical(k, unordered), canonical(v, unordered)) for k, v in value.items())
        return "{" + ",".join(f"{k}:{v}" for k, v in items) + "}"
    raise TypeError(f"an exact answer must be a string, number, list, set or dict, "
                    f"not {type(value).__name__}")


def digest(key: str, value: Any, unordered: bool = False) -> str:
    """SHA-256 of ``key`` and the answer's :func:`canonical` form (hex, 16 characters)."""
    return hashlib.sha256(f"{key}|{canonical(value, unordered)}".encode()).hexdigest()[:16]


def _has_stub(value: Any) -> bool:
    if value is Ellipsis:
        return True
    if isinstance(value, (list, tuple)):
        return any(_has_stub(v) for v in value)
    if isinstance(value, dict):
        return any(_has_stub(v) for v in value.values())
    return False


# ------------------------------------------------------------------- the recomputed ones
def _project_like_pinhole(my_project) -> str | None:
    """00.2: ``my_project(K, X)`` against an independent pinhole projection."""
    if not callable(my_project):
        return "`my_project` should be a function of (K, X)"
    rng = np.random.default_rng(2)
    K = np.array([[600.0, 0, 320.0], [0, 610.0, 240.0], [0, 0, 1]])
    X = rng.uniform([-100, -80, 300], [100, 80, 900], size=(21, 3))
    try:
        uv = np.asarray(my_project(K, X), dtype=float)
    except Exception as e:                                     # a student's bug, reported
        return f"calling my_project(K, X) raised {type(e).__name__}: {e}"
    want = np.stack([K[0, 0] * X[:, 0] / X[:, 2] + K[0, 2], K[1, 1] * X[:, 1] / X[:, 2] + K[1, 2]], -1)
    if uv.shape != (21, 2):
        return f"for X of shape (21, 3) the result should have shape (21, 2), not {uv.shape}"
    if not np.allclose(uv, want, atol=1e-6):
        return "the pixels differ from a pinhole projection: multiply by K, then divide by the third coordinate"
    return None


def _peak_shifts(sample) -> list[float]:
    """The largest move (heatmap pixels) of one of ``sample``'s 21 heatmap peaks between
    two epochs of ``make_pipeline([sample], PipelineConfig(batch_size=1))``, measured every
    way the question allows: two iterations over the dataset or two elements of
    ``repeat=True``; the peaks of the heatmaps (``hmaps.heatmap_maxima``) or the ``uv``
    targets; as a distance or as the largest change of x or y. The pipeline is seeded, so
    these are the student's numbers."""
    from handlib import heatmaps as hmaps, pipeline
    cfg = pipeline.PipelineConfig(batch_size=1)
    ds = pipeline.make_pipeline([sample], cfg)
    epochs = [[next(iter(ds))[1], next(iter(ds))[1]]]
    repeated = iter(pipeline.make_pipeline([sample], cfg, repeat=True))
    epochs.append([next(repeated)[1], next(repeated)[1]])
    out = []
    for pair in epochs:
        for read in (lambda t: hmaps.heatmap_maxima(t["heatmaps"].numpy())[0][0],
                     lambda t: t["uv"].numpy()[0]):
            d = read(pair[0]).astype(float) - read(pair[1]).astype(float)
            out += [float(np.linalg.norm(d, axis=-1).max()), float(np.abs(d).max())]
    return out


def _augmentation_moves_peaks(shifts, sample=None) -> str | None:
    """01.3: (largest peak shift with augmentation, and without) in heatmap pixels, for
    the notebook's ``sample``; the first is measured again here (:func:`_peak_shifts`)."""
    moved, still = (float(s) for s in shifts)
    if not abs(still) < 1e-6:
        return "without augmentation every epoch should cut the same crop (a shift of 0)"
    if not any(math.isclose(moved, w, rel_tol=1e-3, abs_tol=1e-3) for w in _peak_shifts(sample)):
        return ("measure it: make_pipeline([sample], pipeline.PipelineConfig(batch_size=1)), its "
                "first batch in two epochs (iterate over the dataset twice), and the largest "
                "distance between a joint's two heatmap peaks (hmaps.heatmap_maxima)")
    return None


def _generator_losses(pair, model=None, batch=None) -> str | None:
    """02.2: the generator's loss of ``model`` (geo_weight 0) on ``batch`` with its masks
    and with their complements, recomputed."""
    a, b = (float(x) for x in pair)
    if not math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6):
        return "with geo_weight=0 the two generator losses should be equal"
    if float(getattr(model, "geo_weight", 0.0)) != 0.0:
        return "build the GAN with geo_weight=0.0"
    x, mx, y, my = batch
    want = float(model.losses_for(x, mx, y, my, training=False)["generator"])
    if not math.isclose(a, want, rel_tol=1e-4, abs_tol=1e-5):
        return "compute the losses with model.losses_for(...) on the batch, training=False"
    return None


def _judge_ceiling(ceiling, held_out=None) -> str | None:
    """02.3: the judge's mean IoU on the notebook's held-out renders: the crops (128 px,
    ``synth_test`` in the notebook) are read again here from their folder ``held_out``,
    so the score does not depend on images passed to the check."""
    from handlib import domains, gan_evaluation, silnet
    test = domains.synth_domain(held_out, size=128, progress=False)
    want = float(silnet.iou(gan_evaluation.judge(test.images), test.masks).mean())
    if not math.isclose(float(ceiling), want, abs_tol=2e-3):
        return ("judge all of synth_test's crops themselves (no translation), "
                "compare with their masks and average the IoU")
    return None


def _projection_scale(answer, xyz=None, root=None, project=None) -> str | None:
    """03.2: (largest difference with hand and root doubled, with the hand only doubled),
    in heatmap pixels, recomputed with the notebook's ``project(x, root)``."""
    both, hand_only = (float(a) for a in answer)
    want_both = float(np.abs(project(xyz, root) - project(2 * xyz, 2 * root)).max())
    want_hand = float(np.abs(project(xyz, root) - project(2 * xyz, root)).max())
    if not math.isclose(both, want_both, abs_tol=1e-3):
        return "double both xyz and the root: the projection should not change"
    if not math.isclose(hand_only, want_hand, rel_tol=1e-3, abs_tol=1e-4):
        return "for the second number double xyz only and keep the root"
    return None


def _weak_perspective_distance(closest_mm, hands=None) -> str | None:
    """04.1: the nearest distance (300..1500 mm, steps of 100) with a mean error < 1 px."""
    from handlib import pose_network as pn
    sweep = pn.projection_sweep(hands, distances_mm=np.arange(300, 1501, 100), angles_deg=[0])
    below = sweep["distances_mm"][sweep["weak_crop"][:, 0] < 1.0]
    want = float(below.min()) if len(below) else math.inf
    if not math.isclose(float(closest_mm), want):
        return "use the 'weak_crop' errors at angle 0 and take the nearest distance below 1 px"
    return None


def _worst_joint(answer, source=None) -> str | None:
    """04.3: (joint name, its mean 3D error in mm) over all samples of ``source``."""
    from handlib import metrics
    name, mm = answer
    per_joint = np.asarray(source.err_3d_mm).mean(0)
    if str(name).strip().upper() != metrics.JOINT_NAMES[int(per_joint.argmax())].upper():
        return "average the 3D error of each joint over the samples, then take the largest"
    if not math.isclose(float(mm), float(per_joint.max()), rel_tol=1e-3):
        return "the joint is right; its error should be its mean over all samples, in mm"
    return None


def _robust_fit(moved, obs=None, init=None, K=None, bones=None) -> str | None:
    """05.1: the other joints' largest move (mm) when RegNet's 2D index tip is moved 60 px
    right, with and without robust weights; recomputed from the first frame's ``obs``
    with the fit the question states (the tracker's weights without the temporal term,
    60 iterations, from ``init``)."""
    from dataclasses import replace
    from handlib import fitting as ft
    robust, plain = (float(m) for m in moved)
    if not robust < plain:
        return "without robust weights the outlier should pull the other joints further"
    bad = ft.Observation(np.array(obs.uv, float), obs.confidence, obs.xyz_norm, obs.pixel_scale)
    bad.uv[8, 0] += 60
    base = replace(ft.TRACKING_WEIGHTS, w_temporal=0.0)
    want = []
    for w in (base, replace(base, robust_2d_px=1e9, robust_3d_mm=1e9)):
        f = ft.HandFitter(K, bones, "right", w, iterations=60)
        a, b = f.fit(obs, init, remember=False), f.fit(bad, init, remember=False)
        want.append(float(np.linalg.norm(np.delete(a.joints - b.joints, 8, axis=0), axis=-1).max()))
    if not np.allclose([robust, plain], want, rtol=0.05, atol=0.05):
        return ("fit as the question says: replace(ft.TRACKING_WEIGHTS, w_temporal=0.0) (the "
                "tracker's 3D weight), 60 iterations, from `init`, and leave the index tip "
                "(joint 8) out of the largest move")
    return None


def _calibration_600(answer, obs=None, K=None, model_size=None, k=None) -> str | None:
    """05.3: (hand size in mm under the 600 mm convention, its ratio to the 450 mm one)."""
    from handlib import fitting as ft
    size_mm, ratio = (float(a) for a in answer)
    want = float(ft.calibrate_scale([obs], K, distance_mm=600))
    if not math.isclose(size_mm, want * float(model_size), rel_tol=1e-3):
        return "the size is the calibrated scale times the model's own size (model_size)"
    if not math.isclose(ratio, want / float(k), rel_tol=1e-3):
        return "divide the 600 mm scale by the 450 mm one (k)"
    return None


def _track(model, K, video, weights) -> np.ndarray:
    """The tracked joints (frames, 21, 3) mm of ``video`` ((index, frame) pairs) with
    ``weights``, as the notebook tracks (side "right", the convention's calibration)."""
    from handlib import tracker as tr
    trk = tr.Tracker(model, K, side="right", weights=weights)
    return np.stack([trk.step(img, i).xyz_mm for i, img in video])


def _tracking_measured(answer, tracked=None, truth=None, model=None, K=None, video=None) -> str | None:
    """05.2: (jitter in mm/frame^2, mean root-relative 3D error in mm) of the sequence
    tracked with ``w_temporal=1.5``: the track is run again here from the notebook's
    ``model``, ``K`` and ``video``, and ``tracked`` must be it."""
    from dataclasses import replace
    from handlib import fitting as ft, metrics
    jitter, err = (float(a) for a in answer)
    want = _track(model, K, video, replace(ft.TRACKING_WEIGHTS, w_temporal=1.5))
    tracked = np.asarray(tracked, dtype=float)
    if tracked.shape != want.shape or not np.allclose(tracked, want, rtol=0.0, atol=0.1, equal_nan=True):
        return ("`strong` should be every frame of `video` tracked with "
                "tr.Tracker(model, K, side=\"right\", weights=replace(ft.TRACKING_WEIGHTS, w_temporal=1.5)), "
                "each step's xyz_mm")
    if not math.isclose(jitter, float(metrics.jitter(want)), rel_tol=1e-3):
        return "measure the jitter with metrics.jitter on the tracked joints"
    if not math.isclose(err, float(np.nanmean(metrics.root_relative_errors_mm(want, truth))), rel_tol=1e-3):
        return "measure the error with metrics.root_relative_errors_mm against the truth, then its mean"
    return None


def _float32_neighbour(value) -> str | None:
    """04.4: the value of a σ = 0.1 Gaussian map 1.5 pixels from its joint as a float32
    map holds it: a NumPy (or TensorFlow) float32, not a Python number typed in."""
    a = np.asarray(value)
    if a.size != 1:
        return "one number: the map's value at one pixel"
    if a.dtype != np.float32:
        return ("compute it in float32, as the heatmaps are, and keep it a float32 "
                "(np.float32(...) or a tf.float32 result), not a Python number")
    if float(a.reshape(())) != float(np.float32(np.exp(-1.5 ** 2 / (2 * 0.1 ** 2)))):
        return "evaluate the Gaussian's formula exp(-d^2 / (2 sigma^2)) at d = 1.5 pixels, sigma = 0.1"
    return None


# ------------------------------------------------------------------------ the answers
# Digests were made with digest(key, answer); each key's notebook is its first two digits.
ANSWERS: dict[str, Hashed | Near | Satisfies] = {
    "00.1": Hashed(("516d2694eb41184c", "157ce3101cfdee12"),
                   "the normalised 3D puts one knuckle at the origin"),
    "00.2": Satisfies(_project_like_pinhole),
    "00.3": Hashed(("8c30b9dfbc807045",), "list the names of the joints whose position changed", unordered=True),
    "00.4": Near((0.22004, 0.037943), rtol=2e-2, hint="as in the cell 'The crop camera', at pixel (600, 440)"),
    "01.1": Near((24.7, -0.0471401, 3.72045), rtol=0.0, atol=1e-2,
                 hint="the translation from the depth camera to the colour camera, in mm"),
    "01.2": Hashed(("f0cca056d065c1be",), "render each view with render_view and read its `visible` flags of joints 4, 8, 12, 16, 20", unordered=True),
    "01.3": Satisfies(_augmentation_moves_peaks),
    "01.4": Hashed(("c7d969cb9f1129e7",), "think of two crops that look alike but were cut at different places"),
    "02.1": Near((0.5625,), hint="½[(D(real) − 1)² + D(fake)²] with the two constant outputs"),
    "02.2": Satisfies(_generator_losses),
    "02.3": Satisfies(_judge_ceiling),
    "02.4": Hashed(("8368342ab4d48bf8",), "what is the cheapest way to lower a loss measured by a trainable network?"),
    "03.1": Near((np.pi * 1.5 ** 2, 1.0), rtol=1e-2,
                 hint="sum the squared map; the loss is normalised by that sum"),
    "03.2": Satisfies(_projection_scale),
    "03.3": Near((80 * 0.1 / 21, 80 * 0.1), hint="0.1 hand scales are 0.1 x 80 mm; average over 21 joints"),
    "03.4": Hashed(("32e9037eb6b3e2a2",), "what does the network have to learn in each case?"),
    "04.1": Satisfies(_weak_perspective_distance),
    "04.2": Hashed(("556b60baddf47b34",), "the smallest mean of hmaps.decoding_errors(sigma, 32, 2000, noise=0.05)"),
    "04.3": Satisfies(_worst_joint),
    "04.4": Satisfies(_float32_neighbour),
    "05.1": Satisfies(_robust_fit),
    "05.2": Satisfies(_tracking_measured),
    "05.3": Satisfies(_calibration_600),
    "05.4": Hashed(("a051133231ff1907",), "what does each penalty do to a hand moving at a steady speed?"),
}


def strict() -> bool:
    """True when ``HANDLIB_CHECKS=strict``: a wrong or missing answer raises."""
    return os.environ.get("HANDLIB_CHECKS", "").strip().lower() == "strict"


def verdict(key: str, value: Any, **context) -> tuple[bool, str]:
    """(right?, message) for ``value`` as the answer to exercise ``key``; prints nothing."""
    if key not in ANSWERS:
        raise KeyError(f"no exercise {key!r}; known: {', '.join(sorted(ANSWERS))}")
    if _has_stub(value):
        return False, (f"{key}: {NOT_YET}. Replace the `...` in the answer cell above with "
                       "your answer, run it, then run this check again.")
    stubbed = [name for name, v in context.items() if _has_stub(v)]
    if stubbed:
        return False, (f"{key}: {NOT_YET}. The check also reads "
                       f"{', '.join(stubbed)}, still `...`: set it in the answer cell as well.")
    spec = ANSWERS[key]
    problem: str | None
    try:
        if isinstance(spec, Hashed):
            right = digest(key, value, spec.unordered) in spec.digests
            problem = None if right else (spec.hint or "try again")
        elif isinstance(spec, Near):
            got = np.atleast_1d(np.asarray(value, dtype=float)).ravel()
            want = np.asarray(spec.value, dtype=float)
            if got.shape != want.shape:
                problem = f"expected {len(want)} number(s), got {got.size}"
            else:
                ok = np.isclose(got, want, rtol=spec.rtol, atol=spec.atol).all()
                problem = None if ok else (spec.hint or "not within the tolerance")
        else:
            problem = spec.test(value, **context)
    except Exception as e:                 # a student's answer of the wrong form or shape
        problem = f"the answer has the wrong form ({type(e).__name__}: {e})"
    if problem is None:
        return True, f"{key}: correct."
    end = "" if problem.rstrip().endswith((".", "?", "!")) else "."
    return False, f"{key}: {NOT_YET}. Hint: {problem.rstrip()}{end}"


def check(key: str, value: Any, **context) -> None:
    """Check a student's answer to exercise ``key`` ("NN.k") and print the verdict.

    ``context`` passes the notebook's own data to answers that are recomputed from it.
    Under ``HANDLIB_CHECKS=strict`` a wrong or missing answer raises ``AssertionError``.
    """
    ok, message = verdict(key, value, **context)
    if not ok and strict():
        raise AssertionError(message + " (HANDLIB_CHECKS=strict: the instructor copy must pass)")
    print(message)
