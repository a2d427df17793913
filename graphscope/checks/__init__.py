"""The checks: one autograd pitfall per module, each a pure function of a graph and the events.

Every module defines ``KIND`` (a key of :data:`graphscope.model.FINDING_KINDS`) and
``check(graph, events) -> Iterator[Finding]``; the ones whose pitfall is a torch error also
define ``MESSAGES``, their entries in the catalogue of torch's errors
(:mod:`graphscope.checks.catalogue`: torch's wordings, and how to explain the script's own
exception when no recorded event did; a module that only explains torch's errors has
``MESSAGES`` and no ``check``); one whose findings are listed together across graphs defines
``merge(findings, graphs)``. They import :mod:`graphscope.model` and the standard library only.

>>> from graphscope.model import AutogradGraph, Events, GradRead
>>> events = Events(grad_reads=[GradRead("h", "train.py", 12, "MulBackward0")])
>>> [(f.kind, f.line) for f in run_checks([], events)]
[('nonleaf-grad-access', 12)]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import ModuleType

from graphscope.checks import (
    amp_overflow,
    backward_create_graph,
    catalogue,
    checkpoint_no_grad,
    checkpoint_recompute_mismatch,
    custom_function_gradient,
    ddp_param_ready_twice,
    ddp_unused_param,
    eval_mode_training,
    grad_accumulation,
    grad_input_unused,
    gradient_shape,
    graph_freed,
    graph_grows,
    graph_kept_alive,
    inference_tensor,
    leaf_inplace,
    no_grad_fn,
    no_grad_param,
    nonfinite_grad,
    nonleaf_grad_access,
    nonscalar_backward,
    not_differentiable,
    numpy_requires_grad,
    param_not_in_optimizer,
    ranks_differ,
    requires_grad_misuse,
    saved_tensor_modified,
    step_without_backward,
    view_inplace,
    zeroed_before_step,
)
from graphscope.model import TENSOR, AutogradGraph, Events, Finding, sorted_findings

__all__ = ["CATALOGUE", "CHECKS", "run_checks", "attach"]

#: kind -> module, in the order of DESIGN.md's table.
CHECKS: dict[str, ModuleType] = {
    m.KIND: m
    for m in (
        grad_accumulation,
        leaf_inplace,
        saved_tensor_modified,
        graph_freed,
        nonleaf_grad_access,
        nonscalar_backward,
        no_grad_param,
        nonfinite_grad,
        no_grad_fn,
        ddp_unused_param,
        ddp_param_ready_twice,
        ranks_differ,
        graph_kept_alive,
        param_not_in_optimizer,
        zeroed_before_step,
        view_inplace,
        grad_input_unused,
        gradient_shape,
        numpy_requires_grad,
        requires_grad_misuse,
        custom_function_gradient,
        inference_tensor,
        not_differentiable,
        amp_overflow,
        eval_mode_training,
        checkpoint_recompute_mismatch,
        backward_create_graph,
        graph_grows,
        checkpoint_no_grad,
        step_without_backward,
    )
}

#: every message of torch's that a finding explains (the modules' ``MESSAGES``), in order
CATALOGUE: list[catalogue.Entry] = catalogue.entries(CHECKS.values())


def run_checks(graphs: Sequence[AutogradGraph], events: Events) -> list[Finding]:
    """Every check on every graph, de-duplicated, errors first.

    With no graph (no backward call happened) the checks run once on an empty graph. A finding
    found in several graphs is kept once (the copy that points at a node, if any). The
    explanation of the script's error from the catalogue (:mod:`~graphscope.checks.catalogue`)
    is not made when a finding of that kind was made from the events; an autograd error the
    catalogue does not know is an ``info`` finding. A tensor reached by the backward in any graph
    is not reported as unreached by another, nor by ``no-grad-param`` where a DDP finding on its
    graph already names it.
    """
    if not graphs:
        empty = AutogradGraph()
        empty.graph["id"] = None
        graphs = [empty]
    found: list[Finding] = []
    for graph in graphs:
        for module in CHECKS.values():
            if hasattr(module, "check"):
                found.extend(module.check(graph, events))
    found.extend(catalogue.explain(CATALOGUE, events, {f.kind for f in found}, graphs))
    reached = _reached_names(graphs)
    found = [f for f in found if not _reached_elsewhere(f, graphs, reached)]
    found = _told_by_checkpoint(found, graphs)
    found = _told_by_graph_freed(found, graphs)
    for module in CHECKS.values():
        if hasattr(module, "merge"):
            found = module.merge(found, graphs)
    return sorted_findings(_unique(_told_by_ddp(_grows_not_kept(found))))


def attach(graph: AutogradGraph, findings: Sequence[Finding]) -> AutogradGraph:
    """A copy of ``graph`` carrying the findings made on it (matched by graph id)."""
    gid = graph.graph.get("id")
    return graph.with_findings(f for f in findings if f.graph == gid)


def _unique(findings: Sequence[Finding]) -> list[Finding]:
    """One finding per :meth:`Finding.key`: the first that points at a node, else the first."""
    best: dict[tuple[object, ...], Finding] = {}
    for f in findings:
        k = f.key()
        if k not in best or (best[k].node is None and f.node is not None):
            best[k] = f
    return list(best.values())


def _told_by_ddp(findings: list[Finding]) -> list[Finding]:
    """Without the ``no-grad-param`` findings of a graph whose backward DDP refused: DDP's
    finding names those parameters (one finding per cause)."""
    kinds = (ddp_unused_param.KIND, ddp_param_ready_twice.KIND)
    told = {f.graph for f in findings if f.kind in kinds and f.graph is not None}
    return [f for f in findings if not (f.kind == no_grad_param.KIND and f.graph in told)]


def _grows_not_kept(findings: list[Finding]) -> list[Finding]:
    """Without the ``graph-kept-alive`` findings on a line a ``graph-grows`` finding carries: a
    recurrent state updated on one line (``h = torch.tanh(w * h + x)``) that the next backward
    calls go through is not a running total (one finding per cause)."""
    grows = {(f.file, f.line) for f in findings if f.kind == graph_grows.KIND}
    return [
        f for f in findings if not (f.kind == graph_kept_alive.KIND and (f.file, f.line) in grows)
    ]


def _told_by_checkpoint(findings: list[Finding], graphs: Sequence[AutogradGraph]) -> list[Finding]:
    """Without the ``no-grad-param`` findings whose tensors a ``checkpoint-no-grad`` finding
    names (a parameter cut off by a reentrant checkpoint is that finding's, one per cause)."""
    return _told_by(
        findings,
        graphs,
        checkpoint_no_grad.KIND,
        checkpoint_no_grad.names,
        no_grad_param.KIND,
        lambda f, g: _names(g.nodes[f.node]) if f.node in g else set(),
    )


def _told_by_graph_freed(findings: list[Finding], graphs: Sequence[AutogradGraph]) -> list[Finding]:
    """Without the ``param-not-in-optimizer`` finding about parameters that a ``graph-freed``
    finding says no optimizer updates: features computed once before the loop by a backbone
    left out of the optimizer on purpose (its fix, ``torch.no_grad()``, takes their gradient
    away too: one finding per cause)."""
    return _told_by(
        findings,
        graphs,
        graph_freed.KIND,
        graph_freed.untrained,
        param_not_in_optimizer.KIND,
        lambda f, g: set().union(*(_names(g.nodes[n]) for n in f.marked if n in g)),
    )


def _told_by(
    findings: list[Finding],
    graphs: Sequence[AutogradGraph],
    teller: str,
    told_of: Callable[[Finding], set[str]],
    dropped: str,
    named: Callable[[Finding, AutogradGraph], set[str]],
) -> list[Finding]:
    """Without the ``dropped`` findings whose tensors (``named``) a ``teller`` finding already
    names (``told_of``): one finding per cause."""
    told: set[str] = set()
    for f in findings:
        if f.kind == teller:
            told |= told_of(f)
    if not told:
        return findings
    nodes = {g.graph.get("id"): g for g in graphs}
    out = []
    for f in findings:
        g = nodes.get(f.graph)
        if f.kind == dropped and g is not None and named(f, g) & told:
            continue
        out.append(f)
    return out


def _names(d: dict) -> set[str]:  # type: ignore[type-arg]
    return {d.get("name"), *(d.get("aliases") or ())} - {None}


def _reached_names(graphs: Sequence[AutogradGraph]) -> set[str]:
    out: set[str] = set()
    for g in graphs:
        for _, d in g.nodes(data=True):
            if d.get("kind") == TENSOR and d.get("reached", True):
                out |= _names(d)
    return out


def _reached_elsewhere(f: Finding, graphs: Sequence[AutogradGraph], reached: set[str]) -> bool:
    if f.kind != no_grad_param.KIND or f.node is None:
        return False
    for g in graphs:
        if g.graph.get("id") == f.graph and f.node in g:
            return bool(_names(g.nodes[f.node]) & reached)
    return False
