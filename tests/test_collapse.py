"""collapse: module groups, folded identical layers, folded loops, findings kept, drill-down."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
import torch
from torch.nn.modules.module import (
    register_module_forward_hook,
    register_module_forward_pre_hook,
)

from graphscope.dot import dot_id
from graphscope.errors import UsageError
from graphscope.model import GROUP, OP, AutogradGraph, Finding
from graphscope.names import Names
from graphscope.overview import collapse, plan_drilldown, subgraph_for
from graphscope.tracer import capture, trace

_get_seq = torch._C._autograd._get_sequence_nr


def _traced_with_modules(model: torch.nn.Module, inp: torch.Tensor) -> AutogradGraph:
    """Trace ``model(inp).sum()`` with op nodes' ``module`` filled the way ``watch`` does it:
    global module hooks record sequence-number spans; a node belongs to the narrowest span."""
    paths = {m: n for n, m in model.named_modules()}
    stack: list[tuple[str | None, int]] = []
    spans: list[tuple[str, int, int]] = []

    def pre(m: torch.nn.Module, args: Any) -> None:
        stack.append((paths.get(m), _get_seq()))

    def post(m: torch.nn.Module, args: Any, out: Any) -> None:
        path, lo = stack.pop()
        if path:
            spans.append((path, lo, _get_seq()))

    h1 = register_module_forward_pre_hook(pre)
    h2 = register_module_forward_hook(post, always_call=True)
    try:
        loss = model(inp).sum()
    finally:
        h1.remove()
        h2.remove()

    def provenance(seq: int) -> tuple[None, None, None, str] | None:
        best: tuple[str, int] | None = None
        for path, lo, hi in spans:
            if lo <= seq < hi and (best is None or hi - lo < best[1]):
                best = (path, hi - lo)
        return (None, None, None, best[0]) if best else None

    names = Names()
    names.add_params(model)
    names.add("loss", loss)
    return capture([loss], names, provenance=provenance).graph


@pytest.fixture(scope="module")
def encoder_graph() -> AutogradGraph:
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, batch_first=True)
    enc = torch.nn.TransformerEncoder(layer, num_layers=6, enable_nested_tensor=False)
    # the input requires grad (as an embedding's output would), so layer 0 is like the others
    return _traced_with_modules(enc, torch.randn(1, 3, 16, requires_grad=True))


def _loop_graph(steps: int = 200) -> AutogradGraph:
    w = torch.randn(4, requires_grad=True)
    b = torch.randn(4, requires_grad=True)
    h = torch.randn(4)
    for _ in range(steps):
        h = torch.tanh(h * w + b)
    loss = h.sum()
    return trace(loss, names={"w": w, "b": b, "loss": loss, "h": h})


def _groups(g: AutogradGraph) -> dict[str, dict[str, Any]]:
    return {n: d for n, d in g.nodes(data=True) if d["kind"] == GROUP}


def _covered(g: AutogradGraph) -> list[str]:
    """Original node ids a collapsed graph stands for (each exactly once)."""
    out: list[str] = []
    for n, d in g.nodes(data=True):
        out.extend(d["members"] if d["kind"] == GROUP else [n])
    return out


def _snapshot(g: AutogradGraph) -> str:
    return json.dumps(g.to_data(), sort_keys=True, default=str)


# -- transformer: 6 identical layers fold into one block ------------------------------------------


def test_six_identical_layers_fold_into_one_block(encoder_graph: AutogradGraph) -> None:
    g = encoder_graph
    shown = collapse(g, max_nodes=50)
    groups = _groups(shown)
    assert list(groups) == ["g:layers.0-5"]
    block = groups["g:layers.0-5"]
    assert block["repeat"] == 6
    assert "×6" in block["label"]
    assert block["name"] == "layers.0–5"
    # it stands for every node of the six layers, and the rest stays as it was
    layer_nodes = [
        n for n, d in g.nodes(data=True) if (d.get("module") or "").startswith("layers.")
    ]
    layer_nodes += [
        n
        for n in g
        if g.nodes[n]["kind"] == "tensor"
        and n not in layer_nodes
        and any((g.nodes[p].get("module") or "").startswith("layers.") for p in g.pred[n])
    ]
    assert sorted(block["members"]) == sorted(layer_nodes)
    assert block["ops"] == sum(1 for n in layer_nodes if g.nodes[n]["kind"] == OP)
    assert len(block["params"]) == 6 * 12
    assert ("layers[0].linear1.weight", (32, 16)) in block["params"]
    assert sorted(_covered(shown)) == sorted(g)
    # edges into the first copy and out of the last remain; the edges between copies are one
    # self-loop marked recurrent (each layer feeds the next)
    assert set(shown.edges) == {
        ("n26", "g:layers.0-5"),
        ("g:layers.0-5", "n1"),
        ("n1", "n0"),
        ("g:layers.0-5", "g:layers.0-5"),
    }
    loop = shown.edges["g:layers.0-5", "g:layers.0-5"]
    assert loop["recurrent"] is True and loop["state"] == [] and loop["shape"] == (1, 3, 16)
    assert shown.edges["g:layers.0-5", "n1"]["shape"] == (1, 3, 16)


def test_default_budget_folds_too_and_drilldown_shows_one_copy(
    encoder_graph: AutogradGraph,
) -> None:
    g = encoder_graph
    assert len(g) > 300
    shown = collapse(g)  # the automatic depth still folds the identical layers
    assert list(_groups(shown)) == ["g:layers.0-5"]
    plans = plan_drilldown(g, shown)
    sub = plans["g:layers.0-5"]
    inside = [n for n, d in sub.nodes(data=True) if not d.get("boundary")]
    assert inside == [n for n in g if n in set(shown.nodes["g:layers.0-5"]["unit"])]
    assert {
        (sub.nodes[n].get("module") or "").split(".")[1]
        for n in inside
        if sub.nodes[n]["kind"] == OP
    } == {"0"}
    assert len(sub) < len(g) // 4
    boundary = sorted(n for n, d in sub.nodes(data=True) if d.get("boundary"))
    assert boundary and all(
        not (g.nodes[n].get("module") or "").startswith("layers.0") for n in boundary
    )


def test_expand_reveals_exactly_that_module(encoder_graph: AutogradGraph) -> None:
    g = encoder_graph
    shown = collapse(g, expand=["layers.2"], max_nodes=300)
    layer2 = set(subgraph_for(g, "layers.2")) - {
        n for n, d in subgraph_for(g, "layers.2").nodes(data=True) if d.get("boundary")
    }
    plain = {n for n, d in shown.nodes(data=True) if d["kind"] != GROUP}
    # every node of layers.2 is drawn, and no node of another layer is
    assert layer2 <= plain
    assert plain - layer2 == {"n0", "n1", "n26"}  # loss, its SumBackward0, the input
    groups = _groups(shown)
    assert sorted((d["name"], d["repeat"]) for d in groups.values()) == [
        ("layers.0–1", 2),
        ("layers.3–5", 3),
    ]
    assert sorted(_covered(shown)) == sorted(g)


def test_depth_zero_and_expand_errors(encoder_graph: AutogradGraph) -> None:
    g = encoder_graph
    with pytest.raises(UsageError, match="layers.9"):
        collapse(g, expand=["layers.9"])
    with pytest.raises(UsageError, match="depth"):
        collapse(g, depth=-1)
    with pytest.raises(UsageError, match="needs module paths"):
        collapse(_loop_graph(5), expand=["x"])


# -- findings are never hidden --------------------------------------------------------------------


def test_finding_inside_a_collapsed_module_shows_on_the_group(encoder_graph: AutogradGraph) -> None:
    g = encoder_graph
    inner = next(n for n, d in g.nodes(data=True) if d.get("module") == "layers.3.linear1")
    f_in = Finding("saved-tensor-modified", "error", "m", "h", node=inner)
    f_out = Finding("nonfinite-grad", "warning", "m2", "h2", node="n1")
    f_none = Finding("no-grad-fn", "error", "m3", "h3")
    shown = collapse(g.with_findings([f_in, f_out, f_none]), max_nodes=50)
    block = shown.nodes["g:layers.0-5"]
    assert block["finding_kinds"] == ["saved-tensor-modified"]
    assert shown.findings == (
        Finding("saved-tensor-modified", "error", "m", "h", node="g:layers.0-5"),
        f_out,
        f_none,
    )


# -- loops without modules ------------------------------------------------------------------------


def test_loop_of_200_steps_folds() -> None:
    g = _loop_graph(200)
    assert len(g) == 3 * 200 + 5  # loss, Sum, h, w, b and 3 ops per step
    shown = collapse(g)
    groups = _groups(shown)
    assert list(groups) == ["loop0"]
    loop = groups["loop0"]
    # In forward order the steps are Mul, Add, Tanh, Mul, Add, Tanh, ...: every step folds,
    # the first (whose h does not require grad) and the last (whose output is the named h)
    # included; w and b, leaves that are not parameters, stay in sight
    assert loop["repeat"] == 200
    assert loop["label"] == "Mul → Add → Tanh ×200"
    assert loop["ops"] == 600 and loop["params"] == []
    assert sorted(shown.nodes[n]["label"] for n in shown if n != "loop0") == [
        "SumBackward0",
        "b",
        "loss",
        "w",
    ]
    # the drill-down shows one step: the second, with the first and third at its border
    unit = [g.nodes[n]["label"] for n in loop["unit"]]
    assert sorted(unit) == ["AddBackward0", "MulBackward0", "TanhBackward0"]
    sub = plan_drilldown(g, shown)["loop0"]
    border = sorted(d["label"] for _, d in sub.nodes(data=True) if d.get("boundary"))
    assert border == ["MulBackward0", "TanhBackward0", "b", "w"]
    per_op = Counter(g.nodes[n]["name"] for n in _covered(shown) if g.nodes[n]["kind"] == OP)
    assert per_op == {
        "SumBackward0": 1,
        "TanhBackward0": 200,
        "AddBackward0": 200,
        "MulBackward0": 200,
    }
    # the step hands h to the next one: a self-loop; h's name is the last step's
    assert shown.edges["loop0", "loop0"]["recurrent"] is True
    assert shown.edges["loop0", "loop0"]["state"] == ["h"]
    w, b = g.by_name("w"), g.by_name("b")
    assert set(shown.edges) == {
        ("loop0", "loop0"),
        ("loop0", "n1"),
        ("n1", "n0"),
        (w, "loop0"),
        (b, "loop0"),
    }


@pytest.mark.slow
def test_hundred_thousand_node_chain_folds_without_recursion() -> None:
    g = AutogradGraph()
    names = ("MulBackward0", "AddBackward0", "TanhBackward0")
    g.add_node("n0", kind="tensor", label="loss", name="loss", role="root")
    for i in range(1, 100_000):
        g.add_node(f"n{i}", kind="op", label=names[i % 3], name=names[i % 3], module=None)
        g.add_edge(
            f"n{i}", f"n{i - 1}", shape=(4,), dtype="float32", slot=0, slots=[0], output_nr=0
        )
    g.graph["roots"] = ["n0"]
    shown = collapse(g)
    assert len(shown) <= 10
    (loop,) = _groups(shown).values()
    assert loop["repeat"] >= 33_330
    assert sorted(_covered(shown), key=lambda n: int(n[1:])) == list(g)


# -- the input is never changed; the output is deterministic --------------------------------------


def test_input_unchanged_and_output_deterministic(encoder_graph: AutogradGraph) -> None:
    f = Finding("nonfinite-grad", "warning", "m", "h", node="n40")
    g = encoder_graph.with_findings([f])
    before = _snapshot(g)
    a = collapse(g, max_nodes=50)
    a.nodes["g:layers.0-5"]["members"].append("x")  # mutating the result leaves g alone
    for n in a:
        if n in g:
            a.nodes[n]["label"] = "changed"
    b = collapse(g, expand=["layers.1"])
    assert _snapshot(g) == before
    assert g.findings == (f,)
    assert _snapshot(collapse(g, max_nodes=50)) == _snapshot(collapse(g, max_nodes=50))
    assert _snapshot(b) == _snapshot(collapse(g, expand=["layers.1"]))
    assert _snapshot(collapse(_loop_graph(50))) == _snapshot(collapse(_loop_graph(50)))


def test_small_graph_is_copied_unchanged() -> None:
    g = _loop_graph(3)
    shown = collapse(g)
    assert shown is not g
    assert _snapshot(shown) == _snapshot(g)
    assert shown.graph == g.graph


def test_the_public_collapse_returns_a_new_graph() -> None:
    import graphscope

    g = AutogradGraph()
    for i in range(400):
        g.add_node(f"n{i}", kind="op", label="TanhBackward0", name="TanhBackward0", module=None)
        if i:
            g.add_edge(f"n{i - 1}", f"n{i}", slot=0, slots=[0], output_nr=0, shape=None, dtype=None)
    before = g.number_of_nodes()
    small = graphscope.collapse(g, max_nodes=50)
    assert g.number_of_nodes() == before and len(small) <= 50
    assert any(d.get("repeat", 1) > 1 for _, d in small.nodes(data=True))


def test_a_finding_inside_a_collapsed_group_is_drawn_on_the_overview_file(
    encoder_graph: AutogradGraph, tmp_path: Any
) -> None:
    """Architecture bug 1: the overview file lost the graph's findings when the drill-down
    planner copied it, so only the drill-down file showed the badge."""
    from graphscope.draw import render_graph
    from graphscope.options import Options
    from tests.graphs import svg_nodes

    inner = next(
        n for n, d in encoder_graph.nodes(data=True) if d.get("module") == "layers.3.linear1"
    )
    f = Finding("saved-tensor-modified", "error", "m", "h", node=inner, badge="saved v0, now v1")
    out = render_graph(
        encoder_graph.with_findings([f]),
        tmp_path / "enc.svg",
        Options(engine="embedded", max_nodes=50),
    )
    overview = svg_nodes(out.path)
    block = overview[dot_id("g:layers.0-5")]
    assert "(!) saved v0, now v1" in block  # the badge, on the group that holds the node
    assert "(!) saved-tensor-modified inside" in block
