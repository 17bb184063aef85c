"""The 2D-to-3D lifter: its canonical frame against independent computations, its training
pairs' consistency, the run folder, and the diagnostic end to end on rendered stand-ins."""
import json
from pathlib import Path

import numpy as np
import pytest

from handlib import camera as cam
from handlib import files, lifting
from handlib import weights
from handlib import hand_model as hm
from handlib import real_evaluation as rev
from handlib.crop_camera import orthographic_misalignment
from handlib.samples import HandSample

FIX = Path(__file__).parent / "fixtures" / "ganerated"
K = cam.default_intrinsics(640, 480)


def _hand(yaw=25.0, pitch=-15.0, at=(60.0, -40.0, 450.0)):
    """A left hand (21, 3) mm in the camera frame, turned and placed off the axis."""
    x = hm.forward_kinematics(hm.NAMED_POSES["open"], side="left")
    x = x - x[9]
    R = hm.axis_rotation("y", yaw) @ hm.axis_rotation("x", pitch)
    return x @ R.T + np.asarray(at)


def _normalised(x):
    x = x - x[9]
    return x / np.linalg.norm(x[0])


def test_the_canonical_target_turned_back_is_the_normalised_hand():
    """canonical_3d then Crop.from_crop_frame gives the hand with M0 at the origin and
    |W - M0| = 1 in the camera frame, computed here directly."""
    x = _hand()
    crop = lifting.canonical_crop(cam.project(K, x), K, "left")
    y = lifting.canonical_3d(x, crop).reshape(21, 3)
    assert np.allclose(crop.from_crop_frame(y), _normalised(x), atol=1e-9)
    assert np.isclose(np.linalg.norm(y[0] - y[9]), 1.0) and np.allclose(y[9], 0.0)


def test_the_canonical_input_spans_the_box():
    """The box is twice the joints' larger extent around their centre, so in [-1, 1]
    coordinates the joints span 1.0 along their larger extent (up to the perspective
    of the turned crop camera, below 1 % at this distance)."""
    uv = cam.project(K, _hand())
    u = lifting.canonical_2d(uv, lifting.canonical_crop(uv, K, "left")).reshape(21, 2)
    span = u.max(0) - u.min(0)
    assert abs(max(span) - 1.0) < 0.02 and np.all(np.abs(u) < 0.6)


def test_a_mirrored_right_hand_gives_the_left_hands_input_and_target():
    """A right hand is the left hand mirrored through the camera's y-z plane; the image
    mirrors about the principal point. With the crop flipped for the right hand, the
    lifter sees exactly what it sees for the left hand, and its target is the same."""
    x = _hand(at=(0.0, 10.0, 500.0))
    F = np.diag([-1.0, 1.0, 1.0])
    xr = x @ F
    assert hm.handedness(xr) * hm.handedness(x) < 0
    cl = lifting.canonical_crop(cam.project(K, x), K, "left")
    cr = lifting.canonical_crop(cam.project(K, xr), K, "right")
    assert np.allclose(lifting.canonical_2d(cam.project(K, xr), cr),
                       lifting.canonical_2d(cam.project(K, x), cl), atol=1e-6)
    assert np.allclose(lifting.canonical_3d(xr, cr), lifting.canonical_3d(x, cl), atol=1e-9)
    assert np.allclose(cr.from_crop_frame(lifting.canonical_3d(xr, cr).reshape(21, 3)), _normalised(xr), atol=1e-9)


def test_lift_turns_the_networks_answer_back_per_hand():
    """lift() with a stand-in network that answers the true canonical targets returns
    each hand's normalised camera-frame joints, left and right, with one K or N."""
    hands = [_hand(), _hand(yaw=-60, pitch=30, at=(-80, 50, 600)) @ np.diag([-1.0, 1.0, 1.0])]
    sides = ["left", "right"]
    uv = np.stack([cam.project(K, x) for x in hands])
    targets = np.stack([lifting.canonical_3d(x, lifting.canonical_crop(u, K, s))
                        for x, u, s in zip(hands, uv, sides)])

    class Oracle:
        def predict(self, x, batch_size=None, verbose=0):
            assert x.shape == (2, 42) and x.dtype == np.float32
            return targets

    for k in (K, np.stack([K, K])):
        got = lifting.lift(Oracle(), uv, k, sides)
        assert np.allclose(got, np.stack([_normalised(x) for x in hands]), atol=1e-6)
    with pytest.raises(ValueError, match="sides"):
        lifting.lift(Oracle(), uv, K, ["left"])


def test_training_pairs_are_pictures_of_their_targets():
    """Without noise every pair's target, seen orthographically, matches its input 2D up
    to the perspective within the crop (the check the data pipeline's targets pass);
    heavy 2D noise breaks that."""
    s = HandSample(image_path="x.png", sequence="0", xyz=_hand(at=(60.0, -40.0, 700.0)), side="left",
                   intrinsics=cam.Intrinsics(K[0, 0], K[1, 1], K[0, 2], K[1, 2], 640, 480))
    x, y = lifting.training_pairs([s], copies=20, noise=0.0, max_angle=60.0, seed=1)
    assert x.shape == (20, 42) and y.shape == (20, 63) and x.dtype == np.float32
    mis = [orthographic_misalignment(t.reshape(21, 3), u.reshape(21, 2)) for u, t in zip(x, y)]
    assert max(mis) < 0.07
    assert np.ptp(x[:, 0]) > 0.1                  # the copies are turned, not repeated
    xn, yn = lifting.training_pairs([s], copies=20, noise=0.2, max_angle=0.0, seed=1)
    assert np.median([orthographic_misalignment(t.reshape(21, 3), u.reshape(21, 2))
                      for u, t in zip(xn, yn)]) > 0.2
    with pytest.raises(ValueError, match="3D labels"):
        lifting.training_pairs([HandSample(image_path="p.jpg", sequence="0")])


def test_a_mirrored_2d_hand_is_turned_over_and_a_moved_one_is_not():
    """turned_over against an independent construction: the hand mirrored in the image
    (u -> -u) turns its knuckles the other way round the wrist, and so does the hand with
    its index and little knuckles' labels swapped; the same hand moved, scaled and turned
    in the image plane (a similarity, no mirror) does not."""
    uv = np.stack([cam.project(K, _hand()), cam.project(K, _hand(yaw=150, pitch=20))])
    a = np.deg2rad(70)
    R = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    moved = 1.7 * uv @ R.T + [30.0, -5.0]
    mirrored = uv * [-1.0, 1.0]
    swapped = uv.copy()
    swapped[:, [5, 17]] = uv[:, [17, 5]]
    assert not lifting.turned_over(moved, uv).any()
    assert lifting.turned_over(mirrored, uv).all() and lifting.turned_over(swapped, uv).all()


def test_the_peers_noise_has_the_asked_size_and_no_order():
    """_noisy: level 0 is the peer's 2D; a level of s px of the 256 box moves each
    coordinate by a standard deviation of s * side / 256 image pixels; a photo's noise
    does not depend on the others."""
    class P:
        def __init__(self, i):
            self.set, self.file = "asl_letters", f"f{i}.jpg"
            self.uv = cam.project(K, _hand(at=(10 * i, 0, 400 + 20 * i)))
    photos = [(P(i), None) for i in range(40)]
    levels = [0.0, 12.0]
    n = lifting._noisy(photos, levels, seed=3)
    assert np.array_equal(n[0], np.stack([p.uv for p, _ in photos]))
    unit = np.array([rev.reference_box(p.uv)[1] / rev.CROP_PX for p, _ in photos])
    z = (n[1] - n[0]) / unit[:, None, None]
    assert abs(z.std() / 12.0 - 1.0) < 0.05
    assert np.array_equal(lifting._noisy(photos[::-1], levels, seed=3)[:, ::-1], n)


def test_the_shipped_lifter_reproduces_its_recorded_figures():
    """The regression test of data/weights/lifter.keras: its 3D error on the exact 2D of
    the fixed regression renders, recomputed, equals its record's, and is far below the
    fixed open hand's on the same frames; trained on rendered labels only."""
    record = files.read_json(weights.record_path("lifter"), "the lifter's training record")
    got = lifting.regression_figures(lifting.Lifter("lifter").model)
    want = record["figures"]
    assert got["epe_mean_mm"] == pytest.approx(want["epe_mean_mm"], abs=0.3)
    assert got["auc_20_50_mm"] == pytest.approx(want["auc_20_50_mm"], abs=0.01)
    assert got["fixed_open_hand_epe_mean_mm"] == pytest.approx(want["fixed_open_hand_epe_mean_mm"], abs=1e-6)
    assert got["epe_mean_mm"] < got["fixed_open_hand_epe_mean_mm"] / 3
    assert record["data"]["what"].startswith("rendered labels only") and record["noise"] == lifting.NOISE
    assert weights.weights_path("lifter").stat().st_size <= 30e6


def test_train_lifter_writes_a_record_and_refuses_other_settings(tmp_path):
    out = tmp_path / "run"
    r = lifting.train_run([FIX], out, test=FIX, epochs=1, copies=2, progress=False, command="test")
    assert (out / "lifter.keras").is_file() and r["data"]["pairs"] == 2 * r["data"]["frames"] > 0
    saved = json.loads((out / "lifter.json").read_text())
    assert saved["data"]["what"].startswith("rendered labels only") and saved["test"][str(FIX)]["frames"] > 0
    with pytest.raises(ValueError, match="other settings"):
        lifting.train_run([FIX], out, epochs=1, copies=2, noise=0.2, progress=False)
    with pytest.raises(ValueError, match="expected a labelled data set"):
        lifting.train_run([tmp_path / "nowhere"], tmp_path / "run2", epochs=1, progress=False)
    with pytest.raises(ValueError, match="expected a labelled data set"):          # before training
        lifting.train_run([FIX], tmp_path / "run3", test=tmp_path / "nowhere", epochs=1, progress=False)
    assert not (tmp_path / "run3" / "backup").exists()
    again = lifting.train_run([FIX], out, test=FIX, epochs=1, copies=2, progress=False, command="test")
    assert again["final_loss"] == r["final_loss"]           # a finished run, run again, keeps its record


def test_the_diagnostic_end_to_end_on_rendered_stand_ins(tmp_path, rendered_peer):
    """Rendered hands stand in for photos and their labels for the peer (as in the
    yardstick's own end-to-end test): every row lands in the JSON, the peer's exact 2D
    has a 2D AUC of 1, noise lowers it level by level, and the fixed open hand matches
    the yardstick's baseline."""
    cache, real = rendered_peer
    lifting.train_run([FIX], tmp_path / "run", epochs=1, copies=2, progress=False)
    out = tmp_path / "diag"
    r = lifting.diagnostic(tmp_path / "run" / "lifter.keras", "data/weights/regnet.keras", out,
                           cache_dir=cache, folder=real, levels=(0.0, 10.0, 40.0), boot=20)
    saved = json.loads(out.with_suffix(".json").read_text())
    assert Path(out.with_suffix(".png")).is_file() and set(saved["sets"]) == {"asl_letters", "all_photos"}
    rows = saved["sets"]["asl_letters"]["rows"]
    assert set(rows) == {"RegNet", "RegNet + fit", "RegNet's 2D, lifted", "the peer's 2D, lifted",
                         "the peer's 2D + 10 px noise, lifted", "the peer's 2D + 40 px noise, lifted",
                         "fixed open hand"}
    noisy = ("the peer's 2D, lifted", "the peer's 2D + 10 px noise, lifted", "the peer's 2D + 40 px noise, lifted")
    auc = [rows[k]["2d"]["auc"] for k in noisy]
    err = [rows[k]["2d"]["epe_mean_px"] for k in noisy]
    assert auc[0] == 1.0 and auc[0] > auc[1] > auc[2]
    # the noise has the asked size: mean displacement of a 2D Gaussian = s * sqrt(pi / 2)
    assert err[0] == 0.0 and 0.8 < err[1] / (10 * np.sqrt(np.pi / 2)) < 1.2
    assert rows[noisy[0]]["turned_over_share"] == 0.0
    assert lifting.row_order(rows) == ["RegNet", "RegNet + fit", "RegNet's 2D, lifted", *noisy, "fixed open hand"]
    ev = rev.evaluate_real(["data/weights/regnet.keras"], ["shipped"], tmp_path / "ev", cache_dir=cache,
                           folder=real, boot=20, video=False,
                           lift=lifting.Lifter(tmp_path / "run" / "lifter.keras"))
    # the yardstick's "+ lift" row: the model's own 2D, and the diagnostic's lifted 3D
    lifted_row = ev["sets"]["asl_letters"]["models"]["shipped + lift"]
    assert lifted_row["2d"] == ev["sets"]["asl_letters"]["models"]["shipped"]["2d"]
    assert lifted_row["3d_root_scale"]["auc"] == pytest.approx(rows["RegNet's 2D, lifted"]["3d_root_scale"]["auc"])
    assert "lifter.keras" in ev["models"]["shipped + lift"]["lifted"]
    again = rev.evaluate_real(["data/weights/regnet.keras"], ["shipped"], tmp_path / "ev", cache_dir=cache,
                              folder=real, boot=20, video=False)       # measured again without --lift:
    assert "shipped + lift" not in again["sets"]["asl_letters"]["models"]  # its old lifted row goes
    assert rows["fixed open hand"]["3d_root_scale"]["auc"] == pytest.approx(
        ev["sets"]["asl_letters"]["baselines"]["fixed_open_hand"]["3d_root_scale"]["auc"])
    assert rows["RegNet"]["3d_aligned"]["auc"] == pytest.approx(
        ev["sets"]["asl_letters"]["models"]["shipped"]["3d_aligned"]["auc"])
    table = lifting.format_table(r)
    assert "| asl letters (6) | the peer's 2D, lifted | 1.000" in table
    over = saved["sets"]["asl_letters"]["regnet_2d_turned_over"]
    assert 0.0 <= over["share"] <= 1.0 and sum(v["photos"] for k, v in over.items() if k != "share") == 6
    assert table.index("RegNet + fit") < table.index("+ 10 px") < table.index("+ 40 px") < table.index("fixed open")
    # a RegNet is not a lifter; no cache, or a negative noise level, is refused before work
    with pytest.raises(files.DataFileError, match="a lifter"):
        lifting.diagnostic("data/weights/regnet.keras", "data/weights/regnet.keras", tmp_path / "x",
                           cache_dir=cache, folder=real, boot=5)
    with pytest.raises(files.DataFileError, match="peer reference cache"):
        lifting.diagnostic(tmp_path / "run" / "lifter.keras", cache_dir=tmp_path / "nothing", out=tmp_path / "x")
    with pytest.raises(ValueError, match="noise levels"):
        lifting.diagnostic(tmp_path / "run" / "lifter.keras", cache_dir=cache, levels=(-1.0,), out=tmp_path / "x")
    assert not (tmp_path / "x.json").exists()


def test_the_commands_report_a_users_mistake_in_one_line(tmp_path):
    """train-lifter, lift-diagnostic and evaluate-real --lift from the command line: a
    missing folder or peer cache, or a RegNet given as the lifter, is one 'error:' line
    and exit status 2, never a traceback."""
    import subprocess
    import sys
    for args in (["train-lifter", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "run")],
                 ["lift-diagnostic", "--lifter", "data/weights/lifter.keras", "--cache", str(tmp_path / "none"),
                  "--out", str(tmp_path / "d")],
                 ["evaluate-real", "--lift", "data/weights/regnet.keras", "--out", str(tmp_path / "e")]):
        r = subprocess.run([sys.executable, "-m", "handlib", *args], capture_output=True, text=True,
                           cwd=files.REPO_ROOT)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
        assert r.stderr.strip().splitlines()[-1].startswith("error:")
        if "--lift" in args:                            # a RegNet is refused as no lifter
            assert "a lifter" in r.stderr
