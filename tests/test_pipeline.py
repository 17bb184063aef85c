"""The input pipeline moves images and labels together; heatmaps are what they say."""
import numpy as np
import pytest

from handlib import camera as cam
from handlib import crop_camera as cc
from handlib import datasets, pipeline, synthetic
from handlib import hand_model as hm
from handlib import heatmaps as hmaps


def test_heatmap_peak_is_one_at_the_joint_and_decodes_back():
    uv = np.array([[3.3, 7.8], [10.5, 2.2]])
    h = hmaps.gaussian_heatmaps(uv, 16, sigma=1.5)
    assert h.shape == (16, 16, 2)
    # closed form at an integer pixel next to joint 0
    assert h[8, 3, 0] == pytest.approx(np.exp(-(0.3 ** 2 + 0.2 ** 2) / (2 * 1.5 ** 2)), rel=1e-6)
    got, peak = hmaps.heatmap_maxima(h)
    np.testing.assert_allclose(got, uv, atol=1e-4)
    assert np.all(peak > 0.9)


def test_heatmap_coordinates_round_trip_and_align_pixel_centres():
    uv = np.random.default_rng(0).uniform(0, 127, size=(21, 2))
    back = hmaps.to_image_coords(hmaps.to_heatmap_coords(uv, 128, 32), 128, 32)
    np.testing.assert_allclose(back, uv)
    # the centre of the 4x4 input block (1.5, 1.5) is heatmap pixel 0
    np.testing.assert_allclose(hmaps.to_heatmap_coords(np.array([1.5, 1.5]), 128, 32), [0, 0])


def _dot_sample(tmp_path, side="left"):
    """A 640x480 image with a bright dot at each of 21 known joint positions."""
    import cv2
    rng = np.random.default_rng(4)
    uv = np.round(rng.uniform([380, 150], [520, 290], size=(21, 2)))
    img = np.zeros((480, 640, 3), np.uint8)
    for u, v in uv:
        cv2.circle(img, (int(u), int(v)), 2, (255, 255, 255), -1)
    path = tmp_path / "dots.png"
    cv2.imwrite(str(path), img)
    xyz = cam.back_project(cam.GANERATED, uv, np.full(21, 500.0))
    return datasets.HandSample(image_path=str(path), sequence="s", uv=uv, xyz=xyz,
                               xyz_norm=hm.normalise(xyz)[0], side=side)


def _homography(t, i):
    """Source -> crop pixels from the returned crop, written out with plain NumPy."""
    return t["crop_K"][i].astype(float) @ t["crop_R"][i].astype(float) @ np.linalg.inv(t["image_K"][i])


@pytest.mark.parametrize("side", ["left", "right"])            # right: flipped in the crop
def test_heatmap_peaks_sit_on_the_dots_of_the_warped_image(tmp_path, side):
    sample = _dot_sample(tmp_path, side)
    cfg = pipeline.PipelineConfig(input_size=128, heatmap_size=32, batch_size=4, seed=3,
                                  max_rotation=45, color_jitter=0.0, background_prob=0.0,
                                  shuffle=False)
    images, t = next(iter(pipeline.make_pipeline([sample] * 4, cfg)))
    images, t = images.numpy(), {k: v.numpy() for k, v in t.items()}
    assert np.ptp(t["uv_input"][:, 0, 0]) > 1.0                  # the four copies differ
    assert np.all(t["flipped"] == float(side == "right"))
    peaks, _ = hmaps.heatmap_maxima(t["heatmaps"])
    peaks_in = hmaps.to_image_coords(peaks, 128, 32)              # heatmap -> input pixels
    checked = 0
    for i in range(4):
        H = _homography(t, i)
        h = np.c_[sample.uv, np.ones(21)] @ H.T
        expect = h[:, :2] / h[:, 2:]                               # the dots, mapped
        np.testing.assert_allclose(t["uv_input"][i], expect, atol=1e-3)
        grey = images[i].mean(axis=-1)
        for j, (u, v) in enumerate(expect):
            if not (4 <= u <= 123 and 4 <= v <= 123):
                continue
            # the dot in the warped image: intensity centroid around the expected place
            x0, y0 = int(round(u)), int(round(v))
            win = grey[y0 - 3:y0 + 4, x0 - 3:x0 + 4]
            if win.sum() < 1.0 or np.min(np.linalg.norm(expect - expect[j], axis=1)[
                    np.arange(21) != j]) < 6:
                continue                                           # faded, or two dots merged
            yy, xx = np.mgrid[-3:4, -3:4]
            dot = np.array([x0 + (win * xx).sum() / win.sum(), y0 + (win * yy).sum() / win.sum()])
            assert np.linalg.norm(dot - [u, v]) <= 1.0
            assert np.linalg.norm(peaks_in[i, j] - dot) <= 1.0      # the heatmap found the dot
            checked += 1
    assert checked >= 20


def test_3d_targets_project_onto_the_2d_targets_through_the_crop_camera(tmp_path):
    synthetic.make_dataset(tmp_path / "set", 6, seed=2, progress=False)
    samples = datasets.open_dataset(tmp_path / "set")
    cfg = pipeline.PipelineConfig(batch_size=6, seed=5, max_rotation=60, shuffle=False)
    _, t = next(iter(pipeline.make_pipeline(samples, cfg)))
    t = {k: v.numpy().astype(np.float64) for k, v in t.items()}
    for i, s in enumerate(samples):
        _, root, scale = hm.normalise(s.xyz)
        R = t["crop_R"][i]
        X = t["xyz_norm"][i] * scale + R @ root          # the target, back in millimetres
        h = X @ t["crop_K"][i].T
        np.testing.assert_allclose(h[:, :2] / h[:, 2:], t["uv_input"][i], atol=0.05)
        # normalisation survives: M0 at the origin, |W - M0| = 1
        np.testing.assert_allclose(t["xyz_norm"][i][9], 0.0, atol=1e-6)
        assert np.linalg.norm(t["xyz_norm"][i][0]) == pytest.approx(1.0, abs=1e-5)
        # mapped back to the sample's image and camera frame
        crop = pipeline.crop_of(t, i)
        np.testing.assert_allclose(crop.from_crop(t["uv_input"][i]), s.uv, atol=0.02)
        np.testing.assert_allclose(crop.from_crop_frame(t["xyz_norm"][i]), s.xyz_norm, atol=1e-5)


def test_every_hand_comes_out_left_and_the_flip_is_an_image_flip(tmp_path):
    synthetic.make_dataset(tmp_path / "set", 8, seed=4, progress=False)
    samples = datasets.open_dataset(tmp_path / "set")
    assert {s.side for s in samples} == {"left", "right"}
    plain = dict(batch_size=8, shuffle=False, augment=False)
    images, t = next(iter(pipeline.make_pipeline(samples, pipeline.PipelineConfig(**plain))))
    raw_images, raw = next(iter(pipeline.make_pipeline(
        samples, pipeline.PipelineConfig(canonical_side=None, **plain))))
    for i, s in enumerate(samples):
        xyz = t["xyz_norm"][i].numpy()
        assert hm.handedness(xyz) == -1                       # canonical side: left
        flipped = s.side == "right"
        assert t["flipped"][i].numpy() == float(flipped)
        if flipped:
            np.testing.assert_allclose(images[i].numpy(), raw_images[i].numpy()[:, ::-1], atol=2e-3)
            u, v = raw["uv_input"][i].numpy().T
            np.testing.assert_allclose(t["uv_input"][i].numpy(), np.c_[127 - u, v], atol=1e-3)
            np.testing.assert_allclose(xyz, raw["xyz_norm"][i].numpy() * [-1, 1, 1], atol=1e-6)
        else:
            np.testing.assert_array_equal(images[i].numpy(), raw_images[i].numpy())


def test_joints_leaving_the_crop_become_invisible(tmp_path):
    sample = _dot_sample(tmp_path)
    cfg = pipeline.PipelineConfig(batch_size=1, augment=False, margin=-0.3, shuffle=False)
    _, t = next(iter(pipeline.make_pipeline([sample], cfg)))
    uv, vis = t["uv_input"][0].numpy(), t["visible"][0].numpy()
    outside = np.any((uv < -0.5) | (uv > 127.5), axis=1)
    assert 3 <= outside.sum() <= 18                           # a tight crop cuts some off
    np.testing.assert_array_equal(vis, (~outside).astype(np.float32))


def test_a_seeded_pipeline_is_deterministic(tmp_path):
    sample = _dot_sample(tmp_path)
    cfg = pipeline.PipelineConfig(batch_size=3, seed=9)
    a = next(iter(pipeline.make_pipeline([sample] * 6, cfg)))
    b = next(iter(pipeline.make_pipeline([sample] * 6, cfg)))
    np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())
    np.testing.assert_array_equal(a[1]["uv"].numpy(), b[1]["uv"].numpy())


def test_samples_without_joints_or_side_are_refused(tmp_path):
    s = datasets.HandSample(image_path="x.png", sequence="u")
    with pytest.raises(ValueError, match="x.png"):
        pipeline.make_pipeline([s])
    unknown = _dot_sample(tmp_path, side=None)
    with pytest.raises(ValueError, match="side"):
        pipeline.make_pipeline([unknown])


def test_replaced_backgrounds_come_from_the_shipped_photos(tmp_path, monkeypatch):
    """With one flat-coloured 'photo' in the background folder, every replaced background
    is that colour; the hand (inside the mask) keeps its pixels."""
    from handlib import backgrounds, images
    root = tmp_path / "set"
    synthetic.make_dataset(root, 2, look="synth", seed=4, size=64, progress=False)
    photos = tmp_path / "photos"
    images.write_image(photos / "flat.png", np.full((40, 60, 3), (20, 200, 90), np.uint8))
    monkeypatch.setattr(backgrounds, "BACKGROUND_DIR", photos)
    samples = datasets.open_dataset(root)
    cfg = pipeline.PipelineConfig(batch_size=2, input_size=64, heatmap_size=16, background_prob=1.0,
                                  photo_backgrounds=1.0, color_jitter=0.0, max_rotation=0.0)
    img, _ = next(iter(pipeline.make_pipeline(samples, cfg)))
    plain = pipeline.PipelineConfig(**{**cfg.__dict__, "background_prob": 0.0})
    ref, _ = next(iter(pipeline.make_pipeline(samples, plain)))
    img, ref = img.numpy(), ref.numpy()
    import cv2
    white = (ref > 0.99).all(axis=-1)                     # the rendered set's background
    white = np.stack([cv2.erode(w.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0 for w in white])
    assert white.sum() > 100
    assert np.abs(img[white] - np.array([20, 200, 90]) / 255).max() < 0.02
    hand = np.abs(ref - 1).max(axis=-1) > 0.2
    hand = np.stack([cv2.erode(h.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0 for h in hand])
    # (thin fingers at 64 px blend with the new background at their edges: compare medians)
    assert np.median(np.abs(img[hand] - ref[hand])) < 0.01


def test_decoding_errors_are_measured_not_assumed():
    """Noise-free Gaussians decode exactly (the log-parabola is exact for them); the
    integer maximum alone is off by about 0.38 heatmap pixels on average (the mean
    distance from a uniform point to its pixel's centre), scaled to input pixels; noise
    makes both worse, and a wider map (more pixels per joint) gives a smaller error."""
    from handlib import heatmaps as hmaps
    assert hmaps.decoding_errors(1.5, 32, n=300).max() < 1e-6
    argmax = hmaps.decoding_errors(1.5, 32, n=4000, refine=False)
    assert argmax.mean() == pytest.approx(0.3826 * 128 / 32, rel=0.05)
    noisy32 = hmaps.decoding_errors(1.5, 32, n=1000, noise=0.05).mean()
    noisy64 = hmaps.decoding_errors(1.5, 64, n=1000, noise=0.05).mean()
    assert 0 < noisy64 < noisy32 < argmax.mean()


def test_a_joint_a_quarter_pixel_beyond_the_crops_edge_is_invisible(tmp_path):
    """The crop's pixels span -0.5 .. S - 0.5 (pixel centres 0 .. S - 1): a joint 0.25 px
    beyond the right or bottom edge (S - 0.25) is outside, one 0.25 px inside it
    (S - 0.75) is visible; the left edge (-0.75 outside) and the top (-0.25 inside) alike."""
    import cv2
    S = 128
    sample = _dot_sample(tmp_path)
    cfg = pipeline.PipelineConfig(input_size=S, batch_size=1, augment=False, margin=-0.3, shuffle=False)
    H = cc.crop_from_joints(sample.uv, cam.GANERATED.K, S, margin=-0.3).H    # the pipeline's crop
    # six joints away from the extremes moved to chosen crop pixels (inside the joints'
    # box: the crop stays where it was)
    order = np.argsort(sample.uv, axis=0)
    moving = [j for j in range(21) if j not in np.r_[order[:2].ravel(), order[-2:].ravel()]][:6]
    targets = np.array([[S - 0.25, 40.0], [S - 0.75, 50.0], [60.0, S - 0.25], [70.0, S - 0.75],
                        [-0.75, 80.0], [90.0, -0.25]])
    hom = np.c_[targets, np.ones(len(targets))] @ np.linalg.inv(H).T
    uv = sample.uv.copy()
    uv[moving] = hom[:, :2] / hom[:, 2:]
    before = cc.crop_boxes(sample.uv[None], cam.GANERATED.K, margin=-0.3)
    after = cc.crop_boxes(uv[None], cam.GANERATED.K, margin=-0.3)
    np.testing.assert_allclose(after[0], before[0], atol=1e-9)
    np.testing.assert_allclose(after[1], before[1], atol=1e-9)
    img = np.zeros((480, 640, 3), np.uint8)
    cv2.imwrite(str(tmp_path / "moved.png"), img)
    xyz = cam.back_project(cam.GANERATED, uv, np.full(21, 500.0))
    moved = datasets.HandSample(image_path=str(tmp_path / "moved.png"), sequence="s", uv=uv, xyz=xyz,
                                xyz_norm=hm.normalise(xyz)[0], side="left")
    _, t2 = next(iter(pipeline.make_pipeline([moved], cfg)))
    np.testing.assert_allclose(t2["uv_input"][0].numpy()[moving], targets, atol=1e-3)
    np.testing.assert_array_equal(t2["visible"][0].numpy()[moving], [0, 1, 0, 1, 0, 1])


def test_crop_range_sets_the_box_from_the_joints_extent(tmp_path):
    # with no in-plane turn, the joints' extent in the crop is input size / (side / extent)
    sample = _dot_sample(tmp_path)
    cfg = pipeline.PipelineConfig(input_size=128, heatmap_size=32, batch_size=64, seed=5,
                                  max_rotation=0, color_jitter=0.0, background_prob=0.0,
                                  crop_range=(1.2, 2.2), shift_jitter=0.0, shuffle=False)
    _, t = next(iter(pipeline.make_pipeline([sample] * 64, cfg)))
    uv = t["uv_input"].numpy()
    ratio = 128 / np.max(uv.max(axis=1) - uv.min(axis=1), axis=-1)      # box side / extent
    assert ratio.min() > 1.2 * 0.97 and ratio.max() < 2.2 * 1.03
    assert ratio.min() < 1.35 and ratio.max() > 1.95                    # the range is used
    # log-uniform: about half of the boxes below the geometric mean of the bounds
    assert 0.3 < np.mean(ratio < np.sqrt(1.2 * 2.2)) < 0.7


def test_camera_effects_keep_the_range_and_are_seeded():
    import tensorflow as tf
    y, x = np.mgrid[0:64, 0:64] / 63.0                     # a smooth picture, as photos are
    img = tf.constant(np.stack([0.2 + 0.6 * x, 0.3 + 0.4 * y, 0.5 + 0.3 * x * y], -1), tf.float32)
    a = pipeline.camera_effects(img, tf.constant([1, 2], tf.int64)).numpy()
    b = pipeline.camera_effects(img, tf.constant([1, 2], tf.int64)).numpy()
    c = pipeline.camera_effects(img, tf.constant([3, 4], tf.int64)).numpy()
    assert a.shape == img.shape and a.min() >= 0.0 and a.max() <= 1.0
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).mean() > 0.01
    # strength 0: at most JPEG at quality 95 and a blur of sigma 0.05 px (next to nothing)
    zero = [pipeline.camera_effects(img, tf.constant([s, 9], tf.int64), 0.0).numpy() for s in range(6)]
    assert max(np.abs(z - img.numpy()).mean() for z in zero) < 0.01
    # full strength changes photos a lot on average
    full = [pipeline.camera_effects(img, tf.constant([s, 9], tf.int64), 1.0).numpy() for s in range(6)]
    assert np.mean([np.abs(f - img.numpy()).mean() for f in full]) > 0.05
