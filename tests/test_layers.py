"""The three layers: core ML, the study, the report; each importable without the ones above it, and the
report without torch at all (it renders results.json on a machine with no torch installed)."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {
    "core": [
        "config",
        "numfmt",
        "profiles",
        "scaling",
        "errors",
        "io",
        "device",
        "tokenizer",
        "corpus",
        "data",
        "model",
        "objectives",
        "rundir",
        "schedule",
        "checkpoint",
        "train",
        "sample",
        "denoise",
        "generate",
        "evaluate",
        "synthetic",
        "metrics",
        "stats",
        "speed",
        "runlock",
    ],
    "study": ["study", "analysis", "judges", "regime", "frontier", "repetition", "verdicts", "results", "findings"],
    "report": ["report"],  # the package arche/report/: every module in it
    "entry": [
        "pipeline",
        "kernel",
        "notebook_checks",
        "run_report",
        "views",
        "__main__",
        "__init__",
        "colab",
        "notebook_sync",
    ],  # runners and tooling on top
}
LEVEL = {m: i for i, mods in enumerate(LAYERS.values()) for m in mods}


def _arche_imports(path: Path) -> set[str]:
    """The arche modules `path` imports (anywhere in it), as top-level names under arche/."""
    inside = path.parent.name == "report"
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == (2 if inside else 1):
            out |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and inside and node.level == 1:
            out.add("report")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("arche."):
            out.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            out |= {a.name.split(".")[1] for a in node.names if a.name.startswith("arche.")}
    return out


def test_every_module_has_a_layer_and_imports_none_above_it():
    files = {p: p.stem for p in (ROOT / "arche").glob("*.py")}
    files |= {p: "report" for p in (ROOT / "arche" / "report").glob("*.py")}
    assert set(files.values()) == set(LEVEL), f"modules without a layer: {sorted(set(files.values()) - set(LEVEL))}"
    upward = [
        f"{path.relative_to(ROOT)} -> {dep}"
        for path, m in files.items()
        for dep in _arche_imports(path)
        if dep in LEVEL and LEVEL[dep] > LEVEL[m]
    ]
    assert not upward, f"imports of a layer above (even inside functions): {upward}"


def test_the_report_imports_without_torch():
    code = """
import sys
class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] == 'torch':
            raise ImportError('torch is not installed here')
sys.meta_path.insert(0, NoTorch())
import arche.report, arche.report.repetition, arche.verdicts, arche.stats, arche.config
import json
results = json.load(open('results/replica.json'))
arche.report.table_findings(results); arche.report.macros(results); arche.report.fig_val_curves(results)
print('ok', 'torch' in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.split() == ["ok", "False"], out.stderr[-2000:]
