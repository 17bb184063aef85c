"""Build ``wheelhouse/``: every wheel the course needs, for an offline classroom.

Run it (``make wheelhouse``) on one machine that has a network and the same platform and
Python as the room's machines; copy the course folder, wheelhouse included, to them; there
``make lab`` and ``make test`` install with ``pip --no-index --find-links wheelhouse``.

What goes in: the project's dependencies and its ``dev`` extra (read from
``pyproject.toml``, so the list cannot drift from what ``make setup`` installs), the build
back end that installs the course itself (``[build-system] requires``), and ``pip`` and
``virtualenv`` for the set-up step. Packages published only as source are built into wheels
here, so the room needs no compiler. The course itself is not put in: it is installed from
its folder.

    python tools/wheelhouse.py [--dest wheelhouse] [--requirements-only]
    python tools/wheelhouse.py --check [--dest wheelhouse]     # make offline-check

``--check`` proves the offline path: in a throw-away virtual environment, with no index
and pip's own configuration switched off (so that no other wheel folder can help), it
installs the course from its folder and the wheelhouse only, imports handlib and the
frameworks, and resolves the ``dev`` extra (what ``make lab`` and ``make test`` add).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The set-up step's own tools: `pip install --upgrade pip` and the virtualenv fallback.
SETUP_TOOLS = ["pip", "virtualenv"]


def requirements(pyproject: Path = ROOT / "pyproject.toml", extras=("dev",)) -> list[str]:
    """The requirement strings a full course install needs, in a stable order."""
    meta = tomllib.loads(pyproject.read_text())
    reqs = list(meta["build-system"]["requires"])
    reqs += meta["project"]["dependencies"]
    for extra in extras:
        reqs += meta["project"]["optional-dependencies"][extra]
    reqs += SETUP_TOOLS
    seen, out = set(), []
    for r in reqs:
        if r not in seen:
            seen.add(r)
            out.append(r)
    return out


def manifest(dest: Path) -> dict:
    """File names and sizes of the wheels in ``dest`` (written to ``dest/manifest.json``)."""
    wheels = sorted(dest.glob("*.whl"))
    sizes = {w.name: w.stat().st_size for w in wheels}
    return {"python": f"{sys.version_info.major}.{sys.version_info.minor}",
            "platform": sys.platform, "n_wheels": len(wheels),
            "total_bytes": sum(sizes.values()), "wheels": sizes}


def offline_env() -> dict:
    """The environment without pip's configuration: no config files, no PIP_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    return env


def check(dest: Path) -> int:
    """Install the course into a fresh venv from ``dest`` alone and import it."""
    import tempfile
    import venv
    if not any(dest.glob("*.whl")):
        print(f"{dest}: no wheels; run `make wheelhouse` first", file=sys.stderr)
        return 1
    env = offline_env()
    with tempfile.TemporaryDirectory(prefix="handlib-offline-") as tmp:
        venv.EnvBuilder(with_pip=True).create(tmp)
        py = str(Path(tmp) / "bin" / "python")
        offline = ["--no-index", "--find-links", str(dest.resolve())]
        steps = [
            [py, "-m", "pip", "install", "--quiet", *offline, "--upgrade", "pip"],
            [py, "-m", "pip", "install", "--quiet", *offline, str(ROOT)],
            [py, "-m", "pip", "install", "--quiet", "--dry-run", *offline, f"{ROOT}[dev]"],
            [py, "-c", "import handlib, handlib.pose_network, keras, tensorflow as tf; "
                       "print('offline install works: handlib from', handlib.__file__, "
                       "'| tensorflow', tf.__version__, '| keras', keras.__version__)"],
        ]
        for cmd in steps:
            print("+", " ".join(cmd[2:] if cmd[1] == "-m" else cmd[1:2]), flush=True)
            rc = subprocess.call(cmd, env={**env, "TF_CPP_MIN_LOG_LEVEL": "3"}, cwd=tmp)
            if rc != 0:
                print(f"offline install from {dest} failed at: {' '.join(cmd)}", file=sys.stderr)
                return rc
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dest", type=Path, default=ROOT / "wheelhouse")
    ap.add_argument("--requirements-only", action="store_true",
                    help="print the requirement list and stop")
    ap.add_argument("--check", action="store_true",
                    help="install from the wheelhouse into a throw-away venv, offline, and import")
    args = ap.parse_args(argv)
    if args.check:
        return check(args.dest)
    reqs = requirements()
    if args.requirements_only:
        print("\n".join(reqs))
        return 0
    args.dest.mkdir(parents=True, exist_ok=True)
    req_file = args.dest / "requirements.txt"
    req_file.write_text("\n".join(reqs) + "\n")
    # `pip wheel` downloads wheels where they exist and builds the rest; it resolves the
    # whole set together, so the versions are the ones `make setup` would pick today.
    cmd = [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(args.dest),
           "-r", str(req_file)]
    print("+", " ".join(cmd), flush=True)
    rc = subprocess.call(cmd)
    if rc != 0:
        print(f"pip wheel failed (exit {rc}); wheelhouse {args.dest} is incomplete",
              file=sys.stderr)
        return rc
    m = manifest(args.dest)
    tmp = args.dest / "manifest.json.tmp"
    tmp.write_text(json.dumps(m, indent=1) + "\n")
    os.replace(tmp, args.dest / "manifest.json")
    print(f"{m['n_wheels']} wheels, {m['total_bytes'] / 2**20:.0f} MiB in {args.dest} "
          f"(Python {m['python']}, {m['platform']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
