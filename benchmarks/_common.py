"""Shared helpers for the benchmark scripts: timing, a printed table, a JSON record."""
from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

OUT_DIR = ROOT / "build" / "benchmarks"


def best_time(fn, repeats: int = 5, number: int = 1, warmup: int = 1) -> float:
    """Best wall time in seconds of ``number`` calls of ``fn`` over ``repeats`` runs."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def report(name: str, rows: list[dict], notes: str = "") -> dict:
    """Print ``rows`` as a table and write them to ``build/benchmarks/NAME.json``."""
    keys = list(rows[0])
    widths = {k: max(len(k), *(len(_fmt(r[k])) for r in rows)) for k in keys}
    print(f"\n{name}  ({platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()})")
    print("  ".join(k.ljust(widths[k]) for k in keys))
    print("  ".join("-" * widths[k] for k in keys))
    for r in rows:
        print("  ".join(_fmt(r[k]).ljust(widths[k]) for k in keys))
    if notes:
        print(notes)
    record = {"benchmark": name, "machine": {"cores": os.cpu_count(),
                                             "python": platform.python_version()},
              "rows": rows, "notes": notes, "time": time.strftime("%Y-%m-%d %H:%M:%S")}
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    from handlib import files
    files.write_json(OUT_DIR / f"{name}.json", record)
    print(f"written {OUT_DIR / (name + '.json')}")
    return record


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)
