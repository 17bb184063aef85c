"""Real photo backgrounds: the shipped crops in ``data/backgrounds/`` and random views of them.

The folder holds a few hundred 256 x 256 RGB JPEG crops of about fifty photos (landscapes,
rooms, streets, textures, animals; no people and no hands), taken from packages on
package registries under CC0, public-domain or CC-BY licences. Which photo each crop
comes from, its author and its licence are listed in ``data/backgrounds/ATTRIBUTION.md``;
``tools/build_backgrounds.py`` rebuilds the folder from the packages.

Used by :mod:`handlib.ganerate` to put a translated hand in front of a real scene::

    rng = np.random.default_rng(0)
    paths = background_files()
    bg = random_crop(paths[rng.integers(len(paths))], 128, rng)   # (128, 128, 3) uint8
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from handlib.files import DATA_DIR
from handlib.images import read_image

BACKGROUND_DIR = DATA_DIR / "backgrounds"
"""Folder of the shipped background crops (``data/backgrounds/``)."""

_EXTENSIONS = (".jpg", ".jpeg", ".png")
MIN_SCALE, MAX_SCALE = 0.5, 1.0
"""Range of a random crop's side, as a fraction of the image's shorter side."""


def background_files() -> list[str]:
    """Sorted paths of the background images in :data:`BACKGROUND_DIR` (.jpg, .jpeg, .png).

    Raises :class:`FileNotFoundError` naming the folder when it is missing or holds no
    image (rebuild it with ``python tools/build_backgrounds.py``).
    """
    folder = Path(BACKGROUND_DIR)
    found = sorted(str(p) for p in folder.iterdir()
                   if p.is_file() and p.suffix.lower() in _EXTENSIONS) if folder.is_dir() else []
    if not found:
        raise FileNotFoundError(
            f"{folder}: no background images (.jpg, .png) found; they ship with the "
            "repository, or run `python tools/build_backgrounds.py` to rebuild them")
    return found


def random_crop(path, size: int, rng: np.random.Generator) -> np.ndarray:
    """A random square view of the image at ``path``, as (size, size, 3) uint8 RGB.

    The square's side is a uniformly random fraction, 50-100 %, of the image's shorter
    side (in pixels); its position is uniform over the image; it is mirrored left-right
    with probability 1/2 and resized to ``size`` x ``size`` pixels with ``cv2.INTER_AREA``.
    Greyscale images come back as RGB. The same ``rng`` state gives the same view.

    Raises :class:`handlib.files.DataFileError` naming the file if it is missing or not
    a readable image, and :class:`ValueError` if ``size`` is not a positive integer.
    """
    import cv2
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be a positive integer (pixels), got {size!r}")
    img = read_image(path)                                   # (H, W, 3) uint8 RGB
    h, w = img.shape[:2]
    side = max(1, int(round(min(h, w) * rng.uniform(MIN_SCALE, MAX_SCALE))))
    y0 = int(rng.integers(0, h - side + 1))
    x0 = int(rng.integers(0, w - side + 1))
    crop = img[y0:y0 + side, x0:x0 + side]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    out = cv2.resize(np.ascontiguousarray(crop), (int(size), int(size)),
                     interpolation=cv2.INTER_AREA)
    return out.reshape(int(size), int(size), 3).astype(np.uint8, copy=False)
