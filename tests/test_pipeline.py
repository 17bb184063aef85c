"""The input pipeline moves images and labels together; heatmaps are what they say."""
import numpy as np
import pytest

from handlib import datasets, heatmaps, pipeline


def test_heatmap_peak_is_one_at_the_joint_and_decodes_back():
    uv = np.array([[3.3, 7.8], [10.5, 2.2]])
    h = heatmaps.gaussian_heatmaps(uv, 16, sigma=1.5)
    assert h.shape == (16, 16, 2)
    # closed form at an integer pixel next to joint 0
    assert h[8, 3, 0] == pytest.approx(np.exp(-(0.3 ** 2 + 0.2 ** 2) / (2 * 1.5 ** 2)), rel=1e-6)
    got, peak = heatmaps.heatmap_maxima(h)
    np.testing.assert_allclose(got, uv, atol=1e-4)
    assert np.all(peak > 0.9)


def test_heatmap_coordinates_round_trip_and_align_pixel_centres():
    uv = np.random.default_rng(0).uniform(0, 127, size=(21, 2))
    back = heatmaps.to_image_coords(heatmaps.to_heatmap_coords(uv, 128, 32), 128, 32)
    np.testing.assert_allclose(back, uv)
    # the centre of the 4x4 input block (1.5, 1.5) is heatmap pixel 0
    np.testing.assert_allclose(heatmaps.to_heatmap_coords(np.array([1.5, 1.5]), 128, 32), [0, 0])


def _dot_sample(tmp_path):
    """An image with a bright dot at each of 21 known joint positions."""
    import cv2
    rng = np.random.default_rng(4)
    uv = rng.uniform(70, 186, size=(21, 2))
    img = np.zeros((256, 256, 3), np.uint8)
    for u, v in uv:
        cv2.circle(img, (int(round(u)), int(round(v))), 1, (255, 255, 255), -1)
    uv = np.round(uv)
    path = tmp_path / "dots.png"
    cv2.imwrite(str(path), img)
    return datasets.HandSample(image_path=str(path), sequence="s", uv=uv,
                               xyz=np.zeros((21, 3)), xyz_norm=np.zeros((21, 3)))


def test_rotated_image_heatmap_peaks_sit_on_the_rotated_joints(tmp_path):
    sample = _dot_sample(tmp_path)
    cfg = pipeline.PipelineConfig(input_size=128, heatmap_size=128, batch_size=4, seed=3,
                                  max_rotation=45, color_jitter=0.0, background_prob=0.0,
                                  margin=0.1, shuffle=False)
    images, t = next(iter(pipeline.make_pipeline([sample] * 4, cfg)))
    images, uv_in = images.numpy(), t["uv_input"].numpy()
    assert np.ptp(uv_in[:, 0, 0]) > 1.0                       # the four copies differ
    got, _ = heatmaps.heatmap_maxima(t["heatmaps"].numpy())
    uv_hm_img = heatmaps.to_image_coords(got, 128, 128)
    vis = t["visible"].numpy() > 0
    interior = vis & np.all((uv_in >= 1) & (uv_in <= 126), axis=-1)   # peaks need neighbours
    np.testing.assert_allclose(uv_hm_img[interior], uv_in[interior], atol=1e-3)
    # the dots in the warped image are where the labels say (to a pixel)
    checked = 0
    for img, uv, v in zip(images, uv_in, vis):
        grey = img.mean(axis=-1)
        for (u, y), ok in zip(uv, v):
            if not ok or not (3 <= u <= 124 and 3 <= y <= 124):
                continue
            x0, y0 = int(round(u)), int(round(y))
            win = grey[y0 - 2:y0 + 3, x0 - 2:x0 + 3]
            if win.sum() < 0.5:
                continue                                      # dot merged or faded
            yy, xx = np.mgrid[-2:3, -2:3]
            cu = x0 + (win * xx).sum() / win.sum()
            cv = y0 + (win * yy).sum() / win.sum()
            assert abs(cu - u) <= 1.0 and abs(cv - y) <= 1.0, ((cu, cv), (u, y))
            checked += 1
    assert checked >= 40


def test_3d_targets_rotate_with_the_image(tmp_path):
    sample = _dot_sample(tmp_path)
    sample.xyz_norm = np.random.default_rng(0).normal(size=(21, 3))
    cfg = pipeline.PipelineConfig(batch_size=2, seed=5, max_rotation=60, shuffle=False)
    _, t = next(iter(pipeline.make_pipeline([sample] * 2, cfg)))
    xyz = t["xyz_norm"].numpy()
    # a rotation about z keeps z and the x-y lengths
    np.testing.assert_allclose(xyz[..., 2], np.broadcast_to(sample.xyz_norm[:, 2], xyz[..., 2].shape), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(xyz[..., :2], axis=-1),
                               np.broadcast_to(np.linalg.norm(sample.xyz_norm[:, :2], axis=-1), xyz.shape[:2]), atol=1e-5)


def test_a_seeded_pipeline_is_deterministic(tmp_path):
    sample = _dot_sample(tmp_path)
    cfg = pipeline.PipelineConfig(batch_size=3, seed=9)
    a = next(iter(pipeline.make_pipeline([sample] * 6, cfg)))
    b = next(iter(pipeline.make_pipeline([sample] * 6, cfg)))
    np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())
    np.testing.assert_array_equal(a[1]["uv"].numpy(), b[1]["uv"].numpy())


def test_samples_without_joints_are_refused():
    s = datasets.HandSample(image_path="x.png", sequence="u")
    with pytest.raises(ValueError, match="x.png"):
        pipeline.make_pipeline([s])
