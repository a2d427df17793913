"""checkpoint-recompute-mismatch: a checkpointed function took another path when recomputed.

torch's words (2.2 to 2.13)::

    torch.utils.checkpoint: A different number of tensors was saved during the original forward
    and recomputation.
    torch.utils.checkpoint: Recomputed values for the following tensors have different metadata
    than during the forward pass.

``torch.utils.checkpoint`` frees what the function saved and runs it again during backward; the
second run must do what the first did. It restores torch's random state (dropout), but not
Python's ``random``, a global flag, a counter, or a branch on the data that changed in between.
The line to change is the ``checkpoint(...)`` call (found among the names of the statement that
raised: ``out = checkpoint(run, x)`` for ``out.sum().backward()``); the fix is to decide the
branch before the call and pass it in, so that both runs see the same decision.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphscope.checks import _statement as st
from graphscope.checks.catalogue import Entry, TorchError
from graphscope.model import Events, Finding, Location

KIND = "checkpoint-recompute-mismatch"

_COUNT = r"A different number of tensors was saved during the original forward and recomputation"
_META = r"Recomputed values for the following tensors have different metadata"


def _explain(events: Events, err: TorchError) -> Iterator[Finding]:
    site = err.script.site if err.script is not None else None
    for named in site.names if site is not None else ():
        for call in st.calls_to(named.text, "checkpoint"):
            fn = st.argument(call, 0, "function")
            if fn is None or named.text is None:
                continue
            name = st.segment(named.text, fn)
            yield Finding(
                KIND,
                "error",
                f"checkpoint() at line {named.line} ran {name} again during backward, and the "
                "second run did not do what the first did (it saved a different number or shape "
                f"of tensors): {name} takes another path from one run to the next, on something "
                "checkpoint does not restore (Python's random, a global flag, a counter, the "
                "data).",
                f"Make {name} do the same thing when it runs again: decide the branch before "
                f"line {named.line} and pass the decision in as an argument (`use = random.random()"
                f" < p`, then `checkpoint({name}, ..., use, use_reentrant=False)`), or draw it "
                "with torch's random functions, whose state checkpoint restores.",
                named.file,
                named.line,
                related=(Location(err.file, err.line, "backward raised here"),),
            )
            return
    yield Finding(
        KIND,
        "error",
        "A function run under torch.utils.checkpoint did something else when checkpoint ran it "
        "again during backward (it saved a different number or shape of tensors).",
        "Make the checkpointed function deterministic given its inputs: decide any random or "
        "data-dependent branch before the checkpoint() call and pass it in as an argument.",
        err.file,
        err.line,
    )


MESSAGES = (
    Entry(
        KIND,
        (_COUNT, _META),
        explain=_explain,
        example="torch.utils.checkpoint: A different number of tensors was saved during the "
        "original forward and recomputation.",
    ),
)
