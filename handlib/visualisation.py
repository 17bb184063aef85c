"""Plotting helpers for the notebooks (kept here so cells stay short).

Every function draws onto matplotlib axes it is given (or creates a figure) and returns
the figure or artists; none calls ``plt.show()`` - the notebook cell does.
"""
from __future__ import annotations

import numpy as np

from handlib import camera as cam
from handlib import hand_model as hm


def _bone_colors():
    colors = []
    for _, c in hm.BONES:
        finger = hm.FINGER_NAMES[(c - 1) // 4]
        colors.append(hm.FINGER_COLORS[finger])
    return colors


def plot_skeleton_2d(ax, uv, visible=None, linewidth: float = 2.0, markersize: float = 3.0,
                     alpha: float = 1.0):
    """Draw a 21-joint skeleton in pixel coordinates (21, 2) on image axes.

    Occluded joints (``visible[j] == False``) are drawn hollow, and bones to them dashed.
    """
    uv = np.asarray(uv, dtype=np.float64)
    vis = np.ones(21, bool) if visible is None else np.asarray(visible, bool)
    for (p, c), color in zip(hm.BONES, _bone_colors()):
        style = "-" if vis[p] and vis[c] else "--"
        ax.plot(uv[[p, c], 0], uv[[p, c], 1], style, color=color, lw=linewidth, alpha=alpha)
    ax.scatter(uv[vis, 0], uv[vis, 1], s=markersize ** 2 * 3, c="white", edgecolors="k",
               linewidths=0.6, zorder=3, alpha=alpha)
    if (~vis).any():
        ax.scatter(uv[~vis, 0], uv[~vis, 1], s=markersize ** 2 * 3, facecolors="none",
                   edgecolors="k", linewidths=0.8, zorder=3, alpha=alpha)


def plot_skeleton_3d(ax, joints, title: str | None = None, camera_axes: bool = True):
    """Draw a 21-joint skeleton (21, 3) on 3D axes with equal aspect.

    With ``camera_axes`` the view is set as a camera looking along +z with y down.
    """
    j = np.asarray(joints, dtype=np.float64)
    for (p, c), color in zip(hm.BONES, _bone_colors()):
        ax.plot(j[[p, c], 0], j[[p, c], 2], -j[[p, c], 1] if camera_axes else j[[p, c], 1],
                color=color, lw=2)
    ys = -j[:, 1] if camera_axes else j[:, 1]
    ax.scatter(j[:, 0], j[:, 2], ys, c="k", s=8)
    centre = np.array([j[:, 0].mean(), j[:, 2].mean(), ys.mean()])
    r = max(np.ptp(j[:, 0]), np.ptp(j[:, 2]), np.ptp(ys)) / 2 + 10
    ax.set_xlim(centre[0] - r, centre[0] + r)
    ax.set_ylim(centre[1] - r, centre[1] + r)
    ax.set_zlim(centre[2] - r, centre[2] + r)
    ax.set_xlabel("x (mm)")
    ax.set_ylabel("z (mm)")
    ax.set_zlabel("-y (mm)" if camera_axes else "y (mm)")
    if title:
        ax.set_title(title)


def plot_pose(params, intrinsics: cam.Intrinsics = cam.GANERATED, bone_lengths=None,
              side: str = "right", fig=None):
    """A posed hand in 3D beside its projection through ``intrinsics``.

    Args: params (26,) pose parameters (radians, mm). Returns the figure.
    """
    import matplotlib.pyplot as plt
    joints = hm.forward_kinematics(params, bone_lengths, side=side)
    uv = cam.project(intrinsics, joints)
    if fig is None:
        fig = plt.figure(figsize=(9, 4.2))
    fig.clf()
    ax3 = fig.add_subplot(1, 2, 1, projection="3d")
    plot_skeleton_3d(ax3, joints, title="3D joints, camera frame")
    ax3.view_init(elev=15, azim=-70)
    ax2 = fig.add_subplot(1, 2, 2)
    ax2.set_xlim(0, intrinsics.width)
    ax2.set_ylim(intrinsics.height, 0)
    ax2.set_aspect("equal")
    ax2.set_facecolor("#f4f4f4")
    plot_skeleton_2d(ax2, uv)
    ax2.set_title(f"projection ({intrinsics.width}x{intrinsics.height} px)")
    ax2.set_xlabel("u (px)")
    ax2.set_ylabel("v (px)")
    fig.tight_layout()
    return fig


def pipeline_figure(ax=None):
    """The method's pipeline (GeoConGAN offline; RegNet + skeleton fitting online)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    if ax is None:
        _, ax = plt.subplots(figsize=(11, 3.6))
    ax.set_xlim(0, 11)
    ax.set_ylim(-0.75, 3.6)
    ax.axis("off")

    def box(x, y, w, h, text, color):
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05",
                                    fc=color, ec="k", lw=1))
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=9)

    def arrow(x0, y0, x1, y1):
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>",
                                     mutation_scale=12, lw=1.2))

    ax.text(0.1, 3.35, "offline: make training data", fontsize=10, weight="bold")
    box(0.1, 2.3, 1.9, 0.8, "rendered hands\n(synthetic)", "#dde8f5")
    box(2.6, 2.3, 2.2, 0.8, "GeoConGAN\nCycleGAN + SilNet", "#f7dcc8")
    box(5.4, 2.3, 2.1, 0.8, "GANerated hands\n(real-looking)", "#dde8f5")
    arrow(2.0, 2.7, 2.6, 2.7)
    arrow(4.8, 2.7, 5.4, 2.7)
    box(7.9, 2.3, 2.9, 0.8, "train RegNet on\nGANerated images", "#e3f1da")
    arrow(7.5, 2.7, 7.9, 2.7)
    ax.text(0.1, 1.55, "online: every video frame", fontsize=10, weight="bold")
    box(0.1, 0.3, 1.7, 0.9, "RGB frame\n+ hand crop", "#eeeeee")
    box(2.3, 0.3, 2.5, 0.9, "RegNet: 2D heatmaps\n+ root-relative 3D", "#e3f1da")
    box(5.3, 0.3, 2.6, 0.9, "kinematic skeleton\nfitting (26 DoF)", "#f5efc8")
    box(8.4, 0.3, 2.4, 0.9, "global 3D pose\n(mm, camera frame)", "#eeeeee")
    arrow(1.8, 0.75, 2.3, 0.75)
    arrow(4.8, 0.75, 5.3, 0.75)
    arrow(7.9, 0.75, 8.4, 0.75)
    arrow(9.35, 2.3, 3.6, 1.2)
    ax.annotate("", xy=(0.95, 0.25), xytext=(9.6, 0.25),
                arrowprops=dict(arrowstyle="-|>", connectionstyle="arc3,rad=-0.1",
                                lw=1, ls="--"))
    ax.text(5.3, -0.68, "the fitted pose places the next frame's crop", ha="center", fontsize=8)
    return ax


def plot_crop_target(ax, uv_crop, xyz_target, size: int, title: str = ""):
    """One crop's 2D joints (21, 2) beside the picture its 3D target (21, 3) implies.

    Draws the 2D skeleton, and over it (grey, dashed) the target projected
    orthographically with the best scale and offset, so a student sees how far the
    target is from being a picture of its crop
    (:func:`handlib.crop_camera.orthographic_misalignment`, in W-M0 lengths).
    """
    from handlib import crop_camera as cc
    uv = np.asarray(uv_crop, dtype=np.float64)
    fit, err = cc.orthographic_fit(xyz_target, uv)
    for p, c in hm.BONES:
        ax.plot(fit[[p, c], 0], fit[[p, c], 1], "--", color="0.45", lw=1.2)
    plot_skeleton_2d(ax, uv, linewidth=1.6, markersize=2)
    ax.set_xlim(-0.5, size - 0.5)
    ax.set_ylim(size - 0.5, -0.5)
    ax.set_aspect("equal")
    ax.set_facecolor("#f4f4f4")
    ax.set_title(f"{title}\nworst joint off by {err:.3f} W-M0", fontsize=9)
    return err


def show_images(images, titles=None, ncols: int = 4, size: float = 2.6, cmap=None):
    """A grid of images (list of HxW or HxWx3 arrays). Returns (fig, axes)."""
    import matplotlib.pyplot as plt
    n = len(images)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            ax.imshow(images[k], cmap=cmap)
            if titles is not None:
                ax.set_title(titles[k], fontsize=9)
    fig.tight_layout()
    return fig, axes


def show_samples(samples, ncols: int = 4, size: float = 2.4, with_mask_depth: bool = True):
    """Rows of samples: image with skeleton, and (when present) silhouette and depth.

    ``samples``: :class:`handlib.datasets.HandSample` records. Returns the figure.
    """
    import matplotlib.pyplot as plt
    rows = 3 if with_mask_depth else 1
    n = len(samples)
    fig, axes = plt.subplots(rows, n, figsize=(size * n, size * rows), squeeze=False)
    for k, s in enumerate(samples):
        ax = axes[0, k]
        ax.imshow(s.load_image())
        if s.uv is not None:
            plot_skeleton_2d(ax, s.uv, s.visible, linewidth=1.2, markersize=2)
        look = s.extra.get("look", s.source)
        if "ganerated" in s.extra:          # translated by handlib.ganerate from a rendered look
            look = f"GANerated from {look}"
        ax.set_title(f"{look}, {s.side or '?'} hand", fontsize=8)
        if with_mask_depth:
            m = s.load_mask()
            axes[1, k].imshow(m if m is not None else np.zeros((2, 2)), cmap="gray")
            axes[1, k].set_title("silhouette", fontsize=8)
            d = s.load_depth()
            if d is not None:
                d = np.where(d > 0, d, np.nan)
                im = axes[2, k].imshow(d, cmap="viridis")
                fig.colorbar(im, ax=axes[2, k], fraction=0.046, pad=0.02).ax.tick_params(labelsize=6)
            axes[2, k].set_title("depth (mm)", fontsize=8)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_dataset_statistics(samples):
    """Pose spread, per-joint visibility and hand size in the crop of a rendered set.

    Uses the scene files written by the engine (``sample.extra['params']``). Returns the
    figure.
    """
    import matplotlib.pyplot as plt
    params = np.array([s.extra["params"] for s in samples if "params" in s.extra])
    vis = np.array([s.visible for s in samples if s.visible is not None], float)
    sizes = np.array([np.ptp(s.uv, axis=0).max() for s in samples])
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.2))
    flex = [hm.dof_index(f"{f}_mid_flex") for f in hm.FINGER_NAMES]
    axes[0].hist(np.rad2deg(params[:, flex]), bins=15, stacked=True,
                 color=[hm.FINGER_COLORS[f] for f in hm.FINGER_NAMES], label=hm.FINGER_NAMES)
    axes[0].set_xlabel("middle-joint flexion (degrees)")
    axes[0].set_ylabel("frames")
    axes[0].legend(fontsize=7)
    # viewing direction: the palm normal in the camera frame (z<0: palm towards camera)
    R = hm.rotation_matrix(params[:, 0:3])
    normal_z = R[:, 2, 2]           # the palm faces +z in the hand frame, either side
    axes[1].hist(normal_z, bins=20, color="#888")
    axes[1].set_xlabel("palm normal z (-1 palm to camera, +1 back)")
    axes[2].bar(range(21), vis.mean(axis=0), color=["#7f7f7f"] + sum(
        [[hm.FINGER_COLORS[f]] * 4 for f in hm.FINGER_NAMES], []))
    axes[2].set_xticks(range(21), hm.JOINT_NAMES, rotation=90, fontsize=7)
    axes[2].set_ylabel("fraction visible")
    axes[2].set_ylim(0, 1)
    axes[3].hist(sizes, bins=15, color="#888")
    axes[3].set_xlabel("hand extent in the crop (pixels)")
    fig.tight_layout()
    return fig


def show_augmented_batch(images, targets, heatmap_joint: int | None = 8, ncols: int = 4,
                         size: float = 2.4):
    """A batch from :func:`handlib.pipeline.make_pipeline`: each image with its
    transformed skeleton, and (optionally) one joint's target heatmap underneath."""
    import matplotlib.pyplot as plt
    images = np.asarray(images)
    uv = np.asarray(targets["uv_input"])
    vis = np.asarray(targets["visible"]) > 0
    heat = np.asarray(targets["heatmaps"])
    n = min(len(images), ncols)
    rows = 2 if heatmap_joint is not None else 1
    fig, axes = plt.subplots(rows, n, figsize=(size * n, size * rows), squeeze=False)
    for k in range(n):
        axes[0, k].imshow(images[k])
        plot_skeleton_2d(axes[0, k], uv[k], vis[k], linewidth=1, markersize=2)
        if heatmap_joint is not None:
            axes[1, k].imshow(heat[k, ..., heatmap_joint], cmap="magma", vmin=0, vmax=1)
            axes[1, k].set_title(f"target heatmap, joint {hm.JOINT_NAMES[heatmap_joint]}", fontsize=8)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------- GeoConGAN (notebook 02)
def show_image_rows(rows: dict, outlines: dict | None = None, ncols: int | None = None,
                    size: float = 1.7):
    """Rows of images with a label each: ``rows`` ``{label: (N, H, W, 3) uint8}``, or
    ``(N, H, W)`` maps in [0, 1] (probabilities, shown in grey from 0 black to 1 white);
    each row shows its first ``ncols`` images. ``outlines`` ``{label: (N, H, W) bool}``
    draws a silhouette's outline (green) over that row. Returns the figure."""
    import matplotlib.pyplot as plt
    ncols = ncols or min(len(v) for v in rows.values())
    fig, axes = plt.subplots(len(rows), ncols, figsize=(size * ncols, size * len(rows)),
                             squeeze=False)
    for r, (label, imgs) in enumerate(rows.items()):
        for c in range(ncols):
            ax = axes[r, c]
            ax.set_xticks([]), ax.set_yticks([])
            if c >= len(imgs):
                ax.axis("off")
                continue
            if np.ndim(imgs[c]) == 2:
                ax.imshow(imgs[c], cmap="gray", vmin=0.0, vmax=1.0)
            else:
                ax.imshow(imgs[c])
            if outlines and label in outlines:
                ax.contour(outlines[label][c], levels=[0.5], colors="lime", linewidths=0.8)
        axes[r, 0].set_ylabel(label, fontsize=9)
    fig.tight_layout()
    return fig


def show_silhouettes(images, masks, probs, ncols: int = 6, size: float = 1.8):
    """SilNet checked by eye: each image with the true silhouette (green) and SilNet's
    (probability > 0.5, magenta) outlined, titled with their IoU. Returns the figure."""
    import matplotlib.pyplot as plt
    from handlib.silnet import iou
    n = min(ncols, len(images))
    fig, axes = plt.subplots(1, n, figsize=(size * n, size * 1.15), squeeze=False)
    for ax, img, m, p in zip(axes[0], images, masks, probs):
        ax.imshow(img)
        ax.contour(m, levels=[0.5], colors="lime", linewidths=0.8)
        ax.contour(p, levels=[0.5], colors="magenta", linewidths=0.8)
        ax.set_title(f"IoU {iou((p > 0.5)[None], m[None])[0]:.3f}", fontsize=8)
        ax.set_xticks([]), ax.set_yticks([])
    fig.tight_layout()
    return fig


def plot_gan_log(log, title: str = "", xlabel: str = "epoch"):
    """A GeoConGAN training log (CSV path or History dict) in three panels: the
    generators' total (the weighted sum that is minimised), its terms (adversarial,
    cycle, identity, geometric: each the sum of both directions, unweighted) and the two
    discriminators' least-squares losses. Returns the figure."""
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(13, 3))
    prefix = f"{title}: " if title else ""
    plot_training_log(log, ["generator"], ax=axes[0], title=prefix + "generators' total", xlabel=xlabel,
                      ylabel="weighted sum of the terms")
    plot_training_log(log, ["adversarial", "cycle", "identity", "geometric"], ax=axes[1],
                      title=prefix + "its terms (unweighted)", xlabel=xlabel, ylabel="loss (unweighted)")
    plot_training_log(log, ["d_real", "d_synth"], ax=axes[2], title=prefix + "discriminators",
                      xlabel=xlabel, ylabel="least-squares loss")
    fig.tight_layout()
    return fig


def plot_training_log(log, keys, ax=None, title: str = "", xlabel: str = "epoch", ylabel: str = "loss"):
    """Curves of ``keys`` from a Keras CSV log (path) or a History's dict. Returns the axes.
    A CSV log is plotted against its ``epoch`` column, one point per epoch (the last row
    written for it), so a run resumed after a kill draws one continuous curve. The x
    axis (epochs or steps, ``xlabel``) has whole-number ticks only."""
    import csv
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator
    if not isinstance(log, dict):
        with open(log, newline="") as f:
            rows = list(csv.DictReader(f))
        by_epoch = {int(r["epoch"]) if r.get("epoch") not in (None, "") else i: r
                    for i, r in enumerate(rows)}
        x = sorted(by_epoch)
        curves = {k: [(e, float(by_epoch[e][k])) for e in x
                      if by_epoch[e].get(k) not in (None, "", "NA")] for k in keys}
    else:
        curves = {k: list(enumerate(log[k])) for k in keys}
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3))
    for k in keys:
        ax.plot([e for e, _ in curves[k]], [v for _, v in curves[k]], label=k)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


# ----------------------------------------------------------------------- RegNet
def regnet_figure(ax=None):
    """RegNet's architecture: trunk, intermediate 3D, ProjLayer, RenderingLayer, the
    concatenation and the refinement into final heatmaps and 3D."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    if ax is None:
        _, ax = plt.subplots(figsize=(11.5, 3.4))
    ax.set_xlim(0, 11.5)
    ax.set_ylim(0, 3.4)
    ax.axis("off")

    def box(x, y, w, h, text, color):
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05", fc=color, ec="k", lw=1))
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=8.5)

    def arrow(x0, y0, x1, y1, text=None):
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=11, lw=1.1))
        if text:
            ax.text((x0 + x1) / 2, (y0 + y1) / 2 + 0.08, text, ha="center", fontsize=7, color="0.3")

    box(0.05, 1.2, 1.2, 1.0, "hand crop\nS x S\n(left hand)", "#eeeeee")
    box(1.6, 1.2, 1.6, 1.0, "trunk\nEfficientNet-Lite0\n(ImageNet) or\nResNet-50", "#dde8f5")
    arrow(1.25, 1.7, 1.6, 1.7)
    box(3.6, 2.35, 1.5, 0.8, "intermediate 3D\n21 x 3 + root\nposition (3)", "#e3f1da")
    arrow(3.2, 2.0, 3.6, 2.6, "stride 16")
    box(5.5, 2.35, 1.3, 0.8, "ProjLayer\nperspective,\ncrop camera K", "#f7dcc8")
    arrow(5.1, 2.75, 5.5, 2.75)
    box(7.2, 2.35, 1.5, 0.8, "RenderingLayer\nGaussians\nS/4 x S/4 x 21", "#f7dcc8")
    arrow(6.8, 2.75, 7.2, 2.75, "2D")
    box(3.6, 0.25, 3.2, 0.8, "features up-sampled to S/4\n(skips from strides 8 and 4)", "#dde8f5")
    arrow(3.2, 1.4, 3.6, 0.65)
    box(7.2, 0.25, 1.5, 0.8, "concatenate\n+ refine\n(separable convs)", "#e3f1da")
    arrow(6.8, 0.65, 7.2, 0.65)
    arrow(7.95, 2.35, 7.95, 1.05)
    box(9.2, 1.9, 2.2, 0.8, "final heatmaps\nS/4 x S/4 x 21", "#f5efc8")
    box(9.2, 0.25, 2.2, 0.8, "final 3D, 21 x 3\n(M0 origin, |W-M0| = 1)", "#f5efc8")
    arrow(8.7, 0.75, 9.2, 2.2)
    arrow(8.7, 0.55, 9.2, 0.6)
    ax.text(5.8, 3.25, "losses: L2 on intermediate 3D, final 3D, final heatmaps; "
            "ProjLayer's 2D against the labels", ha="center", fontsize=8, style="italic")
    return ax


def plot_pck(curves: dict, kind: str = "3d", ax=None, title: str | None = None):
    """PCK curves from :mod:`handlib.metrics` summaries: ``{label: summary_3d(...) or
    summary_2d(...)}``; the legend gives each curve's AUC. Returns the axes."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(4.6, 3.4))
    for label, s in curves.items():
        if kind == "3d":
            t, a = s["pck_thresholds_mm"], s["auc_20_50mm"]
        else:
            t, a = s["pck_thresholds_px"], s["auc_0_30px"]
        ax.plot(t, s["pck"], label=f"{label} (AUC {a:.3f})")
    ax.set_xlabel("threshold (mm)" if kind == "3d" else "threshold (px)")
    ax.set_ylabel("share of joints within")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(title or ("3D PCK, root-relative" if kind == "3d" else "2D PCK"), fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    return ax


def show_pose_predictions(images, pred_uv, gt_uv=None, heatmaps=None, titles=None, joint: int = 8,
                          ncols: int = 4, size: float = 2.4):
    """Images with predicted skeletons (and labelled ones, thin and grey, when given); with
    ``heatmaps`` (N, Hs, Hs, 21) a second row per image shows one joint's heatmap (default
    the index tip) over the image. Returns the figure."""
    import matplotlib.pyplot as plt
    n = len(images)
    ncols = min(ncols, n)
    rows = int(np.ceil(n / ncols)) * (2 if heatmaps is not None else 1)
    fig, axes = plt.subplots(rows, ncols, figsize=(size * ncols, size * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i in range(n):
        r, c = divmod(i, ncols)
        r *= 2 if heatmaps is not None else 1
        ax = axes[r, c]
        img = np.asarray(images[i])
        ax.imshow(img)
        if gt_uv is not None:
            for p, q in hm.BONES:
                ax.plot(gt_uv[i][[p, q], 0], gt_uv[i][[p, q], 1], "-", color="#00bcd4", lw=1, alpha=0.8)
        plot_skeleton_2d(ax, pred_uv[i], linewidth=1.5, markersize=2)
        ax.set_xlim(-0.5, img.shape[1] - 0.5)
        ax.set_ylim(img.shape[0] - 0.5, -0.5)
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
        if heatmaps is not None:
            h = np.asarray(heatmaps[i])[..., joint]
            axes[r + 1, c].imshow(img)
            axes[r + 1, c].imshow(h, cmap="magma", alpha=0.6, vmin=0, vmax=1,
                                  extent=(-0.5, img.shape[1] - 0.5, img.shape[0] - 0.5, -0.5))
            axes[r + 1, c].set_title(f"heatmap of {hm.JOINT_NAMES[joint]}, peak {h.max():.2f}", fontsize=8)
    fig.tight_layout()
    return fig


REFERENCE_COLOR = "#ff00d4"
"""A peer's reference skeleton: a saturated magenta with a dark edge, which stands out
from pale walls, skin and the finger colours alike."""


def plot_reference_2d(ax, uv, linewidth: float = 1.6):
    """A reference skeleton (21, 2) in pixels, drawn thin in :data:`REFERENCE_COLOR` with a
    black edge, under the prediction."""
    import matplotlib.patheffects as pe
    uv = np.asarray(uv, np.float64)
    edge = [pe.Stroke(linewidth=linewidth + 1.6, foreground="black"), pe.Normal()]
    for p, q in hm.BONES:
        ax.plot(uv[[p, q], 0], uv[[p, q], 1], "-", color=REFERENCE_COLOR, lw=linewidth,
                path_effects=edge, zorder=2)
    ax.scatter(uv[:, 0], uv[:, 1], s=9, c=REFERENCE_COLOR, edgecolors="black", linewidths=0.6, zorder=2)


def show_real_predictions(items, ncols: int = 4, size: float = 3.1, reference_label: str = "MediaPipe"):
    """A grid of real images, each shown over its box: ``items`` a list of dicts with
    ``image`` (H, W, 3), ``uv`` (21, 2) the prediction, ``ref`` (21, 2) the reference or
    None, ``box`` (cx, cy, side) in pixels and ``title``. The prediction is drawn in the
    finger colours, the reference in :data:`REFERENCE_COLOR`. Returns the figure."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    n = len(items)
    ncols = max(1, min(ncols, n))
    rows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(rows, ncols, figsize=(size * ncols, size * rows + 0.5), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, it in zip(axes.flat, items):
        img = np.asarray(it["image"])
        ax.imshow(img)
        if it.get("ref") is not None:
            plot_reference_2d(ax, it["ref"])
        plot_skeleton_2d(ax, it["uv"], linewidth=2.2, markersize=2.5)
        cx, cy, side = it["box"]
        ax.set_xlim(cx - side / 2, cx + side / 2)
        ax.set_ylim(cy + side / 2, cy - side / 2)
        ax.set_title(it.get("title", ""), fontsize=9)
    handles = [Line2D([], [], color=hm.FINGER_COLORS["index"], lw=2.2, label="prediction (finger colours)")]
    if any(it.get("ref") is not None for it in items):
        handles.append(Line2D([], [], color=REFERENCE_COLOR, lw=1.6, label=f"reference ({reference_label})"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


class LiveLossPlot:
    """A Keras callback that redraws loss curves in a notebook after every epoch
    (``keys``: logged names; each one's ``val_`` twin is drawn dashed when present)."""

    def __new__(cls, keys, title: str = ""):
        import keras

        class _Live(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.keys, self.title, self.history = list(keys), title, {}

            def on_epoch_end(self, epoch, logs=None):
                import matplotlib.pyplot as plt
                from IPython.display import clear_output, display
                for k, v in (logs or {}).items():
                    self.history.setdefault(k, {})[epoch] = float(v)
                clear_output(wait=True)
                fig, ax = plt.subplots(figsize=(6.5, 3))
                for i, k in enumerate(self.keys):
                    color = f"C{i}"
                    if k in self.history:
                        e = sorted(self.history[k])
                        ax.plot(e, [self.history[k][j] for j in e], color=color, label=k)
                    if f"val_{k}" in self.history:
                        e = sorted(self.history[f"val_{k}"])
                        ax.plot(e, [self.history[f"val_{k}"][j] for j in e], "--", color=color,
                                label=f"val_{k}")
                ax.set_xlabel("epoch")
                from matplotlib.ticker import MaxNLocator
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
                ax.set_yscale("log")
                ax.set_title(self.title or "training (log scale)")
                ax.legend(fontsize=7)
                display(fig)
                plt.close(fig)
        return _Live()


def heatmaps_in_image(heatmaps, crop, image_shape) -> np.ndarray:
    """Heatmaps (Hs, Hs, J) of a crop (:class:`handlib.crop_camera.Crop`, ``crop.size``
    input pixels) resampled into the source image's pixels: (H, W, J), for overlays."""
    import cv2
    h = np.asarray(heatmaps, np.float32)
    r = crop.size / h.shape[0]
    A = np.array([[r, 0, (r - 1) / 2], [0, r, (r - 1) / 2], [0, 0, 1]])   # heatmap -> input px
    M = np.linalg.inv(crop.H) @ A
    H, W = image_shape[:2]
    return np.stack([cv2.warpPerspective(h[..., j], M, (W, H)) for j in range(h.shape[-1])], -1)


# ------------------------------------------------------------- notebook 04: projection
def plot_camera_chain(xyz_mm, image, uv_image, crop, crop_image, uv_crop, heatmaps, uv_heatmap):
    """The camera chain of one hand in four panels: 3D joints in the camera frame (mm)
    -> the image's pixels (with the crop's square) -> the crop's pixels -> the heatmap's
    pixels (the maximum over the 21 maps, the pixel grid visible). Returns the figure."""
    import matplotlib.pyplot as plt
    fig = plt.figure(figsize=(13, 3.4))
    ax0 = fig.add_subplot(1, 4, 1, projection="3d")
    plot_skeleton_3d(ax0, xyz_mm)
    ax0.set_title("1. camera frame (mm)", fontsize=9)
    ax1 = fig.add_subplot(1, 4, 2)
    ax1.imshow(image)
    plot_skeleton_2d(ax1, uv_image, linewidth=1.2, markersize=1.5)
    S = crop.size
    corners = crop.from_crop(np.array([[-0.5, -0.5], [S - 0.5, -0.5], [S - 0.5, S - 0.5], [-0.5, S - 0.5],
                                       [-0.5, -0.5]]))
    ax1.plot(corners[:, 0], corners[:, 1], "-", color="#1f77b4", lw=1.2)
    ax1.set_title(f"2. image pixels ({image.shape[1]}x{image.shape[0]})", fontsize=9)
    ax2 = fig.add_subplot(1, 4, 3)
    ax2.imshow(crop_image)
    plot_skeleton_2d(ax2, uv_crop, linewidth=1.5, markersize=2)
    ax2.set_title(f"3. crop pixels ({S}x{S})", fontsize=9)
    ax3 = fig.add_subplot(1, 4, 4)
    Hs = heatmaps.shape[0]
    ax3.imshow(np.asarray(heatmaps).max(-1), cmap="viridis", vmin=0, vmax=1)
    ax3.set_xticks(np.arange(-0.5, Hs, 4), minor=False)
    ax3.set_yticks(np.arange(-0.5, Hs, 4), minor=False)
    ax3.tick_params(labelbottom=False, labelleft=False, length=0)
    ax3.grid(color="w", lw=0.3, alpha=0.4)
    ax3.plot(uv_heatmap[:, 0], uv_heatmap[:, 1], "r+", ms=5)
    ax3.set_title(f"4. heatmap pixels ({Hs}x{Hs}), joints +", fontsize=9)
    for ax in (ax1, ax2):
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_projection_sweep(result, angle_for_distance=None, distance_for_angle=None):
    """:func:`handlib.pose_network.projection_sweep`'s errors: mean joint error (crop
    pixels, log scale) against the hand's distance (left, on the optical axis and at the
    largest angle) and against its angle off the axis (right, at one distance). Values
    below 0.001 px are drawn at 0.001. Returns the figure."""
    import matplotlib.pyplot as plt
    d, a = result["distances_mm"], result["angles_deg"]
    j_far = len(a) - 1 if angle_for_distance is None else int(np.argmin(np.abs(a - angle_for_distance)))
    i_mid = len(d) // 2 if distance_for_angle is None else int(np.argmin(np.abs(d - distance_for_angle)))
    styles = {"projlayer": ("ProjLayer (exact; drawn at 0.001)", "C2"),
              "weak_crop": ("weak perspective, crop camera", "C0"),
              "weak_affine": ("weak perspective, affine crop", "C3")}
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    floor = 1e-3
    for key, (label, color) in styles.items():
        e = np.maximum(result[key], floor)
        axes[0].plot(d, e[:, 0], "-o", color=color, ms=3, label=f"{label}, on axis")
        axes[0].plot(d, e[:, j_far], "--", color=color, label=f"{label}, {a[j_far]:.0f} deg off")
        axes[1].plot(a, e[i_mid], "-o", color=color, ms=3, label=label)
    axes[0].set_xlabel("distance of M0 from the camera (mm)")
    axes[1].set_xlabel(f"angle off the optical axis (deg), at {d[i_mid]:.0f} mm")
    for ax in axes:
        ax.set_yscale("log")
        ax.set_ylabel(f"mean joint error ({result['size']} px crop)")
        ax.axhline(1.0, color="0.6", lw=0.8, ls=":")
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=6.5, ncol=1)
    axes[1].legend(fontsize=7)
    axes[0].set_title("against distance", fontsize=9)
    axes[1].set_title("against position in the image", fontsize=9)
    fig.tight_layout()
    return fig


def plot_gaussians(uv_input=(70.3, 52.8), sigmas=(0.75, 1.5, 3.0), sizes=(16, 32, 64), input_size: int = 128):
    """One joint at input pixel ``uv_input`` rendered as a Gaussian heatmap for each
    width (rows, heatmap pixels) and heatmap size (columns), the decoded maximum (red +)
    beside the true place (white x). Returns the figure."""
    import matplotlib.pyplot as plt
    from handlib import heatmaps as hmaps
    fig, axes = plt.subplots(len(sigmas), len(sizes), figsize=(2.3 * len(sizes), 2.3 * len(sigmas)),
                             squeeze=False)
    for r, sigma in enumerate(sigmas):
        for c, size in enumerate(sizes):
            uv = hmaps.to_heatmap_coords(np.asarray(uv_input, float), input_size, size)
            h = hmaps.gaussian_heatmaps(uv[None], size, sigma)[..., 0]
            found, _ = hmaps.heatmap_maxima(h[..., None])
            ax = axes[r, c]
            ax.imshow(h, cmap="viridis", vmin=0, vmax=1)
            ax.plot(*uv, "wx", ms=7)
            ax.plot(*found[0], "r+", ms=9)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"sigma {sigma} px, {size}x{size}", fontsize=8)
    fig.tight_layout()
    return fig


def plot_decoding_errors(table: dict, ax=None):
    """Measured decoding error (mean, input pixels) against the Gaussian's width, one
    line per heatmap size and noise level: ``table[(size, noise)] = (sigmas, errors)``;
    key ``(size, "argmax")`` gives the integer-maximum baseline (dotted). Returns the axes."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.6))
    sizes = sorted({k[0] for k in table})
    for i, size in enumerate(sizes):
        for (s, noise), (sig, err) in sorted(table.items(), key=lambda kv: str(kv[0][1])):
            if s != size:
                continue
            if noise == "argmax":
                ax.plot(sig, err, ":", color=f"C{i}", lw=1, label=f"{size}x{size}, integer maximum")
            else:
                style = "-" if noise == 0 else ("-o" if noise >= 0.05 else "--s")
                ax.plot(sig, err, style, ms=3, color=f"C{i}", alpha=1 if noise > 0 else 0.5,
                        label=f"{size}x{size}, noise {noise}")
    ax.set_xlabel("Gaussian width sigma (heatmap pixels)")
    ax.set_ylabel("mean decoding error (input px)")
    ax.set_yscale("symlog", linthresh=0.01)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.figure.tight_layout()
    return ax


def plot_refinement(src, indices, joint: int = 8, size: float = 2.6):
    """For labelled samples of :class:`handlib.inspector.SourcePredictions`: the crop with
    the ProjLayer's 2D (grey) and the final 2D (colour) and the label (white), then the
    rendered (intermediate), final and target heatmaps of ``joint``. Returns the figure."""
    import matplotlib.pyplot as plt
    from handlib import heatmaps as hmaps
    fig, axes = plt.subplots(len(indices), 4, figsize=(4 * size, size * len(indices)), squeeze=False)
    S, Hs = src.input_size, src.heatmap_size
    for r, i in enumerate(indices):
        ax = axes[r, 0]
        ax.imshow(src.crops[i])
        to_in = lambda uv: hmaps.to_image_coords(uv, S, Hs)  # noqa: E731
        for (p, c) in hm.BONES:
            ax.plot(*to_in(src.uv_projected[i][[p, c]]).T, "-", color="0.55", lw=1.2)
            if src.has_labels:
                ax.plot(*to_in(src.gt_uv[i][[p, c]]).T, "-", color="w", lw=0.8)
        plot_skeleton_2d(ax, to_in(src.uv[i]), linewidth=1.4, markersize=1.5)
        ax.set_title(f"sample {i}: ProjLayer grey, final colour", fontsize=8)
        ax.axis("off")
        maps = [("rendered (intermediate)", src.rendered[i], src.rendered_uv[i]),
                ("final", src.heatmaps[i], src.uv[i])]
        if src.target is not None:
            maps.append(("target", src.target[i], src.target_uv[i]))
        for c, (name, m, uv) in enumerate(maps, start=1):
            ax = axes[r, c]
            ax.imshow(m[..., joint], cmap="viridis", vmin=0, vmax=1)
            ax.plot(*uv[joint], "r+", ms=9)
            ax.set_title(f"{name}, {hm.joint_label(joint).split(':')[0]}: max {m[..., joint].max():.2f}",
                         fontsize=8)
            ax.axis("off")
    fig.tight_layout()
    return fig


def plot_refinement_gain(src, ax=None):
    """Per joint, the mean 2D error (crop pixels) of the ProjLayer's projection of the
    intermediate 3D and of the final heatmaps, over labelled samples. Returns the axes."""
    import matplotlib.pyplot as plt
    from handlib import metrics
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3))
    x = np.arange(21)
    ax.bar(x - 0.2, src.err_2d_projected.mean(0), 0.4, color="0.6", label="ProjLayer (intermediate 3D)")
    ax.bar(x + 0.2, src.err_2d.mean(0), 0.4, color="C0", label="final heatmaps")
    ax.set_xticks(x, metrics.JOINT_NAMES, fontsize=7)
    ax.set_ylabel(f"mean 2D error ({src.input_size} px crop)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, axis="y")
    return ax


# ------------------------------------------------------------- notebook 05: fitting
def plot_sequence_errors(errors: dict, gt_jitter: float | None = None, fps: float = 25.0):
    """Per-frame mean 3D error (mm) of several answers on one sequence (left) and their
    jitter, the mean joint acceleration (right). ``errors``: ``{name: (per-frame error
    (F,), jitter)}``. Returns the figure."""
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.2), gridspec_kw={"width_ratios": [3, 1.3]})
    for k, (name, (err, jit)) in enumerate(errors.items()):
        axes[0].plot(np.arange(len(err)) / fps, err, color=f"C{k}", lw=1.3,
                     label=f"{name}: mean {np.nanmean(err):.1f} mm")
        axes[1].bar(k, jit, color=f"C{k}")
    names = list(errors)
    if gt_jitter is not None:
        axes[1].axhline(gt_jitter, color="k", ls=":", lw=1, label="the true motion's own")
        axes[1].legend(fontsize=7)
    axes[0].set_xlabel("time (s)")
    axes[0].set_ylabel("mean 3D error, root-relative (mm)")
    axes[0].legend(fontsize=7)
    axes[0].grid(alpha=0.3)
    axes[1].set_xticks(range(len(names)), [n.replace(" + ", "\n+ ") for n in names], fontsize=7)
    axes[1].set_ylabel("jitter (mm / frame^2)")
    fig.tight_layout()
    return fig


def show_frames(frames, titles=None, ncols: int = 4, width: float = 12.0):
    """A strip (grid) of RGB frames, e.g. annotated video frames (browsers do not play
    the mp4v videos OpenCV writes, so notebooks show frames). Returns the figure."""
    import matplotlib.pyplot as plt
    n = len(frames)
    ncols = min(ncols, n)
    rows = int(np.ceil(n / ncols))
    h, w = frames[0].shape[:2]
    fig, axes = plt.subplots(rows, ncols, figsize=(width, width / ncols * h / w * rows + 0.3 * rows),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for k, f in enumerate(frames):
        ax = axes.flat[k]
        ax.imshow(f)
        if titles:
            ax.set_title(titles[k], fontsize=8)
    fig.tight_layout()
    return fig


def plot_trajectory_3d(xyz_mm, joints=(0, 9, 8), fps: float = 25.0):
    """Camera-frame trajectories (mm) of some joints over a sequence (F, 21, 3): x, y and
    depth z against time. Returns the figure."""
    import matplotlib.pyplot as plt
    x = np.asarray(xyz_mm, np.float64)
    t = np.arange(len(x)) / fps
    fig, axes = plt.subplots(1, 3, figsize=(11, 2.8), sharex=True)
    for a, name in enumerate(("x (mm)", "y (mm, down)", "z, depth (mm)")):
        for j in joints:
            axes[a].plot(t, x[:, j, a], lw=1.2, label=hm.JOINT_NAMES[j])
        axes[a].set_ylabel(name)
        axes[a].set_xlabel("time (s)")
        axes[a].grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_shifted_gaussian_loss(sigmas=(0.5, 1.0, 1.5, 3.0), max_shift: float = 4.0, size: int = 32, ax=None):
    """Notebook 03's normalised heatmap loss (sum of squares / (pi sigma^2)) of a perfect
    Gaussian drawn ``delta`` heatmap pixels from the target, against ``delta``, for
    several widths: measured on a ``size`` grid (dots) and the closed form
    ``2 (1 - exp(-delta^2 / (4 sigma^2)))`` (lines); the all-zero prediction scores 1.
    Returns the axes."""
    import matplotlib.pyplot as plt
    from handlib import heatmaps as hmaps
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.4))
    shifts = np.linspace(0, max_shift, 17)
    c = np.array([[size / 2 - 0.3, size / 2 + 0.2]])
    for k, sigma in enumerate(sigmas):
        target = hmaps.gaussian_heatmaps(c, size, sigma)[..., 0]
        measured = [float(((hmaps.gaussian_heatmaps(c + [d, 0.0], size, sigma)[..., 0] - target) ** 2).sum())
                    / (np.pi * sigma ** 2) for d in shifts]
        fine = np.linspace(0, max_shift, 200)
        ax.plot(fine, 2 * (1 - np.exp(-fine ** 2 / (4 * sigma ** 2))), color=f"C{k}", lw=1.2,
                label=f"sigma {sigma} px")
        ax.plot(shifts, measured, "o", color=f"C{k}", ms=3)
    ax.axhline(1.0, color="k", ls=":", lw=1, label="all-zero prediction")
    ax.set_xlabel("peak placed delta heatmap pixels from the joint")
    ax.set_ylabel("heatmap loss (units of pi sigma^2)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return ax


def plot_error_against_geometry(depth_mm, angle_deg, errors: dict):
    """Per-sample 2D errors (crop pixels) against the hand's distance (M0's depth, mm)
    and its angle off the optical axis (degrees): ``errors`` ``{label: (N,)}``, one
    colour each. Returns the figure."""
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.2), sharey=True)
    for k, (label, e) in enumerate(errors.items()):
        axes[0].scatter(depth_mm, e, s=8, color=f"C{k}", alpha=0.6, label=label)
        axes[1].scatter(angle_deg, e, s=8, color=f"C{k}", alpha=0.6, label=label)
    axes[0].set_xlabel("M0's depth (mm)")
    axes[1].set_xlabel("M0's angle off the optical axis (deg)")
    axes[0].set_ylabel("mean 2D error per sample (crop px)")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_arms(rows: dict, references: dict | None = None, goals: dict | None = None):
    """The real-hand experiments side by side: one panel per yardstick figure (2D AUC,
    3D AUC root + scale, 3D AUC aligned, video agreement), a bar per arm. ``rows``:
    ``{arm: real_yardstick figures}`` (:func:`handlib.real_hand_experiments.run_plan`'s
    entries); ``references``: ``{label: {figure: value}}`` drawn as dashed lines (the
    shipped model, the fixed open hand); ``goals``: ``{figure: value}`` dotted.
    Returns the figure."""
    import matplotlib.pyplot as plt
    panels = [("2d_auc", "2D AUC 0-30 px"), ("3d_root_scale_auc", "3D AUC, root + scale"),
              ("3d_aligned_auc", "3D AUC, aligned"), ("video_agreement", "video agreement\n(hand sizes, lower is better)")]
    names = list(rows)
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 0.42 * len(names) + 1.6), sharey=True)
    styles = ["--", "-.", (0, (6, 2, 1, 2, 1, 2))]
    for ax, (key, title) in zip(axes, panels):
        vals = [rows[n].get(key) for n in names]
        y = np.arange(len(names))
        ax.barh(y, [np.nan if v is None else v for v in vals], color="#4c72b0", height=0.6)
        for yi, v in zip(y, vals):
            if v is not None:
                ax.text(v, yi, f" {v:.2f}", va="center", fontsize=7)
        for k, (label, ref) in enumerate((references or {}).items()):
            if ref.get(key) is not None:
                ax.axvline(ref[key], color="k", ls=styles[k % len(styles)], lw=1, label=label)
        if goals and goals.get(key) is not None:
            ax.axvline(goals[key], color="#c44e52", ls=":", lw=1.5, label="goal")
        ax.set_title(title, fontsize=9)
        ax.set_xlim(0, 1.0 if "auc" in key else max([v for v in vals if v is not None] + [0.5]) * 1.3)
        ax.grid(axis="x", alpha=0.3)
        ax.tick_params(labelsize=8)
    axes[0].set_yticks(np.arange(len(names)), names)
    axes[0].invert_yaxis()
    handles, labels = {}, {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=len(handles), fontsize=8,
               frameon=False, bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def plot_lifting_diagnostic(result: dict, goals=(0.70, 0.60, 0.90)):
    """The lifting diagnostic (:func:`handlib.lifting.diagnostic`): one panel per photo
    set, the 3D AUC (root + scale, solid; aligned, dashed) of the lifter fed the peer's 2D
    with more and more noise, against the 2D AUC of what it was fed; RegNet's own 3D and
    the lifter fed RegNet's 2D as markers at RegNet's 2D AUC, RegNet + fit at its fitted
    2D's AUC; the fixed open hand as grey lines and ``goals`` (2D, root + scale, aligned)
    dotted red. Returns the figure."""
    import matplotlib.pyplot as plt
    sets = sorted(result["sets"], key=lambda s: (s == "all_photos", s != "sign_language_digits", s))
    fig, axes = plt.subplots(1, len(sets), figsize=(4.2 * len(sets), 3.8), sharey=True, squeeze=False)
    for ax, s in zip(axes[0], sets):
        rows = result["sets"][s]["rows"]
        peer = sorted((r for r in rows.values() if "noise_px" in r), key=lambda r: r["noise_px"])
        x = [r["2d"]["auc"] for r in peer]
        ax.plot(x, [r["3d_root_scale"]["auc"] for r in peer], "o-", color="#4c72b0", ms=3,
                label="the peer's 2D (+ noise), lifted: root + scale")
        ax.plot(x, [r["3d_aligned"]["auc"] for r in peer], "o--", color="#4c72b0", ms=3,
                label="the same, aligned")
        for r, lv in zip(peer, x):
            ax.annotate(f"{r['noise_px']:g}", (lv, r["3d_root_scale"]["auc"]), fontsize=6,
                        textcoords="offset points", xytext=(2, -8))
        for name, colour, marker in (("RegNet", "#c44e52", "s"), ("RegNet + fit", "#dd8452", "D"),
                                     ("RegNet's 2D, lifted", "#55a868", "^")):
            r = rows[name]
            for key, fill in (("3d_root_scale", colour), ("3d_aligned", "none")):
                ax.plot(r["2d"]["auc"], r[key]["auc"], marker, color=colour, mfc=fill, ms=7,
                        label=name if key == "3d_root_scale" else None)
        fixed = rows["fixed open hand"]
        ax.axhline(fixed["3d_root_scale"]["auc"], color="0.5", lw=1, label="fixed open hand (root + scale, aligned)")
        ax.axhline(fixed["3d_aligned"]["auc"], color="0.5", lw=1, ls="--")
        g2, grs, gal = goals
        ax.axvline(g2, color="#c44e52", ls=":", lw=1.2)
        ax.axhline(grs, color="#c44e52", ls=":", lw=1.2, label="goals (2D, root + scale, aligned)")
        ax.axhline(gal, color="#c44e52", ls=":", lw=1.2)
        ax.set_title(f"{s.replace('_', ' ')} ({result['sets'][s]['photos']} photos)", fontsize=9)
        ax.set_xlabel("2D AUC 0-30 px of the 2D used", fontsize=8)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
    axes[0][0].set_ylabel("3D AUC 20-50 mm (filled: root + scale; hollow, dashed: aligned)", fontsize=8)
    handles = {}
    for ax in axes[0]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=3, fontsize=7,
               frameon=False, bbox_to_anchor=(0.5, -0.06))
    fig.suptitle("Where the 3D is lost: lifting 2D of known quality (noise in px of the 256 box "
                 "beside each point)", fontsize=9)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def show_peer_judge(frames_dir, res: dict, frames: int = 5, size: float = 2.3):
    """The peer judge's frames (:func:`handlib.gan_evaluation.peer_frames` in ``frames_dir``,
    scored in ``res`` by :func:`~handlib.gan_evaluation.peer_judge`): one row per arm, one
    column per frame (evenly spaced; each panel the labels' box, 1.6x their extent), the peer's 2D answer in the finger colours over the
    render's labels in :data:`REFERENCE_COLOR`; "no hand" where the peer found none.
    Returns the figure."""
    from pathlib import Path

    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from handlib import files, images, peer_reference
    frames_dir = Path(frames_dir)
    index = files.read_json(frames_dir / "frames.json", "the peer judge's frame index")
    recs = index["images"]
    pick = np.linspace(0, len(recs) - 1, min(frames, len(recs))).round().astype(int)
    arms = [(a, index["arms"][a]) for a in res["arm_order"]]
    fig, axes = plt.subplots(len(arms), len(pick), figsize=(size * len(pick), size * len(arms) + 0.4),
                             squeeze=False)
    for r, (arm, slug) in enumerate(arms):
        answers = peer_reference.read_folder_cache(frames_dir / slug / peer_reference.FOLDER_CACHE)
        for c, k in enumerate(pick):
            ax = axes[r, c]
            ax.axis("off")
            name = recs[k]["file"]
            ax.imshow(images.read_image(frames_dir / slug / name))
            uv = np.asarray(recs[k]["uv_px"], float)
            plot_reference_2d(ax, uv, linewidth=1.2)
            if name not in answers:
                raise files.DataFileError(frames_dir / slug / peer_reference.FOLDER_CACHE,
                                          f"the peer's answer for {name}", "none")
            if answers[name] is not None:
                plot_skeleton_2d(ax, answers[name], linewidth=1.6, markersize=2.0)
            else:
                ax.text(0.5, 0.06, "no hand", transform=ax.transAxes, ha="center", fontsize=9,
                        color="white", bbox={"facecolor": "black", "alpha": 0.6, "pad": 2})
            centre, half = (uv.min(0) + uv.max(0)) / 2, 0.8 * max(np.ptp(uv, axis=0).max(), 40.0)
            ax.set_xlim(centre[0] - half, centre[0] + half)      # the hand's box, 1.6x its extent
            ax.set_ylim(centre[1] + half, centre[1] - half)
            if c == 0:
                a = res["arms"].get(arm, {})
                rate = a.get("detection_rate")
                ax.set_title(f"{arm}" + ("" if rate is None else f": {100 * rate:.0f} % found"),
                             fontsize=9, loc="left")
    handles = [Line2D([], [], color=hm.FINGER_COLORS["index"], lw=1.6, label="MediaPipe's answer"),
               Line2D([], [], color=REFERENCE_COLOR, lw=1.2, label="the render's labels")]
    fig.legend(handles=handles, loc="lower center", ncol=2, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig
