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


def test_tensorflow_projection_matches_numpy_and_differentiates():
    from handlib import backend
    tf = backend.tensorflow()
    X = RNG.uniform([-200, -200, 200], [200, 200, 900], size=(7, 21, 3))
    got = cam.project_tf(cam.GANERATED, tf.constant(X)).numpy()
    np.testing.assert_allclose(got, cam.project(cam.GANERATED, X), atol=1e-9)
    x = tf.Variable(X[0, 0])
    with tf.GradientTape() as tape:
        u = cam.project_tf(cam.GANERATED, x)[0]
    g = tape.gradient(u, x).numpy()
    fx = cam.GANERATED.fx
    np.testing.assert_allclose(g, [fx / X[0, 0, 2], 0.0, -fx * X[0, 0, 0] / X[0, 0, 2] ** 2], rtol=1e-9)
    # one camera per sample (the pipeline's crop_K): each sample through its own matrix
    Ks = np.stack([cam.crop_intrinsics(cam.GANERATED, 10.0 * i, 5.0 * i, 1.0 + 0.1 * i) for i in range(7)])
    got = cam.project_tf(tf.constant(Ks), tf.constant(X)).numpy()
    for i in range(7):
        h = X[i] @ Ks[i].T
        np.testing.assert_allclose(got[i], h[:, :2] / h[:, 2:], atol=1e-9)


def test_shapes_are_checked():
    import pytest
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        cam.project(cam.GANERATED, np.zeros((21, 2)))
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        cam.back_project(cam.GANERATED, np.zeros((21, 3)), 1.0)
    with pytest.raises(ValueError, match="3x3"):
        cam.project(np.eye(2), np.ones((4, 3)))
