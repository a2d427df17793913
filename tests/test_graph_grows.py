"""graph-grows: a recurrent state carried across batches under retain_graph=True makes every
backward call go through all the earlier batches. On hand-built events (what makes a finding
and what does not) and on real torch runs under ``watch`` (the finding, the legitimate twins:
truncated BPTT with detach, a growing graph whose state is detached, an auxiliary loss)."""

from __future__ import annotations

import torch
import torch.nn as nn

import graphscope
from graphscope.checks import graph_grows, graph_kept_alive, run_checks
from graphscope.model import BackwardCall, Events, GraphCarry, RunList

F = "train.py"


def calls(sizes: list[int], *, line: int = 20, retain: bool = True, start: int = 1) -> list:
    return [
        BackwardCall(
            start + i,
            "backward",
            F,
            line,
            ("loss",),
            ((),),
            (True,),
            retain,
            False,
            False,
            f"g{start + i}",
            nodes=n,
        )
        for i, n in enumerate(sizes)
    ]


def carry(after: int, into: int | None, *, line: int = 14, same: bool = False) -> GraphCarry:
    return GraphCarry("lstm", F, line, None, "state", after, 0, same, into_call=into, in_tuple=True)


def events(backward: list, carries: list) -> Events:
    ev = Events(carries=carries)
    for c in backward:
        ev.backward.append(c)
    return ev


def kinds(ev: Events) -> list[tuple[str, str, int | None]]:
    return [(f.kind, f.severity, f.line) for f in run_checks([], ev)]


def test_a_growing_run_through_a_carried_state_is_one_warning_at_the_carrying_line() -> None:
    ev = events(calls([16, 22, 28, 34, 40]), [carry(1, 2)])
    [f] = run_checks([], ev)
    assert (f.kind, f.severity, f.file, f.line) == ("graph-grows", "warning", F, 14)
    assert [(r.line, r.what) for r in f.related] == [(20, "backward with retain_graph=True")]
    assert "state carries the previous batch's graph" in f.message
    assert "from 16 to 40 backward nodes over 5 calls" in f.message
    assert "`state = tuple(t.detach() for t in state)`" in f.hint
    assert "drop retain_graph=True" in f.hint


def test_a_plain_tensor_state_gets_the_plain_detach() -> None:
    c = GraphCarry("rnn", F, 14, None, "h", 1, 0, False, into_call=2)
    [f] = run_checks([], events(calls([16, 22, 28, 34]), [c]))
    assert "`h = h.detach()`" in f.hint and "tuple(" not in f.hint


def test_what_is_not_a_growing_graph() -> None:
    link = [carry(1, 2)]
    # sizes that go up and down (variable-length batches), or start over (truncated BPTT)
    assert kinds(events(calls([16, 30, 22, 40, 50]), link)) == []
    assert kinds(events(calls([16, 22, 28, 16, 22, 28, 34]), link)) == []
    # a steady graph (a shared precomputed part reused under retain_graph=True)
    assert kinds(events(calls([16, 16, 16, 16, 16]), link)) == []
    # a short run is not yet a trend
    assert kinds(events(calls([16, 22, 28]), link)) == []
    # no retain_graph: the second call would have raised (graph-freed's)
    assert kinds(events(calls([16, 22, 28, 34], retain=False), link)) == []
    # growing, but no carried state reaches back (a growing state that is detached)
    assert kinds(events(calls([16, 22, 28, 34]), [carry(1, None)])) == []
    # a state kept for another line's backward (an auxiliary loss), not this run's next call
    aux = calls([10, 12, 14, 16], line=30, start=10)
    assert kinds(events(calls([16, 22, 28, 34]) + aux, [carry(1, 10)])) == []
    # a call that failed in the run: that error is the finding, not a growth
    failed = calls([16, 22, 28, 34])
    failed[2] = BackwardCall(
        3,
        "backward",
        F,
        20,
        ("loss",),
        ((),),
        (True,),
        True,
        False,
        False,
        "g3",
        error="boom",
        nodes=28,
    )
    assert "graph-grows" not in [k for k, _, _ in kinds(events(failed, [carry(1, 2)]))]


def test_a_recurrent_update_on_one_line_is_not_also_a_running_total() -> None:
    """``context = torch.tanh(0.9 * context + e)``: made and carried by one line, like
    ``total += loss``; when the next calls go back through it, it is graph-grows alone."""
    ev = events(calls([16, 22, 28, 34]), [carry(1, 2, same=True)])
    assert [k for k, _, _ in kinds(ev)] == ["graph-grows"]
    kept = list(graph_kept_alive.check(None, ev))  # type: ignore[arg-type]
    assert [(f.kind, f.line) for f in kept] == [("graph-kept-alive", 14)]  # run_checks drops it
    total = events(calls([16, 16, 16, 16]), [carry(1, None, same=True)])
    assert [k for k, _, _ in kinds(total)] == ["graph-kept-alive"]


def test_a_growing_log_is_stored_as_one_run() -> None:
    log: RunList[BackwardCall] = Events().backward
    for c in calls([16 + 6 * i for i in range(1000)]):
        log.append(BackwardCall(**{**c.__dict__, "graph": None}))
    assert len(log) == 1000 and len(log.runs()) == 1
    assert log[999].nodes == 16 + 6 * 999
    assert graph_grows.growing(events(list(log), [carry(1, 2)]))


# -- real runs -----------------------------------------------------------------------------------


def _lm(detach: bool, retain: bool, batches: int = 5) -> graphscope.Scope:
    torch.manual_seed(0)
    embed, lstm, head = nn.Embedding(12, 8), nn.LSTM(8, 8), nn.Linear(8, 12)
    text = torch.randint(0, 12, (4 * batches + 1, 2))
    state = None
    with graphscope.watch() as scope:
        for i in range(0, 4 * batches, 4):
            x, y = text[i : i + 4], text[i + 1 : i + 5]
            for m in (embed, lstm, head):
                m.zero_grad()
            if detach and state is not None:
                state = tuple(t.detach() for t in state)
            out, state = lstm(embed(x), state)
            loss = nn.functional.cross_entropy(head(out).reshape(-1, 12), y.reshape(-1))
            loss.backward(retain_graph=retain)
    return scope


def test_a_language_model_with_retain_graph_instead_of_detach() -> None:
    scope = _lm(detach=False, retain=True)
    sizes = [c.nodes for c in scope.events.backward]
    assert sizes == sorted(set(sizes)) and len(sizes) == 5  # it really grows
    [f] = [f for f in scope.findings if f.kind == "graph-grows"]
    assert f.severity == "warning" and f.line is not None
    assert "state carries" in f.message and f"from {sizes[0]} to {sizes[-1]}" in f.message
    assert "`state = tuple(t.detach() for t in state)`" in f.hint
    [k] = [k for k in scope.events.carries if k.into_call is not None]
    assert (k.name, k.into_call, k.in_tuple) == ("state", 2, True)
    # the picture: the last graph, marked at the first batch's LSTM op
    g = next(g for g in scope.graphs(scope.findings) if g.graph["id"] == f.graph)
    assert g.graph["id"] == scope.events.backward[-1].graph
    node = g.nodes[f.node]
    assert node["line"] == f.line and node["order"] == min(
        d["order"] for n in g.op_nodes() if (d := g.nodes[n]).get("line") == f.line
    )


def test_the_same_model_detached_is_clean_and_its_graph_is_steady() -> None:
    scope = _lm(detach=True, retain=False)
    assert len({c.nodes for c in scope.events.backward[1:]}) == 1
    assert [f.kind for f in scope.findings] == []


def test_an_auxiliary_loss_on_a_growing_but_detached_state_is_clean() -> None:
    torch.manual_seed(0)
    cell, head, aux = nn.GRUCell(3, 4), nn.Linear(4, 1), nn.Linear(4, 1)
    memory = torch.zeros(2, 4)
    with graphscope.watch() as scope:
        for step in range(5):
            h = memory
            for _ in range(2 + step):
                h = cell(torch.randn(2, 3), h)
            head(h).sum().backward(retain_graph=True)
            aux(h).sum().backward()
            memory = h.detach()
    assert [c.nodes for c in scope.events.backward][::2] == sorted(
        {c.nodes for c in scope.events.backward[::2]}
    )  # the first loss's graph grows every batch
    assert [k.into_call for k in scope.events.carries] == [2]  # the aux call, not call 3
    assert "graph-grows" not in [f.kind for f in scope.findings]
