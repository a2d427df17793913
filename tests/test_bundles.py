"""Parameter bundles: an op that reads more than BUNDLE parameters (a torch.compile region reads
every weight of the model) gets them as one node per module, so the picture is not one row of
thirty weights; each bundle opens onto its parameters and the op they feed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from graphscope.dot import dot_id
from graphscope.model import GROUP, AutogradGraph
from graphscope.overview import collapse, needs_collapse, plan_levels
from graphscope.overview.fitting import BUNDLE
from graphscope.tracer import trace
from tests.graphs import svg_nodes


class Fused(torch.autograd.Function):
    """One op reading every parameter, as a compiled region does for autograd."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, *ws: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, *ws)
        return x.sum() * sum(w.sum() for w in ws)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x, *ws = ctx.saved_tensors
        total = sum(w.sum() for w in ws)
        return (g * total * torch.ones_like(x), *(g * x.sum() * torch.ones_like(w) for w in ws))


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.Linear(4, 4)
        self.mlp = nn.Linear(4, 4)
        self.norm = nn.LayerNorm(4)


class _Net(nn.Module):
    def __init__(self, blocks: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.blocks = nn.ModuleList(Block() for _ in range(blocks))
        self.head = nn.Linear(4, 2)


def _fused_graph(blocks: int) -> AutogradGraph:
    torch.manual_seed(0)
    model = _Net(blocks)
    loss = Fused.apply(torch.randn(3, 4), *model.parameters())
    return trace(loss, params=model)


def _linears(count: int) -> AutogradGraph:
    """``count`` Linear layers' parameters (2 each) read by one op."""
    model = nn.Sequential(*(nn.Linear(2, 2) for _ in range(count)))
    loss = Fused.apply(torch.randn(2), *model.parameters())
    return trace(loss, params=model)


def test_an_op_reading_many_parameters_gets_one_node_per_module() -> None:
    graph = _fused_graph(4)
    assert len(graph) == 29  # loss, Fused, 1 + 4 * 6 + 2 parameters
    assert needs_collapse(graph, 50)  # within the budget, but too wide
    small = collapse(graph)
    labels = {n: d["label"] for n, d in small.nodes(data=True)}
    assert labels == {
        "n0": "loss",
        "n1": "Fused",
        "n2": "model.embed.weight",  # a module of one parameter: the parameter itself
        "g:model.blocks.0": "0 · Block",
        "g:model.blocks.1": "1 · Block",
        "g:model.blocks.2": "2 · Block",
        "g:model.blocks.3": "3 · Block",
        "g:model.head": "head · Linear",
    }
    assert set(small.edges()) == {("n1", "n0")} | {(n, "n1") for n in labels if n not in "n0n1"}
    block = small.nodes["g:model.blocks.2"]
    assert block["kind"] == GROUP and block["ops"] == 0 and block["cluster"] == "model.blocks"
    assert [name for name, _ in block["params"]] == [
        f"model.blocks[2].{m}.{p}" for m in ("attn", "mlp", "norm") for p in ("weight", "bias")
    ]
    assert block["param_count"] == 16 + 4 + 16 + 4 + 4 + 4


def test_up_to_bundle_parameters_are_drawn_one_by_one() -> None:
    assert BUNDLE == 8
    at = _linears(4)  # 8 parameters
    assert not needs_collapse(at, 50)
    assert len(collapse(at)) == len(at)
    over = _linears(5)  # 10 parameters, one module each of two
    assert needs_collapse(over, 50)
    groups = [n for n, d in collapse(over).nodes(data=True) if d["kind"] == GROUP]
    assert groups == [f"g:model.{i}" for i in range(5)]


def test_a_deep_model_bundles_by_level_and_every_parameter_has_a_picture() -> None:
    graph = _fused_graph(12)  # 12 blocks: one level down gives 14 modules, too many
    levels = {lv.id: lv for lv in plan_levels(graph, max_nodes=50)}
    overview = levels["overview"].graph
    assert sorted(d["label"] for _, d in overview.nodes(data=True)) == [
        "Fused",
        "blocks · ModuleList",
        "head · Linear",
        "loss",
        "model.embed.weight",
    ]
    blocks = levels["overview/g:model.blocks"].graph  # 72 parameters: over the budget
    labels = [d["label"] for _, d in blocks.nodes(data=True)]
    assert labels == ["Fused", *(f"{i} · Block" for i in range(12))]
    assert blocks.nodes["n1"]["boundary"]  # the op they feed, drawn as a neighbour
    one = levels["overview/g:model.blocks/g:model.blocks.7"].graph
    assert sorted(one.nodes[n]["label"] for n in one if n != "n1") == sorted(
        f"model.blocks[7].{m}.{p}" for m in ("attn", "mlp", "norm") for p in ("weight", "bias")
    )
    assert set(one.edges()) == {(n, "n1") for n in one if n != "n1"}
    params = {n for n, d in graph.nodes(data=True) if d.get("role") == "param"}
    drawn = {n for lv in levels.values() for n in lv.graph if n in params}
    assert drawn == params and len(params) == 1 + 72 + 2


def test_the_drawn_bundle_names_its_parameters(tmp_path: Path) -> None:
    from graphscope.draw import render_graph
    from graphscope.options import Options

    done = render_graph(_fused_graph(4), tmp_path / "fused.svg", Options(show_legend=False))
    assert done.collapsed and done.nodes == 8
    nodes = svg_nodes(done.path)
    assert set(nodes) == {
        "n0",
        "n1",
        "n2",
        *(dot_id(f"g:model.blocks.{i}") for i in range(4)),
        dot_id("g:model.head"),
    }
    assert nodes[dot_id("g:model.blocks.1")][:3] == [
        "1 · Block",
        "6 tensors · 48 params",
        "blocks[1].attn.weight (4, 4)",
    ]
    names = sorted(p.name for p in done.extra)
    assert names == sorted(
        [*(f"fused.model.blocks.{i}.svg" for i in range(4)), "fused.model.head.svg"]
    )
    inside = svg_nodes(tmp_path / "fused.model.head.svg")
    assert sorted(t[0] for n, t in inside.items()) == ["Fused", "head.bias", "head.weight"]


@pytest.mark.slow
def test_a_compiled_model_is_drawn_with_its_parameters_bundled(tmp_path: Path) -> None:
    """A real ``torch.compile`` (aot_eager: AOTAutograd's one backward node reads every weight)
    of 6 blocks of 2 Linear layers: 24 parameters into one op."""
    script = tmp_path / "deep.py"
    script.write_text(
        "import torch\n"
        "torch.manual_seed(0)\n"
        "blocks = [torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 4))"
        " for _ in range(6)]\n"
        "model = torch.nn.Sequential(*blocks)\n"
        "cm = torch.compile(model, backend='aot_eager')\n"
        "loss = cm(torch.randn(2, 4)).sum()\n"
        "loss.backward()\n"
    )
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for fmt in ("json", "svg"):
        command = ["render", str(script), "-o", str(out), "--format", fmt]
        ran = subprocess.run(
            [sys.executable, "-m", "graphscope", *command],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )
        assert ran.returncode == 0, ran.stderr[-3000:]
    graph = json.loads((out / "deep.g1.json").read_text())
    (compiled,) = [n for n in graph["nodes"] if n["label"] == "compiled: cm"]
    assert sum(e["target"] == compiled["id"] for e in graph["edges"]) == 24
    nodes = svg_nodes(out / "deep.g1.svg")
    groups = sorted(k for k in nodes if k.startswith("g__"))
    assert groups == [dot_id(f"g:model.{i}") for i in range(6)]
    assert all(nodes[g][1] == "4 tensors · 40 params" for g in groups)
    assert len(nodes) == 6 + 3  # the bundles, the compiled node, the sum and the loss
    for i in range(6):
        assert (out / f"deep.g1.model.{i}.svg").exists()
