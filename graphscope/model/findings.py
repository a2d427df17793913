"""Findings: what went (or will go) wrong, in the user's terms, and the stable kinds of them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

ERROR = "error"  # fails, or is certainly wrong
WARNING = "warning"  # very likely a bug
INFO = "info"  # worth knowing, possibly intended
SEVERITIES = (ERROR, WARNING, INFO)
Severity = Literal["error", "warning", "info"]

#: Stable identifiers of findings (DESIGN.md) and what each means.
FINDING_KINDS: Mapping[str, str] = {
    "grad-accumulation": "a leaf's .grad summed the gradients of 2+ backward calls without a reset",
    "leaf-inplace": "an in-place operation on a leaf that requires grad",
    "saved-tensor-modified": "a tensor saved for backward was modified in place after it was saved",
    "graph-freed": "backward through a graph already freed by an earlier backward",
    "nonleaf-grad-access": ".grad of a non-leaf tensor was read without retain_grad() (it is None)",
    "nonscalar-backward": "backward() on a non-scalar output without gradient=",
    "no-grad-param": "a tensor that requires grad (e.g. a parameter) that the backward did not reach",
    "nonfinite-grad": "NaN or Inf first appears in a gradient at this node",
    "no-grad-fn": "backward on a tensor that does not require grad / has no grad_fn",
    "ddp-unused-param": "DDP waited for gradients of parameters that the backward did not reach",
    "ddp-param-ready-twice": "DDP got two gradients for one parameter in one backward pass",
    "ranks-differ": "ranks built different autograd graphs at the same backward call",
    "graph-kept-alive": "a tensor that requires grad is accumulated across iterations, keeping "
    "every iteration's graph alive",
    "param-not-in-optimizer": "a parameter received gradients but no optimizer step covers it",
    "zeroed-before-step": "gradients were reset between backward() and the optimizer step that "
    "should use them",
    "view-inplace": "an in-place write into a view autograd cannot rewrite (one of several "
    "views chunk/split/unbind returned, a view a custom Function or backward hook returned)",
    "grad-input-unused": "torch.autograd.grad asked for the gradient with respect to an input the "
    "output was not computed from, or one that does not require grad",
    "gradient-shape": "the gradient given to backward (gradient=, grad_outputs=) does not have the "
    "output's shape",
    "numpy-requires-grad": ".numpy() on a tensor that requires grad",
    "requires-grad-misuse": "requires_grad asked of an integer tensor, or switched on a computed "
    "(non-leaf) tensor",
    "custom-function-gradient": "a custom autograd.Function's backward returned the wrong number "
    "of gradients, or one of the wrong shape",
    "inference-tensor": "a tensor made under torch.inference_mode() used where autograd records "
    "(saved for backward, requires_grad, in-place)",
    "not-differentiable": "backward reached an operation torch has no derivative for",
    "amp-overflow": "GradScaler skipped optimizer steps on Inf/NaN gradients (info: a warm-up "
    "that settled; warning: the skips persist)",
    "eval-mode-training": "a module switched to eval() trains again without train(): dropout "
    "off, BatchNorm statistics frozen",
    "checkpoint-recompute-mismatch": "a function under torch.utils.checkpoint took another path "
    "when recomputed during backward",
    "backward-create-graph": "backward(create_graph=True) stores gradients with a graph in "
    ".grad: a reference cycle that can leak memory (torch warns)",
    "torch-error-unexplained": "torch raised an autograd error that graphscope does not explain "
    "yet (its message is quoted: please report it)",
    "graph-grows": "a repeated backward's graph grows from call to call through a tensor carried "
    "across iterations (the retain_graph=True workaround)",
    "checkpoint-no-grad": "a reentrant checkpoint whose inputs do not require grad left the "
    "parameters inside without gradients",
    "step-without-backward": "optimizer steps ran and no backward call did (`loss.backward` "
    "without its parentheses): the steps changed nothing",
}


@dataclass(frozen=True)
class Location:
    """A place in the user's source: ``file`` as the user named it, 1-based ``line``."""

    file: str | None
    line: int | None
    what: str | None = None  # e.g. "saved by MulBackward0 here"

    def __str__(self) -> str:
        if not self.file:
            where = "?"
        else:
            where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where} ({self.what})" if self.what else where


@dataclass(frozen=True)
class Finding:
    """One thing that went (or will go) wrong, in the user's terms."""

    kind: str
    severity: Severity
    message: str
    hint: str
    file: str | None = None
    line: int | None = None
    node: str | None = None  # node id in ``graph``
    graph: str | None = None  # graph id ("g1") the node belongs to
    related: tuple[Location, ...] = ()
    badge: str | None = None  # a short text for the picture: "saved v0, now v1 <- line 9"
    #: every node the finding names, when it names several (ten parameters never zeroed): each
    #: carries the finding's mark in every picture and in the explorer; ``node`` is the first
    nodes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in FINDING_KINDS:
            raise ValueError(
                f"unknown finding kind {self.kind!r}; expected one of {list(FINDING_KINDS)}"
            )
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES} (got {self.severity!r})")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["related"] = [asdict(r) for r in self.related]
        if not self.nodes:  # a finding about one node: the report keeps its old shape
            del d["nodes"]
        else:
            d["nodes"] = list(self.nodes)
        return d

    @property
    def marked(self) -> tuple[str, ...]:
        """The nodes that carry this finding's mark: ``node``, then the rest of ``nodes``."""
        first = (self.node,) if self.node is not None else ()
        return first + tuple(n for n in self.nodes if n != self.node)

    def key(self) -> tuple[Any, ...]:
        """What makes two findings the same one (used to de-duplicate across graphs)."""
        return (self.kind, self.file, self.line, self.message)


def sorted_findings(findings: Sequence[Finding]) -> list[Finding]:
    """Errors first, then warnings, then info; in source order within each."""
    rank = {ERROR: 0, WARNING: 1, INFO: 2}
    return sorted(findings, key=lambda f: (rank[f.severity], f.file or "", f.line or 0, f.kind))
