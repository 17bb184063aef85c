"""Bad input gets a clear error naming the file; written files are readable by others."""
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from handlib import camera as cam
from handlib import datasets, files, images, pipeline
from handlib import heatmaps as hmaps
from handlib import hand_model as hm
from handlib.files import DataFileError
from handlib.pipeline import PipelineConfig

FIX = Path(__file__).parent / "fixtures"
PART = "data/noObject/0001"


@pytest.fixture
def gan(tmp_path):
    """A copy of the GANerated fixture that a test may break."""
    root = tmp_path / "gan"
    shutil.copytree(FIX / "ganerated", root)
    return root


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


# --------------------------------------------------------------------- label files
@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
def test_a_non_finite_joint_is_reported_with_the_file(gan, bad):
    path = gan / PART / "0002_joint_pos_global.txt"
    values = ["1.0"] * 63
    values[5] = bad
    path.write_text(",".join(values) + "\n")
    with pytest.raises(DataFileError,
                       match=r"0002_joint_pos_global\.txt: expected 63 floats.*non-finite"):
        datasets.read_ganerated(gan)


@pytest.mark.parametrize("scale", ["0", "-1.25"])
def test_a_non_positive_crop_scale_is_reported_with_the_file(gan, scale):
    (gan / PART / "0001_crop_params.txt").write_text(f"100.0,50.0,{scale}\n")
    with pytest.raises(DataFileError, match=r"0001_crop_params\.txt: expected .*positive scale"):
        datasets.read_ganerated(gan)


@pytest.mark.parametrize("raw, found", [(b"1.0,2.0\x00\x00\x013", "binary"),
                                        (b"\xff\xfe1,2", "not UTF-8")])
def test_a_binary_or_non_utf8_label_file_is_reported_with_the_file(gan, raw, found):
    (gan / PART / "0002_joint2D.txt").write_bytes(raw)
    with pytest.raises(DataFileError, match=rf"0002_joint2D\.txt: expected 42 floats.*{found}") as e:
        datasets.read_ganerated(gan)
    assert not isinstance(e.value, UnicodeDecodeError)
    assert e.value.__cause__ is None or not isinstance(e.value.__cause__, UnicodeDecodeError)


def test_an_empty_partition_is_reported_with_its_folder(gan):
    (gan / "data/noObject/0002").mkdir()
    with pytest.raises(DataFileError, match=r"noObject[/\\]0002: expected frames.*empty partition"):
        datasets.read_ganerated(gan)


def test_an_invalid_scene_json_is_reported_with_the_file(gan):
    (gan / PART / "0001_scene.json").write_text('{"side": "left",,}\n')
    with pytest.raises(DataFileError, match=r"0001_scene\.json: expected .*invalid JSON"):
        datasets.read_ganerated(gan)


# --------------------------------------------------------------------- image files
def test_sample_table_names_an_image_that_is_not_an_image(gan):
    samples = datasets.read_ganerated(gan)
    img = Path(samples[1].image_path)
    img.write_bytes(b"not a png")
    with pytest.raises(DataFileError, match=rf"{img.name}: expected an image.*b'not '"):
        pipeline.sample_table(samples)


def test_sample_table_names_an_image_cut_short(gan):
    samples = datasets.read_ganerated(gan)
    path = Path(samples[0].image_path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])   # an interrupted copy
    with pytest.raises(DataFileError, match=rf"{path.name}: expected a complete PNG.*cut short"):
        pipeline.sample_table(samples)


def test_sample_table_names_a_missing_image(gan):
    samples = datasets.read_ganerated(gan)
    img = Path(samples[2].image_path)
    img.unlink()
    with pytest.raises(DataFileError, match=rf"{img.name}: expected an image.*no such file"):
        pipeline.sample_table(samples)


# --------------------------------------------------------------------- writing
def test_written_files_are_readable_by_others(tmp_path, umask_022):
    text, png = tmp_path / "a.txt", tmp_path / "b.png"
    files.write_text(text, "hello\n")
    images.write_image(png, np.zeros((4, 4, 3), np.uint8))
    assert text.read_text() == "hello\n"
    assert images.read_image(png).shape == (4, 4, 3)
    assert oct(text.stat().st_mode & 0o777) == oct(0o644)
    assert oct(png.stat().st_mode & 0o777) == oct(0o644)


def test_a_failed_atomic_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "labels.txt"
    files.write_text(path, "old\n")
    with pytest.raises(RuntimeError, match="boom"):
        with files.atomic_path(path) as tmp:
            tmp.write_text("new, half written")
            raise RuntimeError("boom")
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.txt"]
    assert not list(tmp_path.glob("*.tmp*")) and not list(tmp_path.glob(".*.tmp*"))


# --------------------------------------------------------------------- shapes
def test_shape_checks_raise_value_errors():
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        cam.project(cam.GANERATED.K, np.ones((21, 2)))
    with pytest.raises(ValueError, match=r"\(\.\.\., 21, 3\)"):
        hm.normalise(np.ones((20, 3)))
    with pytest.raises(ValueError, match=r"\[\.\.\., None\]"):
        hmaps.heatmap_maxima(np.zeros((32, 32)))


def test_heatmap_maxima_at_the_border_and_on_an_empty_map():
    size = 32
    uv = np.array([[size - 1 + 0.3, 12.4], [7.6, -0.2], [size - 1 + 0.3, -0.2], [0.0 - 0.4, 20.0]])
    h = hmaps.gaussian_heatmaps(uv, size)
    got, peak = hmaps.heatmap_maxima(h)
    np.testing.assert_allclose(got, uv, atol=1e-3)
    assert np.all(peak > 0.9)
    got, peak = hmaps.heatmap_maxima(np.zeros((size, size, 2)))
    assert peak.tolist() == [0.0, 0.0]
    assert np.all(np.isfinite(got))


# --------------------------------------------------------------------- command line
def _run_cli(argv, capsys):
    from handlib.__main__ import main
    try:
        code = main(argv)
    except SystemExit as exc:           # argparse errors
        code = exc.code
    err = capsys.readouterr().err
    return code, err


def _cli_cases(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder\n")
    out = str(tmp_path / "out")
    return {
        "frames0": (["--out", out, "--frames", "0"], r"--frames must be at least 1, got 0"),
        "frames-3": (["--out", out, "--frames", "-3"], r"--frames must be at least 1, got -3"),
        "size5": (["--out", out, "--frames", "1", "--size", "5"],
                  r"--size must be between 32 and 2048, got 5"),
        "out-file": (["--out", str(a_file), "--frames", "1"],
                     rf"{a_file.name}: expected an output folder.*is a file"),
        "out-in-file": (["--out", str(a_file / "sub"), "--frames", "1"],
                        rf"sub: expected an output folder, but .*{a_file.name} is a file"),
        "background": (["--out", out, "--frames", "1", "--background", str(tmp_path / "no_bg")],
                       r"no_bg: expected a folder of images.*no such folder"),
    }


@pytest.mark.parametrize("case", ["frames0", "frames-3", "size5", "out-file", "out-in-file",
                                  "background"])
def test_make_dataset_reports_a_user_mistake_in_one_line(tmp_path, capsys, case):
    import re
    args, pattern = _cli_cases(tmp_path)[case]
    code, err = _run_cli(["make-dataset", *args], capsys)
    assert code == 2, err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if "error" in ln]
    assert len(lines) == 1, err                 # one line names the problem (after usage)
    assert re.search(pattern, lines[0]), err
    if case in ("out-file", "out-in-file", "background"):   # not argparse: no usage either
        assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()      # nothing was rendered


# --------------------------------------------------------------------- seeds
def _first_images(samples, seed):
    batch = next(iter(pipeline.make_pipeline(
        samples, PipelineConfig(seed=seed, batch_size=2, shuffle=False))))
    return np.asarray(batch[0])


def test_an_unseeded_pipeline_differs_and_a_seeded_one_repeats():
    samples = datasets.read_ganerated(FIX / "ganerated")
    a, b = _first_images(samples, None), _first_images(samples, None)
    assert a.shape == b.shape == (2, 128, 128, 3)
    assert not np.array_equal(a, b)
    c, d = _first_images(samples, 3), _first_images(samples, 3)
    np.testing.assert_array_equal(c, d)


# --------------------------------------------------------------------- numeric flags
def _one_line_error(code, err, pattern, argparse_error=True):
    import re
    assert code == 2, err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if "error" in ln]
    assert len(lines) == 1, err
    assert re.search(pattern, lines[0]), err
    if not argparse_error:                      # no usage either: one line in all
        assert len(err.strip().splitlines()) == 1, err


def _flag_cases():
    regnet = ["train-regnet", "--data", "DATA", "--out", "OUT", "--save", "SAVE"]
    track = ["track", "VIDEO", "--out", "OUT"]
    predict = ["predict", "IMAGE", "--side", "left", "--out", "OUT"]
    return {
        "lr-nan": (regnet + ["--lr", "nan"], r"--lr must be a finite number, got 'nan'"),
        "lr-inf": (regnet + ["--lr", "inf"], r"--lr must be a finite number, got 'inf'"),
        "lr-0": (regnet + ["--lr", "0"], r"--lr must be greater than 0 and at most 1, got 0"),
        "lr-text": (regnet + ["--lr", "fast"], r"--lr must be a number, got 'fast'"),
        "mix-negative": (regnet + ["--mix", "-1"], r"--mix must be at least 0, got -1"),
        "mix-nan": (regnet + ["--mix", "nan"], r"--mix must be a finite number"),
        "mix-zero": (regnet + ["--mix", "0"], r"--mix must give at least one folder a positive weight"),
        "loss-nan": (regnet + ["--loss-weights", "xyz=nan"],
                     r"--loss-weights xyz must be a finite number, got 'nan'"),
        "loss-negative": (regnet + ["--loss-weights", "projection=-1"],
                          r"--loss-weights projection must be at least 0, got -1"),
        "loss-unknown": (regnet + ["--loss-weights", "depth=1"],
                         r"--loss-weights takes TERM=WEIGHT with TERM one of heatmaps, xyz, "
                         r"xyz_intermediate, projection, got 'depth=1'"),
        "loss-twice": (regnet + ["--loss-weights", "xyz=1", "xyz=2"], r"names xyz more than once"),
        "loss-all-zero": (regnet + ["--loss-weights", "heatmaps=0", "xyz=0", "xyz_intermediate=0",
                                    "projection=0"], r"at least one term with a positive weight"),
        "ablation-loss-inf": (["compare-regnet", "--synth", "S", "--ganerated", "G", "--test", "T",
                               "--runs", "OUT", "--out", "OUT/ablation", "--loss-weights", "heatmaps=inf"],
                              r"--loss-weights heatmaps must be a finite number"),
        "geo-weight-nan": (["train-gan", "--synth", "S", "--out", "OUT", "--geo-weight", "nan"],
                           r"--geo-weight must be a finite number"),
        "geo-weight-negative": (["train-gan", "--synth", "S", "--out", "OUT", "--geo-weight", "-2"],
                                r"--geo-weight must be at least 0, got -2"),
        "predict-hand-inf": (predict + ["--hand-size", "inf"], r"--hand-size must be a finite number"),
        "predict-hand-0": (predict + ["--hand-size", "0"], r"--hand-size must be between 1 and 1000, got 0"),
        "predict-fov-nan": (predict + ["--fov", "nan"], r"--fov must be a finite number"),
        "predict-fov-180": (predict + ["--fov", "180"], r"--fov must be between 1 and 170, got 180"),
        "track-hand-inf": (track + ["--hand-size", "inf"], r"--hand-size must be a finite number"),
        "track-fov-inf": (track + ["--fov", "inf"], r"--fov must be a finite number"),
        "track-cx-negative": (track + ["--intrinsics", "300,300,-5000,120"],
                              r"--intrinsics needs a principal point cx, cy inside the image .*-5000"),
        "track-fx-nan": (track + ["--intrinsics", "nan,300,10,10"], r"--intrinsics must be finite numbers"),
        "track-fy-0": (track + ["--intrinsics", "300,0,10,10"],
                       r"--intrinsics needs focal lengths fx, fy above 0"),
        "track-three": (track + ["--intrinsics", "300,300,10"], r"fx,fy,cx,cy in pixels \(four numbers\)"),
        "track-both": (track + ["--intrinsics", "300,300,10,10", "--fov", "60"],
                       r"give --intrinsics or --fov, not both"),
    }


@pytest.mark.parametrize("case", list(_flag_cases()))
def test_every_numeric_flag_is_checked_before_anything_is_written(tmp_path, capsys, case):
    """Non-finite and out-of-range numbers are refused at parse time, in one line, before
    a folder is made or ``--save`` touched (``--lr nan`` used to train a NaN model and copy
    it over ``--save``; ``--mix -1`` left a config.json that refused the corrected command)."""
    args, pattern = _flag_cases()[case]
    save = tmp_path / "keep.keras"
    save.write_bytes(b"the model already there")
    names = {"OUT": str(tmp_path / "out"), "SAVE": str(save), "DATA": str(FIX / "ganerated"),
             "VIDEO": str(tmp_path / "v.avi"), "IMAGE": str(tmp_path / "hand.png")}
    argv = [names.get(a, a.replace("OUT", names["OUT"])) for a in args]
    code, err = _run_cli(argv, capsys)
    _one_line_error(code, err, pattern)
    assert not (tmp_path / "out").exists()
    assert save.read_bytes() == b"the model already there"


def test_train_run_checks_its_settings_before_writing(tmp_path):
    from handlib import pose_training as pt
    for kwargs, pattern in (({"mix": [-1.0]}, "mix must give one finite weight"),
                            ({"mix": [float("nan")]}, "mix must give one finite weight"),
                            ({"lr": float("nan")}, "learning rate must be a finite number"),
                            ({"loss_weights": {"xyz": float("inf")}}, "xyz must be a finite number"),
                            ({"loss_weights": {"depth": 1.0}}, "unknown term"),
                            ({"loss_weights": dict.fromkeys(pt.pn.LOSS_WEIGHTS, 0.0)},
                             "at least one term needs a positive weight")):
        with pytest.raises(ValueError, match=pattern):
            pt.train_run([FIX / "ganerated"], tmp_path / "run", input_size=32, steps=2,
                         steps_per_epoch=1, batch_size=2, imagenet=False, progress=False, **kwargs)
        assert not (tmp_path / "run").exists()
    from handlib.__main__ import LOSS_TERMS
    assert LOSS_TERMS == tuple(pt.pn.LOSS_WEIGHTS)          # the CLI's names are the network's


# --------------------------------------------------------------------- track
def _video(path, frames=4, size=(64, 48)):
    import cv2
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, size)
    for i in range(frames):
        w.write(np.full((size[1], size[0], 3), 30 * i, np.uint8))
    w.release()
    return path


@pytest.fixture
def no_model(monkeypatch):
    """Loading a model fails the test: the mistake must be found before."""
    from handlib import weights

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the input was checked")
    monkeypatch.setattr(weights, "load_model", refuse)


@pytest.mark.parametrize("extra, pattern", [
    (["--start", "4"], r"v\.avi: --start 4 is past the end of the video \(4 frames, 0 to 3\)"),
    (["--start", "400"], r"--start 400 is past the end"),
    (["--intrinsics", "300,300,5000,20"], r"principal point \(5000, 20\) lies outside the 64x48 image"),
    (["--intrinsics", "300,300,30,48.5"], r"principal point \(30, 48.5\) lies outside"),
    (["--intrinsics", "0.001,300,30,20"], r"fx gives a field of view of 180 degrees .*expected 1 to 170"),
    (["--intrinsics", "1e9,1e9,30,20"], r"fx gives a field of view of 3.67e-06 degrees"),
])
def test_track_refuses_a_start_past_the_end_and_bad_intrinsics_before_any_folder(
        tmp_path, capsys, no_model, extra, pattern):
    video = _video(tmp_path / "v.avi")
    out = tmp_path / "out"
    code, err = _run_cli(["track", str(video), "--out", str(out), "--no-video", *extra], capsys)
    _one_line_error(code, err, pattern, argparse_error=False)
    assert not out.exists()


def test_track_refuses_an_output_path_inside_a_file(tmp_path, capsys, no_model):
    video = _video(tmp_path / "v.avi")
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder\n")
    for out in (a_file, a_file / "sub"):
        code, err = _run_cli(["track", str(video), "--out", str(out)], capsys)
        _one_line_error(code, err, rf"{out.name}: expected an output folder, found a file",
                        argparse_error=False)


# --------------------------------------------------------------------- predict
def test_predict_output_names_never_collide():
    from handlib.prediction import output_names
    assert output_names(["a/hand.png", "b/hand.png", "c/hand.jpg", "hand-2.png", "x/other.png",
                         "d/Hand.PNG"]) == ["hand", "hand-2", "hand-3", "hand-2-2", "other", "Hand-4"]
    assert output_names(["a.png", "b.png"]) == ["a", "b"]


def test_predict_refuses_an_output_file_before_loading_the_model(tmp_path, capsys, no_model):
    img = tmp_path / "hand.png"
    images.write_image(img, np.zeros((32, 32, 3), np.uint8))
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder\n")
    for out in (a_file, a_file / "sub"):
        code, err = _run_cli(["predict", str(img), "--side", "left", "--out", str(out)], capsys)
        _one_line_error(code, err, rf"{out.name}: expected an output folder, but .*a_file is a file",
                        argparse_error=False)


def test_predict_keeps_one_answer_per_image_with_the_same_name(tmp_path, capsys):
    """a/hand.png and b/hand.png into one --out: hand.* and hand-2.*, each naming its
    image, both printed; the JSON holds finite numbers only."""
    import json
    from handlib.__main__ import main
    paths = []
    for k, folder in enumerate(("a", "b")):
        (tmp_path / folder).mkdir()
        p = tmp_path / folder / "hand.png"
        images.write_image(p, np.random.default_rng(k).integers(0, 255, (64, 64, 3), dtype=np.uint8))
        paths.append(p)
    out = tmp_path / "out"
    assert main(["predict", *map(str, paths), "--side", "left", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["hand-2.joints.json", "hand-2.skeleton.png",
                                                     "hand.joints.json", "hand.skeleton.png"]
    for name, src in (("hand", paths[0]), ("hand-2", paths[1])):
        text = (out / f"{name}.joints.json").read_text()
        assert "Infinity" not in text and "NaN" not in text
        assert json.loads(text)["image"] == str(src)
        assert str(out / f"{name}.joints.json") in printed


# --------------------------------------------------------------------- ganerate
def test_ganerate_names_a_weights_file_that_is_not_a_model(tmp_path, capsys):
    for name in ("notes.txt", "notes.keras"):
        bad = tmp_path / name
        bad.write_text("these are my notes, not a generator\n")
        out = tmp_path / "out"
        code, err = _run_cli(["ganerate", "--src", str(FIX / "ganerated"), "--out", str(out),
                              "--weights", str(bad)], capsys)
        _one_line_error(code, err, rf"{name}: expected the synth->real generator, a Keras model file "
                                   r".*found a file that is not a Keras model file", argparse_error=False)
        assert "notes.json" not in err and "record" not in err
        assert not out.exists()


# --------------------------------------------------------------------- RegNet's loss
def _regnet_batch(S=32, B=3, seed=0):
    from handlib import heatmaps as hmaps
    rng = np.random.default_rng(seed)
    Hs = S // 4
    xyz = rng.normal(scale=0.5, size=(B, 21, 3)).astype("float32")
    xyz -= xyz[:, 9:10]
    uv = rng.uniform(0, Hs, size=(B, 21, 2)).astype("float32")
    t = {"heatmaps": hmaps.gaussian_heatmaps(uv, Hs).astype("float32"), "uv": uv, "xyz_norm": xyz,
         "visible": (rng.uniform(size=(B, 21)) > 0.3).astype("float32"),
         "crop_K": np.tile(np.array([[40, 0, 15.5], [0, 40, 15.5], [0, 0, 1]], "float32"), (B, 1, 1))}
    return rng.uniform(size=(B, S, S, 3)).astype("float32"), t


def test_loss_weights_change_the_total_by_the_weighted_terms():
    """The trainer's total is the weighted sum of the four terms: doubling one weight adds
    that term once, and any weights give sum(w * term), the terms computed separately by
    regnet_losses on the network's outputs."""
    import keras
    from handlib import pose_network as pn
    keras.utils.set_random_seed(3)
    net = pn.build_regnet(32, "compact", imagenet=False)
    image, t = _regnet_batch()
    out = net({"image": image, "crop_K": t["crop_K"]}, training=False)
    terms = {k: np.asarray(v, np.float64)
             for k, v in pn.regnet_losses(t, out, 8, pn.model_info(net)["sigma"]).items()}
    assert set(terms) == set(pn.LOSS_WEIGHTS) and all(np.all(v > 0) for v in terms.values())

    def total(weights):
        _, _, tot = pn.RegNetTrainer(net, weights)._forward((image, t), training=False)
        return np.asarray(tot, np.float64)

    base = total(None)
    np.testing.assert_allclose(base, sum(terms.values()), rtol=1e-5)
    for k in terms:                                   # doubling one weight adds its term once
        np.testing.assert_allclose(total({k: 2.0}) - base, terms[k], rtol=1e-4, atol=1e-6)
    w = {"heatmaps": 0.5, "xyz": 0.0, "xyz_intermediate": 3.0, "projection": 0.25}
    np.testing.assert_allclose(total(w), sum(w[k] * terms[k] for k in terms), rtol=1e-5)


def _tiny_regnet_cli(run, *extra):
    return ["train-regnet", "--data", str(FIX / "ganerated"), "--out", str(run), "--input-size", "32",
            "--steps", "2", "--steps-per-epoch", "1", "--batch", "2", "--no-imagenet", *extra]


def test_train_regnet_uses_and_records_the_loss_weights(tmp_path, capsys, monkeypatch):
    """--loss-weights reaches the loss: each logged epoch's loss is the weighted sum of the
    logged terms (not their plain sum), and the weights are in config.json and the record."""
    import csv
    import json
    from handlib import pose_training as pt
    monkeypatch.setattr(pt, "regression_figures", lambda *a, **k: {})    # not what is tested here
    run = tmp_path / "run"
    code = _run_cli(_tiny_regnet_cli(run, "--loss-weights", "projection=2", "xyz=0",
                                     "heatmaps=0.5"), capsys)[0]
    assert code == 0
    want = {"heatmaps": 0.5, "xyz": 0.0, "xyz_intermediate": 1.0, "projection": 2.0}
    assert json.loads((run / "config.json").read_text())["loss_weights"] == want
    assert json.loads((run / "regnet.json").read_text())["config"]["loss_weights"] == want
    rows = list(csv.DictReader((run / "log.csv").open()))
    assert len(rows) == 2
    for row in rows:
        terms = {k: float(row[k]) for k in want}
        assert float(row["loss"]) == pytest.approx(sum(want[k] * terms[k] for k in want), rel=1e-5)
        assert float(row["loss"]) != pytest.approx(sum(terms.values()), rel=1e-3)


def test_a_run_whose_loss_becomes_nan_stops_and_ships_nothing(tmp_path, capsys, monkeypatch):
    """The loss turns NaN at the first step: the command stops there with one line and
    exit status 2; no model in the run folder, no backup of the diverged weights, and
    --save keeps the model that was there."""
    from handlib import pose_network as pn
    real = pn.regnet_losses

    def nan_losses(*args, **kwargs):
        terms = real(*args, **kwargs)
        return dict(terms, heatmaps=terms["heatmaps"] * float("nan"))
    monkeypatch.setattr(pn, "regnet_losses", nan_losses)
    run, save = tmp_path / "run", tmp_path / "shipped.keras"
    save.write_bytes(b"the model already there")
    code, err = _run_cli(_tiny_regnet_cli(run, "--save", str(save)), capsys)
    _one_line_error(code, err, r"training diverged: loss became nan at step 1 of epoch 1; no model "
                               r"was saved", argparse_error=False)
    assert not (run / "regnet.keras").exists() and not (run / "regnet.json").exists()
    backup = run / "backup"                         # nothing a rerun would resume from
    assert not backup.exists() or not any(p.suffix == ".h5" for p in backup.rglob("*"))
    assert save.read_bytes() == b"the model already there"
    assert not (tmp_path / "shipped.json").exists()


def test_multiworker_without_tf_config_is_refused_before_writing(tmp_path, monkeypatch):
    from handlib import pose_training
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        pose_training.train_run([str(tmp_path / "data")], tmp_path / "run", strategy="multiworker")
    assert not (tmp_path / "run").exists()


def test_a_gan_or_silnet_run_whose_loss_becomes_nan_stops_and_saves_nothing(tmp_path, monkeypatch):
    """train-gan and train-silnet stop at the first non-finite loss as train-regnet does:
    TrainingDiverged (one line, exit status 2 from the command), no model written."""
    from handlib import backend, gan, silnet
    from handlib.synthetic import make_dataset
    tf = backend.tensorflow()
    from handlib.training_callbacks import TrainingDiverged
    monkeypatch.setenv("HANDLIB_REALDATA_DIR", str(tmp_path / "no-real-data"))
    synth = tmp_path / "synth"
    make_dataset(synth, 6, look="synth", seed=5, size=128, progress=False)
    monkeypatch.setattr(gan, "lsgan_loss", lambda logits, target: tf.reduce_mean(logits) * float("nan"))
    with pytest.raises(TrainingDiverged, match="became nan at step 1 of epoch 1"):
        gan.train_run(synth, tmp_path / "gan", size=32, steps=2, steps_per_epoch=1, filters=4, blocks=1,
                      disc_filters=4, limit=6, progress=False)
    assert not list((tmp_path / "gan").glob("*.keras"))
    monkeypatch.setattr(silnet.SilhouetteLoss, "call", lambda self, y, p: tf.reduce_mean(p) * float("nan"))
    with pytest.raises(TrainingDiverged, match="loss became nan"):
        silnet.train_run(synth, tmp_path / "sil", size=32, epochs=1, steps_per_epoch=2, batch_size=2,
                         limit=6, progress=False)
    assert not list((tmp_path / "sil").glob("*.keras"))
