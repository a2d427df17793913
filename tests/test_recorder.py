"""The forward-side recorder: ops, module paths, in-place writes, steps, .grad reads, cleanup."""

from __future__ import annotations

import gc
import inspect
import threading
import warnings
import weakref
from collections.abc import Iterator

import pytest
import torch
from torch import nn
from torch.nn.modules import module as module_mod
from torch.optim import optimizer as optim_mod

from graphscope.model import Events
from graphscope.recorder import Recorder

HERE = __file__


def line_of(marker: str) -> int:
    """Line number in this file of the line ending with ``# <marker>``."""
    for i, text in enumerate(inspect.getsource(inspect.getmodule(line_of)).splitlines(), 1):
        if text.rstrip().endswith(f"# {marker}"):
            return i
    raise LookupError(marker)


class LR(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Linear(3, 4), nn.ReLU(), nn.Sequential(nn.Linear(4, 4), nn.Tanh())
        )
        self.classifier = nn.Linear(4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x) * 2  # LR-mul
        return torch.sigmoid(self.classifier(h))


def nodes(root: torch.Tensor) -> Iterator[object]:
    seen: set[object] = set()
    stack = [root.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        yield fn
        stack.extend(c for c, _ in fn.next_functions)


@pytest.fixture
def rec() -> Iterator[Recorder]:
    r = Recorder(
        Events(), name_of=lambda t, variables=True: "w" if getattr(t, "_gs_name", None) else None
    )
    r.install()
    try:
        yield r
    finally:
        r.uninstall()


def test_seq_links_nodes_to_calls(rec: Recorder) -> None:
    w = torch.tensor([1.0], requires_grad=True)
    x = torch.tensor([2.0], requires_grad=True)
    a = torch.add(w, x)  # add-a
    b = w.mul(3)  # mul-b
    y = a * b  # mul-y
    rec.uninstall()
    got = sorted(
        (fn._sequence_nr(), fn.name(), rec.provenance(fn._sequence_nr())) for fn in nodes(y)
    )
    assert [(name, hit) for _, name, hit in got] == [
        ("AddBackward0", ("add", HERE, line_of("add-a"), None)),
        ("MulBackward0", ("mul", HERE, line_of("mul-b"), None)),
        ("MulBackward0", ("mul", HERE, line_of("mul-y"), None)),
        ("torch::autograd::AccumulateGrad", None),
        ("torch::autograd::AccumulateGrad", None),
    ]
    apis = [(op.api, op.line, op.seq_hi - op.seq_lo) for op in rec.events.ops]
    assert apis == [
        ("add", line_of("add-a"), 1),
        ("mul", line_of("mul-b"), 1),
        ("mul", line_of("mul-y"), 1),
    ]


def test_module_paths(rec: Recorder) -> None:
    model = LR()
    y = model(torch.ones(2, 3))
    rec.uninstall()
    by_seq = {fn._sequence_nr(): fn.name() for fn in nodes(y)}
    mods = {}
    for seq, name in by_seq.items():
        hit = rec.provenance(seq)
        if hit is not None:
            mods.setdefault(name, set()).add(hit[3])
    # paths start at the user's variable for the outermost module
    assert mods["TBackward0"] == {"model.features.0", "model.features.2.0", "model.classifier"}
    assert mods["ReluBackward0"] == {"model.features.1"}
    assert mods["TanhBackward0"] == {"model.features.2.1"}
    assert mods["MulBackward0"] == {"model"}  # the root's own op: its name
    assert mods["SigmoidBackward0"] == {"model"}
    mul = next(op for op in rec.events.ops if op.api == "mul")
    assert (mul.line, mul.module) == (line_of("LR-mul"), "model")


def test_modules_ran_and_roots() -> None:
    rec = Recorder(Events())
    rec.install()
    try:
        model = LR()
        model(torch.ones(2, 3))
        paths = [p for p, _ in rec.modules_ran()]
        assert paths[:3] == ["model", "model.features", "model.features.0"]
        assert "model.classifier" in paths
        assert rec.root_modules() == [model]
        assert rec.named_roots() == [("model", model)]
    finally:
        rec.uninstall()
    assert rec.modules_ran() == [] and rec.root_modules() == []


def test_inplace_writes(rec: Recorder) -> None:
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    a = w + 2
    a.add_(1)  # add_
    x = torch.zeros(3)
    x[0] = 5  # setitem
    x += 1  # iadd
    torch.nn.functional.relu(x, inplace=True)  # relu-inplace
    writes = [(e.api, e.line, e.version_before, e.version_after) for e in rec.events.inplace]
    assert writes == [
        ("add_", line_of("add_"), 0, 1),
        ("__setitem__", line_of("setitem"), 0, 1),
        ("add_", line_of("iadd"), 1, 2),
        ("relu", line_of("relu-inplace"), 2, 3),
    ]
    first = rec.events.inplace[0]
    from graphscope._tensors import storage_key

    assert first.storage == storage_key(a)
    assert (first.is_leaf, first.requires_grad, first.grad_enabled, first.raised) == (
        False,
        True,
        True,
        None,
    )
    assert [e.index for e in rec.events.inplace] == [0, 1, 2, 3]


def test_leaf_inplace_raises_and_is_recorded(rec: Recorder) -> None:
    w = torch.tensor([1.0], requires_grad=True)
    w._gs_name = True  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad") as info:
        w.add_(1)  # leaf-add
    assert type(info.value) is RuntimeError
    (e,) = rec.events.inplace
    assert (e.api, e.line, e.name, e.is_leaf, e.requires_grad) == (
        "add_",
        line_of("leaf-add"),
        "w",
        True,
        True,
    )
    assert e.version_before == e.version_after == 0
    assert e.raised == "a leaf Variable that requires grad is being used in an in-place operation."
    assert w._version == 0 and torch.equal(w, torch.tensor([1.0]))


def test_no_grad_writes_recorded(rec: Recorder) -> None:
    w = torch.tensor([1.0], requires_grad=True)
    with torch.no_grad():
        w -= 0.1  # isub
    w.data.mul_(2)  # data-mul
    es = rec.events.inplace
    assert [(e.api, e.line, e.grad_enabled) for e in es] == [
        ("sub_", line_of("isub"), False),
        ("mul_", line_of("data-mul"), True),
    ]
    assert es[0].is_leaf and es[0].requires_grad
    assert not es[1].requires_grad  # .data is a leaf that does not require grad
    assert not rec.events.ops  # no node was created


def test_optimizer_step(rec: Recorder) -> None:
    model = nn.Linear(2, 1)
    names = {id(model.weight): "weight", id(model.bias): "bias"}
    rec.name_of = lambda t, variables=True: names.get(id(t))
    rec.backward_count = lambda: 7
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model(torch.ones(1, 2)).sum().backward()
    opt.step()  # step
    (s,) = rec.events.steps
    assert (s.optimizer, s.after_call, s.params, s.line) == (
        "SGD",
        7,
        ("weight", "bias"),
        line_of("step"),
    )
    param_writes = [e for e in rec.events.inplace if e.line == line_of("step")]
    assert sorted(e.name for e in param_writes) == ["bias", "weight"]
    assert all(not e.grad_enabled for e in param_writes)


def test_nonleaf_grad_read_recorded_and_warns(rec: Recorder) -> None:
    w = torch.tensor([1.0], requires_grad=True)
    a = w * 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        g = a.grad  # grad-read
        _ = w.grad  # a leaf: nothing recorded
    assert g is None
    (r,) = rec.events.grad_reads
    assert (r.file, r.line, r.grad_fn) == (HERE, line_of("grad-read"), "MulBackward0")
    (warn,) = [c for c in caught if "not a leaf Tensor" in str(c.message)]
    assert (warn.filename, warn.lineno, warn.category) == (HERE, line_of("grad-read"), UserWarning)


def test_retained_grad_read_not_recorded(rec: Recorder) -> None:
    w = torch.tensor([1.0], requires_grad=True)
    a = w * 2
    a.retain_grad()
    a.sum().backward()
    assert a.grad is not None
    assert rec.events.grad_reads == []


def train_grads(recorder: bool) -> list[torch.Tensor]:
    torch.manual_seed(0)
    model = LR()
    x = torch.randn(5, 3)
    rec = Recorder(Events()) if recorder else None
    if rec is not None:
        rec.install()
    try:
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        for _ in range(3):
            opt.zero_grad()
            model(x).square().mean().backward()
            opt.step()
        model(x).sum().backward()
    finally:
        if rec is not None:
            rec.uninstall()
    return [p.grad.clone() for p in model.parameters()] + [
        p.detach().clone() for p in model.parameters()
    ]


def test_gradients_bit_identical() -> None:
    plain, recorded = train_grads(False), train_grads(True)
    assert len(plain) == len(recorded)
    assert all(torch.equal(a, b) for a, b in zip(plain, recorded, strict=True))


def test_uninstall_removes_everything() -> None:
    before = (
        dict(module_mod._global_forward_pre_hooks),
        dict(module_mod._global_forward_hooks),
        dict(module_mod._global_forward_hooks_always_called),
        dict(optim_mod._global_optimizer_pre_hooks),
        dict(optim_mod._global_optimizer_post_hooks),
    )
    rec = Recorder(Events())
    rec.install()
    assert torch._C._len_torch_function_stack() == 1
    # module spans, and the fast-path step-aside (recorder/fastpath.py)
    assert len(module_mod._global_forward_hooks) == len(before[1]) + 2
    rec.uninstall()
    rec.uninstall()  # idempotent
    assert torch._C._len_torch_function_stack() == 0
    after = (
        dict(module_mod._global_forward_pre_hooks),
        dict(module_mod._global_forward_hooks),
        dict(module_mod._global_forward_hooks_always_called),
        dict(optim_mod._global_optimizer_pre_hooks),
        dict(optim_mod._global_optimizer_post_hooks),
    )
    assert after == before


def test_uninstall_after_user_error_and_with_mode_above() -> None:
    rec = Recorder(Events())
    rec.install()
    other = torch.overrides.BaseTorchFunctionMode()
    with pytest.raises(ValueError):
        try:
            other.__enter__()  # the user's mode, left on the stack by an error
            LR()(torch.ones(1, 3))
            raise ValueError("user error")
        finally:
            rec.uninstall()
    stack = torch.overrides._get_current_function_mode_stack()
    assert stack == [other]
    other.__exit__(None, None, None)
    assert torch._C._len_torch_function_stack() == 0


def test_holds_no_tensor_after_uninstall() -> None:
    rec = Recorder(Events())
    rec.install()
    w = torch.tensor([1.0], requires_grad=True)
    a = w * 2
    a.add_(1)
    _ = a.grad
    model = LR()
    model(torch.ones(1, 3)).sum().backward()
    rec.uninstall()
    refs = [weakref.ref(t) for t in (w, a, model.classifier.weight)]
    mref = weakref.ref(model)
    del w, a, model
    gc.collect()
    assert all(r() is None for r in refs) and mref() is None
    assert rec.events.ops and rec.events.inplace  # plain data stays


def test_no_grad_and_inference_mode(rec: Recorder) -> None:
    model = LR()
    with torch.no_grad():
        model(torch.ones(1, 3))
    with torch.inference_mode():
        t = torch.ones(3)
        t.add_(1)
        model(t.view(1, 3))
    assert rec.events.ops == []
    assert rec.provenance(0) is None


def test_meta_device(rec: Recorder) -> None:
    w = torch.empty(4, 4, device="meta", requires_grad=True)
    y = (w @ w).relu()
    x = torch.empty(3, device="meta")
    x.add_(1)
    assert y.grad_fn is not None and [op.api for op in rec.events.ops] == ["matmul", "relu"]
    assert rec.events.inplace[-1].api == "add_"


def test_other_threads_are_not_recorded(rec: Recorder) -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            w = torch.ones(2, requires_grad=True)
            for _ in range(50):
                LR()(torch.ones(1, 3)).sum().backward()
                (w * 2).sum().backward()
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    w = torch.ones(2, requires_grad=True)
    for _ in range(50):
        (w * 3).sum()
    for t in threads:
        t.join()
    assert not errors
    assert {op.api for op in rec.events.ops} == {"mul", "sum"}


def test_compiled_function_does_not_crash(rec: Recorder) -> None:
    @torch.compile(backend="eager")
    def f(x: torch.Tensor) -> torch.Tensor:
        return (x * 2).relu().sum()

    x = torch.ones(3, requires_grad=True)
    f(x).backward()
    assert torch.equal(x.grad, torch.full((3,), 2.0))


def test_options_off() -> None:
    rec = Recorder(Events(), source=False, inplace=False, modules=False)
    rec.install()
    try:
        model = LR()
        y = model(torch.ones(1, 3))
        a = torch.ones(2)
        a.add_(1)
        assert not module_mod._global_forward_hooks_always_called or all(
            h.__self__ is not rec
            for h in module_mod._global_forward_hooks.values()
            if hasattr(h, "__self__")
        )
    finally:
        rec.uninstall()
    assert rec.events.inplace == []
    assert {(op.file, op.line, op.module) for op in rec.events.ops} == {(None, None, None)}
    assert rec.provenance(y.grad_fn._sequence_nr())[0] == "sigmoid"
