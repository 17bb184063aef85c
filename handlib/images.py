"""Image files: reading with clear errors, atomic writing, silhouette cleaning.

Introduced in ``notebooks/01_dataset_preparation.ipynb``. Images are RGB ``uint8``
(H, W, 3) in memory (OpenCV's BGR stays inside this module); silhouettes are (H, W) bool.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from handlib import files
from handlib.files import DataFileError

_SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpeg", b"BM": "bmp",
    b"GIF87a": "gif", b"GIF89a": "gif",
}


_PNG_END = b"IEND\xaeB`\x82"
_JPEG_END = b"\xff\xd9"


def image_kind(path) -> str:
    """The format of an image file from its first and last bytes: "png", "jpeg", "bmp"
    or "gif".

    Raises :class:`DataFileError` naming the file when it is missing, empty, not one of
    png, jpeg, bmp or gif (the formats both OpenCV and TensorFlow's ``decode_image`` read), or a PNG or JPEG cut short (no end marker: an interrupted copy
    or download). Cheap (reads 40 bytes), so a whole data set can be checked when a
    training table is built, before TensorFlow decodes it without naming the file.
    Damage inside an intact-looking file is only found by decoding it
    (:func:`read_image`).
    """
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            f.seek(0, os.SEEK_END)
            f.seek(max(f.tell() - 32, 0))
            tail = f.read()
    except FileNotFoundError:
        raise DataFileError(path, "an image file (png, jpg)", "no such file") from None
    except IsADirectoryError:
        raise DataFileError(path, "an image file (png, jpg)", "a folder") from None
    for sig, kind in _SIGNATURES.items():
        if head.startswith(sig):
            if (kind == "png" and _PNG_END not in tail) or (kind == "jpeg" and _JPEG_END not in tail):
                raise DataFileError(path, f"a complete {kind.upper()} image", "a file cut short "
                                    "(no end-of-image marker)")
            return kind
    found = "an empty file" if not head else f"a file starting with {head[:4]!r}"
    raise DataFileError(path, "an image file (png, jpg, bmp, gif)", found)


def read_image(path, gray: bool = False) -> np.ndarray:
    """Read an image as RGB uint8 (H, W, 3), or grey (H, W); clear error if unreadable."""
    import cv2
    if not os.path.isfile(path):
        raise DataFileError(path, "an image file", "no such file")
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR)
    if img is None:
        raise DataFileError(path, "an image readable by OpenCV (png, jpg)", "an unreadable file")
    return img if gray else img[..., ::-1].copy()


def read_depth(path) -> np.ndarray:
    """A 16-bit depth PNG as (H, W) float millimetres (0 = no surface)."""
    import cv2
    d = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if d is None or d.ndim != 2:
        raise DataFileError(path, "a 16-bit one-channel PNG depth image", "an unreadable file")
    return d.astype(np.float64)


def write_image(path, image: np.ndarray) -> None:
    """Write an image atomically; RGB (H, W, 3) or one-channel (H, W), uint8 or uint16."""
    import cv2
    img = np.asarray(image)
    if img.ndim == 3:
        img = img[..., ::-1]
    with files.atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), np.ascontiguousarray(img)):
            raise OSError(f"{path}: could not write the image")


def clean_mask(mask: np.ndarray) -> np.ndarray:
    """Clean a noisy silhouette (H, W) bool: keep the largest connected component and
    fill its holes (the RealHands masks are known to be noisy)."""
    import cv2
    m = np.asarray(mask).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if n <= 1:
        return np.zeros(m.shape, bool)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    m = (labels == largest).astype(np.uint8)
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    filled = np.zeros_like(m)
    cv2.drawContours(filled, contours, -1, 1, thickness=-1)
    return filled.astype(bool)


def list_images(folder) -> list[str]:
    """Image files (jpg, png, bmp) in a folder, sorted; raises if there are none."""
    folder = Path(folder)
    exts = {".jpg", ".jpeg", ".png", ".bmp"}
    found = sorted(str(p) for p in folder.iterdir() if p.suffix.lower() in exts) \
        if folder.is_dir() else []
    if not found:
        raise DataFileError(folder, "a folder of images (.jpg, .png, .bmp)",
                            "none" if folder.is_dir() else "no such folder")
    return found
