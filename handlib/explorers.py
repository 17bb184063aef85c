"""Interactive explorers for the notebooks (ipywidgets apps): turn a hand's joints and
view with sliders, and watch a Gaussian heatmap decode as its width and size change.

Introduced in ``notebooks/00_course_overview.ipynb`` (the pose explorer) and
``notebooks/04_projection_and_rendering.ipynb`` (the heatmap explorer). The pictures they
redraw come from :mod:`handlib.visualisation`; the heatmap inspector, the larger app of
notebook 04, lives in :mod:`handlib.inspector`.
"""
from __future__ import annotations

import numpy as np

from handlib import hand_model as hm
from handlib.visualisation import plot_pose

VIEW_SLIDERS = ("view_x", "view_y", "view_z")
"""The explorer's view sliders: turns of the whole hand about the camera's x, y and z
axes (degrees), through the middle knuckle M0, composed in that order (x, then y, then
z) onto the starting pose's rotation."""


def explorer_pose(base_params, values: dict) -> np.ndarray:
    """The pose the explorer shows for slider ``values`` (name -> degrees or mm).

    Finger and ``trans_*`` sliders set that parameter; ``view_x/y/z`` turn the hand about
    the camera's axes through M0 (:func:`handlib.hand_model.rotate_view`), so "view_y 51"
    turns it by 51 degrees about the camera's y axis, whatever its starting rotation;
    then ``trans_*`` sliders put the wrist where they say.
    """
    p = np.array(base_params, dtype=np.float64)
    for name, value in values.items():
        if name not in VIEW_SLIDERS and not name.startswith("trans"):
            p[hm.dof_index(name)] = np.deg2rad(value)
    R = np.eye(3)
    for name in VIEW_SLIDERS:
        if name in values:
            R = hm.axis_rotation(name[-1], values[name]) @ R
    p = hm.rotate_view(p, R)
    for name, value in values.items():          # the wrist where its sliders say, last
        if name.startswith("trans"):
            p[hm.dof_index(name)] = value
    return p


def pose_explorer(base_params=None, dofs=("index_base_flex", "index_mid_flex",
                                          "thumb_base_abd", "middle_base_flex",
                                          "view_x", "view_y", "trans_z")):
    """Interactive sliders (ipywidgets) for a few pose parameters and view turns,
    redrawing :func:`plot_pose` (see :func:`explorer_pose`). Angles in degrees,
    translations in mm. Returns the widget."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    params = np.array(base_params if base_params is not None else hm.default_view_pose(), float)
    sliders = {}
    for name in dofs:
        if name in VIEW_SLIDERS:
            lo, hi, val = -180.0, 180.0, 0.0
        elif name.startswith("trans"):
            i = hm.dof_index(name)
            lo, hi, val = (200.0, 900.0, params[i]) if name == "trans_z" else (-200.0, 200.0, params[i])
        elif name.startswith("rot"):
            raise ValueError(f"{name}: use the view sliders {VIEW_SLIDERS} to turn the hand")
        else:
            i = hm.dof_index(name)
            lo, hi = np.rad2deg(hm.JOINT_LIMITS[i])
            val = np.rad2deg(params[i])
        sliders[name] = widgets.FloatSlider(value=float(val), min=float(lo), max=float(hi),
                                            step=1.0, description=name,
                                            continuous_update=False,
                                            style={"description_width": "120px"})
    out = widgets.Output()

    def redraw(*_):
        p = explorer_pose(params, {k: s.value for k, s in sliders.items()})
        with out:
            out.clear_output(wait=True)
            fig = plot_pose(p)
            plt.show()
            plt.close(fig)

    for s in sliders.values():
        s.observe(redraw, names="value")
    redraw()
    return widgets.HBox([widgets.VBox(list(sliders.values())), out])


def heatmap_explorer(uv_input=(70.3, 52.8), input_size: int = 128):
    """Sliders for a Gaussian heatmap's width (heatmap pixels) and the heatmap size, and
    for the joint's place; shows the map, the true and decoded places and the decoding
    error in input pixels (an ipywidgets app)."""
    import ipywidgets as w
    import matplotlib.pyplot as plt
    from IPython.display import display
    from handlib import heatmaps as hmaps
    out = w.Output()
    # room for the longest description ("heatmap size"), the same for all so they line up
    def look():
        return {"style": {"description_width": "95px"}, "layout": w.Layout(width="360px")}
    sigma = w.FloatSlider(value=1.5, min=0.3, max=5.0, step=0.1, description="sigma (px)", **look())
    size = w.SelectionSlider(options=[8, 16, 32, 64], value=32, description="heatmap size", **look())
    u = w.FloatSlider(value=uv_input[0], min=5, max=input_size - 6, step=0.1, description="u (input px)", **look())
    v = w.FloatSlider(value=uv_input[1], min=5, max=input_size - 6, step=0.1, description="v (input px)", **look())
    noise = w.FloatSlider(value=0.0, min=0.0, max=0.2, step=0.01, description="noise", **look())

    def draw(_=None):
        uv = hmaps.to_heatmap_coords(np.array([u.value, v.value]), input_size, size.value)
        h = hmaps.gaussian_heatmaps(uv[None], size.value, sigma.value)[..., 0]
        if noise.value > 0:
            h = h + np.random.default_rng(0).normal(scale=noise.value, size=h.shape)
        found, peak = hmaps.heatmap_maxima(h[..., None])
        err = np.linalg.norm(found[0] - uv) * input_size / size.value
        with out:
            out.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(3.6, 3.6))
            ax.imshow(h, cmap="viridis", vmin=min(0, h.min()), vmax=max(1, h.max()))
            ax.plot(*uv, "wx", ms=8, label="true")
            ax.plot(*found[0], "r+", ms=10, label="decoded")
            ax.set_title(f"decoding error {err:.3f} input px", fontsize=9)
            ax.legend(fontsize=7, loc="lower right")
            display(fig)
            plt.close(fig)
    for s in (sigma, size, u, v, noise):
        s.observe(draw, names="value")
    draw()
    return w.HBox([w.VBox([sigma, size, u, v, noise]), out])
