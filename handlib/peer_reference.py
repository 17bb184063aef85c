"""The peer reference on real hands: MediaPipe Hands' joints, read without MediaPipe,
and the frozen subsets of real photos the course scores on.

Introduced in ``notebooks/03_regnet_training.ipynb`` (section "Real hands, measured").

No real photo here has measured 3D joints, so the course compares its model with a strong
real-trained peer, MediaPipe Hands 0.10.21. ``python tools/mediapipe_reference.py`` runs
it once, in a virtual environment of its own, over the real photos in the real-data
folder (``HANDLIB_REALDATA_DIR``, default ``../shared/realdata``) and caches its answers
under ``build/peer/mediapipe-0.10.21/`` (never committed). Everything scored against it
is **agreement with a peer, not ground truth**.

Cache format (``handlib-peer-reference/1``): one JSON file per photo set, ``SET.json``::

    {"format": "handlib-peer-reference/1", "peer": "MediaPipe Hands 0.10.21 ...",
     "settings": {...}, "set": "asl_letters", "folder": "<relative to the real-data folder>",
     "photos": N, "detected": M, "images": [
        {"file": "<relative to folder>", "readable": true, "width": W, "height": H,
         "detected": true,
         "uv_px": 21 x [u, v],          # image pixels (MediaPipe's normalised x, y times W, H)
         "world_mm": 21 x [x, y, z],    # MediaPipe's world landmarks times 1000: millimetres,
                                        # origin near the hand's centre; the hand as seen
                                        # front-on through MediaPipe's crop (x right, y down,
                                        # z away), turned within the image plane only
                                        # (real_evaluation.reference_in_camera turns it into
                                        # the camera frame)
         "handedness_label": "Left",    # MediaPipe's label, which assumes a MIRRORED image
         "handedness_score": 0.98},     # MediaPipe's confidence in that label
        {"file": "...", "readable": true, "width": W, "height": H, "detected": false}, ...]}

Joints are in the course's order (wrist, then thumb, index, middle, ring, little finger,
base to tip), which is MediaPipe's. **Handedness**: MediaPipe labels hands as seen in a
selfie (mirrored) image, so on an ordinary photo its "Left" is a right hand; the reader
swaps it (:attr:`PeerPhoto.side`). The swap was checked on the cache itself: the
geometric handedness of the world joints (:func:`handlib.hand_model.handedness`) agrees
with the swapped label on 99 % of the detected photos.

**Frozen scored subsets** (fixed before any training used the photos; never used to
train anything, the GeoConGAN's real domain, SilNet and any teacher included: training
code drops them with :func:`exclude_scored`, whatever its own split says):

- Sign Language Digits: the photos of :data:`DIGITS_HELD_OUT_BLOCKS` (blocks of 100
  consecutive photo numbers, about ten people each; :func:`handlib.real_photos.photo_block`),
  the blocks the GeoConGAN and SilNet already held out;
- ASL letters: ``valid/`` and ``test/`` (``train/`` holds three augmented copies of each
  of its own photos; no ``train`` file shares a source name with a ``valid`` or ``test``
  photo, :func:`letters_copy_overlap`, but a review comparing pixels found training photos
  of the same person and scene, and one mirror image, close to 9 of the 216 scored
  photos). No label of ``asl_letters/train`` trains anything (no teacher reads it). Its
  photos, without labels, are the GeoConGAN's wider real domain, less every source that
  looks like a scored photo (:func:`letters_near_scored`: 65 of 504 sources), and the
  domain-adversarial arms' photos (all of them: those arms came before the filter);
- the real video (``asl_hand/``): never used in training; its reference tracks ship with
  it (MediaPipe's "full" model, 2D and world 3D).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from handlib import files
from handlib.files import DataFileError

FORMAT = "handlib-peer-reference/1"
PEER = "MediaPipe Hands 0.10.21"
CACHE_DIR = files.REPO_ROOT / "build" / "peer" / "mediapipe-0.10.21"
SETS = {"sign_language_digits": "sign_language_digits/Dataset",
        "asl_letters": "asl_letters/American-Sign-Language-Letters-1"}
"""Photo sets: name -> folder under the real-data folder."""
DIGITS_HELD_OUT_BLOCKS = ("block-0011", "block-0048", "block-0051")
"""The Sign Language Digits blocks held out from every training: those that
``split_by_sequence(..., val_fraction=0, test_fraction=0.15)`` holds out of the keyed
photos (recorded in ``data/weights/silnet.json``), frozen here so that no later change of
the keying gate can move them."""
LETTERS_SCORED_SPLITS = ("valid", "test")
VIDEO = "asl_hand/asl_hand.25fps.mp4"
VIDEO_TRACKS_2D = "asl_hand/asl_hand.full.json"
VIDEO_TRACKS_3D = "asl_hand/asl_hand_3d.full.json"
MAKE_CACHE = "python tools/mediapipe_reference.py"
FOLDER_FORMAT = "handlib-peer-folder/1"
FOLDER_CACHE = "mediapipe-0.10.21.json"
"""The peer's answers for a folder of images (``tools/mediapipe_reference.py --folders DIR``
writes ``DIR/`` + this name): ``{"format": "handlib-peer-folder/1", "peer", "settings",
"images": [{"file": "<name in DIR>", "readable", "width", "height", "detected",
"uv_px": 21 x [u, v], "world_mm": 21 x [x, y, z], "handedness_label", "handedness_score"},
...]}`` (the same fields as a photo set's cache; ``world_mm`` only in caches written since
the yardstick's check on renders, :func:`read_folder_answers`)."""


@dataclass(frozen=True)
class PeerPhoto:
    """One photo with the peer's answer. ``uv`` (21, 2) image pixels; ``world_mm`` (21, 3)
    millimetres, camera axes; ``side`` "left"/"right" (the hand's own side in the photo)."""

    set: str
    file: str
    path: Path
    width: int
    height: int
    uv: np.ndarray
    world_mm: np.ndarray
    side: str
    handedness_score: float

    @property
    def scored(self) -> bool:
        return is_scored(self.set, self.file)


def is_scored(set_name: str, file: str) -> bool:
    """Whether a photo (``file`` relative to its set's folder) belongs to the frozen scored
    subset, which no training may use."""
    from handlib.real_photos import photo_block
    if set_name == "sign_language_digits":
        return photo_block(file) in DIGITS_HELD_OUT_BLOCKS
    if set_name == "asl_letters":
        return file.split("/")[0] in LETTERS_SCORED_SPLITS
    raise ValueError(f"unknown photo set {set_name!r} (known: {', '.join(SETS)})")


def scored_path(path, folder=None) -> bool:
    """Whether an image file (any path) is one of the frozen scored photos: it lies in a
    photo set's folder (the set's sub-path, e.g. ``sign_language_digits/Dataset``, found in
    the path, whichever copy of the real-data folder it is in; or under ``folder`` when
    given) and :func:`is_scored` says so. Training code calls this
    (``domains.real_domain``; :func:`exclude_scored` for lists) so that no change of a split
    can leak them in."""
    p = Path(path).resolve()
    for name, sub in SETS.items():
        if folder is not None:
            root = (Path(folder) / sub).resolve()
            if root in p.parents:
                return is_scored(name, p.relative_to(root).as_posix())
            continue
        parts, want = p.parts, tuple(sub.split("/"))
        for i in range(len(parts) - len(want)):
            if parts[i:i + len(want)] == want:
                return is_scored(name, "/".join(parts[i + len(want):]))
    return False


def exclude_scored(samples, folder=None) -> list:
    """``samples`` (objects with an ``image_path``) without the frozen scored photos."""
    return [s for s in samples if not scored_path(s.image_path, folder)]


def letters_source(file: str) -> str:
    """The source photo of an ASL-letter file: the name before ``_jpg`` (augmented
    copies share it)."""
    return Path(file).name.split("_jpg")[0]


def letters_copy_overlap(folder) -> int:
    """How many ``train/`` files of the ASL-letter set are copies (same source name) of a
    scored photo; the scored subset is clean when this is 0."""
    root = Path(folder)
    scored = {letters_source(p.name) for s in LETTERS_SCORED_SPLITS for p in (root / s / "images").glob("*.jpg")}
    return sum(letters_source(p.name) in scored for p in (root / "train" / "images").glob("*.jpg"))


NEAR_SCORED_SIMILARITY = 0.9
"""Cosine similarity of ImageNet features (:func:`handlib.efficientnet_lite.image_features`)
above which an ASL-letter ``train/`` photo counts as a near-duplicate of a scored photo
(or of its mirror image). 0.9 is the median similarity of two augmented copies of one
source photo in ``train/`` (flip, crop, small turn, blur), measured with the same
features; two unrelated ``train/`` photos have a median of 0.51 (both in
:func:`letters_near_scored`'s answer)."""


NEAR_SCORED_CACHE = files.REPO_ROOT / "build" / "peer" / "letters_near_scored.json"
"""Where :func:`letters_near_scored` keeps its answer: recomputed when the threshold, the
photos (names, sizes, modification times), the feature weights or :data:`NEAR_SCORED_FORMAT`
change."""
NEAR_SCORED_FORMAT = "handlib-letters-near-scored/1"


def letters_near_scored(folder, threshold: float = NEAR_SCORED_SIMILARITY, cache=None,
                        progress: bool = True) -> dict:
    """The ASL letters' ``train/`` photos that look like a scored photo: for each source
    photo (its augmented copies together, :func:`letters_source`), the highest cosine
    similarity of any copy to any scored photo or its mirror image. Returns
    ``{"threshold", "train_files", "sources", "near_sources": [names above threshold],
    "nearest_median", "copies_median", "unrelated_median"}``: the median over sources of
    that highest similarity, and for scale the median similarity of two augmented copies
    of one source and of two files of different sources. ``folder``:
    the set's folder (``asl_letters/American-Sign-Language-Letters-1``). The result is
    cached in ``cache`` (default :data:`NEAR_SCORED_CACHE`). The whole photos are compared
    (not crops), read and turned into features 64 at a time."""
    root = Path(folder)
    train = sorted((root / "train" / "images").glob("*.jpg"))
    scored = sorted(p for s in LETTERS_SCORED_SPLITS for p in (root / s / "images").glob("*.jpg"))
    if not train or not scored:
        raise DataFileError(root, "train/images and valid/ or test/images with .jpg photos",
                            f"{len(train)} train and {len(scored)} scored photos")
    from handlib import weights as wts
    from handlib.efficientnet_lite import WEIGHTS_NAME, image_features

    def stamp(paths):
        return [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in paths]
    key = {"format": NEAR_SCORED_FORMAT, "threshold": float(threshold), "train": stamp(train),
           "scored": stamp(scored), "features": [WEIGHTS_NAME, wts.weights_path(WEIGHTS_NAME).stat().st_size]}
    cache = Path(cache) if cache is not None else NEAR_SCORED_CACHE
    if cache.is_file():
        old = files.read_json(cache, "a near-duplicate record")
        if isinstance(old, dict) and old.get("key") == key:
            return old["result"]

    from handlib.images import read_image

    def features(paths, mirror=False):
        """(features, features of the mirror images or None), each photo read once."""
        out, flipped = [], []
        for i in range(0, len(paths), 64):
            batch = [read_image(p) for p in paths[i:i + 64]]
            out.append(image_features(batch))
            if mirror:
                flipped.append(image_features([im[:, ::-1] for im in batch]))
        return np.concatenate(out), (np.concatenate(flipped) if mirror else None)
    if progress:
        print(f"comparing {len(train)} ASL-letter train/ photos with {len(scored)} scored ones")
    f_train, _ = features(train)
    f_scored, f_mirror = features(scored, mirror=True)
    best = np.maximum(f_train @ f_scored.T, f_train @ f_mirror.T).max(axis=1)
    by_source: dict = {}
    for p, b in zip(train, best):
        src = letters_source(p.name)
        by_source[src] = max(by_source.get(src, -1.0), float(b))
    # the yardsticks of the threshold: augmented copies of one source, and unrelated photos
    src = np.array([letters_source(p.name) for p in train])
    sim = f_train @ f_train.T
    same = src[:, None] == src[None, :]
    upper = np.triu(np.ones_like(same), k=1)
    result = {"threshold": float(threshold), "train_files": len(train), "sources": len(by_source),
              "near_sources": sorted(k for k, v in by_source.items() if v > threshold),
              "nearest_median": float(np.median(list(by_source.values()))),
              "copies_median": float(np.median(sim[same & upper])) if (same & upper).any() else None,
              "unrelated_median": float(np.median(sim[~same & upper])) if (~same & upper).any() else None}
    files.write_json(cache, {"key": key, "result": result})
    return result


def _array(path, rec, key, shape, i):
    try:
        a = np.asarray(rec[key], np.float64)
    except (KeyError, TypeError, ValueError):
        raise DataFileError(path, f"images[{i}].{key}: {shape[0]} x {shape[1]} numbers",
                            "none" if key not in rec else "non-numbers") from None
    if a.shape != shape or not np.all(np.isfinite(a)):
        raise DataFileError(path, f"images[{i}].{key}: {shape[0]} x {shape[1]} finite numbers",
                            f"shape {a.shape}")
    return a


def read_cache(path, folder=None) -> dict:
    """Read one cache file (format above). Returns ``{"set", "folder", "peer", "photos",
    "detected", "images": [PeerPhoto, ...]}`` (detected photos only; ``path`` of each
    under ``folder``, default the real-data folder). A missing or malformed file raises
    :class:`DataFileError` naming it and what was expected."""
    path = Path(path)
    data = files.read_json(path, f"a peer reference cache ({FORMAT}; made by `{MAKE_CACHE}`)")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise DataFileError(path, f"a peer reference cache of format {FORMAT!r}", repr(found))
    name = data.get("set")
    if name not in SETS:
        raise DataFileError(path, f"'set' one of {', '.join(SETS)}", repr(name))
    if not isinstance(data.get("images"), list):
        raise DataFileError(path, "an 'images' list", type(data.get("images")).__name__)
    base = Path(folder) if folder is not None else (files.realdata_dir(quiet=True) or Path("."))
    sub = data.get("folder", SETS[name])
    if not isinstance(sub, str):
        raise DataFileError(path, "'folder': the set's folder under the real-data folder", repr(sub))
    root = base / sub
    photos = []
    for i, rec in enumerate(data["images"]):
        if not isinstance(rec, dict) or not isinstance(rec.get("file"), str):
            raise DataFileError(path, f"images[{i}]: an object with a 'file' name", repr(rec)[:60])
        if not rec.get("detected"):
            continue
        label = rec.get("handedness_label")
        if label not in ("Left", "Right"):
            raise DataFileError(path, f"images[{i}].handedness_label 'Left' or 'Right'", repr(label))
        try:
            width, height = int(rec["width"]), int(rec["height"])
        except (KeyError, TypeError, ValueError):
            raise DataFileError(path, f"images[{i}]: width and height in pixels", "none") from None
        try:
            score = float(rec.get("handedness_score", float("nan")))
        except (TypeError, ValueError):
            raise DataFileError(path, f"images[{i}].handedness_score: a number",
                                repr(rec.get("handedness_score"))) from None
        photos.append(PeerPhoto(set=name, file=rec["file"], path=root / rec["file"], width=width,
                                height=height, uv=_array(path, rec, "uv_px", (21, 2), i),
                                world_mm=_array(path, rec, "world_mm", (21, 3), i),
                                side="right" if label == "Left" else "left",     # mirrored convention
                                handedness_score=score))
    return {"set": name, "folder": str(root), "peer": data.get("peer", PEER),
            "photos": len(data["images"]), "detected": len(photos), "images": photos,
            "scored_photos": sum(is_scored(name, r["file"]) for r in data["images"]
                                 if isinstance(r, dict) and isinstance(r.get("file"), str))}


TEACHER_SETS = ("sign_language_digits",)
"""The photo sets a teacher may train on (outside their scored subsets). Not the ASL
letters: their ``train/`` photos include near-duplicates of scored ones (module docstring)."""


def teacher_samples(cache_path, folder=None, limit: int | None = None) -> list:
    """The peer's 2D answers as training samples (a *teacher*, beyond the paper):
    :class:`handlib.samples.HandSample` records of every detected photo of one cache file
    (``SET.json``) **outside the frozen scored subset**, with ``uv`` (21, 2) the peer's
    joints in image pixels, no 3D (``xyz_norm`` None: the pose pipeline then trains the 2D
    terms only), ``side`` the hand's own side, intrinsics of a 60-degree horizontal field
    of view (photos carry none), ``sequence`` the photo's block (whole blocks are held out
    for validation). Photos that are not complete image files are left out (and counted).
    Only :data:`TEACHER_SETS` are allowed; ``limit``: the first photos."""
    from handlib import camera as cam
    from handlib.real_photos import photo_block
    from handlib.samples import HandSample
    cache = read_cache(cache_path, folder)
    if cache["set"] not in TEACHER_SETS:
        raise ValueError(f"{cache_path}: the {cache['set']} photos cannot teach (allowed: "
                         f"{', '.join(TEACHER_SETS)}; the ASL letters' train/ photos include "
                         "near-duplicates of the scored ones)")
    out = []
    from handlib import images
    cut_short = []
    for ph in cache["images"]:
        if ph.scored:
            continue
        try:
            images.image_kind(ph.path)
        except ValueError:          # a truncated file (the peer read what it could)
            cut_short.append(ph.file)
            continue
        f = (ph.width / 2.0) / np.tan(np.radians(60.0) / 2.0)
        K = cam.Intrinsics(fx=f, fy=f, cx=(ph.width - 1) / 2.0, cy=(ph.height - 1) / 2.0,
                           width=ph.width, height=ph.height)
        out.append(HandSample(image_path=str(ph.path), sequence=photo_block(ph.file), uv=ph.uv,
                              side=ph.side, intrinsics=K, source=f"teacher: {cache['peer']}",
                              visible=np.ones(21, bool)))
        if limit is not None and len(out) >= limit:
            break
    if cut_short:
        print(f"teacher: {len(cut_short)} photo(s) left out, not complete image files "
              f"(first: {cut_short[0]})")
    if not out:
        raise ValueError(f"{cache_path}: no detected photo outside the scored subset")
    return out


def load_sets(cache_dir=None, folder=None, quiet: bool = False) -> dict | None:
    """Every photo set's cache in ``cache_dir`` (default :data:`CACHE_DIR`), read by
    :func:`read_cache`; None (with a one-line message unless ``quiet``) where there is none."""
    cache_dir = Path(cache_dir) if cache_dir is not None else CACHE_DIR
    found = {n: read_cache(cache_dir / f"{n}.json", folder) for n in SETS if (cache_dir / f"{n}.json").is_file()}
    if not found:
        if not quiet:
            print(f"no peer reference in {cache_dir}: run `{MAKE_CACHE}` (needs the real photos "
                  "and the package index once); the real-hand figures are skipped")
        return None
    return found


def coverage(cache: dict) -> dict:
    """The peer's detection coverage of one set: all photos and the scored subset."""
    scored = [p for p in cache["images"] if p.scored]
    return {"photos": cache["photos"], "detected": cache["detected"],
            "share": cache["detected"] / max(cache["photos"], 1),
            "scored_photos": cache["scored_photos"], "scored_detected": len(scored),
            "scored_share": len(scored) / max(cache["scored_photos"], 1)}


def read_video_reference(folder=None) -> dict | None:
    """The real video's reference tracks: ``{"video": path, "uv": (F, 21, 2) pixels,
    "world_mm": (F, 21, 3) mm}``, or None where the video is absent."""
    base = Path(folder) if folder is not None else files.realdata_dir(quiet=True)
    if base is None or not (base / VIDEO).is_file():
        return None
    out = {"video": base / VIDEO}
    for key, name, scale in (("uv", VIDEO_TRACKS_2D, 1.0), ("world_mm", VIDEO_TRACKS_3D, 1000.0)):
        raw = files.read_json(base / name, "reference tracks (F x 21 x 3 numbers)")
        try:
            arr = np.asarray(raw, np.float64)
        except (TypeError, ValueError):
            arr = np.zeros(0)
        if arr.ndim != 3 or arr.shape[1:] != (21, 3):
            raise DataFileError(base / name, "F x 21 x 3 numbers", f"shape {arr.shape}")
        out[key] = arr[..., :2] if key == "uv" else arr * scale
    if len(out["uv"]) != len(out["world_mm"]):
        raise DataFileError(base / VIDEO_TRACKS_3D, f"{len(out['uv'])} frames (as the 2D tracks)",
                            str(len(out["world_mm"])))
    return out


def run_on_folders(folders, glob: str = "*", venv=None, wheelhouse=None) -> int:
    """Run the peer over every image of each folder (``tools/mediapipe_reference.py
    --folders``, MediaPipe in its own virtual environment, installed once; ``glob``: only
    the images whose names match). Returns the exit status; on failure one 'error:' line
    on stderr names the command."""
    import shlex
    import subprocess
    import sys
    cmd = [sys.executable, str(files.REPO_ROOT / "tools" / "mediapipe_reference.py"), "--glob", glob,
           "--folders", *map(str, folders)]
    if venv:
        cmd += ["--venv", str(venv)]
    if wheelhouse:
        cmd += ["--wheelhouse", str(wheelhouse)]
    rc = subprocess.run(cmd).returncode
    if rc:
        print(f"error: MediaPipe did not run ({shlex.join(cmd)} returned {rc})", file=sys.stderr)
    return rc


def read_folder_answers(path) -> dict:
    """The peer's whole answers for a folder of images (:data:`FOLDER_FORMAT`, with
    ``world_mm``): file name -> ``{"uv" (21, 2) pixels, "world_mm" (21, 3) mm, "side"
    "left"/"right" (the mirrored label swapped)}``, or None where it found no hand. A
    missing or malformed file, or one written without the world joints, raises
    :class:`DataFileError` naming it."""
    path = Path(path)
    data = files.read_json(path, f"the peer's answers for a folder ({FOLDER_FORMAT}; made by "
                                 f"`{MAKE_CACHE} --folders DIR`)")
    if not isinstance(data, dict) or data.get("format") != FOLDER_FORMAT or not isinstance(data.get("images"), list):
        raise DataFileError(path, f"the peer's answers of format {FOLDER_FORMAT!r} with an 'images' list",
                            repr(data.get("format") if isinstance(data, dict) else type(data).__name__))
    out = {}
    for i, rec in enumerate(data["images"]):
        if not isinstance(rec, dict) or not isinstance(rec.get("file"), str):
            raise DataFileError(path, f"images[{i}]: an object with a 'file' name", repr(rec)[:60])
        if not rec.get("detected"):
            out[rec["file"]] = None
            continue
        if "world_mm" not in rec:
            raise DataFileError(path, f"images[{i}].world_mm (answers written since the world joints "
                                f"were kept: rerun `{MAKE_CACHE} --folders`)", "none")
        label = rec.get("handedness_label")
        if label not in ("Left", "Right"):
            raise DataFileError(path, f"images[{i}].handedness_label 'Left' or 'Right'", repr(label))
        out[rec["file"]] = {"uv": _array(path, rec, "uv_px", (21, 2), i),
                            "world_mm": _array(path, rec, "world_mm", (21, 3), i),
                            "side": "right" if label == "Left" else "left"}
    return out


def read_folder_cache(path, unreadable: str = "none") -> dict:
    """The peer's answers for a folder of images (:data:`FOLDER_FORMAT`): file name ->
    its 2D joints (21, 2) in image pixels, or None where it found no hand. An image the
    peer could not read gives None too, or with ``unreadable="raise"`` a
    :class:`DataFileError` naming it. A missing or malformed file raises
    :class:`DataFileError` naming it."""
    path = Path(path)
    data = files.read_json(path, f"the peer's answers for a folder ({FOLDER_FORMAT}; made by "
                                 f"`{MAKE_CACHE} --folders DIR`)")
    if not isinstance(data, dict) or data.get("format") != FOLDER_FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise DataFileError(path, f"the peer's answers of format {FOLDER_FORMAT!r}", repr(found))
    if not isinstance(data.get("images"), list):
        raise DataFileError(path, "an 'images' list", type(data.get("images")).__name__)
    out = {}
    for i, rec in enumerate(data["images"]):
        if not isinstance(rec, dict) or not isinstance(rec.get("file"), str):
            raise DataFileError(path, f"images[{i}]: an object with a 'file' name", repr(rec)[:60])
        if unreadable == "raise" and rec.get("readable") is False:
            raise DataFileError(path, f"images[{i}]: an image the peer could read", f"{rec['file']} unreadable")
        out[rec["file"]] = _array(path, rec, "uv_px", (21, 2), i) if rec.get("detected") else None
    return out
