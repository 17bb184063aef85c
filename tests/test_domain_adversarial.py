"""Domain-adversarial training of RegNet: the reversed gradient, its schedule, the real
photos' crops (framed like the renders', never a frozen photo) and a run that records it."""
import math

import cv2
import numpy as np
import pytest

from handlib import backend, domains, files
from handlib import pose_network as pn

tf = backend.tensorflow()


def test_reverse_gradient_is_the_identity_forward_and_reversed_backward():
    x = tf.constant([[1.0, -2.0, 3.0]])
    w = tf.constant([[0.5, 2.0, -1.0]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = pn.reverse_gradient(x, tf.constant(0.3))
        loss = tf.reduce_sum(w * y)
    np.testing.assert_allclose(y.numpy(), x.numpy())
    # d(sum w y)/dx is w without the reversal
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), -0.3 * w.numpy(), rtol=1e-6)


@pytest.mark.parametrize("p, expected", [(0.0, 0.0), (0.1, 0.4621), (0.2, 0.7616), (0.5, 0.9866),
                                         (1.0, 0.99991)])
def test_domain_ramp_is_ganin_and_lempitskys_schedule(p, expected):
    """2 / (1 + exp(-10 p)) - 1, values worked out by hand."""
    assert float(pn.domain_ramp(tf.constant(p))) == pytest.approx(expected, abs=1e-4)


def _bce(logit, label):
    """Binary cross-entropy with logits, written out."""
    z = tf.cast(logit, tf.float64)
    p = 1.0 / (1.0 + tf.exp(-z))
    return -tf.reduce_mean(label * tf.math.log(p) + (1 - label) * tf.math.log(1 - p))


def test_the_trunk_gets_the_critics_gradient_reversed_and_scaled():
    """The critic learns from the plain domain loss; the trunk's gradient is the plain
    loss's gradient times -weight * ramp (here at the end of training: ramp(1))."""
    import keras
    keras.utils.set_random_seed(3)
    net = pn.build_regnet(32, "compact", imagenet=False)
    trainer = pn.RegNetTrainer(net, domain_weight=0.5, domain_steps=10)
    trainer.compile(optimizer="adam")
    trainer.optimizer.build(trainer.train_variables())
    trainer.optimizer.iterations.assign(10)
    rng = np.random.default_rng(0)
    synth = tf.constant(rng.random((2, 32, 32, 3)), tf.float32)
    real = tf.constant(rng.random((3, 32, 32, 3)), tf.float32)
    K = tf.constant(np.tile(np.array([[40.0, 0, 15.5], [0, 40.0, 15.5], [0, 0, 1]]), (2, 1, 1)), tf.float32)
    trunk = [v for v in net.trainable_variables if "critic" not in v.path][:3]
    critic = trainer.critic.trainable_variables
    with tf.GradientTape(persistent=True) as tape:
        f = trainer._with_features({"image": synth, "crop_K": K}, training=True)["features"]
        loss, accuracy = trainer._domain_loss(f, real)
        # the same loss written out without the reversal
        plain = (_bce(trainer.critic(f), 0.0) + _bce(trainer.critic(trainer._features(real)), 1.0)) / 2
    assert float(loss) == pytest.approx(float(plain), rel=1e-4)
    assert 0.0 <= float(accuracy) <= 1.0
    scale = 0.5 * (2.0 / (1.0 + math.exp(-10.0)) - 1.0)
    for v, g, g0 in zip(trunk, tape.gradient(loss, trunk), tape.gradient(plain, trunk)):
        top = np.abs(g0.numpy()).max()
        assert top > 0
        np.testing.assert_allclose(g.numpy(), -scale * g0.numpy(), rtol=1e-3, atol=1e-4 * top)
    for g, g0 in zip(tape.gradient(loss, critic), tape.gradient(plain, critic)):
        np.testing.assert_allclose(g.numpy(), g0.numpy(), rtol=1e-3,
                                   atol=max(1e-4 * np.abs(g0.numpy()).max(), 1e-6))


def _letters_folder(root, photos=3, bad_label=False):
    """A fake ASL-letters folder: grey photos with a red hand box labelled in YOLO rows,
    and a frozen valid/ photo that must never be read."""
    for split in ("train", "valid"):
        (root / domains.LETTERS_PHOTOS).parent.joinpath(split, "images").mkdir(parents=True, exist_ok=True)
        (root / domains.LETTERS_PHOTOS).parent.joinpath(split, "labels").mkdir(parents=True, exist_ok=True)
    folder = root / domains.LETTERS_PHOTOS
    for i in range(photos):
        img = np.full((160, 200, 3), 128, np.uint8)
        cx, cy, w, h = 70 + 10 * i, 80, 60, 40     # pixels
        img[cy - h // 2:cy + h // 2, cx - w // 2:cx + w // 2] = (0, 0, 255)     # BGR red
        cv2.imwrite(str(folder / "images" / f"P{i}_jpg.jpg"), img)
        row = "x y" if bad_label and i == 0 else f"3 {cx / 200} {cy / 160} {w / 200} {h / 160}"
        (folder / "labels" / f"P{i}_jpg.txt").write_text(row + "\n")
    valid = folder.parent / "valid"
    cv2.imwrite(str(valid / "images" / "V0_jpg.jpg"), np.zeros((160, 200, 3), np.uint8))
    (valid / "labels" / "V0_jpg.txt").write_text("3 0.5 0.5 0.3 0.3\n")
    return folder


def test_photo_crops_frame_the_hand_box_and_never_read_frozen_photos(tmp_path):
    _letters_folder(tmp_path, photos=3)
    crops = domains.regnet_photo_crops(32, per_photo=4, folder=tmp_path, progress=False)
    assert crops.shape == (12, 32, 32, 3) and crops.dtype == np.uint8
    # the box centre moves by at most 15 % of a side of at most 2.2 box extents, so the
    # crop's centre stays inside the red box; the frozen valid/ photo (black) never shows
    centre = crops[:, 15:17, 15:17].reshape(-1, 3).astype(int)
    assert np.all(centre[:, 0] > 200) and np.all(centre[:, 1:] < 60)
    assert all((c.reshape(-1, 3).max(1) > 0).mean() > 0.3 for c in crops)
    # loose boxes: grey photo around the red box in every crop
    grey = (np.abs(crops.astype(int) - 128).max(-1) < 10).mean(axis=(1, 2))
    assert np.all(grey > 0.05)


def test_inside_framing_keeps_a_loose_box_inside_its_photo(tmp_path):
    """A hand box that fills its photo (the Sign Language Digits' case): padded crops
    show black borders, crops kept inside the photo none (beyond the perspective crop's
    slight keystone at the corners)."""
    folder = _letters_folder(tmp_path, photos=1)
    img = np.full((100, 100, 3), 128, np.uint8)
    cv2.imwrite(str(folder / "images" / "P0_jpg.jpg"), img)
    (folder / "labels" / "P0_jpg.txt").write_text("3 0.5 0.5 0.9 0.9\n")
    black = lambda crops: (crops.max(-1) == 0).mean(axis=(1, 2))  # noqa: E731
    padded = domains.regnet_photo_crops(32, per_photo=6, folder=tmp_path, progress=False, framing="padded")
    inside = domains.regnet_photo_crops(32, per_photo=6, folder=tmp_path, progress=False, framing="inside")
    assert np.all(black(padded) > 0.05)
    assert np.all(black(inside) < 0.03)
    with pytest.raises(ValueError, match="framing"):
        domains.regnet_photo_crops(32, folder=tmp_path, progress=False, framing="tight")


def test_frozen_digits_photos_never_reach_the_crops(tmp_path, monkeypatch):
    """The Sign Language Digits' frozen blocks (here IMG_1105, block 0011) are left out:
    the reader is asked only for photos outside them (a stand-in reader that honours its
    ``select`` argument, so the test does not depend on the keying)."""
    from handlib import real_photos
    folder = tmp_path / domains.REAL_PHOTOS / "3"
    folder.mkdir(parents=True)
    paths = {}
    for name, bgr in (("IMG_1105.JPG", (255, 0, 0)), ("IMG_2105.JPG", (0, 0, 255))):   # blue frozen, red not
        img = np.full((100, 100, 3), 128, np.uint8)
        img[20:80, 30:70] = bgr
        cv2.imwrite(str(folder / name), img)
        paths[name] = folder / name

    class Photo:
        def __init__(self, path):
            self.image_path = str(path)

        def load_mask(self):
            m = np.zeros((100, 100), bool)
            m[20:80, 30:70] = True
            return m

    def reader(root, limit=None, progress=True, select=None, **kw):
        chosen = [p for p in sorted(paths.values()) if select is None or select(p)]
        return [Photo(p) for p in chosen][:limit], {}

    monkeypatch.setattr(real_photos, "read_real_photos", reader)
    crops = domains.regnet_photo_crops(32, per_photo=3, folder=tmp_path, progress=False)
    assert len(crops) == 3
    centre = crops[:, 15:17, 15:17].reshape(-1, 3).astype(int)
    assert np.all(centre[:, 0] > 200) and np.all(centre[:, 2] < 60)      # red, never blue


def test_photo_crops_without_photos_and_with_a_bad_label(tmp_path):
    assert domains.regnet_photo_crops(32, folder=tmp_path / "empty", progress=False).shape == (0, 32, 32, 3)
    _letters_folder(tmp_path / "bad", photos=2, bad_label=True)
    with pytest.raises(files.DataFileError, match="P0_jpg.txt"):
        domains.regnet_photo_crops(32, folder=tmp_path / "bad", progress=False)


@pytest.fixture(scope="module")
def one_set(tmp_path_factory):
    from handlib.synthetic import make_dataset
    root = tmp_path_factory.mktemp("dann_set")
    make_dataset(root / "a", 8, look="synth", seed=410, size=128, progress=False)
    return root / "a"


def test_a_domain_adversarial_run_records_its_photos_and_ships_a_plain_regnet(one_set, tmp_path, monkeypatch):
    from handlib import pose_training, weights
    real = tmp_path / "real"
    _letters_folder(real, photos=3)
    monkeypatch.setenv(files.REALDATA_ENV, str(real))
    record = pose_training.train_run([one_set], tmp_path / "run", input_size=32, steps=4, batch_size=4,
                                     steps_per_epoch=2, imagenet=False, progress=False,
                                     domain_weight=0.3, val_samples=0)
    assert record["config"]["domain_weight"] == 0.3
    assert record["domain_photos"] == {"crops": 6, "per_step": 2}
    assert {"domain", "domain_acc"} <= set(record["final_losses"])
    assert "Sign Language Digits" in record["licences"]
    model = weights.load_model(tmp_path / "run" / "regnet.keras")
    assert not any("critic" in layer.name for layer in model.layers)
    # without photos the same settings are refused before anything is written
    monkeypatch.setenv(files.REALDATA_ENV, str(tmp_path / "none"))
    with pytest.raises(ValueError, match="real photos"):
        pose_training.train_run([one_set], tmp_path / "run2", input_size=32, steps=4, batch_size=4,
                                steps_per_epoch=2, imagenet=False, progress=False, domain_weight=0.3)
    with pytest.raises(ValueError, match="compact trunk"):
        pose_training.train_run([one_set], tmp_path / "run4", trunk="resnet50", input_size=32, steps=4,
                                batch_size=4, steps_per_epoch=2, imagenet=False, progress=False,
                                domain_weight=0.3)
    with pytest.raises(ValueError, match="domain_weight"):
        pose_training.train_run([one_set], tmp_path / "run3", input_size=32, steps=4, batch_size=4,
                                steps_per_epoch=2, imagenet=False, progress=False, domain_weight=-1)


def test_a_training_step_moves_the_critic_and_the_network(one_set, tmp_path, monkeypatch):
    """One ``train_step`` on renders plus photo crops changes the critic's weights and the
    RegNet's, and logs the critic's loss and accuracy; a batch without photos (validation)
    logs no domain terms."""
    import keras
    from handlib import pipeline as pl
    from handlib import pose_training
    from handlib.datasets import open_dataset
    keras.utils.set_random_seed(5)
    real = tmp_path / "real"
    _letters_folder(real, photos=3)
    monkeypatch.setenv(files.REALDATA_ENV, str(real))
    trainer = pose_training.build_trainer(32, "compact", 1e-3, steps=2, imagenet=False, domain_weight=1.0)
    trainer.optimizer.iterations.assign(2)          # past the ramp
    batch = next(iter(pl.make_pipeline(open_dataset(one_set), pl.PipelineConfig(
        input_size=32, heatmap_size=8, batch_size=4))))
    photos, _ = pose_training.domain_photo_stream(32, 2, progress=False)
    image, t = batch
    before_critic = [w.numpy().copy() for w in trainer.critic.trainable_variables]
    before_net = [w.numpy().copy() for w in trainer.net.trainable_variables]
    logs = trainer.train_step((image, {**t, "real_image": next(iter(photos))}))
    assert {"domain", "domain_acc"} <= set(logs) and 0 < float(logs["domain"]) < 10
    assert any(not np.allclose(a, b.numpy()) for a, b in zip(before_critic, trainer.critic.trainable_variables))
    assert any(not np.allclose(a, b.numpy()) for a, b in zip(before_net, trainer.net.trainable_variables))
    assert not any(k.startswith("domain") for k in trainer.test_step((image, t)))
