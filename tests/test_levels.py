"""The tree of pictures: every level within the budget, however deep; layouts that take too
long are redrawn collapsed one level more."""

from __future__ import annotations

import stat
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from graphscope.draw import render_graph
from graphscope.layout import Engine, find_engine
from graphscope.model import GROUP, AutogradGraph
from graphscope.options import Options
from graphscope.overview import Levels, plan_levels
from tests.graphs import SVG_NS, svg_nodes

EDGE = {"slot": 0, "slots": [0], "output_nr": 0, "shape": (2,), "dtype": "float32"}


def _two_level_graph(tops: int = 6, children: int = 6, ops: int = 5) -> AutogradGraph:
    """A chain of ``tops x children x ops`` ops, each module and op different from the
    others (nothing folds), with a loss on top: over any small budget at two levels."""
    g = AutogradGraph()
    g.add_node("n0", kind="tensor", label="loss", name="loss", role="root", shape=())
    k = 0
    prev = None
    for t in range(tops):
        for c in range(children):
            for o in range(ops):
                k += 1
                nid = f"n{k}"
                name = f"Op{t}x{c}x{o}Backward0"
                g.add_node(nid, kind="op", label=name, name=name, module=f"m{t}.c{c}", order=k)
                if prev is not None:
                    g.add_edge(prev, nid, **EDGE)
                prev = nid
    assert prev is not None
    g.add_edge(prev, "n0", **EDGE)
    g.graph["roots"] = ["n0"]
    return g


def test_every_level_fits_and_together_they_show_every_node() -> None:
    g = _two_level_graph()
    levels = plan_levels(g, max_nodes=8)
    by_id = {lv.id: lv for lv in levels}
    assert levels[0].id == "overview" and levels[0].parent is None
    shown_somewhere: set[str] = set()
    for lv in levels:
        assert len(lv.graph) <= 8, lv.id
        for gid, d in lv.graph.nodes(data=True):
            if d["kind"] == GROUP and not d.get("boundary"):
                child = by_id[lv.opens[gid]]  # every group opens a level, one level down
                assert child.parent == lv.id and child.id == f"{lv.id}/{gid}"
        shown_somewhere |= {
            n for n, d in lv.graph.nodes(data=True) if d["kind"] != GROUP and not d.get("boundary")
        }
    assert shown_somewhere == set(g)  # drilling down reaches every node
    # the module groups nest as the modules do: m0 opens onto m0's children
    top = by_id["overview"].graph
    assert "g:m0" in top
    m0 = by_id["overview/g:m0"].graph
    assert {"g:m0.c0", "g:m0.c5"} <= set(m0)


def test_written_files_keep_to_the_budget_and_link_to_each_other(tmp_path: Path) -> None:
    r = render_graph(
        _two_level_graph(), tmp_path / "deep.svg", Options(engine="embedded", max_nodes=8)
    )
    files = sorted(tmp_path.glob("*.svg"))
    assert len(files) == 1 + len(r.extra) and len(files) > 10
    assert r.largest <= 8
    for svg in files:
        assert len(svg_nodes(svg)) <= 8, svg.name
        for a in ET.parse(svg).getroot().iter(f"{SVG_NS}a"):
            href = a.get("{http://www.w3.org/1999/xlink}href")
            if href:
                assert (tmp_path / href).exists(), (svg.name, href)


def test_a_graph_with_nothing_to_group_is_cut_into_parts() -> None:
    g = AutogradGraph()
    for i in range(120):
        name = f"Distinct{i}Backward0"
        g.add_node(f"n{i}", kind="op", label=name, name=name, order=120 - i)
        if i:
            g.add_edge(f"n{i}", f"n{i - 1}", **EDGE)
    levels = plan_levels(g, max_nodes=10)
    assert all(len(lv.graph) <= 10 for lv in levels)
    parts = [d["label"] for _, d in levels[0].graph.nodes(data=True) if d["kind"] == GROUP]
    assert parts and all(p.startswith("part ") for p in parts)


def _slow_engine(tmp_path: Path, above: int) -> Engine:
    """An engine that takes a minute on DOT with more than ``above`` nodes, else the real
    embedded one."""
    real = find_engine("embedded").path
    script = tmp_path / "slow-engine"
    script.write_text(
        f"#!{sys.executable}\n"
        "import subprocess, sys, time\n"
        "src = sys.stdin.read()\n"
        f"if src.count('label=<') > {above}:\n"
        "    time.sleep(60)\n"
        f"p = subprocess.run([{real!r}, *sys.argv[1:]], input=src.encode(), capture_output=True)\n"
        "sys.stdout.buffer.write(p.stdout)\n"
        "sys.exit(p.returncode)\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return Engine("embedded", str(script))


@pytest.mark.slow
def test_a_layout_past_its_time_limit_is_redrawn_collapsed_one_level_more(tmp_path: Path) -> None:
    g = _two_level_graph(tops=4, children=4, ops=2)  # 33 nodes: drawn in full at 40
    engine = _slow_engine(tmp_path, above=20)
    start = time.perf_counter()
    r = render_graph(
        g, tmp_path / "slow.svg", Options(max_nodes=40, layout_timeout=1.5), engine=engine
    )
    assert time.perf_counter() - start < 30  # the sleeping engine was stopped, not waited for
    assert len(r.notes) == 1
    assert r.notes[0].startswith("slow.svg: layout stopped after 1.5 s; drawn collapsed")
    assert r.collapsed and r.nodes <= 20
    assert len(svg_nodes(tmp_path / "slow.svg")) == r.nodes
    assert r.extra  # its groups got drill-downs, each fast enough


def test_levels_redo_forgets_the_drill_downs_it_planned() -> None:
    levels = Levels(_two_level_graph(), max_nodes=12)
    root = levels.root
    children = levels.children(root)
    assert children and all(c.id in levels.levels for c in children)
    coarser = levels.redo(root)
    assert coarser is not None and len(coarser.graph) <= len(root.graph) // 2
    assert all(c.id not in levels.levels for c in children) and coarser.opens == {}


def test_layout_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="layout_timeout"):
        Options(layout_timeout=0)


def test_the_render_summary_says_what_the_drawing_changed() -> None:
    from graphscope.report import Report
    from graphscope.watcher import Scope

    rep = Report(Scope())
    rep.drawing.append("x.svg: layout stopped after 5 s; drawn collapsed one level more")
    assert "  note: x.svg: layout stopped after 5 s" in rep.summary()


def test_a_list_of_blocks_run_twice_is_two_folds_none_of_them_lost() -> None:
    import torch
    from torch import nn

    import graphscope

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = nn.ModuleList(
                [nn.Sequential(nn.Linear(8, 8), nn.Tanh()) for _ in range(4)]
            )
            self.mid = nn.Linear(8, 8)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for b in self.blocks:
                x = b(x)
            x = self.mid(x)
            for b in self.blocks:  # the same blocks again: two folds with the same name
                x = b(x)
            return x

    torch.manual_seed(0)
    model = Net()
    with graphscope.watch() as scope:
        model(torch.randn(4, 8)).pow(2).mean().backward()
    (g,) = scope.captures
    levels = plan_levels(g, max_nodes=12)
    blocks = next(lv for lv in levels if lv.id.endswith("g:model.blocks"))
    folds = {
        n: d for n, d in blocks.graph.nodes(data=True) if d["kind"] == GROUP and d.get("repeat")
    }
    assert sorted(folds) == ["g:model.blocks.0-3", "g:model.blocks.0-3#2"]
    first, second = (set(d["members"]) for d in folds.values())
    assert not first & second
    block_ops = {
        n
        for n, d in g.nodes(data=True)
        if d["kind"] == "op" and (d.get("module") or "").startswith("model.blocks")
    }
    assert len(block_ops) == 24 and block_ops <= first | second  # every op of both passes
    assert len(set(blocks.opens[n] for n in folds)) == 2  # each opens a level of its own
