"""param-not-in-optimizer: a parameter received gradients but no optimizer step covers it.

Reads the graphs and ``events.steps``: a parameter reached by a ``backward()`` call (it got a
``.grad``) whose name no recorded optimizer step lists, while optimizer steps were made. The
classic is a module replaced or created after ``optimizer = ...(model.parameters())``: the
optimizer holds the old parameters, and the new ones never change. A parameter with
``requires_grad=False`` is never reached, and a program with no optimizer at all (hand-written
updates) has no steps: neither is a finding. Nor is a script that raised while an optimizer it
built (``events.built``) had not made its first step: that optimizer may hold them.

One finding per graph, listing the parameters and their modules; the line is where the optimizer
was built (when seen), else its first step.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from graphscope.checks._common import listed, module_text, optimizer_call, optimizer_text
from graphscope.model import (
    ROLE_PARAM,
    TENSOR,
    AutogradGraph,
    BackwardCall,
    Events,
    Finding,
    Location,
    OptimizerStep,
)

KIND = "param-not-in-optimizer"


def check(graph: AutogradGraph, events: Events) -> Iterator[Finding]:
    """One finding for the parameters of ``graph`` that no optimizer step updates."""
    steps = [s for s in events.steps if s.recorded]
    if not steps or _stopped_before_a_first_step(events):
        return
    calls = set(graph.graph.get("calls") or ())
    backward = [c for c in events.backward if c.index in calls and c.api == "backward"]
    if not backward or any(c.error for c in backward) and len(backward) == 1:
        return
    covered = {n for s in steps for n in (*s.params, *s.holds)}
    missing: list[tuple[str, str]] = []  # (node, name)
    for node, d in graph.nodes(data=True):
        if d.get("kind") != TENSOR or d.get("role") != ROLE_PARAM or not d.get("reached", True):
            continue
        names = {d.get("name"), *(d.get("aliases") or ())} - {None}
        if names and not names & covered:
            missing.append((node, str(d.get("name") or sorted(names)[0])))
    if missing:
        yield _finding(graph, missing, steps[0], backward[0], covered)


def _stopped_before_a_first_step(events: Events) -> bool:
    """Did the script raise while an optimizer it built had not stepped yet? (A GAN that fails
    in its generator's backward: ``opt_g`` holds the parameters no step has covered.)"""
    if events.error is None:
        return False
    stepped = {s.optimizer_id for s in events.steps}
    return len(events.built) > len(stepped)


def _finding(
    graph: AutogradGraph,
    missing: list[tuple[str, str]],
    step: OptimizerStep,
    call: BackwardCall,
    covered: set[str],
) -> Finding:
    names = [n for _, n in missing]
    texts: dict[str, str] = {}  # module path -> as the user writes it
    for node, _ in missing:
        path = graph.nodes[node].get("module")
        if path and path not in texts:
            texts[str(path)] = module_text(graph, node) or graph.spelled(str(path))
    paths = sorted(texts)
    modules = [texts[p] for p in paths]
    of = f" (of {', '.join(modules)})" if modules else ""
    one = len(names) == 1
    them, they = ("it", "it never changes") if one else ("them", "they never change")
    built = f", built at line {step.built_line}," if step.built_line is not None else ""
    if not step.params and step.held:  # its parameters got no gradient: an older model's
        held = f"{step.held} parameter{'s' if step.held > 1 else ''}"
        holds = f"holds {held} that no backward call reached"
        asked = "was the model rebuilt after the optimizer was built?"
    else:
        holds = "holds other parameters"
        asked = "was the module replaced or created after the optimizer was built?"
    opt = f"{step.name} ({step.optimizer})" if step.name else optimizer_text(None, step.optimizer)
    message = (
        f"{listed(names)}{of} received gradients from the backward call at line {call.line}, but no "
        f"optimizer step updates {them}: {opt}{built} {holds}, so {they} ({asked})."
    )
    owners = _owners(graph, missing, covered)
    params = _parameters(graph, sorted(owners), owners)
    group = f'add_param_group({{"params": {params}}})'
    if step.name and params:
        add = f"add the new parameters to it: `{step.name}.{group}`"
    elif params:
        add = f"add the new parameters to it with its {group}"
    else:
        add = "add the new module's parameters to it with its add_param_group()"
    hint = (
        "Build the optimizer after the model is complete (after replacing or adding modules), or "
        f"{add}."
    )
    stays = f"{optimizer_call(step.name, step.optimizer)} leaves {them} unchanged"
    related = [Location(step.file, step.line, stays)]
    related.append(Location(call.file, call.line, "gave them gradients"))
    file, line = (
        (step.built_file, step.built_line)
        if step.built_line is not None
        else (
            step.file,
            step.line,
        )
    )
    return Finding(
        kind=KIND,
        severity="warning",
        message=message,
        hint=hint,
        file=file,
        line=line,
        node=missing[0][0],
        nodes=tuple(node for node, _ in missing),
        graph=graph.graph.get("id"),
        related=tuple(related),
        badge="not in any optimizer",
    )


def _parameters(graph: AutogradGraph, paths: list[str], texts: dict[str, str]) -> str | None:
    """``model[2].parameters()``: Python for the parameters of the modules ``paths`` (written
    as ``texts`` has them); None when one of them has no name in the user's code (its root is
    named after its class): no code that would not run."""
    parts = []
    for path in paths:
        root = path.split(".")[0]
        if graph.module_class(root) == root.split("#")[0] or "#" in root:
            return None  # a class-name fallback, or a second module of that name: no variable
        parts.append(f"{texts[path]}.parameters()")
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else "[" + ", ".join(f"*{p}" for p in parts) + "]"


_TOKEN = re.compile(r"\[[^\]]*\]|\.?[^.\[]+")  # model / .fc / [2] / ['cls']


def _owners(
    graph: AutogradGraph, missing: list[tuple[str, str]], covered: set[str]
) -> dict[str, str]:
    """``{module path: as the user writes it}``: the outermost modules all of whose parameters
    in the graph are missing (``model`` for a model rebuilt after the optimizer was built,
    ``model[2]`` for a replaced layer), none of whose parameters an optimizer holds (adding
    one twice would raise)."""
    lost = {node for node, _ in missing}
    where = {
        n: str(d.get("module"))
        for n, d in graph.nodes(data=True)
        if d.get("kind") == TENSOR and d.get("role") == ROLE_PARAM and d.get("module")
    }
    out: dict[str, str] = {}
    for node, name in missing:
        path = where.get(node)
        if path is None:
            continue
        parts = path.split(".")
        tokens = _TOKEN.findall(name)
        for k in range(1, len(parts) + 1):
            prefix = ".".join(parts[:k])
            under = [n for n, m in where.items() if m == prefix or m.startswith(prefix + ".")]
            drop = len(parts) - k + 1  # the segments of ``name`` below ``prefix``
            text = "".join(tokens[:-drop]) if 0 < drop < len(tokens) else None
            if text is None or text.startswith("."):
                continue
            held = any(c == text or c.startswith((text + ".", text + "[")) for c in covered)
            if not held and all(n in lost for n in under):
                out.setdefault(prefix, text)
                break
    return {p: t for p, t in out.items() if not any(p.startswith(q + ".") for q in out)}
