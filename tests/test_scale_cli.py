"""Big graphs through the command line: folded overview, drill-down files that link, --expand."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from click.testing import CliRunner

from graphscope.cli import main
from tests.graphs import SVG_NS, svg_nodes

SCRIPT = Path(__file__).parent / "scripts" / "transformer6.py"


def _render(tmp_path: Path, *extra: str) -> Path:
    result = CliRunner().invoke(
        main,
        ["render", str(SCRIPT), "-o", str(tmp_path), "--engine", "embedded", *extra],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return tmp_path / "transformer6.g1.svg"


def test_six_identical_layers_fold_into_one_linked_block(tmp_path: Path) -> None:
    svg = _render(tmp_path)
    titles = [lines[0] for lines in svg_nodes(svg).values()]
    assert "layers.0–5 ×6" in titles
    assert len(titles) <= 300 and len(titles) < 20  # the overview fits the budget easily
    links = [
        a.get("{http://www.w3.org/1999/xlink}href")
        for a in ET.parse(svg).getroot().iter(f"{SVG_NS}a")
    ]
    assert "transformer6.g1.layers.0_5.svg" in links
    drill = tmp_path / "transformer6.g1.layers.0_5.svg"
    inner = [lines[0] for lines in svg_nodes(drill).values()]
    assert "layers.0.self_attn.in_proj_weight" in inner and "NativeLayerNormBackward0" in inner
    assert not any("layers.1." in t for t in inner)  # one copy stands for the six


def test_expand_reveals_exactly_the_requested_layer(tmp_path: Path) -> None:
    svg = _render(tmp_path, "--expand", "layers.2")
    titles = [lines[0] for lines in svg_nodes(svg).values()]
    params = {t for t in titles if re.match(r"layers\.\d+\.", t)}
    assert params and all(t.startswith("layers.2.") for t in params)
    assert {"layers.0–1 ×2", "layers.3–5 ×3"} <= set(titles)
    assert sorted(p.name for p in tmp_path.glob("*.svg")) == [
        "transformer6.g1.layers.0_1.svg",
        "transformer6.g1.layers.3_5.svg",
        "transformer6.g1.svg",
    ]


def test_a_large_budget_draws_every_node(tmp_path: Path) -> None:
    svg = _render(tmp_path, "--max-nodes", "1000")
    assert len(svg_nodes(svg)) == 460
    assert not (tmp_path / "transformer6.g1.layers.0_5.svg").exists()
