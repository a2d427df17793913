"""Big graphs through the command line: folded overview, drill-down files that link, --expand."""

from __future__ import annotations

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
    # named by instance: the script's variable, then the path under it, and the class
    assert "layers.0–5 · TransformerEncoderLayer ×6" in titles
    assert len(titles) < 20  # the overview fits the budget easily
    links = [
        a.get("{http://www.w3.org/1999/xlink}href")
        for a in ET.parse(svg).getroot().iter(f"{SVG_NS}a")
    ]
    assert "transformer6.g1.encoder.layers.0_5.svg" in links
    drill = tmp_path / "transformer6.g1.encoder.layers.0_5.svg"
    inner = [lines[0] for lines in svg_nodes(drill).values()]
    assert "NativeLayerNormBackward0" in inner and "norm1.weight" in inner
    assert "self_attn · MultiheadAttention" in inner  # too big for this picture: its own file
    assert len(inner) <= 50
    attn = tmp_path / "transformer6.g1.encoder.layers.0.self_attn.svg"
    assert "self_attn.in_proj_weight" in [lines[0] for lines in svg_nodes(attn).values()]
    assert inner.count("norm1.weight") == 1  # one copy stands for the six


def test_expand_reveals_exactly_the_requested_layer(tmp_path: Path) -> None:
    svg = _render(tmp_path, "--expand", "layers.2", "--max-nodes", "300")
    titles = [lines[0] for lines in svg_nodes(svg).values()]
    assert "self_attn.in_proj_weight" in titles and "norm1.weight" in titles  # layers.2's
    assert {
        "layers.0–1 · TransformerEncoderLayer ×2",
        "layers.3–5 · TransformerEncoderLayer ×3",
    } <= set(titles)
    assert sorted(p.name for p in tmp_path.glob("*.svg")) == [
        "transformer6.g1.encoder.layers.0_1.svg",
        "transformer6.g1.encoder.layers.3_5.svg",
        "transformer6.g1.svg",
    ]


def test_a_large_budget_draws_every_node(tmp_path: Path) -> None:
    svg = _render(tmp_path, "--max-nodes", "1000")
    assert len(svg_nodes(svg)) == 460
    assert [p.name for p in tmp_path.glob("*.svg")] == ["transformer6.g1.svg"]
