"""The checks' causes on hand-built events: carried states, leaves lost to an operation, where
grad was switched off, silent writes, per-optimizer accumulation, NaN after the first call, and
the three new kinds; positives and negatives."""

from __future__ import annotations

from pathlib import Path

from graphscope.checks import (
    grad_accumulation,
    graph_freed,
    graph_kept_alive,
    no_grad_fn,
    nonfinite_grad,
    nonleaf_grad_access,
    param_not_in_optimizer,
    run_checks,
    saved_tensor_modified,
    zeroed_before_step,
)
from graphscope.checks._common import listed, natural
from graphscope.checks.nonleaf_grad_access import leaf_fix
from graphscope.model import (
    AliasExport,
    AutogradGraph,
    BackwardCall,
    Events,
    GradOff,
    GradRead,
    GradUpdate,
    GraphCarry,
    InplaceWrite,
    KeptAlive,
    Location,
    MadeFromLeaf,
    NonFinite,
    OptimizerStep,
    StepAfterReset,
)

F = "train.py"
FREED = "Trying to backward through the graph a second time (or directly access saved tensors"
NOGRADFN = "element 0 of tensors does not require grad and does not have a grad_fn"


def call(
    i: int,
    line: int,
    *,
    graph: str | None = "g1",
    error: str | None = None,
    api: str = "backward",
    retain: bool = False,
) -> BackwardCall:
    return BackwardCall(
        i, api, F, line, ("loss",), ((),), (error != NOGRADFN,), retain, False, False, graph, error
    )


def carry(
    after: int, line: int, name: str | None = "h", same: bool = False, made: int = 1
) -> GraphCarry:
    return GraphCarry("rnn_tanh", F, line, None, name, after, made, same)


def update(c: int, before: str, v: float, name: str = "w") -> GradUpdate:
    return GradUpdate(c, name, before, {"shape": [1], "numel": 1, "first": [v]}, F, 9)


def step(after: int, opt: int, params: tuple[str, ...] = ("w",), line: int = 11) -> OptimizerStep:
    return OptimizerStep(after, "Adam", after, params, F, line, opt)


def params_graph(gid: str = "g1", calls: tuple[int, ...] = (1,)) -> AutogradGraph:
    g = AutogradGraph()
    g.graph.update(id=gid, calls=list(calls), roots=["n0"])
    g.add_node("n0", kind="tensor", label="loss", name="loss", role="root", is_leaf=False)
    for i, n in enumerate(("body.weight", "head.weight", "head.bias"), start=1):
        g.add_node(
            f"n{i}",
            kind="tensor",
            label=n,
            name=n,
            role="param",
            is_leaf=True,
            requires_grad=True,
            reached=True,
            module=n.rpartition(".")[0],
        )
    return g


# -- graph-freed: the carried state ----------------------------------------------------------------


def test_carried_state_is_named_at_the_carrying_line_with_detach_as_the_fix():
    ev = Events(
        backward=[call(1, 30), call(2, 30, graph="g2", error=FREED)],
        carries=[carry(1, 27, "hidden", made=1)],
    )
    f = next(iter(graph_freed.check(AutogradGraph(), ev)))
    assert (f.line, f.severity) == (27, "error")
    assert "through hidden" in f.message and "line 27" in f.message
    assert "`hidden = hidden.detach()`" in f.hint and "only hide" in f.hint
    assert f.related == (
        Location(F, 30, "freed the graph (call 1)"),
        Location(F, 30, "backward raised here"),
    )


def test_a_carry_from_an_earlier_iteration_is_not_this_failures_cause():
    ev = Events(
        backward=[call(1, 30), call(2, 30), call(3, 31, error=FREED)],
        carries=[carry(1, 27)],  # recorded before call 2, which succeeded
    )
    f = next(iter(graph_freed.check(AutogradGraph(), ev)))
    assert f.line == 31 and "retain_graph=True" in f.hint and "detach" not in f.hint


# -- nonleaf-grad-access: a parameter that is not a leaf -----------------------------------------


def test_a_tensor_made_from_a_leaf_points_at_where_it_stopped_being_one():
    ev = Events(
        grad_reads=[GradRead("W", F, 21, "MulBackward0")],
        made_from_leaf=[
            MadeFromLeaf("W", F, 11, "mul", "W = torch.randn(3, 1, requires_grad=True) * 0.01")
        ],
    )
    f = next(iter(nonleaf_grad_access.check(AutogradGraph(), ev)))
    assert f.line == 21 and f.related == (Location(F, 11, "W stopped being a leaf here"),)
    assert "`W = (torch.randn(3, 1) * 0.01).requires_grad_()`" in f.hint
    assert "retain_grad" not in f.hint


def test_the_leaf_fix_rewrites_the_users_line():
    assert leaf_fix("b = torch.zeros(1, requires_grad=True).to(device)", "b") == (
        "b = torch.zeros(1).to(device).requires_grad_()"
    )
    assert leaf_fix("w = torch.ones(2).requires_grad_().double()", "w") == (
        "w = torch.ones(2).double().requires_grad_()"
    )
    assert leaf_fix("w, v = f(x)", "w") is None and leaf_fix("w = (", "w") is None


def test_other_nonleaf_reads_keep_the_retain_grad_hint():
    ev = Events(
        grad_reads=[GradRead("h", F, 12, "MulBackward0")],
        made_from_leaf=[MadeFromLeaf("W", F, 11, "mul", None)],
    )
    f = next(iter(nonleaf_grad_access.check(AutogradGraph(), ev)))
    assert "h.retain_grad()" in f.hint and f.related == ()


# -- no-grad-fn: where grad was switched off ------------------------------------------------------


def test_no_grad_fn_points_at_the_latest_switch_since_the_previous_call():
    ev = Events(
        backward=[call(1, 20, graph=None, error=NOGRADFN)],
        grad_off=[
            GradOff(0, "set_grad_enabled", F, 5, 0),
            GradOff(1, "no_grad", F, 16, 0),
        ],
    )
    f = next(iter(no_grad_fn.check(AutogradGraph(), ev)))
    assert f.line == 16  # the line to change: the no_grad block
    assert f.related == (Location(F, 20, "backward raised here"),)
    assert "torch.no_grad() block at line 16" in f.message and "no_grad" in f.hint


def test_a_switch_before_an_earlier_successful_call_is_not_the_cause():
    ev = Events(
        backward=[call(1, 18), call(2, 20, graph=None, error=NOGRADFN)],
        grad_off=[GradOff(0, "detach", F, 10, 0, "feats")],
    )
    f = next(iter(no_grad_fn.check(AutogradGraph(), ev)))
    assert f.related == () and f.hint == no_grad_fn.HINT and f.line == 20


# -- saved-tensor-modified: modules, and writes torch does not see --------------------------------


def _saved_graph(entry: dict) -> AutogradGraph:  # type: ignore[type-arg]
    g = AutogradGraph()
    g.graph.update(id="g1", calls=[1], roots=["n0"])
    g.add_node(
        "n1",
        kind="op",
        label="SigmoidBackward0",
        name="SigmoidBackward0",
        op="sigmoid",
        module="1",
        file=F,
        line=17,
        saved=[entry],
    )
    g.add_node("n2", kind="tensor", label="h", name="h", role="named", is_leaf=False)
    g.add_edge("n1", "n2")
    return g


def _write(i: int, line: int, **kw: object) -> InplaceWrite:
    base: dict = dict(
        index=i,
        api="clamp_",
        file=F,
        line=line,
        storage=7,
        version_before=0,  # type: ignore[type-arg]
        version_after=1,
        name=None,
        is_leaf=True,
        requires_grad=False,
        grad_enabled=True,
    )
    base.update(kw)
    return InplaceWrite(**base)


def test_a_silent_write_is_an_error_at_the_write_saying_torch_will_not_warn():
    entry = {
        "name": "result",
        "status": "stale",
        "silent": True,
        "writes": [3],
        "exports": [],
        "version_saved": 0,
        "version_now": 0,
        "tensor": None,
        "tensor_name": None,
    }
    ev = Events(inplace=[_write(3, 18)])
    f = next(iter(saved_tensor_modified.check(_saved_graph(entry), ev)))
    assert (f.severity, f.line, f.node) == ("error", 18, "n1")
    assert "clamp_() at line 18 wrote into h" in f.message and "torch will not warn" in f.message
    assert f.related == (Location(F, 17, "saved by SigmoidBackward0"),)


def test_a_silent_change_through_numpy_points_at_the_export():
    entry = {
        "name": "result",
        "status": "stale",
        "silent": True,
        "writes": [],
        "exports": [0],
        "tensor": None,
        "tensor_name": "probs",
    }
    ev = Events(exports=[AliasExport(0, "numpy", F, 14, 7, 30, 123)])
    f = next(iter(saved_tensor_modified.check(_saved_graph(entry), ev)))
    assert f.line == 14 and "the NumPy array that .numpy() handed out at line 14" in f.message


def test_a_write_inside_modules_names_them_and_suggests_inplace_false():
    entry = {
        "name": "result",
        "status": "stale",
        "writes": [0],
        "version_saved": 0,
        "version_now": 1,
        "tensor": None,
        "tensor_name": None,
    }
    ev = Events(
        inplace=[
            _write(
                0,
                20,
                api="relu",
                module="model.2",
                module_text="ReLU(inplace=True)",
                producer_module="model.1",
                producer_text="Sigmoid",
            )
        ]
    )
    f = next(iter(saved_tensor_modified.check(_saved_graph(entry), ev)))
    assert f.message.startswith(
        "`model[2]` (ReLU(inplace=True)) overwrote the output of `model[1]` (Sigmoid)"
    )
    assert "inplace=False" in f.hint and "nn.ReLU()" in f.hint


# -- grad-accumulation per optimizer ----------------------------------------------------------------


def test_gan_shaped_accumulation_is_info_per_optimizer():
    # D: reset, real (1), fake (2), D.step after 2, G's backward (3) reaches D, reset next round
    grads = []
    steps = []
    for k in range(3):
        base = 3 * k
        grads += [
            update(base + 1, "none", 1),
            update(base + 2, "kept", 2),
            update(base + 3, "kept", 3),
        ]
        steps += [step(base + 2, 1), step(base + 3, 2, params=("g",))]
    found = list(grad_accumulation.check(AutogradGraph(), Events(grads=grads, steps=steps)))
    assert [f.severity for f in found] == ["info"]


def test_one_optimizer_stepping_twice_on_one_sum_is_a_warning():
    ev = Events(grads=[update(1, "none", 1), update(2, "kept", 2)], steps=[step(1, 1), step(2, 1)])
    f = next(iter(grad_accumulation.check(AutogradGraph(), ev)))
    assert f.severity == "warning" and "across 1 optimizer step" in f.message


def test_forty_parameters_are_one_finding_and_related_lines_are_not_repeated():
    names = [f"{i}.{k}" for i in range(0, 40, 2) for k in ("weight", "bias")]
    grads = [update(c, "none" if c == 1 else "kept", c, n) for n in names for c in (1, 2, 3, 4)]
    steps = [step(c, 1, params=tuple(names), line=19) for c in (1, 2, 3, 4)]
    (f,) = grad_accumulation.check(AutogradGraph(), Events(grads=grads, steps=steps))
    assert f.severity == "warning" and f.message.startswith(
        "The gradients of 40 parameters (0.bias, 0.weight"
    )
    assert f.related == (Location(F, 19, "the Adam optimizer's step() used the summed gradient"),)


def test_a_parameter_no_optimizer_covers_is_left_to_param_not_in_optimizer():
    ev = Events(
        grads=[update(1, "none", 1, "head.weight"), update(2, "kept", 2, "head.weight")],
        steps=[step(1, 1, ("body.weight",)), step(2, 1, ("body.weight",))],
    )
    assert list(grad_accumulation.check(AutogradGraph(), ev)) == []


# -- nonfinite-grad after the first call --------------------------------------------------------------


def test_nan_seen_at_a_later_call_is_reported_where_the_next_call_located_it():
    g = AutogradGraph()
    g.graph.update(id="g1", calls=[1, 2, 3, 4])
    g.add_node(
        "n5", kind="op", label="LogSoftmaxBackward0", name="LogSoftmaxBackward0", op="log_softmax"
    )
    ev = Events(
        nonfinite=[
            NonFinite(3, "g1", None, "", "nan", F, 17, leaves=("0.weight",)),
            NonFinite(4, "g1", "n5", "LogSoftmaxBackward0", "nan", F, 16, seen_at=3),
        ]
    )
    (f,) = nonfinite_grad.check(g, ev)
    assert (f.line, f.node) == (16, "n5") and "at backward call 3" in f.message
    assert "learning rate" in f.hint


def test_nan_seen_at_the_last_call_is_reported_at_that_call():
    ev = Events(nonfinite=[NonFinite(5, "g1", None, "", "inf", F, 17, leaves=("w", "b"))])
    (f,) = nonfinite_grad.check(AutogradGraph(), ev)
    assert f.line == 17 and "of w, b hold Inf" in f.message and "first 4 backward calls" in f.hint


# -- the new kinds --------------------------------------------------------------------------------------


def test_a_running_total_of_losses_is_kept_alive_and_a_list_too():
    ev = Events(
        backward=[call(i, 18) for i in (1, 2, 3)],
        carries=[carry(2, 20, "total_loss", same=True), carry(2, 21, "loss", same=False)],
        kept=[KeptAlive("losses", F, 22, 3, 11)],
    )
    found = list(graph_kept_alive.check(AutogradGraph(), ev))
    assert [(f.line, f.severity) for f in found] == [(20, "warning"), (22, "warning")]
    # no source to read: the fix in words, no invented name for what is added
    assert "total_loss" in found[0].message
    assert "add the .item() of what it adds to total_loss" in found[0].hint
    assert "Keep numbers in losses: the .item() of each loss" in found[1].hint
    assert "`" not in found[0].hint + found[1].hint


def test_the_kept_alive_hints_rewrite_the_users_own_statement(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(
        "\n" * 19 + "    running = running + out.loss  # total\n    hist.append(l2)\n"
    )
    ev = Events(
        backward=[call(i, 18) for i in (1, 2, 3)],
        carries=[GraphCarry("add", str(script), 20, None, "running", 2, 1, True)],
        kept=[KeptAlive("hist", str(script), 21, 3, 11)],
    )
    a, b = graph_kept_alive.check(AutogradGraph(), ev)
    assert "`running = running + out.loss.item()`" in a.hint
    assert "`running = running + out.loss.detach()`" in a.hint
    assert b.hint == (
        "Keep numbers: `hist.append(l2.item())` (or `hist.append(l2.detach())` to keep a tensor "
        "without its graph)."
    )


def test_a_carry_that_made_the_next_backward_fail_is_graph_freed_not_kept_alive():
    ev = Events(backward=[call(1, 18), call(2, 18, error=FREED)], carries=[carry(1, 15, same=True)])
    assert list(graph_kept_alive.check(AutogradGraph(), ev)) == []
    assert [f.kind for f in run_checks([], ev)] == ["graph-freed"]


def test_parameters_no_optimizer_updates():
    ev = Events(
        backward=[call(1, 28)],
        steps=[OptimizerStep(0, "SGD", 1, ("body.weight",), F, 29, 1, F, 21)],
    )
    (f,) = param_not_in_optimizer.check(params_graph(), ev)
    assert (f.severity, f.line) == ("warning", 21)
    assert f.message.startswith("head.bias, head.weight (of head) received gradients")
    assert "updates them: the SGD optimizer, built at line 21, holds other" in f.message
    assert f.related == (
        Location(F, 29, "the SGD optimizer's step() leaves them unchanged"),
        Location(F, 28, "gave them gradients"),
    )
    # no variable known: the add_param_group call in words, not on a name that would not run
    assert 'with its add_param_group({"params": head.parameters()})' in f.hint
    named = OptimizerStep(0, "SGD", 1, ("body.weight",), F, 29, 1, F, 21, name="self.opt")
    (f,) = param_not_in_optimizer.check(
        params_graph(), Events(backward=[call(1, 28)], steps=[named])
    )
    assert "updates them: self.opt (SGD), built at line 21, holds other" in f.message
    assert f.hint.endswith('`self.opt.add_param_group({"params": head.parameters()})`.')
    assert f.related[0] == Location(F, 29, "self.opt.step() leaves them unchanged")


def test_no_optimizer_at_all_or_autograd_grad_only_is_not_param_not_in_optimizer():
    g = params_graph()
    assert list(param_not_in_optimizer.check(g, Events(backward=[call(1, 28)]))) == []
    steps = [OptimizerStep(0, "SGD", 1, ("body.weight",), F, 29)]
    assert (
        list(
            param_not_in_optimizer.check(g, Events(backward=[call(1, 28, api="grad")], steps=steps))
        )
        == []
    )


def test_zero_grad_between_backward_and_step_is_one_warning_per_line():
    resets = [
        StepAfterReset("Adam", F, 17, "opt_d.zero_grad()", F, 16, c, name="opt_d")
        for c in (1, 2, 3)
    ]
    ev = Events(backward=[call(c, 15) for c in (1, 2, 3)], resets=resets)
    (f,) = zeroed_before_step.check(AutogradGraph(), ev)
    assert (f.line, f.severity) == (16, "warning") and "(3 steps)" in f.message
    assert f.message.startswith(
        "opt_d.zero_grad() at line 16 runs after the backward call at line 15 and before "
        "opt_d.step() at line 17"
    )
    assert f.related == (
        Location(F, 17, "opt_d.step() got no gradient"),
        Location(F, 15, "computed the gradients"),
    )
    assert f.hint == (
        "Reset the gradients before backward(), not after it: `opt_d.zero_grad()`, then "
        "`loss.backward()`, then `opt_d.step()`."
    )


def test_zero_grad_of_an_unnamed_optimizer_is_said_in_words():
    r = StepAfterReset("Adam", F, 17, "the Adam optimizer's zero_grad()", F, 16, 1)
    (f,) = zeroed_before_step.check(AutogradGraph(), Events(backward=[call(1, 15)], resets=[r]))
    assert f.message.startswith("The Adam optimizer's zero_grad() at line 16 runs after")
    assert "before the Adam optimizer's step() at line 17" in f.message
    assert "Adam.zero_grad" not in f.hint and "Adam.step" not in f.hint


def test_names_are_listed_as_people_count():
    assert natural(["l.10", "l.2", "l.1"]) == ["l.1", "l.2", "l.10"]
    assert listed([f"p{i}" for i in range(12)]) == "p0, p1, p2, p3, p4, …, p11 (12 in all)"


# -- graph-freed: which cause, and the line to change ---------------------------------------------


def _bcall(i: int, line: int, root: str, graph: str, error: str | None = None) -> BackwardCall:
    return BackwardCall(
        i, "backward", F, line, (root,), ((),), (True,), False, False, False, graph, error
    )


def _gan_graph() -> AutogradGraph:
    """d_loss's graph: z -> G.0 (line 14) -> fake -> D.0 (line 16) -> d_loss."""
    g = AutogradGraph()
    g.graph.update(id="g1", calls=[1], roots=["n0"])
    g.add_node("n0", kind="tensor", name="d_loss", role="root")
    g.add_node("n1", kind="op", name="AddmmBackward0", line=16, file=F, module="D.0", order=2)
    g.add_node("n2", kind="tensor", name="fake", role="named")
    g.add_node("n3", kind="op", name="AddmmBackward0", line=14, file=F, module="G.0", order=1)
    g.add_node("n4", kind="tensor", name="G.0.weight", role="param")
    g.add_node("n5", kind="tensor", name="D.0.weight", role="param")
    g.add_edges_from([("n4", "n3"), ("n3", "n2"), ("n2", "n1"), ("n5", "n1"), ("n1", "n0")])
    return g


def _gan_events(stepped: tuple[str, ...]) -> Events:
    return Events(
        backward=[_bcall(1, 17, "d_loss", "g1"), _bcall(2, 21, "g_loss", "g2", FREED)],
        carries=[GraphCarry("linear", F, 20, "D.0", "fake", 1, 1, False)],
        steps=[OptimizerStep(0, "Adam", 1, stepped, F, 18, 1)],
    )


def test_a_gan_without_detach_is_fixed_where_the_first_loss_uses_fake():
    g = _gan_graph()
    ev = _gan_events(("D.0.weight",))
    f = only_one(graph_freed.check(g, ev))
    assert (f.line, f.node, f.graph) == (16, "n1", "g1")
    assert f.related == (
        Location(F, 17, "went back through fake and freed it"),
        Location(F, 21, "backward raised here"),
    )
    assert (
        "through fake into G (G.0.weight)" in f.message
        and "(the Adam optimizer's step() at line 18)" in f.message
    )
    assert "`D(fake.detach())`" in f.hint
    # made once, in the graph where the fix goes: the failing call's graph stays silent
    g2 = AutogradGraph()
    g2.graph.update(id="g2", calls=[2])
    assert list(graph_freed.check(g2, ev)) == []


def test_two_losses_of_one_step_that_both_train_the_shared_part_are_summed():
    ev = _gan_events(("D.0.weight", "G.0.weight"))  # the step after d_loss updates G too
    f = only_one(graph_freed.check(_gan_graph(), ev))
    assert f.line == 17 and "`(d_loss + g_loss).backward()`" in f.hint
    assert "`d_loss.backward(retain_graph=True)`" in f.hint and "detach" not in f.hint


def test_a_tensor_made_once_before_the_loop_is_computed_inside_it_when_it_trains():
    g = AutogradGraph()
    g.graph.update(id="g1", calls=[1, 2], roots=["n0"])
    g.add_node("n0", kind="tensor", name="loss", role="root")
    g.add_node("n1", kind="op", name="AddmmBackward0", line=14, file=F, module="clf", order=2)
    g.add_node("n2", kind="tensor", name="feats", role="named")
    g.add_node("n3", kind="op", name="EmbeddingBackward0", line=11, file=F, module="embed")
    g.add_node("n4", kind="tensor", name="embed.weight", role="param")
    g.add_edges_from([("n4", "n3"), ("n3", "n2"), ("n2", "n1"), ("n1", "n0")])
    ev = Events(
        backward=[_bcall(1, 15, "loss", "g1"), _bcall(2, 15, "loss", "g1", FREED)],
        carries=[GraphCarry("linear", F, 14, "clf", "feats", 1, 1, False)],
        steps=[OptimizerStep(0, "SGD", 1, ("embed.weight",), F, 16, 1)],
    )
    f = only_one(graph_freed.check(g, ev))
    assert f.line == 11 and "computed once, before the loop" in f.message
    assert "Compute feats inside the loop" in f.hint and "stop embed.weight" in f.hint
    ev.steps[0] = OptimizerStep(0, "SGD", 1, ("clf.weight",), F, 16, 1)  # embed is frozen
    f = only_one(graph_freed.check(g, ev))
    assert f.line == 11 and "`with torch.no_grad():`" in f.hint and "inside the loop" not in f.hint
    # a state the module that takes it also made (out, h = rnn(x, h)) is a recurrent state
    ev.carries[0] = GraphCarry("rnn", F, 14, "embed", "feats", 1, 1, False)
    f = only_one(graph_freed.check(g, ev))
    assert f.line == 14 and "`feats = feats.detach()`" in f.hint


def only_one(findings):  # type: ignore[no-untyped-def]
    found = list(findings)
    assert len(found) == 1, found
    return found[0]


# -- the discriminator's gradients left by the generator's loss, and an optimizer never stepped ---


def test_gradients_added_after_the_step_and_thrown_away_are_no_accumulation():
    # D: call 1 (its loss), its step, call 2 (G's loss adds to D's grad), reset, call 3
    grads = [update(1, "none", 1.0), update(2, "kept", 3.0), update(3, "zero", 1.5)]
    ev = Events(grads=grads, steps=[step(1, 1)])
    assert list(grad_accumulation.check(AutogradGraph(), ev)) == []
    ev = Events(grads=grads, steps=[step(2, 1)])  # the step used the sum: reported (info)
    assert [f.severity for f in grad_accumulation.check(AutogradGraph(), ev)] == ["info"]


def test_a_script_that_raised_before_an_optimizers_first_step_says_nothing_about_its_params():
    from graphscope.model import OptimizerBuilt, ScriptError

    ev = Events(
        backward=[call(1, 28), call(2, 30)],
        steps=[OptimizerStep(0, "SGD", 1, ("body.weight",), F, 29, 1, F, 21)],
        built=[OptimizerBuilt("SGD", F, 21), OptimizerBuilt("SGD", F, 22)],
        error=ScriptError("RuntimeError", "boom", F, 30),
    )
    assert list(param_not_in_optimizer.check(params_graph(), ev)) == []
    ev.built.pop()  # every optimizer built has stepped: the head's parameters are in none
    assert len(list(param_not_in_optimizer.check(params_graph(), ev))) == 1


def test_a_loss_made_by_torch_tensor_of_a_list_is_fixed_with_torch_stack_at_that_line():
    from graphscope.model import ErrorSite, Named, ScriptError

    text = "loss = torch.tensor(losses, dtype=torch.float32).mean()"
    site = ErrorSite(F, 14, "loss.backward()", (Named("loss", "tensor", F, 13, text),))
    err = ScriptError("RuntimeError", NOGRADFN, F, 14, "call", site)
    ev = Events(backward=[call(1, 14, graph=None, error=NOGRADFN)], error=err)
    f = next(iter(no_grad_fn.check(AutogradGraph(), ev)))
    assert (f.line, f.related) == (13, (Location(F, 14, "backward raised here"),))
    assert "made by torch.tensor(losses) at line 13" in f.message
    assert "`loss = torch.stack(losses).mean()`" in f.hint
    # a loss made otherwise keeps the generic explanation at the backward call
    site = ErrorSite(F, 14, "loss.backward()", (Named("loss", "tensor", F, 13, "loss = a * b"),))
    ev.error = ScriptError("RuntimeError", NOGRADFN, F, 14, "call", site)
    f = next(iter(no_grad_fn.check(AutogradGraph(), ev)))
    assert f.line == 14 and "torch.stack" not in f.hint
