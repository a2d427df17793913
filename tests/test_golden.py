"""Golden snapshots: each scenario's graphs as DOT and as JSON, compared with tests/golden/.

A change of picture shows up here as a readable diff of the DOT text (the SVG varies with the
layout engine's version; the DOT does not). After an intended change, refresh with
``pytest tests/test_golden.py --update-golden`` and review ``git diff tests/golden``. Absolute
paths are normalised to file names before comparing.
"""

from __future__ import annotations

import json
import math
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
    digits (compared within :data:`REL` by :func:`_close`)."""
    if isinstance(x, float):
        return float(f"{x:.6g}")
    if isinstance(x, dict):
        return {k: _normalise(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_normalise(v) for v in x]
    if isinstance(x, str) and os.path.isabs(x) and x.endswith(".py"):
        return os.path.basename(x)
    return x


#: floats agree within this relative difference: a gradient's last bits differ between CPUs'
#: vector kernels (and sums of many of them by more than one unit in the 6th digit)
REL = 1e-4


def _close(a: Any, b: Any) -> bool:
    """``a == b``, but floats within :data:`REL` of each other count as equal."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=REL, abs_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _compare(path: Path, text: str, update: bool, *, as_json: bool = False) -> None:
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"{path.name} is missing: run pytest {__file__} --update-golden"
    golden = path.read_text(encoding="utf-8")
    if as_json and text != golden and _close(json.loads(text), json.loads(golden)):
        return
    assert text == golden, f"{path.name} differs"


@pytest.mark.parametrize("name", [s.name for s in sc.all_scenarios()])
def test_scenario_graphs_match_their_golden_dot_and_json(name: str, update_golden: bool) -> None:
    graphs = _graphs(name)
    for g in graphs:
        validate(g)  # every key in the vocabulary, every value of its type
        gid = g.graph.get("id") or "drawn"
        shown, _ = shown_graph(g, OPTIONS)
        _compare(GOLDEN / f"{name}.{gid}.gv", to_dot(shown, OPTIONS), update_golden)
        data = json.dumps(_normalise(g.to_data()), indent=1, sort_keys=True) + "\n"
        _compare(GOLDEN / f"{name}.{gid}.json", data, update_golden, as_json=True)
    expected = {p.name for p in GOLDEN.glob(f"{name}.*")}
    made = {
        f"{name}.{g.graph.get('id') or 'drawn'}.{ext}" for g in graphs for ext in ("gv", "json")
    }
    if not update_golden:
        assert expected == made, "golden files without a graph: remove them (--update-golden)"


def test_golden_json_floats_agree_within_a_relative_tolerance_only() -> None:
    assert _close({"g": [-0.000897878, 1.0]}, {"g": [-0.00089788, 1.0]})
    assert not _close({"g": [-0.000897878]}, {"g": [-0.000898]})  # 1.4e-4 apart
    assert not _close({"g": 1.0}, {"g": 1})  # a float is not an int
    assert not _close({"g": [1.0]}, {"g": [1.0, 2.0]})
    assert not _close({"a": "x"}, {"b": "x"})
