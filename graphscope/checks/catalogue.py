"""The catalogue of torch's autograd errors: which of torch's messages graphscope knows, and which
finding explains each.

Users meet torch's messages, not our finding kinds. Every message graphscope explains is an
:class:`Entry` here: regular expressions that match each wording torch has used since 2.2 (torch
renames a node ``SplitBackward0`` -> ``Split`` in a message, capitalises a word...), the finding
kind, and a function that builds the finding from the evidence the recorder kept (the script's
error and where it was raised, the backward calls, in-place writes, grad-mode switches, optimizer
steps, the tensors named on the failing line). :func:`explain` runs the entry that matches the
script's own exception, unless a check already made a finding of that kind from the events. A
torch error that looks like autograd's and that no entry matches is reported too, as an ``info``
finding of kind ``torch-error-unexplained`` quoting the message: a gap is visible, not silent.

How to add an entry (no change to this module)
----------------------------------------------

In the check module of your finding kind (``graphscope/checks/<kind>.py``, listed in
``graphscope.checks``; a module that only explains errors may define ``MESSAGES`` and no
``check``), define ``MESSAGES``, a tuple of entries::

    MESSAGES = (
        Entry(
            KIND,
            (r"One of the differentiated Tensors does not require grad",),
            explain=_from_error,          # (events, err: TorchError) -> Iterator[Finding]
            example="One of the differentiated Tensors does not require grad",
        ),
    )

- ``patterns``: Python regexes, searched (``re.search``) in torch's whole message; give one per
  wording (old and new), and name the groups you read (``(?P<fn>\\w+)``): ``err.match`` holds
  the match.
- ``explain(events, err)`` yields the finding(s). ``err`` (:class:`TorchError`) is the message,
  the exception's type, the user's line where torch raised it (``err.file``, ``err.line``: a
  ``related`` entry when the fix goes elsewhere), the backward call that raised it (``err.call``)
  and the regex match. The finding's ``line`` is where the fix goes; its hint is a fix in the
  user's own names.
- ``caught=True`` also explains the message when the script caught it and a backward call's
  error is all that is left of it (DDP's errors).
- ``example``: torch's message in one wording; ``tests/test_catalogue.py`` checks that it is
  matched by this entry and no other, and ``docs/errors.md`` lists every pattern.
- A fix case in ``tests/fixes/<kind>-<what>/`` proves the finding and its hint (see
  ``tests/fixcases.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import ModuleType

from graphscope.model import AutogradGraph, BackwardCall, Events, Finding, ScriptError

__all__ = ["Entry", "TorchError", "UNEXPLAINED", "entries", "explain", "find", "patterns"]

UNEXPLAINED = "torch-error-unexplained"

#: what autograd's messages talk about (a message with none of these is not autograd's)
_AUTOGRAD_WORDS = re.compile(
    r"grad|backward|autograd|in-?place|leaf|differentiat|derivative|saved tensor|retain_graph"
    r"|version \d|is a view|[Ii]nference tensor|forward AD|dual tensor|checkpoint",
)
#: a collective's failure during backward (a peer rank gone, gloo/NCCL): the process group's
#: error, not autograd's, even when a backward call raised it (DDP reduces in backward hooks)
_COMMS_WORDS = re.compile(
    r"\b(gloo|nccl|c10d|ProcessGroup\w*)\b|Connection (closed|reset) by peer|Broken pipe", re.I
)


@dataclass(frozen=True)
class TorchError:
    """One error of torch's to explain: its text, where the user's code raised it, and the match."""

    type: str  # "RuntimeError"
    message: str  # torch's whole message
    file: str | None  # the user's innermost line when it was raised
    line: int | None
    match: re.Match[str] | None = None
    call: BackwardCall | None = None  # the backward call that raised it, if one did
    script: ScriptError | None = None  # the script's own exception (None: a caught error)
    graphs: Sequence[AutogradGraph] = ()  # the graphs captured (the failed call's among them)

    def graph(self) -> AutogradGraph | None:
        """The graph captured at the backward call that raised this error, if any."""
        gid = self.call.graph if self.call is not None else None
        return next((g for g in self.graphs if gid is not None and g.graph.get("id") == gid), None)

    @property
    def first_line(self) -> str:
        return self.message.strip().splitlines()[0] if self.message.strip() else self.type


Explain = Callable[[Events, TorchError], Iterable[Finding]]


@dataclass(frozen=True)
class Entry:
    """A message of torch's (every wording of it since torch 2.2) and how to explain it."""

    kind: str
    patterns: tuple[str, ...]
    explain: Explain
    example: str = ""
    caught: bool = False  # also when the script caught it (a failed backward call's error)

    def search(self, message: str) -> re.Match[str] | None:
        for p in self.patterns:
            m = re.search(p, message, re.S)
            if m is not None:
                return m
        return None


def entries(modules: Iterable[ModuleType]) -> list[Entry]:
    """The entries the modules declare (their ``MESSAGES``), in order."""
    out: list[Entry] = []
    for m in modules:
        out.extend(getattr(m, "MESSAGES", ()))
    return out


def patterns(table: Sequence[Entry]) -> list[tuple[str, str]]:
    """``(pattern, kind)`` of every entry, for the errors page."""
    return [(p, e.kind) for e in table for p in e.patterns]


def find(table: Sequence[Entry], message: str) -> tuple[Entry, re.Match[str]] | None:
    """The first entry that matches ``message``, with its match."""
    for e in table:
        m = e.search(message)
        if m is not None:
            return e, m
    return None


def explain(
    table: Sequence[Entry],
    events: Events,
    made: set[str],
    graphs: Sequence[AutogradGraph] = (),
) -> list[Finding]:
    """Findings for the script's own exception and for caught errors that entries claim.

    An entry whose kind is in ``made`` (a check found it from the events) is not run again. The
    script's exception that no entry matches, when it is autograd's, is an ``info`` finding.
    """
    out: list[Finding] = []
    err = events.error
    if err is not None:
        call = _raising_call(events, err)
        hit = find(table, err.message)
        if hit is None:
            if _is_autograd(err, call):
                out.append(unexplained(err))
        else:
            entry, m = hit
            if entry.kind not in made:
                te = TorchError(err.type, err.message, err.file, err.line, m, call, err, graphs)
                found = list(entry.explain(events, te))
                out.extend(found)
                made = made | ({entry.kind} if found else set())
    for c in events.backward:
        if c.error is None:
            continue
        hit = find([e for e in table if e.caught], c.error)
        if hit is None or hit[0].kind in made:
            continue
        entry, m = hit
        te = TorchError(c.error_type or "RuntimeError", c.error, c.file, c.line, m, c, None, graphs)
        found = list(entry.explain(events, te))
        out.extend(found)
        if found:
            made = made | {entry.kind}
    return out


def unexplained(err: ScriptError) -> Finding:
    """The ``info`` finding for an autograd error no entry explains: torch's words, and a request."""
    first = err.message.strip().splitlines()[0] if err.message.strip() else err.type
    if len(first) > 300:
        first = first[:299] + "…"
    return Finding(
        kind=UNEXPLAINED,
        severity="info",
        message=(
            f"torch raised an autograd error graphscope does not explain yet: {err.type}: {first}"
        ),
        hint=(
            "Read torch's message above; and please open an issue for graphscope quoting this "
            "message and the line that raised it, so that a later version explains it."
        ),
        file=err.file,
        line=err.line,
    )


def _raising_call(events: Events, err: ScriptError) -> BackwardCall | None:
    """The last backward call whose error is the script's exception, if one raised it."""
    first = err.message.strip().splitlines()[0] if err.message.strip() else ""
    for c in reversed(events.backward):
        if c.error is not None and first and c.error.splitlines()[0] == first[:300]:
            return c
    return None


def _is_autograd(err: ScriptError, call: BackwardCall | None) -> bool:
    """Whether the script's exception is one of autograd's: raised by a backward call, or raised
    by torch (not by a ``raise`` of the user's) with words only autograd's messages use."""
    if err.type.startswith("Dist") or _COMMS_WORDS.search(err.message):
        return False
    if call is not None:
        return True
    if err.origin not in ("torch", "call"):
        return False
    return err.type in ("RuntimeError", "NotImplementedError") and bool(
        _AUTOGRAD_WORDS.search(err.message)
    )
