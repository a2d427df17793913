"""Small pieces the checks share. Imports only the vocabulary."""

from __future__ import annotations

from collections.abc import Iterator

from graphscope.model import Events, Finding


def error_finding(
    events: Events, kind: str, mark: str, message: str, hint: str
) -> Iterator[Finding]:
    """The finding for the script's own exception when its message holds ``mark``."""
    err = events.error
    if err is None or mark not in err.message:
        return
    yield Finding(
        kind=kind, severity="error", message=message, hint=hint, file=err.file, line=err.line
    )
