"""Command line: ``python -m handlib COMMAND``.

Commands
--------
``make-dataset``  render a labelled data set in the GANerated layout::

    python -m handlib make-dataset --out datasets/synth --frames 2000 --look synth --seed 0

Rerunning the same command resumes where it stopped: frame ``i`` is always rendered from
seed ``(seed, i)``, each file is written atomically, and a frame whose ``scene.json``
(written last) exists is skipped.

``key-photos``  silhouettes for a folder of real hand photos (keyed against a plain
background, or from a RealHands mask folder), with the quality gate's report::

    python -m handlib key-photos ../shared/realdata/sign_language_digits/Dataset

Masks are cached (``--cache``, default under ``build/real_masks/``); rerunning reuses them.

``train-silnet``, ``train-gan``  the GeoConGAN's silhouette network and the GAN itself
(resumable; see ``handlib.silnet`` and ``handlib.gan``)::

    python -m handlib train-gan --synth build/gan/synth-train --out build/runs/gan --geo-weight 5

``compare-gan``  does the geometric loss keep the hand's shape? (figures and a grid
written to ``data/results/``, ``handlib.gan_evaluation``)

``ganerate``  translate a rendered set into a GANerated set with unchanged labels::

    python -m handlib ganerate --src build/datasets/synth --out build/datasets/ganerated

``train-regnet``  train the pose network on any folders the readers open (resumable; see
``handlib.pose_training``)::

    python -m handlib train-regnet --data build/datasets/synth build/datasets/ganerated \
        --out build/runs/regnet --steps 2000

``predict``  21 joints (2D pixels, 3D millimetres) of the hand in each photo::

    python -m handlib predict photo.jpg --side left --out build/predictions

``evaluate-real``  RegNets on the frozen real photos and the real video, against a peer's
joints (MediaPipe, cached once by ``tools/mediapipe_reference.py``; agreement, not ground
truth)::

    python -m handlib evaluate-real --weights data/weights/regnet.keras --names shipped

``train-lifter``, ``lift-diagnostic``  where is the 3D lost on real photos? A 2D-to-3D lifter
trained on rendered labels, fed the peer's 2D and RegNet's 2D (``handlib.lifting``)::

    python -m handlib train-lifter --data build/regnet/data/synth-heldup --out build/runs/lifter
    python -m handlib lift-diagnostic --lifter build/runs/lifter/lifter.keras

``make-video``  the demo video: a rendered hand moving smoothly, with its ground truth::

    python -m handlib make-video --out build/demo/hand_demo --frames 150

``track``  a hand through a video: annotated video, per-frame joints, a summary::

    python -m handlib track my_video.mp4 --out build/track --side right

A user's mistake (a bad option, an output path that is a file, a missing background
folder) is reported in one line on stderr with exit status 2, never as a traceback.
"""
from __future__ import annotations

import argparse
import json
import math
import sys

MIN_SIZE, MAX_SIZE = 32, 2048
LOSS_TERMS = ("heatmaps", "xyz", "xyz_intermediate", "projection")
"""RegNet's loss terms (:data:`handlib.pose_network.LOSS_WEIGHTS`; named here so that
parsing the command line does not import TensorFlow)."""
MAX_HAND_SIZE_MM = 1000.0


def _int_in(lo: int, hi: int | None, what: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a whole number, got {text!r}") from None
        if value < lo or (hi is not None and value > hi):
            rng = f"at least {lo}" if hi is None else f"between {lo} and {hi}"
            raise argparse.ArgumentTypeError(f"{what} must be {rng}, got {value}")
        return value
    return parse


def _float_in(lo: float | None, hi: float | None, what: str, lo_open: bool = False,
              hi_open: bool = False):
    """An argparse type: a finite number in the range from ``lo`` to ``hi`` (None: no
    bound; ``lo_open``/``hi_open``: the bound itself excluded)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{what} must be a finite number, got {text!r}")
        low = lo is not None and (value <= lo if lo_open else value < lo)
        high = hi is not None and (value >= hi if hi_open else value > hi)
        if low or high:
            if lo is not None and hi is not None and not lo_open and not hi_open:
                rng = f"between {lo:g} and {hi:g}"
            else:
                rng = " and ".join(
                    ([f"greater than {lo:g}" if lo_open else f"at least {lo:g}"] if lo is not None else [])
                    + ([f"less than {hi:g}" if hi_open else f"at most {hi:g}"] if hi is not None else []))
            raise argparse.ArgumentTypeError(f"{what} must be {rng}, got {text}")
        return value
    return parse


def _intrinsics(text: str) -> list[float]:
    """An argparse type: ``fx,fy,cx,cy`` in pixels, finite, ``fx, fy > 0``, ``cx, cy >= 0``
    (the principal point is checked against the image's size once the video is open)."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"--intrinsics must be fx,fy,cx,cy in pixels (four numbers), "
                                         f"got {text!r}")
    if not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"--intrinsics must be finite numbers, got {text!r}")
    if not (values[0] > 0 and values[1] > 0):
        raise argparse.ArgumentTypeError(f"--intrinsics needs focal lengths fx, fy above 0, got {text!r}")
    if not (values[2] >= 0 and values[3] >= 0):
        raise argparse.ArgumentTypeError(f"--intrinsics needs a principal point cx, cy inside the image "
                                         f"(0 or more), got {text!r}")
    return values


def _loss_weight(text: str) -> tuple[str, float]:
    """An argparse type: ``TERM=WEIGHT`` for one of RegNet's loss terms."""
    name, sep, value = text.partition("=")
    if not sep or name not in LOSS_TERMS:
        raise argparse.ArgumentTypeError(f"--loss-weights takes TERM=WEIGHT with TERM one of "
                                         f"{', '.join(LOSS_TERMS)}, got {text!r}")
    return name, _float_in(0, None, f"--loss-weights {name}")(value)


def _loss_weights(parser, pairs) -> dict | None:
    """The weights given by ``--loss-weights`` pairs (terms not named keep their defaults,
    :data:`handlib.pose_network.LOSS_WEIGHTS`), or None when none were given; refuses a
    term named twice and all four at zero."""
    if pairs is None:
        return None
    names = [n for n, _ in pairs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        parser.error(f"--loss-weights names {', '.join(repeated)} more than once")
    weights = dict(pairs)
    if set(weights) == set(LOSS_TERMS) and not any(weights.values()):
        parser.error("--loss-weights must leave at least one term with a positive weight, got all zero")
    return weights


def _run(job, show, resume: str = "") -> int:
    """Run a command's ``job``, print its result with ``show``, and return the exit status:
    0, or after a one-line message 130 when interrupted (``resume`` says how to go on) and
    2 for a user's mistake (a missing or malformed input: ValueError, OSError)."""
    try:
        result = job()
    except KeyboardInterrupt:
        print(f"interrupted: rerun the same command to resume{resume}", file=sys.stderr)
        return 130
    except (ValueError, OSError) as exc:        # DataFileError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    show(result)
    return 0


def _summary(out):
    """How a command that writes a data set reports it."""
    return lambda s: print(f"{out}: {s['written']} frames written, {s['skipped']} already there, "
                           f"{s['total']} in all")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m handlib", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("make-dataset", help="render a labelled data set (GANerated layout)")
    p.add_argument("--out", required=True, help="output folder (created; resumed if it exists)")
    p.add_argument("--frames", type=_int_in(1, None, "--frames"), required=True,
                   help="number of frames (at least 1)")
    p.add_argument("--look", default="synth", choices=["synth", "real-like"])
    p.add_argument("--seed", type=_int_in(0, 2**32 - 1, "--seed"), default=0)
    p.add_argument("--background", default=None,
                   help="white, green, clutter, photos (the shipped photo crops), or a folder "
                        "of images (default: white for synth, photos for real-like)")
    p.add_argument("--size", type=_int_in(MIN_SIZE, MAX_SIZE, "--size"), default=256,
                   help=f"crop size in pixels ({MIN_SIZE}-{MAX_SIZE}, default 256)")
    p.add_argument("--workers", type=_int_in(1, 64, "--workers"), default=1,
                   help="processes (default 1)")
    p.add_argument("--held-up", type=_float_in(0.0, 1.0, "--held-up"), default=0.0,
                   help="share of hands held up to the camera (fingers up, palm or back towards it) "
                        "instead of uniform views (0-1, default 0)")
    p.add_argument("--palm-share", type=_float_in(0.0, 1.0, "--palm-share"), default=0.5,
                   help="share of the held-up hands with the palm towards the camera, the others "
                        "show the back (default 0.5; photos: 0.9)")
    p.add_argument("--lean", type=float, nargs=2, default=(-30.0, 30.0), metavar=("LOW", "HIGH"),
                   help="range of the held-up hands' lean in degrees, positive tipping the fingers "
                        "towards the camera (default -30 30; photos: -20 40)")
    k = sub.add_parser("key-photos", help="silhouettes and a quality report for real hand photos")
    k.add_argument("folder", help="a folder of photos (one hand each) or a RealHands folder")
    k.add_argument("--cache", default=None, help="where the masks go (default: build/real_masks/...)")
    t = sub.add_parser("train-silnet", help="train SilNet, the GeoConGAN's silhouette network")
    t.add_argument("--synth", required=True, help="a rendered set (make-dataset --look synth)")
    t.add_argument("--synth-test", default=None, help="a separately seeded rendered set for IoU")
    t.add_argument("--real", default=None, help="real photos (default: Sign Language Digits "
                                                "under HANDLIB_REALDATA_DIR, else a rendered stand-in)")
    t.add_argument("--out", required=True, help="run folder (backups, log.csv); resumed if it exists")
    t.add_argument("--save", default=None, help="model file (default RUN_DIR/silnet.keras)")
    t.add_argument("--size", type=_int_in(32, 512, "--size"), default=128)
    t.add_argument("--epochs", type=_int_in(1, None, "--epochs"), default=20)
    t.add_argument("--steps", type=_int_in(1, None, "--steps"), default=20, help="steps per epoch")
    t.add_argument("--limit", type=_int_in(1, None, "--limit"), default=None,
                   help="use at most this many images per domain")
    g = sub.add_parser("train-gan", help="train the GeoConGAN (CycleGAN + geometric loss)")
    g.add_argument("--synth", required=True, help="a rendered set (make-dataset --look synth)")
    g.add_argument("--real", default=None, help="real photos (default: Sign Language Digits "
                                                "under HANDLIB_REALDATA_DIR, else a rendered stand-in)")
    g.add_argument("--out", required=True, help="run folder; rerunning the same command resumes it")
    g.add_argument("--geo-weight", type=_float_in(0, None, "--geo-weight"), default=5.0,
                   help="weight of the geometric loss (0: a plain CycleGAN; default 5)")
    g.add_argument("--size", type=_int_in(32, 512, "--size"), default=128, help="image size (default 128)")
    g.add_argument("--steps", type=_int_in(1, None, "--steps"), default=4000, help="training steps")
    g.add_argument("--steps-per-epoch", type=_int_in(1, None, "--steps-per-epoch"), default=25,
                   help="steps between backups (default 25)")
    g.add_argument("--batch", type=_int_in(1, 64, "--batch"), default=1)
    g.add_argument("--filters", type=_int_in(4, 256, "--filters"), default=32,
                   help="generator base width (default 32)")
    g.add_argument("--blocks", type=_int_in(1, 16, "--blocks"), default=None,
                   help="residual blocks (default 6 at 128 px and above, 3 below)")
    g.add_argument("--silnet", default=None, help="SilNet weights (default data/weights/silnet.keras)")
    g.add_argument("--sample-every", type=_int_in(1, None, "--sample-every"), default=250)
    g.add_argument("--limit", type=_int_in(1, None, "--limit"), default=None,
                   help="use at most this many images per domain")
    g.add_argument("--save", default=None, help="also save the synth->real generator here")
    g.add_argument("--real-letters", action="store_true",
                   help="widen the real domain with the ASL letters' train/ photos (hands in "
                        "rooms; no silhouette, so the geometric loss skips them)")
    c = sub.add_parser("compare-gan", help="does the geometric loss keep the hand's shape? "
                                           "(figures and grid to data/results/)")
    c.add_argument("--plain", required=True, help="train-gan run folder with --geo-weight 0")
    c.add_argument("--geo", required=True, help="train-gan run folder with the geometric loss")
    c.add_argument("--test", required=True, help="a held-out rendered set (make-dataset --seed 1)")
    c.add_argument("--out", default="data/results/geometric_loss",
                   help="output stem: STEM.json and STEM.png (default data/results/geometric_loss)")
    c.add_argument("--limit", type=_int_in(1, None, "--limit"), default=None)
    r = sub.add_parser("ganerate", help="translate a rendered set into a GANerated set")
    r.add_argument("--src", required=True, help="a rendered set (make-dataset --look synth)")
    r.add_argument("--out", required=True, help="output folder (resumed if it exists)")
    r.add_argument("--weights", default=None,
                   help="synth->real generator (default data/weights/geocongan_synth_to_real.keras)")
    r.add_argument("--background", default="photos", choices=["photos", "clutter", "white"])
    r.add_argument("--seed", type=_int_in(0, 2**32 - 1, "--seed"), default=0)
    r.add_argument("--limit", type=_int_in(1, None, "--limit"), default=None,
                   help="translate only the first frames")
    n = sub.add_parser("train-regnet", help="train RegNet, the pose network (resumable)")
    n.add_argument("--data", nargs="+", required=True,
                   help="data folders (rendered, GANerated, SynthHands layouts)")
    n.add_argument("--mix", nargs="+", type=_float_in(0, None, "--mix"), default=None,
                   help="one sampling weight (0 or more) per --data folder (default: equal)")
    n.add_argument("--out", required=True, help="run folder; rerunning the same command resumes it")
    n.add_argument("--trunk", default="compact", choices=["compact", "resnet50"])
    n.add_argument("--input-size", type=_int_in(32, 512, "--input-size"), default=128,
                   help="crop size in pixels, a multiple of 16 (heatmaps are a quarter of it)")
    n.add_argument("--steps", type=_int_in(1, None, "--steps"), default=2000)
    n.add_argument("--steps-per-epoch", type=_int_in(1, None, "--steps-per-epoch"), default=50)
    n.add_argument("--batch", type=_int_in(1, 1024, "--batch"), default=16,
                   help="batch per replica")
    n.add_argument("--lr", type=_float_in(0, 1, "--lr", lo_open=True), default=1e-3,
                   help="peak learning rate (cosine decay; above 0, at most 1)")
    n.add_argument("--strategy", default="default", choices=["default", "mirrored", "multiworker"])
    n.add_argument("--mixed-precision", action="store_true",
                   help="float16 compute (for GPUs; off by default)")
    n.add_argument("--seed", type=_int_in(0, 2**31 - 1, "--seed"), default=0)
    n.add_argument("--limit", type=_int_in(1, None, "--limit"), default=None,
                   help="use only the first frames of each folder")
    n.add_argument("--no-imagenet", action="store_true",
                   help="start the compact trunk from random weights (for an ablation)")
    n.add_argument("--save", default=None, help="also copy the trained model here (.keras)")
    n.add_argument("--loss-weights", nargs="+", type=_loss_weight, default=None, metavar="TERM=WEIGHT",
                   help="weights (0 or more) of RegNet's loss terms: heatmaps (2D heatmaps), xyz "
                        "(final 3D), xyz_intermediate (intermediate 3D), projection (ProjLayer's 2D); "
                        "terms not named keep weight 1, e.g. --loss-weights projection=0.5 xyz=2")
    n.add_argument("--crop-range", nargs=2, type=float, default=None, metavar=("LO", "HI"),
                   help="training crops' box side, log-uniform between LO and HI times the joints' "
                        "extent (1-4; default: 1.7 times, jittered by 15 %%), e.g. 1.2 2.2")
    n.add_argument("--shift-jitter", type=_float_in(0, 0.5, "--shift-jitter"), default=None,
                   help="box centre moved by up to this fraction of its side (default 0.08)")
    n.add_argument("--appearance", type=_float_in(0, 1, "--appearance"), default=None,
                   help="strength 0-1 of the camera and lighting augmentation (white balance, "
                        "exposure, light from one side, blur, noise, JPEG; default off)")
    n.add_argument("--domain-adversarial", type=_float_in(0, 10, "--domain-adversarial"), default=0.0,
                   metavar="WEIGHT", help="beyond the paper: push the trunk's features to look alike "
                   "on renders and on unlabelled real photos (a critic with a reversed gradient of "
                   "this weight; needs the real photos, HANDLIB_REALDATA_DIR; default 0: off)")
    n.add_argument("--domain-framing", choices=["inside", "padded"], default=None,
                   help="with --domain-adversarial: the photos' crops kept inside the photo "
                        "(default) or padded with black where they leave it")
    q = sub.add_parser("predict", help="21 joints (2D pixels, 3D mm) of the hand in each image")
    q.add_argument("images", nargs="+", help="image files (one hand each, roughly centred)")
    q.add_argument("--weights", default=None, help="a RegNet .keras file (default data/weights/regnet.keras)")
    q.add_argument("--side", required=True, choices=["left", "right", "auto"],
                   help="the hand's side (required: auto, which tries both and keeps the more "
                        "confident answer, is right too rarely to be the default; see the README)")
    q.add_argument("--fov", type=_float_in(1, 170, "--fov"), default=60.0,
                   help="horizontal field of view of the camera in degrees (1-170, default 60)")
    q.add_argument("--hand-size", type=_float_in(1, MAX_HAND_SIZE_MM, "--hand-size"), default=91.7,
                   help="wrist to middle-finger knuckle in mm (scales the 3D joints; default 91.7)")
    q.add_argument("--lift", action="store_true", help="also xyz_lifted_mm: the 3D lifted from RegNet's 2D "
                   "by the lifter, which agrees better with a real-trained peer on photos")
    q.add_argument("--lifter", default="lifter", help="the lifter for --lift (default the shipped "
                   "data/weights/lifter.keras)")
    q.add_argument("--fit", action="store_true", help="also the course's hand model fitted to the "
                   "prediction (uv_fitted_px, xyz_fitted_mm: closer to real hands' 3D; see the README)")
    q.add_argument("--out", default=None, help="folder for NAME.joints.json and NAME.skeleton.png "
                   "(images with the same NAME: NAME-2, NAME-3, ... in the order given)")
    e = sub.add_parser("evaluate-regnet", help="RegNet's 2D/3D metrics on held-out sets, "
                       "beside the mean-pose baseline")
    e.add_argument("--weights", default="data/weights/regnet.keras")
    e.add_argument("--test", nargs="+", required=True, help="held-out labelled folders")
    e.add_argument("--out", default="data/results/regnet_evaluation",
                   help="results file (OUT.json)")
    e.add_argument("--limit", type=_int_in(1, None, "--limit"), default=None)
    e.add_argument("--crop-range", nargs=2, type=float, default=None, metavar=("LO", "HI"),
                   help="cut the test crops with a box side log-uniform between LO and HI times the "
                        "joints' extent (seeded, the same for every model; default: the course's "
                        "fixed 1.7 times), as train-regnet --crop-range trains")
    e.add_argument("--shift-jitter", type=_float_in(0, 0.5, "--shift-jitter"), default=None,
                   help="with --crop-range: box centre moved by up to this fraction of its side "
                        "(default 0.08, as in training)")
    rr = sub.add_parser("evaluate-real", help="RegNets on real photos and a real video, scored "
                        "against a peer (MediaPipe), beside baselines (agreement, not ground truth)")
    rr.add_argument("--weights", nargs="+", default=["data/weights/regnet.keras"],
                    help="one or more RegNet .keras files (default: the shipped model)")
    rr.add_argument("--names", nargs="+", default=None, help="a label per model (default: file names)")
    rr.add_argument("--out", default="data/results/real_evaluation", help="results file (OUT.json); "
                    "rows of other models already there are kept")
    rr.add_argument("--cache", default=None, help="the peer reference (default build/peer/mediapipe-0.10.21, "
                    "made by tools/mediapipe_reference.py)")
    rr.add_argument("--seed", type=_int_in(0, 2**31 - 1, "--seed"), default=0, help="the crops' offsets")
    rr.add_argument("--limit", type=_int_in(1, None, "--limit"), default=None,
                    help="score only the first photos of each set (and frames of the video)")
    rr.add_argument("--no-video", action="store_true", help="photos only")
    rr.add_argument("--fit", action="store_true", help="also a row 'NAME + fit' per model: its "
                    "predictions through the course's one-image kinematic fit (photos only)")
    rr.add_argument("--lift", default=None, metavar="LIFTER",
                    help="also a row 'NAME + lift' per model: its 2D, with the 3D lifted from that 2D by "
                         "this lifter (data/weights/lifter.keras ships one; photos only)")
    rr.add_argument("--replace", action="store_true",
                    help="drop rows of other models in --out that were measured otherwise")
    lt = sub.add_parser("train-lifter", help="train the 2D-to-3D lifter on rendered labels "
                        "(resumable; the lifting diagnostic's network, beyond the paper)")
    lt.add_argument("--data", nargs="+", required=True, help="labelled folders (make-dataset); only "
                    "their joints are read")
    lt.add_argument("--out", required=True, help="run folder (lifter.keras and its record go there)")
    lt.add_argument("--test", default=None, help="a labelled folder to measure the lifter on")
    lt.add_argument("--epochs", type=_int_in(1, None, "--epochs"), default=8)
    lt.add_argument("--copies", type=_int_in(1, None, "--copies"), default=4,
                    help="turned, noisy copies per frame")
    lt.add_argument("--noise", type=_float_in(0, 0.5, "--noise"), default=0.1,
                    help="2D noise: standard deviation drawn up to this fraction of the box's side "
                         "(default 0.1, the scale of RegNet's 2D error on photos)")
    lt.add_argument("--seed", type=_int_in(0, 2**31 - 1, "--seed"), default=0)
    lt.add_argument("--limit", type=_int_in(1, None, "--limit"), default=None,
                    help="read only the first frames of each folder")
    lt.add_argument("--save", default=None, help="where the lifter goes (default OUT/lifter.keras; "
                    "data/weights/lifter.keras ships it)")
    ld = sub.add_parser("lift-diagnostic", help="where is the 3D lost on real photos? The lifter "
                        "fed RegNet's 2D and the peer's 2D (with noise), on the real-hand yardstick")
    ld.add_argument("--lifter", required=True, help="a lifter (train-lifter's lifter.keras)")
    ld.add_argument("--weights", default="data/weights/regnet.keras", help="the RegNet whose 2D is lifted")
    ld.add_argument("--out", default="data/results/lifting_diagnostic", help="OUT.json and OUT.png")
    ld.add_argument("--cache", default=None, help="the peer reference (default build/peer/mediapipe-0.10.21)")
    ld.add_argument("--limit", type=_int_in(1, None, "--limit"), default=None,
                    help="score only the first photos of each set")
    x = sub.add_parser("real-hand-arms", help="the real-hand experiments: RegNet arms of a plan, "
                       "one change each, trained alike and measured on renders and real hands")
    x.add_argument("--plan", default="data/experiments/real_hands.json", help="the plan (JSON)")
    x.add_argument("--runs", default="build/runs/real-hands", help="where the arms' run folders go")
    x.add_argument("--out", default="data/results/real_hand_arms", help="results file (OUT.json)")
    x.add_argument("--only", nargs="+", default=None, metavar="ARM", help="run only these arms")
    x.add_argument("--limit", type=_int_in(1, None, "--limit"), default=None,
                   help="use only the first frames of each folder (a quick check)")
    a = sub.add_parser("compare-regnet", help="the ablation: RegNet trained on synth alone vs "
                       "synth + GANerated (figures to data/results/)")
    a.add_argument("--synth", required=True, help="a rendered set (synth look)")
    a.add_argument("--ganerated", required=True, help="a GANerated set")
    a.add_argument("--test", required=True, help="a held-out rendered set (real-like look)")
    a.add_argument("--runs", default="build/runs", help="where the two run folders go")
    a.add_argument("--out", default="data/results/regnet_ablation", help="OUT.json and OUT.png")
    a.add_argument("--steps", type=_int_in(1, None, "--steps"), default=1200)
    a.add_argument("--batch", type=_int_in(1, 1024, "--batch"), default=32)
    a.add_argument("--input-size", type=_int_in(32, 512, "--input-size"), default=128)
    a.add_argument("--steps-per-epoch", type=_int_in(1, None, "--steps-per-epoch"), default=50)
    a.add_argument("--loss-weights", nargs="+", type=_loss_weight, default=None, metavar="TERM=WEIGHT",
                   help="RegNet's loss weights for both arms (as for train-regnet)")
    v = sub.add_parser("make-video", help="render the demo video (a smooth hand motion) with its ground truth")
    v.add_argument("--out", default="build/demo/hand_demo", help="OUT.mp4 and OUT.npz (ground truth)")
    v.add_argument("--frames", type=_int_in(3, 100000, "--frames"), default=150)
    v.add_argument("--seed", type=_int_in(0, 2**31 - 1, "--seed"), default=7)
    v.add_argument("--side", default="right", choices=["left", "right"])
    k = sub.add_parser("track", help="track a hand through a video: annotated video, per-frame "
                       "2D/3D joints and pose, a summary")
    k.add_argument("video", nargs="?", default=None, help="a video file (mp4, avi, mov)")
    k.add_argument("--out", required=True, help="output folder (annotated.mp4, joints.csv/.npz, summary.json)")
    k.add_argument("--weights", default=None, help="a RegNet .keras file (default data/weights/regnet.keras)")
    k.add_argument("--side", default="auto", choices=["left", "right", "auto"],
                   help="the hand's side (auto: decided at the first frame, kept while tracked)")
    k.add_argument("--intrinsics", type=_intrinsics, default=None,
                   help="fx,fy,cx,cy of the camera in pixels (the principal point inside the image)")
    k.add_argument("--fov", type=_float_in(1, 170, "--fov"), default=None,
                   help="horizontal field of view in degrees (1-170) when --intrinsics is not given "
                        "(default 60)")
    k.add_argument("--hand-size", type=_float_in(1, MAX_HAND_SIZE_MM, "--hand-size"), default=None,
                   help="wrist to middle-finger knuckle in mm, when known (default: calibrated on "
                        "the first frame, the hand about 45 cm from the camera)")
    k.add_argument("--start", type=_int_in(0, None, "--start"), default=0, help="first frame")
    k.add_argument("--frames", type=_int_in(1, None, "--frames"), default=None, help="how many frames")
    k.add_argument("--no-video", action="store_true", help="write the joint files only")
    k.add_argument("--camera", type=_int_in(0, 99, "--camera"), default=None,
                   help="track a live camera (OpenCV's index) instead of a file, until --frames frames or "
                        "Ctrl-C; the course's headless OpenCV shows no window: watch annotated.mp4 afterwards")
    args = parser.parse_args(argv)
    command = "python -m handlib " + " ".join(argv or sys.argv[1:])
    if args.command == "compare-gan":
        from handlib.gan_evaluation import compare_runs, format_table
        return _run(lambda: compare_runs(args.plain, args.geo, args.test, args.out,
                                         limit=args.limit, command=command),
                    lambda res: print(format_table(res)))
    if args.command == "ganerate":
        from handlib.ganerate import ganerate_dataset
        return _run(lambda: ganerate_dataset(args.src, args.out, args.weights, args.background,
                                             args.seed, args.limit),
                    _summary(args.out), f" {args.out}")
    if args.command in ("train-gan", "train-silnet") and args.size % 8:
        parser.error(f"--size must be a multiple of 8, got {args.size}")
    if args.command == "compare-regnet":
        if args.input_size % 16 or args.steps % args.steps_per_epoch:
            parser.error("--input-size must be a multiple of 16 and --steps a multiple of --steps-per-epoch")
        from handlib import pose_training
        loss_weights = _loss_weights(parser, args.loss_weights)
        return _run(lambda: pose_training.ablation_run(
            args.synth, args.ganerated, args.test, args.runs, args.out, args.steps, args.batch,
            args.input_size, args.steps_per_epoch, command=command, loss_weights=loss_weights),
            lambda r: print(pose_training.format_ablation(r)), " (each arm resumes its run folder)")
    if args.command == "real-hand-arms":
        from handlib import real_hand_experiments as rhe
        return _run(lambda: rhe.run_plan(args.plan, args.runs, args.out, args.only, args.limit, command),
                    lambda r: print(rhe.format_arms(r)), " (each arm resumes its run folder)")
    if args.command == "evaluate-regnet":
        from handlib import pose_evaluation, pose_training
        if args.shift_jitter is not None and args.crop_range is None:
            parser.error("--shift-jitter moves the boxes of --crop-range: give --crop-range too")
        framing = None
        if args.crop_range is not None:
            try:
                framing = pose_training.check_augment(
                    {"crop_range": args.crop_range} | ({} if args.shift_jitter is None
                                                       else {"shift_jitter": args.shift_jitter}))
            except ValueError as e:
                parser.error(str(e).replace("crop_range", "--crop-range"))
        return _run(lambda: pose_evaluation.evaluate_run(args.weights, args.test, args.out,
                                                       args.limit, command, framing=framing),
                    lambda r: print(pose_evaluation.format_results(r)))
    if args.command == "evaluate-real":
        if args.names is not None and len(args.names) != len(args.weights):
            parser.error(f"--names needs one label per --weights file ({len(args.weights)}), got {len(args.names)}")
        from handlib import real_evaluation

        def job():
            lifter = None
            if args.lift is not None:
                from handlib import lifting
                lifter = lifting.Lifter(args.lift)
            return real_evaluation.evaluate_real(
                args.weights, args.names, args.out, args.cache, seed=args.seed, limit=args.limit,
                video=not args.no_video, command=command, replace=args.replace, fit=args.fit, lift=lifter)
        return _run(job,
            lambda r: print(real_evaluation.format_table(r)))
    if args.command == "train-lifter":
        from handlib import lifting
        return _run(lambda: lifting.train_run(args.data, args.out, test=args.test, epochs=args.epochs,
                                              copies=args.copies, noise=args.noise, seed=args.seed,
                                              limit=args.limit, save=args.save, command=command),
                    lambda r: print(f"{args.save or args.out + '/lifter.keras'}: {r['data']['pairs']} pairs, "
                                    f"{r['wall_time_s']:.0f} s; test {r['test']}"),
                    resume=" from the last finished epoch")
    if args.command == "lift-diagnostic":
        from handlib import lifting
        return _run(lambda: lifting.diagnostic(args.lifter, args.weights, args.out, args.cache,
                                               limit=args.limit, command=command),
                    lambda r: print(lifting.format_table(r)))
    if args.command == "make-video":
        from handlib import sequences
        return _run(lambda: sequences.make_demo_video(args.out, args.frames, args.seed, args.side),
                    lambda r: print(f"{r['video']} ({r['frames']} frames) and its ground truth {r['ground_truth']}"))
    if args.command == "track":
        if (args.video is None) == (args.camera is None):
            parser.error("give a video file or --camera INDEX (one of them)")
        intr = args.intrinsics
        if intr is not None and args.fov is not None:
            parser.error("give --intrinsics or --fov, not both")
        from handlib import tracker

        def show(s):
            print(f"{s['frames']} frames, {s['tracked']} tracked ({s['low_confidence']} with low confidence), "
                  f"{s['initialisations']} initialisations, {s['lost']} lost, {len(s['skipped_frames'])} unreadable; "
                  f"{s['processing_fps']:.1f} fps tracking, {s['wall_fps']:.1f} fps with reading and "
                  f"writing -> {args.out}")
        return _run(lambda: tracker.track_video(args.video if args.camera is None else args.camera,
                                                args.out, args.weights, args.side, intr, args.fov,
                                                args.start, args.frames, not args.no_video, args.hand_size),
                    show)
    if args.command == "predict":
        from handlib import prediction

        def show(results):
            for r in results:
                print(f"{r['image']}: {r['side']} hand, mean confidence "
                      f"{sum(r['confidence']) / 21:.2f}"
                      + (f" -> {r['outputs'][0]}, {r['outputs'][1]}" if "outputs" in r else ""))
                if "outputs" not in r:
                    print(json.dumps({k: r[k] for k in ("uv_px", "xyz_mm", "confidence", "xyz_lifted_mm")
                                      if k in r}))

        def job():
            lifter = None
            if args.lift:
                from handlib import lifting
                lifter = lifting.Lifter(args.lifter)
            return prediction.predict_files(args.images, args.side, args.weights, args.out,
                                            args.fov, args.hand_size, args.fit, lift=lifter)
        return _run(job, show)
    if args.command == "train-regnet":
        if args.input_size % 16:
            parser.error(f"--input-size must be a multiple of 16, got {args.input_size}")
        if args.steps % args.steps_per_epoch:
            parser.error(f"--steps ({args.steps}) must be a multiple of --steps-per-epoch "
                         f"({args.steps_per_epoch})")
        if args.mix is not None and len(args.mix) != len(args.data):
            parser.error(f"--mix needs one weight per --data folder ({len(args.data)}), "
                         f"got {len(args.mix)}")
        if args.mix is not None and not sum(args.mix) > 0:
            parser.error(f"--mix must give at least one folder a positive weight, got {args.mix}")
        if args.domain_framing is not None and not args.domain_adversarial > 0:
            parser.error("--domain-framing only applies with --domain-adversarial WEIGHT above 0")
        loss_weights = _loss_weights(parser, args.loss_weights)
        from handlib import pose_training
        augment = {k: v for k, v in (("crop_range", args.crop_range), ("shift_jitter", args.shift_jitter),
                                     ("appearance", args.appearance)) if v is not None}
        try:
            augment = pose_training.check_augment(augment)
        except ValueError as e:
            parser.error(str(e).replace("crop_range", "--crop-range"))
        return _run(lambda: pose_training.train_run(
            args.data, args.out, trunk=args.trunk, input_size=args.input_size, steps=args.steps,
            batch_size=args.batch, steps_per_epoch=args.steps_per_epoch, strategy=args.strategy,
            mixed_precision=args.mixed_precision, mix=args.mix, lr=args.lr, seed=args.seed,
            limit=args.limit, save=args.save, imagenet=not args.no_imagenet, command=command,
            loss_weights=loss_weights, augment=augment, domain_weight=args.domain_adversarial,
            domain_framing=args.domain_framing or "inside"),
            lambda r: print(json.dumps({"final_losses": r["final_losses"], "figures": r["figures"]},
                                       indent=1)), f" from {args.out}")
    if args.command == "train-gan":
        if args.steps % args.steps_per_epoch:
            parser.error(f"--steps ({args.steps}) must be a multiple of --steps-per-epoch "
                         f"({args.steps_per_epoch})")
        from handlib import gan
        return _run(lambda: gan.train_run(
            args.synth, args.out, real=args.real, silnet_path=args.silnet,
            geo_weight=args.geo_weight, size=args.size, steps=args.steps,
            steps_per_epoch=args.steps_per_epoch, batch_size=args.batch, filters=args.filters,
            blocks=args.blocks, sample_every=args.sample_every, limit=args.limit, save=args.save,
            command=command, letters=args.real_letters),
            lambda r: print(json.dumps(r["final_losses"], indent=1)),
            f" from {args.out}")
    if args.command == "train-silnet":
        from handlib import silnet
        return _run(lambda: silnet.train_run(
            args.synth, args.out, real=args.real, synth_test=args.synth_test, size=args.size,
            epochs=args.epochs, steps_per_epoch=args.steps, save=args.save, limit=args.limit,
            command=command), lambda r: print(json.dumps(r["figures"], indent=1)),
            f" from {args.out}")
    if args.command == "key-photos":
        from handlib.real_photos import read_real_photos

        def show(result):
            samples, report = result
            dropped = sum(report["dropped"].values())
            print(f"{args.folder}: {report['photos']} photos, {report['kept']} kept, {dropped} "
                  f"dropped ({100 * dropped / max(report['photos'], 1):.1f} %): "
                  + (", ".join(f"{n} {why}" for why, n in report["dropped"].items()) or "none")
                  + f"; {len({s.sequence for s in samples})} blocks of photo numbers")
        return _run(lambda: read_real_photos(args.folder, cache=args.cache), show)
    if args.command == "make-dataset":
        from handlib.synthetic import make_dataset
        return _run(lambda: make_dataset(args.out, args.frames, args.look, args.seed,
                                         args.background, args.size, args.workers,
                                         held_up=args.held_up, palm_share=args.palm_share,
                                         lean=tuple(args.lean)),
                    _summary(args.out), f" {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
