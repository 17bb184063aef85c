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
