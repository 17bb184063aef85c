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
