"""Invariants of the hand model, checked against independent computations."""
import numpy as np
import pytest

from handlib import hand_model as hm

RNG = np.random.default_rng(0)


def random_params(n, rng=RNG):
    p = np.zeros((n, hm.NUM_DOF))
    p[:, 0:3] = hm.random_rotations(rng, n)
    p[:, 3:6] = rng.uniform([-100, -100, 300], [100, 100, 800], size=(n, 3))
    lo, hi = hm.JOINT_LIMITS[6:, 0], hm.JOINT_LIMITS[6:, 1]
    p[:, 6:] = rng.uniform(lo, hi, size=(n, 20))
    return p


def test_skeleton_tables_are_consistent():
    assert len(hm.JOINT_NAMES) == 21 and hm.JOINT_NAMES[:5] == ["W", "T0", "T1", "T2", "T3"]
    assert hm.JOINT_NAMES[9] == "M0" and hm.JOINT_NAMES[20] == "L3"
    assert len(hm.BONES) == 20 and len(hm.DOF_NAMES) == hm.NUM_DOF == 26
    for finger, idx in hm.FINGERS.items():
        assert hm.PARENTS[idx[0]] == 0
        assert [hm.PARENTS[j] for j in idx[1:]] == idx[:-1]
    assert hm.JOINT_LIMITS.shape == (26, 2) and np.all(hm.JOINT_LIMITS[:, 0] < hm.JOINT_LIMITS[:, 1])


@pytest.mark.parametrize("side", ["right", "left"])
def test_forward_kinematics_keeps_every_bone_length(side):
    params = random_params(64)
    bl = hm.default_bone_lengths(scale=1.13)
    joints = hm.forward_kinematics(params, bl, side=side)
    p, c = zip(*hm.BONES)
    lengths = np.linalg.norm(joints[:, list(c)] - joints[:, list(p)], axis=-1)
    np.testing.assert_allclose(lengths, np.broadcast_to(bl, lengths.shape), rtol=1e-9)


def test_zero_angles_give_the_rest_pose_of_the_mesh():
    rest = np.load(hm.files.data_file("hand_mesh.npz"))["rest_joints"]
    np.testing.assert_allclose(hm.forward_kinematics(np.zeros(26)), rest, atol=1e-3)


def test_finger_angles_do_not_move_the_root_or_the_palm():
    base = random_params(1)[0]
    moved = base.copy()
    moved[6:] = random_params(1)[0][6:]
    a, b = hm.forward_kinematics(base), hm.forward_kinematics(moved)
    palm = [0] + [hm.FINGERS[f][0] for f in hm.FINGER_NAMES if f != "thumb"] + [hm.FINGERS["thumb"][0]]
    np.testing.assert_allclose(a[palm], b[palm], atol=1e-9)
    np.testing.assert_allclose(a[0], base[3:6], atol=1e-9)   # the wrist sits at the translation
    assert np.abs(a[4] - b[4]).max() > 1.0                    # a fingertip did move


def test_a_known_rotation_moves_points_as_expected():
    rest = hm.rest_pose()
    p = np.zeros(26)
    p[0:3] = [0.0, 0.0, np.pi / 2]            # +90 degrees about z: (x, y) -> (-y, x)
    p[3:6] = [10.0, -20.0, 500.0]
    expected = np.stack([-rest[:, 1], rest[:, 0], rest[:, 2]], axis=1) + [10.0, -20.0, 500.0]
    np.testing.assert_allclose(hm.forward_kinematics(p), expected, atol=1e-9)


def test_rotation_matrix_matches_quaternion_formula():
    rv = hm.random_rotations(RNG, 50)
    R = hm.rotation_matrix(rv)
    angle = np.linalg.norm(rv, axis=1)
    axis = rv / angle[:, None]
    w, (x, y, z) = np.cos(angle / 2), (axis * np.sin(angle / 2)[:, None]).T
    Q = np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1)], -2)
    np.testing.assert_allclose(R, Q, atol=1e-12)
    np.testing.assert_allclose(hm.rotation_matrix(np.zeros(3)), np.eye(3), atol=1e-12)


def test_positive_flexion_curls_towards_the_palm_and_abduction_towards_the_thumb():
    rest = hm.rest_pose()
    p = np.zeros(26)
    p[hm.dof_index("index_base_flex")] = np.deg2rad(60)
    tip = hm.forward_kinematics(p)[8]
    assert tip[2] - rest[8, 2] > 30            # the palm faces +z in the hand frame
    p = np.zeros(26)
    p[hm.dof_index("little_base_abd")] = np.deg2rad(10)
    assert hm.forward_kinematics(p)[20, 0] > rest[20, 0] + 5   # towards the thumb (+x)


def test_left_hand_is_the_mirror_image_of_the_right_with_mirrored_parameters():
    params = random_params(16)
    right = hm.forward_kinematics(params, side="right")
    left = hm.forward_kinematics(hm.mirror_params(params), side="left")
    np.testing.assert_allclose(left, right * [-1.0, 1.0, 1.0], atol=1e-9)   # camera x negated
    # written out: rotation vector (rx, -ry, -rz) and x translation negated
    q = params.copy()
    q[:, 1:4] *= -1
    np.testing.assert_allclose(hm.mirror_params(params), q)
    # handedness: rotations keep it, the mirror turns it round
    assert np.all(hm.handedness(right) == 1) and np.all(hm.handedness(left) == -1)
    assert np.all(hm.handedness(hm.mirror(right)) == -1)


def test_rotation_vector_inverts_rotation_matrix():
    rv = hm.random_rotations(RNG, 200)
    back = hm.rotation_vector(hm.rotation_matrix(rv))
    np.testing.assert_allclose(hm.rotation_matrix(back), hm.rotation_matrix(rv), atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(back, axis=1), np.linalg.norm(rv, axis=1), atol=1e-9)
    np.testing.assert_allclose(hm.rotation_vector(np.eye(3)), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.abs(hm.rotation_vector(hm.rotation_matrix([np.pi, 0, 0]))), [np.pi, 0, 0], atol=1e-9)


def test_rotate_view_turns_about_the_named_camera_axis_and_keeps_m0():
    p = hm.default_view_pose("point")
    q = hm.rotate_view(p, hm.axis_rotation("y", 51.0))
    a, b = hm.forward_kinematics(p), hm.forward_kinematics(q)
    np.testing.assert_allclose(b[9], a[9], atol=1e-9)
    c, s = np.cos(np.deg2rad(51)), np.sin(np.deg2rad(51))
    Ry = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])        # written out, not via the library
    np.testing.assert_allclose(b - b[9], (a - a[9]) @ Ry.T, atol=1e-9)


def test_tensorflow_and_numpy_versions_agree_and_differentiate():
    import tensorflow as tf
    params = random_params(16)
    bl = hm.default_bone_lengths(0.9)
    ref = hm.forward_kinematics(params, bl, side="left")
    got = hm.forward_kinematics_tf(tf.constant(params), tf.constant(bl), side="left").numpy()
    np.testing.assert_allclose(got, ref, atol=1e-8)
    # gradient against a central finite difference (float64)
    x = tf.Variable(params[:1])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(hm.forward_kinematics_tf(x)[..., 8, :] ** 2)
    g = tape.gradient(y, x).numpy()[0]
    k = hm.dof_index("index_mid_flex")
    e = np.zeros_like(params[:1]); e[0, k] = 1e-6
    f = lambda q: np.sum(hm.forward_kinematics(q)[..., 8, :] ** 2)  # noqa: E731
    np.testing.assert_allclose(g[k], (f(params[:1] + e) - f(params[:1] - e)) / 2e-6, rtol=1e-5)


def test_normalisation_round_trip_and_its_definition():
    joints = hm.forward_kinematics(random_params(10))
    norm, root, scale = hm.normalise(joints)
    np.testing.assert_allclose(norm[:, 9], 0.0, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(norm[:, 0] - norm[:, 9], axis=-1), 1.0)
    np.testing.assert_allclose(hm.denormalise(norm, root, scale), joints, atol=1e-9)


def test_mirroring_twice_is_the_identity_and_shapes_are_checked():
    joints = hm.forward_kinematics(random_params(5))
    np.testing.assert_allclose(hm.mirror(hm.mirror(joints)), joints)
    with pytest.raises(ValueError, match="21, 3"):
        hm.normalise(joints[:, :20])


def test_sampled_articulations_respect_the_limits_and_are_correlated():
    p = hm.sample_articulations(np.random.default_rng(1), 4000)
    assert np.all(p[:, 6:] >= hm.JOINT_LIMITS[6:, 0] - 1e-12)
    assert np.all(p[:, 6:] <= hm.JOINT_LIMITS[6:, 1] + 1e-12)
    ring, little = p[:, hm.dof_index("ring_mid_flex")], p[:, hm.dof_index("little_mid_flex")]
    assert np.corrcoef(ring, little)[0, 1] > 0.6            # ring and little move together
    dip, pip = p[:, hm.dof_index("index_tip_flex")], p[:, hm.dof_index("index_mid_flex")]
    assert np.corrcoef(dip, pip)[0, 1] > 0.8                # the DIP follows the PIP


def test_named_poses_are_within_limits():
    for name, pose in hm.NAMED_POSES.items():
        assert np.all(hm.clip_to_limits(pose) == pose), name
    j = hm.forward_kinematics(hm.named_pose("pinch"))
    assert np.linalg.norm(j[4] - j[8]) < 20                  # thumb and index tips meet
