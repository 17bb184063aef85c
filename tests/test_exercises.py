"""The workshop kit's exercises: every exercise has an answer cell and a check, the checks
never show the answer and say "not yet" to a stub, and `make student` empties the answer
cells, deterministically. (That the instructor copies pass their checks is nbval's job:
`make test` runs every notebook with HANDLIB_CHECKS=strict. Running the student copies
is in test_student_copies.py.)"""
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from handlib import course, exercises as ex

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
sys.path.insert(0, str(ROOT / "tools"))
import student  # noqa: E402  (tools/student.py)


def cells(path):
    return json.loads(path.read_text())["cells"]


def exercise_section(nb_cells):
    start = [i for i, c in enumerate(nb_cells)
             if c["cell_type"] == "markdown" and student.source(c).startswith("## Exercises")]
    assert len(start) == 1, "one '## Exercises' cell, at the start of its own cell"
    return start[0]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_every_exercise_has_an_answer_cell_and_a_check(path):
    nb_cells = cells(path)
    start = exercise_section(nb_cells)
    number = path.name[:2]
    keys, pending = [], []
    for i, c in enumerate(nb_cells):
        if student.is_solution(c):
            assert i > start, f"{c['id']}: an answer cell outside the Exercises section"
            pending.append(c)
            continue
        key = student.check_key(c)
        if key is None:
            continue
        assert i > start, f"{c['id']}: a check outside the Exercises section"
        code_answers = [a for a in pending if a["cell_type"] == "code"]
        assert code_answers, f"check {key} has no answer cell (tagged 'solution') before it"
        # the stub can set every name the check reads: computed, not listed by hand
        names = student.expected_names(code_answers[-1], c)
        assert names, key
        keys.append(key)
        pending = []
    assert not pending, f"answer cells after the last check: {[c['id'] for c in pending]}"
    assert keys == [f"{number}.{k}" for k in range(1, len(keys) + 1)], keys
    registered = sorted(k for k in ex.ANSWERS if k.startswith(number + "."))
    assert keys == registered, f"checks in {path.name} {keys} != answers in handlib {registered}"
    questions = [c for c in nb_cells[start:] if c["cell_type"] == "markdown"
                 and re.match(r"\*\*Exercise \d+\*\*", student.source(c))]
    assert len(questions) == len(keys), "one '**Exercise k**' question per check"
    text = "".join(student.source(c) for c in nb_cells[start:] if not student.is_solution(c))
    assert "<details>" not in text and "Answers" not in text, "answers outside the answer cells"


def test_every_registered_answer_belongs_to_a_notebook():
    numbers = {p.name[:2] for p in NOTEBOOKS}
    assert {k[:2] for k in ex.ANSWERS} <= numbers


def test_a_stub_is_not_yet_and_never_an_error(monkeypatch, capsys):
    monkeypatch.delenv("HANDLIB_CHECKS", raising=False)
    for key in ex.ANSWERS:
        ok, message = ex.verdict(key, ...)
        assert not ok and ex.NOT_YET in message and "..." in message
        ok, _ = ex.verdict(key, (..., 3.0))
        assert not ok
    assert course.check("00.1", ...) is None
    assert "00.1: not yet" in capsys.readouterr().out


def test_wrong_answers_are_not_yet_with_a_hint(monkeypatch):
    monkeypatch.delenv("HANDLIB_CHECKS", raising=False)
    for key, spec in ex.ANSWERS.items():
        if isinstance(spec, ex.Hashed):
            wrong = "zz-not-an-answer"
        elif isinstance(spec, ex.Near):
            wrong = tuple(v + 1.0 + abs(v) for v in spec.value)
        else:
            continue
        ok, message = ex.verdict(key, wrong)
        assert not ok and message.startswith(f"{key}: {ex.NOT_YET}. Hint:"), message
        assert message.endswith(".") != message.endswith("?") and not message.endswith(("?.", "..")), message
    # a wrongly shaped answer is "not yet" too, not a crash
    assert not ex.verdict("03.3", (1.0,))[0]
    assert not ex.verdict("01.2", object())[0]


def test_a_stubbed_context_or_a_broken_answer_is_not_yet(monkeypatch):
    monkeypatch.delenv("HANDLIB_CHECKS", raising=False)
    ok, message = ex.verdict("05.2", (1.0, 2.0), tracked=..., truth=np.zeros((3, 21, 3)))
    assert not ok and "tracked" in message and "..." in message
    for answer in [(1.0, 2.0), None, "three", (1.0,), (float("nan"), 1e308)]:
        ok, message = ex.verdict("05.2", answer, tracked=np.zeros(3), truth=np.zeros(3))
        assert not ok and ex.NOT_YET in message, answer


def test_strict_mode_raises_on_wrong_and_on_stubs(monkeypatch):
    monkeypatch.setenv("HANDLIB_CHECKS", "strict")
    with pytest.raises(AssertionError, match="00.1: not yet"):
        ex.check("00.1", "wrist")
    with pytest.raises(AssertionError):
        ex.check("00.1", ...)
    ex.check("00.1", "M0")                     # right: no error


def test_right_answers_from_independent_computations(monkeypatch):
    """Some answers recomputed here without the notebooks: the stored checks accept them."""
    monkeypatch.delenv("HANDLIB_CHECKS", raising=False)
    assert ex.verdict("00.1", " m0 ")[0]                      # case and spaces do not matter
    assert ex.verdict("00.1", 9)[0]                           # the joint's index is accepted
    assert ex.verdict("00.3", ["I3", "I2"])[0]
    assert ex.verdict("02.1", 0.5 * ((0.25 - 1) ** 2 + 0.75 ** 2))[0]
    x = np.arange(-20, 21)
    gauss = np.exp(-(x[:, None] ** 2 + x[None] ** 2) / (2 * 1.5 ** 2))
    assert ex.verdict("03.1", (float((gauss ** 2).sum()), 1.0))[0]
    assert ex.verdict("03.3", (8 / 21, 8.0))[0]
    assert ex.verdict("00.2", lambda K, X: (X @ K.T)[:, :2] / (X @ K.T)[:, 2:])[0]
    assert not ex.verdict("00.2", lambda K, X: (X @ K.T)[:, :2])[0]
    assert not ex.verdict("00.2", lambda K, X: 1 / 0)[0]      # a student's bug is reported


def test_digests_are_salted_by_the_exercise_and_hide_the_text():
    assert ex.digest("01.4", "b") != ex.digest("02.4", "b")
    source = (ROOT / "handlib" / "exercises.py").read_text()
    answers_part = source[source.index("ANSWERS:"):]
    for text in ('"M0"', "'I2'", '"I2"', '"b"'):
        assert text not in answers_part
    assert ex.canonical({"b": [1, 2], "a": "X "}) == ex.canonical({"a": "x", "b": (1.0, 2.0)})


# ------------------------------------------------------------------------- student copies
def test_student_copies_replace_answers_and_nothing_else(tmp_path):
    assert student.main(["--out", str(tmp_path)]) == 0
    for path in NOTEBOOKS:
        original = json.loads(path.read_text())
        copy = json.loads((tmp_path / path.name).read_text())
        assert len(copy["cells"]) == len(original["cells"])
        assert copy["metadata"] == original["metadata"]
        for a, b in zip(original["cells"], copy["cells"]):
            if not student.is_solution(a):
                assert a == b
                continue
            assert b["id"] == a["id"] and b["cell_type"] == a["cell_type"]
            assert student.SOLUTION_TAG not in student.tags(b)
            text = student.source(b)
            if a["cell_type"] == "code":
                assert text.startswith(student.CODE_STUB)
                for line in text.splitlines()[1:]:
                    assert re.fullmatch(r"[A-Za-z_]\w* = \.\.\.", line), line
                # no line of the answer survives
                answer_lines = {l.strip() for l in student.source(a).splitlines() if len(l.strip()) > 12}
                assert not answer_lines & {l.strip() for l in text.splitlines()}
            else:
                assert text == student.MARKDOWN_STUB


def test_make_student_is_reproducible_byte_for_byte(tmp_path):
    outs = []
    for k in range(2):
        out = tmp_path / f"run{k}"
        subprocess.run([sys.executable, str(ROOT / "tools" / "student.py"), "--out", str(out)],
                       check=True, capture_output=True)
        outs.append({p.name: p.read_bytes() for p in sorted(out.glob("*.ipynb"))})
    assert outs[0] == outs[1] and len(outs[0]) == len(NOTEBOOKS)


def test_a_check_without_an_answer_cell_is_refused():
    check_cell = {"cell_type": "code", "id": "c", "source": 'course.check("00.1", origin_joint)'}
    answer = {"cell_type": "code", "id": "a", "metadata": {"tags": ["solution"]}, "source": "x = 1"}
    with pytest.raises(ValueError, match="sets none of the names"):
        student.expected_names(answer, check_cell)
    nb = {"cells": [answer], "metadata": {}}
    with pytest.raises(ValueError, match="no check cell"):
        student.student_copy(nb)


# ------------------------------------------- the recomputed checks: wrong answers, right answers
# Each check below recomputes its answer from the notebook's own objects (passed by the check
# cell), so a number typed in, or one measured on other data or with other settings, is
# "not yet"; the answer cell's own computation is "correct".
def _wrong(key, value, **context):
    ok, message = ex.verdict(key, value, **context)
    assert not ok and message.startswith(f"{key}: {ex.NOT_YET}. Hint:"), (value, message)
    return message


def _right(key, value, **context):
    ok, message = ex.verdict(key, value, **context)
    assert ok, (value, message)


@pytest.fixture
def no_strict(monkeypatch):
    monkeypatch.delenv("HANDLIB_CHECKS", raising=False)


def test_01_3_the_peak_shift_is_measured_again_from_the_sample(tmp_path, no_strict, monkeypatch):
    import cv2
    from handlib import camera as cam, datasets, pipeline
    from handlib import hand_model as hm, heatmaps as hmaps
    rng = np.random.default_rng(4)                 # a small image with 21 joints on it
    uv = np.round(rng.uniform([380, 150], [520, 290], size=(21, 2)))
    img = np.zeros((480, 640, 3), np.uint8)
    for u, v in uv:
        cv2.circle(img, (int(u), int(v)), 2, (255, 255, 255), -1)
    cv2.imwrite(str(tmp_path / "dots.png"), img)
    xyz = cam.back_project(cam.GANERATED, uv, np.full(21, 500.0))
    sample = datasets.HandSample(image_path=str(tmp_path / "dots.png"), sequence="s", uv=uv, xyz=xyz,
                                 xyz_norm=hm.normalise(xyz)[0], side="right")

    def shift(config):                             # the answer cell's measurement (and as max |dx|, |dy|)
        ds = pipeline.make_pipeline([sample], config)
        a, b = (hmaps.heatmap_maxima(t["heatmaps"].numpy())[0] for _, t in (next(iter(ds)), next(iter(ds))))
        return float(np.linalg.norm(a - b, axis=-1).max()), float(np.abs(a - b).max())

    measured_again, calls = ex._peak_shifts, []

    def once(s):                                   # the check's own measurement, made once here
        if not calls:
            calls.append(measured_again(s))
        return calls[0]

    monkeypatch.setattr(ex, "_peak_shifts", once)
    moved, moved_xy = shift(pipeline.PipelineConfig(batch_size=1))
    still = shift(pipeline.PipelineConfig(batch_size=1, augment=False))[0]
    assert moved > 0.5 and still == 0.0
    _right("01.3", (moved, still), sample=sample)
    _right("01.3", (moved_xy, still), sample=sample)
    other_seed = shift(pipeline.PipelineConfig(batch_size=1, seed=1))[0]
    assert abs(other_seed - moved) > 0.01
    for wrong in [(1, 0), (1e6, 0), (0.5, 0.0), (round(moved), 0),    # typed, not measured
                  (other_seed, still),                                # another pipeline's epochs
                  (moved, moved)]:                                    # augmented both times
        _wrong("01.3", wrong, sample=sample)
    assert len(calls) == 1
    monkeypatch.setattr(ex, "_peak_shifts", measured_again)
    _wrong("01.3", (moved, still))                                    # no sample: nothing to check


def test_02_3_the_ceiling_is_scored_on_the_held_out_folder_not_on_passed_images(tmp_path, no_strict):
    from handlib import domains, gan_evaluation, silnet, synthetic
    held_out = tmp_path / "nb02_synth_test"
    synthetic.make_dataset(held_out, 3, look="synth", seed=1, size=128, progress=False)
    test = domains.synth_domain(held_out, size=128, progress=False)       # the notebook's synth_test
    iou = silnet.iou(gan_evaluation.judge(test.images), test.masks)
    right = float(iou.mean())
    _right("02.3", right, held_out=held_out)
    small = domains.synth_domain(held_out, size=64, progress=False)
    candidates = [1.0, 0.9, float(iou[0]), float(np.median(iou)),             # typed; one crop; median
                  float(silnet.iou(gan_evaluation.judge(small.images), small.masks).mean())]  # 64 px
    wrongs = [w for w in candidates if abs(w - right) > 0.01]
    assert len(wrongs) >= 3, (right, candidates)
    for wrong in wrongs:
        _wrong("02.3", wrong, held_out=held_out)
    # images chosen by the caller are not what the check scores
    _wrong("02.3", float(iou[:1].mean()), images=test.images[:1], masks=test.masks[:1])


def test_04_4_the_neighbour_must_be_a_float32_not_a_typed_number(no_strict):
    from handlib import heatmaps as hmaps
    right = np.exp(np.float32(-1.5 ** 2 / (2 * 0.1 ** 2)))               # the answer cell
    _right("04.4", right)
    _right("04.4", np.float32(np.exp(-1.5 ** 2 / (2 * 0.1 ** 2))))
    h = hmaps.gaussian_heatmaps(np.array([[10.5, 10.0]]), 32, sigma=0.1)   # read off a float32 map
    assert h[10, 12, 0] == 0 and h[10, 11, 0] > 0
    _right("04.4", h[10, 12, 0])
    for wrong in [0, 0.0, "0", float(right),                               # typed, or a Python float
                  np.exp(-1.5 ** 2 / (2 * 0.1 ** 2)),                     # float64: 1.9e-49, not 0
                  np.float32(np.exp(-1.0 ** 2 / (2 * 0.1 ** 2))),         # 1 pixel away, not 1.5
                  h[10, 10:13, 0]]:                                       # three values
        _wrong("04.4", wrong)


@pytest.fixture(scope="module")
def nb05(tmp_path_factory):
    """Notebook 05's objects on a 4-frame rendered sequence: RegNet, K, video, truth, and the
    first frame's observation, initial pose and bones (as its cells make them)."""
    from handlib import fitting as ft, hand_model as hm, sequences as sq, tracker as tr, weights
    root = tmp_path_factory.mktemp("nb05")
    demo = sq.make_demo_video(root / "demo", frames=4, seed=7, progress=False)
    gt = np.load(root / "demo.npz")
    K, video, model = gt["K"], list(tr.VideoFrames(demo["video"])), weights.load_model("regnet")
    _, _, obs, _ = tr.Tracker(model, K, side="right").search(video[0][1])
    size = np.linalg.norm(gt["xyz"][0, 0] - gt["xyz"][0, 9])
    bones = hm.default_bone_lengths(size / np.linalg.norm(hm.rest_pose()[0] - hm.rest_pose()[9]))
    init = ft.initial_pose(obs, K, bones, "right")
    return dict(model=model, K=K, video=video, truth=gt["xyz"], obs=obs, init=init, bones=bones)


def test_05_1_the_robust_fit_is_recomputed_as_the_question_states(nb05, no_strict):
    from dataclasses import replace
    from handlib import fitting as ft
    obs, init, K, bones = (nb05[k] for k in ("obs", "init", "K", "bones"))

    def moved_mm(w, iterations=60, keep_tip=False):      # what the question asks, step by step
        bad = ft.Observation(obs.uv.copy(), obs.confidence, obs.xyz_norm, obs.pixel_scale)
        bad.uv[8, 0] += 60
        out = []
        for weights in (w, replace(w, robust_2d_px=1e9, robust_3d_mm=1e9)):
            f = ft.HandFitter(K, bones, "right", weights, iterations=iterations)
            d = f.fit(obs, init, remember=False).joints - f.fit(bad, init, remember=False).joints
            out.append(float(np.linalg.norm(d if keep_tip else np.delete(d, 8, axis=0), axis=-1).max()))
        return tuple(out)

    context = dict(obs=obs, init=init, K=K, bones=bones)
    right = moved_mm(replace(ft.TRACKING_WEIGHTS, w_temporal=0.0))
    _right("05.1", right, **context)
    for wrong in [moved_mm(ft.FitWeights()),                     # FitWeights()'s 3D weight (1.0, not 0.3)
                  moved_mm(replace(ft.TRACKING_WEIGHTS, w_temporal=0.0), iterations=3),
                  moved_mm(replace(ft.TRACKING_WEIGHTS, w_temporal=0.0), keep_tip=True),
                  right[::-1], (1.0, 30.0)]:
        _wrong("05.1", wrong, **context)


def test_05_2_the_track_with_w_temporal_1_5_is_run_again(nb05, no_strict):
    from dataclasses import replace
    from handlib import fitting as ft, metrics, tracker as tr
    model, K, video, truth = (nb05[k] for k in ("model", "K", "video", "truth"))
    context = dict(truth=truth, model=model, K=K, video=video)

    def track(w_temporal):                                       # the answer cell
        trk = tr.Tracker(model, K, side="right", weights=replace(ft.TRACKING_WEIGHTS, w_temporal=w_temporal))
        x = np.stack([trk.step(img, i).xyz_mm for i, img in video])
        return x, (float(metrics.jitter(x)), float(np.nanmean(metrics.root_relative_errors_mm(x, truth))))

    strong, measured = track(1.5)
    _right("05.2", measured, tracked=strong, **context)
    usual, usual_measured = track(0.15)                          # the tracker's own weight
    assert np.abs(usual - strong).max() > 1.0
    _wrong("05.2", usual_measured, tracked=usual, **context)
    _wrong("05.2", (float(metrics.jitter(truth)), 0.0), tracked=truth, **context)   # any array
    _wrong("05.2", measured, tracked=strong[:-1], **context)                        # not every frame
    _wrong("05.2", (measured[0], measured[1] + 1.0), tracked=strong, **context)     # a wrong error
    _wrong("05.2", (1.0, 20.0), tracked=strong, **context)                          # typed
    message = _wrong("05.2", measured, tracked=strong, truth=truth)                 # no model: no check
    assert "wrong form" in message
