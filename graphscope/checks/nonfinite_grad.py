"""nonfinite-grad: NaN or Inf first appears in a gradient at this node.

Reads ``events.nonfinite``. ``watch`` hooks the op nodes of each new graph and records the first
op whose output gradients are non-finite while its incoming ones were finite; the line is the
forward line that created that op. After every backward call it also checks the leaves'
gradients at once; when they hold NaN or Inf at a call no hook saw (a repeated graph, a later
iteration), it records that call (``leaves``: which gradients) and hooks the next call's graph
to locate the op (``seen_at``: the call where it was first seen).

One finding: the located op when there is one, else the call where the leaves' gradients first
held it. When that is not the first backward call, the hint says what usually causes it then (a
learning rate that makes the weights blow up).

Not a finding:

- gradients a ``torch.amp.GradScaler`` step judged (``events.scaler_steps``: a scaler step came
  after the call): skipping the step on Inf/NaN is what the scaler is for, and ``amp-overflow``
  says whether it settled;
- gradients that no optimizer step used: steps ran after the call, and none of them had a NaN
  or Inf gradient (``events.nonfinite_steps``), e.g. a GAN's generator step leaving Inf in the
  discriminator's ``.grad`` that ``zero_grad()`` clears before the discriminator's next step.

Under ``torch.autograd.set_detect_anomaly(True)`` torch stops the backward itself ("Function
'LogBackward0' returned nan values in its 0th output."): that message is this kind's (the hooks
have located the op by then; when they could not, the finding names the op torch named).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from graphscope.checks._rewrite import source_line
from graphscope.checks.catalogue import Entry, TorchError
from graphscope.model import AutogradGraph, Events, Finding, NonFinite

KIND = "nonfinite-grad"

_VALUES = {"nan": "NaN", "inf": "Inf", "nan+inf": "NaN and Inf"}
_HINT = (
    "Keep this operation's input where its derivative is finite (e.g. add a small number before "
    "a square root, clamp before a log), or mask values before the operation rather than after it."
)
#: the user's ``torch.sqrt(d)`` / ``d.sqrt()`` kept finite: what goes around its input
_GUARDS = {"sqrt": "{} + 1e-12", "log": "{}.clamp_min(1e-12)", "rsqrt": "{} + 1e-12"}


def _first_hint(e: NonFinite) -> str:
    """The hint for a NaN/Inf at the first backward call: in the user's own call when the line
    shows it (``torch.sqrt(d)`` becomes ``torch.sqrt(d + 1e-12)``)."""
    text = source_line(e.file, e.line).strip()
    api, fixed = e.api, _guarded(e.api, text)
    if fixed is None and e.api not in _GUARDS:
        # the op is a product or a sum of what a log/sqrt on the line made (p * torch.log(p))
        found = [(a, f) for a in _GUARDS if (f := _guarded(a, text)) is not None]
        if len(found) == 1:
            api, fixed = found[0]
    if fixed is None:
        return _HINT
    old, new = fixed
    return (
        f"Keep the input of {api} where its derivative is finite: write `{new}` instead of "
        f"`{old}`, or mask values before the operation rather than after it."
    )


def _guarded(api: str | None, text: str) -> tuple[str, str] | None:
    """``("torch.sqrt(x)", "torch.sqrt(x + 1e-12)")`` for the one call of ``api`` on ``text``.

    >>> _guarded("log", "p = torch.log(probs)  # log-likelihood")
    ('torch.log(probs)', 'torch.log(probs.clamp_min(1e-12))')
    >>> _guarded("sqrt", "d = (a - b).sqrt()")
    ('(a - b).sqrt()', '((a - b) + 1e-12).sqrt()')
    """
    if api not in _GUARDS:
        return None
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    calls = [
        c
        for c in ast.walk(tree)
        if isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and c.func.attr == api
    ]
    if len(calls) != 1 or calls[0].keywords:
        return None
    call, func = calls[0], calls[0].func
    assert isinstance(func, ast.Attribute)
    seg = ast.get_source_segment
    if len(call.args) == 1 and seg(text, func.value) == "torch":  # torch.sqrt(x)
        arg = seg(text, call.args[0]) or ""
        guard = _GUARDS[api].format(f"({arg})" if api == "log" and _compound(call.args[0]) else arg)
        return seg(text, call) or "", f"torch.{api}({guard})"
    if not call.args:  # x.sqrt()
        base = seg(text, func.value) or ""
        inner = f"({base})" if _compound(func.value) else base
        guard = _GUARDS[api].format(inner)
        return seg(text, call) or "", f"({guard}).{api}()" if "+" in guard else f"{guard}.{api}()"
    return None


def _compound(node: ast.expr) -> bool:
    return not isinstance(node, ast.Name | ast.Attribute | ast.Subscript | ast.Call)


_LATER_HINT = (
    "Gradients were finite for the first {n} backward calls, so the weights the optimizer made "
    "are the likely cause: lower the learning rate, clip gradients "
    "(torch.nn.utils.clip_grad_norm_) or normalise the inputs; if the loss itself turns NaN, the "
    "forward pass overflowed first."
)


def check(graph: AutogradGraph, events: Events) -> Iterator[Finding]:
    """One finding per operation where a non-finite gradient first appears."""
    gid = graph.graph.get("id")
    seen: set[tuple[object, ...]] = set()
    later = {e.seen_at for e in events.nonfinite if not e.leaves and e.seen_at is not None}
    for e in events.nonfinite:
        if e.leaves and e.call in later:
            continue  # the hooks of the next call located it
        if judged_by_scaler(e, events) or thrown_away(e, events):
            continue
        f = _at_leaves(e) if e.leaves else _located(e, graph, gid)
        if f.key() not in seen:
            seen.add(f.key())
            yield f


def judged_by_scaler(e: NonFinite, events: Events) -> bool:
    """A GradScaler step came after the call that held the NaN/Inf (``amp-overflow``'s)."""
    first = e.seen_at if e.seen_at is not None else e.call
    return any(s.after_call >= first for s in events.scaler_steps)


def thrown_away(e: NonFinite, events: Events) -> bool:
    """Optimizer steps ran after the call, and none of them used a NaN/Inf gradient."""
    first = e.seen_at if e.seen_at is not None else e.call
    if not any(s.after_call >= first for s in events.steps):
        return False
    return not any(s.after_call >= first for s in events.nonfinite_steps)


def _located(e: NonFinite, graph: AutogradGraph, gid: str | None) -> Finding:
    value = _VALUES.get(e.value, e.value)
    node = e.node if gid is not None and e.graph == gid and e.node in graph else None
    d = graph.nodes[node] if node is not None else {}
    forward = d.get("op")
    op = (e.op or "").removeprefix("torch::autograd::")
    if op and op != "AccumulateGrad":
        where = f"the backward of {forward} ({op})" if forward else op
    else:
        where = "this operation"
    at = " on this line" if e.line is not None else ""
    first = e.seen_at if e.seen_at is not None else e.call
    when = f" at backward call {first} (the ones before were finite)" if first > 1 else ""
    message = (
        f"The gradient first becomes {value} in {where}{at}{when}, and every gradient computed "
        "from it downstream is non-finite too."
    )
    return Finding(
        kind=KIND,
        severity="error",
        message=message,
        hint=_LATER_HINT.format(n=first - 1) if first > 1 else _first_hint(e),
        file=e.file,
        line=e.line,
        node=node,
        graph=gid if node is not None else None,
        badge=f"{value} first here",
    )


def _at_leaves(e: NonFinite) -> Finding:
    value = _VALUES.get(e.value, e.value)
    names = ", ".join(e.leaves[:4]) + (
        f" and {len(e.leaves) - 4} more" if len(e.leaves) > 4 else ""
    )
    whose = f" of {names}" if names else ""
    message = (
        f"The gradients{whose} hold {value} after the backward call on this line (call "
        f"{e.call}); the op where it first appeared could not be located, because no later call "
        "came to hook."
    )
    return Finding(
        kind=KIND,
        severity="error",
        message=message,
        hint=_LATER_HINT.format(n=e.call - 1) if e.call > 1 else _HINT,
        file=e.file,
        line=e.line,
    )


def _anomaly(events: Events, err: TorchError) -> Iterator[Finding]:
    """torch's anomaly mode stopped backward at the op whose gradient turned NaN."""
    fn = err.match["fn"] if err.match else "an operation"
    value = "NaN" if err.match is None or err.match["what"] == "nan" else err.match["what"]
    yield Finding(
        kind=KIND,
        severity="error",
        message=(
            f"Anomaly detection stopped backward: the backward of {fn} returned {value} values "
            "(its forward line is in torch's traceback above the error, under 'Traceback of "
            "forward call that caused the error')."
        ),
        hint=_HINT,
        file=err.file,
        line=err.line,
    )


#: torch's messages this kind explains (see :mod:`graphscope.checks.catalogue`)
MESSAGES: tuple[Entry, ...] = (
    Entry(
        KIND,
        (r"Function '(?P<fn>\w+)' returned (?P<what>nan) values in its (?P<n>\d+)th output",),
        explain=_anomaly,
        example="Function 'LogBackward0' returned nan values in its 0th output.",
    ),
)
