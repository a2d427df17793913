"""The explorer page without a browser: its data read back, its places, escaping, no network."""

from __future__ import annotations

import base64
import doctest
import hashlib
import html
import importlib
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from graphscope.draw import html_page, render_graph
from graphscope.errors import RenderError
from graphscope.explorer import (
    Level,
    collect_sources,
    explorer_page,
    notebook_html,
)
from graphscope.explorer._data import pack
from graphscope.explorer._svg import clean_svg
from graphscope.model import AutogradGraph, Finding, Location
from graphscope.notebook import graph_bundle, scope_html
from graphscope.options import Options
from graphscope.script import run_script
from graphscope.tracer import trace
from tests.explorer import Nodes, code_blocks, column, json_blocks, level_svgs, page_data
from tests.graphs import SVG_NS, seed_tensors

ROOT = Path(__file__).resolve().parent.parent
EXPLORER = ROOT / "graphscope" / "explorer"
SCRIPTS = Path(__file__).resolve().parent / "scripts"
SVG_PAN_ZOOM = "3.6.2"  # the vendored version (graphscope/explorer/vendor/README.md)


@pytest.fixture(scope="module")
def encoder() -> tuple[AutogradGraph, list[Level], str]:
    """transformer6.py as ``graphscope render`` sees it: graph, levels, page."""
    scope = run_script(SCRIPTS / "transformer6.py").scope
    graph = scope.graphs()[0]
    page, levels = html_page(graph, Options(), title="transformer6")
    return graph, levels, page


def _seed_graph() -> AutogradGraph:
    s = seed_tensors()
    s["a"].retain_grad()
    s["y"].backward(retain_graph=True)
    return trace(s["y"], names=s)


# -- the data, read back -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        [0] * 50 + [3] + [0] * 10,
        [7, 7, 7, 2, 2, 2, 2, None, None, 5],
        [[1, 2.5], None, None, None, [3], None],
        ["n4", 0, 0, 0, "g:x"],
        list(range(40)),
        [None, None],
        [],
    ],
)
def test_every_packed_column_reads_back(values: list[Any]) -> None:
    packed = pack(values)
    assert column(json.loads(json.dumps(packed)), len(values)) == values


def test_packing_picks_the_short_form() -> None:
    assert pack([0] * 100 + [9]) == {"d": 0, "i": [100], "v": [9]}
    assert pack([1] * 30 + [2] * 30) == {"r": [1, 30, 2, 30]}
    assert pack(list(range(10))) == list(range(10))


def test_every_node_reads_back_with_its_attributes() -> None:
    g = _seed_graph()
    data = page_data(html_page(g, Options(engine="embedded"), title="seed")[0])
    nodes = Nodes(data)
    assert nodes.n == len(g) and [nodes.id(i) for i in range(nodes.n)] == list(g.nodes)
    for i, (nid, d) in enumerate(g.nodes(data=True)):
        got = nodes.node(i)
        for key in ("kind", "label", "name", "role", "module", "op", "file", "line", "dtype"):
            assert got[key] == d.get(key), (nid, key)
        for key in ("requires_grad", "is_leaf", "retains_grad", "version", "freed"):
            assert got[key] == d.get(key), (nid, key)
        assert got["shape"] == (list(d["shape"]) if d.get("shape") is not None else None)
        for entry, tensor in got["saved"]:
            want = next(s for s in d["saved"] if s["name"] == entry["name"])
            assert tensor == want["tensor"] and entry["shape"] == list(want["shape"])
        assert len(got["saved"]) == len(d.get("saved") or ())
    w = nodes.node(nodes.index(g.by_name("w")))
    assert w["grad"] == [1, 5.0, 5.0, 5.0, None, [5.0]]  # numel, norm, min, max, -, first
    a = nodes.node(nodes.index(g.by_name("a")))
    assert a["retains_grad"] is True and a["grad"][5] == [2.0]
    mul = next(i for i in range(nodes.n) if nodes.node(i)["label"] == "MulBackward0")
    saved = {e["name"]: t for e, t in nodes.node(mul)["saved"]}
    assert saved == {"self": g.by_name("a"), "other": g.by_name("b")}
    assert nodes.node(mul)["bytes"] == 8  # two saved float32 scalars of shape (1,)


def test_parameters_of_many_layers_share_a_profile_whatever_their_aliases() -> None:
    g = AutogradGraph()
    g.add_node("n0", kind="tensor", label="loss", name="loss", role="root", shape=())
    for k in range(1, 201):
        g.add_node(f"n{k}", kind="op", label="MulBackward0", name="MulBackward0", order=k)
        g.add_node(f"p{k}", kind="tensor", label=f"w{k}", name=f"layers.{k}.weight")
        g.nodes[f"p{k}"].update(role="param", shape=(4,), aliases=[f"model._modules[{k}]", "w"])
        g.add_edge(f"p{k}", f"n{k}")
        g.add_edge(f"n{k}", "n0")
    data = page_data(html_page(g, Options(engine="embedded", max_nodes=500), title="t")[0])
    nodes = Nodes(data)
    params = [nodes.index(f"p{k}") for k in range(1, 201)]
    assert len({nodes.cols["pf"][i] for i in params}) == 1  # one profile for 200 parameters
    assert [nodes.node(i)["aliases"] for i in params[:2]] == [
        ["model._modules[1]", "w"],
        ["model._modules[2]", "w"],
    ]
    ops = [nodes.index(f"n{k}") for k in range(1, 201)]
    assert len({nodes.cols["pf"][i] for i in ops}) == 1
    assert all(nodes.node(i)["extra"] == {} for i in ops)  # an op's order is not written


def test_groups_levels_and_places_of_the_encoder(encoder: Any) -> None:
    graph, levels, page = encoder
    assert [(lv.id, lv.title, lv.parent) for lv in levels] == [
        ("L0", "overview", None),
        ("L1", "layers.0–5 · TransformerEncoderLayer ×6", "L0"),  # one copy: layers.0
        ("L2", "self_attn · MultiheadAttention", "L1"),  # layers.0.self_attn
        ("L3", "part 1 of 1", "L2"),  # the 5 nodes self_attn's level had no room for
    ]
    assert [dict(lv.children) for lv in levels] == [
        {"g:encoder.layers.0-5": "L1"},
        {"g:encoder.layers.0.self_attn": "L2"},
        {"part0": "L3"},
        {},
    ]
    data = page_data(page)
    groups = data["groups"]
    assert [(g["id"], g["lv"], g["rp"], g["uk"], g["ch"], g["n"]) for g in groups] == [
        ("g:encoder.layers.0-5", 0, 6, 1, 1, 456),  # its level draws copy 1
        ("g:encoder.layers.0.self_attn", 1, 1, 0, 2, 52),
        ("part0", 2, 1, 0, 3, 5),
    ]
    assert groups[0]["np"] == 72 and len(groups[0]["pa"]) == 20  # listed up to 20, all counted
    nodes = Nodes(data)
    drawn_on = {}  # node -> the one level drawing it as itself, not as a neighbour
    for li, lv in enumerate(levels):
        for nid, d in lv.graph.nodes(data=True):
            if d["kind"] != "group" and not d.get("boundary"):
                assert nodes.index(nid) not in drawn_on
                drawn_on[nodes.index(nid)] = li
    per_level: Counter[int] = Counter()
    for i in range(nodes.n):
        d, (lv, (what, ref)) = nodes.node(i), nodes.drawn(i)
        per_level[lv] += 1
        module = d["module"] or ""
        m = re.match(r"encoder\.layers\.(\d+)", module)
        if m is None:  # outside the layers: drawn as itself on the overview
            assert (lv, what, ref) == (0, "node", i), nodes.id(i)
            continue
        k = int(m.group(1))
        assert what == "node" and lv == drawn_on[ref], nodes.id(i)
        twin = nodes.node(ref)
        assert _norm(twin["label"]) == _norm(d["label"]) and twin["kind"] == d["kind"]
        assert twin["module"] == "encoder.layers.0" + module[len(m[0]) :]
        assert twin["shape"] == d["shape"]
        copy = (nodes.place["ck"][i], nodes.place["cg"][i], nodes.place["tw"][i])
        if k == 0:  # the copy drawn is drawn itself
            assert ref == i and copy == (0, None, None)
        else:  # copy k + 1 of 6 is drawn as its counterpart in the first copy
            assert ref != i and copy == (k + 1, 0, None)
    # every layer puts 24 nodes on the fold's level, 47 on self_attn's and 5 in its part
    assert per_level == {0: 4, 1: 6 * 24, 2: 6 * 47, 3: 6 * 5}


def _norm(label: str) -> str:
    return re.sub(r"layers(\.\d+|\[\d+\])", "layers.#", label)


def _ops_by_step(graph: AutogradGraph, module: str, steps: int) -> list[list[str]]:
    """The ops of ``module`` (and below) in forward order, cut into ``steps`` equal steps."""
    ops = sorted(
        (n for n, d in graph.nodes(data=True) if d["kind"] == "op"),
        key=lambda n: graph.nodes[n]["order"],
    )
    mine = [n for n in ops if (graph.nodes[n].get("module") or "").startswith(module)]
    size, left = divmod(len(mine), steps)
    assert left == 0
    return [mine[k * size : (k + 1) * size] for k in range(steps)]


@pytest.mark.parametrize("ordered", [True, False])
def test_a_loop_without_modules_faces_the_step_drawn(ordered: bool) -> None:
    g = AutogradGraph()  # built by hand: with or without the tracer's forward order
    for i in range(40):
        g.add_node(f"n{i}", kind="op", label="TanhBackward0", name="TanhBackward0")
        if ordered:
            g.nodes[f"n{i}"]["order"] = i
        if i:
            g.add_edge(f"n{i - 1}", f"n{i}")
    page, levels = html_page(g, Options(engine="embedded", max_nodes=5), title="loop")
    assert [(lv.id, lv.title) for lv in levels] == [("L0", "overview"), ("L1", "Tanh ×40")]
    data = page_data(page)
    nodes = Nodes(data)
    drawn = {nodes.drawn(i) for i in range(40)}
    assert drawn == {(1, ("node", 1))}  # the loop's level draws its second step
    assert data["groups"][0]["uk"] == (2 if ordered else 0)
    assert [nodes.place["ck"][i] for i in range(40)] == [k + 1 if k != 1 else 0 for k in range(40)]


def test_copies_of_folds_inside_folds_face_their_counterpart_in_the_copies_drawn() -> None:
    graph = run_script(SCRIPTS / "explorer_loops.py").scope.graphs()[0]
    page, levels = html_page(graph, Options(), title="loops")
    assert [(lv.id, lv.title, lv.parent) for lv in levels] == [
        ("L0", "overview", None),
        ("L1", "cell ×10", "L0"),
        ("L2", "blocks.0–3 · Recur ×4", "L0"),
        ("L3", "cell ×12", "L2"),
    ]
    data = page_data(page)
    assert [(g["id"], g["lv"], g["rp"], g["uk"], g["ch"]) for g in data["groups"]] == [
        ("loop0", 0, 10, 2, 1),  # a loop's level draws its second step
        ("g:stack.blocks.0-3", 0, 4, 1, 2),  # identical siblings: the first
        ("loop0", 2, 12, 2, 3),
    ]
    nodes = Nodes(data)

    def copies(i: int) -> list[tuple[int, int]]:
        out, k = [], i
        while nodes.place["ck"][k]:
            out.append((nodes.place["ck"][k], nodes.place["cg"][k]))
            if nodes.place["tw"][k] is None:
                break
            k += nodes.place["tw"][k]
        return out

    drawn_step = _ops_by_step(graph, "stack.blocks.0", 12)[1]
    for b in range(4):
        for s, step in enumerate(_ops_by_step(graph, f"stack.blocks.{b}", 12)):
            for r, nid in enumerate(step):
                i = nodes.index(nid)
                lv, (what, ref) = nodes.drawn(i)
                assert (lv, what, nodes.id(ref)) == (3, "node", drawn_step[r]), nid
                want = ([(b + 1, 1)] if b else []) + ([(s + 1, 2)] if s != 1 else [])
                assert copies(i) == want, nid
    for b in range(1, 4):  # a block's parameters: the first block's
        for p in ("weight", "bias"):
            lv, (what, ref) = nodes.drawn(nodes.index(graph.by_name(f"stack.blocks[{b}].cell.{p}")))
            assert (lv, what, nodes.id(ref)) == (
                3,
                "node",
                graph.by_name(f"stack.blocks[0].cell.{p}"),
            )
    loop_step = _ops_by_step(graph, "cell", 10)  # the script's loop: cell's ops, one per step
    assert all(len(step) == 2 for step in loop_step)  # TBackward0, AddmmBackward0
    for s, step in enumerate(loop_step):
        for r, nid in enumerate(step):
            lv, (what, ref) = nodes.drawn(nodes.index(nid))
            assert (lv, what, nodes.id(ref)) == (1, "node", loop_step[1][r])
            assert copies(nodes.index(nid)) == ([(s + 1, 0)] if s != 1 else [])
    h = nodes.index(graph.by_name("h"))  # named after the loop: a tensor of the last step only
    lv, (what, ref) = nodes.drawn(h)
    assert (lv, what) == (1, "node") and copies(h) == [(10, 0)]
    assert nodes.node(ref)["label"] == "TanhBackward0"  # what made it, in the step drawn
    assert ref in {
        nodes.index(n) for n in levels[1].graph if not levels[1].graph.nodes[n].get("boundary")
    }


def test_each_level_maps_every_drawn_node(encoder: Any) -> None:
    _, levels, page = encoder
    data = page_data(page)
    for lv, svg, out in zip(levels, level_svgs(page), data["levels"], strict=True):
        titles = {
            g.find(f"{SVG_NS}title").text  # type: ignore[union-attr]
            for g in ET.fromstring(svg).iter(f"{SVG_NS}g")
            if g.get("class") == "node"
        } - {"legend_table"}
        assert titles == set(lv.dot_ids)
        assert len(out["r"]) == len(lv.graph)


# -- escaping and isolation ---------------------------------------------------------------------

EVIL = "</script><script>alert(1)</script><!--&\u2028"


def _evil_page() -> tuple[AutogradGraph, str]:
    g = AutogradGraph()
    g.add_node("n0", kind="tensor", label="loss", name=EVIL, role="root", shape=())
    g.add_node("n1", kind="op", label="MulBackward0", name="MulBackward0", module=EVIL)
    g.add_node("n2", kind="tensor", label=EVIL, name=EVIL, role="param", module=EVIL)
    g.add_edge("n2", "n1")
    g.add_edge("n1", "n0")
    g.graph["roots"] = ["n0"]
    f = Finding("no-grad-fn", "error", EVIL, EVIL, file=EVIL, line=1, node="n2", badge=EVIL)
    g = g.with_findings([f])
    return g, html_page(g, Options(engine="embedded"), title=EVIL)[0]


def test_user_text_never_closes_or_opens_markup() -> None:
    _, page = _evil_page()
    blocks = json_blocks(page)
    assert set(blocks) == {"gs-data", "gs-svg-0"}
    for text in blocks.values():
        assert not set("<>&\u2028") & set(text)  # escaped inside every JSON block
    data = json.loads(blocks["gs-data"])
    assert data["title"] == EVIL and data["findings"][0]["hint"] == EVIL
    assert EVIL in data["S"]
    svg = json.loads(blocks["gs-svg-0"])
    texts = ["".join(t.itertext()) for t in ET.fromstring(svg).iter(f"{SVG_NS}text")]
    assert any(EVIL[:40] in t for t in texts)  # drawn literally (labels are cut at 60 chars)
    assert page.count("<script") == 4  # svg-pan-zoom, data, one level, explorer.js
    assert f"<title>{html.escape(EVIL)}</title>" in page


def test_only_the_pages_own_scripts_may_run() -> None:
    _, page = _evil_page()
    codes = code_blocks(page)
    assert len(codes) == 2 and codes[0].startswith(f"// svg-pan-zoom v{SVG_PAN_ZOOM}")
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp is not None
    allowed = set(re.findall(r"'sha256-([^']+)'", csp.group(1)))
    digests = {base64.b64encode(hashlib.sha256(c.encode()).digest()).decode() for c in codes}
    assert allowed == digests
    assert "default-src 'none'" in csp.group(1)  # no fetch, image, font or frame from anywhere
    for code in codes:
        assert "<script" not in code.lower() and "</script" not in code.lower()
        assert "<!--" not in code


def test_the_page_needs_no_network(encoder: Any) -> None:
    page = encoder[2]
    assert not re.search(r"""\s(src|href)\s*=\s*["']""", page)  # no attribute loads a thing
    assert "@import" not in page and "url(" not in page
    urls = set(re.findall(r"https?://[^\s\"'<>)\\]+", page))
    assert urls <= {
        "http://www.w3.org/2000/svg",
        "http://www.w3.org/1999/xlink",
        "http://www.w3.org/2000/xmlns/",
        "http://www.w3.org/2001/xml-events",
        "http://www.w3.org/XML/1998/namespace",
        "https://github.com/bumbu/svg-pan-zoom",  # the library's header comment
    }


def test_svgs_are_made_inert() -> None:
    raw = (
        '<?xml version="1.0"?><!DOCTYPE svg><!-- --><svg xmlns="http://www.w3.org/2000/svg" '
        'xmlns:xlink="http://www.w3.org/1999/xlink" onload="x()"><script>x()</script>'
        '<g class="node"><title>n0</title><a xlink:href="javascript:x()" xlink:title="tip &amp; '
        'more" target="_top"><text onclick="x()">&lt;b&gt;</text></a></g><foreignObject>'
        "<div/></foreignObject><!-- --><image href='http://e/x.png'/></svg>"
    )
    out = clean_svg(raw)
    assert out == (
        '<svg xmlns="http://www.w3.org/2000/svg"><g class="node"><title>n0</title><a>'
        "<title>tip &amp; more</title><text>&lt;b&gt;</text></a></g></svg>"
    )
    with pytest.raises(RenderError, match="holds no <svg>"):
        clean_svg("<html></html>", where="level L3")
    with pytest.raises(RenderError, match="not well-formed"):
        clean_svg("<svg><g></svg>")


def test_explorer_page_needs_no_torch_and_no_graphviz() -> None:
    pure = ["_copies", "_data", "_level", "_page", "_place", "_sources", "_svg", "__init__"]
    for name in pure:
        tree = (EXPLORER / f"{name}.py").read_text(encoding="utf-8")
        imported = set(re.findall(r"^\s*(?:from|import) ([\w.]+)", tree, re.M))
        assert not {i for i in imported if i.split(".")[0] in ("torch", "graphviz")}, name
        assert not imported & {
            "graphscope.draw",
            "graphscope.overview",
            "graphscope.watcher",
            "graphscope.layout",
        }


# -- wiring: render, sources, notebooks ------------------------------------------------------


def test_format_html_writes_one_page_holding_every_level(tmp_path: Path, encoder: Any) -> None:
    graph = encoder[0]
    out = render_graph(graph, tmp_path / "enc", Options(format="html", engine="embedded"))
    assert out.path == tmp_path / "enc.html" and out.extra == [] and out.collapsed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["enc.html"]  # no drill-down files
    assert out.nodes == 5  # the overview: loss, mean, pow, the fold, x
    data = page_data(out.path.read_text(encoding="utf-8"))
    assert [(lv["title"], lv["parent"]) for lv in data["levels"]] == [
        ("overview", -1),
        ("layers.0–5 · TransformerEncoderLayer ×6", 0),
        ("self_attn · MultiheadAttention", 1),
        ("part 1 of 1", 2),
    ]
    assert data["n"] == len(graph) == 460


def test_sources_hold_the_lines_around_each_op_and_finding(tmp_path: Path) -> None:
    src = tmp_path / "train.py"
    src.write_text("".join(f"line {k}\n" for k in range(1, 21)), encoding="utf-8")
    g = AutogradGraph()
    g.add_node("n0", kind="op", label="MulBackward0", file=str(src), line=5)
    g.add_node("n1", kind="op", label="AddBackward0", file="/no/such/file.py", line=3)
    f = Finding(
        "leaf-inplace",
        "error",
        "m",
        "h",
        file=str(src),
        line=18,
        related=(Location(str(src), 1, "saved here"),),
    )
    got = collect_sources(g.with_findings([f]))
    assert list(got) == [str(src)]
    assert sorted(got[str(src)]) == [1, 2, 3, 4, 5, 6, 7, 8, 15, 16, 17, 18, 19, 20]
    assert got[str(src)][18] == "line 18"


def test_notebook_frame_holds_the_page_sandboxed() -> None:
    g = _seed_graph()
    page = html_page(g, Options(engine="embedded"), title="seed")[0]
    frame = notebook_html(page, height=500)
    m = re.fullmatch(r'<iframe srcdoc="([^"]*)" sandbox="allow-scripts" (.*)></iframe>', frame)
    assert m is not None and html.unescape(m.group(1)) == page
    assert "height:500px" in m.group(2)
    shown = graph_bundle(g)["text/html"]
    assert shown.startswith("<iframe srcdoc=") and "gs-data" in html.unescape(shown)


def test_scope_shows_as_a_readable_report() -> None:
    scope = run_script(SCRIPTS / "pitfall_grad_accumulation.py").scope
    assert repr(scope) == (
        "<Scope of tests/scripts/pitfall_grad_accumulation.py: 3 backward calls, "
        "1 distinct graph (g1: 6 nodes), 1 finding>"
    )
    text = scope.report()
    lines = text.splitlines()
    assert lines[0] == "backward calls: 3, distinct graphs: 1"
    assert any(ln.startswith("  warning: grad-accumulation at ") for ln in lines)
    shown = scope_html(scope)
    assert shown.startswith(f"<pre>{html.escape(text)}</pre>\n<iframe srcdoc=")
    assert shown.count("<iframe") == 1  # one explorer per distinct graph


# -- the package --------------------------------------------------------------------------------


def test_svg_pan_zoom_is_vendored_pinned_with_its_licence() -> None:
    vendor = EXPLORER / "vendor"
    code = (vendor / "svg-pan-zoom.min.js").read_bytes()
    assert code.startswith(f"// svg-pan-zoom v{SVG_PAN_ZOOM}\n".encode())
    assert "Redistribution and use in source and binary forms" in (
        vendor / "svg-pan-zoom.LICENSE"
    ).read_text(encoding="utf-8")
    readme = (vendor / "README.md").read_text(encoding="utf-8")
    assert hashlib.sha256(code).hexdigest() in readme and f"| {SVG_PAN_ZOOM} |" in readme
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"graphscope.explorer" = ["static/*.js", "static/*.css", "vendor/*"]' in pyproject


@pytest.mark.parametrize("module", ["_data", "_page", "_svg"])
def test_docstring_examples(module: str) -> None:
    mod = importlib.import_module(f"graphscope.explorer.{module}")
    result = doctest.testmod(mod)
    assert result.attempted > 0 and result.failed == 0


def test_a_level_whose_parent_is_missing_is_refused() -> None:
    g = _seed_graph()
    lv = html_page(g, Options(engine="embedded"))[1][0]
    bad = Level("L1", "x", "L9", lv.graph, lv.svg, lv.dot_ids, {})
    with pytest.raises(RenderError, match="parent 'L9'"):
        explorer_page(g, [lv, bad], title="t", sources={})
    with pytest.raises(RenderError, match="at least one level"):
        explorer_page(g, [], title="t", sources={})
