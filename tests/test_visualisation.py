"""The pose explorer's sliders mean what their labels say."""
import matplotlib
import numpy as np
import pytest

from handlib import explorers
from handlib import hand_model as hm
from handlib import visualisation as vis

matplotlib.use("Agg")


@pytest.mark.parametrize("axis", ["x", "y", "z"])
def test_a_view_slider_turns_the_hand_about_its_camera_axis(axis):
    base = hm.default_view_pose("open")
    turned = explorers.explorer_pose(base, {f"view_{axis}": 51.0})
    a, b = hm.forward_kinematics(base), hm.forward_kinematics(turned)
    np.testing.assert_allclose(b[9], a[9], atol=1e-9)               # about M0
    # the rotation that takes the old hand to the new one, by least squares (Kabsch)
    u, _, vt = np.linalg.svd((b - b[9]).T @ (a - a[9]))
    R = u @ vt
    angle = np.rad2deg(np.arccos(np.clip((np.trace(R) - 1) / 2, -1, 1)))
    w = np.array([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]])
    assert angle == pytest.approx(51.0, abs=1e-6)
    np.testing.assert_allclose(w / np.linalg.norm(w), np.eye(3)["xyz".index(axis)], atol=1e-9)


def test_finger_and_distance_sliders_set_their_parameter():
    base = hm.default_view_pose("open")
    p = explorers.explorer_pose(base, {"index_mid_flex": 40.0, "trans_z": 600.0})
    assert p[hm.dof_index("index_mid_flex")] == pytest.approx(np.deg2rad(40.0))
    assert p[hm.dof_index("trans_z")] == pytest.approx(600.0)


def test_the_explorer_widget_builds():
    widget = explorers.pose_explorer()
    sliders = widget.children[0].children
    assert [s.description for s in sliders][-3:] == ["view_x", "view_y", "trans_z"]
    sliders[-2].value = 30.0                                         # redraws without error


def test_training_log_plots_one_point_per_epoch_after_a_resume(tmp_path):
    """A run killed after writing epoch 1's row but before its backup repeats epoch 1 on
    resume: the plot keeps the last row of each epoch, at its epoch number."""
    log = tmp_path / "log.csv"
    log.write_text("epoch,loss,val\n0,4.0,NA\n1,3.0,NA\n1,2.5,NA\n2,2.0,1.0\n")
    ax = vis.plot_training_log(log, ["loss", "val"])
    loss, val = ax.get_lines()
    np.testing.assert_array_equal(loss.get_xdata(), [0, 1, 2])
    np.testing.assert_array_equal(loss.get_ydata(), [4.0, 2.5, 2.0])
    np.testing.assert_array_equal(val.get_xdata(), [2])
    matplotlib.pyplot.close("all")


def test_gan_log_panels_and_probability_rows():
    log = {k: [1.0, 0.5] for k in ("generator", "adversarial", "cycle", "identity", "geometric",
                                  "d_real", "d_synth")}
    fig = vis.plot_gan_log(log)
    assert [len(ax.get_lines()) for ax in fig.axes] == [1, 4, 2]
    probs = np.linspace(0, 1, 2 * 4 * 4).reshape(2, 4, 4)
    fig = vis.show_image_rows({"p": probs})
    im = fig.axes[0].get_images()[0]
    assert im.get_clim() == (0.0, 1.0) and im.get_cmap().name == "gray"
    matplotlib.pyplot.close("all")


def test_training_logs_have_whole_epoch_ticks_and_y_labels(tmp_path):
    """Epochs are whole numbers: a short log (3 epochs, where matplotlib would put ticks
    at 0.25 steps) gets integer ticks only; every panel names what its y axis shows."""
    log = tmp_path / "log.csv"
    log.write_text("epoch,loss\n0,3.0\n1,2.0\n2,1.5\n")
    ax = vis.plot_training_log(log, ["loss"])
    ax.figure.canvas.draw()
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks)
    assert ax.get_ylabel() == "loss"
    log = {k: [1.0, 0.5, 0.4] for k in ("generator", "adversarial", "cycle", "identity", "geometric",
                                       "d_real", "d_synth")}
    fig = vis.plot_gan_log(log, xlabel="step")
    fig.canvas.draw()
    for ax in fig.axes:
        assert ax.get_ylabel() and ax.get_xlabel() == "step"
        assert all(float(t).is_integer() for t in ax.get_xticks())
    matplotlib.pyplot.close("all")


def test_the_heatmap_explorer_gives_its_descriptions_room():
    """ipywidgets cuts a description longer than its default width ("heatmap …"): the
    explorer's sliders share one width that holds the longest, "heatmap size"."""
    widget = explorers.heatmap_explorer()
    sliders = widget.children[0].children
    assert [s.description for s in sliders] == ["sigma (px)", "heatmap size", "u (input px)",
                                                "v (input px)", "noise"]
    widths = {s.style.description_width for s in sliders}
    assert widths == {"95px"}          # about 7 px a character at the default 13 px font
    matplotlib.pyplot.close("all")
