"""checkpoint-no-grad: a reentrant checkpoint whose inputs do not require grad leaves the
parameters inside without gradients. Real torch runs under ``watch`` (the finding, its names
and line; the legitimate twins stay clean) and hand-built events (one finding per cause with
no-grad-param)."""

from __future__ import annotations

import inspect
import warnings

import pytest
import torch
import torch.nn as nn
from torch.utils.checkpoint import CheckpointFunction, checkpoint

import graphscope
from graphscope.checks import run_checks
from graphscope.model import (
    AutogradGraph,
    BackwardCall,
    CheckpointNoGrad,
    Events,
)


class Net(nn.Module):
    def __init__(self, reentrant: bool = True, share: bool = False, both: bool = True) -> None:
        super().__init__()
        self.first = nn.Sequential(nn.Linear(4, 4), nn.Tanh())
        self.second = nn.Sequential(nn.Linear(4, 4), nn.Tanh())
        self.head = nn.Linear(4, 1)
        self.reentrant, self.share, self.both = reentrant, share, both

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = checkpoint(self.first, x, use_reentrant=self.reentrant)  # CKPT
        if self.both:
            h = checkpoint(self.second, h, use_reentrant=self.reentrant)
        else:  # a plain module: its output gets a graph through its own parameters
            h = self.second(h)
        if self.share:
            h = h + self.first(x)
        return self.head(h)


CKPT_LINE = next(
    i
    for i, t in enumerate(
        inspect.getsource(Net).splitlines(), Net.forward.__code__.co_firstlineno - 8
    )
    if "# CKPT" in t
)


def _train(net: nn.Module, steps: int = 2, *, x_grad: bool = False) -> graphscope.Scope:
    torch.manual_seed(0)
    x = torch.randn(8, 4, requires_grad=x_grad)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with graphscope.watch() as scope:
            for _ in range(steps):
                net.zero_grad()
                net(x).pow(2).mean().backward()
    return scope


def test_the_first_block_cut_off_by_a_reentrant_checkpoint() -> None:
    torch.manual_seed(0)
    net = Net()
    scope = _train(net)
    assert net.first[0].weight.grad is None and net.second[0].weight.grad is None
    assert net.head.weight.grad is not None
    [f] = scope.findings  # one cause: the second block is fed the first one's output
    assert (f.kind, f.severity, f.line) == ("checkpoint-no-grad", "warning", CKPT_LINE)
    assert f.file == __file__
    names = "net.first[0].bias, net.first[0].weight, net.second[0].bias, net.second[0].weight"
    assert names in f.message and "4 parameters" in f.message and "head" not in f.message
    assert "None of the inputs have requires_grad=True" in f.message
    assert "`h = checkpoint(self.first, x, use_reentrant=False)  # CKPT`" in f.hint
    [e] = scope.events.checkpoints
    assert (e.line, e.after_call, e.calls, e.call) == (CKPT_LINE, 0, 2, 1)
    assert sorted(e.missing or ()) == sorted(names.split(", "))
    assert "apply" not in CheckpointFunction.__dict__  # unwrapped after the session


@pytest.mark.parametrize(
    "case",
    ["non-reentrant", "input requires grad", "frozen block", "used outside too", "no_grad"],
)
def test_the_legitimate_twins_stay_clean(case: str) -> None:
    torch.manual_seed(0)
    alone = case in ("frozen block", "used outside too")  # the first block alone checkpointed
    net = Net(reentrant=case != "non-reentrant", share=case == "used outside too", both=not alone)
    if case == "frozen block":
        net.first.requires_grad_(False)
    if case == "no_grad":
        with graphscope.watch() as scope, torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net(torch.randn(2, 4))
        assert scope.events.checkpoints == [] and scope.findings == []
        return
    scope = _train(net, x_grad=case == "input requires grad")
    assert [f.kind for f in scope.findings if f.severity != "info"] == []
    if case != "used outside too":
        assert scope.events.checkpoints == []
    assert net.first[0].weight.grad is not None or case == "frozen block"


def test_gradients_and_warning_are_torchs_own() -> None:
    """The wrapped apply changes nothing: same gradients, torch's warning at the user's line."""
    grads = []
    for watched in (False, True):
        torch.manual_seed(0)
        net = Net(share=True)
        x = torch.randn(8, 4)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if watched:
                with graphscope.watch():
                    net(x).pow(2).mean().backward()
            else:
                net(x).pow(2).mean().backward()
        grads.append([p.grad for p in net.parameters()])
        texts = [str(w.message) for w in caught]
        assert "None of the inputs have requires_grad=True. Gradients will be None" in texts
    assert [g is None for g in grads[0]] == [g is None for g in grads[1]]
    assert all(a is None or torch.equal(a, b) for a, b in zip(*grads, strict=True))


def _call(i: int) -> BackwardCall:
    return BackwardCall(
        i, "backward", "t.py", 30, ("loss",), ((),), (True,), False, False, False, "g1"
    )


def _unreached(names: list[str]) -> AutogradGraph:
    g = AutogradGraph()
    g.graph.update(id="g1", calls=[1], roots=["n0"])
    g.add_node("n0", kind="tensor", label="loss", name="loss", role="root", is_leaf=False)
    for i, n in enumerate(names, 1):
        g.add_node(
            f"n{i}",
            kind="tensor",
            label=n,
            name=n,
            role="param",
            is_leaf=True,
            requires_grad=True,
            reached=False,
        )
    return g


def test_one_finding_per_cause_with_no_grad_param() -> None:
    cut = CheckpointNoGrad("t.py", 12, None, ("enc.weight",), 0, missing=("enc.weight",), call=1)
    ev = Events(checkpoints=[cut])
    ev.backward.append(_call(1))
    found = run_checks([_unreached(["enc.weight", "aux.weight"])], ev)
    kinds = sorted((f.kind, f.line) for f in found)
    assert kinds == [("checkpoint-no-grad", 12), ("no-grad-param", 30)]
    [ngp] = [f for f in found if f.kind == "no-grad-param"]
    assert "aux.weight" in ngp.message and "enc.weight" not in ngp.message
    [ck] = [f for f in found if f.kind == "checkpoint-no-grad"]
    assert "Pass use_reentrant=False" in ck.hint  # no source text: the hint says it in words


def test_no_backward_after_it_or_every_gradient_given_is_no_finding() -> None:
    ev = Events(checkpoints=[CheckpointNoGrad("t.py", 12, None, ("enc.weight",), 1)])
    ev.backward.append(_call(1))
    assert run_checks([], ev) == []
    given = CheckpointNoGrad("t.py", 12, None, ("enc.weight",), 0, missing=(), call=1)
    assert run_checks([], Events(checkpoints=[given])) == []
