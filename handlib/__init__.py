"""handlib: the tested library behind the GANerated Hands course.

Modules, each named for what it holds:

* :mod:`handlib.hand_model`   - 21 joints, skeleton, 26-DoF forward kinematics, limits, mirror
* :mod:`handlib.camera`       - pinhole intrinsics, projection (NumPy and TF), affine crops
* :mod:`handlib.crop_camera`  - the crop camera: one crop rule, perspective crops, the flip
* :mod:`handlib.hand_mesh`    - the rigged hand mesh and its skinning
* :mod:`handlib.renderer`     - z-buffer rasteriser and shading
* :mod:`handlib.synthetic`    - the rendered data set engine (poses, looks, backgrounds)
* :mod:`handlib.samples`      - HandSample, one labelled hand image
* :mod:`handlib.ganerated`    - the GANerated layout: reader and writer
* :mod:`handlib.synthhands`   - the SynthHands layout: reader
* :mod:`handlib.realhands`    - the RealHands layout: reader
* :mod:`handlib.real_photos`  - folders of real hand photos: keyed silhouettes, quality gate, blocks
* :mod:`handlib.datasets`     - open any supported folder (layout detection)
* :mod:`handlib.splits`       - splits by sequence
* :mod:`handlib.images`       - image files: checked reading, atomic writing, masks
* :mod:`handlib.pipeline`     - the tf.data input pipeline and augmentation
* :mod:`handlib.heatmaps`     - Gaussian joint heatmaps and their maxima
* :mod:`handlib.visualisation`- plotting helpers used by the notebooks
* :mod:`handlib.backend`      - NumPy/TensorFlow backends for shared geometry; quiet TF import
* :mod:`handlib.files`        - data locations, atomic writes, checked loading
* :mod:`handlib.course`       - the notebooks' Setup helpers (quick mode, seeds, versions)
"""
__version__ = "0.1.0"
