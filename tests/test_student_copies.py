"""A student copy runs: every cell up to the exercises runs without an error, and each
check, given the stub, says "not yet" instead of crashing. Each notebook is executed in
quick mode in a fresh kernel, from build/student's place in the tree, as a student opens it.
(About four minutes in all on two cores: the same work as the notebooks' own nbval run.)"""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
sys.path.insert(0, str(ROOT / "tools"))
import student  # noqa: E402


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("build") / "student"
    assert student.main(["--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_student_copy_runs_and_its_checks_say_not_yet(path, student_dir, monkeypatch):
    import nbformat
    from nbclient import NotebookClient
    monkeypatch.setenv("HANDLIB_QUICK", "1")
    monkeypatch.delenv("HANDLIB_CHECKS", raising=False)      # a student's kernel: not strict
    nb = nbformat.read(student_dir / path.name, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=1200, allow_errors=True,
                   resources={"metadata": {"path": str(student_dir)}}).execute()
    errors = [(c.id, o["ename"], o["evalue"][:300]) for c in nb.cells if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{path.name} (student copy): {errors}"
    checks = [c for c in nb.cells if student.check_key(c) is not None]
    assert checks
    for c in checks:
        text = "".join(o.get("text", "") for o in c.outputs if o.output_type == "stream")
        key = student.check_key(c)
        assert f"{key}: not yet" in text, (c.id, text)
        assert "correct" not in text
