"""Run a user's script under ``watch`` and report on it: the library behind the command line.

``graphscope check train.py`` is :func:`check_script`, ``graphscope render train.py`` is
:func:`render_script` (``module=True``: ``script`` is a module name run as ``python -m``
would); both return a :class:`~graphscope.report.Report` (what ran, how it ended, the
findings its :class:`~graphscope.report.Policy` keeps, the files written, the exit status).
A script that raised, called ``sys.exit`` or was stopped by Ctrl-C still gets its report and
pictures of what it captured until then; ``show`` receives, as soon as it ended, what Python
would have printed to stderr (the traceback of the script's own frames, a ``sys.exit``
message).

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
from graphscope.errors import RenderError, UsageError
from graphscope.options import Options
from graphscope.preflight import check_target, output_dir
from graphscope.report import Policy, Report

if TYPE_CHECKING:
    from graphscope.layout import Engine
    from graphscope.script import Run
    from graphscope.watcher import Scope

__all__ = ["check_script", "render_script", "Progress", "Show"]

#: ``progress(message)``: a line to show the user while a long run goes on (stderr)
Progress = Callable[[str], None]
#: ``show(text)``: what Python prints to stderr as the script dies (traceback, sys.exit text)
Show = Callable[[str], None]

_BIG = 2000  # graphs over this many nodes get a "drawing ..." line


def check_script(
    script: str | os.PathLike[str],
    args: Sequence[str] = (),
    *,
    module: bool = False,
    policy: Policy | None = None,
    max_graphs: int = 20,
    progress: Progress | None = None,
    show: Show | None = None,
    debug: bool = False,
) -> Report:
    """Run ``script`` with ``args`` as ``python script args`` (``module``: ``python -m script
    args``) would, under ``watch``; ``debug``: pdb on the script's uncaught exception (see
    :func:`graphscope.script.run_script`)."""
    run = _run(script, args, module, max_graphs, progress, show, debug)
    return Report(run.scope, run.ending, policy or Policy())


def render_script(
    script: str | os.PathLike[str],
    args: Sequence[str] = (),
    *,
    out: str | os.PathLike[str] = "graphscope-out",
    options: Options | None = None,
    module: bool = False,
    policy: Policy | None = None,
    max_graphs: int = 20,
    progress: Progress | None = None,
    show: Show | None = None,
    debug: bool = False,
) -> Report:
    """:func:`check_script`, then draw each distinct graph into ``out`` (``<stem>.<gid>.<ext>``,
    plus drill-downs) and write ``out/report.json``."""
    from graphscope.layout import find_engine  # the engine is found before the script runs

    options = options or Options()
    check_target(str(script), module)
    outdir = output_dir(out)
    try:  # what the drawing needs is there before the script runs: else a usage error (2)
        engine = find_engine(options.engine) if options.format not in ("dot", "json") else None
        if options.format == "pdf" and engine is not None and engine.name == "embedded":
            from graphscope.pdf import require_typst

            require_typst()
    except RenderError as err:
        raise UsageError(str(err)) from None
    run = _run(script, args, module, max_graphs, progress, show, debug)
    report = Report(
        run.scope, run.ending, policy or Policy(), engine=engine.name if engine else None
    )
    stem = str(script) if module else Path(script).stem
    _draw(report, outdir, stem, options, engine, progress)
    report.written.append(str(outdir / "report.json"))
    _as_given(report, outdir, Path(out))
    _write_json(report, outdir / "report.json")
    return report


def _run(
    script: str | os.PathLike[str],
    args: Sequence[str],
    module: bool,
    max_graphs: int,
    progress: Progress | None,
    show: Show | None,
    debug: bool = False,
) -> Run:
    from graphscope.script import run_module, run_script

    tick = None
    if progress is not None:

        def tick(scope: Scope, seconds: float) -> None:
            calls = len(scope.events.backward)
            progress(
                f"graphscope: {script} running for {seconds:.0f} s, {calls} backward calls so far"
            )

    if module:
        run = run_module(
            str(script),
            list(args),
            progress=tick,
            progress_every=10,
            debug=debug,
            max_graphs=max_graphs,
        )
    else:
        run = run_script(
            script, list(args), progress=tick, progress_every=10, debug=debug, max_graphs=max_graphs
        )
    if show is not None and run.ending.stderr:
        show(run.ending.stderr)
    return run


def _as_given(report: Report, outdir: Path, given: Path) -> None:
    """The paths the report names, under ``-o`` as the user wrote it (``out/train.g1.svg``),
    though the files were written through its absolute form."""
    if given.is_absolute():
        return

    def shown(path: str) -> str:
        try:
            return str(given / Path(path).relative_to(outdir))
        except ValueError:
            return path

    report.files = {gid: shown(p) for gid, p in report.files.items()}
    report.not_drawn = {gid: shown(p) for gid, p in report.not_drawn.items()}
    report.written = [shown(p) for p in report.written]


def _draw(
    report: Report,
    outdir: Path,
    stem: str,
    options: Options,
    engine: Engine | None,
    progress: Progress | None,
) -> None:
    """Each distinct graph (findings attached) into ``outdir``; records what was written."""
    from graphscope._child import Interrupted, stop_on_signals
    from graphscope.draw import render_graph

    ext = "gv" if options.format == "dot" else options.format
    # the script is done: the drawing of a big graph should not pay for the collector
    # rescanning the user's model and our capture again and again (seconds at 50k nodes);
    # SIGINT/SIGTERM now stop the layout and keep what is drawn (not while the script ran)
    with gc_paused():
        try:  # around the with: a signal that lands while it restores the handlers is caught
            with stop_on_signals():
                for g in report.scope.graphs(report.findings):
                    gid = str(g.graph.get("id"))
                    path = outdir / f"{stem}.{gid}.{ext}"
                    report.not_drawn[gid] = str(path)
                    if len(g) > _BIG and progress is not None:
                        progress(f"graphscope: drawing {gid} ({len(g)} nodes)...")
                    res = render_graph(g, path, options, engine=engine)
                    del report.not_drawn[gid]
                    report.files[gid] = str(res.path)
                    report.written += [str(res.path), *(str(p) for p in res.extra)]
                    report.drawing += res.notes
        except Interrupted as err:
            report.stopped = (err.name, err.exit_code)
            drawn = set(report.files)
            for g in report.scope.captures:
                gid = str(g.graph.get("id"))
                if gid not in drawn:
                    report.not_drawn.setdefault(gid, str(outdir / f"{stem}.{gid}.{ext}"))


def _write_json(report: Report, path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(report.to_json() + "\n", encoding="utf-8")
    except OSError as err:
        raise UsageError(f"cannot write {path}: {err.strerror}") from err
