"""A teacher's 2D (the peer's joints on real photos outside the scored subset) trains the
2D terms only: scored photos never come in, the 3D terms skip 2D-only samples."""
import json

import cv2
import numpy as np
import pytest
import tensorflow as tf

from handlib import peer_reference, pipeline, pose_training
from handlib import pose_network as pn

DIGITS = peer_reference.SETS["sign_language_digits"]


def _digits_cache(tmp_path, files):
    """A cache of the Sign Language Digits layout with a small photo per file; the hand's
    joints on a vertical line, MediaPipe's "Left" (a right hand)."""
    root = tmp_path / "real" / DIGITS
    uv = np.stack([np.full(21, 50.0), np.linspace(20, 80, 21)], -1)
    images = []
    for f in files:
        (root / f).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / f), np.full((100, 100, 3), 128, np.uint8))
        images.append({"file": f, "readable": True, "width": 100, "height": 100, "detected": True,
                       "uv_px": uv.tolist(), "world_mm": np.zeros((21, 3)).tolist(),
                       "handedness_label": "Left", "handedness_score": 0.97})
    path = tmp_path / "sign_language_digits.json"
    path.write_text(json.dumps({"format": peer_reference.FORMAT, "set": "sign_language_digits",
                                "folder": DIGITS, "images": images}))
    return path, tmp_path / "real"


def test_teacher_samples_leave_out_the_scored_photos(tmp_path):
    # photo 1118 is in frozen block 0011; 1234 (block 0012) and 27 (block 0000) may teach
    path, real = _digits_cache(tmp_path, ["0/IMG_1118.JPG", "0/IMG_1234.JPG", "3/IMG_27.JPG"])
    s = peer_reference.teacher_samples(path, folder=real)
    assert sorted(x.image_path.split("/")[-1] for x in s) == ["IMG_1234.JPG", "IMG_27.JPG"]
    assert all(x.xyz_norm is None and x.side == "right" for x in s)
    assert sorted(x.sequence for x in s) == ["block-0000", "block-0012"]
    # 60 degrees across 100 px: f = 50 / tan(30 deg)
    assert s[0].image_K[0, 0] == pytest.approx(50 / np.tan(np.radians(30)))


def test_a_photo_cut_short_is_left_out_and_counted(tmp_path, capsys):
    path, real = _digits_cache(tmp_path, ["0/IMG_1234.JPG", "3/IMG_27.JPG"])
    photo = real / DIGITS / "3/IMG_27.JPG"
    photo.write_bytes(photo.read_bytes()[:-20])                  # no end-of-image marker
    s = peer_reference.teacher_samples(path, folder=real)
    assert [x.image_path.split("/")[-1] for x in s] == ["IMG_1234.JPG"]
    assert "1 photo(s) left out" in capsys.readouterr().out


def test_a_cache_of_only_scored_photos_cannot_teach(tmp_path):
    path, real = _digits_cache(tmp_path, ["0/IMG_1118.JPG"])
    with pytest.raises(ValueError, match="no detected photo outside the scored subset"):
        peer_reference.teacher_samples(path, folder=real)


def test_the_letters_cannot_teach():
    with pytest.raises(ValueError, match="near-duplicates"):
        peer_reference.teacher_samples("tests/fixtures/peer_reference/asl_letters.json",
                                       folder="tests/fixtures/peer_reference/photos")


def test_training_reads_a_cache_file_as_teacher_samples(tmp_path, monkeypatch):
    path, real = _digits_cache(tmp_path, ["0/IMG_1234.JPG", "3/IMG_27.JPG"])
    monkeypatch.setenv("HANDLIB_REALDATA_DIR", str(real))
    (name, train, val), = pose_training.split_sources([path])
    assert name == str(path) and len(train) + len(val) == 2
    assert all(s.xyz_norm is None for s in train + val)


def test_2d_only_samples_train_the_2d_terms_and_skip_the_3d_terms(tmp_path):
    path, real = _digits_cache(tmp_path, ["0/IMG_1234.JPG", "3/IMG_27.JPG"])
    samples = peer_reference.teacher_samples(path, folder=real)
    cfg = pipeline.PipelineConfig(input_size=32, heatmap_size=8, batch_size=2, augment=False,
                                  shuffle=False)
    image, t = next(iter(pipeline.make_pipeline(samples, cfg)))
    assert np.all(t["has_3d"].numpy() == 0) and np.all(t["xyz_norm"].numpy() == 0)
    assert t["heatmaps"].numpy().max() > 0.5                      # the 2D targets are there
    rng = np.random.default_rng(0)
    out = {"heatmaps": tf.constant(rng.normal(size=(2, 8, 8, 21)), tf.float32),
           "xyz": tf.constant(rng.normal(size=(2, 21, 3)), tf.float32),
           "xyz_intermediate": tf.constant(rng.normal(size=(2, 21, 3)), tf.float32),
           "uv_projected": tf.constant(rng.uniform(0, 8, (2, 21, 2)), tf.float32)}
    terms = pn.regnet_losses(t, out, heatmap_size=8)
    assert np.all(terms["xyz"].numpy() == 0) and np.all(terms["xyz_intermediate"].numpy() == 0)
    assert np.all(terms["heatmaps"].numpy() > 0) and np.all(terms["projection"].numpy() > 0)
    # the same sample with 3D labels: the 3D terms are the squared distances, as before
    t3 = dict(t, has_3d=tf.ones(2))
    want = np.mean(np.sum(np.square(out["xyz"].numpy()), -1), -1)
    np.testing.assert_allclose(pn.regnet_losses(t3, out, heatmap_size=8)["xyz"].numpy(), want, rtol=1e-5)
