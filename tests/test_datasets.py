"""Readers against hand-written fixture folders; the writer against the reader."""
import shutil
from pathlib import Path

import numpy as np
import pytest

from handlib import camera as cam
from handlib import datasets, files, ganerated, synthetic
from handlib import hand_model as hm
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
    np.testing.assert_allclose(second.crop.ganerated_params(), (102.0, 52.0, 1.25))
    np.testing.assert_allclose(second.image_K, cam.crop_intrinsics(cam.GANERATED, 102.0, 52.0, 1.25))
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
    samples = datasets.read_synthhands(FIX / "synthhands")
    s = next(x for x in samples if x.extra["folder"] == "female_noobject/seq01/cam01/01")
    assert s.sequence == "female_noobject/seq01"          # the motion, not the camera
    # joint 1 in the fixture: (2, -3, 500) mm in the depth camera's frame
    x, y, z = 2.0 + 24.7, -3.0 - 0.0471401, 500.0 + 3.72045
    u = 617.173 * x / z + 315.453
    v = 617.173 * y / z + 242.259
    assert s.uv[1] == pytest.approx([u, v], abs=1e-9)
    assert s.xyz[1] == pytest.approx([x, y, z])
    assert datasets.detect_layout(FIX / "synthhands") == "synthhands"


def test_synthhands_sides_come_from_the_joints():
    samples = datasets.read_synthhands(FIX / "synthhands")
    by_folder = {s.extra["folder"]: s for s in samples}
    # fixture poses made by the course's hand model (a left hand and its mirror image):
    # this checks the reader's rule, not SynthHands' own convention, which the course
    # could not check against the set's documentation
    left = by_folder["female_noobject/seq01/cam02/01"]
    right = by_folder["male_object/seq02/cam01/01"]
    assert left.side == "left" and right.side == "right"
    assert hm.handedness(left.xyz) == -1 and hm.handedness(right.xyz) == 1
    # joints that do not say which hand they are (here: collinear) leave the side unknown
    assert by_folder["female_noobject/seq01/cam01/01"].side is None


def test_synthhands_cameras_of_one_motion_stay_in_one_split():
    samples = datasets.read_synthhands(FIX / "synthhands")
    assert len({s.sequence for s in samples}) == 2 and len(samples) == 3
    for seed in range(20):
        parts = datasets.split_by_sequence(samples, 0.3, 0.3, seed=seed)
        where = {s.extra["folder"]: k for k, part in enumerate(parts) for s in part}
        assert where["female_noobject/seq01/cam01/01"] == where["female_noobject/seq01/cam02/01"]


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
        synthetic.write_frame(tmp_path, i, f)
    ganerated.write_dataset_info(tmp_path, {"size": 256}, cam.GANERATED)
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
        np.testing.assert_allclose(s.crop.K, f.crop.K, rtol=1e-7)
        np.testing.assert_array_equal(s.visible, f.visible)
        assert s.side == f.scene.side and s.extra["look"] == f.scene.look
        # the files mean what they mean in the published set
        u, v, scale = np.loadtxt(s.image_path.replace("color_composed.png", "crop_params.txt"),
                                 delimiter=",")
        expect = scale * (cam.project(cam.GANERATED, s.xyz) - np.array([u, v]))
        np.testing.assert_allclose(s.uv, expect, atol=1e-4)
    assert not list(tmp_path.rglob("*.tmp*")), "temporary files were left behind"


# The second make_dataset call writes the set's two root files (writes 1-2), then the
# nine files of frame 1 (writes 3-11: three images, four label files, visibility, scene).
@pytest.mark.parametrize("fail_at", range(1, 12))
def test_an_interrupted_write_is_resumed_to_the_same_set(tmp_path, monkeypatch, fail_at):
    """Interrupt make_dataset inside a real write (the k-th file it writes), rerun the
    same command, and compare every frame with one rendered from scratch."""
    out = tmp_path / "set"
    synthetic.make_dataset(out, 1, look="synth", seed=1, progress=False)   # frame 0 complete
    real_atomic = files.atomic_path
    count = {"n": 0}

    def failing(path, *a, **k):
        count["n"] += 1
        if count["n"] == fail_at:
            raise KeyboardInterrupt("simulated interruption")
        return real_atomic(path, *a, **k)

    monkeypatch.setattr(files, "atomic_path", failing)
    with pytest.raises(KeyboardInterrupt):
        synthetic.make_dataset(out, 2, look="synth", seed=1, progress=False)
    monkeypatch.setattr(files, "atomic_path", real_atomic)
    again = synthetic.make_dataset(out, 3, look="synth", seed=1, progress=False)
    assert again["skipped"] == 1 and again["written"] == 2
    samples = datasets.open_dataset(out)
    assert len(samples) == 3
    for i, s in enumerate(samples):
        ref = synthetic.render_index(1, i, look="synth")
        np.testing.assert_array_equal(s.load_image(), ref.rgb)
        np.testing.assert_array_equal(s.load_mask(), ref.mask)
        np.testing.assert_allclose(s.uv, ref.uv, atol=1e-5)
        np.testing.assert_array_equal(s.visible, ref.visible)
    assert not list(out.rglob("*.tmp*"))


def test_make_dataset_refuses_other_settings(tmp_path):
    out = tmp_path / "set"
    synthetic.make_dataset(out, 1, look="synth", seed=1, progress=False)
    with pytest.raises(ValueError, match="other settings"):
        synthetic.make_dataset(out, 1, look="real-like", seed=1, progress=False)
