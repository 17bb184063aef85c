"""The GeoConGAN's two image domains: square hand crops with their silhouettes.

Introduced in ``notebooks/02_geocongan_training.ipynb``.

Both domains are cut the same way: a square box around the hand, grown by the course's
crop margin (:data:`handlib.crop_camera.CROP_MARGIN`, 35 % of the hand's extent on
each side), resized to the GAN's size (128 px by default). Where a rendered
hand's box leaves the rendered frame, the frame's edge pixels are repeated (the frames
are the bounding squares of all augmented crops, so this is rare); a real photo's box is
kept inside the photo.

* **synth**: a rendered set (``make-dataset --look synth``: uniform skin, one light,
  white background). The box is the course's crop around the 2D joints
  (:func:`handlib.crop_camera.crop_boxes`, affine), the silhouette is the exact
  rendered mask.
* **real**: photos of one hand each against a plain background
  (:func:`handlib.real_photos.read_real_photos`). The box is the bounding square of the
  silhouette (no joints are known) with the same margin, moved, or shrunk, to lie
  inside the photo (:func:`inside_image`): a photo has nothing beyond its edges, and
  repeating its edge pixels there (as an early version did) taught the generators to
  paint streaks. The photos of Sign Language Digits fill the frame, so their box is
  nearly the whole photo, and the silhouette then covers about the same share of a
  crop as a rendered hand's (:func:`silhouette_share`: medians 0.26 and 0.23; a test
  checks they stay within a third of each other). The photos are 100x100 px, so at
  128 px the real crops are *upsampled* about 1.3x: the detail of a real crop is that
  of a 100 px photo, and the generator cannot learn finer skin texture than that.

* **real, widened** (``train-gan --real-letters``): the ASL letters' ``train/`` photos,
  hands in ordinary rooms, join the keyed ones (:func:`letters_domain`). Their box is the
  set's own hand box with the same margin; no silhouette can be keyed in a room, so
  ``Domain.known`` marks theirs unknown and the geometric loss leaves them out. Sources
  that look like a scored photo of the real-hand yardstick are left out.

When the real photos are absent (``HANDLIB_REALDATA_DIR`` points to a folder without
them), :func:`real_domain` falls back to the ``real-like`` rendered look on a plain
background, labelled ``"real-like stand-in"``, so the course still runs.

Images are uint8 RGB (N, S, S, 3) and masks bool (N, S, S); :func:`to_gan` maps images
to the GAN's value range [-1, 1] and :func:`from_gan` back.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from handlib import files
from handlib.crop_camera import CROP_MARGIN, MIN_CROP_SIDE, crop_boxes

GAN_SIZE = 128
"""Default image size of the GeoConGAN (pixels); 256 is supported, 64 in quick mode."""
REAL_PHOTOS = "sign_language_digits/Dataset"
"""The real domain's photos, under :func:`handlib.files.realdata_dir`."""
STANDIN_LABEL = "real-like stand-in"
REAL_MARGIN = CROP_MARGIN
"""Margin of the real photos' silhouette boxes (the course's, before the box is kept
inside the photo)."""


@dataclass
class Domain:
    """One domain's crops: ``images`` (N, S, S, 3) uint8 RGB, ``masks`` (N, S, S) bool,
    ``name`` (e.g. "synth", "real", "real-like stand-in"), ``sources`` (N,) the file
    each crop came from, and ``groups`` (N,) its split unit (photo block or rendered set)."""

    name: str
    images: np.ndarray
    masks: np.ndarray
    sources: list = field(default_factory=list)
    groups: list = field(default_factory=list)
    known: np.ndarray | None = None
    """(N,) bool: whether crop i's silhouette is known (photos in rooms cannot be keyed;
    their ``masks`` are all False and mean nothing). None: every silhouette is known."""

    def __len__(self) -> int:
        return len(self.images)

    def mask_known(self) -> np.ndarray:
        """(N,) bool: :attr:`known`, all True where it is None."""
        return np.ones(len(self), bool) if self.known is None else np.asarray(self.known, bool)

    def take(self, index) -> "Domain":
        """The crops at ``index`` (an int array or slice) as a new Domain."""
        idx = np.arange(len(self))[index]
        return Domain(self.name, self.images[idx], self.masks[idx],
                      [self.sources[i] for i in idx] if self.sources else [],
                      [self.groups[i] for i in idx] if self.groups else [],
                      None if self.known is None else np.asarray(self.known, bool)[idx])


def join_domains(name: str, *parts: Domain) -> Domain:
    """The crops of ``parts`` (same size) one after the other, as one Domain."""
    parts = [d for d in parts if len(d)]
    if not parts:
        raise ValueError("join_domains: every part is empty")
    known = None if all(d.known is None for d in parts) else np.concatenate([d.mask_known() for d in parts])
    return Domain(name, np.concatenate([d.images for d in parts]),
                  np.concatenate([d.masks for d in parts]),
                  sum((list(d.sources) for d in parts), []) if all(d.sources for d in parts) else [],
                  sum((list(d.groups) for d in parts), []) if all(d.groups for d in parts) else [],
                  known)


def mask_box(mask: np.ndarray, margin: float = CROP_MARGIN) -> tuple[np.ndarray, float]:
    """The square box around a silhouette (H, W) bool: centre (2,) in pixels (x, y) and
    side in pixels = larger extent of its bounding box x (1 + 2 margin)."""
    ys, xs = np.nonzero(np.asarray(mask))
    if len(xs) == 0:
        raise ValueError("mask_box: the silhouette is empty")
    lo = np.array([xs.min(), ys.min()], float)
    hi = np.array([xs.max(), ys.max()], float) + 1.0      # pixel edges
    return (lo + hi) / 2, max(float((hi - lo).max()) * (1 + 2 * margin), MIN_CROP_SIDE)


def inside_image(centre, side: float, shape) -> tuple[np.ndarray, float]:
    """The box moved (and if need be shrunk) to lie inside an image of ``shape`` (H, W):
    side at most the image's shorter side, centre at least side/2 from every edge."""
    h, w = shape[:2]
    side = min(float(side), float(min(h, w)))
    c = np.clip(np.asarray(centre, float), [side / 2, side / 2], [w - side / 2, h - side / 2])
    return c, side


def joint_box(uv: np.ndarray, margin: float = CROP_MARGIN) -> tuple[np.ndarray, float]:
    """The course's affine crop box around 2D joints (21, 2) in pixels: centre (2,), side."""
    centre, side = crop_boxes(np.asarray(uv, float)[None], np.eye(3), margin, perspective=False)
    return centre[0], float(side[0])


def cut_square(image: np.ndarray, centre, side: float, size: int) -> np.ndarray:
    """The square of ``side`` pixels centred at ``centre`` (x, y) of ``image`` (H, W[, C]),
    resampled to (size, size[, C]) (bilinear; area-averaged first when shrinking by 2x or
    more). Coordinates are continuous: pixel ``i`` covers [i, i + 1]. Pixels outside the
    image repeat its edge."""
    import cv2
    img = np.asarray(image)
    s = size / float(side)
    k = max(int(np.floor(1 / s)), 1)
    kx = ky = 1.0
    if k > 1:
        small = cv2.resize(img, (max(img.shape[1] // k, 1), max(img.shape[0] // k, 1)),
                           interpolation=cv2.INTER_AREA)
        kx, ky = img.shape[1] / small.shape[1], img.shape[0] / small.shape[0]
        img = small
    # source pixel x covers [kx x, kx (x + 1)]; its centre kx (x + 0.5) lands at
    # s (kx (x + 0.5) - cx) + size / 2 in the crop, whose pixel j has its centre at j + 0.5
    A = np.array([[s * kx, 0, s * (0.5 * kx - centre[0]) + size / 2 - 0.5],
                  [0, s * ky, s * (0.5 * ky - centre[1]) + size / 2 - 0.5]], np.float64)
    return cv2.warpAffine(img, A, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def cut_sample(image: np.ndarray, mask: np.ndarray, centre, side, size: int):
    """Image (size, size, 3) uint8 and mask (size, size) bool cut with :func:`cut_square`."""
    img = cut_square(image, centre, side, size)
    m = cut_square(mask.astype(np.float32), centre, side, size) > 0.5
    return img, m


def _progress(items, desc: str, show: bool):
    if not show:
        return items
    from tqdm.auto import tqdm
    return tqdm(items, desc=desc, unit="image")


def synth_domain(root, size: int = GAN_SIZE, limit: int | None = None, name: str = "synth",
                 progress: bool = True) -> Domain:
    """Crops of a rendered set at ``root`` (GANerated layout, e.g. ``make-dataset``)."""
    from handlib.ganerated import read_ganerated
    samples = read_ganerated(root, limit=limit)
    imgs, masks = [], []
    for s in _progress(samples, f"cropping {name}", progress):
        if s.mask_path is None or s.uv is None:
            raise files.DataFileError(s.image_path, "a rendered frame with a mask and 2D joints",
                                      "no mask or joints beside it")
        c, side = joint_box(s.uv)
        i, m = cut_sample(s.load_image(), s.load_mask(), c, side, size)
        imgs.append(i)
        masks.append(m)
    return Domain(name, np.stack(imgs), np.stack(masks), [s.image_path for s in samples],
                  [str(root)] * len(samples))


def photo_domain(samples, size: int = GAN_SIZE, name: str = "real", margin: float = None,
                 progress: bool = True) -> Domain:
    """Crops of real photos (:class:`handlib.samples.HandSample` with ``mask_path``, from
    :func:`handlib.real_photos.read_real_photos`), boxed around their silhouettes with
    ``margin`` (default :data:`REAL_MARGIN`)."""
    margin = REAL_MARGIN if margin is None else margin
    imgs, masks = [], []
    for s in _progress(samples, f"cropping {name}", progress):
        image, mask = s.load_image(), s.load_mask()
        c, side = inside_image(*mask_box(mask, margin), mask.shape)
        i, m = cut_sample(image, mask, c, side, size)
        imgs.append(i)
        masks.append(m)
    if not imgs:
        return Domain(name, np.zeros((0, size, size, 3), np.uint8), np.zeros((0, size, size), bool))
    return Domain(name, np.stack(imgs), np.stack(masks), [s.image_path for s in samples],
                  [s.sequence for s in samples])


def real_photos_folder(quiet: bool = False):
    """The real domain's photo folder, or None (with a message unless ``quiet``) when
    ``HANDLIB_REALDATA_DIR`` holds no Sign Language Digits photos."""
    root = files.realdata_dir(REAL_PHOTOS, quiet=quiet)
    return root


def standin_domain(n: int, size: int = GAN_SIZE, seed: int = 7, progress: bool = True) -> Domain:
    """``n`` frames of the ``real-like`` rendered look on a white background, cut like
    the synth domain: the real domain's labelled stand-in when no photos are available."""
    from handlib.synthetic import render_index
    imgs, masks = [], []
    for i in _progress(range(n), f"rendering {STANDIN_LABEL}", progress):
        f = render_index(seed, i, look="real-like", background="white")
        c, side = joint_box(f.uv)
        a, m = cut_sample(f.rgb, f.mask, c, side, size)
        imgs.append(a)
        masks.append(m)
    return Domain(STANDIN_LABEL, np.stack(imgs), np.stack(masks),
                  [f"render_index({seed}, {i}, 'real-like')" for i in range(n)],
                  [f"standin-{i // 100:02d}" for i in range(n)])


def real_domain(size: int = GAN_SIZE, limit: int | None = None, folder=None,
                test_fraction: float = 0.15, standin_frames: int = 400,
                progress: bool = True) -> tuple[Domain, Domain]:
    """The real domain as ``(train, held_out)``.

    ``folder``: photos of hands against plain backgrounds, or a RealHands folder
    (default: the Sign Language Digits photos under ``HANDLIB_REALDATA_DIR``). Photos
    failing the keying gate are dropped (see :func:`handlib.real_photos.read_real_photos`).
    In a folder that holds the real-hand yardstick's frozen photos
    (:mod:`handlib.peer_reference`: the Sign Language Digits' held-out blocks), those are
    the held-out set and never train; elsewhere whole blocks of photo numbers (RealHands:
    users) are held out with :func:`handlib.splits.split_by_sequence` (``test_fraction``
    of them). ``limit`` keeps the first training photos in file order (and about
    ``test_fraction * limit`` held-out ones). Without photos, ``standin_frames`` frames of
    the ``real-like`` look stand in (the last ``test_fraction`` held out).
    """
    from handlib.peer_reference import scored_path
    from handlib.real_photos import read_real_photos
    from handlib.splits import split_by_sequence
    folder = folder if folder is not None else real_photos_folder()
    if folder is None:
        n = standin_frames if limit is None else min(limit, standin_frames)
        d = standin_domain(n, size, progress=progress)
        cut = n - max(1, int(round(test_fraction * n)))
        return d.take(slice(0, cut)), d.take(slice(cut, n))
    photos = [p for p in Path(folder).rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".bmp"}]
    if any(scored_path(p) for p in photos):
        # a folder with frozen photos (the real-hand yardstick's): they are the held-out
        # set, the rest trains, whatever a split would say
        train, _ = read_real_photos(folder, limit=limit, progress=progress,
                                    select=lambda p: not scored_path(p))
        test, _ = read_real_photos(folder, progress=progress, select=scored_path,
                                   limit=None if limit is None else max(1, round(test_fraction * limit)))
    else:
        samples, _ = read_real_photos(folder, limit=limit, progress=progress)
        train, _, test = split_by_sequence(samples, val_fraction=0.0, test_fraction=test_fraction)
    return (photo_domain(train, size, "real", progress=progress),
            photo_domain(test, size, "real", progress=progress))


def silhouette_share(domain: Domain) -> float:
    """The median share of a crop covered by the silhouette (0-1)."""
    return float(np.median(domain.masks.mean(axis=(1, 2)))) if len(domain) else float("nan")


def to_gan(images: np.ndarray) -> np.ndarray:
    """uint8 RGB images -> float32 in [-1, 1] (the GAN's and SilNet's value range)."""
    return np.asarray(images, np.float32) / 127.5 - 1.0


def to_gan_tensors(image, mask):
    """The ``tf.data`` form of :func:`to_gan`: a uint8 image (S, S, 3) and a bool mask
    (S, S, 1) -> float32 image in [-1, 1] (the same values as :func:`to_gan`) and float32
    mask in {0, 1}."""
    from handlib import backend
    tf = backend.tensorflow()
    return tf.cast(image, tf.float32) / 127.5 - 1.0, tf.cast(mask, tf.float32)


def letters_domain(size: int = GAN_SIZE, folder=None, limit: int | None = None,
                   progress: bool = True) -> tuple[Domain, dict]:
    """The ASL letters' ``train/`` photos (hands in ordinary rooms) as crops for the
    GeoConGAN's real domain, and a report of what was left out. Each crop is the square
    around the set's own YOLO box grown by :data:`REAL_MARGIN`, kept inside the photo
    (:func:`inside_image`), as the digits' crops are. No silhouette can be keyed in a
    room: ``known`` is all False, and the geometric loss skips these crops
    (:func:`handlib.gan.silhouette_bce`). Left out: every source photo (with its augmented
    copies) that looks like a scored photo (:func:`handlib.peer_reference.letters_near_scored`,
    ImageNet-feature similarity above 0.9) and, as everywhere, the scored photos
    themselves. ``folder``: the real-data folder (default ``HANDLIB_REALDATA_DIR``).
    Returns an empty Domain where the photos are absent."""
    from handlib.images import read_image
    from handlib.peer_reference import SETS, letters_near_scored, letters_source, scored_path
    base = Path(folder) if folder is not None else files.realdata_dir(quiet=True)
    empty = Domain("real (letters)", np.zeros((0, size, size, 3), np.uint8),
                   np.zeros((0, size, size), bool), known=np.zeros(0, bool))
    train = None if base is None else base / LETTERS_PHOTOS
    if train is None or not train.is_dir():
        return empty, {"letters": "absent"}
    near = letters_near_scored(base / SETS["asl_letters"], progress=progress)
    drop = set(near["near_sources"])
    boxes = [b for b in _letters_boxes(train)
             if not scored_path(b[0]) and letters_source(b[0].name) not in drop][:limit]
    imgs, sources = [], []
    for path, (cx, cy, w, h) in _progress(boxes, "cropping real (letters)", progress):
        rgb = read_image(path)
        H, W = rgb.shape[:2]
        side = max(w * W, h * H) * (1 + 2 * REAL_MARGIN)
        c, side = inside_image((cx * W, cy * H), max(side, MIN_CROP_SIDE), rgb.shape)
        imgs.append(cut_square(rgb, c, side, size))
        sources.append(str(path))
    report = {"letters_folder": str(train), "letters_files": len(imgs),
              "letters_sources_left_out_near_scored": len(drop),
              "letters_sources_total": near["sources"], "near_scored_threshold": near["threshold"],
              "nearest_scored_median": near["nearest_median"],
              "copies_median": near["copies_median"], "unrelated_median": near["unrelated_median"]}
    if not imgs:
        return empty, report
    n = len(imgs)
    return Domain("real (letters)", np.stack(imgs), np.zeros((n, size, size), bool), sources,
                  [f"letters-{letters_source(Path(p).name)}" for p in sources],
                  np.zeros(n, bool)), report


def from_gan(x) -> np.ndarray:
    """Images in [-1, 1] (NumPy or tensors) -> uint8 RGB (values outside are clipped)."""
    x = np.asarray(x, np.float32)
    return np.clip(np.round((x + 1.0) * 127.5), 0, 255).astype(np.uint8)


# --------------------------------------------------- the real photos for the pose network
LETTERS_PHOTOS = "asl_letters/American-Sign-Language-Letters-1/train"
"""The ASL-letter photos that may train (their ``valid/`` and ``test/`` are frozen)."""


def _letters_boxes(folder: Path):
    """(image path, box) for each photo in ``folder/images`` with a YOLO label in
    ``folder/labels`` (rows: class, centre x, centre y, width, height, normalised to the
    image); the box is the first row's (cx, cy, w, h); photos without one are skipped."""
    out = []
    for img in sorted((folder / "images").glob("*.jpg")):
        label = folder / "labels" / (img.stem + ".txt")
        rows = [r.split() for r in label.read_text().splitlines() if r.strip()] if label.is_file() else []
        if not rows:
            continue
        try:
            box = tuple(float(x) for x in rows[0][1:5])
        except ValueError as e:
            raise files.DataFileError(label, "YOLO rows 'class cx cy w h' (normalised)",
                                      f"{' '.join(rows[0])!r}") from e
        if len(box) != 4:
            raise files.DataFileError(label, "YOLO rows 'class cx cy w h' (normalised)",
                                      f"{' '.join(rows[0])!r}")
        out.append((img, box))
    return out


def regnet_photo_folders(folder=None) -> list:
    """The real photo folders :func:`regnet_photo_crops` reads that exist under ``folder``
    (default ``HANDLIB_REALDATA_DIR``): the Sign Language Digits, the ASL letters' train/."""
    base = Path(folder) if folder is not None else files.realdata_dir(quiet=True)
    if base is None:
        return []
    return [f for f in (base / REAL_PHOTOS, base / LETTERS_PHOTOS) if f.is_dir()]


PHOTO_FRAMINGS = ("inside", "padded")
"""How :func:`regnet_photo_crops` treats a box that leaves its photo: moved (and shrunk)
to lie inside it, or padded with black."""


def regnet_photo_crops(size: int = 128, per_photo: int = 2, crop_range=(1.2, 2.2),
                       shift: float = 0.15, max_rotation: float = 30.0, seed: int = 0,
                       folder=None, limit: int | None = None, progress: bool = True,
                       framing: str = "inside") -> np.ndarray:
    """Unlabelled crops of real hand photos, framed as RegNet's training crops are, for
    the pose network's domain-adversarial training (:class:`handlib.pose_network.RegNetTrainer`,
    ``domain_weight``). Returns (N, size, size, 3) uint8 RGB; N = 0 without photos.

    Photos: the Sign Language Digits (box: the keyed silhouette's bounding square,
    :func:`handlib.real_photos.read_real_photos`) and the ASL letters' ``train/`` (box:
    the set's own YOLO box), under ``folder`` (default ``HANDLIB_REALDATA_DIR``); the
    real-hand yardstick's frozen photos (:func:`handlib.peer_reference.scored_path`)
    never. No joints are used: no peer's answer reaches training. Each photo gives
    ``per_photo`` crops of the course's perspective crop camera
    (:class:`handlib.crop_camera.Crop`, 60-degree camera as ``predict`` assumes): side
    log-uniform in ``crop_range`` times the box's extent, centre moved up to ``shift``
    of the side, turned up to ``max_rotation`` degrees, flipped left-right at random
    (the side of a photo's hand is unknown). ``framing``: "inside" moves, and if need be
    shrinks, a (turned) box that leaves its photo so that it lies inside it, as the
    GeoConGAN's real domain does; "padded" pads it with black, as ``predict`` pads. With
    "padded", the Sign Language Digits' 100 px photos, which the hand fills, give black
    borders in nearly every crop, which renders rarely have: a critic can tell the two
    domains apart by the borders alone."""
    import cv2
    from handlib.crop_camera import Crop
    from handlib.peer_reference import scored_path
    from handlib.camera import default_intrinsics
    from handlib.real_photos import read_real_photos
    lo, hi = (float(x) for x in crop_range)
    if framing not in PHOTO_FRAMINGS:
        raise ValueError(f"framing must be one of {PHOTO_FRAMINGS}, got {framing!r}")
    if not (1.0 <= lo <= hi <= 4.0) or not (0.0 <= shift <= 0.5) or per_photo < 1:
        raise ValueError(f"crop_range must be 1 <= lo <= hi <= 4, shift 0-0.5 and per_photo >= 1; "
                         f"got {crop_range}, {shift}, {per_photo}")
    found = regnet_photo_folders(folder)
    boxes = []            # (path, (cx, cy, w, h) normalised to the photo)
    digits, letters = (next((f for f in found if str(f).endswith(k)), None)
                       for k in (REAL_PHOTOS, LETTERS_PHOTOS))
    if digits is not None:
        samples, _ = read_real_photos(digits, limit=limit, progress=progress,
                                      select=lambda p: not scored_path(p))
        for s in samples:
            m = s.load_mask()
            if m.any():
                (cx, cy), side = mask_box(m, margin=0.0)
                H, W = m.shape
                boxes.append((s.image_path, (cx / W, cy / H, side / W, side / H)))
    if letters is not None:
        boxes += [b for b in _letters_boxes(letters) if not scored_path(b[0])][:limit]
    rng = np.random.default_rng(seed)
    out = []
    for path, (cx, cy, w, h) in _progress(boxes, "cropping real photos", progress):
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise files.DataFileError(path, "a readable photo", "a file OpenCV cannot decode")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        H, W = rgb.shape[:2]
        c, extent = np.array([cx * W, cy * H]), max(w * W, h * H)
        K = default_intrinsics(rgb.shape[1], rgb.shape[0])
        for _ in range(per_photo):
            side = extent * np.exp(rng.uniform(np.log(lo), np.log(hi)))
            centre = np.asarray(c, float) + rng.uniform(-shift, shift, 2) * side
            angle = float(np.deg2rad(rng.uniform(-max_rotation, max_rotation)))
            flip = bool(rng.random() < 0.5)
            if framing == "inside":       # the turned square's bounding box inside the photo
                turn = abs(np.cos(angle)) + abs(np.sin(angle))
                side = min(side, min(H, W) / turn)
                half = side * turn / 2
                centre = np.clip(centre, [half, half], [W - half, H - half])
            crop = Crop(centre=tuple(centre), side=float(side), size=size, source_K=K,
                        angle=angle, flip=flip)
            out.append(crop.crop_image(rgb))
    if not out:
        return np.zeros((0, size, size, 3), np.uint8)
    return np.stack(out)
