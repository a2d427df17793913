"""render: pictures parsed back (SVG is XML), both engines, every format, escaping."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import torch

import graphscope
from graphscope.dot import to_dot
from graphscope.draw import render_graph
from graphscope.errors import RenderError, UsageError
from graphscope.layout import find_engine
from graphscope.model import Finding
from graphscope.options import Options
from graphscope.style import esc, node_style
from graphscope.tracer import trace
from tests.graphs import seed_tensors, svg_edges, svg_nodes

HAVE_DOT = shutil.which("dot") is not None
ENGINES = [
    "embedded",
    pytest.param(
        "dot",
        marks=pytest.mark.skipif(
            not HAVE_DOT, reason="system Graphviz dot not installed (CI installs it)"
        ),
    ),
]


def _seed_after_backward():  # type: ignore[no-untyped-def]
    s = seed_tensors()
    s["a"].retain_grad()
    s["y"].backward(retain_graph=True)
    return s, trace(s["y"], names=s)


@pytest.mark.parametrize("engine", ENGINES)
def test_svg_of_the_seed_graph_holds_nodes_edges_flags_and_grads(
    tmp_path: Path, engine: str
) -> None:
    _, g = _seed_after_backward()
    out = render_graph(g, tmp_path / "seed.svg", Options(engine=engine))
    assert out.engine == engine
    nodes = svg_nodes(out.path)
    assert set(nodes) == set(g.nodes)  # every node drawn, legend samples aside
    assert svg_edges(out.path) == set(g.edges)
    by_title = {texts[0]: texts for texts in nodes.values()}
    assert set(by_title) == {"y", "MulBackward0", "AddBackward0", "a", "b", "w", "x"}
    assert "is_leaf=True requires_grad=True" in by_title["w"]
    assert "is_leaf=False requires_grad=True" in by_title["a"]
    assert "retains_grad=True" in by_title["a"] and "retains_grad=False" in by_title["b"]
    assert (
        "grad=[5]" in by_title["w"] and "grad=[2]" in by_title["x"] and "grad=[2]" in by_title["a"]
    )
    assert not any(t.startswith("grad=") for t in by_title["b"])
    # the legend explains the colours used
    root = ET.parse(out.path).getroot()
    legend = [
        t.text
        for t in root.iter("{http://www.w3.org/2000/svg}text")
        if t.text and "retain_grad()" in t.text
    ]
    assert legend == ["non-leaf with retain_grad()"]


def test_both_engines_draw_the_same_graph(tmp_path: Path) -> None:
    if not HAVE_DOT:
        pytest.skip("system Graphviz dot not installed (CI installs it)")
    _, g = _seed_after_backward()
    a = render_graph(g, tmp_path / "a.svg", Options(engine="dot"))
    b = render_graph(g, tmp_path / "b.svg", Options(engine="embedded"))
    assert svg_nodes(a.path) == svg_nodes(b.path)
    assert svg_edges(a.path) == svg_edges(b.path)


@pytest.mark.slow
def test_dot_is_byte_identical_across_runs_and_processes(tmp_path: Path) -> None:
    _, g1 = _seed_after_backward()
    _, g2 = _seed_after_backward()
    assert to_dot(g1) == to_dot(g2)
    code = textwrap.dedent(
        """
        import sys, torch
        sys.path.insert(0, %r)
        from tests.graphs import seed_tensors
        from graphscope.tracer import trace
        from graphscope.dot import to_dot
        s = seed_tensors(); s["a"].retain_grad(); s["y"].backward(retain_graph=True)
        sys.stdout.write(to_dot(trace(s["y"], names=s)))
        """
    ) % str(Path(__file__).parent.parent)
    runs = [
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    ]
    assert runs[0] == runs[1] == to_dot(g1)


@pytest.mark.parametrize("fmt", ["svg", "png", "pdf", "dot", "json", "html"])
def test_every_format_with_the_embedded_engine(tmp_path: Path, fmt: str) -> None:
    _, g = _seed_after_backward()
    out = render_graph(g, tmp_path / "seed", Options(format=fmt, engine="embedded")).path
    data = out.read_bytes()
    assert out.suffix == (".gv" if fmt == "dot" else f".{fmt}")
    if fmt == "png":
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
    elif fmt == "pdf":
        assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    elif fmt == "svg":
        assert len(svg_nodes(out)) == len(g)
    elif fmt == "dot":
        assert data.decode().startswith("digraph autograd {")
    elif fmt == "json":
        loaded = json.loads(data)
        assert {n["label"] for n in loaded["nodes"]} == {
            "y",
            "MulBackward0",
            "AddBackward0",
            "a",
            "b",
            "w",
            "x",
        }
        assert len(loaded["edges"]) == g.number_of_edges()
    elif fmt == "html":
        text = data.decode()
        # the explorer: each level's SVG is an escaped JSON string, nothing is loaded from afar
        assert 'id="gs-data"' in text and 'id="gs-svg-0"' in text and "\\u003csvg" in text
        assert "src=" not in text and "href=" not in text


def test_freed_graph_renders_instead_of_crashing(tmp_path: Path) -> None:
    s = seed_tensors()
    s["y"].backward()
    out = graphscope.render(s["y"], tmp_path / "freed.svg", engine="embedded")
    texts = {t for lines in svg_nodes(out).values() for t in lines}
    assert "saved tensors freed by backward" in texts


def test_stale_saved_tensor_is_drawn_with_both_versions(tmp_path: Path) -> None:
    s = seed_tensors()
    s["a"].add_(1)
    out = graphscope.render(s["y"], tmp_path / "stale.svg", engine="embedded", names=s)
    texts = {t for lines in svg_nodes(out).values() for t in lines}
    assert "saved a: v0, now v1 (stale)" in texts


def test_render_names_from_the_callers_variables_and_returns_the_path(tmp_path: Path) -> None:
    model = torch.nn.Linear(2, 1)
    loss = torch.sigmoid(model(torch.ones(3, 2))).mean()
    out = graphscope.render(loss, tmp_path / "m.svg", engine="embedded")
    assert out == tmp_path / "m.svg"
    titles = {lines[0] for lines in svg_nodes(out).values()}
    assert {
        "loss",
        "model.weight",
        "model.bias",
        "AddmmBackward0",
        "SigmoidBackward0",
        "MeanBackward0",
    } <= titles


def test_user_text_is_escaped_everywhere(tmp_path: Path) -> None:
    w = torch.tensor([1.0], requires_grad=True)
    evil = (w * 2).sum()
    name = '<b>&"x\\N</svg>'
    g = trace(evil, names={name: evil})
    f = Finding(
        "no-grad-fn", "error", "m", "h", node=g.roots()[0], badge="<script>alert(1)</script>"
    )
    g = g.with_findings([f])
    for fmt in ("svg", "html"):
        out = render_graph(g, tmp_path / f"evil.{fmt}", Options(format=fmt, engine="embedded")).path
        text = out.read_text()
        assert "alert(1)</script>" not in text  # never closes our tags
        assert text.count("</svg>") == (1 if fmt == "svg" else 0)  # html: SVGs are JSON strings
        if fmt == "svg":
            assert "<b>" not in text and "<script" not in text
        if fmt == "svg":
            titles = {lines[0] for lines in svg_nodes(out).values()}
            assert name in titles  # drawn literally, not interpreted
    assert esc("a<b>&c") == "a&lt;b&gt;&amp;c"


def test_findings_are_highlighted_with_their_badge() -> None:
    d = {"kind": "op", "label": "MulBackward0", "saved": []}
    f = Finding(
        "saved-tensor-modified", "error", "m", "h", node="n1", badge="saved v0, now v1 <- line 9"
    )
    attrs = node_style(d, Options(), [f])
    assert attrs["color"] == "#d32f2f" and attrs["penwidth"] == "3"
    assert "saved v0, now v1 &lt;- line 9" in attrs["label"]


def test_engine_choice_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    assert find_engine("embedded").name == "embedded"
    monkeypatch.setenv("PATH", "/nonexistent")
    assert find_engine("auto").name == "embedded"  # found beside our interpreter
    with pytest.raises(RenderError, match="not on PATH"):
        find_engine("dot")
    with pytest.raises(UsageError):
        find_engine("neato")


def test_bad_option_values_are_usage_errors(tmp_path: Path) -> None:
    s = seed_tensors()
    with pytest.raises(UsageError, match="format must be one of"):
        graphscope.render(s["y"], tmp_path / "x.svg", format="bmp")
    with pytest.raises(UsageError):
        graphscope.render(s["y"], tmp_path / "x.svg", colour="red")


def test_a_drawing_gives_its_svg() -> None:
    s = seed_tensors()
    svg = graphscope.render(trace(s["y"])).svg()
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")


def test_the_edge_that_carried_a_stale_saved_tensor_is_drawn_red(tmp_path: Path) -> None:
    """Architecture bug 2: after ``a.add_(1)`` the saved ``a`` has no tensor node of its own in
    the graph (its history moved to the write), and the red edge was never drawn."""
    w = torch.tensor([1.0], requires_grad=True)
    x = torch.tensor([2.0], requires_grad=True)
    a = torch.add(w, x)
    b = torch.add(w, 1)
    y = torch.mul(a, b)
    a.add_(1)
    g = trace(y)
    mul = next(n for n, d in g.nodes(data=True) if d.get("name") == "MulBackward0")
    add = next(u for u, _ in g.in_edges(mul) if g.nodes[u].get("name") == "AddBackward0")
    out = render_graph(g, tmp_path / "stale.svg", Options(engine="embedded"))
    root = ET.parse(out.path).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    red = {
        e.find(f"{ns}title").text
        for e in root.iter(f"{ns}g")
        if e.get("class") == "edge"
        and any(p.get("stroke") == "#d32f2f" for p in e.iter(f"{ns}path"))
    }
    assert red == {f"{add}->{mul}"}
