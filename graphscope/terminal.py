"""Colour for the command line's reports: severities and the script's ending stand out on a
terminal, and nothing changes anywhere else.

Colour is used when the stream is a terminal and the ``NO_COLOR`` environment variable is unset
or empty (https://no-color.org); a pipe, a file or ``NO_COLOR=1`` get the same text without
escape codes. ``FORCE_COLOR`` set to anything but empty or ``0`` (https://force-color.org, as CI
logs that render colour expect) colours a pipe or a file too; ``NO_COLOR`` wins over it. The report's text is made by :mod:`graphscope.report`; this only paints it.

>>> paint("  warning: grad-accumulation at train.py:9: ...") == (
...     "  " + click.style("warning", fg="yellow", bold=True) + ": grad-accumulation at train.py:9: ..."
... )
True
"""

from __future__ import annotations

import os
import re
from typing import Any

import click

__all__ = ["colour", "echo", "paint"]

_SEVERITY = re.compile(r"^(\s*)(error|warning|info)(:)", re.MULTILINE)
_STYLE: dict[str, dict[str, Any]] = {
    "error": {"fg": "red", "bold": True},
    "warning": {"fg": "yellow", "bold": True},
    "info": {"fg": "blue"},
}
_ENDING = re.compile(
    r"^(the script (?:raised|was interrupted|was stopped|called sys\.exit).*)$", re.MULTILINE
)
_NONE = re.compile(r"^(findings: none)$", re.MULTILINE)


def colour() -> bool | None:
    """``False`` when ``NO_COLOR`` asks for none, ``True`` when ``FORCE_COLOR`` asks for
    colour (even in a pipe), else None (click colours a terminal only)."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR", "") not in ("", "0"):
        return True
    return None


def paint(text: str) -> str:
    """``text`` with its severities, the script's ending and "findings: none" coloured."""
    text = _SEVERITY.sub(lambda m: m[1] + click.style(m[2], **_STYLE[m[2]]) + m[3], text)
    text = _ENDING.sub(lambda m: click.style(m[1], fg="red"), text)
    return _NONE.sub(lambda m: click.style(m[1], fg="green"), text)


def echo(text: str, *, err: bool = False) -> None:
    """Print a report: painted, with the colour stripped where the stream wants none."""
    click.echo(paint(text), err=err, color=colour())
