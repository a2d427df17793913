"""What each finding kind means: the text of ``graphscope kinds``, ``graphscope explain KIND``
and the docs page ``docs/kinds.md``, read from one file per kind.

Each kind of :data:`~graphscope.model.FINDING_KINDS` has ``graphscope/model/kinds/<kind>.md``::

    severity: warning, info            <- the severities it can have, the usual one first
    example: torchrun --nproc-per-node 2 (one process cannot show it)
                                       <- optional: why the example cannot run on its own
    <blank line>
    What it means, for someone who has never seen it: a paragraph or two, the words torch
    prints when it raises, where the finding's line is.

    ## Example

    ```python
    a whole script that gets the finding under `graphscope check` (tests/test_kinds.py runs
    it, unless an `example:` line says why it cannot run alone)
    ```

    ## Fix

    What to change, with the code (in the example's names).

    ## Not a finding

    The legitimate patterns that look alike and are not reported.

How to add a finding kind: put it in ``FINDING_KINDS`` (:mod:`graphscope.model.findings`, its
one-line summary), write its ``kinds/<kind>.md`` in the layout above, then run
``pytest tests/test_kinds.py`` (every kind has an entry, every entry has the four parts, every
example gets its kind) and ``graphscope docs build -o docs/`` (rewrites ``docs/kinds.md``).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from graphscope.model.findings import FINDING_KINDS

__all__ = [
    "KindDoc",
    "SECTIONS",
    "close_kinds",
    "explain_text",
    "kind_doc",
    "kind_docs",
    "kinds_page",
    "kinds_table",
]

#: the sections of an entry, in order (``## <title>``)
SECTIONS = ("Example", "Fix", "Not a finding")


@dataclass(frozen=True)
class KindDoc:
    """One finding kind, explained: its summary (``FINDING_KINDS``) and its entry's parts."""

    kind: str
    summary: str
    severities: tuple[str, ...]
    meaning: str
    example: str  # the example script (the code inside the fence)
    fix: str  # markdown
    not_a_finding: str  # markdown
    alone: str | None = None  # why the example cannot run on its own (None: it can)
    body: str = ""  # the entry's markdown after its header lines

    @property
    def severity(self) -> str:
        """``warning`` or ``warning, info``: what the table of kinds shows."""
        return ", ".join(self.severities) or "?"


def _entry_text(kind: str) -> str | None:
    path = (
        resources.files(__package__ or "graphscope.model").joinpath("kinds").joinpath(f"{kind}.md")
    )
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        return None


def _fence_code(text: str) -> str:
    """The code inside the first fenced block of ``text`` (all of it when there is none)."""
    m = re.search(r"^```[a-z]*\n(.*?)^```", text, re.S | re.M)
    return m.group(1) if m else text


@cache
def kind_doc(kind: str) -> KindDoc:
    """The entry of ``kind``; a kind without an entry file gets its summary only.

    Raises ``LookupError`` for a word that is no finding kind (see :func:`close_kinds`).
    """
    if kind not in FINDING_KINDS:
        raise LookupError(kind)
    text = _entry_text(kind)
    if text is None:
        return KindDoc(kind, FINDING_KINDS[kind], (), FINDING_KINDS[kind], "", "", "")
    head, _, body = text.partition("\n\n")
    fields = dict(
        (k.strip(), v.strip())
        for k, sep, v in (line.partition(":") for line in head.splitlines())
        if sep
    )
    severities = tuple(s.strip() for s in fields.get("severity", "").split(",") if s.strip())
    parts = re.split(r"^## (.+)\n", body, flags=re.M)
    meaning, sections = parts[0].strip(), dict(zip(parts[1::2], parts[2::2], strict=False))
    return KindDoc(
        kind=kind,
        summary=FINDING_KINDS[kind],
        severities=severities,
        meaning=meaning,
        example=_fence_code(sections.get("Example", "")).strip("\n"),
        fix=sections.get("Fix", "").strip(),
        not_a_finding=sections.get("Not a finding", "").strip(),
        alone=fields.get("example"),
        body=body.strip(),
    )


def kind_docs() -> list[KindDoc]:
    """Every kind's entry, in the order of ``FINDING_KINDS``."""
    return [kind_doc(k) for k in FINDING_KINDS]


def close_kinds(word: str, n: int = 3) -> list[str]:
    """The finding kinds ``word`` may have meant: ``grad_accumulation``, ``grad-acumulation``
    and ``accumulation`` all give ``['grad-accumulation']``.

    >>> close_kinds("leaf_inplace")
    ['leaf-inplace']
    """
    w = word.strip().lower().replace("_", "-").replace(" ", "-")
    if w in FINDING_KINDS:
        return [w]
    close = difflib.get_close_matches(w, list(FINDING_KINDS), n=n, cutoff=0.6)
    inside = [k for k in FINDING_KINDS if len(w) >= 4 and w in k and k not in close]
    return (close + inside)[:n]


def explain_text(kind: str) -> str:
    """``graphscope explain KIND``: the kind, its severities and summary, then its entry."""
    d = kind_doc(kind)
    lines = [f"{d.kind} ({' or '.join(d.severities) or 'severity unknown'})", d.summary, ""]
    lines.append(d.body or d.meaning)
    if d.alone:
        lines += ["", f"(The example runs under {d.alone}.)"]
    return "\n".join(lines).rstrip() + "\n"


def kinds_table() -> str:
    """``graphscope kinds``: one line per kind: its name, severities and summary."""
    docs = kind_docs()
    kw = max(len(d.kind) for d in docs)
    sw = max(len("severity"), *(len(d.severity) for d in docs))
    lines = [f"{'kind':<{kw}}  {'severity':<{sw}}  what it means"]
    lines += [f"{d.kind:<{kw}}  {d.severity:<{sw}}  {d.summary}" for d in docs]
    lines.append("")
    lines.append("graphscope explain KIND: what a kind means, an example, the fix, what is not one")
    return "\n".join(lines) + "\n"


def kinds_page() -> str:
    """``docs/kinds.md``: the table of kinds, then every entry under its own heading."""
    docs = kind_docs()
    out = [
        "# Finding kinds",
        "",
        "<!-- generated by `graphscope docs build` from graphscope/model/kinds/*.md; "
        "the same text as `graphscope explain KIND` -->",
        "",
        "What `graphscope check` reports (`graphscope kinds` lists them, "
        "`graphscope explain KIND` prints one entry). A comment "
        "`# graphscope: ignore[KIND]` on a finding's line (or one of its related lines) drops "
        "that finding; `--ignore KIND` drops a kind everywhere.",
        "",
        "| kind | severity | what it means |",
        "|---|---|---|",
    ]
    out += [
        f"| [`{d.kind}`](#{d.kind}) | {d.severity} | {d.summary.replace('|', chr(92) + '|')} |"
        for d in docs
    ]
    for d in docs:
        out += ["", f"## {d.kind}", "", f"**{d.severity}**: {d.summary}", ""]
        body = re.sub(r"^## ", "### ", d.body or d.meaning, flags=re.M)
        out.append(body)
        if d.alone:
            out += ["", f"(The example runs under {d.alone}.)"]
    return "\n".join(out) + "\n"
