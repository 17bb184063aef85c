"""RegNet's layers and model: ProjLayer + RenderingLayer against the data's own targets,
independent projections, shapes, saving, losses."""
import numpy as np
import pytest

from handlib import camera as cam
from handlib import heatmaps as hmaps
from handlib import pipeline as pl
from handlib import pose_network as pn
from handlib.synthetic import make_dataset


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """A small rendered set of both looks (both hand sides occur)."""
    from handlib import datasets
    root = tmp_path_factory.mktemp("regnet_data")
    samples = []
    for k, look in enumerate(("synth", "real-like")):
        make_dataset(root / look, 24, look=look, seed=300 + k, progress=False)
        samples += datasets.open_dataset(root / look)
    return samples


def _batch(samples, size=128, augment=True, seed=4):
    cfg = pl.PipelineConfig(input_size=size, heatmap_size=size // 4, batch_size=len(samples),
                            augment=augment, seed=seed)
    image, t = next(iter(pl.make_pipeline(samples, cfg)))
    return np.asarray(image), {k: np.asarray(v) for k, v in t.items()}


def test_ground_truth_through_projlayer_and_renderinglayer_gives_the_target_heatmaps(rendered):
    """The issue's check: ground-truth 3D with the ground-truth extra numbers
    (projection_targets) reproduce the targets; augmented crops (turned, jittered,
    flipped right hands) included. What remains is float32 round-off."""
    assert {s.side for s in rendered} == {"left", "right"}
    _, t = _batch(rendered)
    p = pn.projection_targets(t["xyz_norm"], t["uv_input"], t["crop_K"])
    uv = pn.ProjLayer(128, 32)([t["xyz_norm"], p.astype(np.float32), t["crop_K"]])
    maps = np.asarray(pn.RenderingLayer(32)(uv))
    got, _ = hmaps.heatmap_maxima(maps)
    want, _ = hmaps.heatmap_maxima(t["heatmaps"])
    vis = t["visible"] > 0.5
    dist = np.linalg.norm(got - want, axis=-1)[vis]
    assert np.percentile(dist, 95) <= 1.0
    assert dist.max() < 1e-3                       # in fact exact up to round-off
    assert np.abs(maps - t["heatmaps"]).max() < 1e-4


def test_projlayer_is_a_pinhole_projection_in_the_crop_camera():
    """Against the camera module's projection of the hand placed at t = X_M0 / s."""
    rng = np.random.default_rng(0)
    xyz = rng.normal(scale=0.8, size=(3, 21, 3))
    xyz -= xyz[:, 9:10]
    K = np.array([[[400.0 + 50 * i, 0, 63.5], [0, 400.0 + 50 * i, 63.5], [0, 0, 1]] for i in range(3)])
    proj = np.array([[0.05, -0.03, 0.1], [0.0, 0.0, 0.0], [-0.1, 0.08, -0.2]])
    tz = pn.DEPTH0 * np.exp(proj[:, 2])
    t = np.stack([proj[:, 0] * tz, proj[:, 1] * tz, tz], -1)
    uv_in = np.stack([cam.project(K[i], xyz[i] + t[i]) for i in range(3)])
    want = hmaps.to_heatmap_coords(uv_in, 128, 32)
    got = np.asarray(pn.ProjLayer(128, 32)([xyz.astype(np.float32), proj.astype(np.float32),
                                            K.astype(np.float32)]))
    np.testing.assert_allclose(got, want, atol=2e-3)
    # and projection_targets recovers the numbers from the projections
    np.testing.assert_allclose(pn.projection_targets(xyz, uv_in, K), proj, atol=1e-6)
    # the NumPy twin (input pixels) agrees with the same independent projection
    np.testing.assert_allclose(pn.project_np(xyz, proj, K), uv_in, atol=1e-9)


def test_projection_sweep_separates_exact_and_weak_perspective():
    """ProjLayer's projection is exact at every distance and angle; weak perspective in
    the crop camera improves with distance and hardly depends on the angle (the crop
    camera looks at the hand); in an affine crop it worsens off the axis. A flat hand
    facing the camera on its axis is a case weak perspective gets exactly right in the
    camera's frame (the crop camera looks at the box's centre, a little off the axis, so
    there the plane is slightly tilted)."""
    from handlib import hand_model as hm
    hands = np.stack([hm.forward_kinematics(hm.default_view_pose(n)) for n in ("open", "fist", "pinch", "peace")])
    r = pn.projection_sweep(hands, [250, 500, 1000], [0, 25])
    assert r["projlayer_max"].max() < 1e-6
    assert np.all(np.diff(r["weak_crop"][:, 0]) < 0)                   # farther is better
    assert np.all(np.abs(r["weak_crop"][:, 1] / r["weak_crop"][:, 0] - 1) < 0.15)
    assert np.all(r["weak_affine"][:, 1] > 2 * r["weak_crop"][:, 1])
    flat = hands[:1].copy()
    flat[..., 2] = flat[:, 9:10, 2]                                     # all joints at M0's depth
    f = pn.projection_sweep(flat, [400], [0])
    assert f["weak_affine_max"][0, 0] < 1e-6 and f["weak_crop_max"][0, 0] < 0.2


def test_renderinglayer_matches_the_numpy_gaussians():
    uv = np.random.default_rng(1).uniform(-2, 18, size=(2, 21, 2)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(pn.RenderingLayer(16, 1.5)(uv)),
                               hmaps.gaussian_heatmaps(uv, 16, 1.5), atol=1e-5)


@pytest.fixture(scope="module")
def small_model():
    return pn.build_regnet(64, "compact", imagenet=False)


def test_named_outputs_shapes_and_config(small_model):
    K = np.tile(np.array([[60, 0, 31.5], [0, 60, 31.5], [0, 0, 1]], np.float32), (2, 1, 1))
    out = small_model({"image": np.zeros((2, 64, 64, 3), np.float32), "crop_K": K})
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "xyz_intermediate": (2, 21, 3), "projection": (2, 3), "uv_projected": (2, 21, 2),
        "heatmaps_rendered": (2, 16, 16, 21), "heatmaps": (2, 16, 16, 21), "xyz": (2, 21, 3)}
    assert pn.model_info(small_model) == {"input_size": 64, "heatmap_size": 16, "side": "left",
                                          "trunk": "compact", "sigma": hmaps.DEFAULT_SIGMA}
    np.testing.assert_allclose(np.asarray(out["xyz"])[:, pn.ROOT], 0, atol=1e-6)   # M0 at the origin


def test_a_saved_regnet_reloads_in_safe_mode(small_model, tmp_path):
    from handlib import weights
    path = weights.save_model(small_model, tmp_path / "r.keras")
    again = weights.load_model(path)
    x = {"image": np.random.default_rng(2).uniform(size=(1, 64, 64, 3)).astype(np.float32),
         "crop_K": np.array([[[60, 0, 31.5], [0, 60, 31.5], [0, 0, 1]]], np.float32)}
    a, b = small_model(x), again(x)
    for k in a:
        np.testing.assert_allclose(np.asarray(a[k]), np.asarray(b[k]), atol=1e-5)
    assert pn.model_info(again)["heatmap_size"] == 16


def test_input_256_and_the_resnet50_trunk_build():
    big = pn.build_regnet(256, "compact", imagenet=False)
    assert big.get_layer("heatmaps").output.shape[1:] == (64, 64, 21)
    r = pn.build_regnet(64, "resnet50")
    K = np.array([[[60, 0, 31.5], [0, 60, 31.5], [0, 0, 1]]], np.float32)
    out = r({"image": np.zeros((1, 64, 64, 3), np.float32), "crop_K": K})
    assert tuple(out["heatmaps"].shape) == (1, 16, 16, 21)
    with pytest.raises(ValueError, match="multiple of 16"):
        pn.build_regnet(100)


def test_initial_heatmap_loss_is_that_of_an_all_zero_prediction(rendered):
    """The notebook's sanity check: the final heatmaps start near zero, so the heatmap
    loss starts at 1 (its unit is an all-zero prediction's loss) within 2 %."""
    image, t = _batch(rendered[:16], size=64)
    net = pn.build_regnet(64)
    out = net({"image": image, "crop_K": t["crop_K"]})
    terms = pn.regnet_losses(t, out, 16)
    zero = pn.regnet_losses(t, {**out, "heatmaps": np.zeros_like(out["heatmaps"])}, 16)
    assert float(np.mean(terms["heatmaps"])) == pytest.approx(float(np.mean(zero["heatmaps"])), rel=0.02)
    # the unit: an all-zero prediction of full (uncut) Gaussians scores exactly 1
    full = hmaps.gaussian_heatmaps(np.full((1, 21, 2), 7.5), 16)
    sq = (full ** 2).sum(axis=(1, 2)).mean() / pn.heatmap_loss_unit()
    assert sq == pytest.approx(1.0, rel=0.01)


def test_perfect_outputs_have_zero_loss(rendered):
    _, t = _batch(rendered[:8], size=64)
    p = pn.projection_targets(t["xyz_norm"], t["uv_input"], t["crop_K"]).astype(np.float32)
    uv = pn.ProjLayer(64, 16)([t["xyz_norm"], p, t["crop_K"]])
    out = {"heatmaps": t["heatmaps"], "xyz": t["xyz_norm"], "xyz_intermediate": t["xyz_norm"],
           "uv_projected": uv}
    for k, v in pn.regnet_losses(t, out, 16).items():
        assert float(np.max(v)) < 1e-6, k


def test_projection_loss_averages_over_visible_joints_only():
    """The projection term by hand: per joint the distance in units of Hs / 8, squared
    up to 1 and 2 d - 1 beyond, averaged over the visible joints; invisible joints
    however far off cost nothing, and a sample without visible joints costs 0."""
    Hs = 16
    rng = np.random.default_rng(3)
    uv = rng.uniform(0, Hs, (3, 21, 2)).astype(np.float32)
    vis = (rng.random((3, 21)) < 0.6).astype(np.float32)
    vis[2] = 0.0
    miss = rng.normal(0, 2.0, (3, 21, 2)).astype(np.float32)            # up to ~3 units
    miss[vis == 0] += 40.0                                                # invisible: far off
    heat = np.zeros((3, Hs, Hs, 21), np.float32)
    xyz = np.zeros((3, 21, 3), np.float32)
    targets = {"heatmaps": heat, "uv": uv, "xyz_norm": xyz, "visible": vis}
    outputs = {"heatmaps": heat, "uv_projected": uv + miss, "xyz": xyz, "xyz_intermediate": xyz}
    got = np.asarray(pn.regnet_losses(targets, outputs, Hs)["projection"])
    d = np.linalg.norm(miss.astype(np.float64), axis=-1) / (Hs / 8)
    per_joint = np.where(d < 1, d ** 2, 2 * d - 1)
    want = [per_joint[i][vis[i] > 0].mean() for i in range(2)] + [0.0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
