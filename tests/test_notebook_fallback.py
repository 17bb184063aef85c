"""Notebooks that read the real photos also run without them (``HANDLIB_REALDATA_DIR``
pointing at an empty folder), in quick mode, and say that they use a stand-in."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["02_geocongan_training.ipynb"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_without_the_real_photos(name, tmp_path):
    empty = tmp_path / "no_realdata"
    empty.mkdir()
    out = tmp_path / name
    env = {**os.environ, "HANDLIB_QUICK": "1", "HANDLIB_REALDATA_DIR": str(empty),
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    res = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook",
                          "--execute", "--ExecutePreprocessor.kernel_name=python3",
                          "--ExecutePreprocessor.timeout=600", "--output", str(out),
                          str(ROOT / "notebooks" / name)],
                         cwd=ROOT / "notebooks", env=env, capture_output=True, text=True, timeout=1200)
    assert res.returncode == 0, res.stderr[-4000:]
    text = json.dumps(json.loads(out.read_text())["cells"])
    assert "real-like stand-in" in text and "real data not found" in text
