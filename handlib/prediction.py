"""One image in, 21 joints out: RegNet on a photo of a hand (``python -m handlib predict``).

Introduced in ``notebooks/03_regnet_training.ipynb``.

The image (RGB uint8, any size) should show one hand roughly centred and filling most of
the frame. It is cut into RegNet's crop camera (:class:`handlib.crop_camera.Crop`: by
default the square of side ``max(H, W)`` around the image's centre, or a box the caller
gives), flipped when the hand is not on the network's side, and the predictions are
mapped back:

- ``uv`` (21, 2): joints in the image's pixels (sub-pixel heatmap maxima, through the crop);
- ``xyz_mm`` (21, 3): root-relative 3D in mm in the image's camera frame (M0 at the
  origin): the network's normalised 3D times ``hand_size_mm`` (|W - M0|; default
  :data:`DEFAULT_HAND_SIZE_MM`, the course's hand model), un-flipped and un-rotated
  through the crop camera. The camera's intrinsics are optional; the default is a
  pinhole of :data:`DEFAULT_FOV_DEG` horizontal field of view centred in the image;
- ``confidence`` (21,): each joint's heatmap maximum (near 1: a clear peak; near 0:
  the network did not find the joint).

The hand's side is an argument: "left", "right", or "auto" (run the crop and its mirror
image, keep the answer with the higher mean confidence; see the README for how often
that picks the right side on rendered hands).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from handlib import heatmaps as hmaps
from handlib import images
from handlib import pose_network as pn
from handlib.camera import DEFAULT_FOV_DEG, default_intrinsics  # noqa: F401  (part of this module's API)
from handlib.crop_camera import Crop

DEFAULT_HAND_SIZE_MM = 91.7
"""|W - M0| of the course's hand model (mm): the scale given to normalised predictions."""
DEFAULT_WEIGHTS = "regnet"
SIDES = ("left", "right", "auto")


@dataclass
class HandPrediction:
    """What :func:`predict_hand` returns (see the module's docstring for units)."""

    uv: np.ndarray
    xyz_mm: np.ndarray
    confidence: np.ndarray
    side: str
    crop: Crop
    heatmaps: np.ndarray          # (Hs, Hs, 21) in the crop (on the network's side)

    def to_json(self) -> dict:
        return {"uv_px": np.round(self.uv, 2).tolist(), "xyz_mm": np.round(self.xyz_mm, 2).tolist(),
                "confidence": np.round(self.confidence, 4).tolist(), "side": self.side,
                "joints": "W T0 T1 T2 T3 I0 I1 I2 I3 M0 M1 M2 M3 R0 R1 R2 R3 L0 L1 L2 L3".split(),
                "units": {"uv_px": "pixels of the input image", "xyz_mm": "mm, camera frame, "
                          "root-relative (M0 at the origin)", "confidence": "heatmap maximum"}}


def _run(model, image, crop: Crop):
    info = pn.model_info(model)
    x = crop.crop_image(image).astype(np.float32)[None] / 255.0
    out = pn.forward(model, x, crop.K[None])
    heat = out["heatmaps"][0]
    uv_hm, peak = hmaps.heatmap_maxima(heat)
    uv_in = hmaps.to_image_coords(uv_hm, info["input_size"], info["heatmap_size"])
    return crop.from_crop(uv_in), crop.from_crop_frame(np.asarray(out["xyz"])[0]), peak, heat


def candidate_crops(model, image_shape, side: str, K=None, box=None) -> dict[str, Crop]:
    """The crops :func:`predict_hand` runs ``model`` on, by hand side: one for "left" or
    "right", both for "auto" (the crop of the side that is not the network's is
    mirrored). ``image_shape`` (H, W, ...); ``box``, ``K`` as in :func:`predict_hand`."""
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    H, W = image_shape[:2]
    K = default_intrinsics(W, H) if K is None else np.asarray(K, np.float64)
    if box is None:
        box = ((W - 1) / 2.0, (H - 1) / 2.0, float(max(H, W)))
    info = pn.model_info(model)
    return {s: Crop(centre=box[:2], side=box[2], size=info["input_size"], source_K=K,
                    flip=(s != info["side"]))
            for s in (("left", "right") if side == "auto" else (side,))}


def predict_hand(model, image, side: str, K=None, box=None,
                 hand_size_mm: float = DEFAULT_HAND_SIZE_MM) -> HandPrediction:
    """RegNet's answer for one image (RGB uint8 (H, W, 3)); see the module's docstring.

    ``box``: ``(cx, cy, side)`` in image pixels, the square to cut (default: centred,
    side ``max(H, W)``). ``K``: (3, 3) intrinsics (default :func:`default_intrinsics`).
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {image.dtype} {image.shape}")
    results = {s: (crop, *_run(model, image, crop))
               for s, crop in candidate_crops(model, image.shape, side, K, box).items()}
    best = max(results, key=lambda s: results[s][3].mean())
    crop, uv, xyz, peak, heat = results[best]
    return HandPrediction(uv=uv, xyz_mm=xyz * hand_size_mm, confidence=peak, side=best,
                          crop=crop, heatmaps=heat)


def draw_prediction(image, pred: HandPrediction, path=None, title: str | None = None):
    """The image with the predicted skeleton (joints with confidence < 0.3 hollow); saved
    atomically to ``path`` when given. Returns the matplotlib figure."""
    import matplotlib
    import matplotlib.pyplot as plt

    from handlib import files, visualisation
    if path is not None:
        matplotlib.use("Agg", force=False)
    H, W = image.shape[:2]
    fig, ax = plt.subplots(figsize=(4.0 * W / max(H, W) + 0.2, 4.0 * H / max(H, W) + 0.4))
    ax.imshow(image)
    visualisation.plot_skeleton_2d(ax, pred.uv, visible=pred.confidence >= 0.3)
    ax.set_xlim(-0.5, W - 0.5)
    ax.set_ylim(H - 0.5, -0.5)
    ax.set_axis_off()
    ax.set_title(title or f"{pred.side} hand, mean confidence {pred.confidence.mean():.2f}", fontsize=9)
    if path is not None:
        with files.atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=100, bbox_inches="tight")
        plt.close(fig)
    return fig


def output_names(paths) -> list[str]:
    """A distinct file-name stem per input path, in order: the image's own stem, or for a
    later image with a stem already taken ``STEM-2``, ``STEM-3``, ... (the first free
    one), so that images with the same name from different folders never overwrite each
    other's outputs."""
    taken: set[str] = set()
    names = []
    for p in paths:
        stem = Path(p).stem
        name, k = stem, 1
        while name.lower() in taken:        # case-insensitive file systems too
            k += 1
            name = f"{stem}-{k}"
        taken.add(name.lower())
        names.append(name)
    return names


def fit_prediction(pred: HandPrediction, K, hand_size_mm: float = DEFAULT_HAND_SIZE_MM):
    """The course's hand model fitted to one prediction (:func:`handlib.fitting.calibration_fit`:
    the 2D decides where the joints are, RegNet's 3D, weighted weakly, only what the 2D
    cannot see; the bones keep the model's proportions). Returns the fitted joints'
    projection ``uv`` (21, 2) in image pixels and their root-relative 3D ``xyz_mm``
    (21, 3), mm in the camera frame with M0 at the origin and |W - M0| = ``hand_size_mm``
    (as :attr:`HandPrediction.xyz_mm`; ``hand_size_mm`` the size the prediction was made
    with, which turns its 3D back into RegNet's normalised units). On real photos, where
    RegNet's 2D is better than its 3D, the fitted 3D agrees better with a real-trained
    peer (the README's real-hand table, rows "+ fit")."""
    from handlib import camera as cam
    from handlib import fitting as ft
    obs = ft.Observation(pred.uv, pred.confidence, pred.xyz_mm / hand_size_mm,
                         pixel_scale=pred.crop.side / pred.crop.size)
    X = ft.calibration_fit(obs, K, side=pred.side, engine="compiled").joints
    rel = X - X[9]
    return cam.project(K, X), rel * (hand_size_mm / np.linalg.norm(rel[0]))


def predict_files(paths, side: str, weights=None, out=None, fov_deg: float = DEFAULT_FOV_DEG,
                  hand_size_mm: float = DEFAULT_HAND_SIZE_MM, fit: bool = False, lift=None) -> list[dict]:
    """The ``predict`` command: each image file -> its prediction as a dict (with ``fit``,
    also ``uv_fitted_px`` and ``xyz_fitted_mm``: :func:`fit_prediction`; with ``lift``, a
    lifter (:class:`handlib.lifting.Lifter`), also ``xyz_lifted_mm``, the 3D lifted from
    RegNet's 2D, which agrees better with a real-trained peer on photos); with
    ``out``, also ``OUT/NAME.joints.json`` and ``OUT/NAME.skeleton.png`` (NAME the image's
    stem, made unique by :func:`output_names`; the dict's ``outputs`` lists them). An
    unreadable image raises :class:`handlib.files.DataFileError` naming the file; bad
    settings and an output path that is a file are refused before the model is loaded."""
    from handlib import files
    from handlib import weights as wts
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    if not (math.isfinite(fov_deg) and 1.0 <= fov_deg <= 170.0):
        raise ValueError(f"the field of view must be between 1 and 170 degrees, got {fov_deg}")
    if not (math.isfinite(hand_size_mm) and hand_size_mm > 0):
        raise ValueError(f"the hand size must be a finite number of mm above 0, got {hand_size_mm}")
    if out is not None:
        out = Path(out)
        for folder in (out, *out.parents):
            if folder.exists() and not folder.is_dir():
                raise ValueError(f"{out}: expected an output folder, but {folder} is a file")
    loaded = [(Path(p), images.read_image(p)) for p in paths]      # fail before any work
    names = output_names(paths)
    model = wts.load_model(weights or DEFAULT_WEIGHTS)
    results = []
    for (p, img), name in zip(loaded, names):
        H, W = img.shape[:2]
        K = default_intrinsics(W, H, fov_deg)
        pred = predict_hand(model, img, side=side, K=K, hand_size_mm=hand_size_mm)
        res = {"image": str(p), **pred.to_json()}
        if fit:
            uv_f, xyz_f = fit_prediction(pred, K, hand_size_mm)
            res["uv_fitted_px"], res["xyz_fitted_mm"] = np.round(uv_f, 2).tolist(), np.round(xyz_f, 2).tolist()
            res["units"]["uv_fitted_px"] = "pixels of the input image: the fitted joints' projection"
            res["units"]["xyz_fitted_mm"] = ("mm, camera frame, root-relative: the course's hand model "
                                             "fitted to the 2D and 3D (predict --fit)")
        if lift is not None:
            rel = np.asarray(lift(pred.uv[None], K, pred.side)[0]) * hand_size_mm
            res["xyz_lifted_mm"] = np.round(rel, 2).tolist()
            res["units"]["xyz_lifted_mm"] = ("mm, camera frame, root-relative: 3D lifted from the 2D by the "
                                             "course's lifter, |W - M0| = the hand size (predict --lift)")
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            files.write_json(out / f"{name}.joints.json", res)
            draw_prediction(img, pred, out / f"{name}.skeleton.png")
            res["outputs"] = [str(out / f"{name}.joints.json"), str(out / f"{name}.skeleton.png")]
        results.append(res)
    return results
