"""The repository's promises: one dependency list, notebooks without outputs, CI = make test."""
import json
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _req_key(line: str):
    m = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(\[[^\]]*\])?\s*([<>=!~].*)?$", line)
    name = m.group(1).lower().replace("_", "-")
    spec = ",".join(sorted(s.strip() for s in (m.group(3) or "").split(",") if s.strip()))
    return name, spec


def test_environment_yml_agrees_with_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pyproject = dict(_req_key(r) for r in project["dependencies"]
                     + project["optional-dependencies"]["dev"])
    yml = {}
    in_pip = False
    for raw in (ROOT / "environment.yml").read_text().splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if line.strip() == "- pip:":
            in_pip = True
            continue
        if in_pip and line.strip().startswith("- "):
            name, spec = _req_key(line.strip()[2:])
            yml[name] = spec
    assert yml == pyproject
    assert ">=2.21" in pyproject["tensorflow"] and "<2.22" in pyproject["tensorflow"]
    assert "<4" in pyproject["keras"] and ">=3" in pyproject["keras"]


def test_notebooks_are_committed_without_outputs():
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks, "no notebooks found"
    for nb in notebooks:
        doc = json.loads(nb.read_text())
        for cell in doc["cells"]:
            if cell["cell_type"] == "code":
                assert cell.get("outputs", []) == [], f"{nb.name} has outputs"
                assert cell.get("execution_count") is None, f"{nb.name} has execution counts"


def test_notebooks_follow_the_course_shape():
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        doc = json.loads(nb.read_text())
        md = "\n".join("".join(c["source"]) for c in doc["cells"] if c["cell_type"] == "markdown")
        assert len(re.findall(r"^# ", md, re.M)) == 1, f"{nb.name}: exactly one H1"
        for heading in ("What you will learn", "Prerequisites", "Setup", "Summary", "Exercises"):
            assert heading in md, f"{nb.name}: missing {heading!r}"
        code = "\n".join("".join(c["source"]) for c in doc["cells"] if c["cell_type"] == "code")
        assert "quick_mode()" in code, f"{nb.name}: Setup must read the quick-mode switch"


def test_ci_installs_system_packages_then_runs_make_test_and_nothing_else():
    lines = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()
             if ln.strip() and not ln.strip().startswith("#")]
    commands = [ln for ln in lines if not ln.startswith(("set ", "cd "))]
    assert commands[-1] == "make test"
    for ln in commands[:-1]:        # only system packages before it (conventions: CI)
        assert not re.search(r"\b(make|python\S*|pip|pytest|jupyter)\b", ln), ln
    assert any("apt-get install" in ln and "chromium" in ln for ln in commands)


def test_license_is_mit():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
