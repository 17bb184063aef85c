"""Drawing on images with OpenCV: skeletons, captions that fit, a 3D skeleton view.

Pure NumPy and OpenCV (no matplotlib figure, no model), fast enough for every video frame
and every redraw: used by the heatmap inspector (:mod:`handlib.inspector`), the tracker's
annotated video (:func:`handlib.tracker.draw_frame`) and notebook 05. Matplotlib plots for
the notebooks live in :mod:`handlib.visualisation`. Colours are RGB uint8; coordinates
are pixels of the image drawn on.
"""
from __future__ import annotations

import functools

import numpy as np

from handlib import hand_model as hm


def _hex_rgb(h: str) -> tuple[int, int, int]:
    return tuple(int(h[i:i + 2], 16) for i in (1, 3, 5))


BONE_RGB = [_hex_rgb(hm.FINGER_COLORS[hm.FINGER_NAMES[(c - 1) // 4]]) for _, c in hm.BONES]


def _chains(bones, colours):
    """The bones as chains of joints (each bone continuing the previous one: a finger from
    the wrist to its tip), split where the colour changes: ``[(joint indices, colour)]``.
    One polyline per chain draws what one line per bone draws, with fewer calls."""
    chains = []
    for (p, c), col in zip(bones, colours):
        if chains and chains[-1][0][-1] == p and chains[-1][1] == col:
            chains[-1][0].append(c)
        else:
            chains.append(([p, c], col))
    return [(np.array(j), col) for j, col in chains]


_BONE_CHAINS = _chains(hm.BONES, BONE_RGB)
_BONES = np.asarray(hm.BONES)


MIN_SCALE = 0.3    # the smallest font scale a caption is shrunk to (about 8 px high)


@functools.lru_cache(maxsize=1024)
def fit_text(s: str, scale: float, width: int) -> tuple[str, float]:
    """``s`` and a font scale at which it fits ``width`` pixels: ``scale`` where it fits,
    else smaller (down to :data:`MIN_SCALE`), else cut with ".." at the smallest scale.
    The panels' own captions are written to fit at their scale (the tests check it); this
    keeps long names (a source, a file) from running off the picture. Remembered: a redraw
    writes mostly the same captions again."""
    import cv2
    font = cv2.FONT_HERSHEY_SIMPLEX
    w = cv2.getTextSize(s, font, scale, 1)[0][0]
    if w <= width:
        return s, scale
    small = max(MIN_SCALE, scale * width / w)
    while small > MIN_SCALE and cv2.getTextSize(s, font, small, 1)[0][0] > width:
        small = max(MIN_SCALE, small - 0.01)
    while len(s) > 2 and cv2.getTextSize(s, font, small, 1)[0][0] > width:
        s = s[:-3] + ".."
    return s, small


def text(img, s, org, scale=0.4, color=(255, 255, 255), box=True, thickness: int = 1):
    """Text at ``org`` (left, baseline), on a black box unless ``box`` is False, made to
    fit the image's width (:func:`fit_text`)."""
    import cv2
    s, scale = fit_text(s, scale, img.shape[1] - org[0] - 3)
    if box:
        (w, h), base = cv2.getTextSize(s, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        x, y = org
        pad = max(2, round(3 * scale))
        cv2.rectangle(img, (x - pad, y - h - pad), (x + w + pad, y + base), (0, 0, 0), -1)
    cv2.putText(img, s, org, cv2.FONT_HERSHEY_SIMPLEX, scale, color, thickness, cv2.LINE_AA)


def draw_skeleton(img, uv, colors=None, thickness=2, radius=3, highlight=None, outline=False):
    """Draw a 21-joint skeleton (pixel coordinates of ``img``) in place: the bones in the
    fingers' colours (or all in ``colors``), on a black outline when asked, then the joints,
    and a ring around joint ``highlight``."""
    import cv2
    shift = 4                                    # sub-pixel drawing: coordinates x 16
    fixed = np.round(np.asarray(uv) * (1 << shift)).astype(np.int32)
    pts = [tuple(q) for q in fixed.tolist()]
    fill = colors if isinstance(colors, tuple) else (255, 255, 255)
    for joints, col in _BONE_CHAINS:             # a finger's bones in one polyline
        chain = [fixed[joints]]
        if outline:
            cv2.polylines(img, chain, False, (0, 0, 0), thickness + 2, cv2.LINE_AA, shift)
        cv2.polylines(img, chain, False, colors if isinstance(colors, tuple) else col, thickness,
                      cv2.LINE_AA, shift)
    for q in pts:
        cv2.circle(img, q, radius << shift, (0, 0, 0), -1, cv2.LINE_AA, shift)
        cv2.circle(img, q, max(radius - 1, 1) << shift, fill, -1, cv2.LINE_AA, shift)
    if highlight is not None and highlight >= 0:
        cv2.circle(img, pts[highlight], (radius + 5) << shift, (255, 255, 0), 2, cv2.LINE_AA, shift)


def view_rotation(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """(3, 3) rotation of the 3D view: turn about the camera's vertical (y) axis by the
    azimuth, then tilt about x by the elevation; (0, 0) looks along the camera's +z."""
    a, e = np.radians(azimuth_deg), np.radians(elevation_deg)
    Ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    Rx = np.array([[1, 0, 0], [0, np.cos(e), -np.sin(e)], [0, np.sin(e), np.cos(e)]])
    return Rx @ Ry


def skeleton_3d_image(layers, azimuth: float = 35.0, elevation: float = -20.0, size: int = 256,
                      extent_mm: float = 110.0, legend: str = "", caption: bool = True) -> np.ndarray:
    """Root-relative 3D skeletons in mm (camera-like frame, y down) seen from
    ``azimuth``/``elevation`` degrees, orthographic at a fixed scale (the panel spans
    +-``extent_mm`` around M0, so sizes compare across frames), the camera's axes at M0.
    ``layers``: ``(joints (21, 3) mm, colour RGB or None for the finger colours,
    thickness)``, drawn in order, each bone by bone from far to near. ``caption``: the view's line at the
    bottom (sizes of 160 pixels and more). RGB uint8 (size, size, 3)."""
    import cv2
    img = _view_background(float(azimuth), float(elevation), int(size), float(extent_mm)).copy()
    R = view_rotation(azimuth, elevation)
    s = (size / 2 - 8) / extent_mm

    def to_px(xyz):
        return (xyz @ R.T)[:, :2] * s + (size - 1) / 2

    for xyz, col, t in layers:
        xyz = np.asarray(xyz, np.float64)
        xyz = xyz - xyz[hm.NORM_ROOT_JOINT]
        depth = (xyz @ R.T)[:, 2]
        p = [tuple(q) for q in np.round(to_px(xyz) * 16).astype(int).tolist()]   # 4-bit sub-pixels
        for b in np.argsort(-(depth[_BONES[:, 0]] + depth[_BONES[:, 1]])):    # bone by bone, far to near
            cv2.line(img, p[_BONES[b, 0]], p[_BONES[b, 1]], col or BONE_RGB[b], t, cv2.LINE_AA, 4)
        for q in p:
            cv2.circle(img, q, (t + 1) * 16, col or (255, 255, 255), -1, cv2.LINE_AA, 4)
    if legend:
        text(img, legend, (4, 14), 0.33)
    if caption and size >= 160:       # last, over anything drawn near the bottom
        text(img, f"mm, M0 at centre, az {azimuth:.0f} el {elevation:.0f}", (4, size - 6), 0.33)
    return img


@functools.lru_cache(maxsize=128)
def _view_background(azimuth: float, elevation: float, size: int, extent_mm: float) -> np.ndarray:
    """What :func:`skeleton_3d_image` draws before any skeleton: the dark panel and the
    camera's axes at M0 (30 mm long). Drawn once per view and remembered (a new sample
    redraws only the skeletons and the captions). Read-only."""
    import cv2
    img = np.full((size, size, 3), 40, np.uint8)
    R = view_rotation(azimuth, elevation)
    s = (size / 2 - 8) / extent_mm
    for k, (name, col) in enumerate((("x", (230, 80, 80)), ("y", (80, 200, 80)), ("z", (90, 140, 255)))):
        a = np.zeros((2, 3))
        a[1, k] = 30.0
        p = (a @ R.T)[:, :2] * s + (size - 1) / 2
        cv2.arrowedLine(img, tuple(np.round(p[0]).astype(int)), tuple(np.round(p[1]).astype(int)),
                        col, 1, cv2.LINE_AA, tipLength=0.2)
        text(img, name, tuple(np.round(p[1] + 3).astype(int)), 0.35, color=col, box=False)
    img.setflags(write=False)
    return img
