"""Pose metrics against values computed by hand."""
import numpy as np
import pytest

from handlib import metrics


def _hand(rng, n=3):
    """Normalised hands: M0 at the origin, |W - M0| = 1."""
    x = rng.normal(size=(n, 21, 3))
    x -= x[:, 9:10]
    return x / np.linalg.norm(x[:, 0] - x[:, 9], axis=-1)[:, None, None]


def test_a_perfect_prediction_scores_zero_error_and_full_auc():
    g = _hand(np.random.default_rng(0))
    d = metrics.errors_3d_mm(g, g, np.full(3, 80.0))
    assert np.allclose(d, 0)
    s = metrics.summary_3d(d)
    assert s["epe_mean_mm"] == pytest.approx(0.0, abs=1e-9) and s["auc_20_50mm"] == pytest.approx(1.0)


def test_one_joint_off_by_exactly_10_mm():
    g = _hand(np.random.default_rng(1), n=1)
    bone_mm = 90.0
    p = g.copy()
    p[0, 8, 2] += 10.0 / bone_mm            # 10 mm along z on the index tip
    d = metrics.errors_3d_mm(p, g, [bone_mm])
    assert d[0, 8] == pytest.approx(10.0)
    assert np.allclose(np.delete(d[0], 8), 0)
    assert metrics.summary_3d(d)["epe_mean_mm"] == pytest.approx(10.0 / 21)


def test_root_position_does_not_matter_and_scale_uses_the_ground_truth_bone():
    g = _hand(np.random.default_rng(2))
    shifted = g + np.array([5.0, -2.0, 30.0])
    assert np.allclose(metrics.errors_3d_mm(shifted, g, [70, 80, 90]), 0)
    # a prediction twice too big: each joint off by its own distance to M0 (mm)
    d = metrics.errors_3d_mm(2 * g, g, [70, 80, 90])
    want = np.linalg.norm(g, axis=-1) * np.array([70, 80, 90])[:, None]
    assert np.allclose(d, want)
    # ... which the least-squares variant forgives
    assert np.allclose(metrics.errors_3d_mm(2 * g, g, [70, 80, 90], scale="least_squares"), 0, atol=1e-9)


def test_pck_and_auc_by_hand():
    # distances 0, 25, 35, 60 mm: PCK at 20 = 1/4, at 30 = 2/4, at 40..50 = 3/4
    d = np.array([[0.0, 25.0, 35.0, 60.0]])
    curve = metrics.pck(d, metrics.PCK_3D_THRESHOLDS)
    assert curve[0] == 0.25 and curve[-1] == 0.75
    assert curve[metrics.PCK_3D_THRESHOLDS.tolist().index(30.0)] == 0.5
    # trapezoids on the 1-mm grid: 4 cells at 0.25 (20-24), the cell 24-25 at the mean
    # 0.375, 9 cells at 0.5 (25-34), the cell 34-35 at 0.625, 15 cells at 0.75 (35-50)
    want = (4 * 0.25 + 0.375 + 9 * 0.5 + 0.625 + 15 * 0.75) / 30
    assert metrics.auc(metrics.PCK_3D_THRESHOLDS, curve) == pytest.approx(want, abs=1e-9)


def test_auc_of_a_linear_curve_is_its_mean():
    t = np.linspace(0, 30, 31)
    assert metrics.auc(t, t / 30) == pytest.approx(0.5)


def test_2d_epe_and_visibility_masks():
    gt = np.zeros((1, 21, 2))
    pred = gt.copy()
    pred[0, :, 0] = 3.0
    pred[0, :, 1] = 4.0                     # every joint 5 px off
    pred[0, 5] = [100.0, 0.0]               # one joint 100 px off, invisible
    vis = np.ones((1, 21), bool)
    vis[0, 5] = False
    d = metrics.epe_2d(pred, gt)
    assert metrics.summary_2d(d, vis)["epe_mean_px"] == pytest.approx(5.0)
    assert metrics.summary_2d(d)["epe_mean_px"] == pytest.approx((20 * 5 + 100) / 21)
    assert metrics.summary_2d(d, vis)["auc_0_30px"] == pytest.approx(
        metrics.auc(metrics.PCK_2D_THRESHOLDS, (metrics.PCK_2D_THRESHOLDS >= 5).astype(float)))
    table = metrics.per_joint(d, vis)
    assert table["W"] == pytest.approx(5.0) and np.isnan(table["I0"])


def test_evaluate_reports_both_variants():
    rng = np.random.default_rng(3)
    g = _hand(rng, 4)
    out = metrics.evaluate(np.zeros((4, 21, 2)), np.zeros((4, 21, 2)), g, g, np.full(4, 85.0),
                           np.ones((4, 21), bool))
    assert out["all"]["3d"]["auc_20_50mm"] == pytest.approx(1.0)
    assert out["visible"]["3d_least_squares_scale"]["epe_mean_mm"] == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError):
        metrics.errors_3d_mm(g, g, np.ones(4), scale="nonsense")
