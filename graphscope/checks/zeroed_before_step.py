"""zeroed-before-step: gradients were reset between ``backward()`` and the step that uses them.

Reads ``events.resets``: a :class:`~graphscope.model.StepAfterReset` is recorded at an optimizer
step whose parameters' gradients were all None or zero, when a ``zero_grad()`` ran after the last
backward call and before this step (``loss.backward(); optimizer.zero_grad(); optimizer.step()``):
the step uses no gradient, and the model never learns. Warning at the reset; one finding per
line, saying how many steps it emptied.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphscope.checks._code import code_or_words
from graphscope.checks._common import optimizer_call
from graphscope.model import AutogradGraph, BackwardCall, Events, Finding, Location

KIND = "zeroed-before-step"


def check(graph: AutogradGraph, events: Events) -> Iterator[Finding]:
    """One finding per reset line."""
    by_line: dict[tuple[str | None, int | None], list] = {}  # type: ignore[type-arg]
    for r in events.resets:
        by_line.setdefault((r.file, r.line), []).append(r)
    for (file, line), resets in by_line.items():
        r = resets[0]
        call = next((c for c in events.backward if c.index == r.call), None)
        n = len(resets)
        times = f" ({n} steps)" if n > 1 else ""
        after = f" after the backward call at line {call.line}" if call is not None else ""
        step = optimizer_call(r.name, r.optimizer)
        message = (
            f"{r.reset} at line {line} runs{after} and before {step} at line "
            f"{r.step_line}: it throws away the gradients the step should use, so the step "
            f"changes nothing and the model does not learn{times}."
        )
        related = [Location(r.step_file, r.step_line, f"{step} got no gradient")]
        if call is not None:
            related.append(Location(call.file, call.line, "computed the gradients"))
        yield Finding(
            kind=KIND,
            severity="warning",
            message=message[0].upper() + message[1:] if r.reset.startswith("the ") else message,
            hint=(
                "Reset the gradients before backward(), not after it: "
                f"{code_or_words(r.reset)}, then {code_or_words(_backward(call))}, then "
                f"{code_or_words(step)}."
            ),
            file=file,
            line=line,
            related=tuple(related),
        )


def _backward(call: BackwardCall | None) -> str:
    """``loss.backward()`` in the user's name for the loss (when one named root)."""
    roots = [r for r in (call.roots if call is not None else ()) if r != "?"]
    return f"{roots[0]}.backward()" if len(roots) == 1 else "backward()"
