"""The tracker and the `track` command: a rendered sequence with ground truth, bad input
(no file, not a video, no frames, a corrupt frame in the middle), a video without a hand."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from handlib import files, sequences as sq, tracker as tr
from handlib.crop_camera import Crop

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    sq.make_demo_video(root / "demo", frames=10, seed=7, progress=False)
    return root / "demo.mp4", np.load(root / "demo.npz")


def _mjpg(path, frames):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, frames.shape[2:0:-1])
    for f in frames:
        w.write(np.ascontiguousarray(f[..., ::-1]))
    w.release()
    return path


def test_a_corrupt_frame_is_skipped_and_reading_goes_on(tmp_path):
    frames = np.stack([np.full((48, 64, 3), 20 * i, np.uint8) for i in range(8)])
    data = bytearray(_mjpg(tmp_path / "v.avi", frames).read_bytes())
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]   # JPEG starts
    assert len(starts) == 8
    end = starts[4] - 8                                                 # before frame 4's chunk header
    data[starts[3]:end] = bytes(end - starts[3])                        # frame 3's bytes zeroed
    (tmp_path / "bad.avi").write_bytes(bytes(data))
    v = tr.VideoFrames(tmp_path / "bad.avi")
    got = [(i, None if f is None else int(round(f.mean() / 20))) for i, f in v]
    assert got == [(0, 0), (1, 1), (2, 2), (3, None), (4, 4), (5, 5), (6, 6), (7, 7)]
    assert v.skipped == [3]


def test_bad_videos_are_named_and_nothing_is_left_half_written(tmp_path):
    (tmp_path / "notes.mp4").write_text("not a video")
    w = cv2.VideoWriter(str(tmp_path / "empty.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    w.release()
    for name in ("missing.mp4", "notes.mp4", "empty.avi"):
        out = tmp_path / f"out_{name}"
        res = subprocess.run([sys.executable, "-m", "handlib", "track", str(tmp_path / name), "--out", str(out),
                              "--no-video"], env=ENV, capture_output=True, text=True, timeout=300)
        assert res.returncode == 2, (name, res.stderr[-1500:])
        assert name in res.stderr and "Traceback" not in res.stderr
        assert not out.exists() or not any(out.iterdir())


def test_tracking_a_rendered_sequence(demo, tmp_path):
    """All frames tracked from one initialisation; joint errors against the ground truth
    of the render (10 frames of 320x240, hand about 100 px tall)."""
    video, gt = demo
    K = gt["K"]
    s = tr.track_video(video, tmp_path / "out", side="right", intrinsics=(K[0, 0], K[1, 1], K[0, 2], K[1, 2]),
                       progress=False)
    assert s["frames"] == 10 and s["tracked"] == 10 and s["initialisations"] == 1
    r = np.load(tmp_path / "out" / "joints.npz")
    err_2d = np.linalg.norm(r["uv_px"] - gt["uv"], axis=-1)
    rel = lambda a: a - a[:, 9:10]  # noqa: E731
    err_3d = np.linalg.norm(rel(r["xyz_mm"]) - rel(gt["xyz"]), axis=-1)
    assert np.mean(err_2d) < 15 and np.mean(err_3d) < 35
    rows = (tmp_path / "out" / "joints.csv").read_text().splitlines()
    assert len(rows) == 11 and rows[0].split(",")[:3] == ["frame", "time_s", "state"]
    cap = cv2.VideoCapture(str(tmp_path / "out" / "annotated.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 10
    cap.release()
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["side"] == "right" and summary["processing_fps"] > summary["wall_fps"] > 0
    # a rerun without the video leaves no stale video behind
    tr.track_video(video, tmp_path / "out", side="right", frames=3, write_video=False, progress=False)
    assert not (tmp_path / "out" / "annotated.mp4").exists()
    assert len((tmp_path / "out" / "joints.csv").read_text().splitlines()) == 4


def test_frames_without_a_hand_are_lost_not_a_crash(tmp_path):
    rng = np.random.default_rng(0)
    frames = rng.integers(90, 110, size=(3, 120, 160, 3)).astype(np.uint8)      # grey noise
    _mjpg(tmp_path / "empty_scene.avi", frames)
    s = tr.track_video(tmp_path / "empty_scene.avi", tmp_path / "out", side="left", write_video=False,
                       progress=False)
    assert s["frames"] == 3 and s["lost"] == 3
    r = np.load(tmp_path / "out" / "joints.npz")
    assert np.all(np.isnan(r["xyz_mm"]))


def test_a_camera_that_cannot_be_opened_is_named(tmp_path):
    res = subprocess.run([sys.executable, "-m", "handlib", "track", "--camera", "97", "--out", str(tmp_path / "o")],
                         env=ENV, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "camera 97" in res.stderr and "Traceback" not in res.stderr
    both = subprocess.run([sys.executable, "-m", "handlib", "track", "x.mp4", "--camera", "0", "--out", str(tmp_path)],
                          env=ENV, capture_output=True, text=True, timeout=120)
    assert both.returncode == 2 and "one of them" in both.stderr


def test_the_search_finds_the_hand_on_the_real_videos_first_frame():
    """The real video (portrait 620x1080, the hand about a third of the width): the
    search's answer agrees with the reference tracks (a peer's, not ground truth) within
    half a hand size and better than one centred crop of the whole frame. (With the model
    shipped before the 7,200-step one the centred crop failed outright; the current model,
    trained on looser crops, gets near the hand from it too.)"""
    from handlib import prediction, real_checks, weights
    base = files.realdata_dir(quiet=True)
    if base is None or not (base / real_checks.VIDEO).is_file():
        pytest.skip("the real video is not here (../shared/realdata/asl_hand/)")
    frame = real_checks.read_video(base / real_checks.VIDEO, limit=1)[0]
    ref = real_checks.read_tracks(base / real_checks.TRACKS)[0]
    hand = np.linalg.norm(ref[0] - ref[9])
    model = weights.load_model("regnet")
    K = prediction.default_intrinsics(frame.shape[1], frame.shape[0])
    crop, side, obs, score = tr.Tracker(model, K, side="right").search(frame)
    found = np.linalg.norm(obs.uv - ref, axis=-1).mean() / hand
    centred = prediction.predict_hand(model, frame, side="right", K=K)
    centred_d = np.linalg.norm(centred.uv - ref, axis=-1).mean() / hand
    assert found < 0.5 and found < centred_d


@pytest.fixture(scope="module")
def small_regnet():
    """An untrained RegNet of 64 px input (its answers do not matter here)."""
    from handlib import pose_network as pn
    return pn.build_regnet(64, "compact", imagenet=False)


def _blank_forward(model, images, crop_K):
    """RegNet's outputs in shape only (the tests below check the crops, not the answers)."""
    n = len(images)
    return {"heatmaps": np.zeros((n, 16, 16, 21), np.float32), "xyz": np.zeros((n, 21, 3), np.float32)}


def test_the_trackers_observations_measure_2d_in_the_networks_crop_pixels(small_regnet, monkeypatch):
    """The pixel scale handed to the fit is the image pixels one crop pixel spans, here
    measured at the crop's centre by mapping crop pixels back into the image, for a small
    and a large crop of a 320x240 frame."""
    monkeypatch.setattr(tr.pn, "forward", _blank_forward)
    K = sq.VIDEO_INTRINSICS.K
    image = np.random.default_rng(0).integers(0, 255, (240, 320, 3)).astype(np.uint8)
    trk = tr.Tracker(small_regnet, K, side="right")
    crops = [Crop(centre=tuple(K[:2, 2]), side=side, size=trk.size, source_K=K, flip=True)
             for side in (48.0, 200.0)]
    obs, _ = trk.run_crops(image, crops)
    for o, c in zip(obs, crops):
        o_c = (c.size - 1) / 2
        a, b = c.from_crop(np.array([[o_c - 0.5, o_c], [o_c + 0.5, o_c]]))
        assert o.pixel_scale == pytest.approx(np.linalg.norm(b - a), rel=1e-3)


@pytest.mark.parametrize("side", ["right", "left"])
def test_the_search_shows_the_network_every_hand_on_its_own_side(small_regnet, monkeypatch, side):
    """RegNet sees left hands (its side): the search's crops for a right hand are mirror
    images of the same boxes cut plainly, those for a left hand are the plain cuts."""
    from dataclasses import replace
    monkeypatch.setattr(tr.pn, "forward", _blank_forward)
    K = sq.VIDEO_INTRINSICS.K
    yy, xx = np.mgrid[0:120, 0:160]
    image = np.stack([xx * 1.5, yy * 2.0, (xx * yy) % 255], -1).astype(np.uint8)   # no symmetry
    trk = tr.Tracker(small_regnet, K, side=side)
    seen = []
    run = trk.run_crops
    trk.run_crops = lambda img, crops: (seen.extend(crops), run(img, crops))[1]
    trk.search(image)
    assert len(seen) > 10
    for c in seen:
        plain = replace(c, flip=False).crop_image(image).astype(float)
        want = plain[:, ::-1] if side == "right" else plain
        assert np.abs(c.crop_image(image) - want).max() <= 1.0, c


def test_the_compiled_and_the_readable_fit_track_alike(demo):
    """The tracker's default engine (compiled) against the readable NumPy fit, frame by
    frame from the same initialisation: the same joints to well under a micrometre."""
    from handlib import weights as wts
    video, gt = demo
    model = wts.load_model("regnet")
    frames = [img for _, img in tr.VideoFrames(video)][:6]
    runs = {}
    for engine in ("numpy", "compiled"):
        t = tr.Tracker(model, gt["K"], side="right", engine=engine)
        runs[engine] = [t.step(img, i) for i, img in enumerate(frames)]
    for a, b in zip(runs["numpy"], runs["compiled"]):
        assert a.state == b.state
        np.testing.assert_allclose(b.xyz_mm, a.xyz_mm, atol=1e-4)


def test_side_auto_turns_a_track_started_on_the_wrong_side(demo):
    """Side "auto" on the rendered demo (a right hand): the search is made to prefer the
    left side (the right side's scores lowered there only); on the tracked frames the
    mirrored crop is checked in the same batch, and once the mirror has won
    SIDE_VOTE_CHECKS checks' worth, the tracker restarts on the right side (state
    "init") and keeps it, with the joints back near the ground truth."""
    from handlib import weights as wts
    video, gt = demo
    model = wts.load_model("regnet")
    frames = [img for _, img in tr.VideoFrames(video)]
    t = tr.Tracker(model, gt["K"], side="auto")
    calls = []
    run = t.run_crops

    def rigged(image, crops):
        obs, score = run(image, crops)
        calls.append([c.flip for c in crops])
        if t.pose is None:                           # the first frame: hide the right side
            score = score - 1.0 * np.array([c.flip for c in crops])
        return obs, score
    t.run_crops = rigged
    res = [t.step(img, i) for i, img in enumerate(frames)]
    assert res[0].side == "left" and res[0].state == "init"
    turn = next(i for i, r in enumerate(res) if r.side == "right")
    assert res[turn].state == "init"
    assert turn <= 1 + tr.SIDE_VOTE_CHECKS * tr.SIDE_CHECK_EVERY
    assert all(r.side == "right" for r in res[turn:])
    # the checked frames ran the tracked crop and its mirror in one batch
    assert any(sorted(c) == [False, True] for c in calls)
    err = np.linalg.norm(res[-1].uv - gt["uv"][len(res) - 1], axis=-1).mean()
    assert err < 15


def test_without_side_checks_a_track_keeps_its_first_frames_side(demo):
    """side_checks=False (the yardstick's baseline): the same rigged search as above, and
    the track stays on the wrong side, one crop per tracked frame."""
    from handlib import weights as wts
    video, gt = demo
    t = tr.Tracker(wts.load_model("regnet"), gt["K"], side="auto", side_checks=False)
    calls = []
    run = t.run_crops

    def rigged(image, crops):
        obs, score = run(image, crops)
        calls.append(len(crops))
        return obs, (score - np.array([c.flip for c in crops]) if t.pose is None else score)
    t.run_crops = rigged
    res = [t.step(img, i) for i, img in list(tr.VideoFrames(video))[:6]]
    assert [r.side for r in res] == ["left"] * 6
    assert calls[-5:] == [1] * 5                        # the five tracked frames: one crop each


def test_the_yardsticks_side_auto_share_counts_frames_on_the_true_side(demo):
    """evaluate-real's side-auto figure on the rendered demo (a right hand): counted
    against the right side and against the left, the two shares add up to the frames
    with a hand, and the right side wins."""
    from handlib import real_evaluation as rev
    from handlib import weights as wts
    video, gt = demo
    model = wts.load_model("regnet")
    right = rev.side_auto_share(model, video, "right", 10)
    left = rev.side_auto_share(model, video, "left", 10)
    assert right["frames"] == 10 and right["initialisations"] >= 1
    assert right["right_side_frames"] + left["right_side_frames"] <= 10
    assert right["right_side_share"] >= 0.8 > left["right_side_share"]


def test_a_known_side_never_runs_the_mirror(demo):
    """With the side given, every crop after the first frame is one crop on that side."""
    from handlib import weights as wts
    video, gt = demo
    t = tr.Tracker(wts.load_model("regnet"), gt["K"], side="right")
    calls = []
    run = t.run_crops
    t.run_crops = lambda image, crops: (calls.append([c.flip for c in crops]), run(image, crops))[1]
    res = [t.step(img, i) for i, img in list(tr.VideoFrames(video))[:5]]
    assert [r.side for r in res] == ["right"] * 5
    assert all(all(c) for c in calls)                  # right hands are mirrored for RegNet
    tracked = [c for c in calls if len(c) < 3][1:]     # after the search and its refinement
    assert tracked and all(len(c) == 1 for c in tracked)


def test_an_error_while_drawing_the_video_stops_the_command_and_writes_nothing(demo, tmp_path, monkeypatch):
    """The annotated video is drawn and written in a second thread: an error there reaches
    the command, and no half-written video or joint file is left."""
    video, gt = demo
    K = gt["K"]
    real_draw = tr.draw_frame

    def draw(image, res, K, **kw):
        if res.index == 3:
            raise RuntimeError("drawing failed on purpose")
        return real_draw(image, res, K, **kw)
    monkeypatch.setattr(tr, "draw_frame", draw)
    with pytest.raises(RuntimeError, match="on purpose"):
        tr.track_video(video, tmp_path / "out", side="right", intrinsics=(K[0, 0], K[1, 1], K[0, 2], K[1, 2]),
                       progress=False)
    assert not (tmp_path / "out" / "annotated.mp4").exists()
    assert not (tmp_path / "out" / "joints.csv").exists()
    assert not list((tmp_path / "out").glob("*.tmp*"))
