"""Recurrent and loop-shaped programs through the command line: folds, instance names, budget.

The programs are ``benchmarks/programs/`` at small sizes (the benchmark runs them big).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from graphscope.cli import main
from tests.graphs import SVG_NS, svg_edges, svg_nodes

PROGRAMS = Path(__file__).resolve().parent.parent / "benchmarks" / "programs"


def _render(tmp_path: Path, program: str, *args: str) -> dict[str, object]:
    result = CliRunner().invoke(
        main,
        [
            "render",
            str(PROGRAMS / f"{program}.py"),
            *args,
            "-o",
            str(tmp_path),
            "--engine",
            "embedded",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return json.loads((tmp_path / "report.json").read_text())  # type: ignore[no-any-return]


def _titles(svg: Path) -> list[str]:
    return [lines[0] for lines in svg_nodes(svg).values()]


def _clusters(svg: Path) -> dict[str, str]:
    """``{cluster id: its label}`` of an SVG written by Graphviz."""
    out = {}
    for g in ET.parse(svg).getroot().iter(f"{SVG_NS}g"):
        if g.get("class") == "cluster":
            title = g.find(f"{SVG_NS}title")
            assert title is not None and title.text
            out[title.text] = " ".join(t.text or "" for t in g.iter(f"{SVG_NS}text"))
    return out


def _links(svg: Path) -> list[str]:
    hrefs = (
        a.get("{http://www.w3.org/1999/xlink}href")
        for a in ET.parse(svg).getroot().iter(f"{SVG_NS}a")
    )
    return [h for h in hrefs if h]


def _edge_texts(svg: Path) -> list[str]:
    out = []
    for g in ET.parse(svg).getroot().iter(f"{SVG_NS}g"):
        if g.get("class") == "edge":
            out.extend(t.text or "" for t in g.iter(f"{SVG_NS}text"))
    return out


@pytest.mark.slow
def test_fifty_step_two_cell_loop_folds_with_the_cells_named(tmp_path: Path) -> None:
    _render(tmp_path, "lstm_loop", "50")
    overview = tmp_path / "lstm_loop.g1.svg"
    titles = _titles(overview)
    assert "cell1 → cell2 → head ×50" in titles  # every step, the first and last included
    assert len(titles) <= 50
    # the recurrence: a self-loop on the fold, named after the loop's variables
    nodes = svg_nodes(overview)
    (fold,) = [n for n, lines in nodes.items() if lines[0].endswith("×50")]
    assert (fold, fold) in svg_edges(overview)
    assert "c1, h1, c2, h2" in _edge_texts(overview)
    # its drill-down shows one step: the three instances, each on its own
    (link,) = [x for x in _links(overview) if "cell1" in x]
    step = tmp_path / link
    names = " ".join(_titles(step)) + " " + " ".join(_clusters(step).values())
    for instance in ("cell1 · LSTMCell", "cell2 · LSTMCell", "head · Linear"):
        assert instance in names
    assert "h1" in _edge_texts(step) and "c1" in _edge_texts(step)  # the state it hands on
    for svg in tmp_path.glob("*.svg"):
        assert len(svg_nodes(svg)) <= 50, svg.name


@pytest.mark.slow
def test_a_hand_written_recurrent_module_folds_inside_its_drill_down(tmp_path: Path) -> None:
    _render(tmp_path, "gru_module", "20", "--depth", "0")
    overview = tmp_path / "gru_module.g1.svg"
    assert "model · HandGRU" in _titles(overview)  # depth 0: the module is one box
    drill = tmp_path / "gru_module.g1.model.svg"
    assert "gru_module.g1.model.svg" in _links(overview)
    titles = _titles(drill)
    # the first step differs (its h does not require grad); the other 19 fold, inside the box
    assert "reset → update → candidate ×19" in titles
    assert "cluster_model" in _clusters(drill)
    (fold,) = [n for n, lines in svg_nodes(drill).items() if lines[0].endswith("×19")]
    assert (fold, fold) in svg_edges(drill)


@pytest.mark.slow
def test_every_picture_of_a_deep_model_keeps_to_the_budget(tmp_path: Path) -> None:
    report = _render(tmp_path, "transformer_deep", "12", "--max-nodes", "20")
    files = sorted(tmp_path.glob("*.svg"))
    assert len(files) >= 4  # overview, the folded layers, their parts
    for svg in files:
        assert len(svg_nodes(svg)) <= 20, svg.name
        for link in _links(svg):  # every link opens a file that was written
            assert (tmp_path / link).exists(), (svg.name, link)
    assert report["graphs"][0]["nodes"] > 500  # type: ignore[index]


@pytest.mark.slow
def test_png_and_pdf_get_their_drill_downs(tmp_path: Path) -> None:
    for fmt in ("png", "pdf"):
        out = tmp_path / fmt
        _render(out, "transformer_deep", "4", "--format", fmt)
        names = sorted(p.name for p in out.glob(f"*.{fmt}"))
        assert f"transformer_deep.g1.{fmt}" in names
        assert f"transformer_deep.g1.encoder.layers.0_3.{fmt}" in names or any(
            "layers" in n for n in names if n != f"transformer_deep.g1.{fmt}"
        ), names
        assert len(names) >= 2
