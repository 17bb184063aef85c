"""The real-hand yardstick: its metrics on cases computed by hand, the peer cache reader on
small fixtures, the frozen subsets, and the command end to end on rendered stand-ins."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from handlib import files, metrics, synthetic
from handlib import hand_model as hm
from handlib import peer_reference as pr
from handlib import real_evaluation as rev
from handlib.files import DataFileError

FIX = Path(__file__).parent / "fixtures" / "peer_reference"


def _rotation(axis, deg):
    return hm.axis_rotation(axis, deg)


# ------------------------------------------------------------------ metrics by hand
def test_one_joint_30_mm_off_gives_the_auc_computed_by_hand():
    """20 joints exact and one 30 mm off: PCK is 20/21 below 30 mm and 1 from 30 mm on;
    the trapezoids over 20-50 mm give (9 * 20/21 + (20/21 + 1) / 2 + 20) / 30."""
    ref = hm.rest_pose() - hm.rest_pose()[9]
    ref = ref / np.linalg.norm(ref[0]) * rev.HAND_SIZE_MM          # |W - M0| = 91.7 mm already
    pred = ref.copy()
    pred[8] += [0.0, 0.0, 30.0]                                    # index tip 30 mm away
    s = rev.score(pred[None], ref[None], boot=10)
    expected = (9 * 20 / 21 + (20 / 21 + 1) / 2 + 20) / 30
    assert s["3d_root_scale"]["auc"] == pytest.approx(expected, abs=1e-12)
    assert s["3d_root_scale"]["epe_mean_mm"] == pytest.approx(30 / 21)


def test_root_and_scale_forgive_place_and_size_but_not_rotation():
    ref = hm.rest_pose()
    moved = 2.5 * ref + [300.0, -40.0, 700.0]
    s = rev.score(moved[None], ref[None], boot=10)
    assert s["3d_root_scale"]["auc"] == pytest.approx(1.0)
    assert s["3d_root_scale"]["epe_mean_mm"] == pytest.approx(0.0, abs=1e-9)
    turned = (ref - ref[9]) @ _rotation("x", 40.0).T
    s = rev.score(turned[None], ref[None], boot=10)
    assert s["3d_root_scale"]["auc"] < 0.9                         # a 40 degree tilt costs
    assert s["3d_aligned"]["auc"] == pytest.approx(1.0)            # ... alignment forgives it
    assert s["tilt"]["median_rotation_deg"] == pytest.approx(40.0, abs=1e-6)


def test_similarity_alignment_undoes_a_similarity_and_never_mirrors():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(3, 21, 3)) * 40
    R = np.stack([_rotation("x", 30) @ _rotation("z", -70), _rotation("y", 170), np.eye(3)])
    pred = 0.6 * np.einsum("nij,nkj->nki", R, ref) + rng.normal(size=(3, 1, 3)) * 100
    aligned, Rs, s = metrics.similarity_align(pred, ref)
    np.testing.assert_allclose(aligned, ref, atol=1e-9)
    np.testing.assert_allclose(s, 1 / 0.6, rtol=1e-9)
    np.testing.assert_allclose(metrics.rotation_angle_deg(Rs), [metrics.rotation_angle_deg(R[i:i + 1])[0]
                                                                for i in range(3)], atol=1e-6)
    hand = hm.rest_pose()
    mirrored = hm.mirror(hand)
    aligned, Rm, _ = metrics.similarity_align(mirrored[None], hand[None])
    assert np.linalg.det(Rm[0]) == pytest.approx(1.0)
    assert np.linalg.norm(aligned - hand, axis=-1).mean() > 5.0     # a mirror cannot be undone


def test_the_rotation_angle_of_known_rotations():
    np.testing.assert_allclose(metrics.rotation_angle_deg(np.stack([np.eye(3), _rotation("x", 90),
                                                                    _rotation("y", 180)])), [0, 90, 180], atol=1e-6)


def test_per_sample_aucs_average_to_the_pooled_auc():
    d = np.random.default_rng(1).uniform(0, 60, (50, 21))
    pooled = metrics.auc(metrics.PCK_3D_THRESHOLDS, metrics.pck(d, metrics.PCK_3D_THRESHOLDS))
    assert metrics.auc_per_sample(d, metrics.PCK_3D_THRESHOLDS).mean() == pytest.approx(pooled, abs=1e-12)


def test_bootstrap_intervals():
    assert metrics.bootstrap_interval(np.full(30, 0.4)) == pytest.approx([0.4, 0.4])
    v = np.random.default_rng(2).normal(0.5, 0.1, 400)
    lo, hi = metrics.bootstrap_interval(v, n=2000, seed=3)
    se = v.std() / np.sqrt(v.size)                                 # the normal approximation
    assert lo < v.mean() < hi
    assert hi - lo == pytest.approx(2 * 1.96 * se, rel=0.15)
    assert metrics.bootstrap_interval(v, n=2000, seed=3) == [lo, hi]


def test_2d_distances_are_in_pixels_of_the_reference_box_at_256():
    uv = np.array([[100.0, 50.0], [200.0, 100.0]] + [[150.0, 75.0]] * 19)
    centre, side = rev.reference_box(uv)
    np.testing.assert_allclose(centre, [150.0, 75.0])
    assert side == pytest.approx(200.0)                            # 2.0 x the larger extent (100)
    np.testing.assert_allclose(rev.to_box_px(np.full((1, 21), 10.0), [512.0]), 5.0)


def test_the_input_crop_moves_by_at_most_20_percent_and_is_the_same_for_every_model():
    uv = np.random.default_rng(4).uniform(100, 300, (21, 2))
    centre, side = rev.reference_box(uv)
    boxes = np.array([rev.input_box(uv, rev.photo_rng(0, "asl_letters", f"valid/images/{i}.jpg"))
                      for i in range(300)])
    off = np.abs(boxes[:, :2] - centre) / side
    assert off.max() <= 0.2 and off.max() > 0.15                  # uses the range, never beyond it
    assert np.all(boxes[:, 2] == side)
    again = rev.input_box(uv, rev.photo_rng(0, "asl_letters", "valid/images/7.jpg"))
    assert again == tuple(boxes[7])


@pytest.mark.parametrize("side", ["left", "right"])
def test_the_fixed_open_hand_points_up_with_its_palm_to_the_camera(side):
    x = rev.open_hand(side)
    up = (x[9] - x[0]) / np.linalg.norm(x[9] - x[0])
    np.testing.assert_allclose(up, [0, -1, 0], atol=1e-9)          # fingers up (image y is down)
    assert x[1, 2] < x[0, 2] - 5                                  # the thumb's base nearer the camera
    assert hm.handedness(x) == (1 if side == "right" else -1)


# ------------------------------------------------------------------ the cache reader
@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("lean", [-25.0, 0.0, 35.0])
def test_hand_view_reads_back_a_known_lean_and_facing(side, lean):
    """The open hand (palm to the camera, fingers up) tipped about the camera's x axis by
    a known angle (fingers towards the camera for a positive one), then the same hand
    turned 180 degrees about the vertical (the back towards the camera)."""
    a = np.radians(lean)
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    x = rev.open_hand(side) @ rx.T
    assert rev.hand_view(x + [0, 0, 450], side) == (True, pytest.approx(lean, abs=1e-6))
    back = x @ np.diag([-1.0, 1.0, -1.0])                        # 180 degrees about y
    facing, lean_back = rev.hand_view(back + [0, 0, 450], side)
    assert not facing and lean_back == pytest.approx(-lean, abs=1e-6)


def test_the_cache_reader_reads_the_fixture():
    c = pr.read_cache(FIX / "asl_letters.json", folder=FIX / "photos")
    assert c["set"] == "asl_letters" and c["photos"] == 4 and c["detected"] == 3
    assert c["scored_photos"] == 3                                 # valid/ and test/ files
    by = {p.file: p for p in c["images"]}
    a = by["valid/images/A1_jpg.rf.x.jpg"]
    assert a.side == "right"                                       # MediaPipe's "Left": a mirrored label
    assert by["test/images/B2_jpg.rf.y.jpg"].side == "left"
    assert a.uv.shape == (21, 2) and a.world_mm.shape == (21, 3)
    assert a.scored and not by["train/images/A3_jpg.rf.z.jpg"].scored
    assert a.path == FIX / "photos" / "asl_letters/American-Sign-Language-Letters-1" / a.file
    cov = pr.coverage(c)
    assert cov["scored_detected"] == 2 and cov["share"] == pytest.approx(0.75)


@pytest.mark.parametrize("change, words", [
    (lambda d: d.update(format="other/9"), "format"),
    (lambda d: d.update(set="nowhere"), "'set'"),
    (lambda d: d["images"][0].update(uv_px=[[1, 2]] * 20), "images[0].uv_px"),
    (lambda d: d["images"][0].update(world_mm="abc"), "images[0].world_mm"),
    (lambda d: d["images"][0].update(handedness_label="Both"), "handedness_label"),
    (lambda d: d["images"][0].pop("width"), "width"),
])
def test_a_malformed_cache_is_refused_naming_the_file(tmp_path, change, words):
    d = json.loads((FIX / "asl_letters.json").read_text())
    change(d)
    bad = tmp_path / "asl_letters.json"
    bad.write_text(json.dumps(d))
    with pytest.raises(DataFileError) as e:
        pr.read_cache(bad)
    assert str(bad) in str(e.value) and words in str(e.value)


def test_a_missing_cache_says_how_to_make_it(tmp_path, capsys):
    assert pr.load_sets(tmp_path) is None
    assert "tools/mediapipe_reference.py" in capsys.readouterr().out
    with pytest.raises(DataFileError, match="mediapipe_reference"):
        pr.read_cache(tmp_path / "sign_language_digits.json")
    with pytest.raises(DataFileError, match="mediapipe_reference"):
        rev.evaluate_real("data/weights/regnet.keras", cache_dir=tmp_path, out=tmp_path / "r")


def test_the_frozen_subsets():
    assert pr.is_scored("sign_language_digits", "5/IMG_1150.JPG")          # block 0011
    assert pr.is_scored("sign_language_digits", "0/IMG_5199.JPG")          # block 0051
    assert not pr.is_scored("sign_language_digits", "5/IMG_1250.JPG")      # block 0012
    assert pr.is_scored("asl_letters", "test/images/C4_jpg.rf.q.jpg")
    assert not pr.is_scored("asl_letters", "train/images/C4_jpg.rf.q.jpg")
    assert pr.letters_source("train/images/C4_jpg.rf.q.jpg") == "C4"
    with pytest.raises(ValueError, match="unknown photo set"):
        pr.is_scored("elsewhere", "x.jpg")


def test_the_frozen_digit_blocks_are_the_ones_the_gan_and_silnet_hold_out():
    """The real domain's split (``domains.real_domain``: ``split_by_sequence`` with
    ``test_fraction=0.15`` over photo blocks) must hold out exactly the frozen blocks, and
    no ASL-letter training file may copy a scored photo."""
    base = files.realdata_dir(quiet=True)
    if base is None or not (base / pr.SETS["sign_language_digits"]).is_dir():
        pytest.skip("the real photos are absent (HANDLIB_REALDATA_DIR)")
    from handlib.real_photos import photo_block
    from handlib.samples import HandSample
    from handlib.splits import split_by_sequence
    photos = sorted((base / pr.SETS["sign_language_digits"]).glob("*/*.[jJ][pP][gG]"))
    samples = [HandSample(image_path=str(p), sequence=photo_block(p)) for p in photos]
    _, _, held = split_by_sequence(samples, val_fraction=0.0, test_fraction=0.15)
    assert sorted({s.sequence for s in held}) == sorted(pr.DIGITS_HELD_OUT_BLOCKS)
    assert json.loads((files.REPO_ROOT / "data/weights/silnet.json").read_text())["data"][
        "real_held_out_blocks"] == sorted(pr.DIGITS_HELD_OUT_BLOCKS)
    assert pr.letters_copy_overlap(base / pr.SETS["asl_letters"]) == 0


# ------------------------------------------------------------------ end to end
def test_evaluate_real_end_to_end_on_rendered_stand_ins(tmp_path, rendered_peer):
    """Rendered hands stand in for photos and their labels for the peer: the shipped
    model must beat both baselines there, and every figure must land in the JSON."""
    cache, real = rendered_peer
    out = tmp_path / "res"
    r = rev.evaluate_real(["data/weights/regnet.keras"], ["shipped"], out, cache_dir=cache,
                          folder=real, boot=50, video=False, fit=True)
    saved = json.loads(out.with_suffix(".json").read_text())
    assert saved["label"].startswith("agreement with a peer")
    e = saved["sets"]["asl_letters"]
    assert e["photos"] == 6 and set(saved["sets"]) == {"asl_letters", "all_photos"}
    shipped, base = e["models"]["shipped"], e["baselines"]
    assert shipped["2d"]["auc"] > base["mean_pose"]["2d"]["auc"] + 0.2
    assert shipped["3d_aligned"]["auc"] > base["mean_pose"]["3d_aligned"]["auc"]
    assert "2d" not in base["fixed_open_hand"]
    assert "shipped" in rev.format_table(r) and "| shipped + fit |" in rev.format_table(r)
    fitted = e["models"]["shipped + fit"]
    assert fitted["3d_aligned"]["auc"] > base["mean_pose"]["3d_aligned"]["auc"] and "2d" in fitted
    assert saved["models"]["shipped + fit"]["fitted"].startswith("handlib.fitting.calibration_fit")
    # a second model is added beside the first; the first's row is kept
    shutil.copy(files.REPO_ROOT / "data/weights/regnet.keras", tmp_path / "copy.keras")
    rev.evaluate_real([tmp_path / "copy.keras"], ["copy"], out, cache_dir=cache,
                      folder=real, boot=50, video=False)
    both = json.loads(out.with_suffix(".json").read_text())
    assert set(both["sets"]["asl_letters"]["models"]) == {"shipped", "shipped + fit", "copy"}
    assert both["sets"]["asl_letters"]["models"]["copy"]["2d"] == shipped["2d"]
    # measured again without the fit, a model loses its "+ fit" row (it may be other weights now)
    rev.evaluate_real(["data/weights/regnet.keras"], ["shipped"], out, cache_dir=cache,
                      folder=real, boot=50, video=False)
    again = json.loads(out.with_suffix(".json").read_text())
    assert set(again["sets"]["asl_letters"]["models"]) == {"shipped", "copy"}
    assert set(again["models"]) == {"shipped", "copy"}


@pytest.mark.parametrize("pose", ["peace", "point"])
def test_the_one_image_fit_of_exact_inputs_gives_back_the_hand(pose):
    """A hand of the course's model, 450 mm in front of the camera, seen exactly (its 2D
    projection, its normalised root-relative 3D): the fitted joints project onto the 2D
    within a pixel and, moved to M0 and scaled, sit within 2 mm of the hand's joints."""
    from types import SimpleNamespace

    from handlib import camera as cam
    from handlib import prediction
    X = hm.forward_kinematics(hm.NAMED_POSES[pose], side="left")
    X = X - X[9] + np.array([10.0, -20.0, 450.0])
    K = prediction.default_intrinsics(640, 480)
    uv = cam.project(K, X)
    size = np.linalg.norm(X[0] - X[9])
    q = SimpleNamespace(uv=uv, confidence=np.ones(21), crop=SimpleNamespace(side=256.0, size=128), side="left",
                        xyz_mm=(X - X[9]) / size * prediction.DEFAULT_HAND_SIZE_MM)
    p = SimpleNamespace(width=640, height=480, side="left", uv=uv)
    d2, xyz = rev._fit_photos([(p, None)], [q])
    assert d2.shape == (1, 21) and d2.max() < 1.0 * 256 / rev.reference_box(uv)[1]
    err = np.linalg.norm(rev.metrics.root_scale(xyz, 91.7) - rev.metrics.root_scale(X[None], 91.7), axis=-1)
    assert err.max() < 2.0


# ------------------------------------------------------------------ the cache tool
def _tool(args, env_dir, tmp_path):
    import os
    import subprocess
    import sys
    env = dict(os.environ, HANDLIB_REALDATA_DIR=str(env_dir))
    return subprocess.run([sys.executable, str(files.REPO_ROOT / "tools" / "mediapipe_reference.py"), *args],
                          env=env, capture_output=True, text=True, cwd=tmp_path, timeout=60)


def test_the_cache_tool_names_a_missing_real_data_folder(tmp_path):
    r = _tool(["--out", str(tmp_path / "cache"), "--venv", str(tmp_path / "venv")], tmp_path / "empty", tmp_path)
    assert r.returncode == 2
    assert "sign_language_digits/Dataset" in r.stderr and str(tmp_path / "empty") in r.stderr
    assert not (tmp_path / "venv").exists() and not (tmp_path / "cache").exists()


def test_the_cache_tool_keeps_a_cache_made_with_the_same_settings(tmp_path):
    """Nothing is installed or recomputed when the cache is there (no MediaPipe needed)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("mp_tool", files.REPO_ROOT / "tools" / "mediapipe_reference.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.FORMAT == pr.FORMAT and tool.SETS.keys() == pr.SETS.keys()
    assert {k: v[0] for k, v in tool.SETS.items()} == pr.SETS
    real = tmp_path / "real"
    (real / pr.SETS["asl_letters"]).mkdir(parents=True)
    cache = tmp_path / "cache"
    files.write_json(cache / "asl_letters.json", {"format": tool.FORMAT, "settings": tool.SETTINGS,
                                                  "set": "asl_letters", "photos": 3, "detected": 2, "images": []})
    r = _tool(["--sets", "asl_letters", "--out", str(cache), "--venv", str(tmp_path / "venv")], real, tmp_path)
    assert r.returncode == 0 and "cached (2 of 3 photos)" in r.stdout
    assert not (tmp_path / "venv").exists()


def test_training_code_can_drop_the_frozen_photos_whatever_the_split(tmp_path):
    from handlib.samples import HandSample
    real = tmp_path / "real"
    digits = real / pr.SETS["sign_language_digits"]
    letters = real / pr.SETS["asl_letters"]
    paths = [digits / "3/IMG_1105.JPG", digits / "3/IMG_1205.JPG", letters / "test/images/A_jpg.rf.1.jpg",
             letters / "train/images/A_jpg.rf.2.jpg", tmp_path / "elsewhere/IMG_1105.JPG"]
    samples = [HandSample(image_path=str(p), sequence="s") for p in paths]
    kept = [Path(s.image_path) for s in pr.exclude_scored(samples, folder=real)]
    assert kept == [paths[1], paths[3], paths[4]]       # block 0011 and test/ dropped


def test_the_gan_real_domain_holds_out_exactly_the_frozen_photos_even_in_quick_mode():
    """Quick mode reads the first photos in file order, which lie in a frozen block: they
    must still be held out, and the training photos come from elsewhere."""
    from handlib import domains
    if domains.real_photos_folder(quiet=True) is None:
        pytest.skip(f"real photos not found (set {files.REALDATA_ENV})")
    train, held = domains.real_domain(size=32, limit=6, progress=False)
    assert len(train) == 6 and len(held) >= 1
    assert not set(train.groups) & set(pr.DIGITS_HELD_OUT_BLOCKS)
    assert set(held.groups) <= set(pr.DIGITS_HELD_OUT_BLOCKS)


def test_the_readme_shows_the_committed_real_hand_figures():
    """README's real-hand tables are :func:`format_table` of the committed results, so a
    new run of `evaluate-real` cannot leave stale numbers behind."""
    text = (files.REPO_ROOT / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- real-evaluation: start -->", "<!-- real-evaluation: end -->"
    assert text.count(start) == 1 and text.count(end) == 1
    block = text.split(start)[1].split(end)[0].strip()
    result = json.loads((files.REPO_ROOT / "data/results/real_evaluation.json").read_text())
    assert block == rev.format_table(result).strip()


def test_the_peers_front_on_joints_are_turned_into_the_camera_frame():
    """MediaPipe sees the hand front-on through its crop: a hand at the image's centre
    needs no turn, one near the edge is turned by the crop camera's angle (and back)."""
    from handlib import prediction
    from handlib.crop_camera import Crop
    K = prediction.default_intrinsics(640, 480)
    hand = hm.rest_pose() - hm.rest_pose()[9]
    centred = np.array([[319.5, 239.5]] * 21) + np.random.default_rng(0).normal(0, 30, (21, 2))
    centred += [319.5, 239.5] - (centred.min(0) + centred.max(0)) / 2
    np.testing.assert_allclose(rev.reference_in_camera(hand, centred, K), hand, atol=1e-9)
    edge = centred + [250.0, 0.0]
    turned = rev.reference_in_camera(hand, edge, K)
    c, side = rev.reference_box(edge)
    angle = np.degrees(np.arctan((c[0] - K[0, 2]) / K[0, 0]))          # the crop camera's turn
    _, R, _ = metrics.similarity_align(turned[None], hand[None])
    assert metrics.rotation_angle_deg(R)[0] == pytest.approx(abs(angle), abs=0.5)
    back = Crop(centre=tuple(c), side=side, size=256, source_K=K, flip=False).to_crop_frame(turned)
    np.testing.assert_allclose(back, hand, atol=1e-9)


def test_frozen_photos_are_found_in_any_copy_of_the_real_data_folder(tmp_path):
    copy = tmp_path / "my copy" / pr.SETS["sign_language_digits"]
    assert pr.scored_path(copy / "3/IMG_1105.JPG")                  # block 0011, any base folder
    assert not pr.scored_path(copy / "3/IMG_1205.JPG")
    assert pr.scored_path(tmp_path / "x" / pr.SETS["asl_letters"] / "valid/images/a.jpg")
    assert not pr.scored_path(tmp_path / "x" / "valid/images/a.jpg")


def test_results_of_other_models_measured_otherwise_are_never_dropped_silently(tmp_path):
    out = tmp_path / "res.json"
    files.write_json(out, {"protocol": {"old": True}, "reference": {}, "models": {"older model": {}}})
    with pytest.raises(ValueError, match="older model"):
        rev.evaluate_real(["data/weights/regnet.keras"], ["shipped"], out, cache_dir=FIX, folder=FIX / "none",
                          boot=10, video=False)
    assert json.loads(out.read_text())["models"] == {"older model": {}}


def test_the_cache_tools_folder_mode_agrees_with_the_reader_and_names_a_missing_folder(tmp_path):
    """``--folders``: its format and file name are the reader's; a missing folder is named
    before anything is installed."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("mp_tool", files.REPO_ROOT / "tools" / "mediapipe_reference.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.FOLDER_FORMAT == pr.FOLDER_FORMAT and tool.FOLDER_CACHE == pr.FOLDER_CACHE
    r = _tool(["--folders", str(tmp_path / "nowhere"), "--venv", str(tmp_path / "venv")], tmp_path, tmp_path)
    assert r.returncode == 2 and str(tmp_path / "nowhere") in r.stderr
    assert not (tmp_path / "venv").exists()


# ------------------------------------------------------------------ the check on renders
def _rendered(n=4):
    from handlib.crop_camera import Crop
    from handlib.samples import HandSample
    out = []
    for i in range(n):
        f = synthetic.render_index(41, i, look="real-like")
        side = "right" if hm.handedness(f.xyz) > 0 else "left"
        out.append(HandSample(image_path=f"/x/{i:04d}_color_composed.png", sequence="0", uv=f.uv, xyz=f.xyz,
                              crop=f.crop, side=side))
    return out


def _perfect_answer(s, mirror=False):
    """What a perfect peer would answer: the true joints seen through the perspective
    crop camera of its reference box (any offset), its label mirrored as MediaPipe's is."""
    from handlib.crop_camera import Crop
    c, side = rev.reference_box(s.uv)
    crop = Crop(centre=tuple(c), side=side, size=rev.CROP_PX, source_K=s.crop.K)
    world = crop.to_crop_frame(s.xyz) - 7.0
    if mirror:
        world = world * [-1.0, 1.0, 1.0]
    return {"uv": s.uv, "world_mm": world, "side": s.side}


def test_the_renders_check_scores_a_perfect_peer_perfectly_and_a_mirrored_one_less():
    samples = _rendered()
    answers = {f"{i:04d}_color_composed.png": _perfect_answer(s) for i, s in enumerate(samples)}
    answers["0003_color_composed.png"] = None                       # no hand found there
    r = rev.renders_check(samples, answers, boot=20)
    assert (r["frames"], r["detected"], r["side_right_share"]) == (4, 3, 1.0)
    assert r["peer"]["2d"]["auc"] == 1.0 and r["peer"]["3d_root_scale"]["auc"] == pytest.approx(1.0)
    assert r["fixed_open_hand"]["3d_root_scale"]["auc"] < 0.9
    mirrored = {f"{i:04d}_color_composed.png": _perfect_answer(s, mirror=True) for i, s in enumerate(samples)}
    assert rev.renders_check(samples, mirrored, boot=20)["peer"]["3d_root_scale"]["auc"] < 0.9
    with pytest.raises(ValueError, match="no hand"):
        rev.renders_check(samples, {}, boot=20)


def test_the_renders_check_turns_a_perspective_crops_truth_with_the_crop():
    """A frame cut by a turned, off-centre perspective crop (its camera turned away from
    the full image's): the check must compare in the crop image's own camera. A perfect
    answer then scores 1; with a 60-degree camera assumed in place of the crop's own, the
    2D is unchanged and the 3D, turned through the wrong camera, only a little worse."""
    from handlib import camera as cam
    from handlib.crop_camera import Crop
    from handlib.samples import HandSample
    samples = []
    for i, s in enumerate(_rendered(3)):
        K = s.crop.source_K
        uv_full = cam.project(np.asarray(K), s.xyz)
        c = uv_full.mean(0) + [40.0 * (i - 1), 25.0]
        crop = Crop(centre=tuple(c), side=220.0, size=256, source_K=K, angle=0.4 * (i - 1))
        samples.append(HandSample(image_path=f"/x/{i:04d}_color_composed.png", sequence="0",
                                  uv=crop.project(s.xyz), xyz=s.xyz, crop=crop, side=s.side))
    answers = {}
    for i, s in enumerate(samples):
        xyz = s.crop.to_crop_frame(s.xyz)                    # the crop image's own camera frame
        c, side = rev.reference_box(s.uv)
        ref_crop = Crop(centre=tuple(c), side=side, size=rev.CROP_PX, source_K=s.crop.K)
        answers[f"{i:04d}_color_composed.png"] = {"uv": s.uv, "world_mm": ref_crop.to_crop_frame(xyz), "side": s.side}
    r = rev.renders_check(samples, answers, boot=20)
    assert r["peer"]["3d_root_scale"]["auc"] == pytest.approx(1.0) and r["peer"]["2d"]["auc"] == 1.0
    assumed = rev.renders_check(samples, answers, boot=20, assumed_fov=60.0)
    assert assumed["peer"]["2d"] == r["peer"]["2d"]
    assert 0.5 < assumed["peer"]["3d_root_scale"]["auc"] <= 1.0


def test_folder_answers_without_world_joints_are_refused_naming_the_field(tmp_path):
    rec = {"file": "a.png", "readable": True, "width": 8, "height": 8, "detected": True,
           "uv_px": np.zeros((21, 2)).tolist(), "handedness_label": "Left", "handedness_score": 0.9}
    path = tmp_path / pr.FOLDER_CACHE
    files.write_json(path, {"format": pr.FOLDER_FORMAT, "images": [rec, {"file": "b.png", "detected": False}]})
    with pytest.raises(DataFileError, match="world_mm"):
        pr.read_folder_answers(path)
    files.write_json(path, {"format": pr.FOLDER_FORMAT, "images": [
        {**rec, "world_mm": np.ones((21, 3)).tolist()}, {"file": "b.png", "detected": False}]})
    got = pr.read_folder_answers(path)
    assert got["b.png"] is None and got["a.png"]["side"] == "right" and got["a.png"]["world_mm"].shape == (21, 3)
