"""Readers against hand-written fixture folders; the writer against the reader."""
import shutil
from pathlib import Path

import numpy as np
import pytest

from handlib import camera as cam
from handlib import datasets, synthetic
from handlib.files import DataFileError

FIX = Path(__file__).parent / "fixtures"


def test_ganerated_reader_returns_the_written_values():
    samples = datasets.read_ganerated(FIX / "ganerated")
    assert [s.sequence for s in samples] == ["ganerated/noObject/0001", "ganerated/noObject/0001",
                                             "ganerated/withObject/0001"]
    second = samples[1]                     # noObject/0001/0002: offset 2 in the fixture
    assert second.image_path.endswith("noObject/0001/0002_color_composed.png")
    assert second.xyz_norm.shape == (21, 3) and second.xyz_norm[0, 0] == pytest.approx(2.00)
    assert second.xyz_norm[20, 2] == pytest.approx(2.62)       # value 62 of 63: 0.62 + 2
    assert second.uv[0].tolist() == [2.5, 3.5] and second.uv[20].tolist() == [42.5, 43.5]
    assert second.xyz[1].tolist() == [203.0, 204.0, 205.0]
    assert second.crop == (102.0, 52.0, 1.25)
    assert second.side == "left" and second.intrinsics == cam.GANERATED
    assert second.mask_path is None and second.visible is None
    assert second.load_image()[0, 0].tolist() == [20, 20, 30]


def test_a_truncated_joint_file_names_the_file(tmp_path):
    root = tmp_path / "gan"
    shutil.copytree(FIX / "ganerated", root)
    bad = root / "data/noObject/0001/0002_joint2D.txt"
    bad.write_text(",".join(["1.0"] * 40) + "\n")
    with pytest.raises(DataFileError, match=r"0002_joint2D\.txt: expected 42 floats.*found 40"):
        datasets.read_ganerated(root)
    (root / "data/noObject/0001/0002_joint2D.txt").unlink()
    with pytest.raises(DataFileError, match=r"0002_joint2D\.txt.*no such file"):
        datasets.read_ganerated(root)


def test_an_unreadable_image_names_the_file(tmp_path):
    root = tmp_path / "gan"
    shutil.copytree(FIX / "ganerated", root)
    img = root / "data/withObject/0001/0001_color_composed.png"
    img.write_bytes(b"not a png")
    sample = datasets.read_ganerated(root)[2]
    with pytest.raises(DataFileError, match=r"0001_color_composed\.png: expected an image"):
        sample.load_image()


def test_a_folder_of_no_known_layout_is_named():
    with pytest.raises(DataFileError, match="no_such_folder"):
        datasets.open_dataset(FIX / "no_such_folder")


def test_synthhands_colour_projection_uses_the_documented_offset():
    (s,) = datasets.read_synthhands(FIX / "synthhands")
    assert s.sequence == "female_noobject/seq01/cam01/01"
    # joint 1 in the fixture: (2, -3, 500) mm in the depth camera's frame
    x, y, z = 2.0 + 24.7, -3.0 - 0.0471401, 500.0 + 3.72045
    u = 617.173 * x / z + 315.453
    v = 617.173 * y / z + 242.259
    assert s.uv[1] == pytest.approx([u, v], abs=1e-9)
    assert s.xyz[1] == pytest.approx([x, y, z])
    assert datasets.detect_layout(FIX / "synthhands") == "synthhands"


def test_realhands_reader_and_mask_cleaning():
    samples = datasets.read_realhands(FIX / "realhands")
    assert [Path(s.image_path).name for s in samples] == ["image_0001_color.png", "image_0002_color.jpg"]
    assert samples[1].mask_path is None and samples[0].sequence == "user01"
    raw = samples[0].load_mask()
    clean = samples[0].load_mask(clean=True)
    assert raw[2, 28] and not clean[2, 28]                  # the speck is removed
    assert not raw[15, 15] and clean[15, 15]                # the hole is filled
    assert clean.sum() == 16 * 16


def test_splits_are_by_sequence():
    samples = [datasets.HandSample(image_path=f"{i}.png", sequence=f"seq{i // 10}") for i in range(200)]
    train, val, test = datasets.split_by_sequence(samples, 0.1, 0.1, seed=3)
    seqs = [{s.sequence for s in part} for part in (train, val, test)]
    assert not (seqs[0] & seqs[1]) and not (seqs[0] & seqs[2]) and not (seqs[1] & seqs[2])
    assert len(train) + len(val) + len(test) == 200 and val and test
    again = datasets.split_by_sequence(samples, 0.1, 0.1, seed=3)
    assert [s.image_path for s in again[2]] == [s.image_path for s in test]


def test_writer_then_reader_round_trips_every_field(tmp_path):
    frames = [synthetic.render_index(5, i, look=look) for i, look in enumerate(["synth", "real-like"])]
    for i, f in enumerate(frames):
        datasets.write_frame(tmp_path, i, f)
    datasets.write_dataset_info(tmp_path, {"test": True}, cam.GANERATED)
    samples = datasets.open_dataset(tmp_path)
    assert len(samples) == 2
    for f, s in zip(frames, samples):
        np.testing.assert_array_equal(s.load_image(), f.rgb)
        np.testing.assert_array_equal(s.load_mask(), f.mask)
        np.testing.assert_allclose(s.load_depth(), f.depth, atol=0.5)
        np.testing.assert_allclose(s.uv, f.uv, atol=1e-5)
        np.testing.assert_allclose(s.xyz, f.xyz, atol=1e-5)
        norm = (f.xyz - f.xyz[9]) / np.linalg.norm(f.xyz[0] - f.xyz[9])
        np.testing.assert_allclose(s.xyz_norm, norm, atol=1e-7)
        np.testing.assert_allclose(s.crop, f.crop, rtol=1e-7)
        np.testing.assert_array_equal(s.visible, f.visible)
        assert s.side == f.scene.side and s.extra["look"] == f.scene.look
        # the files mean what they mean in the published set
        K = cam.GANERATED
        expect = s.crop[2] * (cam.project(K, s.xyz) - np.array(s.crop[:2]))
        np.testing.assert_allclose(s.uv, expect, atol=1e-4)
    assert not list(tmp_path.rglob("*.tmp*")), "temporary files were left behind"


def test_make_dataset_resumes_and_refuses_other_settings(tmp_path):
    out = tmp_path / "set"
    first = synthetic.make_dataset(out, 3, look="synth", seed=1, progress=False)
    assert first == {"written": 3, "skipped": 0, "total": 3}
    # simulate an interruption while frame 2 was being written
    (out / "data/noObject/0001/0003_scene.json").unlink()
    (out / "data/noObject/0001/0003_color_composed.png").write_bytes(b"half")
    again = synthetic.make_dataset(out, 4, look="synth", seed=1, progress=False)
    assert again == {"written": 2, "skipped": 2, "total": 4}
    samples = datasets.open_dataset(out)
    assert len(samples) == 4
    ref = synthetic.render_index(1, 2, look="synth")
    np.testing.assert_array_equal(samples[2].load_image(), ref.rgb)
    with pytest.raises(ValueError, match="other settings"):
        synthetic.make_dataset(out, 4, look="real-like", seed=1, progress=False)
