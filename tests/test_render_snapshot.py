"""The tables and macros rendered from the committed results file stay what they were when the report was
reshaped into layers (tests/data/replica-render.json). A deliberate change to a table or a macro
regenerates the snapshot: ARCHE_UPDATE_SNAPSHOT=1 pytest tests/test_render_snapshot.py."""

import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = ROOT / "tests" / "data" / "replica-render.json"
TABLES = ("table_setup", "table_training", "table_val_loss", "table_diversity", "table_likelihood", "table_findings")


def render() -> dict:
    from arche import report

    results = json.loads((ROOT / "results" / "replica.json").read_text())
    out = {name: report.to_booktabs(getattr(report, name)(results)) for name in TABLES}
    for group in ("published", "controlled", "prompted"):
        out[f"table_examples_{group}"] = report.to_booktabs(report.table_examples(results, group))
    out["macros"] = report.macros(results)
    return out


def test_tables_and_macros_match_the_snapshot():
    now = render()
    if os.environ.get("ARCHE_UPDATE_SNAPSHOT"):
        SNAPSHOT.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
    assert SNAPSHOT.exists(), f"{SNAPSHOT} is missing: write it deliberately with ARCHE_UPDATE_SNAPSHOT=1"
    before = json.loads(SNAPSHOT.read_text())
    assert sorted(now) == sorted(before)
    for key in before:
        if key == "macros":
            changed = {k for k in set(now[key]) | set(before[key]) if now[key].get(k) != before[key].get(k)}
            assert not changed, f"macros changed: {sorted(changed)[:10]}"
        else:
            assert now[key] == before[key], f"{key} changed"
