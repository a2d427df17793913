"""amp-overflow, eval-mode-training, and nonfinite-grad leaving GradScaler's and thrown-away
gradients alone: the checks on hand-built events (which skips are a warm-up, which persist; the
eval() line and the step that trained in eval mode), and the recorder's evidence on real torch
runs (GradScaler's skipped steps with their scales, module mode switches)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
import torch.nn as nn

import graphscope
from graphscope.checks import amp_overflow, eval_mode_training, nonfinite_grad, run_checks
from graphscope.model import (
    AutogradGraph,
    EvalTraining,
    Events,
    NonFinite,
    NonFiniteStep,
    OpSite,
    OptimizerStep,
    ScalerStep,
)

F = "train.py"


def _graph(gid: str = "g1") -> AutogradGraph:
    g = AutogradGraph()
    g.graph["id"] = gid
    g.add_node("n4", kind="op", name="MmBackward0", op="matmul", file=F, line=14)
    return g


def _steps(
    pattern: str, scale: float = 65536.0, line: int = 20, name: str | None = "opt"
) -> list[ScalerStep]:
    """``pattern``: one letter per scaler.step(), ``s`` skipped, ``.`` ran; the scale halves at
    each skip. ``name``: the user's name for the optimizer."""
    out = []
    for i, c in enumerate(pattern):
        skipped = c == "s"
        out.append(
            ScalerStep(i, i + 1, skipped, "Adam", F, line, scale if skipped else None, "cpu", name)
        )
        if skipped:
            scale /= 2
    return out


def _events(pattern: str, name: str | None = "opt", **kw: object) -> Events:
    ev = Events(**kw)  # type: ignore[arg-type]
    for s in _steps(pattern, name=name):
        ev.scaler_steps.append(s)
    return ev


# -- amp-overflow ---------------------------------------------------------------------------------


def test_a_warm_up_that_settles_is_info_at_the_overflowing_op():
    origin = NonFinite(1, "g1", "n4", "MmBackward0", "inf", F, 14, api="matmul")
    ev = _events("ss" + "." * 30, nonfinite=[origin])
    [f] = amp_overflow.check(_graph(), ev)
    assert (f.kind, f.severity, f.file, f.line, f.node, f.graph) == (
        "amp-overflow",
        "info",
        F,
        14,
        "n4",
        "g1",
    )
    assert [(r.line, r.what) for r in f.related] == [(20, "scaler.step() skipped 2 steps")]
    assert "skipped 2 of 32 opt.step() calls (steps 1-2)" in f.message
    assert "fell from 65536 to 16384" in f.message and "warm-up" in f.message
    assert "backward of matmul (MmBackward0) on line 14" in f.message
    assert "Nothing to fix" in f.hint and f.badge == "Inf first here"


def test_skips_that_go_on_after_training_started_are_a_warning():
    ev = _events("s.s.s.s.s.s")
    [f] = amp_overflow.check(_graph(), ev)
    assert f.severity == "warning" and f.line == 20  # no located op: the scaler.step() line
    assert "skipped 6 of 11 opt.step() calls (steps 1, 3, 5, 7, 9, 11)" in f.message
    assert "the skips do not stop: the model was updated on only 5 of them." in f.message
    assert 'torch.autocast("cpu", enabled=False)' in f.hint


def test_a_short_run_whose_every_step_was_skipped_says_it_ended_before_a_step_ran():
    [f] = amp_overflow.check(_graph(), _events("sss", name=None))  # no name: the class, in words
    assert f.severity == "info"
    assert "skipped 3 of 3 steps of the Adam optimizer (every step)" in f.message
    assert (
        "the script ended before a step ran" in f.message and "then the steps ran" not in f.message
    )


def test_a_lone_skip_after_the_scale_grew_is_not_persistent():
    assert not amp_overflow.persistent(_steps("s" + "." * 50 + "s" + "." * 50))
    assert amp_overflow.persistent(_steps("s" + "." * 20 + "ss" + "." * 5))
    # no step ran: persistent once the scale went below 1 (no scale fits), not before
    assert not amp_overflow.persistent(_steps("s" * 16))
    assert amp_overflow.persistent(_steps("s" * 18))


def test_a_forward_overflow_says_so_and_its_hint_keeps_values_in_range(tmp_path: Path) -> None:
    site = OpSite("n4", "MmBackward0", "matmul", F, 14)
    origin = NonFinite(1, "g1", "n9", "LogSoftmaxBackward0", "nan", F, 15, forward=site)
    ev = _events("s" * 20, nonfinite=[origin])
    [f] = amp_overflow.check(_graph("g2"), ev)  # another graph: same text, no node
    assert (f.severity, f.line, f.node) == ("warning", 14, None)
    assert "skipped 20 of 20 opt.step() calls (every step)" in f.message
    assert "fell from 65536 to 0.0625" in f.message and "the model was never updated" in f.message
    assert "float16 result of matmul (MmBackward0) on line 14 overflows" in f.message
    # no source to read: the fix in words, no invented names
    assert "torch.nn.functional.normalize, or standardise" in f.hint and "`" not in f.hint
    # the user's line: the fix in its names
    script = tmp_path / "train.py"
    script.write_text("\n" * 13 + "        scores = q @ k.transpose(0, 1) / 8\n")
    site = OpSite("n4", "MmBackward0", "matmul", str(script), 14)
    origin = NonFinite(1, "g1", "n9", "LogSoftmaxBackward0", "nan", F, 15, forward=site)
    [f] = amp_overflow.check(_graph("g2"), _events("s" * 20, nonfinite=[origin]))
    assert (
        "(`q = torch.nn.functional.normalize(q, dim=-1); "
        "k = torch.nn.functional.normalize(k, dim=-1)`, or standardise" in f.hint
    )
    assert (
        '`with torch.autocast("cpu", enabled=False): '
        "scores = q.float() @ k.float().transpose(0, 1) / 8`" in f.hint
    )


def test_one_finding_per_scaler_step_line_and_none_without_skips():
    ev = Events()
    for s in _steps("s...", line=20) + _steps("....", line=30):
        ev.scaler_steps.append(s)
    assert [f.related[0].line for f in amp_overflow.check(_graph(), ev)] == [20]
    assert list(amp_overflow.check(_graph(), _events("....."))) == []


# -- nonfinite-grad: what is not its to report ----------------------------------------------------


def test_nonfinite_judged_by_a_grad_scaler_is_left_to_amp_overflow():
    nf = NonFinite(1, "g1", "n4", "MmBackward0", "inf", F, 14)
    ev = _events("s....", nonfinite=[nf])
    assert list(nonfinite_grad.check(_graph(), ev)) == []
    kinds = [f.kind for f in run_checks([_graph()], ev)]
    assert kinds == ["amp-overflow"]


def test_nonfinite_that_no_step_used_is_not_a_finding_and_one_a_step_used_is():
    nf = NonFinite(2, "g1", "n4", "MmBackward0", "inf", F, 14)
    steps = [OptimizerStep(0, "Adam", 1, ()), OptimizerStep(1, "Adam", 2, ())]
    thrown = Events(nonfinite=[nf])
    for s in steps:
        thrown.steps.append(s)
    assert list(nonfinite_grad.check(_graph(), thrown)) == []
    used = Events(nonfinite=[nf], nonfinite_steps=[NonFiniteStep("Adam", 2, F, 20)])
    for s in steps:
        used.steps.append(s)
    assert [f.severity for f in nonfinite_grad.check(_graph(), used)] == ["error"]
    # no optimizer step after it at all (gradients read by hand): still reported
    assert [f.kind for f in nonfinite_grad.check(_graph(), Events(nonfinite=[nf]))] == [
        "nonfinite-grad"
    ]


# -- eval-mode-training -------------------------------------------------------------------------


def test_eval_training_is_a_warning_at_the_eval_line_with_the_step_related():
    e = EvalTraining("model", ("BatchNorm1d", "Dropout"), F, 23, 4, F, 22, 5, "SGD", steps=8)
    [f] = eval_mode_training.check(_graph(), Events(eval_training=[e]))
    assert (f.kind, f.severity, f.line) == ("eval-mode-training", "warning", 23)
    assert [(r.line, r.what) for r in f.related] == [(22, "trained in eval mode")]
    assert "model.eval() at line 23" in f.message and "without model.train()" in f.message
    assert "the 8 optimizer steps after it (the SGD optimizer's step() at line 22)" in f.message
    named = dataclasses.replace(e, optimizer_name="self.optimizer", steps=1)
    [f] = eval_mode_training.check(_graph(), Events(eval_training=[named]))
    assert "the optimizer step after it (self.optimizer.step() at line 22) ran with" in f.message
    assert "BatchNorm's running statistics frozen and dropout off" in f.message
    assert "call `model.train()` after the validation pass" in f.hint
    assert "BatchNorm and Dropout layers" in f.hint
    assert list(eval_mode_training.check(_graph(), Events())) == []


# -- the recorder's evidence, on torch runs -------------------------------------------------------


def _amp_run(x_scale: float, steps: int = 6) -> Events:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    scaler = torch.amp.GradScaler("cpu")
    x, y = torch.randn(32, 8) * x_scale, torch.randn(32, 1)
    with graphscope.watch() as scope:
        for _ in range(steps):
            opt.zero_grad()
            with torch.autocast("cpu", dtype=torch.float16):
                loss = nn.functional.mse_loss(model(x), y)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
    return scope.events


def test_grad_scaler_steps_are_recorded_with_the_scale_of_each_skip():
    ev = _amp_run(1.0)
    steps = list(ev.scaler_steps)
    assert [s.skipped for s in steps] == [True] + [False] * 5  # measured: one warm-up skip
    assert [s.scale for s in steps] == [65536.0] + [None] * 5
    assert {(s.optimizer, s.device, s.after_call) for s in steps[:1]} == {("SGD", "cpu", 1)}
    assert {s.optimizer_name for s in steps} == {"opt"}  # skipped or not: the user's variable
    assert steps[0].line is not None and steps[0].file == __file__
    assert len(ev.steps) == 5  # the optimizer stepped only when the scaler let it
    assert len(ev.scaler_steps.runs()) == 2  # the steps that ran are kept as one run


def test_a_disabled_scaler_records_nothing():
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    original = torch.amp.GradScaler.__dict__["step"]
    with graphscope.watch() as scope:
        assert torch.amp.GradScaler.__dict__["step"] is not original
        scaler.scale(model(torch.ones(2, 3)).sum()).backward()
        scaler.step(opt)
    assert list(scope.events.scaler_steps) == [] and len(scope.events.steps) == 1
    assert torch.amp.GradScaler.__dict__["step"] is original


def _train(model: nn.Module, optimizer: torch.optim.Optimizer, n: int = 2) -> None:
    for _ in range(n):
        optimizer.zero_grad()
        model(torch.randn(8, 4)).sum().backward()
        optimizer.step()


def test_eval_then_training_without_train_is_recorded_once_with_its_steps():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Dropout(0.1), nn.Linear(4, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    original = nn.Module.__dict__["train"]
    with graphscope.watch() as scope:
        assert nn.Module.__dict__["train"] is not original  # wrapped while watching
        _train(model, opt)
        model.eval()
        eval_line = _line() - 1
        _train(model, opt, 3)
        model.train()
        _train(model, opt, 2)
    [e] = scope.events.eval_training
    assert (e.name, e.layers, e.line, e.steps, e.optimizer) == (
        "model",
        ("BatchNorm1d", "Dropout"),
        eval_line,
        3,
        "SGD",
    )
    assert (e.after_call, e.step_call) == (2, 3)
    assert e.optimizer_name == "opt"  # the outermost name, as parameters are named
    assert nn.Module.__dict__["train"] is original  # unwrapped after the run


def test_no_eval_evidence_for_validation_with_train_frozen_bn_or_plain_layers():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
    plain = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 1))
    opt = torch.optim.SGD([*model.parameters(), *plain.parameters()], lr=0.1)
    with graphscope.watch() as scope:
        model[1].eval()  # BatchNorm frozen before training starts
        _train(model, opt)
        model.train()
        model[1].eval()  # frozen again at once after train(), before any step
        _train(model, opt)
        model[1].eval()  # a single layer switched on purpose, after steps
        _train(model, opt)
        model.eval()  # validation, then train() before the next steps
        model.train()
        _train(model, opt)
        _train(plain, opt)
        plain.eval()  # eval changes nothing in a model without dropout or BatchNorm
        _train(plain, opt)
    assert scope.events.eval_training == []


def _line() -> int:
    import sys

    return sys._getframe(1).f_lineno


def _gan(d_steps_on_g_loss: bool) -> list[str]:
    """A GAN-shaped loop in float32 whose generator loss leaves Inf in D's .grad (D's weight is
    tiny, the fakes huge): kinds of the findings. ``d_steps_on_g_loss``: D also steps on it."""
    torch.manual_seed(0)
    g, d = nn.Linear(2, 2), nn.Linear(2, 1)
    with torch.no_grad():
        d.weight.fill_(1e-10)
        g.bias.fill_(1e20)
    opt_d = torch.optim.SGD(d.parameters(), lr=0.0)
    opt_g = torch.optim.SGD(g.parameters(), lr=0.0)
    z = torch.ones(4, 2)
    with graphscope.watch() as scope:
        for i in range(2):
            opt_d.zero_grad()
            (d(g(z).detach()).sum() * 1e-30).backward()
            opt_d.step()
            opt_g.zero_grad()
            (d(g(z)).sum() * 1e19).backward()
            if i == 0:  # Inf in D's gradient only (D's own step then turns D's weights NaN)
                assert not torch.isfinite(d.weight.grad).any()
                assert torch.isfinite(g.weight.grad).all()
            opt_g.step()
            if d_steps_on_g_loss:
                opt_d.step()
    return [f.kind for f in scope.findings]


def test_inf_that_zero_grad_clears_before_any_step_is_not_a_finding_but_a_step_on_it_is():
    assert "nonfinite-grad" not in _gan(False)
    assert "nonfinite-grad" in _gan(True)
