"""The rest of the workshop kit: the measured times in the README and the guide come from
the JSON that `make times` writes; the wheelhouse holds what `make setup` installs and an
environment builds from it with no network."""
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import course_build  # noqa: E402
import wheelhouse  # noqa: E402

TIMES = ROOT / "data" / "results" / "notebook_times.json"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def between_markers(text: str) -> str:
    return text.split(course_build.TIMES_START, 1)[1].split(course_build.TIMES_END, 1)[0].strip()


def test_measured_times_cover_every_notebook_in_both_modes():
    measured = json.loads(TIMES.read_text())
    for mode in ("quick", "full"):
        assert set(measured[mode]["seconds"]) == {p.stem for p in NOTEBOOKS}, mode
        assert all(s > 0 for s in measured[mode]["seconds"].values())
        assert measured[mode]["machine"]["cores"] >= 1
    # quick mode is the same code on less data: never much slower than full
    for stem, quick in measured["quick"]["seconds"].items():
        assert quick <= 1.25 * measured["full"]["seconds"][stem], stem


@pytest.mark.parametrize("doc", ["README.md", "INSTRUCTORS.md"])
def test_the_times_tables_are_the_measured_ones(doc):
    measured = json.loads(TIMES.read_text())
    table = between_markers((ROOT / doc).read_text())
    want = course_build.times_table(measured) + "\n\n" + course_build.measured_on(measured)
    assert table == want, f"{doc}: run `make times`"
    # and the table is what it says: one row per notebook, seconds as measured
    for stem, s in measured["full"]["seconds"].items():
        row = next(l for l in table.splitlines() if l.startswith(f"| {stem} |"))
        assert course_build.fmt_seconds(s) in row


def test_the_index_synopses_are_the_readme_table():
    synopses = course_build.readme_synopses()
    assert sorted(synopses) == [p.name[:2] for p in NOTEBOOKS]
    assert all(len(v) > 40 for v in synopses.values())


def test_the_wheelhouse_list_is_what_setup_installs():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    reqs = wheelhouse.requirements()
    for r in meta["project"]["dependencies"] + meta["project"]["optional-dependencies"]["dev"]:
        assert r in reqs
    for r in meta["build-system"]["requires"]:
        assert r in reqs, "the build back end, to install the course itself offline"
    assert "pip" in reqs and len(reqs) == len(set(reqs))
    make = (ROOT / "Makefile").read_text()
    assert "--no-index --find-links wheelhouse" in make
    assert make.count("$(PIP_FROM)") >= 3, "every pip install in setup uses the wheelhouse when there is one"
    assert "wheelhouse/" in (ROOT / ".gitignore").read_text().splitlines()


def test_an_environment_builds_from_the_wheelhouse_with_no_network(tmp_path):
    """The offline classroom's path (`make offline-check`), from the course's wheelhouse/
    if there is one, else from one this test makes (`make wheelhouse`'s tool, which needs
    the network or pip's cache; CI has both). Several minutes: TensorFlow is installed
    into a throw-away environment."""
    house = ROOT / "wheelhouse"
    if not any(house.glob("*.whl")):
        house = tmp_path / "wheelhouse"
        made = subprocess.run([sys.executable, str(ROOT / "tools" / "wheelhouse.py"), "--dest", str(house)],
                              capture_output=True, text=True, timeout=3600)
        if made.returncode != 0:
            why = (made.stderr.strip().splitlines() or ["?"])[-1]
            if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
                pytest.fail(f"could not make a wheelhouse under CI=true: {why}")
            pytest.skip(f"no wheelhouse/ and none could be made here (no network?): {why}")
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "wheelhouse.py"), "--check",
                           "--dest", str(house)], capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "offline install works" in done.stdout
    manifest = json.loads((house / "manifest.json").read_text())
    assert manifest["n_wheels"] == len(list(house.glob("*.whl")))
