"""Training RegNet: the command resumes after a kill, MirroredStrategy matches one device,
data folders mix, mistakes are reported in one line."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from handlib import pose_training
from handlib.synthetic import make_dataset
from kill_and_resume import kill_after_first_backup_then_rerun

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}


@pytest.fixture(scope="module")
def two_sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("regnet_sets")
    make_dataset(root / "a", 12, look="synth", seed=400, size=128, progress=False)
    make_dataset(root / "b", 12, look="real-like", seed=401, size=128, progress=False)
    return root / "a", root / "b"


def _cmd(sets, run, *extra):
    return [sys.executable, "-m", "handlib", "train-regnet", "--data", str(sets[0]), str(sets[1]),
            "--out", str(run), "--input-size", "32", "--steps", "8", "--steps-per-epoch", "2",
            "--batch", "2", "--no-imagenet", *extra]


def test_train_regnet_resumes_after_a_kill(two_sets, tmp_path):
    """SIGKILL right after the first backup; the same command continues from it: the
    rerun starts past epoch 1, and the optimizer's step counter ends at exactly --steps
    (it was restored with the weights, not restarted)."""
    run = tmp_path / "run"
    cmd = _cmd(two_sets, run)
    resumed = kill_after_first_backup_then_rerun(cmd, run, ENV)
    assert resumed[0] >= 1 and resumed[-1] == 3
    record = json.loads((run / "regnet.json").read_text())
    assert record["optimizer_steps"] == 8
    assert (run / "regnet.keras").is_file() and (run / "tensorboard").is_dir()
    other = subprocess.run(_cmd(two_sets, run, "--lr", "0.01"), env=ENV, capture_output=True,
                           text=True, timeout=600)
    assert other.returncode == 2 and "other settings" in other.stderr


def test_mistakes_are_reported_in_one_line(two_sets, tmp_path):
    bad_mix = subprocess.run(_cmd(two_sets, tmp_path / "r1", "--mix", "1"), env=ENV,
                             capture_output=True, text=True, timeout=300)
    assert bad_mix.returncode == 2 and "--mix needs one weight" in bad_mix.stderr
    missing = subprocess.run(_cmd((tmp_path / "nothing", two_sets[1]), tmp_path / "r2"), env=ENV,
                             capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and "nothing" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_mixed_dataset_draws_from_every_folder_by_weight(two_sets):
    from handlib import datasets
    from handlib import pipeline as pl
    from handlib import pose_training as pt
    a, b = (datasets.open_dataset(d) for d in two_sets)
    cfg = pl.PipelineConfig(input_size=32, heatmap_size=8, batch_size=64, augment=False)
    # tag each source by its crop intrinsics: identical crops, so tell them by their images
    batch = next(iter(pt.mixed_dataset([a, b[:1]], cfg, mix=[0.25, 0.75], seed=0)))
    img = np.asarray(batch[0]).reshape(64, -1)
    only_b = pl.make_pipeline(b[:1], pl.PipelineConfig(input_size=32, heatmap_size=8, augment=False))
    b_img = np.asarray(next(iter(only_b))[0]).reshape(1, -1)
    from_b = np.isclose(img, b_img, atol=1e-5).all(axis=1).mean()
    assert 0.55 < from_b < 0.95


MIRRORED = r"""
import json, numpy as np, tensorflow as tf
tf.config.set_logical_device_configuration(tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
import keras
from handlib import pose_network as pn
rng = np.random.default_rng(0)
B, S = 4, 32
image = rng.uniform(size=(B, S, S, 3)).astype("float32")
xyz = rng.normal(scale=0.5, size=(B, 21, 3)).astype("float32"); xyz -= xyz[:, 9:10]
uv = rng.uniform(0, 8, size=(B, 21, 2)).astype("float32")
from handlib import heatmaps as hmaps
t = {"heatmaps": hmaps.gaussian_heatmaps(uv, 8), "uv": uv, "xyz_norm": xyz,
     "visible": (rng.uniform(size=(B, 21)) > 0.3).astype("float32"),
     "crop_K": np.tile(np.array([[40, 0, 15.5], [0, 40, 15.5], [0, 0, 1]], "float32"), (B, 1, 1))}
data = lambda: tf.data.Dataset.from_tensors((image, t)).repeat()
def build():
    keras.utils.set_random_seed(1)
    tr = pn.RegNetTrainer(pn.build_regnet(S, "compact", imagenet=False))
    tr.compile(optimizer=keras.optimizers.SGD(0.05))
    return tr
plain = build()
init = plain.net.get_weights()
h1 = plain.fit(data(), epochs=2, steps_per_epoch=1, verbose=0).history
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    dist = build()
    dist.net.set_weights(init)
h2 = dist.fit(data(), epochs=2, steps_per_epoch=1, verbose=0).history
diff = max(float(np.abs(a - b).max()) for a, b in zip(plain.net.get_weights(), dist.net.get_weights()))
print(json.dumps({"replicas": strategy.num_replicas_in_sync, "plain": h1, "mirrored": h2,
                  "max_weight_difference": diff}))
"""


def test_one_step_under_mirrored_strategy_matches_the_plain_step():
    """Two logical CPU devices (configured before TensorFlow initialises, hence the
    subprocess); global batch 4 split over two replicas against batch 4 on one device.
    The trunk's batch norm is frozen and the heads have none, so the two agree; the
    second step's losses depend on the first step's update (plain SGD)."""
    res = subprocess.run([sys.executable, "-c", MIRRORED], capture_output=True, text=True,
                         env=ENV, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["replicas"] == 2
    for key in ("heatmaps", "xyz", "xyz_intermediate", "projection", "loss"):
        for step in range(2):
            a, b = out["plain"][key][step], out["mirrored"][key][step]
            assert b == pytest.approx(a, rel=1e-4, abs=1e-6), (key, step, a, b)
    assert out["max_weight_difference"] < 1e-5


def test_mixed_precision_run_ships_a_float32_model(two_sets, tmp_path):
    """--mixed-precision (for GPUs) trains in float16 with loss scaling and ships the same
    weights in a float32 model that loads anywhere."""
    run = tmp_path / "mp"
    cmd = _cmd(two_sets, run, "--mixed-precision")
    cmd[cmd.index("--steps") + 1] = "2"
    res = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    from handlib import weights
    model = weights.load_model(run / "regnet.keras")
    assert all(w.dtype == "float32" for w in model.weights)
    assert model.get_layer("refine1").compute_dtype == "float32"


@pytest.mark.parametrize("augment, message", [
    ({"crop_range": [0.9, 2.0]}, "crop_range"), ({"crop_range": [2.0, 1.5]}, "crop_range"),
    ({"shift_jitter": 0.7}, "shift_jitter"), ({"appearance": -0.1}, "appearance"),
    ({"colour": 1.0}, "unknown augmentation")])
def test_bad_augmentation_settings_are_refused_with_their_name(augment, message):
    with pytest.raises(ValueError, match=message):
        pose_training.check_augment(augment)


def test_augmentation_settings_are_recorded_only_when_given():
    assert pose_training.check_augment(None) == {}
    assert pose_training.check_augment({"crop_range": (1.2, 2.2), "appearance": 1}) == {
        "crop_range": [1.2, 2.2], "appearance": 1.0}
