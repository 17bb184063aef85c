"""The compiled fit is the readable fit: the same kinematics (against the hand model's own),
the same residuals and Jacobian, the same LM iterates and energies, to round-off."""
import numpy as np
import pytest

from handlib import camera as cam
from handlib import fitting as ft
from handlib import fitting_compiled as fc
from handlib import hand_model as hm

K = cam.GANERATED.K
LO, HI = hm.JOINT_LIMITS[6:, 0], hm.JOINT_LIMITS[6:, 1]


def _case(seed, side, nan=False):
    """A pose near a named one, a noisy observation of it (some joints with NaN inputs, some
    angles beyond the limits) and a start away from it."""
    rng = np.random.default_rng(seed)
    true = hm.default_view_pose(list(hm.NAMED_POSES)[seed % len(hm.NAMED_POSES)])
    true[:3] = hm.rotation_vector(hm.axis_rotation("y", rng.uniform(-60, 60)) @ hm.rotation_matrix(true[:3]))
    X = hm.forward_kinematics(true, side=side)
    uv = cam.project(K, X) + rng.normal(0, 4, (21, 2))
    y = (X - X[9]) / np.linalg.norm(X[0] - X[9]) + rng.normal(0, 0.1, (21, 3))
    conf = rng.uniform(0.0, 1.0, 21)
    if nan:
        uv[[3, 7]] = np.nan
        y[[4, 15]] = np.nan
        conf[11] = np.nan
    start = true.copy()
    start[:3] = hm.rotation_vector(hm.axis_rotation("x", 25) @ hm.rotation_matrix(true[:3]))
    start[6:] = true[6:] + rng.normal(0, 0.4, 20)                  # some beyond the limits
    return X, ft.Observation(uv, conf, y, pixel_scale=rng.uniform(0.5, 3.0)), start


def _compiled_residuals(fitter, p, obs, pred=None, rho=None, jacobian=True):
    w = fitter.weights
    uv = np.ascontiguousarray(obs.uv, np.float64)
    conf = np.nan_to_num(np.asarray(obs.confidence, np.float64), nan=0.0)
    y = np.zeros((21, 3)) if obs.xyz_norm is None else np.asarray(obs.xyz_norm, np.float64)
    r, Jr = np.zeros(fc.MAX_ROWS), np.zeros((fc.MAX_ROWS, 26))
    rho2 = np.zeros(21) if rho is None else rho["2d"].copy()
    rho3 = np.zeros(21) if rho is None else rho["3d"].copy()
    X, n, ends = fc.residuals(np.asarray(p, float), jacobian, rho is not None, rho2, rho3, r, Jr, fitter.K,
                              fitter.bone_lengths, fitter.side == "left", fitter.hand_size, uv, conf,
                              np.all(np.isfinite(uv), -1) & (conf > 0), y, np.all(np.isfinite(y), -1),
                              obs.xyz_norm is not None, obs.pixel_scale, w.w_2d, w.w_3d, w.w_limits,
                              w.w_temporal, w.robust_2d_px, w.robust_3d_mm,
                              np.zeros((21, 3)) if pred is None else pred, pred is not None, ft.compiled_tables())
    return r[:n], Jr[:n], X, {"2d": rho2, "3d": rho3}


@pytest.mark.parametrize("side", ["right", "left"])
def test_the_compiled_kinematics_equal_the_hand_models(side):
    rng = np.random.default_rng(1)
    bl = hm.default_bone_lengths(1.1)
    for _ in range(5):
        p = np.concatenate([rng.normal(0, 1, 3), rng.uniform(-50, 50, 3) + [0, 0, 500],
                            rng.uniform(LO - 0.2, HI + 0.2)])
        X, _ = fc.forward_kinematics(p, bl, side == "left", *ft.compiled_tables()[:4])
        np.testing.assert_allclose(X, hm.forward_kinematics(p, bl, side), atol=1e-9)


def test_the_compiled_rotation_vector_equals_the_hand_models():
    rng = np.random.default_rng(2)
    vs = [rng.normal(0, 1, 3) for _ in range(20)] + [np.zeros(3), [np.pi, 0, 0], [0, 1e-13, 0],
                                                     [0, 0, np.pi - 1e-9], [2.0, -2.0, 0.5]]
    for v in vs:
        R = hm.rotation_matrix(np.asarray(v, float))
        np.testing.assert_allclose(fc._rotation_vector(R), hm.rotation_vector(R), atol=1e-12)


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("nan", [False, True])
def test_the_compiled_residuals_and_jacobian_equal_the_readable_ones(side, nan):
    X, obs, start = _case(4, side, nan)
    pred = X + 3.0
    for weights in (ft.FitWeights(), ft.TRACKING_WEIGHTS, ft.FitWeights(w_3d=0.0)):
        f = ft.HandFitter(K, hm.default_bone_lengths(0.9), side, weights)
        r, J, _, Xn, rho = f.residuals(start, obs, pred if weights.w_temporal else None)
        rc, Jc, Xc, rho_c = _compiled_residuals(f, start, obs, pred if weights.w_temporal else None)
        np.testing.assert_allclose(rc, r, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(Jc, J, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(Xc, Xn, atol=1e-10)
        if "3d" in rho:
            np.testing.assert_allclose(rho_c["3d"], rho["3d"], atol=1e-14)
        # with the robust weights held fixed (the trial steps)
        held = {"2d": np.linspace(0.2, 1.0, 21), "3d": np.linspace(1.0, 0.3, 21)}
        r2 = f.residuals(start, obs, None, rho=held, jacobian=False)[0]
        np.testing.assert_allclose(_compiled_residuals(f, start, obs, None, held, False)[0], r2,
                                   rtol=1e-12, atol=1e-9)


def test_the_compiled_jacobian_matches_finite_differences():
    # independent of the readable code: central differences of the compiled residuals
    _, obs, p = _case(6, "left")
    f = ft.HandFitter(K, side="left", weights=ft.FitWeights(w_limits=0.0))
    r, J, _, rho = _compiled_residuals(f, p, obs)
    eps = 1e-6
    for c in (0, 2, 4, 6, 13, 25):
        step = np.zeros(26)
        step[c] = eps
        plus = _compiled_residuals(f, fc.apply_step(p, step), obs, rho=rho, jacobian=False)[0]
        minus = _compiled_residuals(f, fc.apply_step(p, -step), obs, rho=rho, jacobian=False)[0]
        np.testing.assert_allclose((plus - minus) / (2 * eps), J[:, c], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_compiled_fit_takes_the_same_steps(side, seed):
    X, obs, start = _case(seed, side, nan=seed == 2)
    for weights, history in ((ft.FitWeights(), 0), (ft.TRACKING_WEIGHTS, 2), (ft.TRACKING_WEIGHTS, 1)):
        fits = []
        for engine in ft.ENGINES:
            f = ft.HandFitter(K, hm.default_bone_lengths(1.05), side, weights, engine=engine)
            f.previous = [X + 2.0, X + 1.0][:history]
            fits.append([f.fit(obs, start, iterations=n, remember=False) for n in (0, 1, 3, 12, 60)])
        for a, b in zip(fits[0][:-1], fits[1][:-1]):        # before convergence: the same steps
            assert b.iterations == a.iterations
            np.testing.assert_allclose(b.params, a.params, rtol=1e-9, atol=1e-8)   # mm and radians
            assert b.energy == pytest.approx(a.energy, rel=1e-10)
            assert b.terms.keys() == a.terms.keys()
            for k in a.terms:
                assert b.terms[k] == pytest.approx(a.terms[k], rel=1e-9, abs=1e-9)
        # at convergence the energy changes by round-off from step to step, so which step is
        # the last differs by a few; where they stop agrees
        a, b = fits[0][-1], fits[1][-1]
        assert abs(a.iterations - b.iterations) <= 5
        np.testing.assert_allclose(b.params, a.params, rtol=1e-6, atol=1e-6)
        assert b.energy == pytest.approx(a.energy, rel=1e-9)


def test_remembered_frames_feed_the_temporal_term_alike():
    X, obs, start = _case(3, "right")
    a, b = (ft.HandFitter(K, side="right", weights=ft.TRACKING_WEIGHTS, iterations=3, engine=e)
            for e in ft.ENGINES)
    pa, pb = start, start
    for k in range(4):                 # four frames, each warm-started from the last
        ra, rb = a.fit(obs, pa), b.fit(obs, pb)
        pa, pb = ra.params, rb.params
        np.testing.assert_allclose(rb.joints, ra.joints, atol=1e-7)
    assert len(a.previous) == len(b.previous) == 2


def test_an_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="engine"):
        ft.HandFitter(K, engine="fortran")
