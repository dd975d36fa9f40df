"""The three layers: core ML, the study, the report; each importable without the ones above it, and the
report without torch at all (it renders results.json on a machine with no torch installed)."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {
    "core": ["config", "errors", "device", "tokenizer", "corpus", "data", "model", "objectives", "checkpoint",
             "train", "sample", "metrics", "stats", "speed", "runlock"],
    "study": ["study", "repetition", "verdicts"],
    "report": ["report", "report_repetition"],
    "entry": ["pipeline", "__main__", "__init__", "colab", "notebook_sync"],  # runners and tooling on top
}
LEVEL = {m: i for i, mods in enumerate(LAYERS.values()) for m in mods}


def _arche_imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            out |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("arche."):
            out.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            out |= {a.name.split(".")[1] for a in node.names if a.name.startswith("arche.")}
    return out


def test_every_module_has_a_layer_and_imports_none_above_it():
    modules = {p.stem for p in (ROOT / "arche").glob("*.py")}
    assert modules == set(LEVEL), f"modules without a layer: {sorted(modules - set(LEVEL))}"
    upward = [f"{m} -> {dep}" for m in modules for dep in _arche_imports(ROOT / "arche" / f"{m}.py")
              if dep in LEVEL and LEVEL[dep] > LEVEL[m]]
    assert not upward, f"imports of a layer above (even inside functions): {upward}"


def test_the_report_imports_without_torch():
    code = """
import sys
class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] == 'torch':
            raise ImportError('torch is not installed here')
sys.meta_path.insert(0, NoTorch())
import arche.report, arche.report_repetition, arche.verdicts, arche.stats, arche.config
import json
results = json.load(open('results/replica.json'))
arche.report.table_findings(results); arche.report.macros(results); arche.report.fig_val_curves(results)
print('ok', 'torch' in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.split() == ["ok", "False"], out.stderr[-2000:]
