"""The layers, read from the folders: core ML flat in arche/, the study in arche/study/, the report in
arche/report/, the runner in arche/runner/ (with arche/__main__.py, the command line). Each imports none
above it (not even inside a function), no module imports itself back through others (no cycles), no
private name crosses a module boundary, and the report renders results.json without torch."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "arche"
LAYERS = ("core", "study", "report", "runner")  # bottom to top


def layer_of(module: str) -> str:
    """The layer of a dotted module name, from its folder."""
    parts = module.split(".")
    if parts[1:2] and parts[1] in ("study", "report", "runner"):
        return parts[1]
    return "runner" if parts[1:] == ["__main__"] else "core"


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("").parts
        out[".".join(rel[:-1] if rel[-1] == "__init__" else rel)] = path
    return out


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(module: str, path: Path, known: dict) -> list[tuple[str, list[str]]]:
    """(imported arche module, names taken from it) for every import in `path`, functions included."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names if a.name.split(".")[0] == "arche"]
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(node, module, path.name == "__init__.py")
            if target.split(".")[0] != "arche":
                continue
            subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in known]
            names = [a.name for a in node.names if f"{target}.{a.name}" not in known]
            out += [(s, []) for s in subs] + ([(target, names)] if names else [])
    return out


def graph() -> dict[str, list[tuple[str, list[str]]]]:
    known = modules()
    return {m: imports(m, p, known) for m, p in known.items()}


def test_the_folders_are_the_layers_and_none_imports_above_it():
    upward = [
        f"{m} -> {dep}"
        for m, deps in graph().items()
        for dep, _ in deps
        if LAYERS.index(layer_of(dep)) > LAYERS.index(layer_of(m))
    ]
    assert not upward, f"imports of a layer above (even inside functions): {upward}"


def test_no_import_cycles():
    # A package's __init__ is not an edge for its own modules (`from . import x` inside it loads x only).
    edges = {m: {d for d, _ in deps if d != m and not m.startswith(d + ".")} for m, deps in graph().items()}
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt) :] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for m in sorted(edges):
        if m not in state:
            visit(m, [m])
    assert not cycles, f"import cycles: {cycles}"


def _private_attributes(path: Path, known: dict, module: str) -> list[str]:
    """`mod._name` uses in `path` where `mod` is a name bound to another arche module by an import."""
    tree = ast.parse(path.read_text())
    bound = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            target = _absolute(node, module, path.name == "__init__.py")
            for a in node.names:
                if f"{target}.{a.name}" in known:
                    bound[a.asname or a.name] = f"{target}.{a.name}"
    return [
        f"{module} uses {bound[n.value.id]}.{n.attr}"
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in bound
        if n.attr.startswith("_") and not n.attr.startswith("__")
    ]


def test_no_private_name_crosses_a_module_boundary():
    known = modules()
    crossing = [
        f"{m} imports {name} from {dep}"
        for m, deps in graph().items()
        for dep, names in deps
        for name in names
        if name.startswith("_") and not name.startswith("__")
    ]
    crossing += [use for m, path in known.items() for use in _private_attributes(path, known, m)]
    assert not crossing, f"private names used from another module: {crossing}"


@pytest.mark.slow
def test_the_report_imports_without_torch():
    code = """
import sys
class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] == 'torch':
            raise ImportError('torch is not installed here')
sys.meta_path.insert(0, NoTorch())
import arche.report, arche.report.repetition, arche.study.verdicts, arche.stats, arche.config
import json
results = json.load(open('results/replica.json'))
arche.report.table_findings(results); arche.report.macros(results); arche.report.fig_val_curves(results)
print('ok', 'torch' in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.split() == ["ok", "False"], out.stderr[-2000:]
