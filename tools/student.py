"""Write the student copies of the notebooks: answer cells emptied, everything else identical.

    python tools/student.py [--notebooks notebooks] [--out build/student]

Every exercise has an answer cell tagged ``solution`` and, after it, a check cell that
calls ``course.check("NN.k", <names>, ...)``. In the student copy each code answer cell
becomes a stub that sets those names to ``...`` (so that the check says "not yet" rather
than crashing), and each markdown answer cell (an explanation) becomes a prompt. The
output is deterministic: the same notebooks give the same bytes.
"""
from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOLUTION_TAG = "solution"
STUB_TAG = "exercise-stub"
CODE_STUB = "# your code here"
MARKDOWN_STUB = "*Your reasoning here.*"


def source(cell: dict) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def tags(cell: dict) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def is_solution(cell: dict) -> bool:
    return SOLUTION_TAG in tags(cell)


def check_call(cell: dict) -> ast.Call | None:
    """The ``course.check(...)`` call in a code cell, if there is one."""
    if cell["cell_type"] != "code":
        return None
    try:
        tree = ast.parse(source(cell))
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "check" and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "course"):
            return node
    return None


def check_key(cell: dict) -> str | None:
    call = check_call(cell)
    if call is None or not call.args or not isinstance(call.args[0], ast.Constant):
        return None
    return call.args[0].value


def bound_names(code: str) -> list[str]:
    """Names a cell binds at its top level (assignments, functions, classes), in order."""
    out: list[str] = []
    for node in ast.parse(code).body:
        targets = []
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out.append(node.name)
        for t in targets:
            out += [n.id for n in ast.walk(t) if isinstance(n, ast.Name)]
    return list(dict.fromkeys(out))


def expected_names(solution: dict, check: dict) -> list[str]:
    """The names the check reads (its answer and any context passed to it) that the answer
    cell sets: what the stub must set to ``...``. The answer's own names come first."""
    call = check_call(check)
    if call is None or len(call.args) < 2:
        raise ValueError(f"cell {check.get('id')}: a check needs course.check(key, answer)")
    answer = {n.id for n in ast.walk(call.args[1]) if isinstance(n, ast.Name)}
    used = {n.id for a in [*call.args[1:], *(k.value for k in call.keywords)]
            for n in ast.walk(a) if isinstance(n, ast.Name)}
    bound = bound_names(source(solution))
    if not answer & set(bound):
        raise ValueError(f"answer cell {solution.get('id')} sets none of the names its check "
                         f"reads as the answer ({', '.join(sorted(answer))})")
    names = [n for n in bound if n in answer] + [n for n in bound if n in used - answer]
    if not names:
        raise ValueError(f"answer cell {solution.get('id')} sets none of the names its check "
                         f"reads ({', '.join(sorted(used))})")
    return names


def following_check(cells: list[dict], i: int) -> dict:
    """The first check cell after cell ``i``."""
    for cell in cells[i + 1:]:
        if check_call(cell) is not None:
            return cell
    raise ValueError(f"answer cell {cells[i].get('id')} has no check cell after it")


def student_copy(nb: dict) -> dict:
    """The notebook with its answer cells replaced by stubs (a new dict)."""
    out = copy.deepcopy(nb)
    cells = out["cells"]
    for i, cell in enumerate(cells):
        if not is_solution(cell):
            continue
        new_tags = [STUB_TAG if t == SOLUTION_TAG else t for t in tags(cell)]
        if cell["cell_type"] == "code":
            names = expected_names(cell, following_check(cells, i))
            text = "\n".join([CODE_STUB] + [f"{n} = ..." for n in names])
            cell["outputs"], cell["execution_count"] = [], None
        else:
            text = MARKDOWN_STUB
        cell["source"] = text.splitlines(keepends=True)
        cell.setdefault("metadata", {})["tags"] = new_tags
    for cell in cells:                       # a copy saved after a run: no answers in outputs
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    return out


def write_json_atomic(path: Path, obj: dict) -> None:
    """UTF-8 JSON in nbformat's layout, written to a temporary file and renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(obj, indent=1, ensure_ascii=False) + "\n")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)        # mkstemp makes 0600; a page or notebook is shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notebooks", type=Path, default=ROOT / "notebooks")
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "student")
    args = ap.parse_args(argv)
    paths = sorted(args.notebooks.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        print(f"no notebooks NN_*.ipynb in {args.notebooks}", file=sys.stderr)
        return 1
    copies = {}
    for path in paths:                       # all made first: nothing written on an error
        try:
            nb = json.loads(path.read_text(encoding="utf-8"))
            copies[path.name] = (student_copy(nb), sum(is_solution(c) for c in nb["cells"]))
        except json.JSONDecodeError as e:
            print(f"{path}: not a notebook (JSON error: {e})", file=sys.stderr)
            return 1
        except (KeyError, ValueError) as e:
            print(f"{path}: cannot make the student copy: {e}", file=sys.stderr)
            return 1
    for stale in sorted(args.out.glob("[0-9][0-9]_*.ipynb")):   # a renamed notebook's old copy
        if stale.name not in copies:
            stale.unlink()
    for name, (nb, n) in copies.items():
        write_json_atomic(args.out / name, nb)
        print(f"{args.out / name}: {n} answer cells emptied")
    return 0


if __name__ == "__main__":
    sys.exit(main())
