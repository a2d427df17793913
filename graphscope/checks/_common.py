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


def ddp_error(events: Events, mark: str) -> str | None:
    """The text of DDP's error holding ``mark``: the script's exception (whole message) or, when
    the script caught it, the failed backward call's first line; ``None`` when neither holds it."""
    if events.error is not None and mark in events.error.message:
        return events.error.message
    for c in events.backward:
        if c.error is not None and mark in c.error:
            return c.error
    return None
