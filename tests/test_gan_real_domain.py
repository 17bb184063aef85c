"""The GeoConGAN's wider real domain: photos whose silhouette is unknown (the ASL letters
in rooms) join the keyed ones, the geometric loss leaves them out, and no photo that looks
like a scored one of the real-hand yardstick trains the GAN."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from handlib import backend

tf = backend.tensorflow()

from handlib import domains, gan, peer_reference as pr  # noqa: E402


def test_geometric_loss_leaves_out_pixels_of_unknown_silhouette():
    rng = np.random.default_rng(3)
    p = rng.uniform(0.01, 0.99, (3, 8, 8, 1)).astype(np.float32)
    m = (rng.random((3, 8, 8, 1)) < 0.4).astype(np.float32)
    m[1] = -1.0                                   # the second crop: silhouette unknown
    known = m >= 0
    expected = -np.mean((m * np.log(p) + (1 - m) * np.log(1 - p))[known])
    assert float(gan.silhouette_bce(p, m)) == pytest.approx(expected, rel=1e-5)
    # nothing known: no loss and no gradient
    x = tf.Variable(p)
    with tf.GradientTape() as tape:
        loss = gan.silhouette_bce(x, -np.ones_like(m))
    assert float(loss) == 0.0
    assert float(tf.reduce_max(tf.abs(tape.gradient(loss, x)))) == 0.0
    # an unknown crop's SilNet output gets no gradient; a known one's does
    with tf.GradientTape() as tape:
        loss = gan.silhouette_bce(x, m)
    g = np.asarray(tape.gradient(loss, x))
    assert np.all(g[1] == 0) and np.all(np.abs(g[[0, 2]]) > 0)


def _domain(name, values, known):
    imgs = np.stack([np.full((8, 8, 3), v, np.uint8) for v in values])
    masks = np.zeros((len(values), 8, 8), bool)
    masks[:, 2:6, 2:6] = True
    return domains.Domain(name, imgs, masks, [f"{name}{i}" for i in range(len(values))],
                          [name] * len(values), known)


def test_joined_domains_keep_which_silhouettes_are_known():
    keyed = _domain("keyed", [10, 20], None)
    rooms = _domain("rooms", [200], np.zeros(1, bool))
    both = domains.join_domains("both", keyed, rooms)
    assert len(both) == 3 and both.sources == ["keyed0", "keyed1", "rooms0"]
    np.testing.assert_array_equal(both.mask_known(), [True, True, False])
    np.testing.assert_array_equal(both.take([2, 0]).mask_known(), [False, True])
    assert domains.join_domains("one", keyed).known is None       # all known stays None
    assert keyed.take(slice(0, 1)).known is None


def test_gan_batches_mark_unknown_silhouettes_minus_one():
    synth = _domain("synth", [50, 60], None)
    real = domains.join_domains("real", _domain("keyed", [10], None),
                                _domain("rooms", [250], np.zeros(1, bool)))
    seen = set()
    for _, _, r, rm in gan.gan_dataset(synth, real, batch_size=1, seed=0).take(12):
        r, rm = np.asarray(r)[0], np.asarray(rm)[0, ..., 0]
        if r.mean() > 0.9:                       # the room photo (250 -> 0.96)
            assert np.all(rm == -1)
            seen.add("rooms")
        else:
            assert set(np.unique(rm)) == {0.0, 1.0} and rm.sum() == 16
            seen.add("keyed")
    assert seen == {"keyed", "rooms"}


def _photo(kind, size=(160, 200)):
    """A patterned photo: ``kind`` 0 stripes, 1 checks, 2 rings, 3 a colour ramp (not
    mirror-symmetric), 4 diagonal stripes. To ImageNet features two of them are far apart
    (cosine 0.17-0.50); plain noise photos are not (about 0.9)."""
    h, w = size
    y, x = np.mgrid[0:h, 0:w]
    zero = np.zeros_like(x)
    if kind == 0:
        g = (x // 10) % 2 * 255
        img = np.stack([g, zero, 255 - g], -1)
    elif kind == 1:
        g = ((x // 20) + (y // 20)) % 2 * 255
        img = np.stack([g, g, zero + 40], -1)
    elif kind == 2:
        g = (np.hypot(x - w / 2, y - h / 2) // 8) % 2 * 255
        img = np.stack([zero + 200, g, zero], -1)
    elif kind == 3:
        img = np.stack([x * 255 // w, y * 255 // h, zero + 128], -1)
    else:
        g = ((x + y) // 12) % 2 * 255
        img = np.stack([zero + 30, g, g], -1)
    return img.astype(np.uint8)


def _letters_set(base):
    """A fake ASL-letters set: two scored photos (valid/, test/), and in train/ a source
    photo with two copies, one of them the mirror image of a scored photo (so the whole
    source is a near-duplicate), and a second, unrelated source. Returns the train folder."""
    root = base / pr.SETS["asl_letters"]
    for split in ("train", "valid", "test"):
        (root / split / "images").mkdir(parents=True)
        (root / split / "labels").mkdir(parents=True)
    scored = {"valid": _photo(3), "test": _photo(1)}
    for split, img in scored.items():
        cv2.imwrite(str(root / split / "images" / f"S_{split}_jpg.rf.a.jpg"), img)
        (root / split / "labels" / f"S_{split}_jpg.rf.a.txt").write_text("0 0.5 0.5 0.3 0.3\n")
    copies = {"D0_jpg.rf.a": scored["valid"][:, ::-1], "D0_jpg.rf.b": _photo(2),
              "K0_jpg.rf.a": _photo(0), "K0_jpg.rf.b": _photo(4)}
    for stem, img in copies.items():
        cv2.imwrite(str(root / "train" / "images" / f"{stem}.jpg"), np.ascontiguousarray(img))
        (root / "train" / "labels" / f"{stem}.txt").write_text("0 0.4 0.5 0.2 0.25\n")
    return root / "train"


def test_letters_domain_drops_sources_that_look_like_scored_photos(tmp_path, monkeypatch):
    monkeypatch.setattr(pr, "NEAR_SCORED_CACHE", tmp_path / "near.json")
    _letters_set(tmp_path / "real")
    d, report = domains.letters_domain(32, folder=tmp_path / "real", progress=False)
    # D0 (one copy mirrors the valid photo) goes with all its copies; K0's two stay
    assert sorted(p.split("/")[-1] for p in d.sources) == ["K0_jpg.rf.a.jpg", "K0_jpg.rf.b.jpg"]
    assert report["letters_sources_left_out_near_scored"] == 1 and report["letters_sources_total"] == 2
    assert d.images.shape == (2, 32, 32, 3) and not d.mask_known().any()
    near = pr.letters_near_scored(tmp_path / "real" / pr.SETS["asl_letters"], progress=False)
    assert near["near_sources"] == ["D0"] and (tmp_path / "near.json").is_file()
    # the yardsticks: the copies of one source (D0's two, K0's two) and the other pairs
    from handlib.efficientnet_lite import image_features
    train = sorted((tmp_path / "real" / domains.LETTERS_PHOTOS / "images").glob("*.jpg"))
    f = image_features([cv2.cvtColor(cv2.imread(str(t)), cv2.COLOR_BGR2RGB) for t in train])
    assert near["copies_median"] == pytest.approx(np.median([f[0] @ f[1], f[2] @ f[3]]), abs=1e-6)
    assert near["unrelated_median"] == pytest.approx(np.median([f[i] @ f[j] for i in (0, 1) for j in (2, 3)]),
                                                     abs=1e-6)
    # the crop is the YOLO box (0.2 x 0.25 of 200 x 160: 40 px square) grown by the margin
    box = tmp_path / "real" / domains.LETTERS_PHOTOS / "images" / "K0_jpg.rf.a.jpg"
    rgb = cv2.cvtColor(cv2.imread(str(box)), cv2.COLOR_BGR2RGB)
    c, side = domains.inside_image((80, 80), 40 * (1 + 2 * domains.REAL_MARGIN), rgb.shape)
    np.testing.assert_array_equal(d.images[0], domains.cut_square(rgb, c, side, 32))


def test_letters_domain_without_the_photos_is_empty(tmp_path):
    d, report = domains.letters_domain(32, folder=tmp_path, progress=False)
    assert len(d) == 0 and report == {"letters": "absent"}


def test_train_gan_with_letters_says_when_they_are_missing(tmp_path, monkeypatch):
    from handlib import synthetic
    monkeypatch.setenv("HANDLIB_REALDATA_DIR", str(tmp_path / "none"))
    synth = tmp_path / "synth"
    synthetic.make_dataset(synth, frames=4, look="synth", seed=0, progress=False)
    with pytest.raises(ValueError, match="--real-letters needs the ASL letters"):
        gan.train_run(synth, tmp_path / "run", size=32, steps=1, steps_per_epoch=1, limit=4,
                      letters=True, progress=False)


def test_a_mirror_image_of_a_scored_photo_counts_as_a_near_duplicate(tmp_path, monkeypatch):
    """The mirror branch on its own: with features that change when a photo is mirrored
    (raw pixels; ImageNet's pooled features hardly do), the mirrored copy is caught only
    through the scored photo's mirror image."""
    from handlib import efficientnet_lite

    def pixels(images):
        f = np.stack([cv2.resize(np.asarray(im), (16, 16)).astype(np.float32).ravel() for im in images])
        f -= f.mean(axis=1, keepdims=True)
        return f / np.linalg.norm(f, axis=1, keepdims=True)
    monkeypatch.setattr(efficientnet_lite, "image_features", pixels)
    root = _letters_set(tmp_path / "real").parent
    ramp = _photo(3)
    assert pixels([ramp])[0] @ pixels([ramp[:, ::-1]])[0] < 0.5          # the stub sees the flip
    near = pr.letters_near_scored(root, cache=tmp_path / "a.json", progress=False)
    assert near["near_sources"] == ["D0"]
    monkeypatch.setattr(pr, "LETTERS_SCORED_SPLITS", ("test",))          # the ramp not scored now
    assert pr.letters_near_scored(root, cache=tmp_path / "b.json", progress=False)["near_sources"] == []


def test_resuming_with_other_settings_names_a_setting_that_is_gone(tmp_path):
    from handlib import files, weights
    files.write_json(tmp_path / "config.json", {"steps": 10, "real_letters": True})
    with pytest.raises(ValueError, match="real_letters"):
        weights.check_run_config(tmp_path, {"steps": 10}, "train-gan")


def test_silnet_refuses_crops_without_a_silhouette():
    from handlib import silnet
    rooms = _domain("rooms", [200], np.zeros(1, bool))
    with pytest.raises(ValueError, match="without"):
        silnet.dataset([rooms])
