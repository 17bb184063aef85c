"""The heatmap inspector: cached predictions agree with independent paths (the training
pipeline's evaluation, ``predict`` image by image), the panels draw what they claim, and
the widgets react to their selectors."""
import base64

import cv2
import numpy as np
import pytest

from handlib import drawing, files, heatmaps as hmaps, inspector as ins, metrics, pipeline as pl, prediction, weights
from handlib import pose_evaluation as pe


@pytest.fixture(scope="module")
def shipped():
    return weights.load_model("regnet")


@pytest.fixture(scope="module")
def samples():
    return pe.regression_samples()[:12]          # rendered, labelled, both sides


@pytest.fixture(scope="module")
def source(shipped, samples):
    return ins.from_samples(shipped, samples, name="rendered")


def test_cached_predictions_agree_with_the_evaluation(shipped, samples, source):
    """Errors shown per joint are those of the course's evaluation (computed here from
    the predictions mapped back to the image, then rescaled to crop pixels)."""
    p = pe.predict_batches(shipped, samples)
    np.testing.assert_allclose(source.heatmaps, p["outputs"]["heatmaps"], atol=1e-5)
    gt_uv, gt, bone, vis = pe._labels(samples)
    # both mapped from the sample's image into its crop by the crop camera (a homography)
    crops = [pl.crop_of(p["targets"], i, 128) for i in range(len(samples))]
    want_2d = metrics.epe_2d(np.stack([c.to_crop(u) for c, u in zip(crops, p["pred_uv_image"])]),
                             np.stack([c.to_crop(u) for c, u in zip(crops, gt_uv)]))
    np.testing.assert_allclose(source.err_2d, want_2d, rtol=1e-3, atol=1e-3)
    want_3d = metrics.errors_3d_mm(p["pred_xyz_camera"], gt, bone)    # camera frame: same distances
    np.testing.assert_allclose(source.err_3d_mm, want_3d, rtol=1e-4, atol=1e-3)
    assert source.crops.dtype == np.uint8 and source.crops.shape == (12, 128, 128, 3)
    assert set(source.sides) == {"left", "right"}


def test_worst_first_puts_the_largest_mean_error_first(source):
    order = source.order("worst 3D first")
    mean = [source.err_3d_mm[i].mean() for i in range(len(source))]
    assert sorted(order.tolist()) == list(range(len(source)))
    assert np.all(np.diff(np.asarray(mean)[order]) <= 1e-9)
    conf = source.order("least confident first")
    assert np.all(np.diff(source.confidence[conf].mean(1)) >= 0)


def test_user_images_go_through_predicts_crop_and_side_handling(shipped, tmp_path):
    """A folder of pictures: each cached answer equals ``predict_hand`` on that picture
    (run one at a time, not batched), including the side "auto" picks."""
    from handlib import images
    from handlib.synthetic import render_index
    for k in range(3):
        images.write_image(tmp_path / f"hand{k}.png", render_index(300 + k, 0, look="real-like").rgb)
    src = ins.from_images(shipped, tmp_path, side="auto")
    assert src.labels == ["hand0.png", "hand1.png", "hand2.png"] and not src.has_labels
    for k in range(3):
        one = prediction.predict_hand(shipped, images.read_image(tmp_path / f"hand{k}.png"), side="auto")
        assert src.sides[k] == one.side
        np.testing.assert_allclose(src.heatmaps[k], one.heatmaps, atol=1e-4)
    with pytest.raises(ValueError, match="needs labelled"):
        src.order("worst 2D first")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(files.DataFileError, match="empty"):
        ins.from_images(shipped, empty, side="left")
    with pytest.raises(ValueError, match="side"):
        ins.inspector(shipped, images=tmp_path)


def test_the_heatmap_panel_marks_each_maximum_where_it_is(source):
    """The red cross of each map sits on the map's decoded maximum (heatmap pixel ->
    panel pixel with the nearest-neighbour enlargement), and the colour bar runs from
    the top value down."""
    i, j = 3, 8
    img = ins.render_heatmaps(source, i, j)
    f = 128 // source.heatmap_size
    for k, uv in enumerate([source.uv[i, j], source.target_uv[i, j], source.rendered_uv[i, j]]):
        x0 = k * (128 + 6)
        u, v = np.round((uv + 0.5) * f - 0.5).astype(int)
        px = img[ins._STRIP + v, x0 + u].astype(int)
        assert px[0] > 200 and px[1] < 80 and px[2] < 80, (k, px)    # red cross on the maximum
    bar = img[ins._STRIP:ins._STRIP + 128, -46 + 5].astype(int)        # the colour ramp
    lum = bar.sum(1)
    assert lum[0] > lum[-1]                                            # yellow at the top
    target = hmaps.gaussian_heatmaps(source.gt_uv[i], source.heatmap_size)[..., j]
    np.testing.assert_allclose(source.target[i, ..., j], target, atol=1e-4)


def test_the_all_joints_view_colours_each_pixel_by_its_largest_joint(source):
    """In the all-joints view every heatmap pixel is coloured by the maximum over the 21
    maps (computed here from the raw heatmaps, not the cache's precomputed maxima), on
    the shared scale; away from the crosses and strips the panel is exactly that colour."""
    i = 5
    img = ins.render_heatmaps(source, i, ins.ALL_JOINTS)
    Hs, f = source.heatmap_size, 128 // source.heatmap_size
    lut = ins._colormap_lut()
    maps = [source.heatmaps[i], source.target[i], source.rendered[i]]
    lo = min(0.0, min(float(m.max(-1).min()) for m in maps))
    hi = max(1.0, max(float(m.max()) for m in maps))
    for k, m in enumerate(maps):
        expect = lut[np.clip((m.max(-1) - lo) * 255.0 / (hi - lo), 0, 255).astype(np.uint8)]
        panel = img[ins._STRIP:ins._STRIP + Hs * f, k * (128 + 6):k * (128 + 6) + Hs * f]
        shown = panel[f // 2::f, f // 2::f]                  # one pixel per heatmap pixel
        agree = np.all(shown == expect, axis=-1)
        assert agree.mean() > 0.8, (k, agree.mean())         # the rest: the 21 red crosses


def test_the_colour_bar_is_drawn_once_per_scale_and_labels_its_scale():
    a, b = ins._colour_bar(0.0, 1.0, 128), ins._colour_bar(0.0, 1.0, 128)
    assert a is b and not a.flags.writeable               # remembered, and nobody can draw on it
    c = ins._colour_bar(-0.2, 1.4, 128)
    assert c is not a and not np.array_equal(c, a)        # other labels
    np.testing.assert_array_equal(c[:, 2:12], a[:, 2:12])  # the same ramp


def test_a_skeleton_covers_the_pixels_of_its_bones_in_their_colours():
    """draw_skeleton draws each finger as one polyline: against an independent drawing of
    one line per bone (plain OpenCV, same colours and widths), the bone pixels are the
    same, and each bone's midpoint has its finger's colour."""
    rng = np.random.default_rng(3)
    uv = rng.uniform(20, 230, (21, 2))
    mine = np.zeros((256, 256, 3), np.uint8)
    drawing.draw_skeleton(mine, uv, thickness=3, radius=0)
    ref = np.zeros_like(mine)
    for b, (p, c) in enumerate(drawing.hm.BONES):
        cv2.line(ref, tuple(np.round(uv[p] * 16).astype(int)), tuple(np.round(uv[c] * 16).astype(int)),
                 drawing.BONE_RGB[b], 3, cv2.LINE_AA, 4)
    a, b = mine.any(-1), ref.any(-1)
    assert (a & b).sum() / (a | b).sum() > 0.97
    circles = np.zeros(mine.shape[:2], bool)            # the joints' dots (radius 1) aside
    for q in np.round(uv).astype(int):
        circles[max(q[1] - 3, 0):q[1] + 4, max(q[0] - 3, 0):q[0] + 4] = True
    for b, (p, c) in enumerate(drawing.hm.BONES):
        m = np.round((uv[p] + uv[c]) / 2).astype(int)
        if not circles[m[1], m[0]]:
            assert np.abs(mine[m[1], m[0]].astype(int) - drawing.BONE_RGB[b]).max() <= 40, b


def test_the_crop_panel_draws_the_skeleton_on_the_joints(source):
    i = 2
    plain = cv2.resize(source.crops[i], (256, 256), interpolation=cv2.INTER_LINEAR)
    drawn = ins.render_crop(source, i)
    uv = (hmaps.to_image_coords(source.uv[i], 128, source.heatmap_size) + 0.5) * 2 - 0.5
    changed = np.abs(drawn.astype(int) - plain).sum(-1) > 30
    inside = [(0 <= x < 256 and 0 <= y < 230) for x, y in uv]          # above the legend
    # each joint's dot: a white fill (radius 2 px) in a black ring (radius 3 px), so both
    # a bright and a dark pixel within 3 px of the joint, whatever the crop's colour there
    def dot(x, y):
        x, y = int(round(x)), int(round(y))
        win = drawn[max(y - 3, 0):y + 4, max(x - 3, 0):x + 4].astype(int).sum(-1)
        return win.min() < 60 and win.max() > 3 * 230
    hits = [dot(x, y) for (x, y), ok in zip(uv, inside) if ok]
    assert len(hits) >= 10 and all(hits)
    assert np.abs(drawn.astype(int) - plain).sum(-1)[:230].max() > 30
    # and nothing is drawn away from the two skeletons (predicted and labelled)
    label = (hmaps.to_image_coords(source.gt_uv[i], 128, source.heatmap_size) + 0.5) * 2 - 0.5
    near = np.zeros((256, 256), np.uint8)
    for pts in (uv, label):
        for p, c in drawing.hm.BONES:
            cv2.line(near, tuple(np.round(pts[p]).astype(int)), tuple(np.round(pts[c]).astype(int)), 1, 9)
        for q in np.round(pts).astype(int):
            cv2.circle(near, tuple(q), 9, 1, -1)
    assert not (changed & (near == 0))[:230].any()


def test_view_rotation_is_a_rotation_that_turns_about_the_vertical():
    R = ins.view_rotation(90, 0)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)
    np.testing.assert_allclose(R @ [0, 0, 1], [1, 0, 0], atol=1e-12)   # +z turns to +x
    np.testing.assert_allclose(R @ [0, 1, 0], [0, 1, 0], atol=1e-12)   # y stays
    np.testing.assert_allclose(ins.view_rotation(0, 0), np.eye(3))


def test_the_widgets_follow_their_selectors(source):
    app = ins.Inspector({"rendered": source})
    first = app.state()
    assert first == {"source": "rendered", "order": "sample order", "position": 0, "sample": 0,
                     "joint": ins.ALL_JOINTS}
    heat, crop, view = app.heat_image.value, app.crop_image.value, app.view_image.value
    app.select(joint=8)
    assert app.heat_image.value != heat and app.view_image.value == view   # the 3D view has no joint
    assert "I3" in app.heat_caption.value
    heat = app.heat_image.value
    app.next.click()
    assert app.state()["sample"] == 1 and app.crop_image.value != crop and app.heat_image.value != heat
    app.select(order="worst 2D first")
    assert app.state()["position"] == 0 and app.state()["sample"] == int(source.order("worst 2D first")[0])
    assert app.last_redraw_s > 0 and app.redraws >= 4
    decoded = cv2.imdecode(np.frombuffer(app.crop_image.value, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (256, 256, 3)


def test_a_rendered_copy_gets_a_png_of_the_view(source):
    app = ins.Inspector({"rendered": source})
    bundle = app._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    png = cv2.imdecode(np.frombuffer(base64.b64decode(bundle["image/png"]), np.uint8), cv2.IMREAD_COLOR)
    want = ins.render_view(source, 0)
    assert png.shape == want.shape
    # the fallback is the same picture as the panels (PNG is lossless)
    np.testing.assert_array_equal(png[..., ::-1], want)


def test_right_hands_are_shown_mirrored_as_the_network_sees_them(samples, source):
    """A right hand's crop is a mirror image: its labels in the crop's frame are a left
    hand's (checked by the hand's geometry alone, hm.handedness), while the sample's own
    labels are a right hand's; left hands stay left."""
    from handlib import hand_model as hm
    left = hm.handedness(hm.rest_pose(side="left"))
    right = hm.handedness(hm.rest_pose(side="right"))
    assert left != right
    sides = [s.side for s in samples]
    assert "left" in sides and "right" in sides
    for i, s in enumerate(samples):
        assert source.sides[i] == s.side
        assert hm.handedness(s.xyz_norm) == (right if s.side == "right" else left)
        assert hm.handedness(source.gt_xyz[i]) == left
    assert "mirrored" in ins.summary_line(source, sides.index("right"))
    assert "mirrored" not in ins.summary_line(source, sides.index("left"))


def test_switching_between_labelled_sources_keeps_the_ordering(source):
    app = ins.Inspector({"a": source, "b": source})
    app.select(order="worst 3D first")
    app.select(source="b")
    assert app.ordering.value == "worst 3D first"
    assert app.state()["sample"] == int(source.order("worst 3D first")[0])


def test_sources_without_labels_offer_no_error_ordering(shipped, source):
    frames = [source.crops[k] for k in range(3)]
    mine = ins.from_images(shipped, frames, side="left", name="frames")
    app = ins.Inspector({"rendered": source, "frames": mine})
    app.select(order="worst 3D first")
    app.select(source="frames")
    assert app.ordering.value == "sample order" and "worst 3D first" not in app.ordering.options
    assert "2D error" not in app.table.value and "confidence" in app.table.value


def test_captions_are_drawn_whole_at_their_size(source, shipped, monkeypatch):
    """Every caption of the panels fits its picture at its own font size: none is
    shrunk or cut (a clipped "max 0.93 at (17.7, 18.5" was the bug), for one joint, all
    joints, the intermediate shown, labelled and unlabelled sources."""
    # the colour bar, the 3D view's background and fitted captions are remembered: start
    # from empty caches so that every caption passes through fit_text here
    for cached in (ins._colour_bar_cached, drawing._view_background, drawing.fit_text):
        cached.cache_clear()
    drawn = []
    real = drawing.fit_text

    def record(s, scale, width):
        out = real(s, scale, width)
        drawn.append((s, scale, width, out))
        return out
    monkeypatch.setattr(drawing, "fit_text", record)
    mine = ins.from_images(shipped, [source.crops[0]], side="left", name="your pictures (stand-ins)")
    for src in (source, mine):
        for joint in (ins.ALL_JOINTS, 8, 20):
            ins.render_view(src, 0, joint, azimuth=-180, intermediate=True)
    assert len(drawn) > 50
    cut = [(s, scale, width, out) for s, scale, width, out in drawn if out != (s, scale)]
    assert not cut
    notes = [s for s, *_ in drawn if s.startswith("peak at (")]
    assert notes and all(s.endswith(")") for s in notes)


def test_long_captions_are_shrunk_then_cut_to_fit():
    s, scale = drawing.fit_text("x" * 10, 0.4, 500)
    assert (s, scale) == ("x" * 10, 0.4)                          # fits: unchanged
    s, scale = drawing.fit_text("a rather long source name, sample 7 of 12", 0.42, 200)
    assert scale < 0.42 and cv2.getTextSize(s, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] <= 200
    s, scale = drawing.fit_text("w" * 200, 0.42, 100)
    assert scale == drawing.MIN_SCALE and s.endswith("..")
    assert cv2.getTextSize(s, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] <= 100


def test_the_app_counts_samples_from_one(source):
    """What the app shows counts from 1 ("sample 1 of 12" and the slider at 1 for the
    first sample); state() and select() keep Python's 0-based positions."""
    n = len(source)
    assert "sample 7 of 12 (" in ins.summary_line(source, 6) and n == 12
    app = ins.Inspector({"rendered": source})
    assert (app.sample.min, app.sample.value, app.sample.max) == (1, 1, n)
    assert f"sample 1 of {n} ({source.labels[0]})" in app.summary.value
    app.next.click()
    assert app.sample.value == 2 and app.state()["position"] == 1 and f"sample 2 of {n}" in app.summary.value
    app.select(sample=n - 1)
    assert app.sample.value == n and app.state()["sample"] == n - 1
    app.next.click()                                              # already at the last: stays
    assert app.sample.value == n
    app.prev.click()
    assert app.state()["position"] == n - 2
    app.select(order="worst 3D first")
    assert app.sample.value == 1 and app.sample.description == "rank"
    assert f"sample {app.state()['sample'] + 1} of {n}" in app.summary.value


def test_stand_in_pictures_and_their_source_name(shipped, tmp_path):
    """The course-made stand-ins for your own pictures: deterministic rendered photos of
    a hand, shown under the name given (not the folder's)."""
    from handlib import images
    paths = ins.stand_in_pictures(tmp_path / "a", n=2, seed=3, size=160)
    again = ins.stand_in_pictures(tmp_path / "b", n=2, seed=3, size=160)
    assert [p.name for p in paths] == ["stand_in_1.png", "stand_in_2.png"]
    for p, q in zip(paths, again):
        a = images.read_image(p)
        assert a.shape == (160, 160, 3) and a.dtype == np.uint8
        np.testing.assert_array_equal(a, images.read_image(q))
    app = ins.inspector(shipped, images=tmp_path / "a", side="auto", images_name="your pictures (stand-ins)")
    assert list(app.sources) == ["your pictures (stand-ins)"]
    assert app.current.labels == ["stand_in_1.png", "stand_in_2.png"]


def test_the_heatmap_panel_keeps_its_colours_through_jpeg(source):
    """The heatmaps go to the browser as JPEG (quality 95, 4:4:4): every colour within a
    few levels of the drawn panel, the red maxima crosses still red."""
    import cv2
    app = ins.Inspector({"rendered": source})
    state = app.state()
    drawn = ins.render_heatmaps(source, state["sample"], state["joint"])
    got = cv2.cvtColor(cv2.imdecode(np.frombuffer(app.heat_image.value, np.uint8), cv2.IMREAD_COLOR),
                       cv2.COLOR_BGR2RGB).astype(int)
    assert got.shape == drawn.shape
    diff = np.abs(got - drawn.astype(int))
    assert np.percentile(diff, 99) <= 10 and diff.mean() < 1.5
    red = np.all(drawn == (255, 40, 40), axis=-1)
    assert red.sum() > 10 and np.all(got[red][:, 0] > 200) and np.all(got[red][:, 1] < 110)
