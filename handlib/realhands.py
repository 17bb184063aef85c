"""The RealHands layout (the GeoConGAN's real domain): a reader.

Introduced in ``notebooks/01_dataset_preparation.ipynb``.

Layout: ``userNN/color/image_XXXX_color.{jpg,png}`` with masks in
``userNN/mask(s)/image_XXXX.{jpg,png}``: images and (noisy) silhouettes, no joints. The
split unit is the user.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from handlib.files import DataFileError
from handlib.samples import HandSample

_IMAGE = re.compile(r"^image_(\d+)_color\.(jpg|jpeg|png)$", re.I)


def read_realhands(root, limit: int | None = None) -> list[HandSample]:
    """Images and silhouettes of a RealHands folder (``userNN/color``, ``userNN/mask(s)``).

    Images without a mask are kept with ``mask_path=None``; use
    ``sample.load_mask(clean=True)`` for the cleaned silhouette.
    """
    root = Path(root)
    users = sorted(p for p in root.glob("user*") if p.is_dir())
    if not users:
        raise DataFileError(root, "a RealHands layout: userNN/color/image_XXXX_color.jpg", "none")
    out = []
    for user in users:
        color_dir = user / "color"
        mask_dirs = [d for d in (user / "mask", user / "masks") if d.is_dir()]
        if not color_dir.is_dir():
            raise DataFileError(color_dir, "a folder of image_XXXX_color images", "no such folder")
        for name in sorted(os.listdir(color_dir)):
            m = _IMAGE.match(name)
            if not m:
                continue
            mask = next((str(d / f"image_{m.group(1)}.{ext}") for d in mask_dirs
                         for ext in ("png", "jpg", "jpeg")
                         if (d / f"image_{m.group(1)}.{ext}").is_file()), None)
            out.append(HandSample(image_path=str(color_dir / name), sequence=user.name,
                                  mask_path=mask, source="realhands"))
            if limit is not None and len(out) >= limit:
                return out
    return out
