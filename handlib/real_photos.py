"""Real hand photos: a folder of images, their silhouettes, a quality gate, held-out blocks.

Introduced for the GeoConGAN's real domain (notebook 02); the keying method is also the
judge of how well a translated hand keeps its silhouette (:mod:`handlib.gan_evaluation`).
That judge is not independent of training: the same keying made SilNet's real-domain
masks and chose which photos form the real domain.

* **Silhouettes** come from a mask folder where one exists (the RealHands layout,
  :mod:`handlib.realhands`) or, for photos of a hand against a plain background, from
  :func:`key_silhouette`: the background's colour is estimated from a band along the
  image border, pixels whose chroma differs from it seed the hand, and OpenCV's GrabCut
  refines the split (seeded by the border as sure background); a small opening removes
  specks, and the largest component is kept with its holes filled.
* A **quality gate** (:func:`check_silhouette`) rejects implausible masks (too small
  or too large, broken into pieces, too flat, or covering much of the border) and says
  why; :func:`read_real_photos` reports how many it dropped for each reason.
* **Held-out blocks**: photo numbers in file names (``IMG_1118.JPG``) are consecutive
  per person, so blocks of :data:`BLOCK_SIZE` consecutive numbers approximate people;
  each photo's ``sequence`` is its block, so :func:`handlib.splits.split_by_sequence`
  holds out whole blocks.

Keyed silhouettes are cached as PNG files (atomic writes) named after each photo's path,
size and time, beside the keying settings and a JSON report, so a folder is keyed once
and then read quickly, a changed photo is keyed again, and rerunning resumes an
interrupted keying with the same settings.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from handlib import files, images
from handlib.files import DataFileError
from handlib.samples import HandSample

BLOCK_SIZE = 100
"""Consecutive photo numbers per held-out block. Sign Language Digits numbers each
person's ten photos consecutively (IMG_1118 to IMG_1127 are digits 0 to 9 of one
person), so a block is about ten people; block edges are not person edges, so at most
one person per edge straddles two blocks (about one in ten)."""
REPORT_FILE = "keying_report.json"


@dataclass(frozen=True)
class KeyingConfig:
    """Settings of :func:`key_silhouette` (fractions of the image's shorter side)."""

    band: float = 0.06            # border band that samples the background
    chroma_factor: float = 2.5    # seed threshold: this many times the band's 80th percentile
    min_chroma: float = 8.0       # ... and at least this chroma distance (Lab a*b* units)
    iterations: int = 4           # GrabCut iterations
    max_side: int = 256           # larger photos are keyed at this size, mask scaled back


@dataclass(frozen=True)
class GateConfig:
    """Limits of :func:`check_silhouette` (fractions of the image)."""

    min_area: float = 0.12        # hands in these photos fill the frame (1st percentile 0.15)
    max_area: float = 0.75
    min_largest: float = 0.9      # the largest component holds this share of the mask
    min_extent: float = 0.4       # the mask's box spans this much of the image one way or the other
    max_border: float = 0.35      # share of the border band covered (a wrist enters from one side)


def _border_band(h: int, w: int, band: float) -> np.ndarray:
    b = max(2, int(round(band * min(h, w))))
    m = np.zeros((h, w), bool)
    m[:b], m[-b:], m[:, :b], m[:, -b:] = True, True, True, True
    return m


def key_silhouette(image: np.ndarray, config: KeyingConfig | None = None) -> np.ndarray:
    """The hand's silhouette (H, W) bool in a photo (H, W, 3) uint8 RGB taken against a
    plain background (see the module docstring for the method)."""
    import cv2
    cfg = config or KeyingConfig()
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"key_silhouette needs an RGB uint8 image (H, W, 3), got {img.shape} {img.dtype}")
    H, W = img.shape[:2]
    scale = min(1.0, cfg.max_side / max(H, W))
    small = cv2.resize(img, (max(8, round(W * scale)), max(8, round(H * scale))),
                       interpolation=cv2.INTER_AREA) if scale < 1 else img
    h, w = small.shape[:2]
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    border = _border_band(h, w, cfg.band)
    ref = np.median(lab[border], axis=0)
    chroma = np.linalg.norm(lab[..., 1:] - ref[1:], axis=-1)
    thr = max(cfg.min_chroma, float(np.percentile(chroma[border], 80)) * cfg.chroma_factor)
    gc = np.full((h, w), cv2.GC_PR_BGD, np.uint8)
    gc[chroma > thr] = cv2.GC_PR_FGD
    gc[border & (chroma <= thr)] = cv2.GC_BGD
    if (gc == cv2.GC_PR_FGD).sum() < 10:
        return np.zeros((H, W), bool)
    bgd, fgd = np.zeros((1, 65)), np.zeros((1, 65))
    cv2.setRNGSeed(0)                       # GrabCut's k-means start: the same mask every run
    cv2.grabCut(np.ascontiguousarray(small[..., ::-1]), gc, None, bgd, fgd, cfg.iterations,
                cv2.GC_INIT_WITH_MASK)
    m = ((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)).astype(np.uint8)
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    if scale < 1:
        m = cv2.resize(m, (W, H), interpolation=cv2.INTER_NEAREST)
    return images.clean_mask(m > 0)


def key_silhouettes(images) -> np.ndarray:
    """:func:`key_silhouette` of each image (N, H, W, 3) uint8: silhouettes (N, H, W) bool
    (the judge of :mod:`handlib.gan_evaluation`)."""
    return np.stack([key_silhouette(im) for im in images]) if len(images) else \
        np.zeros(np.shape(images)[:3], bool)


def check_silhouette(mask: np.ndarray, gate: GateConfig | None = None) -> str | None:
    """Why a silhouette (H, W) bool is implausible, or None when it passes the gate."""
    import cv2
    g = gate or GateConfig()
    m = np.asarray(mask, bool)
    area = m.mean()
    if area < g.min_area:
        return "too small"
    if area > g.max_area:
        return "too large"
    n, _, stats, _ = cv2.connectedComponentsWithStats(m.astype(np.uint8), connectivity=8)
    largest = stats[1:, cv2.CC_STAT_AREA].max() if n > 1 else 0
    if largest < g.min_largest * m.sum():
        return "in pieces"
    ys, xs = np.nonzero(m)
    h, w = m.shape
    if max((np.ptp(ys) + 1) / h, (np.ptp(xs) + 1) / w) < g.min_extent:
        return "spans too little"
    if m[_border_band(h, w, KeyingConfig().band)].mean() > g.max_border:
        return "covers the border"
    return None


def photo_block(path) -> str:
    """The held-out unit of a photo: ``block-NNNN`` from the last number in its file
    name (``IMG_1118.JPG`` -> ``block-0011`` with blocks of 100), or the file's stem."""
    numbers = re.findall(r"\d+", Path(path).stem)
    return f"block-{int(numbers[-1]) // BLOCK_SIZE:04d}" if numbers else Path(path).stem


SETTINGS_FILE = "keying_settings.json"


def _cache_name(root: Path, path: Path) -> str:
    """A cached mask's file name: the source's path, size and modification time, so a
    changed photo (or mask) is keyed (or cleaned) again instead of reusing a stale mask."""
    st = path.stat()
    key = f"{path.relative_to(root).as_posix()}|{st.st_size}|{st.st_mtime_ns}"
    return hashlib.sha1(key.encode()).hexdigest()[:16] + ".png"


def read_real_photos(root, cache=None, limit: int | None = None, progress: bool = True,
                     keying: KeyingConfig | None = None, gate: GateConfig | None = None,
                     select=None):
    """Photos of one hand each under ``root`` (any depth; jpg, png, bmp), with silhouettes.

    A RealHands folder is read with its own masks (cleaned; its users are the split
    units); any other folder is keyed (:func:`key_silhouette`; blocks of photo numbers
    are the split units). Masks are cached as PNG files in ``cache`` (default: a folder
    under ``build/real_masks/`` named after ``root``), named after each source file's
    path, size and time, so a changed photo is keyed again; the keying settings are
    written to the cache before the first mask, so a resumed run cannot mix settings.
    The gate is applied on every read. Returns ``(samples, report)``: the
    :class:`handlib.samples.HandSample` records that pass the gate (``mask_path`` set,
    ``extra['label']`` their folder's or user's name), and ``{"photos", "kept",
    "dropped": {reason: count}, "dropped_files": {...}}`` (also written to the cache as
    JSON when the whole folder was read, i.e. without ``limit``). An unreadable photo
    is dropped as "unreadable". ``select``: a predicate on a photo's path; only the photos
    it accepts are read (before ``limit``), e.g. to leave the frozen scored photos of
    :mod:`handlib.peer_reference` out of training.
    """
    from handlib.realhands import read_realhands
    root = Path(root)
    if not root.is_dir():
        raise DataFileError(root, "a folder of hand photos", "no such folder")
    cache = Path(cache) if cache is not None else \
        files.REPO_ROOT / "build" / "real_masks" / f"{root.resolve().name}-{hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:8]}"
    realhands = any(root.glob("user*/color"))
    if realhands:
        samples = read_realhands(root, limit=limit)
        items = [(Path(s.image_path), Path(s.mask_path), s.sequence) for s in samples if s.mask_path]
    else:
        exts = {".jpg", ".jpeg", ".png", ".bmp"}
        inside = cache.resolve()
        found = sorted(p for p in root.rglob("*") if p.suffix.lower() in exts and p.is_file()
                       and inside not in p.resolve().parents)
        if not found:
            raise DataFileError(root, "hand photos (.jpg, .png, .bmp)", "none")
        if select is not None:
            found = [p for p in found if select(p)]
        items = [(p, None, photo_block(p)) for p in found[:limit]]
    kcfg, gcfg = keying or KeyingConfig(), gate or GateConfig()
    identity = {"keying": asdict(kcfg) if not realhands else "mask folder", "block_size": BLOCK_SIZE}
    settings_path = cache / SETTINGS_FILE
    if settings_path.is_file():
        if files.read_json(settings_path, "the keying settings of a mask cache") != identity:
            raise ValueError(f"{cache} holds masks made with other keying settings; remove it "
                             "or pass another cache folder")
    else:
        files.write_json(settings_path, identity)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(items), unit="photo", desc=f"silhouettes of {root.name}")
    kept, dropped = [], {}
    for path, mask_source, unit in items:
        try:
            mask_path = cache / _cache_name(root, mask_source or path)
            if mask_path.is_file():
                mask = images.read_image(mask_path, gray=True) > 127
            elif mask_source is not None:                      # a mask folder: clean it
                mask = images.clean_mask(images.read_image(mask_source, gray=True) > 127)
            else:
                mask = key_silhouette(images.read_image(path), kcfg)
        except DataFileError:
            dropped.setdefault("unreadable", []).append(str(path.relative_to(root)))
            if bar:
                bar.update(1)
            continue
        if not mask_path.is_file():
            images.write_image(mask_path, mask.astype(np.uint8) * 255)
        reason = check_silhouette(mask, gcfg)
        if reason is None:
            kept.append(HandSample(image_path=str(path), sequence=unit, mask_path=str(mask_path),
                                   source="realhands" if realhands else "photos",
                                   extra={"label": unit if realhands else path.parent.name}))
        else:
            dropped.setdefault(reason, []).append(str(path.relative_to(root)))
        if bar:
            bar.update(1)
    if bar:
        bar.close()
    report = {"settings": {**identity, "gate": asdict(gcfg)}, "root": str(root),
              "photos": len(items), "kept": len(kept),
              "dropped": {k: len(v) for k, v in sorted(dropped.items())},
              "dropped_files": {k: v for k, v in sorted(dropped.items())}}
    if limit is None and select is None:
        files.write_json(cache / REPORT_FILE, report)
    return kept, report
