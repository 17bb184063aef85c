"""The exercises' checks: what ``course.check("NN.k", value)`` compares a student's answer with.

Every exercise in a notebook has an answer cell (tagged ``solution``; ``make student``
replaces it by a stub) and a check cell that calls :func:`check`. The expected answers
are kept here in a form that is not their text:

- :class:`Hashed`: the SHA-256 of the answer's canonical form, salted with the exercise's
  key (names, choices, lists of names);
- :class:`Near`: a number or a tuple of numbers with a tolerance (values a student
  measures or computes);
- :class:`Satisfies`: a test function, for answers that depend on the notebook's own data
  (quick or full mode) and are recomputed from it, or for functions a student writes.

A check prints ``NN.k: correct`` or ``NN.k: not yet ...`` with a hint, never the answer.
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
    """An exact answer, stored as ``digest(key, answer)`` (see :func:`canonical`)."""
    digests: tuple[str, ...]        # any of these is right (e.g. a name or its index)
    hint: str = ""


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
    hint: str = ""


# ----------------------------------------------------------------------------- canonical
def canonical(value: Any) -> str:
    """A stable text form of an exact answer: strings stripped and lower-cased, numbers in
    ``%.6g``, lists and tuples in order, sets and dicts sorted; NumPy values as Python's."""
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
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    if isinstance(value, (set, frozenset)):
        return "{" + ",".join(sorted(canonical(v) for v in value)) + "}"
    if isinstance(value, dict):
        items = sorted((canonical(k), canonical(v)) for k, v in value.items())
        return "{" + ",".join(f"{k}:{v}" for k, v in items) + "}"
    raise TypeError(f"an exact answer must be a string, number, list, set or dict, "
                    f"not {type(value).__name__}")


def digest(key: str, value: Any) -> str:
    """SHA-256 of ``key`` and the answer's :func:`canonical` form (hex, 16 characters)."""
    return hashlib.sha256(f"{key}|{canonical(value)}".encode()).hexdigest()[:16]


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


def _augmentation_moves_peaks(shifts) -> str | None:
    """01.3: (largest peak shift with augmentation, and without) in heatmap pixels."""
    moved, still = (float(s) for s in shifts)
    if still > 1e-6:
        return "without augmentation every epoch should cut the same crop (a shift of 0)"
    if moved < 0.5:
        return "with augmentation the peaks should move by at least half a heatmap pixel"
    return None


def _equal_generator_losses(pair) -> str | None:
    """02.2: the generator's loss with the masks and with their complements."""
    a, b = (float(x) for x in pair)
    if not math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6):
        return "with geo_weight=0 the two generator losses should be equal"
    return None


def _judge_ceiling(ceiling, images=None, masks=None) -> str | None:
    """02.3: the judge's mean IoU on the rendered crops ``images`` against ``masks``."""
    from handlib import gan_evaluation, silnet
    want = float(silnet.iou(gan_evaluation.judge(images), masks).mean())
    if not math.isclose(float(ceiling), want, abs_tol=2e-3):
        return "judge the rendered crops themselves (no translation) and average the IoU"
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


def _robust_fit(moved) -> str | None:
    """05.1: the other joints' largest move (mm) with and without robust weights."""
    robust, plain = (float(m) for m in moved)
    if not (robust < plain):
        return "without robust weights the outlier should pull the other joints further"
    if robust > 10:
        return "with robust weights the other joints should move by a few mm at most"
    return None


def _tracking_measured(answer, tracked=None, truth=None) -> str | None:
    """05.2: (jitter in mm/frame^2, mean root-relative 3D error in mm) of ``tracked``."""
    from handlib import metrics
    jitter, err = (float(a) for a in answer)
    if not math.isclose(jitter, float(metrics.jitter(tracked)), rel_tol=1e-3):
        return "measure the jitter with metrics.jitter on the tracked joints"
    want = float(np.nanmean(metrics.root_relative_errors_mm(tracked, truth)))
    if not math.isclose(err, want, rel_tol=1e-3):
        return "measure the error with metrics.root_relative_errors_mm against the truth"
    return None


# ------------------------------------------------------------------------ the answers
# Digests were made with digest(key, answer); each key's notebook is its first two digits.
ANSWERS: dict[str, Hashed | Near | Satisfies] = {
    "00.1": Hashed(("516d2694eb41184c", "157ce3101cfdee12"),
                   "the normalised 3D puts one knuckle at the origin"),
    "00.2": Satisfies(_project_like_pinhole),
    "00.3": Hashed(("95d6b894d43de1a5", "40c22a70e820a819", "8c30b9dfbc807045"), "list the names of the joints whose position changed"),
    "00.4": Near((0.22004, 0.037943), rtol=2e-2, hint="as in the cell 'The crop camera', at pixel (600, 440)"),
    "01.1": Near((24.7, -0.0471401, 3.72045), rtol=1e-4,
                 hint="the translation from the depth camera to the colour camera, in mm"),
    "01.2": Hashed(("5427121f29557c52",), "render each view and read the frame's `visible` flags of joints 4, 8, 12, 16, 20"),
    "01.3": Satisfies(_augmentation_moves_peaks),
    "01.4": Hashed(("c7d969cb9f1129e7",), "think of two crops that look alike but were cut at different places"),
    "02.1": Near((0.5625,), hint="½[(D(real) − 1)² + D(fake)²] with the two constant outputs"),
    "02.2": Satisfies(_equal_generator_losses),
    "02.3": Satisfies(_judge_ceiling),
    "02.4": Hashed(("f8c342d7c8a482a1",), "what is the cheapest way to lower a loss measured by a trainable network?"),
    "03.1": Near((np.pi * 1.5 ** 2, 1.0), rtol=1e-2,
                 hint="sum the squared map; the loss is normalised by that sum"),
    "03.2": Near((0.0,), atol=1e-3, hint="the largest absolute difference, in heatmap pixels"),
    "03.3": Near((80 * 0.1 / 21, 80 * 0.1), hint="0.1 hand scales are 0.1 x 80 mm; average over 21 joints"),
    "03.4": Hashed(("c2192ab0ab9700e7",), "what does the network have to learn in each case?"),
    "04.1": Satisfies(_weak_perspective_distance),
    "04.2": Hashed(("556b60baddf47b34",), "the smallest mean of hmaps.decoding_errors(sigma, 32, 2000, noise=0.05)"),
    "04.3": Satisfies(_worst_joint),
    "04.4": Near((0.0,), atol=1e-30, hint="np.float32(np.exp(-1.5 ** 2 / (2 * 0.1 ** 2)))"),
    "05.1": Satisfies(_robust_fit),
    "05.2": Satisfies(_tracking_measured),
    "05.3": Near((600 / 450,), rtol=1e-3, hint="the 600 mm answer divided by the 450 mm one"),
    "05.4": Hashed(("ea895908cf17d702",), "what does each penalty do to a hand moving at a steady speed?"),
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
    spec = ANSWERS[key]
    problem: str | None
    try:
        if isinstance(spec, Hashed):
            problem = None if digest(key, value) in spec.digests else (spec.hint or "try again")
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
    except (TypeError, ValueError) as e:
        problem = f"the answer has the wrong form ({e})"
    if problem is None:
        return True, f"{key}: correct."
    return False, f"{key}: {NOT_YET}. Hint: {problem}."


def check(key: str, value: Any, **context) -> None:
    """Check a student's answer to exercise ``key`` ("NN.k") and print the verdict.

    ``context`` passes the notebook's own data to answers that are recomputed from it.
    Under ``HANDLIB_CHECKS=strict`` a wrong or missing answer raises ``AssertionError``.
    """
    ok, message = verdict(key, value, **context)
    if not ok and strict():
        raise AssertionError(message + " (HANDLIB_CHECKS=strict: the instructor copy must pass)")
    print(message)
