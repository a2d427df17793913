"""amp-overflow: a ``torch.amp.GradScaler`` skipped optimizer steps on Inf/NaN gradients.

Reads ``events.scaler_steps`` (one :class:`~graphscope.model.ScalerStep` per ``scaler.step()``,
``skipped`` when the scaler found Inf/NaN and did not step, with the scale it had used) and
``events.nonfinite`` (where the first NaN/Inf gradient was located: the op, its forward line).

The scaler multiplies the loss by a large scale (65536 by default) so that small float16
gradients do not vanish, and halves it at each step whose gradients overflow, skipping that step.
A few skips at the start (the *warm-up*, while the scale comes down to what the gradients fit) and
a lone skip now and then (after the scale grew) are how it works: ``info``. The skips *persist*
(``warning``: the model trains on a fraction of its steps, or none) when

- after the first step that ran, at least 2 and at least one in twenty of the later steps were
  skipped, or
- no step ran and the scale fell below 1 (float16 cannot hold these gradients even unscaled: no
  scale fixes it, typically because the forward pass itself overflowed and the loss is Inf/NaN).

One finding per ``scaler.step()`` line. Its ``line`` is the forward line of the op where the
Inf/NaN first appeared (the op whose float16 forward overflowed, when the values it handed on
were already non-finite; else the op whose backward made it), the ``scaler.step()`` line is
related. The hint for persistent skips keeps an op with a singular derivative (sqrt, log, a
division) away from its singular points, or else brings the values into float16's range (a
matmul, a linear layer or autocast's cast back to float16 whose gradients are too large), or runs
that line in float32; for warm-up skips there is nothing to fix.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from graphscope.checks._common import optimizer_text
from graphscope.checks._rewrite import source_line
from graphscope.model import (
    AutogradGraph,
    Events,
    Finding,
    Location,
    NonFinite,
    OpSite,
    ScalerStep,
)

KIND = "amp-overflow"

_VALUES = {"nan": "NaN", "inf": "Inf", "nan+inf": "NaN and Inf"}


def check(graph: AutogradGraph, events: Events) -> Iterator[Finding]:
    """One finding per ``scaler.step()`` line whose steps were skipped."""
    gid = graph.graph.get("id")
    streams: dict[tuple[str | None, int | None], list[ScalerStep]] = {}
    for s in events.scaler_steps:
        streams.setdefault((s.file, s.line), []).append(s)
    for steps in streams.values():
        if any(s.skipped for s in steps):
            yield _finding(steps, events, graph, gid)


def persistent(steps: list[ScalerStep]) -> bool:
    """Whether the skips of one ``scaler.step()`` line go on beyond a warm-up."""
    first_ran = next((i for i, s in enumerate(steps) if not s.skipped), None)
    if first_ran is None:
        return any(s.scale is not None and s.scale < 1 for s in steps)
    later = steps[first_ran:]
    skipped = sum(s.skipped for s in later)
    return skipped >= 2 and skipped * 20 >= len(later)


def _finding(
    steps: list[ScalerStep], events: Events, graph: AutogradGraph, gid: str | None
) -> Finding:
    skipped = [s for s in steps if s.skipped]
    warn = persistent(steps)
    first = skipped[0]
    origin = _origin(first, events)
    site = _site(origin) if origin is not None else None
    node = None
    if origin is not None and site is not None and gid is not None and origin.graph == gid:
        node = site.node if site.node in graph else None
    n, total = len(skipped), len(steps)
    which = _which(steps)
    scales = [s.scale for s in skipped if s.scale is not None]
    fell = ""
    if scales:
        low = scales[-1] * 0.5
        fell = f"; its scale fell from {_num(scales[0])} to {_num(low)}"
    name = first.optimizer_name
    opt = f"{name}.step() calls" if name else f"steps of {optimizer_text(None, first.optimizer)}"
    if warn:
        ran = total - n
        tail = (
            "the model was never updated"
            if ran == 0
            else f"the model was updated on only {ran} of them"
        )
        message = (
            f"GradScaler skipped {n} of {total} {opt} ({which}) because their gradients "
            f"held Inf/NaN{fell}, and the skips do not stop: {tail}."
        )
    elif n == total:
        message = (
            f"GradScaler skipped {n} of {total} {opt} ({which}) while its scale came down "
            f"toward what the float16 gradients fit{fell}; the script ended before a step ran "
            "(a warm-up that had not settled yet, or skips that would go on: run more steps "
            "to tell)."
        )
    else:
        message = (
            f"GradScaler skipped {n} of {total} {opt} ({which}) while its scale came down "
            f"to what the float16 gradients fit{fell}; then the steps ran (a warm-up, as "
            "GradScaler is meant to do)."
        )
    line, file = first.line, first.file
    related = [Location(first.file, first.line, f"scaler.step() skipped {n} steps")]
    if origin is not None and site is not None and site.line is not None:
        message += " " + _where(origin, site)
        file, line = site.file, site.line
    hint = _hint(origin, first) if warn else _WARMUP_HINT
    return Finding(
        kind=KIND,
        severity="warning" if warn else "info",
        message=message,
        hint=hint,
        file=file,
        line=line,
        node=node,
        graph=gid if node is not None else None,
        related=tuple(related),
        badge=_badge(origin) if node is not None else None,
    )


_WARMUP_HINT = (
    "Nothing to fix: GradScaler starts with a large scale and lowers it until the gradients fit "
    "float16. To skip fewer steps at the start, start lower: torch.amp.GradScaler(init_scale=2.0**"
    "10)."
)


def _site(e: NonFinite) -> OpSite:
    """Where the NaN/Inf starts: the op whose forward overflowed, else the located op."""
    if e.forward is not None:
        return e.forward
    return OpSite(e.node, e.op, e.api, e.file, e.line)


def _badge(origin: NonFinite | None) -> str | None:
    if origin is None:
        return None
    return f"{_VALUES.get(origin.value, origin.value)} first here"


def _hint(origin: NonFinite | None, step: ScalerStep) -> str:
    device = step.device or "cuda"
    if origin is None:
        return (
            "Find the operation whose float16 result overflows (a matmul of large values, a sum "
            f'over many) and run it in float32: with torch.autocast("{device}", enabled=False): '
            "on its inputs cast with .float()."
        )
    line = _site(origin).line
    if origin.forward is not None:
        site = _site(origin)
        return _in_range(line, device, matmul_fixes(source_line(site.file, site.line), device))
    op = _site(origin).op.removeprefix("torch::autograd::")
    if op.startswith(_SINGULAR):
        return (
            f"No scale makes line {line}'s gradient finite: keep this operation's input where "
            "its derivative is finite (e.g. torch.sqrt(x + 1e-12), "
            "torch.log(x.clamp_min(1e-12))), or run it in float32 "
            f'(with torch.autocast("{device}", enabled=False): on .float() inputs).'
        )
    # a matmul, a linear layer, autocast's cast back to float16: the values are too large
    return (
        f"The gradients at line {line} are larger than float16 holds (±65504) even unscaled: "
        "bring the values to order 1 (standardise the inputs and targets, e.g. "
        "x, y = (x - x.mean(0)) / x.std(0), (y - y.mean()) / y.std(); average rather than sum "
        f'in the loss), or run line {line} in float32 (with torch.autocast("{device}", '
        "enabled=False): on .float() inputs)."
    )


def _in_range(line: int | None, device: str, fixes: tuple[list[str], str] | None) -> str:
    """Keep the values of ``line`` within float16's range: in the user's names when the line is
    a matrix product of named tensors (``z = torch.nn.functional.normalize(z, dim=-1)``)."""
    if fixes is None:
        return (
            f"Keep the values line {line} computes within float16's range (±65504): normalise "
            "its inputs (torch.nn.functional.normalize, or standardise the input features), or "
            f'compute that line in float32: under torch.autocast("{device}", enabled=False), '
            "on inputs cast with .float()."
        )
    normalised, f32 = fixes
    return (
        f"Keep the values line {line} computes within float16's range (±65504): normalise its "
        f"inputs (`{'; '.join(normalised)}`, or standardise the input features), or compute "
        f"that line in float32: `{f32}`."
    )


def matmul_fixes(text: str, device: str) -> tuple[list[str], str] | None:
    """For a one-line statement whose matrix product (``@``) reads named tensors: the
    statements that normalise them, and the statement run in float32.

    >>> matmul_fixes("    similarity = z @ z.T  # scores", "cpu")
    (['z = torch.nn.functional.normalize(z, dim=-1)'], 'with torch.autocast("cpu", enabled=False): similarity = z.float() @ z.float().T')
    >>> matmul_fixes("y = x + 1", "cpu") is None
    True
    """
    try:
        body = ast.parse(text.strip()).body
    except SyntaxError:
        return None
    if len(body) != 1 or not isinstance(body[0], ast.Assign | ast.AugAssign | ast.Expr):
        return None
    products = [
        n for n in ast.walk(body[0]) if isinstance(n, ast.BinOp) and isinstance(n.op, ast.MatMult)
    ]
    names: dict[str, None] = {}
    for p in products:
        for side in (p.left, p.right):
            root = _tensor_name(side)
            if root is None:
                return None  # an operand that is no named tensor: say it in words
            names[root] = None
    if not names:
        return None

    class _Float(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            if node.id in names and isinstance(node.ctx, ast.Load):
                return ast.Call(ast.Attribute(node, "float", ast.Load()), [], [])
            return node

    f32 = ast.unparse(_Float().visit(body[0]))
    normalised = [f"{n} = torch.nn.functional.normalize({n}, dim=-1)" for n in names]
    return normalised, f'with torch.autocast("{device}", enabled=False): {f32}'


#: what keeps an operand the tensor it reads: ``k.T``, ``k.transpose(0, 1)``, ``x[0]``
_LAYOUT = {"T", "mT", "H", "mH"}
_RESHAPES = {"transpose", "t", "permute", "view", "reshape", "flatten", "squeeze", "unsqueeze"}


def _tensor_name(side: ast.expr) -> str | None:
    """The tensor an operand of ``@`` reads, down ``.T``, a reshape or an index (None for
    anything else: a call of a module or of torch, whose name is not a tensor to normalise)."""
    node = side
    while True:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute) and node.attr in _LAYOUT:
            node = node.value
        elif isinstance(node, ast.Subscript):
            node = node.value
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _RESHAPES
        ):
            node = node.func.value
        else:
            return None


#: ops whose derivative is infinite somewhere (at 0, at ±1): an input there gives Inf at any scale
_SINGULAR = (
    "Sqrt",
    "Rsqrt",
    "Log",
    "Div",
    "Reciprocal",
    "Pow",
    "Norm",
    "LinalgVectorNorm",
    "Acos",
    "Asin",
    "Atan2",
    "Cdist",
)


def _origin(first: ScalerStep, events: Events) -> NonFinite | None:
    """The located NaN/Inf of the backward calls the first skipped step consumed (else any)."""
    located = [e for e in events.nonfinite if not e.leaves and _site(e).line is not None]
    before = [e for e in located if (e.seen_at or e.call) <= first.after_call]
    pool = before or located
    return pool[0] if pool else None


def _where(e: NonFinite, site: OpSite) -> str:
    value = _VALUES.get(e.value, e.value)
    op = (site.op or "").removeprefix("torch::autograd::")
    what = f"{site.api} ({op})" if site.api else op
    if e.forward is not None:
        return (
            f"The {value} starts in the forward pass: the float16 result of {what} on line "
            f"{site.line} overflows, so the loss and every gradient are non-finite whatever the "
            "scale."
        )
    return f"The {value} first appears in the backward of {what} on line {site.line}."


def _which(steps: list[ScalerStep]) -> str:
    """``steps 1-3`` / ``every step`` / ``steps 1-4, 9, 12`` (1-based, of this line's steps)."""
    idx = [i + 1 for i, s in enumerate(steps) if s.skipped]
    if len(idx) == len(steps) and len(idx) > 1:
        return "every step"
    spans: list[str] = []
    start = prev = idx[0]
    for i in idx[1:] + [None]:  # type: ignore[list-item]
        if i is not None and i == prev + 1:
            prev = i
            continue
        spans.append(f"{start}" if start == prev else f"{start}-{prev}")
        if i is not None:
            start = prev = i
    shown = spans[:6] + (["…"] if len(spans) > 6 else [])
    word = "step" if len(idx) == 1 else "steps"
    return f"{word} {', '.join(shown)}"


def _num(x: float) -> str:
    if x >= 1:
        return f"{x:g}"
    return f"{x:.3g}"
