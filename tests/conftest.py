"""Test configuration shared by the unit tests."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


import pytest  # noqa: E402


@pytest.fixture
def rendered_peer(tmp_path):
    """Six rendered hands standing in for scored ASL-letter photos, and their labels for
    the peer's answers (the real-hand yardstick's end-to-end tests): returns (the peer
    cache folder, the real-data folder)."""
    from handlib import files, images, synthetic
    from handlib import hand_model as hm
    from handlib import peer_reference as pr
    root = tmp_path / "real" / pr.SETS["asl_letters"]
    recs = []
    for i in range(6):
        f = synthetic.render_index(31, i, look="real-like")
        name = f"{'valid' if i % 2 else 'test'}/images/R{i}_jpg.rf.{i}.png"
        images.write_image(root / name, f.rgb)
        side = "right" if hm.handedness(f.xyz) > 0 else "left"
        recs.append({"file": name, "readable": True, "width": 256, "height": 256, "detected": True,
                     "uv_px": f.uv.tolist(), "world_mm": f.xyz.tolist(),
                     "handedness_label": "Left" if side == "right" else "Right", "handedness_score": 1.0})
    cache = tmp_path / "cache"
    files.write_json(cache / "asl_letters.json", {"format": pr.FORMAT, "set": "asl_letters",
                                                  "folder": pr.SETS["asl_letters"], "images": recs})
    return cache, tmp_path / "real"
