"""The real-hand experiments: a plan is checked before anything trains, every arm trains
with its own settings, results survive a rerun, and the table reads them."""
import json
import os
import subprocess
import sys

import pytest

from handlib import real_hand_experiments as rhe
from handlib.synthetic import make_dataset

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "",
       "HANDLIB_REALDATA_DIR": "/nonexistent"}      # no real data: renders only, fast


def _plan(tmp_path, data, arms=None, **budget):
    plan = {"budget": {"steps": 2, "batch": 2, "input_size": 32, "steps_per_epoch": 2, "seed": 0,
                       **budget},
            "test": str(data),
            "arms": arms or [{"name": "plain", "change": "nothing", "data": [str(data)]},
                             {"name": "framing", "change": "loose crops", "data": [str(data)],
                              "augment": {"crop_range": [1.2, 2.2], "appearance": 0.5}}]}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    return path


def test_the_shipped_plan_is_valid():
    plan = rhe.read_plan("data/experiments/real_hands.json")
    assert plan["budget"]["steps"] == 1600 and len(plan["arms"]) >= 3
    assert all(a["change"] for a in plan["arms"])


@pytest.mark.parametrize("edit, message", [
    (lambda p: p["budget"].pop("seed"), "budget must give exactly"),
    (lambda p: p["budget"].update(steps=3), "multiple of steps_per_epoch"),
    (lambda p: p["arms"].append(dict(p["arms"][0])), "two arms are named"),
    (lambda p: p["arms"][0].update(data=[]), "one or more folders"),
    (lambda p: p["arms"][1].update(augment={"crop_range": [0.5, 1]}), "crop_range"),
    (lambda p: p["arms"][1].update(input_size=100), "multiple of 16"),
])
def test_a_bad_plan_names_the_file_and_the_mistake(tmp_path, edit, message):
    path = _plan(tmp_path, tmp_path)
    plan = json.loads(path.read_text())
    edit(plan)
    path.write_text(json.dumps(plan))
    with pytest.raises(ValueError, match=message):
        rhe.read_plan(path)


def test_arms_train_with_their_settings_and_a_rerun_keeps_their_results(tmp_path):
    data = tmp_path / "set"
    make_dataset(data, 6, look="synth", seed=410, size=128, progress=False)
    plan = _plan(tmp_path, data)
    cmd = [sys.executable, "-m", "handlib", "real-hand-arms", "--plan", str(plan),
           "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "arms")]
    first = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    result = json.loads((tmp_path / "arms.json").read_text())
    assert set(result["arms"]) == {"plain", "framing"}
    rows = [line.split(" | ")[0] for line in first.stdout.splitlines() if line.startswith("| ")]
    assert rows[-2:] == ["| plain", "| framing"]                     # the plan's order
    config = json.loads((tmp_path / "runs" / "framing" / "config.json").read_text())
    assert config["augment"] == {"crop_range": [1.2, 2.2], "appearance": 0.5}
    assert "augment" not in json.loads((tmp_path / "runs" / "plain" / "config.json").read_text())
    for arm in result["arms"].values():
        assert 0.0 <= arm["test"]["3d_auc"] <= 1.0 and arm["test"]["frames"] == 6
    assert "| framing | loose crops |" in first.stdout
    # a rerun measures nothing again: the entries (and their times) are unchanged
    (tmp_path / "runs" / "plain" / "regnet.keras").unlink()     # would retrain if asked
    second = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=600)
    assert second.returncode == 0, second.stderr[-2000:]
    assert json.loads((tmp_path / "arms.json").read_text()) == result
    assert not (tmp_path / "runs" / "plain" / "regnet.keras").exists()


def test_an_unknown_arm_is_refused_before_training(tmp_path):
    plan = _plan(tmp_path, tmp_path)
    r = subprocess.run([sys.executable, "-m", "handlib", "real-hand-arms", "--plan", str(plan),
                        "--only", "nope", "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, env=ENV, timeout=300)
    assert r.returncode == 2 and "no arm named 'nope'" in r.stderr


def test_the_table_shows_missing_figures_as_dashes():
    result = {"baseline": None, "arms": {"a": {"change": "c", "test": {"2d_auc": 0.5, "3d_auc": 0.25},
                                               "wall_time_s": 120.0,
                                               "real_yardstick": {"2d_auc": 0.3, "video_agreement": None}}}}
    row = rhe.format_arms(result).splitlines()[-1]
    assert row == "| a | c | 0.300 | - | - | - | - | - | 0.500 | 0.250 | 2 |"


def test_references_and_rows_for_the_figure_come_from_the_results():
    import matplotlib
    matplotlib.use("Agg")
    from handlib import files, visualisation as vis
    real = files.read_json(files.REPO_ROOT / "data" / "results" / "real_evaluation.json", "results")
    refs = rhe.references(real)
    shipped = real["sets"]["all_photos"]["models"]["shipped"]
    assert refs["shipped model"]["2d_auc"] == shipped["2d"]["auc"]
    previous = real["sets"]["all_photos"]["models"][rhe.PREVIOUS_SHIPPED]      # the model it replaced
    assert refs["previous shipped model"]["3d_aligned_auc"] == previous["3d_aligned"]["auc"]
    assert refs["previous shipped model"]["video_agreement"] == \
        real["video"]["models"][rhe.PREVIOUS_SHIPPED]["tracker"]["agreement_mean_hand_sizes"]
    oh = real["sets"]["all_photos"]["baselines"]["fixed_open_hand"]["3d_root_scale"]["auc"]
    assert refs["fixed open hand"]["3d_root_scale_auc"] == oh and "2d_auc" not in refs["fixed open hand"]
    result = {"baseline": {"name": "synth+GANerated", "from": "data/results/regnet_ablation.json"},
              "order": ["b", "a"], "arms": {
                  "a": {"real_yardstick": {"2d_auc": 0.5, "video_agreement": None}},
                  "b": {"real_yardstick": {"2d_auc": 0.4, "video_agreement": 0.2}}}}
    rows = rhe.yardstick_rows(result)
    assert list(rows) == ["synth+GANerated (start)", "b", "a"]
    fig = vis.plot_arms(rows, refs, rhe.GOALS)
    assert len(fig.axes) == 4
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == list(rows)


def test_the_figure_is_written_where_arms_have_yardstick_figures(tmp_path):
    result = {"baseline": {"name": "synth+GANerated", "from": "data/results/regnet_ablation.json"},
              "order": ["a"], "arms": {"a": {"real_yardstick": {"2d_auc": 0.5, "3d_root_scale_auc": 0.4,
                                                               "3d_aligned_auc": 0.8, "video_agreement": 0.2}}}}
    assert rhe.write_figure(result, tmp_path / "arms.png")
    assert (tmp_path / "arms.png").read_bytes()[:4] == b"\x89PNG"
    assert not rhe.write_figure({"baseline": None, "arms": {"a": {}}}, tmp_path / "none.png")


def test_the_readme_shows_the_committed_arms():
    """README's table of the real-hand experiments is format_arms of the committed results."""
    from handlib import files
    text = (files.REPO_ROOT / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- real-hand-arms: start -->", "<!-- real-hand-arms: end -->"
    assert text.count(start) == 1 and text.count(end) == 1
    block = text.split(start)[1].split(end)[0].strip()
    result = files.read_json(files.REPO_ROOT / "data" / "results" / "real_hand_arms.json", "results")
    assert block == rhe.format_arms(result).strip()
