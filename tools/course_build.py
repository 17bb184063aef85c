"""Execute the notebooks, time them, and write the course as web pages.

    python tools/course_build.py execute --mode full --out build/executed/full
    python tools/course_build.py html --executed build/executed/full --out build/html
    python tools/course_build.py times --quick build/executed/quick --full build/executed/full

``execute`` runs every notebook (or ``--only 00 03``) top to bottom in a fresh kernel with
``HANDLIB_QUICK`` set for the mode and the exercise checks strict, stores the widgets'
state, and records each notebook's wall time, kernel start included, in ``times.json``.
``html`` turns executed notebooks into HTML pages (figures embedded, widget state kept)
and an index page with each notebook's synopsis (the README's notebook table) and times.
``times`` writes ``data/results/notebook_times.json`` and the time columns of the tables
in ``README.md`` and ``INSTRUCTORS.md`` from two ``execute`` runs, so that no time in them
is typed by hand. ``make html`` and ``make times`` call these.
"""
from __future__ import annotations

import argparse
import html
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
TIMES_JSON = ROOT / "data" / "results" / "notebook_times.json"
TIMES_START, TIMES_END = "<!-- notebook-times:start -->", "<!-- notebook-times:end -->"
# Where the notebooks generate their data. `execute` empties it before each notebook (unless
# --warm), so that every time is a first run, as a student's is.
GENERATED = ROOT / "build" / "datasets"


# ------------------------------------------------------------------------------ helpers
def notebooks(only=None) -> list[Path]:
    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if only:
        paths = [p for p in paths if p.name[:2] in set(only)]
    if not paths:
        raise SystemExit(f"no notebooks NN_*.ipynb in {NOTEBOOKS}" + (f" for {only}" if only else ""))
    return paths


def write_text_atomic(path: Path, text: str) -> None:
    """UTF-8 text written to a temporary file beside ``path``, then renamed."""
    from handlib.files import write_text
    write_text(path, text)


def peak_rss_mib(pid) -> float | None:
    """The process's peak resident memory so far (Linux: VmHWM), in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, TypeError):
        return None
    return None


def tensorflow_probe() -> dict:
    """Seconds to import TensorFlow in a fresh interpreter, and the GPUs it sees."""
    code = ("import time; t = time.perf_counter(); import tensorflow as tf; "
            "print(time.perf_counter() - t, len(tf.config.list_physical_devices('GPU')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    try:
        seconds, gpus = done.stdout.split()[-2:]
        return {"tensorflow_import_s": round(float(seconds), 1), "gpus": int(gpus)}
    except ValueError:
        return {"tensorflow_import_s": None, "gpus": None}


def machine() -> dict:
    """What the times were measured on."""
    from handlib.weights import cpu_name
    cpu = cpu_name()
    try:
        mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    except (ValueError, OSError, AttributeError):
        mem_gib = None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "cores": cores, "memory_gib": round(mem_gib, 1) if mem_gib else None,
            "python": platform.python_version(), "system": platform.system(),
            **tensorflow_probe()}


def first_heading_and_purpose(nb: dict) -> tuple[str, str]:
    text = "".join(nb["cells"][0]["source"])
    title = next((l[2:].strip() for l in text.splitlines() if l.startswith("# ")), "")
    m = re.search(r"\*Purpose:\*\s*(.+)", text)
    return title, (m.group(1).strip() if m else "")


def readme_synopses(readme: Path = ROOT / "README.md") -> dict[str, str]:
    """The README notebook table's "what you learn" column, by notebook number."""
    out = {}
    for line in readme.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\|\s*(\d\d)\s*\|\s*\[[^\]]+\]\([^)]+\)\s*\|\s*([^|]+)\|", line)
        if m:
            out[m.group(1)] = m.group(2).strip()
    return out


# ------------------------------------------------------------------------------ execute
def execute(args) -> int:
    import nbformat
    from nbclient import NotebookClient

    os.environ["HANDLIB_QUICK"] = "1" if args.mode == "quick" else "0"
    os.environ["HANDLIB_CHECKS"] = "strict"          # an instructor copy must pass its checks
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    times_path = out / "times.json"
    # times.json is written once every notebook asked for has run (make's target); with
    # --only, the other notebooks' times are kept.
    record = json.loads(times_path.read_text(encoding="utf-8")) if (args.only and times_path.is_file()) else {}
    here = machine()
    same = lambda m: m and all(m.get(k) == here.get(k) for k in ("cpu", "cores", "gpus"))
    if record.get("mode") != args.mode or not same(record.get("machine")):
        record = {}                          # never mix times from two modes or machines
    record.update({"mode": args.mode, "machine": here, "cold": not args.warm})
    record.setdefault("seconds", {})
    record.setdefault("peak_memory_mib", {})
    if not args.only:
        times_path.unlink(missing_ok=True)
    for path in notebooks(args.only):
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(nb, kernel_name=args.kernel, timeout=args.timeout,
                                store_widget_state=True,
                                resources={"metadata": {"path": str(NOTEBOOKS)}})
        peak = [0.0]

        def track_memory(**_):
            m = peak_rss_mib(getattr(getattr(client.km, "provisioner", None), "pid", None))
            peak[0] = max(peak[0], m or 0.0)
        client.on_cell_executed = track_memory
        if not args.warm:
            shutil.rmtree(GENERATED, ignore_errors=True)
        print(f"{path.name} ({args.mode}) ...", end=" ", flush=True)
        t0 = time.perf_counter()
        try:
            client.execute()
        except Exception as e:               # a cell's error, a timeout, a dead kernel
            failed = out / (path.stem + ".failed.ipynb")
            write_text_atomic(failed, nbformat.writes(nb))
            print(f"FAILED\n{path}: {type(e).__name__}; the notebook up to the error is in {failed}\n"
                  f"{str(e)[-2000:]}", file=sys.stderr)
            return 1
        seconds = time.perf_counter() - t0
        (out / (path.stem + ".failed.ipynb")).unlink(missing_ok=True)
        write_text_atomic(out / path.name, nbformat.writes(nb))
        record["seconds"][path.stem] = round(seconds, 1)
        record["peak_memory_mib"][path.stem] = round(peak[0]) if peak[0] else None
        print(f"{seconds:.0f} s, kernel peak {peak[0]:.0f} MiB", flush=True)
    write_text_atomic(times_path, json.dumps(record, indent=1) + "\n")
    return 0


# --------------------------------------------------------------------------------- html
INDEX_CSS = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.45; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: .5rem; text-align: left; vertical-align: top; }
td.time { white-space: nowrap; text-align: right; }
.small { color: #555; font-size: .9rem; }
"""


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# A widget output that also carries a picture of itself (the heatmap inspector's PNG)
# shows that picture until the widget is drawn, and whenever it cannot be (no network
# for the widget scripts): the picture is hidden once a widget appears beside it.
FALLBACK_CSS = ("<style>.jp-OutputArea-child:has(img.widget-fallback)"
                ":has(+ .jp-OutputArea-child .lm-Widget) { display: none; }</style>")


def split_widget_fallbacks(nb) -> int:
    """Give each widget output that carries an image its own image output before it (in
    place); return how many were split."""
    import nbformat
    n = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            mime = next((m for m in ("image/png", "image/jpeg") if m in data), None)
            if WIDGET_VIEW in data and mime:
                img = (f'<img class="widget-fallback" alt="the widget as it was last drawn" '
                       f'src="data:{mime};base64,{data[mime].strip()}">')
                outputs.append(nbformat.v4.new_output("display_data", data={"text/html": img}))
                outputs.append(nbformat.v4.new_output(
                    "display_data", data={WIDGET_VIEW: data[WIDGET_VIEW],
                                          "text/plain": data.get("text/plain", "")}))
                n += 1
            else:
                outputs.append(o)
        cell.outputs = outputs
    return n


def without_answers(nb) -> None:
    """The student version of an executed notebook, in place: answer cells as the student
    copy has them (tools/student.py), and no output in them or in the check cells."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import nbformat
    import student
    plain = student.student_copy(json.loads(nbformat.writes(nb)))
    for cell, stub in zip(nb.cells, plain["cells"]):
        if student.is_solution(cell):
            cell.source = "".join(stub["source"])
            cell.metadata["tags"] = stub["metadata"]["tags"]
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        elif student.check_key(cell) is not None:
            cell.outputs, cell.execution_count = [], None


def html_pages(args) -> int:
    import nbformat
    from nbconvert import HTMLExporter

    executed, out = Path(args.executed), Path(args.out)
    paths = sorted(executed.glob("[0-9][0-9]_*.ipynb"))
    paths = [p for p in paths if not p.name.endswith(".failed.ipynb")]
    if not paths:
        print(f"no executed notebooks in {executed}: run `execute` first", file=sys.stderr)
        return 1
    run = json.loads((executed / "times.json").read_text(encoding="utf-8")) if (executed / "times.json").is_file() else {}
    measured = json.loads(TIMES_JSON.read_text(encoding="utf-8")) if TIMES_JSON.is_file() else {}
    synopses = readme_synopses()
    exporter = HTMLExporter(template_name="lab")
    rows = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if args.student:
            without_answers(nb)
        split_widget_fallbacks(nb)
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
        body = body.replace("</head>", FALLBACK_CSS + "\n</head>", 1)
        write_text_atomic(out / (path.stem + ".html"), body)
        title, purpose = first_heading_and_purpose(nb)
        number = path.name[:2]
        quick = measured.get("quick", {}).get("seconds", {}).get(path.stem)
        full = measured.get("full", {}).get("seconds", {}).get(path.stem)
        this = run.get("seconds", {}).get(path.stem)
        rows.append(
            f"<tr><td>{number}</td><td><a href=\"{html.escape(path.stem)}.html\">{html.escape(title)}</a>"
            f"<div class=\"small\">{html.escape(purpose)}</div></td>"
            f"<td>{html.escape(synopses.get(number, ''))}</td>"
            f"<td class=\"time\">{fmt_seconds(quick)}</td><td class=\"time\">{fmt_seconds(full)}</td></tr>")
        print(f"{out / (path.stem + '.html')}: {len(body) / 2 ** 20:.1f} MiB"
              + (f" (executed in {this:.0f} s, {run.get('mode')} mode)" if this else ""))
    mode = run.get("mode", "?")
    index = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>GANerated Hands, rebuilt: the course</title>
<style>{INDEX_CSS}</style></head><body>
<h1>GANerated Hands, rebuilt: the course</h1>
<p>Real-time 3D hand tracking from one RGB camera, after Mueller et al., CVPR 2018.
These pages are the notebooks executed in <b>{html.escape(mode)} mode</b>, with their figures;
run them yourself with <code>make lab</code>.{" The exercises' answers are left out." if args.student else ""}</p>
<table><thead><tr><th>#</th><th>notebook</th><th>what you learn</th><th>quick</th><th>full</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
<p class="small">Times: wall time of one notebook in a fresh kernel on the reference machine
({html.escape(describe_machine(measured.get('full', {}).get('machine')))}), from
<code>make times</code> (<code>data/results/notebook_times.json</code>).
Interactive widgets need the network the first time a page loads them (their scripts come
from a public CDN); without it the inspector shows the picture it stored.</p>
</body></html>
"""
    write_text_atomic(out / "index.html", index)
    print(f"{out / 'index.html'}: {len(paths)} notebooks")
    return 0


def fmt_seconds(s) -> str:
    if s is None:
        return "–"
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min"


def describe_machine(m) -> str:
    if not m:
        return "not recorded"
    mem = f", {m['memory_gib']:.0f} GiB" if m.get("memory_gib") else ""
    gpu = {None: "", 0: ", no GPU"}.get(m.get("gpus"), f", {m.get('gpus')} GPU(s)")
    return f"{m.get('cores')} CPU cores ({m.get('cpu') or 'unknown CPU'}){mem}{gpu}, Python {m.get('python')}"


# -------------------------------------------------------------------------------- times
def fmt_mib(m) -> str:
    return "–" if not m else (f"{m / 1024:.1f} GiB" if m >= 1024 else f"{m:.0f} MiB")


def times_table(measured: dict) -> str:
    """The Markdown table of measured times (and the kernel's peak memory) that README.md
    and INSTRUCTORS.md carry."""
    lines = ["| notebook | quick mode | full mode | peak memory (full) |", "|---|---|---|---|"]
    q, f = measured["quick"]["seconds"], measured["full"]["seconds"]
    mem = measured["full"].get("peak_memory_mib", {})
    for stem in sorted(set(q) | set(f)):
        lines.append(f"| {stem} | {fmt_seconds(q.get(stem))} | {fmt_seconds(f.get(stem))} "
                     f"| {fmt_mib(mem.get(stem))} |")
    lines.append(f"| all {len(f)} | {fmt_seconds(sum(q.values()))} | {fmt_seconds(sum(f.values()))} | |")
    return "\n".join(lines)


def measured_on(measured: dict) -> str:
    """The sentence under the table: machine, first runs, TensorFlow's import time."""
    m = measured["full"]["machine"]
    cold = all(measured[k].get("cold") for k in ("quick", "full"))
    tf_s = m.get("tensorflow_import_s")
    return (f"Measured on {describe_machine(m)}"
            + ("; every notebook a first run (its generated data made afresh)" if cold else "")
            + (f"; importing TensorFlow alone took {tf_s:.1f} s there" if tf_s else "") + ".")


def replace_between_markers(text: str, block: str, where: str) -> str:
    if TIMES_START not in text or TIMES_END not in text:
        raise SystemExit(f"{where}: no {TIMES_START} ... {TIMES_END} markers to put the table between")
    head, rest = text.split(TIMES_START, 1)
    _, tail = rest.split(TIMES_END, 1)
    return f"{head}{TIMES_START}\n{block}\n{TIMES_END}{tail}"


def times(args) -> int:
    measured = {}
    for mode, folder in (("quick", args.quick), ("full", args.full)):
        path = Path(folder) / "times.json"
        if not path.is_file():
            print(f"{path}: missing; run `execute --mode {mode} --out {folder}` first", file=sys.stderr)
            return 1
        rec = json.loads(path.read_text(encoding="utf-8"))
        if rec.get("mode") != mode:
            print(f"{path}: holds {rec.get('mode')} times, expected {mode}", file=sys.stderr)
            return 1
        measured[mode] = {k: rec.get(k) for k in ("seconds", "peak_memory_mib", "machine", "cold")}
    measured["command"] = "make times"
    write_text_atomic(TIMES_JSON, json.dumps(measured, indent=1) + "\n")
    block = times_table(measured) + "\n\n" + measured_on(measured)
    for doc in (ROOT / "INSTRUCTORS.md", ROOT / "README.md"):
        if doc.is_file():
            write_text_atomic(doc, replace_between_markers(doc.read_text(encoding="utf-8"), block, str(doc)))
    print(block)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    e = sub.add_parser("execute", help="execute and time the notebooks")
    e.add_argument("--mode", choices=("quick", "full"), required=True)
    e.add_argument("--out", required=True)
    e.add_argument("--only", nargs="*", help="notebook numbers, e.g. 00 03")
    e.add_argument("--kernel", default="python3")
    e.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    e.add_argument("--warm", action="store_true",
                   help=f"keep {GENERATED.relative_to(ROOT)} between notebooks (times are then not first runs)")
    h = sub.add_parser("html", help="executed notebooks -> HTML pages and an index")
    h.add_argument("--executed", required=True)
    h.add_argument("--out", required=True)
    h.add_argument("--student", action="store_true",
                   help="leave the exercises' answers out (the pages to give students)")
    t = sub.add_parser("times", help="write the measured times into the JSON, README and guide")
    t.add_argument("--quick", required=True)
    t.add_argument("--full", required=True)
    args = ap.parse_args(argv)
    return {"execute": execute, "html": html_pages, "times": times}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
