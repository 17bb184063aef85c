"""The shipped photo backgrounds (data/backgrounds/), their record, and handlib.backgrounds.

The record checks parse ``ATTRIBUTION.md`` and look at the files themselves; the crop
checks use images whose content gives away where a crop came from.
"""
import hashlib
import importlib.util
import io
import re
import sys
import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from handlib import backgrounds
from handlib.files import DataFileError
from handlib.images import image_kind

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "data" / "backgrounds"
RECORD = FOLDER / "ATTRIBUTION.md"

ALLOWED = {"CC0-1.0", "Public domain", "CC-BY-2.0", "CC-BY-3.0", "CC-BY-4.0",
           "Apache-2.0", "MIT", "BSD-2-Clause", "BSD-3-Clause"}
FIELDS = ("Package", "Path in package", "Credit", "Licence", "Licence stated in", "Crops")


def _sources() -> list[dict]:
    """The source photos of ATTRIBUTION.md: one dict of its "- Field: value" lines each."""
    sources = []
    for block in re.split(r"^## ", RECORD.read_text(encoding="utf-8"), flags=re.M)[1:]:
        head, _, body = block.partition("\n")
        fields = dict(re.findall(r"^- ([^:\n]+): (.*)$", body, re.M))
        if "Crops" in fields:
            fields["id"] = head.split(". ", 1)[-1].strip()
            fields["crop_list"] = re.findall(r"`([^`]+)`", fields["Crops"])
            sources.append(fields)
    return sources


def _tool():
    """tools/build_backgrounds.py as a module (loaded once)."""
    if "build_backgrounds" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "build_backgrounds", ROOT / "tools" / "build_backgrounds.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules["build_backgrounds"] = mod            # dataclasses look it up
        spec.loader.exec_module(mod)
    return sys.modules["build_backgrounds"]


# --- the record ----------------------------------------------------------------------

def test_every_file_is_listed_once_and_every_listed_crop_exists():
    files = {p.name for p in FOLDER.iterdir() if p.name != "ATTRIBUTION.md"}
    listed = [c for s in _sources() for c in s["crop_list"]]
    assert len(listed) == len(set(listed)), "a crop is listed twice"
    assert files == set(listed)
    assert all(name.endswith(".jpg") for name in files)


def test_each_source_has_every_field_and_an_allowed_licence():
    sources = _sources()
    for s in sources:
        for field in FIELDS:
            assert s.get(field, "").strip(), f"{s['id']}: no {field}"
        lic = s["Licence"].strip()
        assert lic in ALLOWED, f"{s['id']}: licence {lic!r} is not in the allow-list"
        tokens = set(re.split(r"[-\s_.]+", lic.upper()))
        assert not tokens & {"SA", "NC", "ND"}, f"{s['id']}: {lic}"
        assert "GPL" not in lic.upper(), f"{s['id']}: {lic}"
        assert re.search(r"\((PyPI|npm|Debian)", s["Package"]), s["Package"]
        assert s["Licence stated in"].startswith("`"), "the licence file is named"
        assert all(c.startswith(s["id"] + "-") for c in s["crop_list"])


def test_source_photos_are_distinct_and_many():
    sources = _sources()
    assert len(sources) >= 50
    assert len({s["id"] for s in sources}) == len(sources)
    where = {(s["Package"], s["Path in package"]) for s in sources}
    assert len(where) == len(sources), "two sources are the same file of the same package"
    assert all(3 <= len(s["crop_list"]) <= 8 for s in sources)
    m = re.search(r"(\d+) source photos, (\d+) crops", RECORD.read_text(encoding="utf-8"))
    assert (int(m.group(1)), int(m.group(2))) == \
        (len(sources), sum(len(s["crop_list"]) for s in sources))


def test_crops_are_256px_rgb_jpegs_all_different_and_a_few_megabytes():
    paths = sorted(FOLDER.glob("*.jpg"))
    assert 200 <= len(paths) <= 600
    total = sum(p.stat().st_size for p in paths)
    assert 1e6 < total < 8e6, f"{total / 1e6:.1f} MB"
    digests = set()
    for p in paths:
        assert image_kind(p) == "jpeg"
        img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        assert img.shape == (256, 256, 3), p.name
        digests.add(hashlib.sha256(p.read_bytes()).hexdigest())
    assert len(digests) == len(paths), "two crops are the same file"


def test_record_is_what_the_tool_writes():
    tool = _tool()
    assert RECORD.read_text(encoding="utf-8") == tool.attribution(tool.PHOTOS)
    for photo in tool.PHOTOS:
        assert tool.PACKAGES[photo.package].registry in ("PyPI", "npm", "Debian")
        assert re.fullmatch(r"[0-9a-f]{64}", tool.PACKAGES[photo.package].sha256)


# --- the tool, offline ---------------------------------------------------------------

def test_tool_names_the_package_when_a_download_fails(tmp_path, monkeypatch):
    tool = _tool()

    def unavailable(pkg, dest):
        raise tool.BuildError("no network")
    monkeypatch.setattr(tool, "_download", unavailable)
    with pytest.raises(tool.BuildError, match=r"scikit-learn==1\.9\.1.*no network"):
        tool.fetch("scikit-learn", tmp_path)
    assert tool.main(["--cache", str(tmp_path), "--out", str(tmp_path / "out")]) == 1


def test_tool_rejects_a_file_with_the_wrong_checksum(tmp_path):
    tool = _tool()
    pkg = tool.PACKAGES["budgie-backgrounds"]
    (tmp_path / pkg.filename).write_bytes(b"not the package")
    with pytest.raises(tool.BuildError, match="SHA-256"):
        tool.fetch("budgie-backgrounds", tmp_path)
    assert not (tmp_path / pkg.filename).exists()       # moved aside, fetched again next time


def test_tool_reads_files_from_a_debian_package(tmp_path):
    tool = _tool()
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:xz") as tar:
        body = b"Files: *\nLicense: CC0-1.0\n"
        info = tarfile.TarInfo("./usr/share/doc/x/copyright")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))

    def member(name: str, blob: bytes) -> bytes:
        head = f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(blob):<10}`\n".encode()
        return head + blob + (b"\n" if len(blob) % 2 else b"")
    deb = tmp_path / "x_1.0_all.deb"
    deb.write_bytes(b"!<arch>\n" + member("debian-binary", b"2.0\n")
                    + member("data.tar.xz", data.getvalue()))
    assert tool.extract(deb, {"usr/share/doc/x/copyright"}) == \
        {"usr/share/doc/x/copyright": b"Files: *\nLicense: CC0-1.0\n"}
    with pytest.raises(tool.BuildError, match="no file usr/missing"):
        tool.extract(deb, {"usr/missing"})


def test_tone_map_puts_the_log_average_at_middle_grey_and_repairs_specks():
    tool = _tool()
    hdr = np.full((64, 128, 3), 3.7, np.float32)
    out = tool.tone_map(hdr, slice(0, 64))
    grey = 0.18 / 1.18                                    # Reinhard: key / (1 + key)
    srgb = 1.055 * grey ** (1 / 2.4) - 0.055
    assert out.dtype == np.uint8 and out.shape == hdr.shape
    assert np.all(np.abs(out.astype(int) - round(srgb * 255)) <= 1)
    hdr[30:33, 60:63] = 500.0                             # a lamp ...
    hdr[31, 61] = [-40.0, -40.0, 900.0]                   # ... with a compression speck
    out = tool.tone_map(hdr, slice(0, 64))
    r, g, b = out[31, 61].astype(int)
    assert abs(r - b) < 40 and abs(g - b) < 40, "the speck is not blue any more"


# --- handlib.backgrounds -------------------------------------------------------------

def test_background_files_lists_the_shipped_crops_sorted():
    found = backgrounds.background_files()
    assert found == sorted(found)
    folder = Path(backgrounds.BACKGROUND_DIR)
    assert folder.name == "backgrounds" and folder.parent.name == "data"
    assert found == sorted(str(p) for p in folder.glob("*.jpg"))
    assert len(found) >= 200


@pytest.mark.parametrize("make", ["empty", "missing", "only_text"])
def test_background_files_names_the_folder_and_the_tool(tmp_path, monkeypatch, make):
    folder = tmp_path / "bg"
    if make != "missing":
        folder.mkdir()
    if make == "only_text":
        (folder / "ATTRIBUTION.md").write_text("nothing\n")
    monkeypatch.setattr(backgrounds, "BACKGROUND_DIR", folder)
    with pytest.raises(FileNotFoundError) as err:
        backgrounds.background_files()
    assert str(folder) in str(err.value)
    assert "tools/build_backgrounds.py" in str(err.value)


def test_random_crop_shape_dtype_and_determinism():
    path = backgrounds.background_files()[0]
    a = backgrounds.random_crop(path, 128, np.random.default_rng(7))
    b = backgrounds.random_crop(path, 128, np.random.default_rng(7))
    c = backgrounds.random_crop(path, 128, np.random.default_rng(8))
    assert a.shape == (128, 128, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert backgrounds.random_crop(path, 300, np.random.default_rng(0)).shape == (300, 300, 3)


def test_random_crop_scale_position_and_mirror(tmp_path):
    # Red = column, green = row of a 200 x 200 image: a crop shows where it came from.
    ramp = np.arange(200, dtype=np.uint8)
    img = np.stack([np.tile(ramp, (200, 1)), np.tile(ramp[:, None], (1, 200)),
                    np.zeros((200, 200), np.uint8)], axis=-1)
    path = tmp_path / "ramp.png"
    assert cv2.imwrite(str(path), img[..., ::-1])
    mirrored, sides = 0, []
    for seed in range(200):
        out = backgrounds.random_crop(path, 50, np.random.default_rng(seed)).astype(int)
        red, green = out[..., 0], out[..., 1]
        assert np.abs(red - red[:1]).max() <= 1                  # columns stay columns
        side = red[0].max() - red[0].min() + 4                   # area averaging: -4 px
        assert 96 <= side <= 204, side
        assert green[-1, 0] - green[0, 0] + 4 == pytest.approx(side, abs=4)   # square
        sides.append(side)
        mirrored += red[0, 0] > red[0, -1]
    assert 70 <= mirrored <= 130                          # left-right mirror half the time
    assert min(sides) < 115 and max(sides) > 185          # scales span 50-100 %


def test_random_crop_makes_grey_images_rgb(tmp_path):
    path = tmp_path / "grey.png"
    assert cv2.imwrite(str(path), np.full((40, 60), 90, np.uint8))
    out = backgrounds.random_crop(path, 32, np.random.default_rng(1))
    assert out.shape == (32, 32, 3) and np.all(out == 90)


def test_random_crop_errors(tmp_path):
    path = backgrounds.background_files()[0]
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="size"):
            backgrounds.random_crop(path, bad, np.random.default_rng(0))
    with pytest.raises(DataFileError, match="missing.jpg"):
        backgrounds.random_crop(tmp_path / "missing.jpg", 64, np.random.default_rng(0))
