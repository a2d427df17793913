"""The ``graphscope`` command: a thin click layer over the library. Nothing imports this module.

    graphscope render SCRIPT [ARGS...] [-o OUTDIR] [--format svg|png|pdf|dot|json|html] [options]
    graphscope check  SCRIPT [ARGS...] [--json]
    graphscope scenarios list | show NAME | render [NAME...] [-o DIR]
    graphscope docs build [-o DIR]

Our options may come before or after SCRIPT; anything we don't know goes to the script. Put
``--`` before the script's arguments when one of them has the name of ours (``-o``).
Exit status: 0 no error or warning finding; 1 at least one (a script that raised counts);
2 usage error; 130/143 when SIGINT/SIGTERM stopped the drawing (report.json written, skipped
graphs with ``"file": null``).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from graphscope._child import Interrupted, stop_on_signals
from graphscope._gc import gc_paused
from graphscope._version import __version__
from graphscope.errors import GraphscopeError, UsageError
from graphscope.model import ERROR, FORMATS, WARNING, Options

_SCRIPT_CONTEXT = {"ignore_unknown_options": True, "allow_interspersed_args": True}


class _Error(click.ClickException):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]


def _render_options(fn: Any) -> Any:
    opts = [
        click.option(
            "-o",
            "--out",
            "out",
            default="graphscope-out",
            show_default=True,
            type=click.Path(file_okay=False),
            help="Directory to write the pictures and report.json into.",
        ),
        click.option(
            "--format",
            "fmt",
            default="svg",
            show_default=True,
            type=click.Choice(FORMATS),
            help="Output format of the pictures.",
        ),
        click.option(
            "--engine",
            default="auto",
            show_default=True,
            type=click.Choice(["auto", "dot", "embedded"]),
            help="Layout engine: system Graphviz dot, the embedded graphviz-pure, or auto (dot if on PATH).",
        ),
        click.option(
            "--max-nodes",
            default=300,
            show_default=True,
            type=click.IntRange(min=1),
            help="Readable budget: bigger graphs are collapsed by module and folded.",
        ),
        click.option(
            "--depth",
            default=None,
            type=click.IntRange(min=0),
            help="Module depth shown expanded (collapses deeper modules).",
        ),
        click.option(
            "--expand",
            multiple=True,
            metavar="PATH",
            help="Show this module expanded (repeatable), e.g. --expand encoder.layers.0",
        ),
        click.option(
            "--attrs/--no-attrs",
            default=False,
            help="List saved scalars (alpha, dim, ...) on op nodes.",
        ),
        click.option(
            "--source/--no-source", default=True, help="Source file:line and module on op nodes."
        ),
        click.option("--legend/--no-legend", default=True, help="Draw the legend."),
    ]
    for o in reversed(opts):
        fn = o(fn)
    return fn


class _Main(click.Group):
    """Turns any exception of ours into one line (GRAPHSCOPE_DEBUG=1 shows the traceback)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except GraphscopeError as err:
            raise _Error(str(err), err.exit_code) from None
        except Exception as err:
            if os.environ.get("GRAPHSCOPE_DEBUG"):
                raise
            raise _Error(
                f"internal error: {type(err).__name__}: {err} "
                "(GRAPHSCOPE_DEBUG=1 shows the traceback; please report it)",
                1,
            ) from None


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="graphscope")
def main() -> None:
    """Show a PyTorch program's autograd graph and explain what goes wrong in it."""


# -- render / check -----------------------------------------------------------------------------


@main.command(context_settings=_SCRIPT_CONTEXT)
@click.argument("script")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@_render_options
@click.option(
    "--max-graphs",
    default=20,
    show_default=True,
    type=click.IntRange(min=1),
    help="Keep at most this many distinct graphs.",
)
def render(
    script: str,
    args: Sequence[str],
    out: str,
    fmt: str,
    engine: str,
    max_nodes: int,
    depth: int | None,
    expand: Sequence[str],
    attrs: bool,
    source: bool,
    legend: bool,
    max_graphs: int,
) -> None:
    """Run SCRIPT [ARGS...] and draw the autograd graph at each backward call."""
    from graphscope.render import find_engine, render_graph

    options = Options(
        format=fmt,
        engine=engine,
        max_nodes=max_nodes,
        depth=depth,
        expand=tuple(expand),
        show_attrs=attrs,
        show_source=source,
        show_legend=legend,
    )
    eng = find_engine(engine) if fmt not in ("dot", "json") else None
    run = _run(script, args, max_graphs=max_graphs)
    scope = run.scope
    outdir = Path(out)
    stem = Path(script).stem
    files: dict[str, str] = {}
    written: list[str] = []
    stopped: Interrupted | None = None
    # the script is done: the drawing of a big graph should not pay for the collector
    # rescanning the user's model and our capture again and again (seconds at 50k nodes);
    # SIGINT/SIGTERM now stop the layout and keep what is drawn (not while the script ran)
    with gc_paused():
        try:
            with stop_on_signals():
                for g in scope.graphs():
                    gid = str(g.graph.get("id"))
                    if len(g) > 2000:
                        click.echo(f"graphscope: drawing {gid} ({len(g)} nodes)...", err=True)
                    res = render_graph(g, _picture(outdir, stem, gid, fmt), options, engine=eng)
                    files[gid] = str(res.path)
                    written.append(str(res.path))
                    written.extend(str(p) for p in res.extra)
        except Interrupted as err:  # around the with: a signal while it exits is caught too
            stopped = err
        report = outdir / "report.json"
        _write_report(report, scope.to_json(files))
    click.echo(_summary(scope, written, report, eng.name if eng else None))
    if stopped is not None:
        click.echo(_skipped(stopped, scope, files, outdir, stem, fmt), err=True)
        sys.exit(stopped.exit_code)
    sys.exit(_status(scope))


def _picture(outdir: Path, stem: str, gid: str, fmt: str) -> Path:
    return outdir / f"{stem}.{gid}.{fmt if fmt != 'dot' else 'gv'}"


def _skipped(
    stopped: Interrupted, scope: Any, files: dict[str, str], outdir: Path, stem: str, fmt: str
) -> str:
    """What a SIGINT/SIGTERM during the drawing left out (report.json has ``file: null``)."""
    left = [str(g.graph.get("id")) for g in scope.captures]
    left = [f"{gid} ({_picture(outdir, stem, gid, fmt)})" for gid in left if gid not in files]
    return (
        f"graphscope: {stopped.name} stopped the drawing; skipped "
        + (", ".join(left) or "nothing")
        + f"; report.json lists what was drawn (exit status {stopped.exit_code})"
    )


@main.command(context_settings=_SCRIPT_CONTEXT)
@click.argument("script")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the JSON report on stdout (the script's own output goes to stderr).",
)
def check(script: str, args: Sequence[str], as_json: bool) -> None:
    """Run SCRIPT [ARGS...] and report autograd pitfalls (exit 1 when there is an error or warning)."""
    if as_json:
        with contextlib.redirect_stdout(sys.stderr):
            run = _run(script, args, max_graphs=20)
        click.echo(run.scope.to_json())
    else:
        run = _run(script, args, max_graphs=20)
        click.echo(run.scope.report())
    sys.exit(_status(run.scope))


def _run(script: str, args: Sequence[str], **options: Any) -> Any:
    from graphscope.script import run_script

    def progress(scope: Any, seconds: float) -> None:
        click.echo(
            f"graphscope: {script} running for {seconds:.0f} s, "
            f"{len(scope.events.backward)} backward calls so far",
            err=True,
        )

    return run_script(script, list(args), progress=progress, progress_every=10.0, **options)


def _status(scope: Any) -> int:
    if scope.events.error is not None:
        return 1
    return 1 if any(f.severity in (ERROR, WARNING) for f in scope.findings) else 0


def _write_report(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
    except OSError as err:
        raise UsageError(f"cannot write {path}: {err.strerror}") from err


def _summary(scope: Any, written: Sequence[str], report: Path, engine: str | None) -> str:
    calls = len(scope.events.backward)
    lines = [
        f"graphscope: {calls} backward call{'s' if calls != 1 else ''}, "
        f"{len(scope.captures)} distinct graph{'s' if len(scope.captures) != 1 else ''}"
        + (f", layout by {engine}" if engine else "")
    ]
    for g in scope.captures:
        calls_g = g.graph.get("calls", [])
        lines.append(f"  {g.graph.get('id')}: {len(g)} nodes, stands for {len(calls_g)} call(s)")
    if calls == 0:
        lines.append(
            "  no backward call ran, so there is no graph to draw: graphscope captures the graph at "
            "each backward call (or call graphscope.render(tensor, path) in the script)"
        )
    for p in written:
        lines.append(f"  wrote {p}")
    lines.append(f"  wrote {report}")
    lines.extend(scope.outcome_lines())
    return "\n".join(lines)


# -- scenarios ----------------------------------------------------------------------------------


@main.group()
def scenarios() -> None:
    """The bundled scenarios: every seed example and every pitfall, runnable."""


@scenarios.command("list")
def scenarios_list() -> None:
    """Name and one line for each scenario."""
    from graphscope import scenarios as sc

    items = sc.all_scenarios()
    width = max(len(s.name) for s in items)
    for s in items:
        click.echo(f"{s.name:<{width}}  {s.title}")


@scenarios.command("show")
@click.argument("name")
def scenarios_show(name: str) -> None:
    """Explanation, code, printed values and findings of one scenario."""
    from graphscope import scenarios as sc

    s = sc.get(name)
    click.echo(f"{s.title}  ({s.name})\n")
    click.echo(s.explanation + "\n")
    click.echo("code:\n" + _indent(s.code))
    click.echo("prints:\n" + _indent(s.output or ""))
    kinds = ", ".join(f"{k} at line {line}" for k, line in s.kinds) or "none"
    click.echo(f"findings: {kinds}")


@scenarios.command("render")
@click.argument("names", nargs=-1)
@click.option(
    "-o",
    "--out",
    default="graphscope-scenarios",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Directory to write into.",
)
@click.option(
    "--format",
    "fmt",
    default="svg",
    show_default=True,
    type=click.Choice(FORMATS),
    help="Output format.",
)
@click.option(
    "--engine",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "dot", "embedded"]),
    help="Layout engine.",
)
def scenarios_render(names: Sequence[str], out: str, fmt: str, engine: str) -> None:
    """Run scenarios (all by default) and draw their graphs into OUT."""
    from graphscope import scenarios as sc
    from graphscope.docs import render_scenario

    chosen = [sc.get(n) for n in names] if names else sc.all_scenarios()
    options = Options(format=fmt, engine=engine)
    for s in chosen:
        for p in render_scenario(s, Path(out), options):  # its output is captured there
            click.echo(f"wrote {p}")


# -- docs ---------------------------------------------------------------------------------------


@main.group()
def docs() -> None:
    """The documentation gallery."""


@docs.command("build")
@click.option(
    "-o",
    "--out",
    default="docs",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Directory to write the gallery into.",
)
def docs_build(out: str) -> None:
    """Regenerate the gallery: index.md, one page and one SVG per scenario, CLI and API pages."""
    from graphscope.docs import build

    written = build(Path(out))
    click.echo(f"graphscope: wrote {len(written)} files into {out}")


def _indent(text: str) -> str:
    return "".join("    " + line + "\n" for line in text.rstrip("\n").splitlines())


if __name__ == "__main__":  # pragma: no cover
    main()
