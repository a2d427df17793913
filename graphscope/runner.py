"""Run a user's script under ``watch`` and report on it: the library behind the command line.

``graphscope check train.py`` is :func:`check_script`, ``graphscope render train.py`` is
:func:`render_script`; both return a :class:`~graphscope.report.Report` (what ran, the
findings, the files written, the exit status).

>>> import graphscope.runner as runner  # doctest: +SKIP
>>> rep = runner.render_script("train.py", out="out")  # doctest: +SKIP
>>> print(rep.summary()); rep.status  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from graphscope._gc import gc_paused
from graphscope.errors import UsageError
from graphscope.options import Options
from graphscope.report import Report

if TYPE_CHECKING:
    from graphscope.layout import Engine
    from graphscope.script import Run
    from graphscope.watcher import Scope

__all__ = ["check_script", "render_script", "Progress"]

#: ``progress(message)``: a line to show the user while a long run goes on (stderr)
Progress = Callable[[str], None]

_BIG = 2000  # graphs over this many nodes get a "drawing ..." line


def check_script(
    script: str | os.PathLike[str],
    args: Sequence[str] = (),
    *,
    max_graphs: int = 20,
    progress: Progress | None = None,
) -> Report:
    """Run ``script`` with ``args`` as ``python script args`` would, under ``watch``."""
    run = _run(script, args, max_graphs, progress)
    return Report(run.scope, run.exit_code)


def render_script(
    script: str | os.PathLike[str],
    args: Sequence[str] = (),
    *,
    out: str | os.PathLike[str] = "graphscope-out",
    options: Options | None = None,
    max_graphs: int = 20,
    progress: Progress | None = None,
) -> Report:
    """:func:`check_script`, then draw each distinct graph into ``out`` (``<stem>.<gid>.<ext>``,
    plus drill-downs) and write ``out/report.json``."""
    from graphscope.layout import find_engine  # the engine is found before the script runs

    options = options or Options()
    outdir = _outdir(out)
    engine = find_engine(options.engine) if options.format not in ("dot", "json") else None
    run = _run(script, args, max_graphs, progress)
    report = Report(run.scope, run.exit_code, engine=engine.name if engine else None)
    _draw(report, outdir, Path(script).stem, options, engine, progress)
    _write_json(report, outdir / "report.json")
    return report


def _run(
    script: str | os.PathLike[str], args: Sequence[str], max_graphs: int, progress: Progress | None
) -> Run:
    from graphscope.script import run_script

    tick = None
    if progress is not None:

        def tick(scope: Scope, seconds: float) -> None:
            calls = len(scope.events.backward)
            progress(
                f"graphscope: {script} running for {seconds:.0f} s, {calls} backward calls so far"
            )

    return run_script(script, list(args), progress=tick, progress_every=10.0, max_graphs=max_graphs)


def _outdir(out: str | os.PathLike[str]) -> Path:
    """``out`` as a directory we can write into, checked before the script runs."""
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise UsageError(f"-o {out}: exists and is not a directory; give a directory to write into")
    probe = p if p.exists() else next((q for q in p.parents if q.exists()), Path("."))
    if not os.access(probe, os.W_OK):
        raise UsageError(f"-o {out}: {probe} is not writable; choose another output directory")
    return p


def _draw(
    report: Report,
    outdir: Path,
    stem: str,
    options: Options,
    engine: Engine | None,
    progress: Progress | None,
) -> None:
    """Each distinct graph (findings attached) into ``outdir``; records what was written."""
    from graphscope.draw import render_graph

    ext = "gv" if options.format == "dot" else options.format
    # the script is done: the drawing of a big graph should not pay for the collector
    # rescanning the user's model and our capture again and again (seconds at 50k nodes)
    with gc_paused():
        for g in report.scope.graphs(report.findings):
            gid = str(g.graph.get("id"))
            if len(g) > _BIG and progress is not None:
                progress(f"graphscope: drawing {gid} ({len(g)} nodes)...")
            res = render_graph(g, outdir / f"{stem}.{gid}.{ext}", options, engine=engine)
            report.files[gid] = str(res.path)
            report.written += [str(res.path), *(str(p) for p in res.extra)]
            report.drawing += res.notes


def _write_json(report: Report, path: Path) -> None:
    report.written.append(str(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(report.to_json() + "\n", encoding="utf-8")
    except OSError as err:
        raise UsageError(f"cannot write {path}: {err.strerror}") from err
