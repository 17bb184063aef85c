"""Projection, back-projection and crops against independent computations."""
import numpy as np

from handlib import camera as cam

RNG = np.random.default_rng(1)


def test_ganerated_constants():
    K = cam.GANERATED.K
    assert K[0, 0] == K[1, 1] == 617.173 and (K[0, 2], K[1, 2]) == (315.453, 242.259)
    assert cam.SYNTHHANDS_DEPTH.fx == 475.62


def test_project_matches_the_matrix_form():
    X = RNG.uniform([-200, -200, 200], [200, 200, 900], size=(100, 3))
    h = X @ cam.GANERATED.K.T
    np.testing.assert_allclose(cam.project(cam.GANERATED, X), h[:, :2] / h[:, 2:], rtol=1e-12)


def test_back_projection_at_the_true_depth_is_the_inverse():
    X = RNG.uniform([-200, -200, 200], [200, 200, 900], size=(100, 3))
    uv = cam.project(cam.GANERATED, X)
    np.testing.assert_allclose(cam.back_project(cam.GANERATED, uv, X[:, 2]), X, atol=1e-9)


def test_crop_intrinsics_equal_project_then_crop():
    X = RNG.uniform([-200, -200, 200], [200, 200, 900], size=(100, 3))
    u, v, s = 123.4, 56.7, 1.37
    Kc = cam.crop_intrinsics(cam.GANERATED, u, v, s)
    direct = cam.project(Kc, X)
    np.testing.assert_allclose(direct, s * (cam.project(cam.GANERATED, X) - [u, v]), atol=1e-9)
    np.testing.assert_allclose(cam.project(cam.GANERATED.crop(u, v, s, 256), X), direct, atol=1e-9)
    np.testing.assert_allclose(cam.from_crop(cam.to_crop(X[:, :2], u, v, s), u, v, s), X[:, :2])


def test_square_crop_box_contains_the_points_with_margin():
    uv = RNG.uniform([100, 50], [300, 200], size=(21, 2))
    u, v, s = cam.square_crop_box(uv, 256, margin=0.2)
    c = cam.to_crop(uv, u, v, s)
    assert c.min() > 0.1 * 256 and c.max() < 0.9 * 256


def test_crop_image_moves_pixels_like_the_label_map():
    img = np.zeros((480, 640), np.float32)
    img[300, 400] = 1.0                                    # a bright pixel at (u=400, v=300)
    u, v, s = 350.0, 250.0, 2.0
    out = cam.crop_image(img, u, v, s, 256)
    peak = np.unravel_index(np.argmax(out), out.shape)
    np.testing.assert_allclose([peak[1], peak[0]], cam.to_crop([400, 300], u, v, s), atol=0.5)
