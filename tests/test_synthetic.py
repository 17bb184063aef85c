"""Rendered labels agree with the rendered pixels."""
import json

import numpy as np
import pytest

from handlib import camera as cam
from handlib import hand_model as hm
from handlib import hand_mesh, renderer, synthetic


def test_rendered_labels_agree_with_pixels():
    n_visible = 0
    for i in range(12):
        f = synthetic.render_index(11, i, look="synth" if i % 2 else "real-like")
        assert f.rgb.shape == (256, 256, 3) and f.mask.shape == (256, 256)
        np.testing.assert_array_equal(f.depth > 0, f.mask)
        px = np.round(f.uv).astype(int)
        for j in np.flatnonzero(f.visible):
            x, y = px[j]
            assert f.mask[y, x], f"frame {i}: visible joint {j} is off the silhouette"
            gap = f.xyz[j, 2] - f.depth[y, x]      # surface in front of the joint, mm
            # a finger's radius beyond the knuckles; the palm (W, T0, T1, X0) is thicker
            radius = 25.0 if j in synthetic.PALM_JOINTS else 12.0
            assert -1.0 <= gap <= radius * f.scene.hand_scale * 1.3, (i, j, gap)
        n_visible += f.visible.sum()
        # the files' definition of 2D joints
        u, v, s = f.crop.ganerated_params()
        np.testing.assert_allclose(f.uv, s * (cam.project(cam.GANERATED, f.xyz) - [u, v]), atol=1e-9)
        # the whole hand (not its forearm) is inside the stored image
        v, _, _ = hand_mesh.skin(np.asarray(f.scene.params),
                                 hm.default_bone_lengths(f.scene.hand_scale), f.scene.side)
        p = f.crop.project(v[~hand_mesh.load_mesh().forearm])
        assert p.min() >= 0 and p.max() <= 255
    assert n_visible > 12 * 21 * 0.4                # most joints are seen in most views


def _pose(name, rotation):
    p = hm.named_pose(name)
    p[0:3] = rotation
    p[3:6] = [0.0, 0.0, 0.0]
    centre = hm.forward_kinematics(p)[9]
    p[3:6] = -centre + [0.0, 0.0, 450.0]
    scene = synthetic.Scene(params=list(p), side="right")
    return synthetic.render_frame(scene)


def test_a_fist_seen_from_the_palm_shows_its_finger_joints_not_its_tips():
    """Seen from the palm, a fist's fingertips are tucked against the palm behind the
    middle bones of their own fingers, and the knuckles (MCP) behind the curled
    fingers; the PIP joints, at the front of the curl, are seen."""
    palm = _pose("fist", [np.pi, 0.0, 0.0])
    assert not palm.visible[[8, 12, 16, 20]].any()            # tips
    assert not palm.visible[[5, 9, 13, 17]].any()             # knuckles
    assert palm.visible[[6, 10, 14, 18]].all()                # PIP joints
    assert palm.visible[0]                                    # the wrist


def test_augmented_crops_stay_within_the_rendered_pixels():
    """The pipeline's most extreme default augmentation (side x e^0.15, centre moved 0.08
    side along both axes, turned up to 30 degrees) falls inside the stored image."""
    from handlib import crop_camera as cc, pipeline
    cfg = pipeline.PipelineConfig()
    for i in range(20):
        f = synthetic.render_index(6, i)
        base = cc.crop_from_joints(f.uv, f.crop.K, cfg.input_size)
        side = base.side * np.exp(cfg.scale_jitter)
        for sx in (-1, 1):
            for sy in (-1, 1):
                for ang in np.linspace(-1, 1, 7):
                    centre = np.array(base.centre) + cfg.shift_jitter * side * np.array([sx, sy])
                    crop = cc.Crop(centre=tuple(centre), side=side, size=cfg.input_size,
                                   source_K=f.crop.K, angle=ang * np.deg2rad(cfg.max_rotation))
                    corners = crop.from_crop([[-0.5, -0.5], [127.5, -0.5], [-0.5, 127.5], [127.5, 127.5]])
                    assert corners.min() >= -0.5 - 1e-6 and corners.max() <= 255.5 + 1e-6, (i, corners)


def test_a_fists_fingertips_are_hidden_when_the_palm_faces_away():
    tips = [8, 12, 16, 20]
    back = _pose("fist", [0.0, 0.0, 0.0])     # palm normal +z: away from the camera
    assert not back.visible[tips].any()
    assert back.visible[[5, 9, 13, 17]].sum() >= 3   # the knuckles are seen
    open_hand = _pose("open", [np.pi, 0.0, 0.0])     # an open palm towards the camera
    assert open_hand.visible.all()


def test_rendering_is_deterministic_and_looks_share_labels():
    a = synthetic.render_index(2, 7, look="real-like")
    b = synthetic.render_index(2, 7, look="real-like")
    np.testing.assert_array_equal(a.rgb, b.rgb)
    pair = synthetic.paired_looks(a.scene)
    np.testing.assert_allclose(pair["synth"].uv, pair["real-like"].uv)
    np.testing.assert_array_equal(pair["synth"].mask, pair["real-like"].mask)
    assert np.abs(pair["synth"].rgb.astype(int) - pair["real-like"].rgb).mean() > 5


def test_the_mesh_with_its_forearm_is_a_closed_surface():
    """No open boundary can show in any view: after welding the seams' duplicate
    vertices, every edge is walked once in each direction (a closed, consistently
    oriented surface), and it encloses a positive volume (outward normals)."""
    m = hand_mesh.load_mesh()
    _, rep = np.unique(np.round(m.vertices, 4), axis=0, return_inverse=True)
    t = rep.ravel()[m.triangles]
    directed = np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]])
    fwd = {tuple(e) for e in directed}
    assert len(fwd) == len(directed)                        # no edge walked twice one way
    assert all((b, a) in fwd for a, b in fwd)               # every edge has its partner
    V = m.vertices
    volume = np.einsum("ij,ij->i", V[m.triangles[:, 0]],
                       np.cross(V[m.triangles[:, 1]], V[m.triangles[:, 2]])).sum() / 6
    assert volume > 0
    assert m.forearm.sum() > 0 and m.vertices[m.forearm, 1].max() < 0   # behind the wrist


def test_rasterizer_matches_an_analytic_square():
    # a 100 mm square at 500 mm, facing the camera, covers a known block of pixels
    K = cam.GANERATED.K
    v = np.array([[-50, -50, 500], [50, -50, 500], [50, 50, 500], [-50, 50, 500]], float)
    tris = np.array([[0, 2, 1], [0, 3, 2]])       # counter-clockwise seen from the camera
    fr = renderer.rasterize(v, tris, K, 640, 480)
    uv = cam.project(K, v)
    inside = ((np.arange(640)[None] >= uv[0, 0]) & (np.arange(640)[None] <= uv[2, 0])
              & (np.arange(480)[:, None] >= uv[0, 1]) & (np.arange(480)[:, None] <= uv[2, 1]))
    assert np.abs(fr.mask.astype(int) - inside).sum() <= 2 * (uv[2, 0] - uv[0, 0])
    np.testing.assert_allclose(fr.depth[fr.mask], 500.0)
    back = renderer.rasterize(v, tris[:, ::-1], K, 640, 480)
    assert not back.mask.any()                      # back faces are culled


# ------------------------------------------------------------------ held-up views
def _hand_axes(joints):
    """Unit fingers-up (W -> M0) and palm-normal (towards the thumb's base) directions."""
    up = joints[9] - joints[0]
    n = np.cross(joints[5] - joints[0], joints[17] - joints[0])
    n = n if np.dot(n, joints[1] - joints[0]) > 0 else -n
    return up / np.linalg.norm(up), n / np.linalg.norm(n)


@pytest.mark.parametrize("side", ["left", "right"])
def test_held_up_views_show_fingers_up_and_palm_or_back_to_the_camera(side):
    rng = np.random.default_rng(5)
    palms, angles = [], []
    for _ in range(200):
        rv = synthetic.held_up_rotation(rng, side)
        x = hm.forward_kinematics(np.r_[rv, 0, 0, 0, np.zeros(20)], side=side)
        up, n = _hand_axes(x)
        angles.append(np.degrees(np.arccos(-up[1])))       # 0: straight up in the image
        palms.append(n[2])
    angles, palms = np.array(angles), np.array(palms)
    s = synthetic.HELD_UP_SPREAD_DEG
    assert angles.max() <= np.hypot(s["lean"], s["roll"]) + 1e-6 and np.median(angles) < 30
    towards = palms < 0                                     # the palm's normal points at the camera
    assert 0.35 < towards.mean() < 0.65                     # palm or back, about half each
    assert np.all(np.abs(palms) > np.cos(np.radians(s["turn"] + s["lean"])) - 1e-6)


def test_held_up_zero_renders_the_same_sets_as_before():
    """The default draws nothing more: a set rendered without the prior is unchanged."""
    a = synthetic.sample_scene(synthetic.frame_rng(3, 4))
    b = synthetic.sample_scene(synthetic.frame_rng(3, 4), held_up=0.0)
    assert a.to_dict() == b.to_dict()
    c = synthetic.sample_scene(synthetic.frame_rng(3, 4), held_up=1.0)
    assert c.params[:3] != a.params[:3]
    with pytest.raises(ValueError, match="held_up"):
        synthetic.sample_scene(synthetic.frame_rng(3, 4), held_up=1.5)


def test_make_dataset_records_the_held_up_share_and_refuses_to_mix(tmp_path):
    synthetic.make_dataset(tmp_path / "s", 2, held_up=0.5, progress=False)
    info = json.loads((tmp_path / "s" / "handlib_dataset.json").read_text())
    assert info["held_up"] == 0.5
    with pytest.raises(ValueError, match="other settings"):
        synthetic.make_dataset(tmp_path / "s", 2, progress=False)


@pytest.mark.parametrize("side", ["left", "right"])
def test_photo_views_turn_most_palms_to_the_camera_and_lean_the_fingers_towards_it(side):
    """``palm_share`` and ``lean`` as :data:`PHOTO_VIEWS` sets them, checked on the joints:
    the palm's normal against the optical axis and the wrist-to-knuckle line's tilt out of
    the image plane (a lean about the camera's x axis is the only turn that tilts it)."""
    rng = np.random.default_rng(7)
    v = synthetic.PHOTO_VIEWS
    lo, hi = v["lean_deg"]
    palms, leans = [], []
    for _ in range(400):
        rv = synthetic.held_up_rotation(rng, side, v["palm_share"], v["lean_deg"])
        x = hm.forward_kinematics(np.r_[rv, 0, 0, 0, np.zeros(20)], side=side)
        up, n = _hand_axes(x)
        palms.append(n[2] < 0)
        leans.append(np.degrees(np.arcsin(-up[2])))          # > 0: the fingers tip towards the camera
    palms, leans = np.array(palms), np.array(leans)
    assert abs(palms.mean() - v["palm_share"]) < 0.05       # binomial sd 0.015 at 400 draws
    assert lo - 1e-6 <= leans.min() and leans.max() <= hi + 1e-6
    assert abs(leans.mean() - (lo + hi) / 2) < 3.0           # uniform: sd of the mean 0.9 degrees
    for bad in ({"palm_share": 1.2}, {"lean": (20.0, 10.0)}, {"lean": (-95.0, 0.0)}):
        with pytest.raises(ValueError, match="palm_share|lean"):
            synthetic.held_up_rotation(rng, side, **bad)


def test_the_even_views_render_the_held_up_sets_made_before_the_options():
    """The rotations of three held-up scenes as the code drew them before ``palm_share``
    and ``lean`` existed (recorded then): the shipped recipe's held-up sets (``make weights``)
    render the same."""
    before = [[-2.677357939585, 0.144422037962, 0.04855931399],
              [0.934495980235, -0.43911263939, -2.795304079591],
              [-0.288336082496, -0.720018341285, -2.564572346803]]
    for i, rv in enumerate(before):
        s = synthetic.sample_scene(synthetic.frame_rng(5, i), held_up=1.0)
        np.testing.assert_allclose(s.params[:3], rv, atol=1e-11)


def test_make_dataset_records_the_views_and_refuses_to_mix(tmp_path):
    synthetic.make_dataset(tmp_path / "s", 2, held_up=0.5, palm_share=0.9, lean=(-20, 40), progress=False)
    info = json.loads((tmp_path / "s" / "handlib_dataset.json").read_text())
    assert info["held_up_palm_share"] == 0.9 and info["held_up_lean_deg"] == [-20.0, 40.0]
    with pytest.raises(ValueError, match="other settings"):
        synthetic.make_dataset(tmp_path / "s", 2, held_up=0.5, progress=False)
    synthetic.make_dataset(tmp_path / "e", 2, held_up=0.5, progress=False)
    assert "held_up_palm_share" not in json.loads((tmp_path / "e" / "handlib_dataset.json").read_text())
    assert synthetic.make_dataset(tmp_path / "s", 2, held_up=0.5, palm_share=0.9, lean=(-20, 40),
                                  progress=False)["skipped"] == 2
