"""GANerating a data set: translate every frame of a rendered set with the trained
synth->real generator, keeping every label.

Introduced in ``notebooks/02_geocongan_training.ipynb``.

For each frame of a rendered set (GANerated layout, e.g. from ``make-dataset``):

1. the joints' crop box (:func:`handlib.domains.joint_box`) is cut at the generator's
   size and translated, exactly as the synth domain was cut for training, and warped
   back into the frame; a forearm running out of the box keeps its rendered pixels with
   the colour change measured inside the box (:func:`translate_frame`). (Translating the
   whole frame in one pass, which the fully convolutional generator allows, gave striped
   artefacts: its instance normalisation then sees mostly background.)
2. the translated hand is composited onto a new background through the source's
   **exact** silhouette (``background``: ``photos`` (the shipped photo crops,
   :mod:`handlib.backgrounds`), ``clutter`` (procedural) or ``white``);
3. every other file of the frame (2D and 3D joints, crop parameters, visibility, mask,
   depth) is copied byte for byte, and the scene description gains a ``ganerated``
   entry; files are written atomically, the scene file last, so a rerun resumes.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from handlib import files, ganerated, images
from handlib.domains import joint_box

BACKGROUNDS = ("photos", "clutter", "white")
LABEL_SUFFIXES = ("_joint_pos.txt", "_joint2D.txt", "_joint_pos_global.txt", "_crop_params.txt",
                  "_visibility.txt", "_mask.png", "_depth.png")
"""Files of a frame copied unchanged (those present in the source)."""


def _box_affine(centre, side: float, size: int) -> np.ndarray:
    """The 2x3 map from frame pixels to the pixels of a ``size`` crop of the square box
    (as :func:`handlib.domains.cut_square`, without its pre-shrinking)."""
    s = size / float(side)
    return np.array([[s, 0, s * (0.5 - centre[0]) + size / 2 - 0.5],
                     [0, s, s * (0.5 - centre[1]) + size / 2 - 0.5]], np.float64)


def translate_frame(generator, rgb: np.ndarray, uv: np.ndarray, mask: np.ndarray,
                    gan_size: int, feather: int = 4) -> np.ndarray:
    """The hand of a frame (S, S, 3) uint8 translated as the generator was trained.

    The joints' box (:func:`handlib.domains.joint_box`) is cut at ``gan_size`` pixels,
    translated, and warped back into the frame. Silhouette pixels outside the box (a
    forearm running out of it) get the source pixels with the colour change measured
    inside the box (per-channel mean and spread over the silhouette), and the two are
    blended over ``feather`` pixels along the box's edge. Returns (S, S, 3) uint8;
    only the pixels inside ``mask`` (S, S) bool are meant to be used."""
    import cv2
    from handlib.domains import cut_square
    h, w = rgb.shape[:2]
    centre, side = joint_box(uv)
    crop = cut_square(rgb, centre, side, gan_size)
    from handlib.gan import translate
    out = translate(generator, crop[None])[0]
    A = _box_affine(centre, side, gan_size)
    back = cv2.warpAffine(out, A, (w, h), flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    inside = cv2.warpAffine(np.ones((gan_size, gan_size), np.float32), A, (w, h),
                            flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR, borderValue=0.0)
    if feather > 0:
        inside = cv2.erode(inside, np.ones((3, 3), np.uint8), iterations=feather)
        inside = cv2.blur(inside, (2 * feather + 1, 2 * feather + 1))
    m = np.asarray(mask, bool)
    core = m & (inside > 0.99)
    src = rgb.astype(np.float32)
    if core.sum() >= 16:
        mu_s, sd_s = src[core].mean(0), src[core].std(0) + 1.0
        mu_t, sd_t = back[core].astype(np.float32).mean(0), back[core].astype(np.float32).std(0) + 1.0
        matched = (src - mu_s) / sd_s * sd_t + mu_t
    else:
        matched = src
    a = inside[..., None]
    return np.clip(back.astype(np.float32) * a + matched * (1 - a) + 0.5, 0, 255).astype(np.uint8)


def composite(hand: np.ndarray, mask: np.ndarray, background: np.ndarray) -> np.ndarray:
    """``hand`` where ``mask`` (H, W) bool, ``background`` elsewhere; uint8 (H, W, 3)."""
    return np.where(np.asarray(mask, bool)[..., None], hand, background).astype(np.uint8)


def background_image(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """A (size, size, 3) uint8 background: ``photos`` (a random view of a random shipped
    photo crop), ``clutter`` or ``white`` (:func:`handlib.synthetic.make_background`)."""
    from handlib.synthetic import make_background
    return np.clip(np.round(make_background(kind, size, rng) * 255), 0, 255).astype(np.uint8)


def generator_info(path) -> tuple[int, str]:
    """``(image size it was trained at, first 16 hex digits of its SHA-256)`` of a
    synth->real generator file; a missing file, a file that is not a Keras model or a
    training record without ``config.size`` raises naming the file."""
    import hashlib
    import zipfile
    from handlib import weights as weights_mod
    wpath = Path(path)
    if not wpath.is_file():
        raise FileNotFoundError(f"{wpath}: expected the synth->real generator (.keras); it does "
                                "not exist (train one with `python -m handlib train-gan`)")
    if wpath.suffix != ".keras" or not zipfile.is_zipfile(wpath):
        why = "not a zip archive" if wpath.suffix == ".keras" else "its name does not end in .keras"
        raise files.DataFileError(wpath, "the synth->real generator, a Keras model file (.keras, a zip "
                                  "archive)", f"a file that is not a Keras model file ({why})")
    record = files.read_json(weights_mod.record_path(wpath),
                             "the generator's training record (it gives the image size it was "
                             "trained at)")
    try:
        gan_size = int(record["config"]["size"])
    except (KeyError, TypeError, ValueError):
        raise files.DataFileError(weights_mod.record_path(wpath), 'a training record with "config": '
                                  '{"size": ...}', "no size") from None
    digest = hashlib.sha256(wpath.read_bytes()).hexdigest()[:16]
    return gan_size, digest


def frame_background(kind: str, shape, rng: np.random.Generator) -> np.ndarray:
    """A background for a frame of ``shape`` (H, W, ...): :func:`background_image`, resized
    where the frame is not square."""
    bg = background_image(kind, shape[0], rng)
    if bg.shape[:2] != tuple(shape[:2]):
        import cv2
        bg = cv2.resize(bg, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    return bg


def _source_frames(src: Path):
    for part in ganerated.partitions(src):
        for name in sorted(os.listdir(part)):
            if name.endswith("_color_composed.png"):
                yield part, name[:4]


def ganerate_dataset(src, out, weights=None, background: str = "photos", seed: int = 0,
                     limit: int | None = None, progress: bool = True) -> dict:
    """Translate the rendered set ``src`` into ``out`` (see the module docstring).
    ``weights``: the synth->real generator (default ``data/weights/geocongan_synth_to_real.keras``).
    Returns ``{"written", "skipped", "total"}``."""
    from handlib import gan  # noqa: F401  (registers the generator's layers before loading)
    from handlib import weights as weights_mod
    from handlib.synthetic import frame_rng
    src, out = Path(src), Path(out)
    if background not in BACKGROUNDS:
        raise ValueError(f"background must be one of {BACKGROUNDS}, got {background!r}")
    if out.resolve() == src.resolve() or src.resolve() in out.resolve().parents:
        raise ValueError(f"{out}: the output folder must lie outside the source {src}")
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: expected an output folder, found a file")
    for folder in out.parents:
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"{out}: expected an output folder, but {folder} is a file")
    wpath = Path(weights) if weights is not None else weights_mod.weights_path("geocongan_synth_to_real")
    frames = list(_source_frames(src))
    if not frames:
        raise files.DataFileError(src, "a rendered set in the GANerated layout", "no frames")
    if limit is not None:
        frames = frames[:limit]
    src_info = ganerated.read_dataset_info(src)
    gan_size, digest = generator_info(wpath)
    info = {"generator": "handlib.ganerate", "source": str(src.resolve()), "source_info": src_info,
            "weights": str(wpath.resolve()), "weights_sha256": digest,
            "background": background, "seed": int(seed),
            "gan_size": gan_size, "size": int(src_info.get("size", ganerated.CROP_SIZE)),
            "layout": "ganerated"}
    info_path = out / ganerated.DATASET_INFO_FILE
    if info_path.is_file():
        old = files.read_json(info_path, "a data set description")
        if {k: old.get(k) for k in info} != info:
            raise ValueError(f"{out} holds a set GANerated with other settings; choose another "
                             "output folder, or the same settings to resume")
    generator = weights_mod.load_model(wpath)
    out.mkdir(parents=True, exist_ok=True)
    files.write_json(info_path, info)
    shutil_copy(src / ganerated.INTRINSICS_FILE, out / ganerated.INTRINSICS_FILE)
    if background == "photos":
        from handlib import backgrounds
        backgrounds.background_files()          # fails early, naming the folder, if empty
    written = skipped = 0
    it = enumerate(frames)
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, total=len(frames), unit="frame", desc=f"GANerating {out}")
    for i, (part, stem) in it:
        dst_part = out / part.relative_to(src)
        if (dst_part / f"{stem}_scene.json").is_file():
            skipped += 1
            continue
        base = part / stem
        uv = files.read_floats(f"{base}_joint2D.txt", 42, "2D joints in crop pixels").reshape(21, 2)
        rgb = images.read_image(f"{base}_color_composed.png")
        mask = images.read_image(f"{base}_mask.png", gray=True) > 127
        hand = translate_frame(generator, rgb, uv, mask, gan_size)
        bg = frame_background(background, rgb.shape, frame_rng(seed, i))
        dst = dst_part / stem
        for suffix in LABEL_SUFFIXES:
            if Path(f"{base}{suffix}").is_file():
                shutil_copy(f"{base}{suffix}", f"{dst}{suffix}")
        images.write_image(f"{dst}_color_composed.png", composite(hand, mask, bg))
        scene_path = Path(f"{base}_scene.json")
        scene = files.read_json(scene_path, "a JSON scene description") if scene_path.is_file() else {}
        scene["ganerated"] = {"weights": wpath.name, "background": background}
        files.write_json(f"{dst}_scene.json", scene)
        written += 1
    return {"written": written, "skipped": skipped, "total": len(frames)}


def shutil_copy(a, b) -> None:
    """Copy a file atomically (temporary file, then rename)."""
    with files.atomic_path(b) as tmp:
        shutil.copyfile(a, tmp)
