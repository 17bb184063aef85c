"""GANerating a data set (handlib.ganerate) and judging translations
(handlib.gan_evaluation): labels carried over byte for byte, resuming, the reader
loading the result, and the statistics against independent computations."""
from __future__ import annotations

import filecmp
import os
from pathlib import Path

import numpy as np
import pytest

from handlib import backend

tf = backend.tensorflow()
import keras  # noqa: E402

from handlib import files, gan, ganerate, ganerated, gan_evaluation, weights  # noqa: E402
from handlib.synthetic import make_dataset  # noqa: E402


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    make_dataset(root, 5, look="synth", seed=3, size=64, progress=False)
    return root


@pytest.fixture(scope="module")
def generator_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "g.keras"
    weights.save_model(gan.resnet_generator(filters=4, blocks=1, name="g_synth_to_real"), path)
    files.write_json(weights.record_path(path), {"config": {"size": 32}})
    return path


def test_ganerated_set_keeps_every_label_and_is_read_back(rendered, generator_file, tmp_path):
    out = tmp_path / "gan"
    summary = ganerate.ganerate_dataset(rendered, out, generator_file, background="white",
                                        progress=False)
    assert summary == {"written": 5, "skipped": 0, "total": 5}
    src = {s.image_path: s for s in ganerated.read_ganerated(rendered)}
    got = ganerated.read_ganerated(out)
    assert len(got) == 5
    for s in got:
        rel = Path(s.image_path).relative_to(out)
        stem = str(rel)[: -len("_color_composed.png")]
        for suffix in ganerate.LABEL_SUFFIXES:
            assert filecmp.cmp(rendered / f"{stem}{suffix}", out / f"{stem}{suffix}", shallow=False), suffix
        a = src[str(rendered / rel)]
        np.testing.assert_array_equal(s.uv, a.uv)
        np.testing.assert_array_equal(s.xyz, a.xyz)
        assert s.side == a.side and s.extra["ganerated"]["background"] == "white"
        # outside the exact silhouette: the new background; inside: the translation
        img, mask = s.load_image(), s.load_mask()
        assert (img[~mask] == 255).all()
        assert not np.array_equal(img[mask], a.load_image()[mask])


def test_ganerating_resumes_and_refuses_other_settings(rendered, generator_file, tmp_path):
    out = tmp_path / "gan"
    ganerate.ganerate_dataset(rendered, out, generator_file, background="clutter", progress=False)
    last = sorted(out.glob("data/noObject/*/*_scene.json"))[-1]
    before = last.with_name(last.name.replace("_scene.json", "_color_composed.png")).read_bytes()
    last.unlink()                                      # as if killed before the last file
    summary = ganerate.ganerate_dataset(rendered, out, generator_file, background="clutter",
                                        progress=False)
    assert summary == {"written": 1, "skipped": 4, "total": 5}
    after = last.with_name(last.name.replace("_scene.json", "_color_composed.png")).read_bytes()
    assert before == after                             # the same frame again (seeded background)
    with pytest.raises(ValueError, match="other settings"):
        ganerate.ganerate_dataset(rendered, out, generator_file, background="white", progress=False)
    for inside in (rendered, rendered / "ganerated"):
        with pytest.raises(ValueError, match="outside the source"):
            ganerate.ganerate_dataset(rendered, inside, generator_file, progress=False)


def test_ganerate_names_a_missing_source_generator_or_record(tmp_path, generator_file, rendered):
    with pytest.raises(files.DataFileError, match="no frames"):
        ganerate.ganerate_dataset(tmp_path / "nothing", tmp_path / "out", generator_file,
                                  progress=False)
    with pytest.raises(FileNotFoundError, match="missing.keras"):
        ganerate.ganerate_dataset(rendered, tmp_path / "out", tmp_path / "missing.keras",
                                  progress=False)
    bare = tmp_path / "bare.keras"
    bare.write_bytes(generator_file.read_bytes())          # a generator without its record
    with pytest.raises(files.DataFileError, match="bare.json"):
        ganerate.ganerate_dataset(rendered, tmp_path / "out", bare, progress=False)


def test_translate_frame_keeps_the_frame_size_and_the_box(rendered, generator_file):
    s = ganerated.read_ganerated(rendered)[0]
    g = weights.load_model(generator_file)
    img, mask = s.load_image(), s.load_mask()
    out = ganerate.translate_frame(g, img, s.uv, mask, 32)
    assert out.shape == img.shape and out.dtype == np.uint8
    # inside the box the pixels are the generator's: an identity "generator" gives back
    # the frame there (up to resampling), whatever the colour matching does outside
    ident = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Identity()])
    same = ganerate.translate_frame(ident, img, s.uv, mask, 64)
    c, side = ganerate.joint_box(s.uv)
    y0, y1 = int(max(c[1] - side / 2 + 6, 0)), int(min(c[1] + side / 2 - 6, img.shape[0]))
    x0, x1 = int(max(c[0] - side / 2 + 6, 0)), int(min(c[0] + side / 2 - 6, img.shape[1]))
    diff = np.abs(same[y0:y1, x0:x1].astype(int) - img[y0:y1, x0:x1])
    assert np.median(diff) <= 2


def test_worst_decile_and_bootstrap_against_direct_computations():
    v = np.arange(1, 21, dtype=float) / 20          # 0.05 .. 1.0
    assert gan_evaluation.worst_decile_mean(v) == pytest.approx((0.05 + 0.10) / 2)
    lo, hi = gan_evaluation.bootstrap_interval(v, np.mean)
    assert lo < v.mean() < hi and hi - lo < 0.3
    # identical arms: the paired difference is exactly 0 in every resample
    assert gan_evaluation.paired_interval(v, v, np.mean) == (0.0, 0.0)
    # a constant shift of 0.1 is recovered exactly by the paired interval
    lo, hi = gan_evaluation.paired_interval(v, v + 0.1, gan_evaluation.worst_decile_mean)
    assert lo == pytest.approx(0.1) and hi == pytest.approx(0.1)


def test_the_judge_recovers_rendered_silhouettes(rendered):
    samples = ganerated.read_ganerated(rendered)
    imgs = np.stack([s.load_image() for s in samples])
    masks = np.stack([s.load_mask() for s in samples])
    res = gan_evaluation.compare(imgs, masks, {"same": imgs, "empty": np.full_like(imgs, 255)})
    assert res["ceiling"]["mean"] > 0.85
    assert res["arms"]["same"]["mean"] == pytest.approx(res["ceiling"]["mean"])
    assert res["arms"]["empty"]["mean"] < 0.2
    assert res["differences"]["empty - same"]["mean"] < -0.6
    # a blank image has no hand to find; the renders all have one
    assert res["arms"]["empty"]["no_hand_found"] == 1.0 and res["arms"]["empty"]["mean_where_found"] is None
    assert res["ceiling"]["no_hand_found"] == 0.0
    assert res["ceiling"]["mean_where_found"] == pytest.approx(res["ceiling"]["mean"])


def test_paired_difference_where_both_arms_were_judged(monkeypatch):
    """The 'where both found' difference uses only images judged in both arms."""
    masks = np.zeros((4, 8, 8), bool)
    masks[:, 2:6, 2:6] = True
    a, b = np.zeros_like(masks), np.zeros_like(masks)
    a[:2, 2:6, 2:6] = True            # arm a: a hand found (exact) in images 0, 1
    b[1:3, 2:6, 2:4] = True           # arm b: a hand found (half of it) in images 1, 2
    inputs, x_a, x_b = (np.full((4, 8, 8, 3), v, np.uint8) for v in (0, 1, 2))
    silhouettes = {0: masks, 1: a, 2: b}     # a stand-in judge: looks the arm up by pixel value
    monkeypatch.setattr(gan_evaluation, "judge", lambda imgs: silhouettes[int(imgs[0, 0, 0, 0])])
    res = gan_evaluation.compare(inputs, masks, {"a": x_a, "b": x_b})
    both = res["differences"]["b - a"]["where_both_found"]
    assert both["n"] == 1 and both["mean"] == pytest.approx(0.5 - 1.0)
    assert res["arms"]["a"]["no_hand_found"] == 0.5 and res["arms"]["b"]["mean_where_found"] == 0.5
    assert "where the judge found a hand in both (1 images)" in gan_evaluation.format_table(res)


GANERATED_LABEL_FILES = ("_joint_pos.txt", "_joint2D.txt", "_joint_pos_global.txt", "_crop_params.txt",
                         "_visibility.txt", "_mask.png", "_depth.png")
"""The label files of a frame in the GANerated layout (handlib.ganerated's docstring),
written out here rather than taken from ganerate.LABEL_SUFFIXES."""


def test_every_label_file_of_a_frame_is_copied_byte_for_byte(rendered, generator_file, tmp_path):
    """All of the layout's label files, visibility included, and whatever else the source
    frame holds besides its image and scene file, arrive unchanged."""
    out = tmp_path / "gan"
    ganerate.ganerate_dataset(rendered, out, generator_file, background="white", limit=2, progress=False)
    frames = sorted(out.glob("data/*/*/*_scene.json"))
    assert len(frames) == 2
    for scene in frames:
        stem = str(scene.relative_to(out))[: -len("_scene.json")]
        source = {p.name[len(Path(stem).name):] for p in (rendered / stem).parent.glob(Path(stem).name + "_*")}
        assert set(GANERATED_LABEL_FILES) <= source                     # the source has them all
        for suffix in sorted(source - {"_color_composed.png", "_scene.json"}):
            assert (out / f"{stem}{suffix}").is_file(), suffix
            assert filecmp.cmp(rendered / f"{stem}{suffix}", out / f"{stem}{suffix}", shallow=False), suffix
