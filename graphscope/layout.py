"""Layout engines: the system Graphviz ``dot``, or the embedded ``graphviz-pure``.

* ``dot``: the system Graphviz, when ``dot`` is on PATH;
* ``embedded``: ``graphviz-pure`` (PyPI), a Rust port of Graphviz with dot's flags, installed
  with graphscope, so a plain ``pip install`` renders without system packages.

``engine="auto"`` takes the system ``dot`` when present, else the embedded one. The engine runs
as a child process fed the DOT text on stdin, tied to our life (:mod:`graphscope._child`: it
never outlives graphscope, and is killed when its time limit passes).
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass

from graphscope._child import run_child
from graphscope.errors import RenderError, UsageError
from graphscope.options import ENGINES

__all__ = ["Engine", "find_engine", "layout", "LAYOUT_TIMEOUT"]

LAYOUT_TIMEOUT = 600  # seconds; a collapsed graph lays out in well under one
_EMBEDDED = "graphviz-pure"


@dataclass(frozen=True)
class Engine:
    """A layout program: ``name`` is ``dot`` or ``embedded``; ``path`` the executable."""

    name: str
    path: str


def _embedded_path() -> str | None:
    found = shutil.which(_EMBEDDED)
    if found:
        return found
    # installed into the same environment as we are, but that bin/ may not be on PATH
    for d in (
        os.path.dirname(sys.executable),
        os.path.join(sys.prefix, "bin"),
        os.path.join(sys.prefix, "Scripts"),
    ):
        for name in (_EMBEDDED, _EMBEDDED + ".exe"):
            p = os.path.join(d, name)
            if os.path.isfile(p) and os.access(p, os.X_OK):
                return p
    return None


def find_engine(name: str = "auto") -> Engine:
    """The layout engine to use: ``auto``, ``dot`` or ``embedded``."""
    if name not in ENGINES:
        raise UsageError(f"--engine must be auto, dot or embedded (got {name!r})")
    if name in ("auto", "dot"):
        dot = shutil.which("dot")
        if dot:
            return Engine("dot", dot)
        if name == "dot":
            raise RenderError(
                "--engine dot: the Graphviz 'dot' program is not on PATH. Install Graphviz "
                "(apt-get install graphviz, brew install graphviz) or use --engine embedded."
            )
    path = _embedded_path()
    if path is None:
        raise RenderError(
            "no layout engine: neither Graphviz 'dot' nor the embedded 'graphviz-pure' was found. "
            "Reinstall graphscope (it installs graphviz-pure) or install Graphviz."
        )
    return Engine("embedded", path)


def layout(source: str, fmt: str, engine: Engine, *, timeout: float | None = None) -> bytes:
    """Run ``engine`` on DOT ``source`` and return the ``fmt`` output (svg, png or pdf).

    ``timeout``: seconds after which the engine is stopped and :class:`LayoutTimeout` raised
    (default :data:`LAYOUT_TIMEOUT`)."""
    if fmt == "pdf" and engine.name == "embedded":
        from graphscope.pdf import svg_to_pdf  # an optional extra, loaded only for a PDF

        return svg_to_pdf(layout(source, "svg", engine, timeout=timeout))
    limit = LAYOUT_TIMEOUT if timeout is None else timeout
    try:
        proc = run_child(
            [engine.path, f"-T{fmt}"],
            source.encode("utf-8"),
            timeout=limit,
            what=f"the {engine.name} layout",
        )
    except OSError as err:
        raise RenderError(
            f"could not run the {engine.name} layout engine ({engine.path}): {err}"
        ) from err
    if proc.returncode != 0 or not proc.stdout:
        errors = [
            ln for ln in proc.stderr.decode("utf-8", "replace").splitlines() if not _harmless(ln)
        ]
        detail = "; ".join(errors[:3]) or f"exit status {proc.returncode}"
        raise RenderError(f"the {engine.name} layout engine failed: {detail}")
    return proc.stdout


def _harmless(line: str) -> bool:
    # graphviz-pure measures non-ASCII glyphs with the space's width: exact for monospaced Cousine
    return "no value for width of non-ASCII character" in line or not line.strip()
