"""The checks on hand-built graphs and events: one pitfall per module, positives and negatives."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import graphscope.checks as checks
from graphscope.checks import (
    CHECKS,
    attach,
    grad_accumulation,
    graph_freed,
    leaf_inplace,
    no_grad_fn,
    no_grad_param,
    nonfinite_grad,
    nonleaf_grad_access,
    nonscalar_backward,
    run_checks,
    saved_tensor_modified,
)
from graphscope.model import (
    FINDING_KINDS,
    AutogradGraph,
    BackwardCall,
    Events,
    Finding,
    GradRead,
    GradUpdate,
    GraphCarry,
    InplaceWrite,
    Location,
    NonFinite,
    OptimizerStep,
    ScriptError,
)

F = "train.py"

# -- builders -----------------------------------------------------------------------------------


def seed_graph(gid: str | None = "g1", calls: tuple[int, ...] = (1,)) -> AutogradGraph:
    """y = (w + x) * (w + 1), as trace draws it: y <- Mul <- {a <- Add <- w, x ; b <- Add <- w}."""
    g = AutogradGraph()
    g.add_node(
        "n0",
        kind="tensor",
        label="y",
        name="y",
        role="root",
        shape=(1,),
        is_leaf=False,
        requires_grad=True,
        reached=True,
    )
    g.add_node(
        "n1",
        kind="op",
        label="MulBackward0",
        name="MulBackward0",
        op="mul",
        file=F,
        line=7,
        saved=[],
        freed=False,
    )
    g.add_node(
        "n2",
        kind="tensor",
        label="a",
        name="a",
        role="named",
        shape=(1,),
        is_leaf=False,
        requires_grad=True,
        reached=True,
    )
    g.add_node(
        "n3",
        kind="op",
        label="AddBackward0",
        name="AddBackward0",
        op="add",
        file=F,
        line=5,
        saved=[],
        freed=False,
    )
    g.add_node(
        "n4",
        kind="tensor",
        label="w",
        name="w",
        role="leaf",
        shape=(1,),
        is_leaf=True,
        requires_grad=True,
        reached=True,
    )
    g.add_node(
        "n5",
        kind="tensor",
        label="x",
        name="x",
        role="leaf",
        shape=(1,),
        is_leaf=True,
        requires_grad=True,
        reached=True,
    )
    for u, v in [("n1", "n0"), ("n2", "n1"), ("n3", "n2"), ("n4", "n3"), ("n5", "n3")]:
        g.add_edge(u, v)
    g.graph.update(id=gid, roots=["n0"], call=calls[0] if calls else None, calls=list(calls))
    return g


def call(
    index: int,
    line: int,
    *,
    roots=("y",),
    shapes=((),),
    rg=(True,),
    retain=False,
    given=False,
    graph="g1",
    error=None,
    api="backward",
) -> BackwardCall:
    return BackwardCall(
        index=index,
        api=api,
        file=F,
        line=line,
        roots=tuple(roots),
        root_shapes=tuple(shapes),
        root_requires_grad=tuple(rg),
        retain_graph=retain,
        create_graph=False,
        gradient_given=given,
        graph=graph,
        error=error,
        error_type="RuntimeError" if error else None,
    )


def grad(v: float) -> dict:
    return {
        "shape": [1],
        "dtype": "float32",
        "numel": 1,
        "first": [v],
        "norm": abs(v),
        "min": v,
        "max": v,
        "sum": v,
        "nonfinite": False,
    }


def update(c: int, before: str, v: float, name: str = "w", line: int = 9) -> GradUpdate:
    return GradUpdate(call=c, name=name, before=before, grad=grad(v), file=F, line=line)


def write(
    index: int,
    line: int,
    *,
    name="w",
    api="add_",
    leaf=True,
    rg=True,
    enabled=True,
    v0=0,
    v1=1,
    raised=None,
) -> InplaceWrite:
    return InplaceWrite(
        index=index,
        api=api,
        file=F,
        line=line,
        storage=1,
        version_before=v0,
        version_after=v1,
        name=name,
        is_leaf=leaf,
        requires_grad=rg,
        grad_enabled=enabled,
        raised=raised,
    )


def only(findings) -> Finding:
    found = list(findings)
    assert len(found) == 1, found
    return found[0]


LEAF_MSG = "a leaf Variable that requires grad is being used in an in-place operation."
FREED_MSG = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed"
)
STALE_MSG = (
    "one of the variables needed for gradient computation has been modified by an inplace "
    "operation: [torch.FloatTensor [1]], which is output 0 of Add, is at version 1; expected "
    "version 0 instead. Hint: enable anomaly detection"
)
SCALAR_MSG = "grad can be implicitly created only for scalar outputs"
NOGRADFN_MSG = "element 0 of tensors does not require grad and does not have a grad_fn"


# -- grad-accumulation --------------------------------------------------------------------------


def test_accumulation_over_four_calls_is_info_with_history():
    ev = Events(
        grads=[
            update(1, "none", 5),
            update(2, "kept", 10),
            update(3, "kept", 15),
            update(4, "kept", 20),
        ]
    )
    f = only(grad_accumulation.check(seed_graph(calls=(1, 2, 3, 4)), ev))
    assert (f.kind, f.severity, f.line, f.node, f.graph) == (
        "grad-accumulation",
        "info",
        9,
        "n4",
        "g1",
    )
    assert (
        f.message
        == "w.grad accumulated over 4 backward calls without being zeroed: 5 → 10 → 15 → 20"
    )
    assert f.badge == "grad 5 → 10 → 15 → 20"
    # no optimizer stepped: the reset is the leaf's own, as code
    assert f.hint.endswith("reset them before each backward call: set `w.grad = None`.")


def test_accumulation_line_is_first_kept_update():
    # y.backward(retain_graph=True) at line 21, y.backward() at line 23 (scenario retain-graph)
    ev = Events(grads=[update(1, "none", 5, line=21), update(2, "kept", 10, line=23)])
    f = only(grad_accumulation.check(seed_graph(), ev))
    assert (f.severity, f.line) == ("info", 23)
    assert f.related == (Location(F, 21, "first backward of the sum"),)


def test_clean_loop_gives_nothing():
    ev = Events(
        grads=[update(i, "none", 5) for i in range(1, 5)]
        + [update(i, "zero", 5, name="x") for i in range(1, 5)],
        steps=[OptimizerStep(i, "SGD", i, ("w",), F, 11) for i in range(1, 5)],
    )
    assert list(grad_accumulation.check(seed_graph(), ev)) == []


def test_single_backward_on_manual_grad_is_not_accumulation():
    assert list(grad_accumulation.check(seed_graph(), Events(grads=[update(1, "kept", 5)]))) == []


def test_step_inside_the_run_is_warning():
    # forgot zero_grad: backward, step, backward (kept), step, ...
    ev = Events(
        grads=[update(1, "none", 5), update(2, "kept", 10), update(3, "kept", 15)],
        steps=[OptimizerStep(i, "SGD", i, ("w",), F, 11) for i in (1, 2, 3)],
    )
    f = only(grad_accumulation.check(seed_graph(), ev))
    assert f.severity == "warning"
    assert "w.grad kept accumulating across 2 optimizer steps" in f.message
    # no name known for the optimizer: its class, in words (no variable that would not run)
    assert "(the SGD optimizer's step() at line 11)" in f.message and "5 → 10 → 15" in f.message
    assert Location(F, 11, "the SGD optimizer's step() used the summed gradient") in f.related
    assert f.hint.startswith("Call the SGD optimizer's zero_grad() (or set .grad = None)")


@pytest.mark.parametrize("name", ["opt", "optimizer", "self.opt", "optimizers[0]"])
def test_the_optimizer_is_named_as_the_user_calls_it(name: str):
    ev = Events(
        grads=[update(1, "none", 5), update(2, "kept", 10), update(3, "kept", 15)],
        steps=[OptimizerStep(i, "SGD", i, ("w",), F, 11, name=name) for i in (1, 2, 3)],
    )
    f = only(grad_accumulation.check(seed_graph(), ev))
    assert f"optimizer steps ({name}.step() at line 11)" in f.message
    assert Location(F, 11, f"{name}.step() used the summed gradient") in f.related
    assert f.hint.startswith(f"Call `{name}.zero_grad()` (or set .grad = None) once per training")
    assert "SGD" not in f.message + f.hint


def test_micro_batches_hint_names_the_optimizer_that_steps_them():
    grads = [update(1, "none", 5), update(2, "kept", 10), update(3, "none", 5)]
    steps = [OptimizerStep(1, "Adam", 2, ("w",), F, 12, optimizer_id=1, name="opt")]
    f = only(grad_accumulation.check(seed_graph(), Events(grads=grads, steps=steps)))
    assert f.severity == "info"
    assert f.hint.endswith(
        "reset them before each backward call: `opt.zero_grad()` (or set `w.grad = None`)."
    )


def test_two_optimizers_that_forgot_are_both_told_to_zero():
    grads = [
        update(c, "none" if c == 1 else "kept", 5 * c, name=n)
        for n in ("a", "b")
        for c in (1, 2, 3)
    ]
    steps = [
        OptimizerStep(2 * i + k, "SGD", i, (n,), F, 11, optimizer_id=k + 1, name=f"optimizers[{k}]")
        for i in (1, 2, 3)
        for k, n in enumerate("ab")
    ]
    f = only(grad_accumulation.check(seed_graph(), Events(grads=grads, steps=steps)))
    assert f.hint.startswith(
        "Call `optimizers[0].zero_grad()` and `optimizers[1].zero_grad()` (or set .grad = None)"
    )


def test_micro_batches_then_step_then_reset_is_info_once():
    # 2 micro-batches per step, step after each pair, zero_grad(set_to_none) after the step
    grads, steps = [], []
    for s in range(3):
        grads += [update(2 * s + 1, "none", 5), update(2 * s + 2, "kept", 10)]
        steps.append(OptimizerStep(s + 1, "Adam", 2 * s + 2, ("w",), F, 12))
    f = only(grad_accumulation.check(seed_graph(), Events(grads=grads, steps=steps)))
    assert f.severity == "info"
    assert f.message.endswith("5 → 10 (this happened 3 times)")


def test_changed_grad_continues_the_run_and_zero_resets_it():
    ev = Events(
        grads=[
            update(1, "none", 5),
            update(2, "changed", 55),
            update(3, "zero", 5),
            update(4, "none", 5),
        ]
    )
    f = only(grad_accumulation.check(seed_graph(), ev))
    assert "2 backward calls" in f.message and "5 → 55" in f.message


def test_long_history_is_elided_and_unknown_leaf_has_no_node():
    ev = Events(
        grads=[update(1, "none", 1, name="head.bias")]
        + [update(i, "kept", i, name="head.bias") for i in range(2, 11)]
    )
    f = only(grad_accumulation.check(seed_graph(), ev))
    assert f.badge == "grad 1 → 2 → 3 → 4 → … → 10"
    assert (f.node, f.graph) == (None, None)
    assert f.message.startswith("head.bias.grad accumulated over 10 backward calls")


def test_large_gradients_show_norms():
    big = {"numel": 100, "first": [1.0, 2.0], "norm": 3.5, "min": 0.0, "max": 2.0}
    bigger = dict(big, norm=7.0)
    ev = Events(
        grads=[GradUpdate(1, "w", "none", big, F, 9), GradUpdate(2, "w", "kept", bigger, F, 9)]
    )
    f = only(grad_accumulation.check(seed_graph(), ev))
    assert f.message.endswith("norm 3.5 → norm 7") and f.badge == "grad norm 3.5 → 7"


def test_unnamed_leaf_is_described_not_named_by_node_id():
    g = seed_graph(calls=(1, 2))
    g.add_node(
        "n9",
        kind="tensor",
        label="tensor(3)",
        name=None,
        role="leaf",
        is_leaf=True,
        requires_grad=True,
        reached=True,
    )
    ev = Events(grads=[update(1, "none", 1, name="n9"), update(2, "kept", 2, name="n9")])
    f = only(grad_accumulation.check(g, ev))
    assert "n9" not in f.message and "unnamed leaf tensor(3)" in f.message
    assert f.node == "n9"


# -- leaf-inplace -------------------------------------------------------------------------------


def test_refused_leaf_inplace_is_error_at_the_write():
    ev = Events(inplace=[write(0, 31, v0=0, v1=0, raised=LEAF_MSG)])
    f = only(leaf_inplace.check(seed_graph(), ev))
    assert (f.kind, f.severity, f.line, f.node, f.graph) == (
        "leaf-inplace",
        "error",
        31,
        "n4",
        "g1",
    )
    assert f.message.startswith("add_() writes in place into w, a leaf tensor that requires grad")
    assert f.badge == "in-place add_ ← line 31"
    assert "torch.no_grad()" in f.hint


def test_leaf_write_with_grad_enabled_that_did_not_happen_counts_without_message():
    f = only(
        leaf_inplace.check(seed_graph(), Events(inplace=[write(0, 8, api="__iadd__", v0=0, v1=0)]))
    )
    assert f.message.startswith("`+=` writes in place into w")


def test_view_of_leaf_is_reported():
    ev = Events(
        inplace=[
            write(
                0,
                12,
                name=None,
                leaf=False,
                v1=0,
                raised="a view of a leaf Variable that requires grad is being used in "
                "an in-place operation.",
            )
        ]
    )
    f = only(leaf_inplace.check(seed_graph(), ev))
    assert "a view of a leaf tensor that requires grad" in f.message and f.node is None


@pytest.mark.parametrize(
    "w",
    [
        write(0, 20, enabled=False),  # with torch.no_grad(): w -= lr * w.grad
        write(
            0, 20, api="kaiming_uniform_", name=None
        ),  # nn.init in a constructor: allowed, bumped
        write(0, 20, leaf=False),  # a non-leaf: the saved-tensor check's business
        write(0, 20, rg=False, v1=0),  # a leaf without requires_grad
        write(0, 20, raised="some other error"),
    ],
)
def test_allowed_writes_give_nothing(w):
    assert list(leaf_inplace.check(seed_graph(), Events(inplace=[w]))) == []


def test_leaf_inplace_in_a_loop_is_reported_once():
    ev = Events(inplace=[write(i, 31, v1=0, raised=LEAF_MSG) for i in range(3)])
    assert len(list(leaf_inplace.check(seed_graph(), ev))) == 1


# -- saved-tensor-modified ----------------------------------------------------------------------


def stale_graph(writes=(0,), tensor_name="a") -> AutogradGraph:
    g = seed_graph()
    g.nodes["n1"]["saved"] = [
        {
            "name": "self",
            "status": "stale",
            "shape": (1,),
            "dtype": None,
            "version_saved": 0,
            "version_now": len(writes) or 1,
            "tensor": "n2",
            "tensor_name": tensor_name,
            "writes": list(writes),
        },
        {
            "name": "other",
            "status": "ok",
            "shape": (1,),
            "dtype": "float32",
            "version_saved": None,
            "version_now": 0,
            "tensor": None,
            "tensor_name": "b",
            "writes": [],
        },
    ]
    return g


def test_stale_saved_tensor_points_at_the_write_and_the_saver():
    ev = Events(inplace=[write(0, 8, name="a", leaf=False)])
    f = only(saved_tensor_modified.check(stale_graph(), ev))
    assert (f.kind, f.severity, f.line, f.node, f.graph) == (
        "saved-tensor-modified",
        "error",
        8,
        "n1",
        "g1",
    )
    assert f.related == (Location(F, 7, "saved by MulBackward0"),)
    assert f.badge == "saved v0, now v1 ← line 8"
    assert f.message.startswith(
        "a was modified in place by add_() at line 8 after mul at line 7 saved it"
    )
    assert "a = a + 1" in f.hint


def test_last_of_several_writes_is_reported():
    ev = Events(
        inplace=[
            write(0, 8, name="a", leaf=False),
            write(1, 9, name="a", leaf=False, api="mul_", v0=1, v1=2),
        ]
    )
    f = only(saved_tensor_modified.check(stale_graph(writes=(0, 1)), ev))
    assert (f.line, f.badge) == (9, "saved v0, now v2 ← line 9")
    assert "mul_()" in f.message


def test_stale_without_recorded_write_falls_back_to_the_op_line():
    f = only(saved_tensor_modified.check(stale_graph(writes=(), tensor_name=None), Events()))
    assert (f.line, f.node) == (7, "n1")
    assert "a was modified in place after mul at line 7" in f.message  # name from the linked node


def test_ok_saved_tensors_give_nothing():
    g = seed_graph()
    g.nodes["n1"]["saved"] = [{"name": "self", "status": "ok", "version_now": 0, "writes": []}]
    g.nodes["n3"]["saved"] = [{"name": "self", "status": "freed", "writes": []}]
    assert list(saved_tensor_modified.check(g, Events())) == []


def test_saved_tensor_from_engine_error_when_no_stale_entry():
    ev = Events(
        backward=[call(1, 25, error=STALE_MSG)], inplace=[write(0, 23, name="a", leaf=False)]
    )
    f = only(saved_tensor_modified.from_error(ev))
    assert (f.line, f.related) == (23, (Location(F, 25, "backward raised here"),))
    assert (
        "(saved at version 0, now 1)" in f.message
        and "a was modified in place by add_()" in f.message
    )
    # ambiguous writes: stay at the backward line
    ev.inplace.append(write(1, 30, name="c", leaf=False))
    assert only(saved_tensor_modified.from_error(ev)).line == 25


# -- graph-freed --------------------------------------------------------------------------------


def test_second_backward_through_freed_graph():
    g = seed_graph(calls=(1, 2, 3))
    g.nodes["n1"]["freed"] = True
    ev = Events(backward=[call(1, 21, retain=True), call(2, 23), call(3, 34, error=FREED_MSG)])
    f = only(graph_freed.check(g, ev))
    assert (f.kind, f.severity, f.line, f.node, f.graph) == ("graph-freed", "error", 34, "n1", "g1")
    assert f.related == (Location(F, 23, "freed the graph"),)
    assert f.badge == "freed by line 23"
    assert f.message.startswith("y.backward() went through a graph a second time")
    assert "line 23" in f.message and "retain_graph=True" in f.hint


def test_retained_first_call_is_not_the_freer_and_successful_calls_give_nothing():
    ev = Events(backward=[call(1, 21, retain=True), call(2, 23)])
    assert list(graph_freed.check(seed_graph(calls=(1, 2)), ev)) == []
    ev.backward.append(call(3, 30, error=FREED_MSG, graph="g2"))
    # the finding is made in the failing call's graph (g2), not in g1's pass
    assert list(graph_freed.check(seed_graph(calls=(1, 2)), ev)) == []
    # another graph than the freer's, no carry: two losses through a shared part; the line to
    # change is the first backward call (23), which did not retain the graph
    f = only(graph_freed.check(seed_graph("g2", calls=(3,)), ev))
    assert (f.line, f.related) == (23, (Location(F, 30, "backward raised here"),))
    assert f.badge == "freed by line 23" and "retain_graph=True" in f.hint


# -- nonleaf-grad-access ------------------------------------------------------------------------


def test_nonleaf_grad_read():
    ev = Events(
        grad_reads=[GradRead("a", F, 12, "AddBackward0"), GradRead("a", F, 12, "AddBackward0")]
    )
    f = only(nonleaf_grad_access.check(seed_graph(), ev))
    assert (f.kind, f.severity, f.line, f.node) == ("nonleaf-grad-access", "warning", 12, "n2")
    assert (
        f.message.startswith("a.grad is None: a is not a leaf") and "only leaf tensors" in f.message
    )
    assert "a.retain_grad()" in f.hint
    assert list(nonleaf_grad_access.check(seed_graph(), Events())) == []


def test_unnamed_nonleaf_grad_read():
    f = only(
        nonleaf_grad_access.check(seed_graph(), Events(grad_reads=[GradRead(None, F, 3, None)]))
    )
    assert f.message.startswith("This .grad is None") and f.node is None


# -- nonscalar-backward -------------------------------------------------------------------------


def test_nonscalar_backward_error():
    ev = Events(backward=[call(1, 17, shapes=((3,),), error=SCALAR_MSG, graph=None)])
    f = only(nonscalar_backward.check(seed_graph(), ev))
    assert (f.kind, f.severity, f.line, f.node) == ("nonscalar-backward", "error", 17, "n0")
    assert f.message.startswith(
        "y.backward() was called on y, which has shape (3,), without gradient="
    )
    assert "y.sum().backward()" in f.hint and "torch.ones_like(y)" in f.hint
    assert f.badge == "backward on shape (3,)"


@pytest.mark.parametrize("shape", [(), (1,), (1, 1)])
def test_scalar_like_roots_give_nothing(shape):
    assert (
        list(nonscalar_backward.check(seed_graph(), Events(backward=[call(1, 9, shapes=(shape,))])))
        == []
    )


def test_nonscalar_root_with_gradient_given_is_fine_and_without_is_reported():
    given = call(1, 9, shapes=((2,),), given=True)
    assert list(nonscalar_backward.check(seed_graph(), Events(backward=[given]))) == []
    f = only(
        nonscalar_backward.check(seed_graph(), Events(backward=[call(1, 9, shapes=((2, 3),))]))
    )
    assert "shape (2, 3)" in f.message


# -- no-grad-param ------------------------------------------------------------------------------


def unreached_graph(gid="g1") -> AutogradGraph:
    g = seed_graph(gid=gid)
    g.add_node(
        "n6",
        kind="tensor",
        label="aux_head.weight",
        name="aux_head.weight",
        role="param",
        is_leaf=True,
        requires_grad=True,
        reached=False,
        module="aux_head",
    )
    g.add_node(
        "n7",
        kind="tensor",
        label="z",
        name="z",
        role="leaf",
        is_leaf=True,
        requires_grad=False,
        reached=False,
    )
    return g


def test_unreached_parameter():
    f = only(no_grad_param.check(unreached_graph(), Events(backward=[call(1, 31)])))
    assert (f.kind, f.severity, f.line, f.node, f.graph) == (
        "no-grad-param",
        "warning",
        31,
        "n6",
        "g1",
    )
    assert f.message.startswith(
        "Parameter aux_head.weight requires grad, but the backward call at line 31"
    )
    assert "n6" not in f.message and f.badge == "no gradient"


def test_reached_params_and_params_with_a_grad_give_nothing():
    assert list(no_grad_param.check(seed_graph(), Events())) == []
    ev = Events(backward=[call(1, 31)], grads=[update(2, "none", 1, name="aux_head.weight")])
    assert list(no_grad_param.check(unreached_graph(), ev)) == []


# -- nonfinite-grad -----------------------------------------------------------------------------


def test_nonfinite_gradient():
    g = seed_graph()
    ev = Events(nonfinite=[NonFinite(1, "g1", "n3", "AddBackward0", "nan", F, 5)])
    f = only(nonfinite_grad.check(g, ev))
    assert (f.kind, f.severity, f.line, f.node, f.graph) == (
        "nonfinite-grad",
        "error",
        5,
        "n3",
        "g1",
    )
    assert "first becomes NaN in the backward of add (AddBackward0)" in f.message
    assert f.badge == "NaN first here"
    other = only(nonfinite_grad.check(seed_graph(gid="g2"), ev))  # not this graph: no node
    assert (other.node, other.graph) == (None, None)
    assert list(nonfinite_grad.check(g, Events())) == []


def test_nonfinite_at_a_leaf_does_not_say_accumulategrad():
    ev = Events(
        nonfinite=[NonFinite(1, None, None, "torch::autograd::AccumulateGrad", "nan+inf", F, 4)]
    )
    f = only(nonfinite_grad.check(seed_graph(), ev))
    assert "AccumulateGrad" not in f.message and "NaN and Inf" in f.message


# -- no-grad-fn ---------------------------------------------------------------------------------


def test_backward_without_grad_fn():
    ev = Events(
        backward=[call(1, 20, roots=("loss",), rg=(False,), error=NOGRADFN_MSG, graph=None)]
    )
    f = only(no_grad_fn.check(seed_graph(), ev))
    assert (f.kind, f.severity, f.line) == ("no-grad-fn", "error", 20)
    assert f.message.startswith("loss.backward() was called on loss, which does not require grad")
    assert "requires_grad=True" in f.hint


def test_root_not_requiring_grad_and_second_element():
    f = only(
        no_grad_fn.check(
            seed_graph(), Events(backward=[call(1, 4, roots=("y", "c"), rg=(True, False))])
        )
    )
    assert "called on c," in f.message
    msg = "element 1 of tensors does not require grad and does not have a grad_fn"
    f = only(
        no_grad_fn.check(seed_graph(), Events(backward=[call(1, 4, roots=("y", "c"), error=msg)]))
    )
    assert "called on c," in f.message
    assert list(no_grad_fn.check(seed_graph(), Events(backward=[call(1, 4)]))) == []


# -- errors from the script itself --------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        (FREED_MSG, "graph-freed"),
        (LEAF_MSG, "leaf-inplace"),
        (STALE_MSG, "saved-tensor-modified"),
        (SCALAR_MSG, "nonscalar-backward"),
        (NOGRADFN_MSG, "no-grad-fn"),
    ],
)
def test_script_error_alone_gives_its_finding(message, kind):
    ev = Events(error=ScriptError("RuntimeError", message, F, 40))
    f = only(run_checks([], ev))
    assert (f.kind, f.severity, f.line, f.node, f.graph) == (kind, "error", 40, None, None)


def test_script_error_not_doubled_when_event_explains_it():
    ev = Events(
        backward=[call(1, 17, shapes=((3,),), error=SCALAR_MSG, graph=None)],
        error=ScriptError("RuntimeError", SCALAR_MSG, F, 17),
    )
    f = only(run_checks([seed_graph()], ev))
    assert f.node == "n0" and f.message.startswith("y.backward()")
    ev = Events(
        inplace=[write(0, 23, name="a", leaf=False)],
        backward=[call(1, 25, error=STALE_MSG)],
        error=ScriptError("RuntimeError", STALE_MSG, F, 25),
    )
    f = only(run_checks([stale_graph()], ev))
    assert (f.line, f.node) == (23, "n1")


def test_unrelated_script_error_gives_nothing():
    assert run_checks([], Events(error=ScriptError("ValueError", "bad shape", F, 3))) == []


# -- run_checks and attach ----------------------------------------------------------------------


def test_checks_cover_every_kind_in_design_order():
    assert list(CHECKS) == [k for k in FINDING_KINDS if k != "torch-error-unexplained"]
    for kind, module in CHECKS.items():
        assert module.KIND == kind
        assert callable(getattr(module, "check", None)) or module.MESSAGES, kind


def test_no_graph_runs_on_an_empty_graph():
    ev = Events(
        grad_reads=[GradRead("h", F, 12, "MulBackward0")], backward=[call(1, 9, graph=None)]
    )
    f = only(run_checks([], ev))
    assert (f.kind, f.graph, f.node) == ("nonleaf-grad-access", None, None)
    assert run_checks([], Events()) == []


def test_findings_seen_in_two_graphs_are_kept_once_preferring_a_node():
    g1 = seed_graph("g1", calls=(1,))
    g2 = AutogradGraph()
    g2.graph.update(id="g2", roots=[], calls=[2])
    ev = Events(grad_reads=[GradRead("a", F, 12, "AddBackward0")])
    for order in ([g1, g2], [g2, g1]):
        f = only(run_checks(order, ev))
        assert (f.graph, f.node) == ("g1", "n2")


def test_param_reached_in_another_graph_is_not_reported():
    g1 = unreached_graph("g1")
    g2 = seed_graph("g2", calls=(2,))
    g2.add_node(
        "n6",
        kind="tensor",
        label="aux_head.weight",
        name="aux_head.weight",
        role="param",
        is_leaf=True,
        requires_grad=True,
        reached=True,
    )
    ev = Events(backward=[call(1, 31), call(2, 40, graph="g2")])
    assert run_checks([g1, g2], ev) == []
    found = run_checks([g1], ev)
    assert [(f.kind, f.line) for f in found] == [("no-grad-param", 31)]


def test_run_checks_sorts_errors_first_and_attach_keeps_a_graphs_own():
    g1 = stale_graph()
    g2 = unreached_graph("g2")
    ev = Events(
        inplace=[write(0, 8, name="a", leaf=False)],
        grad_reads=[GradRead("h", F, 2, None)],
        backward=[call(1, 9), call(2, 31, graph="g2")],
    )
    g2.graph["calls"] = [2]
    found = run_checks([g1, g2], ev)
    assert [f.kind for f in found] == [
        "saved-tensor-modified",
        "nonleaf-grad-access",
        "no-grad-param",
    ]
    a1, a2 = attach(g1, found), attach(g2, found)
    assert [f.kind for f in a1.findings] == ["saved-tensor-modified"]
    assert [f.kind for f in a2.findings] == ["no-grad-param"]
    assert g1.findings == () and a1 is not g1 and set(a1.nodes) == set(g1.nodes)


def test_checks_do_not_change_their_inputs():
    g = stale_graph()
    ev = Events(
        inplace=[write(0, 8, name="a", leaf=False)],
        grads=[update(1, "none", 1), update(2, "kept", 2)],
    )
    before_nodes, before_ev = dict(g.nodes(data=True)), repr(ev)
    run_checks([g], ev)
    assert dict(g.nodes(data=True)) == before_nodes and repr(ev) == before_ev


# -- rooms ----------------------------------------------------------------------------------------


def test_checks_import_only_model_and_stdlib():
    import sys

    folder = Path(checks.__file__).parent
    modules = sorted(folder.glob("*.py"))
    # the package, one module per kind, catalogue, the shared helpers (_common, _statement)
    assert len(modules) == len(CHECKS) + 2 + len(list(folder.glob("_[a-z]*.py")))
    own = {f"graphscope.checks.{p.stem}" for p in modules} | {"graphscope.checks"}
    for path in modules:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{path.name}: relative import"
                names = [node.module or ""]
                if node.module == "graphscope.checks":
                    names = [f"graphscope.checks.{a.name}" for a in node.names]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                ok = (
                    name in ("graphscope.model", "graphscope.checks.catalogue")
                    or name.startswith("graphscope.checks._")  # shared helpers
                    or (path.name == "__init__.py" and name in own)
                    or (top in sys.stdlib_module_names and top != "graphscope")
                )
                assert ok, f"{path.name} imports {name}"


def test_badge_uses_norms_for_multi_element_gradients():
    g1 = {"numel": 3, "first": [1.0, 2.0, 2.0], "norm": 3.0, "min": 1.0, "max": 2.0}
    g2 = {"numel": 3, "first": [2.0, 4.0, 4.0], "norm": 6.0, "min": 2.0, "max": 4.0}
    ev = Events(grads=[GradUpdate(1, "w", "none", g1, F, 9), GradUpdate(2, "w", "kept", g2, F, 9)])
    f = only(grad_accumulation.check(seed_graph(), ev))
    assert f.message.endswith("[1, 2, 2] → [2, 4, 4]")
    assert f.badge == "grad norm 3 → 6"


def _stepped_graph(calls: tuple[int, ...]) -> tuple[AutogradGraph, Events]:
    """Two parameters w and x, saved by mul (line 7) and add (line 5), both written by the
    optimizer step at line 11 after ``loss.backward(retain_graph=True)`` at line 10."""
    g = seed_graph(calls=calls)
    for node, name, i in (("n1", "w", 0), ("n3", "x", 1)):
        g.nodes[node]["saved"] = [
            {
                "name": "self",
                "status": "stale",
                "version_saved": 0,
                "version_now": 1,
                "tensor_name": name,
                "writes": [i],
            }
        ]
    ev = Events(
        inplace=[write(0, 11, name="w", enabled=False), write(1, 11, name="x", enabled=False)],
        backward=[call(1, 10, roots=("loss",), retain=True)],
        steps=[OptimizerStep(0, "SGD", 1, ("w", "x"), F, 11, name="opt")],
    )
    return g, ev


def test_a_step_under_a_kept_graph_is_one_finding_for_its_parameters():
    """Seen at the step (--pdb traces the graph there): no later call went through it yet."""
    g, ev = _stepped_graph(calls=())
    f = only(saved_tensor_modified.check(g, ev))
    assert (f.kind, f.severity, f.line, f.related) == (
        "saved-tensor-modified",
        "error",
        11,
        (Location(F, 10, "backward with retain_graph=True"),),
    )
    assert f.message.startswith(
        "opt.step() at line 11 updates w and x in place, which mul at line 7 and add at line 5 "
        "saved for the graph that loss.backward(retain_graph=True) at line 10 kept"
    )
    assert "(`h = h.detach()`) and drop retain_graph=True" in f.hint


def test_a_step_between_batches_of_a_carried_state_is_one_finding_at_the_carry():
    g, ev = _stepped_graph(calls=(2,))
    ev.backward.append(call(2, 10, roots=("loss",), retain=True, error=STALE_MSG))
    ev.carries.append(GraphCarry("lstm", F, 8, None, "h", 1, 0, False, into_call=2))
    f = only(saved_tensor_modified.check(g, ev))
    assert (f.line, [r.line for r in f.related]) == (8, [10, 11])
    assert f.message.startswith(
        "h carries the previous batch's graph into the next one (line 8), and "
        "loss.backward(retain_graph=True) at line 10 keeps that graph for the next backward "
        "call; opt.step() at line 11 then updates w and x in place"
    )
    assert f.hint.startswith("Detach the carried state once per batch, before it is used: ")
    assert "`h = h.detach()`" in f.hint
