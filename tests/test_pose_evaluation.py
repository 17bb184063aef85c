"""RegNet's evaluation on labelled sets: the test crops' framing option (`evaluate-regnet
--crop-range`) cuts the boxes it says, the same for every model, and changes nothing else."""
import subprocess
import sys

import numpy as np
import pytest

from handlib import files, weights
from handlib import pose_evaluation as pe


@pytest.fixture(scope="module")
def shipped():
    return weights.load_model("regnet")


@pytest.fixture(scope="module")
def samples():
    return pe.regression_samples()[:8]


def test_a_fixed_framing_range_is_the_courses_crop(shipped, samples):
    """A range of one value, 1.7 (the course's crop: the joints' extent plus 35 % on each
    side) and no shift, gives the fixed crops' predictions."""
    fixed = pe.predict_batches(shipped, samples)
    same = pe.predict_batches(shipped, samples, framing={"crop_range": [1.7, 1.7], "shift_jitter": 0.0})
    np.testing.assert_allclose(same["targets"]["crop_side"], fixed["targets"]["crop_side"], rtol=1e-6)
    np.testing.assert_allclose(same["pred_uv_image"], fixed["pred_uv_image"], atol=1e-3)


def test_a_framing_range_draws_boxes_inside_it_the_same_for_every_call(shipped, samples):
    framing = {"crop_range": [1.2, 2.2], "shift_jitter": 0.15}
    fixed = pe.predict_batches(shipped, samples)["targets"]
    a = pe.predict_batches(shipped, samples, framing=framing)["targets"]
    b = pe.predict_batches(shipped, samples, framing=framing)["targets"]
    ratio = a["crop_side"] / fixed["crop_side"] * 1.7          # box side over the joints' extent
    assert np.all(ratio >= 1.2 - 1e-6) and np.all(ratio <= 2.2 + 1e-6) and np.ptp(ratio) > 0.1
    shift = np.abs(a["crop_centre"] - fixed["crop_centre"]).max(-1) / a["crop_side"]
    assert np.all(shift <= 0.15 + 1e-6) and shift.max() > 0.01
    np.testing.assert_array_equal(a["crop_side"], b["crop_side"])          # seeded
    np.testing.assert_array_equal(a["crop_angle"], 0.0)                    # nothing else augmented


@pytest.mark.parametrize("args, message", [
    (["--shift-jitter", "0.1"], "give --crop-range too"),
    (["--crop-range", "0.5", "1"], "--crop-range must be"),
])
def test_evaluate_regnet_refuses_a_bad_framing(args, message):
    r = subprocess.run([sys.executable, "-m", "handlib", "evaluate-regnet", "--test", "nowhere", *args],
                       capture_output=True, text=True, cwd=files.REPO_ROOT)
    assert r.returncode == 2 and message in r.stderr


def test_the_framing_is_recorded_and_printed_with_its_shift(tmp_path):
    """evaluate_run records the boxes it cut (the shift defaults to training's, 0.08) and
    the table says so in its first line."""
    from handlib import datasets, pipeline as pl, synthetic
    path = tmp_path / "set"
    synthetic.make_dataset(path, frames=4, look="synth", seed=5)
    assert len(datasets.open_dataset(path)) == 4
    r = pe.evaluate_run("data/weights/regnet.keras", [path], framing={"crop_range": [1.2, 2.2]})
    assert r["framing"] == {"crop_range": [1.2, 2.2], "shift_jitter": pl.PipelineConfig.shift_jitter}
    assert pe.format_results(r).splitlines()[0].startswith("test crops: box side 1.2-2.2x")
