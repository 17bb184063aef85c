"""The package's structure: imports run one way (no circles, lazy imports included), and
saving and loading know no model."""
import ast
import subprocess
import sys
from pathlib import Path

from handlib import files

PACKAGE = files.REPO_ROOT / "handlib"


def import_graph() -> dict[str, set[str]]:
    """Module -> the handlib modules it imports anywhere (top level or inside functions)."""
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    graph = {}
    for path in PACKAGE.glob("*.py"):
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "handlib":
                    deps |= {a.name for a in node.names if a.name in modules}
                elif node.module.startswith("handlib."):
                    deps.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                deps |= {a.name.split(".")[1] for a in node.names if a.name.startswith("handlib.")}
        graph[path.stem] = deps - {path.stem, "__main__"}
    return graph


def circles(graph) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_circle_finder_finds_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_imports_run_one_way():
    assert circles(import_graph()) == []


def test_saving_and_loading_know_no_model():
    graph = import_graph()
    assert not graph["weights"] & {"gan", "silnet", "pose_network", "gan_evaluation", "efficientnet_lite"}
    assert "inspector" not in graph["visualisation"]
    assert "gan" not in graph["gan_evaluation"] or "gan_evaluation" not in graph["gan"]


def test_loading_a_model_whose_module_is_not_imported_says_which_to_import():
    code = ("from handlib import weights\n"
            "try:\n    weights.load_model('regnet')\n"
            "except Exception as e:\n    print(type(e).__name__, e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         cwd=files.REPO_ROOT).stdout
    assert out.startswith("DataFileError") and "handlib.pose_network" in out, out
