"""The report in the formats CI reads: GitHub workflow commands and SARIF 2.1.0.

``graphscope check --output-format github train.py`` prints one workflow command per finding,
as ruff does, so that a GitHub Actions run shows each finding on its line of the pull request::

    ::warning title=graphscope (grad-accumulation),file=train.py,line=12::The gradients ...

``error`` findings are ``::error``, ``warning`` ``::warning``, ``info`` ``::notice``. The message
is the finding's, then its fix and its related lines, escaped as GitHub's workflow commands
require (``%``, CR and LF in the message; also ``:`` and ``,`` in a property's value).

``--output-format sarif`` prints a SARIF 2.1.0 log (for ``github/codeql-action/upload-sarif``
and other code-scanning tools): one rule per finding kind (its help is ``graphscope explain``'s
text), one result per finding with its related lines, and the findings that a
``# graphscope: ignore`` comment suppressed as results with an ``inSource`` suppression.

Both hold the same findings as the text and JSON reports (the :class:`~graphscope.report.Policy`
applied). Paths under the working directory are written relative to it (CI runs from the
repository's root, which is what GitHub resolves them against). Pure: plain data in, text out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from graphscope._version import __version__
from graphscope.model import ERROR, FINDING_KINDS, INFO, WARNING, Finding, location
from graphscope.model.explain import kind_doc
from graphscope.report import ending_line

if TYPE_CHECKING:
    from graphscope.report import Report

__all__ = [
    "OUTPUT_FORMATS",
    "escape_data",
    "escape_property",
    "github_lines",
    "github_text",
    "sarif_log",
    "sarif_text",
]

#: ``--output-format`` values of ``graphscope check``
OUTPUT_FORMATS = ("text", "json", "github", "sarif")

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/torch-graphscope/"

_COMMAND = {ERROR: "error", WARNING: "warning", INFO: "notice"}
_LEVEL = {ERROR: "error", WARNING: "warning", INFO: "note"}


# -- GitHub workflow commands ---------------------------------------------------------------------


def escape_data(text: str) -> str:
    """A workflow command's message: ``%``, CR and LF escaped (GitHub's rules).

    >>> escape_data("50% done\\nnext")
    '50%25 done%0Anext'
    """
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A property's value (``file=``, ``title=``): also ``:`` and ``,``.

    >>> escape_property("C:/a,b.py")
    'C%3A/a%2Cb.py'
    """
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def relative(path: str) -> str:
    """``path`` relative to the working directory when it lies under it, with ``/``."""
    p = Path(path)
    if p.is_absolute():
        try:
            p = p.relative_to(Path.cwd())
        except ValueError:
            pass
    return p.as_posix()


def _related_text(f: Finding) -> str:
    parts = [
        location(r.file, r.line) + (f" ({r.what})" if r.what else "") for r in f.related if r.file
    ]
    return f"Related: {'; '.join(parts)}" if parts else ""


def github_lines(findings: Iterable[Finding]) -> list[str]:
    """One ``::warning file=...,line=...::message`` line per finding."""
    lines = []
    for f in findings:
        props = [f"title={escape_property(f'graphscope ({f.kind})')}"]
        if f.file:
            props.append(f"file={escape_property(relative(f.file))}")
            if f.line:
                props.append(f"line={f.line}")
        body = [f.message]
        if f.hint:
            body.append(f"Fix: {f.hint}")
        related = _related_text(f)
        if related:
            body.append(related)
        lines.append(
            f"::{_COMMAND[f.severity]} {','.join(props)}::{escape_data(chr(10).join(body))}"
        )
    return lines


# -- SARIF 2.1.0 ------------------------------------------------------------------------------------


def _uri(path: str) -> dict[str, str]:
    """A SARIF ``artifactLocation``: relative to ``%SRCROOT%`` (the working directory) when
    the file lies under it, else an absolute ``file:`` URI."""
    rel = relative(path)
    if PurePath(rel).is_absolute():
        return {"uri": Path(rel).as_uri()}
    return {"uri": quote(rel), "uriBaseId": "%SRCROOT%"}


def _physical(file: str, line: int | None) -> dict[str, Any]:
    loc: dict[str, Any] = {"artifactLocation": _uri(file)}
    if line:
        loc["region"] = {"startLine": line}
    return {"physicalLocation": loc}


def _rule(kind: str) -> dict[str, Any]:
    d = kind_doc(kind)
    rule: dict[str, Any] = {
        "id": kind,
        "name": "".join(w.capitalize() for w in kind.split("-")),
        "shortDescription": {"text": d.summary},
        "fullDescription": {"text": d.meaning or d.summary},
        "defaultConfiguration": {
            "level": _LEVEL.get(d.severities[0] if d.severities else "", "warning")
        },
        "help": {
            "text": f"{d.summary}. graphscope explain {kind} says more.",
            "markdown": d.body or d.summary,
        },
        "properties": {"tags": ["autograd", "pytorch"]},
    }
    return rule


def _result(
    f: Finding, index: dict[str, int], script: str | None, by: tuple[str, int] | None = None
) -> dict[str, Any]:
    text = f.message + (f" Fix: {f.hint}" if f.hint else "")
    result: dict[str, Any] = {
        "ruleId": f.kind,
        "ruleIndex": index[f.kind],
        "level": _LEVEL[f.severity],
        "message": {"text": text},
    }
    where = f.file or script
    if where:  # code scanning wants a location on every result
        result["locations"] = [_physical(where, f.line if f.file else None)]
    related = [
        {**_physical(r.file, r.line), "id": i, "message": {"text": r.what or "related line"}}
        for i, r in enumerate((r for r in f.related if r.file), start=1)
        if r.file
    ]
    if related:
        result["relatedLocations"] = related
    if by is not None:
        result["suppressions"] = [
            {
                "kind": "inSource",
                "justification": "a # graphscope: ignore comment",
                "location": _physical(*by),
            }
        ]
    return result


def sarif_log(report: Report) -> dict[str, Any]:
    """The SARIF 2.1.0 log of a ``check`` run (a dict, ready for :func:`json.dumps`)."""
    used = {f.kind for f in report.findings} | {s.finding.kind for s in report.suppressed}
    kinds = [k for k in FINDING_KINDS if k in used]  # the rules the results refer to
    index = {k: i for i, k in enumerate(kinds)}
    script = report.scope.script
    results = [_result(f, index, script) for f in report.findings]
    results += [_result(s.finding, index, script, (s.file, s.line)) for s in report.suppressed]
    invocation: dict[str, Any] = {"executionSuccessful": True, "exitCode": report.status}
    ending = _ending(report)
    if ending is not None:
        invocation["toolExecutionNotifications"] = [
            {"level": "error", "message": {"text": ending[0]}}
        ]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "graphscope",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFORMATION_URI,
                "rules": [_rule(k) for k in kinds],
            }
        },
        "originalUriBaseIds": {"%SRCROOT%": {"uri": Path.cwd().as_uri() + "/"}},
        "invocations": [invocation],
        "results": results,
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def sarif_text(report: Report) -> str:
    return json.dumps(sarif_log(report), indent=2)


def _ending(report: Report) -> tuple[str, str | None, int | None] | None:
    """How the script ended when that was not a plain finish: the report's line, file, line."""
    if report.ending is None:
        return None
    text = ending_line(report.ending)
    return None if text is None else (text, report.ending.file, report.ending.line)


def github_text(report: Report) -> str:
    """The workflow commands of a ``check`` run; the script's ending as an ``::error`` when it
    failed (an exception, ``sys.exit(N)``) and no error finding explains it."""
    lines = github_lines(report.findings)
    ending = _ending(report)
    if ending is not None and not any(f.severity == ERROR for f in report.findings):
        text, file, line = ending
        props = [f"title={escape_property('graphscope (the script failed)')}"]
        if file:
            props.append(f"file={escape_property(relative(file))}")
            if line:
                props.append(f"line={line}")
        lines.append(f"::error {','.join(props)}::{escape_data(text)}")
    return "\n".join(lines)
