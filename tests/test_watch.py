"""watch: captures at every backward call, accumulation history, cleanup, no effect on results."""

from __future__ import annotations

import gc
import weakref

import pytest
import torch
import torch.autograd.graph as autograd_graph
import torch.optim.optimizer as optim_module
from torch.nn.modules import module as nn_module

import graphscope
from graphscope.watcher import watch


def _installed() -> tuple[object, ...]:
    return (
        autograd_graph._engine_run_backward,
        torch.autograd._engine_run_backward,
        torch.autograd.backward,
        torch.autograd.grad,
        torch._C._len_torch_function_stack(),
        len(nn_module._global_forward_hooks),
        len(nn_module._global_forward_pre_hooks),
        len(optim_module._global_optimizer_post_hooks),
        # the recorder's wrappers (grad-mode switches, resets, optimizer construction,
        # functional_call's reparametrization)
        torch.autograd.grad_mode.set_grad_enabled.__init__,
        torch.autograd.grad_mode.inference_mode.__enter__,
        torch.optim.Optimizer.zero_grad,
        torch.optim.Optimizer.__init__,
        torch.nn.Module.zero_grad,
        torch.nn.utils.stateless._reparametrize_module,
    )


def _train(model: torch.nn.Module, steps: int = 3) -> list[torch.Tensor]:
    torch.manual_seed(1)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    data = torch.randn(16, 6)
    for _ in range(steps):
        opt.zero_grad()
        loss = model(data).pow(2).mean()
        loss.backward()
        opt.step()
        with torch.no_grad():
            for p in model.parameters():
                p.data.mul_(0.999)
    return [p.detach().clone() for p in model.parameters()] + [
        p.grad.clone() for p in model.parameters()
    ]


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))


def test_gradients_and_parameters_are_bit_identical_under_watch() -> None:
    plain = _train(_model())
    with watch() as scope:
        watched = _train(_model())
    assert all(torch.equal(a, b) for a, b in zip(plain, watched, strict=True))
    assert len(scope.events.backward) == 3 and len(scope.captures) == 1


def test_everything_installed_is_removed_even_on_error() -> None:
    before = _installed()
    try:
        with watch():
            assert _installed() != before
            w = torch.ones(1, requires_grad=True)
            (w * 2).sum().backward()
            raise KeyError("user error")
    except KeyError:
        pass
    assert _installed() == before


def test_no_tensor_created_inside_is_kept_alive() -> None:
    with watch() as scope:
        w = torch.tensor([1.0, 2.0], requires_grad=True)
        h = torch.tanh(w) * 2
        loss = h.sum()
        loss.backward()
        refs = [weakref.ref(t) for t in (h, loss)]
    del h, loss
    gc.collect()
    assert all(r() is None for r in refs)
    assert scope.captures and scope.captures[0].by_name("h") is not None


def test_seed_row8_accumulation_history_5_10_15_20() -> None:
    w = torch.tensor([1.0], requires_grad=True)
    x = torch.tensor([2.0], requires_grad=True)
    with watch() as scope:
        for _ in range(4):
            a = torch.add(w, x)
            b = torch.add(w, 1)
            y = torch.mul(a, b)
            y.backward()
    g = scope.captures[0]
    assert g.graph["calls"] == [1, 2, 3, 4]
    hist = g.nodes[g.by_name("w")]["grad_history"]
    assert [h["first"] for h in hist] == [[5.0], [10.0], [15.0], [20.0]]
    ups = [(u.call, u.before) for u in scope.events.grads if u.name == "w"]
    assert ups == [(1, "none"), (2, "kept"), (3, "kept"), (4, "kept")]


def test_zeroed_gradients_do_not_accumulate() -> None:
    w = torch.tensor([1.0], requires_grad=True)
    with watch() as scope:
        for _ in range(3):
            y = (w + 2) * (w + 1)
            y.backward()
            w.grad.zero_()
    # a reset that starts no accumulation is not worth keeping: only the last one is written
    assert [(u.call, u.before, u.grad) for u in scope.events.grads] == [
        (3, "zero", {"shape": [1], "numel": 1})
    ]
    assert scope.findings == []
    g = scope.captures[0]
    assert g.nodes[g.by_name("w")]["grad"]["first"] == [5.0]  # read once, for the picture


def test_backward_calls_record_arguments_and_errors() -> None:
    w = torch.tensor([1.0], requires_grad=True)
    with watch() as scope:
        y = (w + 1) * (w + 2)
        y.backward(retain_graph=True)
        y.backward()
        try:
            y.backward()
        except RuntimeError:
            pass
        v = torch.cat([w * 2, w * 3])
        try:
            v.backward()
        except RuntimeError:
            pass
        v.backward(gradient=torch.ones(2))
        torch.autograd.grad((w * 3).sum(), w)
    calls = scope.events.backward
    assert [c.retain_graph for c in calls[:2]] == [True, False]
    assert calls[2].error_type == "RuntimeError" and "second time" in (calls[2].error or "")
    assert "implicitly created only for scalar outputs" in (calls[3].error or "")
    assert calls[3].root_shapes == ((2,),) and calls[3].gradient_given is False
    assert calls[4].gradient_given is True and calls[4].error is None
    assert calls[5].api == "grad"
    assert [c.index for c in calls] == [1, 2, 3, 4, 5, 6]


def test_source_lines_and_modules_on_op_nodes() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh())
    with watch() as scope:
        out = model(torch.ones(4, 2))
        loss = out.sum()  # this line's number is read below
        loss.backward()
    g = scope.captures[0]
    ops = {d["name"]: d for _, d in g.nodes(data=True) if d["kind"] == "op"}
    assert ops["AddmmBackward0"]["module"] == "model.0"  # from the variable
    assert ops["TanhBackward0"]["module"] == "model.1"
    import inspect

    src, start = inspect.getsourcelines(test_source_lines_and_modules_on_op_nodes)
    line = start + next(i for i, s in enumerate(src) if "loss = out.sum()" in s)
    assert ops["SumBackward0"]["line"] == line and ops["SumBackward0"]["file"] == __file__


def test_public_api_exposes_watch() -> None:
    assert graphscope.watch is watch


def test_a_long_loop_keeps_little_and_pauses_the_recorder_between_samples() -> None:
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    data = torch.ones(4, 3)
    depth = []
    with watch(sample=10) as scope:
        for _ in range(25):
            opt.zero_grad()
            loss = model(data).pow(2).mean()
            loss.backward()
            opt.step()
            depth.append(torch._C._len_torch_function_stack())
    # recorded in full at first, then only every 10th step (the mode is off the stack between)
    assert depth[:2] == [1, 1] and depth[2:9] == [0] * 7 and depth[9] == 1 and depth[10] == 0
    assert torch._C._len_torch_function_stack() == 0
    assert len(scope.events.backward) == 25 and len(scope.captures) == 1
    assert scope.events.ops == []  # turned into node attributes, then dropped
    assert scope.events.inplace == []  # the optimizer's permitted writes are not kept
    assert len(scope.events.grads) <= 4  # resets that started no accumulation are dropped
    assert [s.after_call for s in scope.events.steps] == list(range(1, 26))  # steps: every one
    assert scope.findings == []


def test_a_stale_tensor_in_a_repeated_graph_is_still_found() -> None:
    w = torch.tensor([1.0], requires_grad=True)
    x = torch.tensor([2.0], requires_grad=True)
    with watch() as scope:
        for i in range(3):
            a = torch.add(w, x)
            b = torch.add(w, 1)
            y = torch.mul(a, b)
            if i == 2:
                a.add_(1)
                try:
                    y.backward()
                except RuntimeError:
                    pass
            else:
                y.backward()
    kinds = {(f.kind, f.line) for f in scope.findings}
    import inspect

    src, start = inspect.getsourcelines(test_a_stale_tensor_in_a_repeated_graph_is_still_found)
    line = start + next(i for i, s in enumerate(src) if "a.add_(1)" in s)
    assert ("saved-tensor-modified", line) in kinds


def test_a_repeated_graph_shows_the_gradient_of_its_last_call() -> None:
    w = torch.tensor([1.0], requires_grad=True)
    with watch(sample=10) as scope:
        for i in range(1, 6):
            w.grad = None
            (w * i).sum().backward()
    g = scope.captures[0]
    d = g.nodes[g.by_name("w")]
    assert d["grad"]["first"] == [5.0] and d["grad_call"] == 5
    from graphscope.style import grad_text

    assert grad_text(d) == "grad=[5] (call 5)"


def test_a_bug_of_ours_never_reaches_the_users_backward(monkeypatch: pytest.MonkeyPatch) -> None:
    from graphscope.watcher.leaves import LeafTracker
    from graphscope.watcher.session import Session

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug in graphscope")

    monkeypatch.setattr(Session, "_capture", broken)
    monkeypatch.setattr(LeafTracker, "after", broken)
    w = torch.tensor([1.0], requires_grad=True)
    with pytest.warns(RuntimeWarning, match="internal error"), watch() as scope:
        ((w + 2) * (w + 1)).sum().backward()
    assert w.grad.tolist() == [5.0]  # the user's result, untouched
    assert scope.notes and "ZeroDivisionError" in scope.notes[0]
    assert "your program was not affected" in scope.report()


def test_a_bug_in_the_recorder_never_reaches_the_users_ops(monkeypatch: pytest.MonkeyPatch) -> None:
    from graphscope.recorder.ops import OpLog
    from graphscope.recorder.writes import Writes

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug in graphscope")

    monkeypatch.setattr(OpLog, "add", broken)
    monkeypatch.setattr(Writes, "_record", broken)
    w = torch.tensor([1.0], requires_grad=True)
    with watch():
        a = w * 3
        a.add_(1)
        a.sum().backward()
    assert a.tolist() == [4.0] and w.grad.tolist() == [3.0]


def test_written_tensors_are_named_except_at_weight_initialization() -> None:
    with watch() as scope:
        w = torch.zeros(3, requires_grad=True)
        opt = torch.optim.SGD([w], lr=0.1)
        (w * 2).sum().backward()
        opt.step()  # writes w from inside torch.optim: still named after the variable
        v = torch.empty(2)
        torch.nn.init.uniform_(v)  # a first write from inside torch.nn.init: not looked up
        u = torch.zeros(2)
        u.add_(1)  # a direct write: named
    by_name = {e.name: e for e in scope.events.inplace}
    assert by_name["w"].version_before == 0 and not by_name["w"].grad_enabled
    assert by_name["u"].api == "add_"
    (init,) = [e for e in scope.events.inplace if e.api == "uniform_"]
    assert init.name is None
    assert set(by_name) == {"w", "u", None}


def test_reading_findings_inside_watch_does_not_freeze_them() -> None:
    """Architecture bug 3: the first read of ``scope.findings`` used to be cached, so an
    accumulation recorded after it was never reported."""
    w = torch.tensor([1.0], requires_grad=True)
    with watch() as scope:
        (w * 2).sum().backward()
        assert scope.findings == []  # one backward call: nothing summed yet
        (w * 2).sum().backward()  # sums into w.grad without a reset
        inside = [f.kind for f in scope.findings]
    assert inside == ["grad-accumulation"]
    assert [f.kind for f in scope.findings] == ["grad-accumulation"]


def test_a_gradient_clipped_before_it_accumulates_shows_its_clipped_value_not_a_question_mark() -> (
    None
):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    norms = []
    with graphscope.watch() as scope:
        for _ in range(3):  # no zero_grad(): the gradients sum; clipping changes them in place
            model(torch.randn(8, 4)).pow(2).mean().backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.01)
            norms.append(float(model.weight.grad.norm()))
            opt.step()
    (f,) = [f for f in scope.findings if f.kind == "grad-accumulation"]
    assert "?" not in f.message and "?" not in (f.badge or "")
    (g,) = scope.captures
    (w,) = [d for _, d in g.nodes(data=True) if d.get("name") == "model.weight"]
    history = [h.get("norm") for h in w["grad_history"]]
    assert history[0] == pytest.approx(norms[0], rel=1e-6)  # the clipped value after call 1
    assert all(n is not None for n in history)
