"""One labelled hand image, whatever data set it came from.

Introduced in ``notebooks/01_dataset_preparation.ipynb``. Every reader
(:mod:`handlib.ganerated`, :mod:`handlib.synthhands`, :mod:`handlib.realhands`) returns
:class:`HandSample` records, so training code does not care where a sample came from.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from handlib import camera as cam
from handlib import images
from handlib.crop_camera import Crop


@dataclass
class HandSample:
    """One labelled (or unlabelled) hand image.

    ``image_path``: the RGB image. ``uv`` (21, 2): joints in the image's pixels.
    ``xyz`` (21, 3): joints in the camera frame, mm (of the colour camera).
    ``xyz_norm`` (21, 3): root-relative normalised 3D, camera frame (M0 at the origin,
    |W - M0| = 1). ``crop``: how the image was cut from the full camera image
    (:class:`handlib.crop_camera.Crop`; GANerated's affine ``u, v, scale``), or None when
    the image *is* the full image. ``mask_path``/``depth_path``: optional silhouette and
    depth images. ``visible`` (21,) bool or None. ``side``: "left", "right" or None
    (unknown). ``sequence``: the split unit. ``intrinsics``: the full camera's
    :class:`handlib.camera.Intrinsics`. Joint arrays are None for RealHands.
    """

    image_path: str
    sequence: str
    uv: np.ndarray | None = None
    xyz: np.ndarray | None = None
    xyz_norm: np.ndarray | None = None
    crop: Crop | None = None
    mask_path: str | None = None
    depth_path: str | None = None
    visible: np.ndarray | None = None
    side: str | None = None
    intrinsics: cam.Intrinsics = cam.GANERATED
    source: str = ""
    extra: dict = field(default_factory=dict)

    def load_image(self) -> np.ndarray:
        """The RGB image (H, W, 3) uint8."""
        return images.read_image(self.image_path)

    def load_mask(self, clean: bool = False) -> np.ndarray | None:
        """The silhouette (H, W) bool, or None; ``clean`` applies
        :func:`handlib.images.clean_mask`."""
        if self.mask_path is None:
            return None
        m = images.read_image(self.mask_path, gray=True) > 127
        return images.clean_mask(m) if clean else m

    def load_depth(self) -> np.ndarray | None:
        """Depth (H, W) float in mm (0 = no surface), or None."""
        return None if self.depth_path is None else images.read_depth(self.depth_path)

    @property
    def image_K(self) -> np.ndarray:
        """(3, 3) intrinsics of this sample's image (the crop's, or the full camera's)."""
        return self.crop.K if self.crop is not None else self.intrinsics.K

    @property
    def image_R(self) -> np.ndarray:
        """(3, 3) rotation from the camera frame to this image's camera (identity unless
        the image is a perspective or rotated crop)."""
        return self.crop.R if self.crop is not None else np.eye(3)
