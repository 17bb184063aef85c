"""Kinematic skeleton fitting against known poses: the Jacobian against finite
differences, exact recovery from a distant start, noise, an outlier, NaNs, the limits."""
import numpy as np
import pytest

from handlib import camera as cam
from handlib import fitting as ft
from handlib import hand_model as hm

K = cam.GANERATED.K
LO, HI = hm.JOINT_LIMITS[6:, 0], hm.JOINT_LIMITS[6:, 1]


def _pose(name="peace", yaw=20.0):
    p = hm.default_view_pose(name)
    p[:3] = hm.rotation_vector(hm.axis_rotation("y", yaw) @ hm.rotation_matrix(p[:3]))
    return p


def _observe(params, side="right"):
    X = hm.forward_kinematics(params, side=side)
    y = (X - X[9]) / np.linalg.norm(X[0] - X[9])
    return X, ft.Observation(cam.project(K, X), np.ones(21), y)


def _distant_start(true):
    """Global rotation 30 degrees off, every finger angle at the opposite end of its range."""
    s = true.copy()
    s[:3] = hm.rotation_vector(hm.axis_rotation("x", 30) @ hm.rotation_matrix(true[:3]))
    s[6:] = np.where(true[6:] > (LO + HI) / 2, LO, HI)
    return s


@pytest.mark.parametrize("side", ["right", "left"])
def test_the_jacobian_matches_finite_differences(side):
    rng = np.random.default_rng(3)
    p = _pose("pinch")
    p[6:] = np.clip(p[6:] + rng.uniform(-0.2, 0.2, 20), LO, HI)
    X, J = ft.joint_jacobian(p, side=side)
    eps = 1e-6
    for k in range(26):
        step = np.zeros(26)
        step[k] = eps
        fd = (hm.forward_kinematics(ft.apply_step(p, step), side=side)
              - hm.forward_kinematics(ft.apply_step(p, -step), side=side)) / (2 * eps)
        np.testing.assert_allclose(J[:, :, k], fd, atol=1e-5 * max(1.0, np.abs(fd).max()))
    np.testing.assert_allclose(X, hm.forward_kinematics(p, side=side))


@pytest.mark.parametrize("name,side", [("peace", "right"), ("fist", "left"), ("pinch", "right")])
def test_exact_2d_and_3d_are_recovered_from_a_distant_start(name, side):
    true = _pose(name)
    X, obs = _observe(true, side)
    res = ft.HandFitter(K, side=side, iterations=200).fit(obs, _distant_start(true))
    assert np.linalg.norm(res.joints - X, axis=-1).max() < 1.0          # mm


def test_noise_on_the_inputs_is_reduced_by_the_fit():
    rng = np.random.default_rng(0)
    fitter = ft.HandFitter(K, side="right", iterations=30)
    fitted, given = [], []
    for name in ("peace", "open", "fist", "pinch"):
        true = _pose(name)
        X, obs = _observe(true)
        size = np.linalg.norm(X[0] - X[9])
        noisy = ft.Observation(obs.uv + rng.normal(0, 4.0, (21, 2)), obs.confidence,
                               obs.xyz_norm + rng.normal(0, 12.0 / size, (21, 3)))
        res = fitter.fit(noisy, true, remember=False)
        rel = lambda A: A - A[9]  # noqa: E731
        fitted.append(np.linalg.norm(rel(res.joints) - rel(X), axis=-1).mean())
        given.append(np.linalg.norm(noisy.xyz_norm * size - rel(X), axis=-1).mean())
    assert np.mean(fitted) < np.mean(given)


def test_one_wrong_joint_with_low_confidence_moves_the_others_little():
    true = _pose("open")
    X, obs = _observe(true)
    fitter = ft.HandFitter(K, side="right", iterations=50)
    clean = fitter.fit(obs, true, remember=False)
    bad = ft.Observation(obs.uv.copy(), obs.confidence.copy(), obs.xyz_norm.copy())
    bad.uv[8] += [100.0, 0.0]
    bad.confidence[8] = 0.1
    moved = fitter.fit(bad, true, remember=False)
    others = np.arange(21) != 8
    assert np.linalg.norm(moved.joints[others] - clean.joints[others], axis=-1).max() < 5.0


def test_nan_inputs_are_dropped_not_propagated():
    true = _pose("peace")
    X, obs = _observe(true)
    obs.uv[3] = np.nan
    obs.xyz_norm[12] = np.nan
    obs.confidence[5] = np.nan
    res = ft.HandFitter(K, side="right", iterations=50).fit(obs, _distant_start(true))
    assert np.all(np.isfinite(res.params)) and np.isfinite(res.energy)
    assert np.linalg.norm(res.joints - X, axis=-1).max() < 1.0


def test_fitted_angles_stay_within_the_limits():
    """Inputs that ask for fingers bent backwards far beyond their range."""
    true = _pose("open")
    beyond = true.copy()
    beyond[6:] = np.where(np.arange(20) % 4 == 2, LO - np.radians(40), beyond[6:])   # middle joints
    X, obs = _observe(beyond)
    res = ft.HandFitter(K, side="right", iterations=60).fit(obs, true)
    a = res.params[6:]
    assert np.all(a >= LO - np.radians(2)) and np.all(a <= HI + np.radians(2))


def test_calibration_follows_the_start_distance_convention_or_a_given_size():
    true = _pose("open")                       # wrist 450 mm away: M0 a little nearer or farther
    big = hm.default_bone_lengths(1.2)
    X = hm.forward_kinematics(true, big, side="right")
    obs = ft.Observation(cam.project(K, X), np.ones(21), (X - X[9]) / np.linalg.norm(X[0] - X[9]))
    scale = ft.calibrate_scale([obs], K, side="right", distance_mm=X[9, 2])
    assert scale == pytest.approx(1.2, rel=0.02)
    size0 = np.linalg.norm(hm.rest_pose()[0] - hm.rest_pose()[9])
    assert ft.calibrate_scale([obs], K, hand_size_mm=2 * size0) == pytest.approx(2.0)


@pytest.mark.parametrize("side", ["right", "left"])
def test_the_solvers_kinematics_equal_the_hand_models(side):
    rng = np.random.default_rng(5)
    for _ in range(5):
        p = np.r_[rng.normal(0, 1, 3), rng.normal(0, 100, 3), rng.uniform(LO, HI)]
        bl = hm.default_bone_lengths(rng.uniform(0.8, 1.2))
        X, R = hm.forward_kinematics(p, bl, side, return_rotations=True)
        X2, R2 = ft.fast_forward_kinematics(p, bl, side)
        np.testing.assert_allclose(X2, X, atol=1e-9)
        np.testing.assert_allclose(R2, R, atol=1e-12)


def test_the_temporal_term_lowers_jitter_without_raising_the_error_much():
    """A smooth rendered motion (the demo video's trajectory, 40 frames) observed with
    noise (4 crop px in 2D, 12 mm in 3D): fitted frame by frame with the tracker's
    weights, with and without the temporal term. Stated bound: the mean error may rise
    by at most 10 %, and the jitter must fall by at least a third."""
    from dataclasses import replace

    from handlib import metrics
    from handlib import sequences as sq
    params = sq.smooth_trajectory(3, 40)
    rng = np.random.default_rng(1)
    Kv = sq.VIDEO_INTRINSICS.K
    truth = hm.forward_kinematics(params)
    size = np.linalg.norm(truth[0, 0] - truth[0, 9])
    obs = [ft.Observation(cam.project(Kv, X) + rng.normal(0, 4.0, (21, 2)), np.ones(21),
                          (X - X[9]) / size + rng.normal(0, 12.0 / size, (21, 3))) for X in truth]
    out = {}
    for name, w in (("plain", replace(ft.TRACKING_WEIGHTS, w_temporal=0.0)), ("temporal", ft.TRACKING_WEIGHTS)):
        fitter = ft.HandFitter(Kv, side="right", weights=w, iterations=6)
        pose, xs = params[0], []
        for o in obs:
            pose = fitter.fit(o, pose).params
            xs.append(hm.forward_kinematics(pose))
        xs = np.stack(xs)
        out[name] = (metrics.root_relative_errors_mm(xs, truth).mean(), metrics.jitter(xs))
    assert out["temporal"][1] < 2 / 3 * out["plain"][1]
    assert out["temporal"][0] < 1.10 * out["plain"][0]


def test_robust_weights_given_for_one_block_are_used_with_the_other_block_active():
    """Holding the robust weights fixed (as the solver does within a step) must hold the
    3D block's too, whatever the 2D block does: zero 3D weights give a zero 3D block."""
    true = _pose("open")
    X, obs = _observe(true)
    fitter = ft.HandFitter(K, side="right")
    moved = true.copy()
    moved[6:] += 0.2
    r, _, slices, _, _ = fitter.residuals(moved, obs, rho={"2d": np.ones(21), "3d": np.zeros(21)})
    assert np.abs(r[slices["2d"]]).max() > 0 and np.abs(r[slices["3d"]]).max() == 0


def test_2d_residual_is_in_units_of_pixel_scale():
    """The same view filmed at twice the resolution (intrinsics and 2D doubled) through a
    crop twice as many image pixels wide is the same network input: with the pixel scale
    given, the 2D residuals and robust weights are the same, and each equals
    ``sqrt(c) (pi(K X) - u) / k`` times its Cauchy weight, by hand."""
    true = _pose("peace")
    X, obs = _observe(true)
    rng = np.random.default_rng(2)
    uv = obs.uv + rng.normal(0, 6.0, (21, 2))            # misses around the 8 px robust scale
    conf = rng.uniform(0.3, 1.0, 21)
    fitter = ft.HandFitter(K, side="right")
    r1, _, sl1, _, rho1 = fitter.residuals(true, ft.Observation(uv, conf, None, pixel_scale=1.0))
    K2 = np.diag([2.0, 2.0, 1.0]) @ K
    big = ft.HandFitter(K2, side="right")
    r2, _, sl2, _, rho2 = big.residuals(true, ft.Observation(2.0 * uv, conf, None, pixel_scale=2.0))
    np.testing.assert_allclose(r2[sl2["2d"]], r1[sl1["2d"]], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(rho2["2d"], rho1["2d"], rtol=1e-12)
    miss = (cam.project(K2, X) - 2.0 * uv) / 2.0                         # crop pixels
    d = np.linalg.norm(miss, axis=-1)
    want = np.sqrt(conf)[:, None] * miss / np.sqrt(1 + (d / 8.0) ** 2)[:, None]
    np.testing.assert_allclose(r2[sl2["2d"]].reshape(21, 2), want, rtol=1e-9, atol=1e-9)


def test_robust_weights_are_cauchy_a_miss_of_one_robust_scale_counts_half_its_square():
    """Iteratively reweighted Cauchy: a residual r enters the energy as
    r^2 / (1 + (r / scale)^2), so a miss of exactly one robust scale (8 crop px in 2D,
    25 mm in 3D) counts half its square and one of three scales a tenth."""
    true = _pose("open")
    X, obs = _observe(true)
    fitter = ft.HandFitter(K, side="right")
    k = 1.5                                                # image pixels per crop pixel
    uv = obs.uv.copy()
    uv[8] += [8.0 * k, 0.0]                                # one 2D scale
    uv[12] += [0.0, 24.0 * k]                              # three 2D scales
    y = obs.xyz_norm.copy()
    y[16] += np.array([25.0, 0.0, 0.0]) / fitter.hand_size       # one 3D scale
    y[20] += np.array([0.0, 0.0, 75.0]) / fitter.hand_size       # three 3D scales
    r, _, sl, _, _ = fitter.residuals(true, ft.Observation(uv, np.ones(21), y, pixel_scale=k))
    e2 = (r[sl["2d"]].reshape(21, 2) ** 2).sum(-1)
    e3 = (r[sl["3d"]].reshape(21, 3) ** 2).sum(-1)
    assert e2[8] == pytest.approx(8.0 ** 2 / 2) and e2[12] == pytest.approx(24.0 ** 2 / 10)
    assert e3[16] == pytest.approx(25.0 ** 2 / 2) and e3[20] == pytest.approx(75.0 ** 2 / 10)
    others2, others3 = np.delete(e2, [8, 12]), np.delete(e3, [16, 20])
    assert others2.max() < 1e-12 and others3.max() < 1e-12


def test_the_temporal_term_penalises_acceleration_not_constant_velocity():
    """A hand moving 15 mm per frame at constant velocity, observed exactly, costs the
    temporal term nothing: the third frame is fitted exactly, with a strong temporal
    weight. A hand that stops after moving is penalised (pulled on along its motion)."""
    from dataclasses import replace
    true = _pose("peace")
    step = np.zeros(26)
    step[3] = 15.0
    w = replace(ft.TRACKING_WEIGHTS, w_temporal=1.0)

    def run(poses):
        # the first two frames fitted exactly (no temporal term yet), remembered
        fitter = ft.HandFitter(K, side="right", weights=replace(w, w_temporal=0.0), iterations=20)
        for p in poses[:2]:
            fitter.fit(_observe(p)[1], p)
        fitter.weights = w
        return fitter.fit(_observe(poses[2])[1], poses[2]), hm.forward_kinematics(poses[2])

    res, X = run([true, true + step, true + 2 * step])
    assert res.terms["temporal"] < 1e-8
    assert np.linalg.norm(res.joints - X, axis=-1).max() < 0.01          # mm
    stopped, X = run([true, true + step, true + step])
    assert stopped.terms["temporal"] > 1.0
    assert (stopped.joints - X)[:, 0].mean() > 0.5                       # pulled on in +x


def test_calibration_puts_m0_not_the_wrist_at_the_start_distance():
    """A hand tilted so that its wrist is several centimetres farther than M0: the scale
    puts M0 (the normalised 3D's origin) at the start distance."""
    tilted = hm.rotate_view(_pose("open"), hm.axis_rotation("x", 45))
    big = hm.default_bone_lengths(1.2)
    X = hm.forward_kinematics(tilted, big, side="right")
    assert abs(X[0, 2] - X[9, 2]) > 50.0                                 # mm: the premise
    obs = ft.Observation(cam.project(K, X), np.ones(21), (X - X[9]) / np.linalg.norm(X[0] - X[9]))
    assert ft.calibrate_scale([obs], K, side="right", distance_mm=X[9, 2]) == pytest.approx(1.2, rel=0.02)


def _regnet_like_3d(params, rng):
    """A RegNet-like 3D answer (21, 3), normalised: a plausible hand in a wrong pose, each
    finger angle off by N(0, 0.4 rad) (within the limits) and the whole hand turned by
    N(0, 12 degrees) about a random axis: about 20 mm per joint, RegNet's typical error
    (16-26 mm on rendered frames). Its errors are those of a hand, which the model can
    follow, unlike independent noise per joint."""
    q = params.copy()
    q[6:] = np.clip(params[6:] + rng.normal(0, 0.4, 20), LO, HI)
    axis = rng.normal(size=3)
    turn = hm.rotation_matrix(axis / np.linalg.norm(axis) * np.radians(rng.normal(0, 12)))
    q[:3] = hm.rotation_vector(turn @ hm.rotation_matrix(params[:3]))
    Y = hm.forward_kinematics(q)
    return (Y - Y[9]) / np.linalg.norm(Y[0] - Y[9])


def test_calibration_with_regnet_like_3d_is_not_biased():
    """Fifteen poses of three of ``make-video``'s motions (its trajectories, seeds 7, 11
    and 23), a hand 1.2 x the model's, 2D with 2 image pixels of noise and RegNet-like
    3D (:func:`_regnet_like_3d`); each frame calibrated alone at its true M0 depth.
    Stated bounds: every frame's scale within 10 % of the truth, the mean and the median
    within 3 % (not biased), the root mean square error under 5 %. (Here this fit gives a
    mean 1.5 % high, at most 5 % off, 2.8 % root mean square; one fit with the default
    weights, the calibration before, gave 2.9 % low, up to 18 % off, 6.9 %: its strong 3D
    term kept RegNet's wrong pose and put the hand too far.)"""
    from handlib import sequences as sq
    Kv = sq.VIDEO_INTRINSICS.K
    rng = np.random.default_rng(0)
    scales = []
    for seed in (7, 11, 23):
        for p in sq.smooth_trajectory(seed, 150)[::30]:
            X = hm.forward_kinematics(p, hm.default_bone_lengths(1.2))
            uv = cam.project(Kv, X) + rng.normal(0, 2.0, (21, 2))
            o = ft.Observation(uv, np.ones(21), _regnet_like_3d(p, rng),
                               pixel_scale=1.7 * np.ptp(uv, axis=0).max() / 128)
            scales.append(ft.calibrate_scale([o], Kv, side="right", distance_mm=X[9, 2]))
    ratio = np.array(scales) / 1.2
    assert np.abs(ratio - 1).max() < 0.10
    assert abs(ratio.mean() - 1) < 0.03
    assert np.sqrt(np.mean((ratio - 1) ** 2)) < 0.05
    assert abs(np.median(ratio) - 1) < 0.03
