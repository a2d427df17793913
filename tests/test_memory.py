"""Where the memory goes (graphscope.memory): saved-for-backward bytes per graph, by line and
module, and checkpointing advice.

Hand-built graphs give exact byte counts (views and shared storages once, parameters and
inputs apart). Real models are checked against torch itself: what
``torch.autograd.graph.saved_tensors_hooks`` sees saved per line (unique storages, in a run
without graphscope) within 1%, and the advice for a module against the saved bytes measured
after wrapping it in ``torch.utils.checkpoint(use_reentrant=False)`` within 10%.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

import graphscope
from graphscope.memory import fmt_bytes, graph_memory, run_memory
from graphscope.memory.text import memory_dict, memory_lines
from graphscope.model import AutogradGraph

HERE = os.path.abspath(__file__)
TORCH_DIR = os.path.dirname(torch.__file__)
GS_DIR = os.path.dirname(graphscope.__file__)

# -- hand-built graphs -------------------------------------------------------------------------


def _op(g: AutogradGraph, n: str, order: int, line: int, module: str | None, *saved: Any) -> None:
    g.add_node(
        n,
        kind="op",
        label=f"Op{order}Backward0",
        file="m.py",
        line=line,
        module=module,
        order=order,
        saved=[{"name": f"s{i}", "storage": k} for i, k in enumerate(saved)],
    )


def test_each_storage_counts_once_for_the_op_that_saved_it_first() -> None:
    g = AutogradGraph()
    # 0: an activation saved by three ops (a view, its base, a second reader); 1: a parameter
    # read by two layers; 2: the user's input; 3: a second activation
    g.graph["storages"] = [
        (1000, "activation", "a", 0),
        (300, "param", None, None),
        (50, "input", None, None),
        (4000, "activation", "b", 0),
    ]
    _op(g, "a", 0, 10, "net.l1", 2, 1)
    _op(g, "b", 1, 11, "net.l1", 0, 1)
    _op(g, "c", 2, 12, "net.l2", 0, 0, 3)
    _op(g, "d", 3, 13, "net.l2", 3, 1)
    g.add_edge("a", "b", output_nr=0, shape=(10,), dtype="float32")
    g.add_edge("b", "c", output_nr=0, shape=(250,), dtype="float32")
    g.add_edge("c", "d", output_nr=0, shape=(1000,), dtype="float32")
    m = graph_memory(g)
    assert m is not None
    assert (m.saved_bytes, m.activation_bytes, m.param_bytes, m.input_bytes) == (
        5350,
        5000,
        300,
        50,
    )
    assert [(r.line, r.bytes, r.node) for r in m.by_line] == [(12, 4000, "c"), (11, 1000, "b")]
    assert [(r.module, r.bytes) for r in m.by_module] == [("net.l2", 4000), ("net.l1", 1000)]


def test_checkpoint_frees_what_is_saved_inside_less_the_input_it_keeps() -> None:
    # x (op p, outside) -> block: f saves x's storage (0) and its own output (1), g saves f's
    # output (1) and makes 2, which the op outside (h) saves. Checkpointing "block" frees 1
    # (inside only) but keeps x: 0 is saved inside only, so it stays held as the boundary.
    g = AutogradGraph()
    g.graph["storages"] = [
        (100, "activation", "p", 0),
        (700, "activation", "f", 0),
        (60, "activation", "g", 0),
    ]
    g.graph["modules"] = {
        "net": {"cls": "Net"},
        "net.block": {"cls": "Block"},
        "net.block.f": {"cls": "F"},
        "net.head": {"cls": "H"},
    }
    _op(g, "p", 0, 1, "net")
    _op(g, "f", 1, 2, "net.block.f", 0, 1)
    _op(g, "g", 2, 3, "net.block", 1)
    _op(g, "h", 3, 4, "net.head", 2)
    for u, v in (("p", "f"), ("f", "g"), ("g", "h")):
        g.add_edge(u, v, output_nr=0, shape=(5,), dtype="float32")
    m = graph_memory(g)
    assert m is not None
    advice = {c.module: (c.frees_bytes, c.recompute_ops) for c in m.checkpoint}
    # block: saved inside only 0 and 1 (800), keeps x (0: 100) -> 700; 2 is saved outside
    assert advice["net.block"] == (700, 2)
    # block.f alone: 0 inside only (100) kept again as its input; 1 is saved by g too -> 0
    assert "net.block.f" not in advice
    # head: saves 2, which g (outside) made: its boundary is that same storage -> 0
    assert "net.head" not in advice
    assert "net" not in advice  # the whole model: its parts are the advice


def test_an_unsaved_input_of_a_checkpointed_module_costs_its_edge_bytes() -> None:
    g = AutogradGraph()
    g.graph["storages"] = [(4000, "activation", "f", 0)]
    g.graph["modules"] = {"m": {"cls": "M"}}
    _op(g, "p", 0, 1, None)
    _op(g, "f", 1, 2, "m", 0)  # saves its own output (exp), not its input
    g.add_edge("p", "f", output_nr=0, shape=(10, 10), dtype="float16")  # 200 bytes kept
    m = graph_memory(g)
    assert m is not None
    assert [(c.module, c.frees_bytes) for c in m.checkpoint] == [("m", 3800)]


def test_repeated_blocks_are_advised_together_and_a_container_never() -> None:
    g = AutogradGraph()
    g.graph["storages"] = [(1000, "activation", f"s{i}", 0) for i in range(3)]
    g.graph["modules"] = {
        "net": {"cls": "Net"},
        **{f"net.blocks.{i}": {"cls": "Block"} for i in range(3)},
    }
    _op(g, "p", -1, 9, None)
    prev = "p"  # an op outside: its output (20 bytes, saved by nobody) is the blocks' input
    for i in range(3):
        _op(g, f"s{i}", 2 * i, 10, f"net.blocks.{i}", i)
        _op(g, f"t{i}", 2 * i + 1, 11, f"net.blocks.{i}")
        g.add_edge(f"s{i}", f"t{i}", output_nr=0, shape=(250,), dtype="float32")
        g.add_edge(prev, f"s{i}", output_nr=0, shape=(5,), dtype="float32")
        prev = f"t{i}"
    m = graph_memory(g)
    assert m is not None
    advice = {c.module: (c.frees_bytes, c.members) for c in m.checkpoint}
    assert advice["net.blocks.*"] == (3000 - 20, ("net.blocks.0", "net.blocks.1", "net.blocks.2"))
    assert advice["net.blocks.0"][0] == 1000 - 20
    assert "net" not in advice and "net.blocks" not in advice  # the whole model; a container
    assert m.checkpoint[0].module == "net.blocks.*"


def test_the_peak_is_the_graph_that_held_most_and_growth_is_said() -> None:
    graphs = []
    for i, size in enumerate((100, 200, 300), start=1):
        g = AutogradGraph()
        g.graph.update(id=f"g{i}", calls=[i], storages=[(size, "activation", "a", 0)])
        _op(g, "a", 0, 5, None, 0)
        graphs.append(g)
    run = run_memory(graphs)
    assert run is not None and run.peak is not None
    d = memory_dict(run)
    assert (d["peak_graph"], d["peak_saved_bytes"]) == ("g3", 300)
    assert [d["graphs"][f"g{i}"]["saved_bytes"] for i in (1, 2, 3)] == [100, 200, 300]
    text = "\n".join(memory_lines(run))
    assert "peak: g3, first at backward call 3, held the most (300 B)" in text
    assert "across calls: call 1 100 B -> call 2 200 B -> call 3 300 B" in text
    assert "grew from graph to graph" in text


def test_a_graph_without_storages_has_no_figures() -> None:
    g = AutogradGraph()
    _op(g, "a", 0, 5, None)
    assert graph_memory(g) is None and run_memory([g]) is None


def test_human_units() -> None:
    assert [fmt_bytes(n) for n in (12, 2048, 48 * 2**20, 5 * 2**30)] == [
        "12 B",
        "2.0 KiB",
        "48.0 MiB",
        "5.0 GiB",
    ]


# -- real torch runs -----------------------------------------------------------------------------


def test_views_and_shared_storages_of_a_real_trace_count_once() -> None:
    x = torch.randn(64, 32)  # 8 KiB input
    w = torch.randn(32, 32, requires_grad=True)  # 4 KiB parameter
    h = x @ w  # MmBackward saves x (input); h: 8 KiB
    a = h.exp()  # saves its result a: 8 KiB
    b = a.t() * a.t()  # MulBackward saves the view a.t() twice: a's storage again
    c = a[:2].sigmoid()  # saves its result (1 row... 256 B) and nothing of a
    loss = b.sum() + c.sum()
    m = graph_memory(graphscope.trace(loss, memory=True))
    assert m is not None
    assert (m.input_bytes, m.param_bytes) == (64 * 32 * 4, 0)
    assert m.activation_bytes == 64 * 32 * 4 + 2 * 32 * 4
    assert m.saved_bytes == m.activation_bytes + m.input_bytes


def _user_line() -> tuple[str, int] | None:
    f = sys._getframe(2)
    while f is not None:
        name = f.f_code.co_filename
        if not name.startswith((TORCH_DIR, GS_DIR)) and "<frozen" not in name:
            return name, f.f_lineno
        f = f.f_back
    return None


def _hooks_view(
    run: Callable[[], torch.Tensor], params: list[torch.Tensor], inputs: list[torch.Tensor]
) -> tuple[dict[tuple[str, int], int], int]:
    """What saved_tensors_hooks sees: activation bytes per line of the first save of each
    storage (parameters' and inputs' storages left out), and their total."""
    fixed = {p.untyped_storage().data_ptr() for p in params + inputs}
    first: dict[int, tuple[tuple[str, int] | None, int]] = {}
    keep: list[torch.Tensor] = []  # no storage freed and reused while we count

    def pack(t: torch.Tensor) -> torch.Tensor:
        keep.append(t)
        try:
            s = t.untyped_storage()
        except Exception:
            return t
        ptr = s.data_ptr()
        if ptr not in fixed and ptr not in first:
            first[ptr] = (_user_line(), s.nbytes())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        run()
    lines: dict[tuple[str, int], int] = {}
    for where, nbytes in first.values():
        if where is not None:
            lines[where] = lines.get(where, 0) + nbytes
    return lines, sum(n for _, n in first.values())


def _graphscope_view(run: Callable[[], torch.Tensor]) -> Any:
    with graphscope.watch() as scope:
        run().backward()
    (g,) = scope.captures
    m = graph_memory(g)
    assert m is not None
    return m


def _compare(run: Callable[[], torch.Tensor], params: list[torch.Tensor], inputs: list[Any]) -> Any:
    torch.manual_seed(0)
    lines, total = _hooks_view(run, params, inputs)
    torch.manual_seed(0)
    m = _graphscope_view(run)
    ours = {(r.file, r.line): r.bytes for r in m.by_line}
    assert total > 0
    assert abs(m.activation_bytes - total) <= 0.01 * total, (m.activation_bytes, total)
    for where, nbytes in lines.items():
        if nbytes >= 0.01 * total:
            assert abs(ours.get(where, 0) - nbytes) <= 0.01 * nbytes, (
                where,
                ours.get(where),
                nbytes,
            )
    return m


class Attention(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=-1)
        q = q.view(b, t, self.heads, -1).transpose(1, 2)
        k = k.view(b, t, self.heads, -1).transpose(1, 2)
        v = v.view(b, t, self.heads, -1).transpose(1, 2)
        scores = q @ k.transpose(-2, -1) / (q.shape[-1] ** 0.5)
        att = scores.softmax(-1)
        return self.proj((att @ v).transpose(1, 2).reshape(b, t, d))


class Block(nn.Module):
    def __init__(self, d: int, heads: int, ckpt: bool = False) -> None:
        super().__init__()
        self.ckpt = ckpt
        self.ln1 = nn.LayerNorm(d)
        self.attn = Attention(d, heads)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.ln1(x)
        a = checkpoint(self.attn, h, use_reentrant=False) if self.ckpt else self.attn(h)
        x = x + a
        return x + self.mlp(self.ln2(x))


def _gpt(ckpt: bool = False) -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    blocks = nn.Sequential(*(Block(32, 4, ckpt) for _ in range(2)))
    return blocks, torch.randn(2, 128, 32)


def test_a_gpt_block_per_line_matches_saved_tensors_hooks_and_softmax_comes_first() -> None:
    model, x = _gpt()
    m = _compare(lambda: model(x).square().mean(), list(model.parameters()), [x])
    top = m.by_line[0]
    assert (top.file, top.ops[0]) == (HERE, "SoftmaxBackward0")
    assert "att = scores.softmax(-1)" in open(HERE).read().splitlines()[top.line - 1]


def test_checkpointing_the_attention_frees_what_the_advice_says() -> None:
    model, x = _gpt()
    m = _graphscope_view(lambda: model(x).square().mean())
    (advice,) = [c for c in m.checkpoint if c.module.endswith(".*.attn")]
    assert [p.rpartition(".")[0][-1] for p in advice.members] == ["0", "1"]
    params = list(model.parameters())
    _, before = _hooks_view(lambda: model(x).square().mean(), params, [x])
    ck_model, _ = _gpt(ckpt=True)
    ck_model.load_state_dict(model.state_dict())
    ck_params = list(ck_model.parameters())
    _, after = _hooks_view(lambda: ck_model(x).square().mean(), ck_params, [x])
    measured = before - after
    assert abs(measured - advice.frees_bytes) <= 0.10 * measured, (measured, advice.frees_bytes)
    # and graphscope's own figure after following the advice drops by that much
    m_after = _graphscope_view(lambda: ck_model(x).square().mean())
    dropped = m.activation_bytes - m_after.activation_bytes
    assert abs(dropped - advice.frees_bytes) <= 0.10 * dropped, (dropped, advice.frees_bytes)


class UNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.down1 = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
        self.down2 = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.ReLU())
        self.up = nn.ConvTranspose2d(16, 8, 2, stride=2)
        self.out = nn.Conv2d(16, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d1 = self.down1(x)
        d2 = self.down2(F.max_pool2d(d1, 2))
        u = self.up(d2)
        return self.out(torch.cat([u, d1], dim=1))


def test_a_unet_per_line_matches_saved_tensors_hooks() -> None:
    torch.manual_seed(0)
    model, x = UNet(), torch.randn(2, 3, 32, 32)
    _compare(lambda: model(x).square().mean(), list(model.parameters()), [x])


def test_an_lstm_unroll_per_line_matches_saved_tensors_hooks() -> None:
    torch.manual_seed(0)
    cell, head = nn.LSTMCell(16, 32), nn.Linear(32, 4)
    xs, h0 = torch.randn(12, 8, 16), torch.zeros(8, 32)

    def run() -> torch.Tensor:
        h = c = h0
        outs = []
        for t in range(xs.shape[0]):
            h, c = cell(xs[t], (h, c))
            outs.append(head(h))
        return torch.stack(outs).square().mean()

    params = [*cell.parameters(), *head.parameters()]
    _compare(run, params, [xs, h0])


@pytest.mark.slow
def test_a_bert_per_line_matches_saved_tensors_hooks() -> None:
    transformers = pytest.importorskip("transformers", reason="transformers is not installed")
    config = transformers.BertConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
        attn_implementation="eager",
    )
    torch.manual_seed(0)
    model = transformers.BertModel(config)
    ids = torch.randint(0, 100, (2, 48))

    def run() -> torch.Tensor:
        out = model(input_ids=ids)
        return out.last_hidden_state.square().mean() + out.pooler_output.square().mean()

    m = _compare(run, list(model.parameters()), [ids, *model.buffers()])
    assert m.checkpoint and m.checkpoint[0].frees_bytes > 0


def test_the_report_names_the_softmax_line_and_the_attention_blocks(tmp_path: Any) -> None:
    script = tmp_path / "gpt.py"
    script.write_text(
        "import torch, torch.nn as nn\n"
        "from tests.test_memory import Block\n"
        "torch.manual_seed(0)\n"
        "model = nn.Sequential(*(Block(32, 4) for _ in range(2)))\n"
        "x = torch.randn(2, 128, 32)\n"
        "model(x).square().mean().backward()\n"
    )
    from graphscope.runner import check_script

    rep = check_script(str(script), [])
    text = rep.text()
    assert "top lines of g1:" in text
    first = text.split("top lines of g1:\n")[1].splitlines()[0]
    assert "`att = scores.softmax(-1)`" in first and "in model[*].attn" in first, first
    d = json.loads(rep.to_json())["memory"]
    g1 = d["graphs"]["g1"]
    assert g1["by_line"][0]["line"] == _line_of("att = scores.softmax(-1)")
    assert any(c["module"] == "model.*.attn" for c in g1["checkpoint"][:3])


def _line_of(code: str) -> int:
    for i, text in enumerate(open(HERE).read().splitlines(), start=1):
        if code in text and "_line_of" not in text and "assert" not in text:
            return i
    raise AssertionError(code)


ATTENTION = os.path.join(os.path.dirname(HERE), "scripts", "memory", "attention.py")


def _check_json(*args: str) -> dict[str, Any]:
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-m", "graphscope", "check", ATTENTION, *args, "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


@pytest.mark.slow
def test_following_the_advice_drops_the_reported_total_by_what_it_said() -> None:
    """The issue's user story: the softmax line first, the attention blocks advised, and
    checkpointing them (--checkpoint) drops the activations by the bytes advised."""
    before = _check_json()
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is in the dev extra")
    from importlib.resources import files

    schema = json.loads(files("graphscope").joinpath("report.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(before)
    mem = before["memory"]
    g1 = mem["graphs"]["g1"]
    assert (mem["peak_graph"], mem["peak_saved_bytes"]) == ("g1", g1["saved_bytes"])
    top = g1["by_line"][0]
    # the two blocks' softmax results, (2, 4, 128, 128) float32 each
    assert (top["line"], top["bytes"], top["ops"]) == (
        28,
        2 * 2 * 4 * 128 * 128 * 4,
        ["SoftmaxBackward0"],
    )
    assert top["module"] == "blocks.*.attn"
    assert [b["bytes"] for b in g1["by_line"]] == sorted(
        (b["bytes"] for b in g1["by_line"]), reverse=True
    )
    (advice,) = [c for c in g1["checkpoint"] if c["module"] == "blocks.*.attn"]
    assert advice["modules"] == ["blocks.0.attn", "blocks.1.attn"]
    after = _check_json("--checkpoint")["memory"]["graphs"]["g1"]
    dropped = g1["activation_bytes"] - after["activation_bytes"]
    assert abs(dropped - advice["frees_bytes"]) <= 0.01 * dropped, (dropped, advice)
    assert all(b["line"] != 28 for b in after["by_line"])  # the scores are no longer held


def test_scope_memory_is_a_table_in_a_notebook_and_text_in_a_terminal() -> None:
    model, x = _gpt()
    with graphscope.watch() as scope:
        model(x).square().mean().backward()
    table = scope.memory()
    text = repr(table)
    assert text.startswith("memory saved for backward")
    assert (
        "(`att = scores.softmax(-1)`, in model[*].attn)"
        in text.split("top lines of g1:\n")[1].splitlines()[0]
    )
    page = table._repr_html_()
    assert page.count("<table>") == 4 and "att = scores.softmax(-1)" in page
    assert "<td>each of model[*].attn (2)</td>" in page
    assert table.to_dict()["peak_graph"] == "g1"
    with graphscope.watch() as empty:
        pass
    assert "no saved tensors recorded" in repr(empty.memory())
    assert empty.memory().to_dict() == {"graphs": {}, "peak_saved_bytes": 0, "peak_graph": None}


def test_the_reference_count_of_a_tensor_only_the_graph_holds_is_measured_under_any_mode() -> None:
    from graphscope.tracer import saved

    plain = saved._alone()
    with torch.no_grad(), torch.inference_mode():
        assert saved._alone() == plain
    x = torch.randn(3)  # the user's: held by this frame too
    y = (torch.ones(3, requires_grad=True) * x).sum()
    mask = (torch.rand(3) > 0.5).float()  # made here, but the user holds it too
    z = (torch.ones(3, requires_grad=True) * (torch.rand(3) > 0.5).float()).sum()  # graph only
    g = graphscope.trace(y + z + (torch.ones(3, requires_grad=True) * mask).sum(), memory=True)
    holds = sorted(h for _, h, _, _ in g.graph["storages"])
    assert holds == ["activation", "input", "input"]
    assert "storages" not in graphscope.trace(y).graph  # a plain trace records none
