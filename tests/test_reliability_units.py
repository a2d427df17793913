"""The pieces behind issue 10's fixes, tested in process (the subprocess cases are in
test_reliability.py): freeing deep graphs in steps, runs of records, safe DOT names and file
names, usage errors, the note about other threads, warnings at the caller's frame."""

from __future__ import annotations

import resource
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

import graphscope
from graphscope.dot import dot_id, to_dot
from graphscope.draw import _file_name, _Files
from graphscope.errors import GraphscopeError, TraceError, UsageError
from graphscope.model import AutogradGraph, RunList
from graphscope.tracer import SPACING, protect
from graphscope.tracer.freeing import KEY


def _chain(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    w = torch.tensor([1.0], requires_grad=True)
    h = w
    for _ in range(n):
        h = h * 1.0
    return w, h


def _held(h: torch.Tensor) -> list[int]:
    """Depths (from the root) of the nodes holding anchors."""
    out, fn, depth = [], h.grad_fn, 0
    while fn is not None and fn.next_functions:
        if KEY in fn.metadata:
            out.append(depth)
        fn, depth = fn.next_functions[0][0], depth + 1
    return out


# -- freeing deep graphs ---------------------------------------------------------------------------


def test_a_shallow_graph_gets_nothing() -> None:
    w, h = _chain(SPACING - 10)
    assert protect([h]) == 0
    assert _held(h) == []  # no metadata entry: nothing of ours on the user's nodes


def test_a_deep_chain_is_held_every_spacing_nodes_and_idempotently() -> None:
    w, h = _chain(5 * SPACING + 7)
    placed = protect([h])
    # anchors sit where the height (nodes below, down to the leaf) crosses a multiple of
    # SPACING; the root and each anchor with an anchor below it hold that one
    assert placed == 5 and _held(h) == [0, 7, 7 + SPACING, 7 + 2 * SPACING, 7 + 3 * SPACING]
    assert protect([h]) == 0  # a second walk adds nothing
    h.backward()
    assert w.grad is not None and w.grad.item() == 1.0


def test_freeing_through_the_holds_frees_everything() -> None:
    import weakref

    w, h = _chain(3 * SPACING)
    saved = h.grad_fn.next_functions[0][0]  # noqa: F841 - a node's wrapper, as a walk leaves
    probe = torch.ones(1, requires_grad=True)
    tail = (h * probe).sum()
    ref = weakref.ref(probe)
    protect([tail])
    del saved, tail, h
    del probe
    assert ref() is None  # the saved tensor went with the graph


def test_trace_leaves_the_stack_limit_alone() -> None:
    before = resource.getrlimit(resource.RLIMIT_STACK)
    _, h = _chain(10)
    graphscope.trace(h)
    assert resource.getrlimit(resource.RLIMIT_STACK) == before


# -- runs ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rec:
    index: int
    after: int
    line: int


def test_runlist_reads_back_what_it_was_given() -> None:
    items = [_Rec(i, 3 * i, 7) for i in range(50)] + [_Rec(50, 150, 8), _Rec(51, 151, 8)]
    log = RunList(stepping=("index", "after"))
    for x in items:
        log.append(x)
    assert list(log) == items and log == items and len(log) == 52
    assert [log[i] for i in (0, 17, 49, 50, -1)] == [items[i] for i in (0, 17, 49, 50, -1)]
    assert log[10:13] == items[10:13]
    assert len(log.runs()) == 2  # 50 records as one run, then the two on line 8
    assert _Rec(17, 51, 7) in log and _Rec(17, 52, 7) not in log
    log[0] = _Rec(0, 1, 7)
    assert log[0] == _Rec(0, 1, 7) and log[1:] == items[1:]


def test_runlist_of_call_numbers() -> None:
    calls = RunList([1, 2, 3, 4, 10, 12, 14])
    assert list(calls) == [1, 2, 3, 4, 10, 12, 14]
    assert calls.runs() == [(1, 4), (10, 3)]  # steps of 1, then of 2
    assert 3 in calls and 12 in calls and 11 not in calls and 5 not in calls


def test_a_training_loops_log_is_a_few_runs() -> None:
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(4, 3)
    with graphscope.watch() as scope:
        for _ in range(200):
            opt.zero_grad()
            model(x).pow(2).sum().backward()
            opt.step()
    assert len(scope.events.backward) == 200 and len(scope.events.steps) == 200
    assert len(scope.events.backward.runs()) <= 3
    assert len(scope.events.steps.runs()) <= 3
    assert list(scope.captures[0].graph["calls"]) == list(range(1, 201))
    assert [s.after_call for s in scope.events.steps] == list(range(1, 201))


# -- names -----------------------------------------------------------------------------------------

HOSTILE = ["back\\", 'quo"te', "new\nline", "<!--<script>", "x" * 300, "модель", "100%", "a b"]


def test_dot_ids_are_plain_names() -> None:
    ids = [dot_id(f"g:{name}") for name in HOSTILE]
    assert all(i.startswith("_") and i[1:].isalnum() and i.isascii() for i in ids)
    assert len(set(ids)) == len(ids)
    assert dot_id("n12") == "n12" and dot_id("g:a") == dot_id("g:a")


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs the system Graphviz dot")
def test_a_graph_with_hostile_module_names_is_valid_dot() -> None:
    g = AutogradGraph()
    g.add_node("n0", kind="tensor", label="loss", name="loss", role="root", shape=(1,))
    for i, name in enumerate(HOSTILE, 1):
        g.add_node(f"n{i}", kind="op", label="MulBackward0", name="MulBackward0", module=name)
        g.add_node(f"g:{name}", kind="op", label=name, name=name, module=name)
        g.add_edge(f"n{i}", "n0")
        g.add_edge(f"g:{name}", f"n{i}")
    g.graph["roots"] = ["n0"]
    source = to_dot(g)
    proc = subprocess.run(["dot", "-Tsvg"], input=source, capture_output=True, text=True)
    assert proc.returncode == 0 and "syntax error" not in proc.stderr, proc.stderr


def test_file_names_are_short_ascii_and_distinct() -> None:
    out = Path("/tmp/run.g1.svg")
    files = _Files(out)
    names = [files._new(n).name for n in [*HOSTILE, "a_b"]]
    assert all(n.isascii() and len(n) <= 140 and n.endswith(".svg") for n in names)
    assert len(set(names)) == len(names)  # "a b" and "a_b" do not share a file
    assert _file_name(out, "x" * 300) == _file_name(out, "x" * 300)  # stable
    assert len(_file_name(out, "x" * 300)) < 140  # cut, with a hash of the whole name


# -- usage errors ----------------------------------------------------------------------------------


def test_bad_arguments_are_clear_errors(tmp_path: Path) -> None:
    w = torch.ones(2, requires_grad=True)
    loss = (w * 2).sum()
    cases = [
        (lambda: graphscope.trace(loss, params=42), TraceError, "params must be a module"),
        (
            lambda: graphscope.render(loss, tmp_path / "a.svg", max_nodes="abc"),
            UsageError,
            "max_nodes must be a positive int (got 'abc'",
        ),
        (lambda: graphscope.render(loss, tmp_path), UsageError, "is a directory"),
        (
            lambda: graphscope.render(loss, tmp_path / "b.svg", expand="abc"),
            UsageError,
            "expand must be a list of module paths",
        ),
        (
            lambda: graphscope.watch(max_graphs=0).__enter__(),
            UsageError,
            "max_graphs must be None or at least 1 (got 0)",
        ),
        (lambda: graphscope.watch(sample="x").__enter__(), UsageError, "sample must be None"),
        (lambda: graphscope.watch(names=3).__enter__(), UsageError, "names must be a dict"),
        (lambda: graphscope.watch(params=42).__enter__(), UsageError, "params must be a module"),
    ]
    for call, kind, text in cases:
        with pytest.raises(kind) as info:
            call()
        assert isinstance(info.value, GraphscopeError) and text in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written
    assert sorted(p.name for p in tmp_path.parent.iterdir() if p.suffix == ".svg") == []
    assert torch._C._len_torch_function_stack() == 0  # and nothing left installed


def test_watch_reads_params_pairs_once() -> None:
    model = torch.nn.Linear(2, 1)
    with graphscope.watch(params=model.named_parameters()) as scope:
        model(torch.ones(1, 2)).sum().backward()
    labels = {d.get("label") for _, d in scope.captures[0].nodes(data=True)}
    assert {"weight", "bias"} <= labels


# -- threads ---------------------------------------------------------------------------------------


def test_backward_calls_in_other_threads_are_noted() -> None:
    w = torch.ones(2, requires_grad=True)

    def work() -> None:
        for _ in range(3):
            (w * 2).sum().backward()

    with graphscope.watch() as scope:
        t = threading.Thread(target=work, name="loader")
        t.start()
        t.join()
        (w * 3).sum().backward()
    assert len(scope.events.backward) == 1
    assert scope.notes == [
        "3 backward call(s) in other threads (loader) were not captured: graphscope watches "
        "the thread that started it (MainThread)"
    ]
    assert "3 backward call(s) in other threads (loader)" in scope.report()
    assert w.grad is not None and w.grad.tolist() == [9.0, 9.0]


# -- warnings at the caller's frame ----------------------------------------------------------------


def test_torchs_warning_comes_from_the_users_line_under_watch(tmp_path: Path) -> None:
    """In a fresh interpreter: torch warns about a scalar conversion once per process."""
    script = tmp_path / "warns.py"
    script.write_text(
        "import warnings, torch, graphscope\n"
        "w = torch.ones(2, requires_grad=True)\n"
        "with graphscope.watch(), warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    h = w * 2\n"
        "    _ = h.grad  # line 6: the line torch's warning must point at\n"
        "    float((w * 2).sum())  # line 7\n"
        "print([(c.filename.rsplit('/', 1)[-1], c.lineno) for c in caught])\n"
    )
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[('warns.py', 6), ('warns.py', 7)]"
