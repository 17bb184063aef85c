"""The crop camera against independent computations: homographies, rays, flips, framing."""
import numpy as np
import pytest

from handlib import camera as cam
from handlib import crop_camera as cc
from handlib import hand_mesh, synthetic
from handlib import hand_model as hm

K = cam.GANERATED.K
RNG = np.random.default_rng(7)


def hand_at(pixel, depth=450.0, pose="fist", rotation=(np.pi, 0.0, 0.0)):
    """Joints (21, 3) mm of a named pose whose M0 projects to ``pixel`` at ``depth``."""
    p = hm.named_pose(pose)
    p[0:3] = rotation
    X = hm.forward_kinematics(p)
    return X - X[9] + cam.back_project(K, np.asarray(pixel, float), depth)


def test_the_crop_axis_goes_through_the_centre_and_the_box_is_centred():
    X = hand_at((60, 60))
    uv = cam.project(K, X)
    crop = cc.crop_from_joints(uv, K, 128)
    # the crop camera's optical axis is the ray through the crop centre
    ray = np.linalg.solve(K, [*crop.centre, 1.0])
    axis = crop.R.T @ [0.0, 0.0, 1.0]
    np.testing.assert_allclose(axis, ray / np.linalg.norm(ray), atol=1e-12)
    np.testing.assert_allclose(crop.to_crop(crop.centre), [63.5, 63.5], atol=1e-9)
    # the joints' box is centred and spans 1 / (1 + 2 margin) of the crop
    uvc = crop.to_crop(uv)
    lo, hi = uvc.min(0), uvc.max(0)
    np.testing.assert_allclose((lo + hi) / 2, [63.5, 63.5], atol=1e-6)
    assert (hi - lo).max() == pytest.approx(128 / (1 + 2 * cc.CROP_MARGIN), rel=1e-6)
    assert np.linalg.det(crop.R) == pytest.approx(1.0)


def test_projection_homography_and_inverse_maps_agree():
    X = hand_at((500, 400), depth=300.0)
    uv = cam.project(K, X)
    crop = cc.crop_from_joints(uv, K, 96, angle=0.4)
    # consistency: 3D through the crop camera == 2D through the homography
    h = np.c_[uv, np.ones(21)] @ (crop.K @ crop.R @ np.linalg.inv(K)).T
    np.testing.assert_allclose(crop.project(X), h[:, :2] / h[:, 2:], atol=1e-9)
    np.testing.assert_allclose(crop.to_crop(uv), h[:, :2] / h[:, 2:], atol=1e-9)
    np.testing.assert_allclose(crop.from_crop(crop.to_crop(uv)), uv, atol=1e-9)
    np.testing.assert_allclose(crop.from_crop_frame(crop.to_crop_frame(X)), X, atol=1e-9)
    np.testing.assert_allclose(crop.R @ crop.R.T, np.eye(3), atol=1e-12)
    # the in-plane angle turns the crop image about its centre
    straight = cc.crop_from_joints(uv, K, 96)
    d0 = straight.to_crop(uv) - 47.5
    d1 = crop.to_crop(uv) - 47.5
    c, s = np.cos(0.4), np.sin(0.4)
    np.testing.assert_allclose(d1, d0 @ np.array([[c, -s], [s, c]]).T, atol=1e-9)


def test_crop_image_resamples_with_the_label_map():
    img = np.zeros((480, 640), np.float32)
    img[90, 70] = 1.0                                  # a bright pixel at (u=70, v=90)
    crop = cc.Crop(centre=(80.0, 100.0), side=60.0, size=64, source_K=K, angle=0.3)
    out = crop.crop_image(img, interpolation=0)        # nearest neighbour
    peak = np.unravel_index(np.argmax(out), out.shape)
    np.testing.assert_allclose([peak[1], peak[0]], crop.to_crop([70.0, 90.0]), atol=0.75)


def test_ganerated_params_round_trip_and_mean_the_files_formula():
    u, v, s = 123.4, 56.7, 1.37
    crop = cc.Crop.from_ganerated(u, v, s, 256, K)
    np.testing.assert_allclose(crop.ganerated_params(), (u, v, s))
    X = RNG.uniform([-200, -200, 200], [200, 200, 900], size=(50, 3))
    np.testing.assert_allclose(crop.project(X), s * (cam.project(K, X) - [u, v]), atol=1e-9)
    np.testing.assert_allclose(crop.K, cam.crop_intrinsics(K, u, v, s), atol=1e-12)
    np.testing.assert_allclose(crop.R, np.eye(3))
    with pytest.raises(ValueError, match="positive"):
        cc.Crop.from_ganerated(u, v, 0.0, 256, K)
    with pytest.raises(ValueError, match="unrotated"):
        cc.Crop(centre=(1.0, 1.0), side=10.0, size=8, source_K=K, perspective=False, angle=0.2)


def test_with_source_describes_the_same_view_against_the_full_image():
    X = hand_at((420, 120))
    g = cc.Crop.from_ganerated(300.0, 20.0, 1.6, 256, K)         # a GANerated-style image
    uv_g = g.to_crop(cam.project(K, X))                            # joints in that image
    crop = cc.crop_from_joints(uv_g, g.K, 128, angle=0.3, flip=True)
    full = crop.with_source(K)                                     # same view, full image
    np.testing.assert_allclose(full.R, crop.R, atol=1e-12)
    np.testing.assert_allclose(full.K, crop.K, atol=1e-9)
    np.testing.assert_allclose(full.to_crop(cam.project(K, X)), crop.to_crop(uv_g), atol=1e-9)
    with pytest.raises(ValueError, match="zoom"):
        crop.with_source(np.diag([2.0, 1.0, 1.0]) @ K)


def test_perspective_crop_targets_are_the_same_wherever_the_crop_is_cut():
    """The same hand turned with the camera about its centre, from the optical axis to
    pixel (60, 60): the two crop cameras see identical images, so the targets must be
    identical too (in the camera frame they differ)."""
    X_centre = hand_at((315.453, 242.259))          # on the optical axis
    a = cc.crop_from_joints(cam.project(K, X_centre), K, 128)
    # a rotation about the camera centre taking a's optical axis to the ray of (60, 60)
    d_a = a.R.T @ [0.0, 0.0, 1.0]
    d_b = np.linalg.solve(K, [60.0, 60.0, 1.0])
    d_b /= np.linalg.norm(d_b)
    v, c = np.cross(d_a, d_b), d_a @ d_b
    V = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    R_turn = np.eye(3) + V + V @ V / (1 + c)
    X_corner = X_centre @ R_turn.T
    # the crop at (60, 60) whose camera is a's camera turned the same way
    R0_b = cc.Crop(centre=(60.0, 60.0), side=1.0, size=1, source_K=K).R
    M = a.R @ R_turn.T @ R0_b.T                      # the in-plane roll it needs
    b = cc.Crop(centre=(60.0, 60.0), side=a.side, size=128, source_K=K,
                angle=float(np.arctan2(M[1, 0], M[0, 0])))
    np.testing.assert_allclose(b.R, a.R @ R_turn.T, atol=1e-12)
    np.testing.assert_allclose(b.project(X_corner), a.project(X_centre), atol=1e-6)
    na, nb = hm.normalise(X_centre)[0], hm.normalise(X_corner)[0]
    np.testing.assert_allclose(b.to_crop_frame(nb), a.to_crop_frame(na), atol=1e-9)
    # in the camera frame (the old targets) the two identical pictures differ
    assert np.abs(nb - na).max() > 0.2


def test_orthographic_misalignment_before_and_after_the_crop_camera():
    X = hand_at((60, 60))
    uv = cam.project(K, X)
    n = hm.normalise(X)[0]
    affine = cc.crop_from_joints(uv, K, 128, perspective=False)
    persp = cc.crop_from_joints(uv, K, 128)
    before = cc.orthographic_misalignment(n, affine.to_crop(uv))
    after = cc.orthographic_misalignment(persp.to_crop_frame(n), persp.to_crop(uv))
    assert before > 0.1 and after < 0.5 * before
    # an exact orthographic picture scores zero
    assert cc.orthographic_misalignment(n, 40 * n[:, :2] + 7) == pytest.approx(0.0, abs=1e-9)


def test_the_flip_is_an_image_flip_in_the_crop_and_a_mirror_in_3d():
    X = hand_at((480, 300), depth=380.0)
    uv = cam.project(K, X)
    crop = cc.crop_from_joints(uv, K, 100, angle=-0.2)
    flipped = crop.flipped()
    np.testing.assert_allclose(flipped.to_crop(uv), np.c_[99 - crop.to_crop(uv)[:, 0],
                                                          crop.to_crop(uv)[:, 1]], atol=1e-9)
    np.testing.assert_allclose(flipped.to_crop_frame(X), crop.to_crop_frame(X) * [-1, 1, 1])
    assert np.linalg.det(flipped.R) == pytest.approx(-1.0)
    img = RNG.random((480, 640, 3)).astype(np.float32)
    np.testing.assert_allclose(flipped.crop_image(img), crop.crop_image(img)[:, ::-1], atol=2e-3)  # OpenCV: fixed-point weights
    with pytest.raises(ValueError, match="affine"):
        cc.Crop(centre=(1.0, 1.0), side=10.0, size=8, source_K=K, perspective=False, flip=True)
    # the batch version gives the same boxes as one hand at a time
    uvs = np.stack([cam.project(K, hand_at(p)) for p in [(60, 60), (500, 400), (300, 200)]])
    centres, sides = cc.crop_boxes(uvs, K)
    for u_, c_, s_ in zip(uvs, centres, sides):
        one = cc.crop_from_joints(u_, K, 64)
        np.testing.assert_allclose(one.centre, c_) and np.testing.assert_allclose(one.side, s_)


def test_a_flipped_right_hand_is_the_left_hand_of_the_mirrored_pose():
    """Render a right hand and the left hand with mirrored parameters: the flipped crop
    of the first is the unflipped crop of the second, pixels and labels."""
    p = hm.named_pose("point")
    p[0:3] = [2.6, 0.5, -0.4]
    p[3:6] = [60.0, -40.0, 420.0]
    right_v, right_t, right_x = hand_mesh.skin(p, side="right")
    left_v, left_t, left_x = hand_mesh.skin(hm.mirror_params(p), side="left")
    np.testing.assert_allclose(left_x, hm.mirror(right_x), atol=1e-9)
    assert hm.handedness(right_x) == 1 and hm.handedness(left_x) == -1
    crop_r = cc.crop_from_joints(cam.project(K, right_x), K, 96).flipped()
    # the mirror image of a pixel (u, v) is the pixel of the mirrored ray: (2 cx - u, v)
    crop_l = cc.crop_from_joints(cam.project(K, left_x), K, 96)
    np.testing.assert_allclose(crop_l.centre, [2 * K[0, 2] - crop_r.centre[0], crop_r.centre[1]],
                               atol=1e-6)
    np.testing.assert_allclose(crop_r.project(right_x), crop_l.project(left_x), atol=1e-6)
    np.testing.assert_allclose(crop_r.to_crop_frame(right_x), crop_l.to_crop_frame(left_x), atol=1e-9)
    from handlib import renderer
    m_r = renderer.rasterize(right_v @ crop_r.R.T, right_t[:, ::-1], crop_r.K, 96, 96).mask
    m_l = renderer.rasterize(left_v @ crop_l.R.T, left_t, crop_l.K, 96, 96).mask
    assert m_r.sum() > 500
    assert (m_r ^ m_l).sum() <= 0.02 * m_r.sum()        # edge pixels may differ


def test_the_margin_keeps_most_rendered_hands_inside_the_crop():
    """The figures quoted in CROP_MARGIN's docstring: over 150 sampled views, the hand's
    skin (the forearm leaves the crop by design) stays inside the crop in at least 93 %
    with the chosen margin (measured: 97 %), and in at most 88 % with 0.25 (82 %)."""
    n = 150
    inside = {cc.CROP_MARGIN: 0, 0.25: 0}
    for i in range(n):
        sc = synthetic.sample_scene(synthetic.frame_rng(3, i))
        v, _, x = hand_mesh.skin(np.array(sc.params), hm.default_bone_lengths(sc.hand_scale),
                                 side=sc.side)
        v = v[~hand_mesh.load_mesh().forearm]
        for margin in inside:
            crop = cc.crop_from_joints(cam.project(K, x), K, 256, margin=margin, perspective=False)
            p = crop.to_crop(cam.project(K, v))
            inside[margin] += p.min() >= -0.5 and p.max() <= 255.5
    assert inside[cc.CROP_MARGIN] >= 0.93 * n
    assert inside[0.25] <= 0.88 * n


def test_numpy_and_tensorflow_crop_matrices_agree():
    from handlib import backend
    tf = backend.tensorflow()
    crop = cc.Crop(centre=(500.0, 80.0), side=140.0, size=128, source_K=K, angle=0.7, flip=True)
    R, Kc, H = cc.crop_matrices_tf(tf.constant(np.array(crop.centre)), tf.constant(140.0, tf.float64),
                                   tf.constant(0.7, tf.float64), tf.constant(1.0, tf.float64), 128,
                                   tf.constant(K))
    np.testing.assert_allclose(R.numpy(), crop.R, atol=1e-12)
    np.testing.assert_allclose(Kc.numpy(), crop.K, atol=1e-9)
    np.testing.assert_allclose(H.numpy(), crop.H, atol=1e-9)


def test_bad_crops_are_refused():
    with pytest.raises(ValueError, match="side"):
        cc.Crop(centre=(1.0, 1.0), side=0.0, size=8, source_K=K)
    with pytest.raises(ValueError, match="NaN"):
        cc.crop_from_joints(np.full((21, 2), np.nan), K, 64)
