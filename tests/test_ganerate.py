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

from handlib import files, gan, ganerate, ganerated, gan_evaluation, images, weights  # noqa: E402
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


# ----------------------------------------------------------------- the peer judge
def _answers(path, items):
    """A peer cache for a folder (handlib.peer_reference.FOLDER_FORMAT): file -> uv or None."""
    files.write_json(path, {"format": "handlib-peer-folder/1", "images": [
        {"file": f, "readable": True, "width": 64, "height": 64, "detected": uv is not None,
         **({} if uv is None else {"uv_px": np.asarray(uv).tolist()})} for f, uv in items.items()]})


def test_peer_frames_differ_only_where_they_should(rendered, generator_file, tmp_path, monkeypatch):
    out = tmp_path / "judge"
    ident = tmp_path / "ident.keras"
    weights.save_model(keras.Sequential([keras.Input((None, None, 3)), keras.layers.Identity()],
                                        name="g_synth_to_real"), ident)
    files.write_json(weights.record_path(ident), {"config": {"size": 64}})
    index = gan_evaluation.peer_frames(rendered, out, {"g": generator_file, "identity": ident},
                                       frames=3, seed=5, progress=False)
    assert index["arm_order"] == [gan_evaluation.PEER_RENDER, gan_evaluation.PEER_RENDER_OVER_PHOTO,
                                  "g", "identity"]
    src = ganerated.read_ganerated(rendered)
    chosen = [0, 2, 4]                                   # 3 of 5 frames, evenly spaced
    for rec, k in zip(index["images"], chosen):
        s = src[k]
        assert Path(s.image_path).name.startswith(Path(rec["source"]).name)
        np.testing.assert_allclose(rec["uv_px"], s.uv, atol=1e-3)
        img, mask = s.load_image(), s.load_mask()
        read = {a: images.read_image(out / slug / rec["file"]) for a, slug in index["arms"].items()}
        np.testing.assert_array_equal(read[gan_evaluation.PEER_RENDER], img)
        over, g = read[gan_evaluation.PEER_RENDER_OVER_PHOTO], read["g"]
        np.testing.assert_array_equal(over[mask], img[mask])         # the untranslated hand
        np.testing.assert_array_equal(over[~mask], g[~mask])         # the same photo behind both
        assert not np.array_equal(g[mask], img[mask])                # a translated hand
        # an identity "generator" keeps the hand far closer to the render than a random one
        gap = {a: np.abs(read[a][mask].astype(int) - img[mask]).mean() for a in ("identity", "g")}
        assert gap["identity"] < 0.25 * gap["g"]
    # a rerun with the same settings keeps the files; other settings are refused
    before = (out / "g" / "0001.png").stat().st_mtime_ns
    gan_evaluation.peer_frames(rendered, out, {"g": generator_file, "identity": ident}, frames=3, seed=5,
                               progress=False)
    assert (out / "g" / "0001.png").stat().st_mtime_ns == before
    with pytest.raises(ValueError, match="other settings"):
        gan_evaluation.peer_frames(rendered, out, {"g": generator_file}, frames=3, seed=6, progress=False)
    with pytest.raises(ValueError, match="differ"):
        gan_evaluation.peer_frames(rendered, tmp_path / "x", {gan_evaluation.PEER_RENDER: ident}, progress=False)
    # killed after its first image: the settings are on disk already, so a rerun with
    # others is refused, the judge refuses the unfinished index, and the same settings finish
    from handlib import images as images_mod
    real_write, calls = images_mod.write_image, []

    def dies_after_one(path, image):
        if calls:
            raise KeyboardInterrupt
        calls.append(path)
        real_write(path, image)
    killed = tmp_path / "killed"
    monkeypatch.setattr(images_mod, "write_image", dies_after_one)
    with pytest.raises(KeyboardInterrupt):
        gan_evaluation.peer_frames(rendered, killed, {"g": generator_file}, frames=3, seed=5, progress=False)
    monkeypatch.setattr(images_mod, "write_image", real_write)
    assert [p.name for p in killed.rglob("*.png")] == ["0000.png"]       # nothing half-written
    with pytest.raises(ValueError, match="other settings"):
        gan_evaluation.peer_frames(rendered, killed, {"g": generator_file}, frames=3, seed=6, progress=False)
    with pytest.raises(files.DataFileError, match="finished frame index"):
        gan_evaluation.peer_judge(killed)
    done = gan_evaluation.peer_frames(rendered, killed, {"g": generator_file}, frames=3, seed=5, progress=False)
    assert len(done["images"]) == 3
    assert sorted(p.name for p in (killed / "g").iterdir()) == ["0000.png", "0001.png", "0002.png"]
    # the picture: a row per arm, a column per frame, "no hand" where the peer found none
    import matplotlib
    matplotlib.use("Agg")
    from handlib import visualisation as vis
    for a, slug in index["arms"].items():
        _answers(out / slug / "mediapipe-0.10.21.json",
                 {r["file"]: (None if a == "g" else r["uv_px"]) for r in index["images"]})
    res = gan_evaluation.peer_judge(out)
    assert res["arms"]["g"]["detected"] == 0 and res["arms"]["identity"]["error_px_mean"] == pytest.approx(0)
    table = gan_evaluation.format_peer_table(res)
    assert "| g | 0 % (0 to 0) of 3 | - |" in table and "| g − render over a photo (paired) |" in table
    fig = vis.show_peer_judge(out, res, frames=2)
    axes = np.array(fig.axes).reshape(4, 2)
    texts = [[t.get_text() for t in ax.texts] for ax in axes.ravel()]
    assert texts == [[]] * 4 + [["no hand"]] * 2 + [[]] * 2
    assert axes[0, 0].get_title(loc="left").startswith(gan_evaluation.PEER_RENDER)


def test_peer_judge_scores_against_direct_computations(tmp_path):
    labels = {f"{k:04d}.png": np.full((21, 2), 10.0 + k) for k in range(4)}
    files.write_json(tmp_path / "frames.json", {
        "format": gan_evaluation.PEER_FRAMES_FORMAT, "source": "s", "seed": 0, "frames": 4,
        "arms": {"render, own background": "a", "render over a photo": "b", "gen": "c"},
        "arm_order": ["render, own background", "render over a photo", "gen"],
        "generators": {"gen": {}},
        "images": [{"file": f, "source": f, "uv_px": uv.tolist()} for f, uv in labels.items()]})
    off = lambda d: {f: uv + d for f, uv in labels.items()}            # noqa: E731
    for d in "abc":
        (tmp_path / d).mkdir()
    _answers(tmp_path / "a" / "mediapipe-0.10.21.json", off([3.0, 4.0]))   # 5 px everywhere
    b = off([0.0, 2.0])                                                     # 2 px; one missed
    b["0003.png"] = None
    _answers(tmp_path / "b" / "mediapipe-0.10.21.json", b)
    c = off([6.0, 8.0])                                                     # 10 px; two missed
    c["0000.png"] = c["0001.png"] = None
    _answers(tmp_path / "c" / "mediapipe-0.10.21.json", c)
    res = gan_evaluation.peer_judge(tmp_path)
    a, b_, c_ = (res["arms"][k] for k in res["arm_order"])
    assert (a["detected"], b_["detected"], c_["detected"]) == (4, 3, 2)
    assert a["error_px_mean"] == pytest.approx(5.0) and b_["error_px_mean"] == pytest.approx(2.0)
    assert c_["error_px_median"] == pytest.approx(10.0)
    d = res["differences"]["gen"]
    assert d["detection_rate"] == pytest.approx(2 / 4 - 3 / 4)
    assert d["both_detected"] == 1                      # only frame 2 is found in b and c
    assert d["error_px_mean"] is None                   # one frame: no interval, no figure
    table = gan_evaluation.format_peer_table(res)
    assert table.index("render, own background") < table.index("render over a photo") < table.index("| gen |")
    assert "-25 points" in table
    # an image the peer could not read, a frame without an answer and a malformed cache are named
    files.write_json(tmp_path / "c" / "mediapipe-0.10.21.json", {"format": "handlib-peer-folder/1", "images": [
        {"file": f, "readable": False, "detected": False} for f in labels]})
    with pytest.raises(files.DataFileError, match="0000.png unreadable"):
        gan_evaluation.peer_judge(tmp_path)
    _answers(tmp_path / "c" / "mediapipe-0.10.21.json", {"0000.png": None})
    with pytest.raises(files.DataFileError, match="0001.png"):
        gan_evaluation.peer_judge(tmp_path)
    (tmp_path / "c" / "mediapipe-0.10.21.json").write_text('{"format": "other"}')
    with pytest.raises(files.DataFileError, match="mediapipe-0.10.21.json"):
        gan_evaluation.peer_judge(tmp_path)


def test_the_readme_shows_the_committed_peer_judge_figures():
    """The README's peer-judge table is :func:`format_peer_table` of the committed results."""
    import json
    text = (files.REPO_ROOT / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- gan-peer-judge: start -->", "<!-- gan-peer-judge: end -->"
    assert text.count(start) == 1 and text.count(end) == 1
    block = text.split(start)[1].split(end)[0].strip()
    result = json.loads((files.REPO_ROOT / "data/results/gan_peer_judge.json").read_text())
    assert block == gan_evaluation.format_peer_table(result).strip()
    assert result["command"].startswith("python tools/gan_peer_judge.py")


def test_an_earlier_generators_rows_are_kept_only_on_the_same_frames(tmp_path):
    """keep_generators: a generator judged earlier (its weights gone) keeps its rows beside
    a new one when the shared versions re-measure the same, and is refused otherwise."""
    labels = {f"{k:04d}.png": np.full((21, 2), 10.0 + k) for k in range(4)}

    def judge(folder, generators):
        arms = {"render, own background": "a", "render over a photo": "b"} | {
            g: f"g{i}" for i, g in enumerate(generators)}
        files.write_json(folder / "frames.json", {
            "format": gan_evaluation.PEER_FRAMES_FORMAT, "source": "s", "seed": 0, "frames": 4,
            "arms": arms, "arm_order": list(arms), "generators": {g: {"weights": g} for g in generators},
            "images": [{"file": f, "source": f, "uv_px": uv.tolist()} for f, uv in labels.items()]})
        for arm, slug in arms.items():
            (folder / slug).mkdir(parents=True)
            shift = {"render, own background": 1.0, "render over a photo": 2.0}.get(arm, 3.0 + len(arm) % 3)
            _answers(folder / slug / "mediapipe-0.10.21.json", {f: uv + shift for f, uv in labels.items()})
        return gan_evaluation.peer_judge(folder)
    old = judge(tmp_path / "old", ["shipped", "longer"])
    old["command"] = "the earlier command"
    new = judge(tmp_path / "new", ["shipped", "wider"])
    both = gan_evaluation.keep_generators(new, old)
    assert both["arm_order"] == ["render, own background", "render over a photo", "shipped", "longer", "wider"]
    assert both["arms"]["longer"] == old["arms"]["longer"] and both["arms"]["wider"] == new["arms"]["wider"]
    assert both["differences"]["longer"] == old["differences"]["longer"]
    assert both["generators"]["longer"]["measured_by"] == "the earlier command"
    assert "measured_by" not in both["generators"]["wider"] and new["arm_order"][-1] == "wider"
    assert "| longer |" in gan_evaluation.format_peer_table(both)
    # other frames: refused, naming what differs
    moved = {**old, "arms": {**old["arms"], "render over a photo": {**old["arms"]["render over a photo"],
                                                                    "error_px_mean": 9.0}}}
    with pytest.raises(ValueError, match="render over a photo"):
        gan_evaluation.keep_generators(new, moved)
    close = {**old, "arms": {**old["arms"], "shipped": {**old["arms"]["shipped"],
                                                        "error_px_mean": old["arms"]["shipped"]["error_px_mean"] + 0.01}}}
    assert gan_evaluation.keep_generators(new, close)["arms"]["shipped"] == new["arms"]["shipped"]   # last bits
    with pytest.raises(ValueError, match="seed_backgrounds"):
        gan_evaluation.keep_generators(new, {**old, "seed_backgrounds": 1})
