"""How people hold a hand to a camera in the real photos, by the peer's answers.

    python tools/photo_views.py            # needs the peer cache (tools/mediapipe_reference.py)

For the photos *outside* the scored subsets (the frozen ones are never looked at), the
share with the palm towards the camera and the lean of the wrist-to-knuckle line towards
the camera (:func:`handlib.real_evaluation.photo_views`). These figures chose
``synthetic.PHOTO_VIEWS`` (``make-dataset --palm-share 0.9 --lean -20 40``).
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from handlib import peer_reference as pr  # noqa: E402
from handlib import real_evaluation as rev  # noqa: E402


def main() -> int:
    sets = pr.load_sets()
    if sets is None:
        return 1
    for name, cache in sets.items():
        v = rev.photo_views([p for p in cache["images"] if not p.scored])
        print(f"{name}: {v['photos']} photos outside the scored subset; palm towards the camera in "
              f"{100 * v['palm_towards_camera_share']:.0f} %, lean {v['lean_mean_deg']:.0f} degrees on average "
              f"(standard deviation {v['lean_sd_deg']:.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
