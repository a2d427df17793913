"""The ``graphscope`` command: a thin click layer over the library. Nothing imports this module.

    graphscope render SCRIPT [ARGS...] [-o OUTDIR] [--format svg|png|pdf|dot|json|html] [options]
    graphscope check  SCRIPT [ARGS...] [--json]
    graphscope scenarios list | show NAME | render [NAME...] [-o DIR]
    graphscope docs build [-o DIR]

Our options may come before or after SCRIPT; anything we don't know goes to the script. Put
``--`` before the script's arguments when one of them has the name of ours (``-o``).
Exit status: 0 no error or warning finding; 1 at least one (a script that raised counts);
2 usage error.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import click

from graphscope._version import __version__
from graphscope.errors import GraphscopeError
from graphscope.options import DEFAULT_MAX_NODES, ENGINES, FORMATS, Options

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
            type=click.Choice(ENGINES),
            help="Layout engine: system Graphviz dot, the embedded graphviz-pure, or auto (dot if on PATH).",
        ),
        click.option(
            "--max-nodes",
            default=DEFAULT_MAX_NODES,
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
        except BrokenPipeError:  # `graphscope check x.py | head`: the reader left; so do we
            _quiet_stdout()
            sys.exit(1)
        except Exception as err:
            if os.environ.get("GRAPHSCOPE_DEBUG"):
                raise
            raise _Error(
                f"internal error: {type(err).__name__}: {err} "
                "(GRAPHSCOPE_DEBUG=1 shows the traceback; please report it)",
                1,
            ) from None


def _versions() -> str:
    """``graphscope 0.1.0`` and the versions of what it runs with (read without importing)."""
    parts = [f"graphscope {__version__}"]
    for dist in ("torch", "graphviz-pure"):
        try:
            parts.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            parts.append(f"{dist} not installed")
    dot = shutil.which("dot")
    parts.append(f"system dot at {dot}" if dot else "system dot not found")
    return ", ".join(parts)


def _print_version(ctx: click.Context) -> None:
    click.echo(_versions())
    ctx.exit()


@click.group(
    cls=_Main, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.option(
    "-V",
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=lambda ctx, _param, value: _print_version(ctx) if value else None,
    help="Show the versions of graphscope, torch and the layout engines, and exit.",
)
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
def render(script: str, args: Sequence[str], out: str, max_graphs: int, **opts: Any) -> None:
    """Run SCRIPT [ARGS...] and draw the autograd graph at each backward call."""
    from graphscope.runner import render_script

    report = render_script(
        script, args, out=out, options=_options(**opts), max_graphs=max_graphs, progress=_progress
    )
    click.echo(report.summary())
    sys.exit(report.status)


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
    from graphscope.runner import check_script

    if as_json:
        with _stdout_to_stderr():
            report = check_script(script, args, progress=_progress)
        click.echo(report.to_json())
    else:
        report = check_script(script, args, progress=_progress)
        click.echo(report.text())
    sys.exit(report.status)


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """While the script runs, everything written to standard output goes to standard error:
    ``print``, ``sys.__stdout__``, ``os.write(1, ...)`` and child processes (when standard
    output is file descriptor 1, that descriptor itself is pointed at stderr, and put back)."""
    try:
        real = sys.stdout.fileno() == 1
    except (OSError, ValueError, AttributeError):  # a Python-level stream (click's test runner)
        real = False
    if not real:
        with contextlib.redirect_stdout(sys.stderr):
            yield
        return
    _flush(sys.stdout, sys.__stdout__, sys.stderr)
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        _flush(sys.stdout, sys.__stdout__, sys.stderr)
        os.dup2(saved, 1)
        os.close(saved)


def _flush(*streams: Any) -> None:
    for stream in streams:
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass


def _quiet_stdout() -> None:
    """Point standard output at the null device, so that Python's own flush at exit does not
    complain about the closed pipe again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _options(
    fmt: str,
    engine: str,
    max_nodes: int,
    depth: int | None,
    expand: Sequence[str],
    attrs: bool,
    source: bool,
    legend: bool,
) -> Options:
    return Options(
        format=fmt,
        engine=engine,
        max_nodes=max_nodes,
        depth=depth,
        expand=tuple(expand),
        show_attrs=attrs,
        show_source=source,
        show_legend=legend,
    )


def _progress(message: str) -> None:
    click.echo(message, err=True)


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
    type=click.Choice(ENGINES),
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
