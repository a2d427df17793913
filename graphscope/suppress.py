"""Inline suppression: a ``# graphscope: ignore[KIND]`` comment drops a finding, as ruff's
``# noqa: E501`` drops a lint.

A comment on the finding's line, or on any of its related lines (the line that saved a tensor,
the backward call that raised), with the finding's kind in brackets drops that finding; a bare
``# graphscope: ignore`` drops every finding there. Several kinds are comma-separated::

    loss.backward()  # graphscope: ignore[grad-accumulation]
    h = model(x)  # graphscope: ignore[no-grad-param, nonfinite-grad]

Only comments count (a string that holds the words does not). A kind in brackets that is no
finding kind is reported back (with the kind it may have meant), since a misspelt kind
suppresses nothing. Lines are read with :mod:`linecache`, which also knows a notebook's cells.
Pure: findings in, findings out; no torch.
"""

from __future__ import annotations

import linecache
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from graphscope.model import FINDING_KINDS, Finding
from graphscope.model.explain import close_kinds

__all__ = ["ALL", "BadKind", "Split", "Suppressed", "ignored_kinds", "split"]

#: what a bare ``# graphscope: ignore`` ignores
ALL = frozenset({"*"})

_COMMENT = re.compile(r"#.*?\bgraphscope\s*:\s*ignore\b(?:\[([^\]]*)\])?", re.I)

GetLine = Callable[[str, int], str]


@dataclass(frozen=True)
class Suppressed:
    """A finding dropped by the comment at ``file:line``."""

    finding: Finding
    file: str
    line: int


@dataclass(frozen=True)
class BadKind:
    """``# graphscope: ignore[word]`` at ``file:line``, where ``word`` is no finding kind."""

    file: str
    line: int
    word: str
    meant: tuple[str, ...] = ()  # the kinds it may have meant


@dataclass
class Split:
    """Findings kept, findings suppressed, and the misspelt kinds of the comments read."""

    kept: list[Finding] = field(default_factory=list)
    suppressed: list[Suppressed] = field(default_factory=list)
    bad: list[BadKind] = field(default_factory=list)


def _comment(text: str) -> str | None:
    """The comment of one source line, or None: the text from the first ``#`` that is not
    inside a string literal (a line of a longer statement is read on its own, so a string
    opened on an earlier line is not seen)."""
    quote: str | None = None
    i = 0
    while i < len(text):
        c = text[i]
        if quote is None:
            if c == "#":
                return text[i:]
            if c in "'\"":
                quote = c * 3 if text.startswith(c * 3, i) else c
                i += len(quote)
                continue
        elif c == "\\":
            i += 2
            continue
        elif text.startswith(quote, i):
            i += len(quote)
            quote = None
            continue
        i += 1
    return None


def ignored_kinds(text: str) -> tuple[frozenset[str], tuple[str, ...]] | None:
    """What the comment on a source line ignores: ``(kinds, words that are no kind)``, with
    :data:`ALL` for a bare ``ignore``; None when the line has no such comment.

    >>> ignored_kinds("y.backward()  # graphscope: ignore[grad-accumulation, nope]")
    (frozenset({'grad-accumulation'}), ('nope',))
    >>> ignored_kinds('s = "# graphscope: ignore"') is None
    True
    """
    if "graphscope" not in text.lower():
        return None
    comment = _comment(text)
    m = _COMMENT.search(comment) if comment else None
    if m is None:
        return None
    if m.group(1) is None:
        return ALL, ()
    words = [w.strip().lower() for w in m.group(1).split(",") if w.strip()]
    return (
        frozenset(w for w in words if w in FINDING_KINDS),
        tuple(w for w in words if w not in FINDING_KINDS),
    )


def _lines_of(f: Finding) -> Iterable[tuple[str, int]]:
    if f.file and f.line:
        yield f.file, f.line
    for r in f.related:
        if r.file and r.line:
            yield r.file, r.line


def split(findings: Sequence[Finding], getline: GetLine = linecache.getline) -> Split:
    """``findings`` split into those kept and those an inline comment suppresses."""
    out = Split()
    seen_bad: set[tuple[str, int]] = set()
    for f in findings:
        by: tuple[str, int] | None = None
        for file, line in _lines_of(f):
            got = ignored_kinds(getline(file, line))
            if got is None:
                continue
            kinds, bad = got
            if bad and (file, line) not in seen_bad:
                seen_bad.add((file, line))
                out.bad += [BadKind(file, line, w, tuple(close_kinds(w))) for w in bad]
            if by is None and (kinds is ALL or f.kind in kinds):
                by = (file, line)
        if by is None:
            out.kept.append(f)
        else:
            out.suppressed.append(Suppressed(f, *by))
    return out
