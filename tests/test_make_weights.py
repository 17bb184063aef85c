"""`make weights` rebuilds every shipped weight with the commands their records name, and
its whole path runs (tiny budgets) into a folder of loadable models with records."""
import json
import os
import shlex
import subprocess
import sys

from handlib import files
from handlib import weights as wts

TOOL = files.REPO_ROOT / "tools" / "make_weights.py"


def _dry_run() -> list[str]:
    out = subprocess.run([sys.executable, str(TOOL), "--dry-run"], capture_output=True, text=True,
                         cwd=files.REPO_ROOT, check=True).stdout
    return [line.strip() for line in out.splitlines() if line.startswith("   python")]


def _without(cmd: str, *flags) -> str:
    words = shlex.split(cmd)
    for f in flags:
        if f in words:
            i = words.index(f)
            del words[i:i + 2]
    return shlex.join(words)


def test_the_rebuild_runs_the_commands_the_shipped_records_name():
    cmds = _dry_run()
    # --save says where a finished run is copied, not how it trains: a run finished first
    # and shipped by the same command with --save keeps the record of its training command
    flags = ("--silnet", "--weights", "--save")
    for name in ("silnet", "geocongan_synth_to_real", "regnet", "lifter"):
        record = json.loads((files.REPO_ROOT / "data" / "weights" / f"{name}.json").read_text())
        want = _without(record["command"], *flags)
        assert want in [_without(c, *flags) for c in cmds], name
    assert any("train-regnet" in c and "--save data/weights/regnet.keras" in c for c in cmds)
    # each stage feeds the next: the GAN judged by the rebuilt SilNet, GANerating with the rebuilt GAN
    assert any("train-gan" in c and "--silnet data/weights/silnet.keras" in c for c in cmds)
    assert any("ganerate" in c and "--weights data/weights/geocongan_synth_to_real.keras" in c for c in cmds)


def test_the_quick_rebuild_makes_every_weight(tmp_path):
    out = tmp_path / "weights"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    r = subprocess.run([sys.executable, str(TOOL), "--quick", "--out", str(out)], capture_output=True,
                       text=True, cwd=files.REPO_ROOT, env=env, timeout=1200)
    assert r.returncode == 0, r.stderr[-3000:]
    for name in ("efficientnet_lite0_imagenet", "silnet", "geocongan_synth_to_real", "regnet", "lifter"):
        assert (out / f"{name}.keras").is_file(), name
    for name in ("silnet", "geocongan_synth_to_real", "regnet", "lifter"):
        assert "command" in json.loads((out / f"{name}.json").read_text())
    from handlib import pose_network  # noqa: F401  (registers RegNet's layers before loading)
    model = wts.load_model(out / "regnet.keras")
    assert model.name
    assert (out / "regnet_evaluation.json").is_file()
