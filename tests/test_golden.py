"""Golden snapshots: each scenario's graphs as DOT and as JSON, compared with tests/golden/.

A change of picture shows up here as a readable diff of the DOT text (the SVG varies with the
layout engine's version; the DOT does not). After an intended change, refresh with
``pytest tests/test_golden.py --update-golden`` and review ``git diff tests/golden``. Absolute
paths are normalised to file names before comparing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from graphscope import scenarios as sc
from graphscope.docs import run_scenario, scenario_graphs
from graphscope.dot import to_dot
from graphscope.draw import shown_graph
from graphscope.model import AutogradGraph, validate
from graphscope.options import Options
from graphscope.scenarios import single_threaded

GOLDEN = Path(__file__).resolve().parent / "golden"
OPTIONS = Options()


def _graphs(name: str) -> list[AutogradGraph]:
    s = sc.get(name)
    with single_threaded():
        scope, _ = run_scenario(s)
    return scenario_graphs(s, scope)


def _normalise(x: Any) -> Any:
    """File paths to their base names (they differ between checkouts); floats to 6 significant
    digits (a gradient's last bits differ between CPUs' vector kernels)."""
    if isinstance(x, float):
        return float(f"{x:.6g}")
    if isinstance(x, dict):
        return {k: _normalise(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_normalise(v) for v in x]
    if isinstance(x, str) and os.path.isabs(x) and x.endswith(".py"):
        return os.path.basename(x)
    return x


def _compare(path: Path, text: str, update: bool) -> None:
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"{path.name} is missing: run pytest {__file__} --update-golden"
    assert text == path.read_text(encoding="utf-8"), f"{path.name} differs"


@pytest.mark.parametrize("name", [s.name for s in sc.all_scenarios()])
def test_scenario_graphs_match_their_golden_dot_and_json(name: str, update_golden: bool) -> None:
    graphs = _graphs(name)
    for g in graphs:
        validate(g)  # every key in the vocabulary, every value of its type
        gid = g.graph.get("id") or "drawn"
        shown, _ = shown_graph(g, OPTIONS)
        _compare(GOLDEN / f"{name}.{gid}.gv", to_dot(shown, OPTIONS), update_golden)
        data = json.dumps(_normalise(g.to_data()), indent=1, sort_keys=True) + "\n"
        _compare(GOLDEN / f"{name}.{gid}.json", data, update_golden)
    expected = {p.name for p in GOLDEN.glob(f"{name}.*")}
    made = {
        f"{name}.{g.graph.get('id') or 'drawn'}.{ext}" for g in graphs for ext in ("gv", "json")
    }
    if not update_golden:
        assert expected == made, "golden files without a graph: remove them (--update-golden)"
