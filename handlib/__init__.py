"""handlib: the tested library behind the GANerated Hands course.

Modules, each named for what it holds:

* :mod:`handlib.hand_model`   - 21 joints, skeleton, 26-DoF forward kinematics, limits
* :mod:`handlib.camera`       - pinhole intrinsics, projection, crops
* :mod:`handlib.hand_mesh`    - the rigged hand mesh and its skinning
* :mod:`handlib.renderer`     - z-buffer rasteriser and shading
* :mod:`handlib.synthetic`    - the rendered data set engine (poses, looks, backgrounds)
* :mod:`handlib.datasets`     - readers/writer for GANerated, SynthHands, RealHands layouts
* :mod:`handlib.pipeline`     - the tf.data input pipeline and augmentation
* :mod:`handlib.heatmaps`     - Gaussian joint heatmaps and their maxima
* :mod:`handlib.visualisation`- plotting helpers used by the notebooks
* :mod:`handlib.files`        - data locations, atomic writes, checked loading
* :mod:`handlib.course`       - the notebooks' Setup helpers (quick mode, seeds, versions)
"""
__version__ = "0.1.0"
