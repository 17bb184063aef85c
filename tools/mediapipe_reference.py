"""The peer reference for the real photos: MediaPipe Hands 0.10.21, run once, cached.

    python tools/mediapipe_reference.py                 # both photo sets, cache in build/
    python tools/mediapipe_reference.py --sets asl_letters --force
    python tools/mediapipe_reference.py --folders DIR [DIR ...]   # any folders of images

The course has no 3D labels for real hands, so its real-hand yardstick
(``python -m handlib evaluate-real``, :mod:`handlib.real_evaluation`) compares RegNet
with the best reference there is: a strong, real-trained peer. MediaPipe 0.10.21 needs
``numpy<2`` and ``protobuf<5``, which the course's environment cannot hold, so this tool

1. makes its own virtual environment (``build/peer/mediapipe-venv``, once) and installs
   ``mediapipe==0.10.21`` there (from the package index, or from ``--wheelhouse``);
2. runs itself inside that environment (``--worker``) over every photo of the Sign
   Language Digits and ASL-letter sets in the real-data folder (``HANDLIB_REALDATA_DIR``,
   default ``../shared/realdata``), with MediaPipe's legacy Hands solution
   (``static_image_mode=True``, ``max_num_hands=1``, ``model_complexity=1``,
   ``min_detection_confidence=0.5``; its models ship inside the wheel, nothing is
   downloaded);
3. writes one JSON file per set under ``build/peer/mediapipe-0.10.21/`` (atomically);
   the format is documented in :mod:`handlib.peer_reference`, which reads it without
   MediaPipe.

MediaPipe is never a dependency of the course or its tests; a cache that exists with the
same settings is kept unless ``--force``. Which photos are *scored* (held out from every
training) is decided by :mod:`handlib.peer_reference`, not here: the cache holds all
photos so that a teacher can use the others. The real video's reference tracks ship with
the video (``asl_hand/``) and are not recomputed.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEDIAPIPE_VERSION = "0.10.21"
FORMAT = "handlib-peer-reference/1"
FOLDER_FORMAT = "handlib-peer-folder/1"     # --folders: handlib.peer_reference.FOLDER_FORMAT
FOLDER_CACHE = f"mediapipe-{MEDIAPIPE_VERSION}.json"
REQUIREMENTS = [f"mediapipe=={MEDIAPIPE_VERSION}", "numpy<2", "protobuf<5",
                "opencv-contrib-python<4.12"]      # 4.12 needs numpy 2
SETTINGS = {"static_image_mode": True, "max_num_hands": 1, "model_complexity": 1,
            "min_detection_confidence": 0.5}
SETS = {
    # name: (folder under the real-data folder, glob patterns relative to it)
    "sign_language_digits": ("sign_language_digits/Dataset", ["*/*.JPG", "*/*.jpg"]),
    "asl_letters": ("asl_letters/American-Sign-Language-Letters-1",
                    ["train/images/*.jpg", "valid/images/*.jpg", "test/images/*.jpg"]),
}
DEFAULT_VENV = ROOT / "build" / "peer" / "mediapipe-venv"
DEFAULT_CACHE = ROOT / "build" / "peer" / f"mediapipe-{MEDIAPIPE_VERSION}"


def realdata_dir() -> Path:
    return Path(os.environ.get("HANDLIB_REALDATA_DIR") or ROOT.parent / "shared" / "realdata")


def write_json_atomic(path: Path, obj) -> None:
    """Standard-library only (the worker's environment has no handlib)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=0)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ------------------------------------------------------------------ inside the venv
def answer(hands, path: Path, world: bool) -> dict:
    """MediaPipe's answer for one image file: ``readable``, ``width``, ``height``,
    ``detected`` and, where it found a hand, ``uv_px`` (21 x [u, v] pixels),
    ``handedness_label`` and ``_score`` (and ``world_mm`` with ``world``)."""
    import cv2
    import numpy as np
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        return {"readable": False, "detected": False}
    H, W = bgr.shape[:2]
    res = hands.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    rec = {"readable": True, "width": W, "height": H, "detected": bool(res.multi_hand_landmarks)}
    if rec["detected"]:
        lm = res.multi_hand_landmarks[0].landmark
        cls = res.multi_handedness[0].classification[0]
        rec["uv_px"] = np.round([[p.x * W, p.y * H] for p in lm], 3).tolist()
        if world:
            wl = res.multi_hand_world_landmarks[0].landmark
            rec["world_mm"] = np.round([[1000 * p.x, 1000 * p.y, 1000 * p.z] for p in wl], 3).tolist()
        rec["handedness_label"] = cls.label
        rec["handedness_score"] = round(float(cls.score), 4)
    return rec


def run_worker(base: Path, name: str, out: Path) -> dict:
    """MediaPipe over one set; returns the cache's dict (see handlib.peer_reference)."""
    import mediapipe as mp

    folder, patterns = SETS[name]
    root = base / folder
    paths = sorted({p for pat in patterns for p in root.glob(pat)})
    if not paths:
        raise SystemExit(f"{root}: expected photos ({', '.join(patterns)}), found none")
    records, t0 = [], time.time()
    with mp.solutions.hands.Hands(**SETTINGS) as hands:
        for i, path in enumerate(paths):
            records.append({"file": path.relative_to(root).as_posix(), **answer(hands, path, world=True)})
            if (i + 1) % 200 == 0:
                print(f"  {name}: {i + 1}/{len(paths)} photos, {time.time() - t0:.0f} s", flush=True)
    cache = {"format": FORMAT, "peer": f"MediaPipe Hands {MEDIAPIPE_VERSION} (legacy solution API)",
             "settings": SETTINGS, "set": name, "folder": folder,
             "photos": len(records), "detected": sum(r["detected"] for r in records),
             "seconds": round(time.time() - t0, 1), "images": records}
    write_json_atomic(out / f"{name}.json", cache)
    return cache


def run_folder_worker(folder: Path, pattern: str = "*") -> dict:
    """MediaPipe over every PNG and JPEG of ``folder`` whose name matches ``pattern``;
    writes ``folder/FOLDER_CACHE`` (format ``FOLDER_FORMAT``, see handlib.peer_reference)
    and returns it."""
    import mediapipe as mp

    paths = sorted(p for p in folder.glob(pattern)       # not the hidden files of an
                   if p.suffix.lower() in (".png", ".jpg", ".jpeg") and not p.name.startswith("."))  # unfinished write
    if not paths:
        raise SystemExit(f"{folder}: expected images (.png, .jpg) named {pattern}, found none")
    records, t0 = [], time.time()
    with mp.solutions.hands.Hands(**SETTINGS) as hands:
        for path in paths:
            records.append({"file": path.name, **answer(hands, path, world=True)})
    cache = {"format": FOLDER_FORMAT, "peer": f"MediaPipe Hands {MEDIAPIPE_VERSION} (legacy solution API)",
             "settings": SETTINGS, "images": records, "detected": sum(r["detected"] for r in records),
             "seconds": round(time.time() - t0, 1)}
    write_json_atomic(folder / FOLDER_CACHE, cache)
    return cache


# ------------------------------------------------------------------ the driver
def ensure_venv(venv: Path, wheelhouse: Path | None) -> Path:
    python = venv / "bin" / "python"
    stamp = venv / ".mediapipe-installed"
    if stamp.is_file() and stamp.read_text() == " ".join(REQUIREMENTS):
        return python
    if not python.is_file():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    if wheelhouse is not None:
        pip += ["--no-index", "--find-links", str(wheelhouse)]
    print(f"installing {', '.join(REQUIREMENTS)} into {venv} (once)")
    subprocess.run(pip + REQUIREMENTS, check=True)
    stamp.write_text(" ".join(REQUIREMENTS))
    return python


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    p.add_argument("--out", default=str(DEFAULT_CACHE), help="cache folder (default %(default)s)")
    p.add_argument("--venv", default=str(DEFAULT_VENV), help="MediaPipe's own virtual environment")
    p.add_argument("--wheelhouse", default=None, help="install MediaPipe from this folder of wheels, no index")
    p.add_argument("--force", action="store_true", help="recompute sets that are already cached")
    p.add_argument("--folders", nargs="+", default=None, metavar="DIR",
                   help="instead of the photo sets: every image of each folder, answers written to "
                        f"DIR/{FOLDER_CACHE} (always recomputed)")
    p.add_argument("--glob", default="*", help="with --folders: only the images whose names match "
                   "(default every image)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    base, out = realdata_dir(), Path(args.out)
    if args.folders:
        folders = [Path(f).resolve() for f in args.folders]
        bad = [str(f) for f in folders if not f.is_dir()]
        if bad:
            print(f"error: not folders: {', '.join(bad)}", file=sys.stderr)
            return 2
        if args.worker:
            for f in folders:
                c = run_folder_worker(f, args.glob)
                print(f"{f}: MediaPipe found a hand in {c['detected']} of {len(c['images'])} images "
                      f"in {c['seconds']} s -> {f / FOLDER_CACHE}")
            return 0
        python = ensure_venv(Path(args.venv), Path(args.wheelhouse) if args.wheelhouse else None)
        cmd = [str(python), str(Path(__file__).resolve()), "--worker", "--glob", args.glob,
               "--folders", *map(str, folders)]
        return subprocess.run(cmd).returncode
    if args.worker:
        for name in args.sets:
            c = run_worker(base, name, out)
            print(f"{name}: MediaPipe found a hand in {c['detected']} of {c['photos']} photos "
                  f"({100 * c['detected'] / c['photos']:.1f} %) in {c['seconds']} s -> {out / (name + '.json')}")
        return 0
    missing = [n for n in args.sets if not (base / SETS[n][0]).is_dir()]
    if missing:
        print(f"error: {base}: the real-data folder lacks {', '.join(SETS[n][0] for n in missing)} "
              "(set HANDLIB_REALDATA_DIR)", file=sys.stderr)
        return 2
    todo = []
    for name in args.sets:
        f = out / f"{name}.json"
        if f.is_file() and not args.force:
            try:
                old = json.loads(f.read_text(encoding="utf-8"))
                if old.get("format") == FORMAT and old.get("settings") == SETTINGS:
                    print(f"{name}: cached ({old['detected']} of {old['photos']} photos) in {f}; --force recomputes")
                    continue
            except (OSError, ValueError):
                pass
        todo.append(name)
    if not todo:
        return 0
    python = ensure_venv(Path(args.venv), Path(args.wheelhouse) if args.wheelhouse else None)
    env = dict(os.environ, HANDLIB_REALDATA_DIR=str(base))
    cmd = [str(python), str(Path(__file__).resolve()), "--worker", "--out", str(out), "--sets", *todo]
    return subprocess.run(cmd, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
