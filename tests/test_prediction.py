"""The shipped RegNet: its regression figures, `predict` on a picture, the real checks."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from handlib import files, pose_network as pn, pose_evaluation as pe, prediction, real_checks, weights

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}


@pytest.fixture(scope="module")
def shipped():
    return weights.load_model("regnet")


def test_shipped_regnet_reproduces_its_recorded_figures(shipped):
    """The regression test of data/weights/regnet.keras: its errors on the fixed rendered
    regression set, recomputed, equal those in its training record."""
    record = files.read_json(weights.record_path("regnet"), "the RegNet training record")
    got = pe.regression_figures(shipped)
    want = record["figures"]
    assert got["epe_2d_px_256"] == pytest.approx(want["epe_2d_px_256"], abs=0.3)
    assert got["epe_3d_mm"] == pytest.approx(want["epe_3d_mm"], abs=0.3)
    assert got["auc_3d_20_50mm"] == pytest.approx(want["auc_3d_20_50mm"], abs=0.01)
    assert got["epe_3d_mm"] < want["mean_pose_epe_3d_mm"]       # it learnt more than the mean pose
    assert pn.model_info(shipped)["side"] == "left"
    assert weights.weights_path("regnet").stat().st_size <= 30e6


def test_predict_command_on_a_rendered_picture(tmp_path):
    from handlib.synthetic import render_index
    from handlib import images
    frame = render_index(77, 0, look="real-like")
    path = tmp_path / "hand.png"
    images.write_image(path, frame.rgb)
    res = subprocess.run([sys.executable, "-m", "handlib", "predict", str(path), "--side",
                          "right" if frame.scene.side == "right" else "left", "--out", str(tmp_path / "out")],
                         env=ENV, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    joints = json.loads((tmp_path / "out" / "hand.joints.json").read_text())
    uv, xyz = np.array(joints["uv_px"]), np.array(joints["xyz_mm"])
    assert uv.shape == (21, 2) and xyz.shape == (21, 3) and len(joints["confidence"]) == 21
    assert np.allclose(xyz[9], 0, atol=1e-6)                        # root-relative
    assert (tmp_path / "out" / "hand.skeleton.png").stat().st_size > 1000
    bad = subprocess.run([sys.executable, "-m", "handlib", "predict", str(tmp_path / "nope.jpg"), "--side", "left"],
                         env=ENV, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "nope.jpg" in bad.stderr and "Traceback" not in bad.stderr


def test_predict_with_the_fit_gives_a_hand_of_the_models_proportions(tmp_path):
    """`predict --fit` on a rendered picture: the fitted 3D is root-relative with
    |W - M0| = --hand-size, its bones are the course's hand model's times one scale (the
    ratio of each bone to the model's rest bone is the same), and the fitted 2D and 3D
    are about as far from the render's ground truth as RegNet's own answer."""
    from handlib import hand_model as hm
    from handlib import images
    from handlib.synthetic import render_index
    frame = render_index(77, 0, look="real-like")
    images.write_image(tmp_path / "hand.png", frame.rgb)
    r, = prediction.predict_files([tmp_path / "hand.png"], frame.scene.side, hand_size_mm=80.0, fit=True)
    uv, xyz = np.array(r["uv_fitted_px"]), np.array(r["xyz_fitted_mm"])
    assert np.allclose(xyz[9], 0, atol=0.01) and np.linalg.norm(xyz[0]) == pytest.approx(80.0, abs=0.02)
    rest = hm.rest_pose()
    ratios = [np.linalg.norm(xyz[c] - xyz[a]) / np.linalg.norm(rest[c] - rest[a]) for a, c in hm.BONES]
    assert np.ptp(ratios) < 0.01 * np.mean(ratios)
    # near RegNet's own answer's errors against the render's truth (this frame is a hard one)
    err = lambda a, b: np.linalg.norm(np.asarray(a) - b, axis=-1).mean()  # noqa: E731
    truth = (frame.xyz - frame.xyz[9]) * 80.0 / np.linalg.norm(frame.xyz[0] - frame.xyz[9])
    assert err(uv, frame.uv) < err(r["uv_px"], frame.uv) + 3
    assert err(xyz, truth) < err(r["xyz_mm"], truth) + 10


def test_predictions_map_back_through_the_crop_camera(shipped):
    """Mirror an image: the right-hand answer on the mirror is the left-hand answer on
    the original, mirrored (2D x -> W - 1 - x, 3D x -> -x); with a box off the image's
    centre, so that the crop camera is turned and the map back is not trivial."""
    from handlib.synthetic import render_index
    img = render_index(78, 0, look="synth").rgb
    H, W = img.shape[:2]
    box = (0.42 * W, 0.55 * H, 0.85 * W)
    a = prediction.predict_hand(shipped, img, side="left", box=box)
    b = prediction.predict_hand(shipped, np.ascontiguousarray(img[:, ::-1]), side="right",
                                box=(W - 1 - box[0], box[1], box[2]))
    np.testing.assert_allclose(b.uv[:, 0], W - 1 - a.uv[:, 0], atol=0.5)
    np.testing.assert_allclose(b.uv[:, 1], a.uv[:, 1], atol=0.5)
    np.testing.assert_allclose(b.xyz_mm * [-1, 1, 1], a.xyz_mm, atol=0.5)
    with pytest.raises(ValueError, match="side"):
        prediction.predict_hand(shipped, img, side="both")


def test_real_checks_skip_cleanly_without_real_data(shipped, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(files.REALDATA_ENV, str(tmp_path))
    assert real_checks.video_agreement(shipped) is None
    assert real_checks.letters_inside_box(shipped) is None
    assert "skipped" in capsys.readouterr().out


def test_a_file_that_is_not_a_video_is_named(tmp_path):
    bad = tmp_path / "clip.mp4"
    bad.write_text("not a video")
    with pytest.raises(files.DataFileError, match="clip.mp4"):
        real_checks.read_video(bad)


def test_real_checks_on_the_real_data(shipped):
    """On the real video and photos where present (a few frames): finite figures."""
    if files.realdata_dir("asl_hand", quiet=True) is None:
        if os.environ.get("CI") == "true":
            pytest.skip("the real data are never in CI (not committed)")
        pytest.skip("../shared/realdata/asl_hand not found")
    record = files.read_json(weights.record_path("regnet"), "the RegNet training record")
    v = real_checks.video_agreement(shipped, record["mean_pose"], every=40)
    assert v["frames"] >= 8 and np.isfinite(v["regnet"]["mean"]) and np.isfinite(v["mean_pose"]["mean"])
    b = real_checks.letters_inside_box(shipped, record["mean_pose"], limit=6)
    assert b["photos"] == 6 and 0 <= b["regnet"] <= 1


def test_predict_with_the_lifter_gives_a_root_relative_hand_of_the_given_size(tmp_path):
    """`predict --lift` on a rendered picture: ``xyz_lifted_mm`` is root-relative with
    |W - M0| = --hand-size, and closer to the render's true hand (root and size from the
    truth) than the fixed open hand is."""
    from handlib import images
    from handlib import real_evaluation as rev
    from handlib.synthetic import render_index
    frame = render_index(77, 1, look="real-like")
    path = tmp_path / "hand.png"
    images.write_image(path, frame.rgb)
    side = "right" if frame.scene.side == "right" else "left"
    res = subprocess.run([sys.executable, "-m", "handlib", "predict", str(path), "--side", side, "--lift",
                          "--hand-size", "80", "--out", str(tmp_path / "out")],
                         env=ENV, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    joints = json.loads((tmp_path / "out" / "hand.joints.json").read_text())
    lifted = np.array(joints["xyz_lifted_mm"])
    assert np.allclose(lifted[9], 0, atol=1e-2) and abs(np.linalg.norm(lifted[0]) - 80.0) < 0.05
    truth = frame.xyz - frame.xyz[9]
    truth = truth / np.linalg.norm(truth[0]) * 80.0
    fixed = rev.open_hand(side) / rev.HAND_SIZE_MM * 80.0
    assert np.linalg.norm(lifted - truth, axis=1).mean() < np.linalg.norm(fixed - truth, axis=1).mean()
    bad = subprocess.run([sys.executable, "-m", "handlib", "predict", str(path), "--side", side, "--lift",
                          "--lifter", str(files.REPO_ROOT / "data/weights/regnet.keras")],
                         env=ENV, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "a lifter" in bad.stderr and "Traceback" not in bad.stderr
