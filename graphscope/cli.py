"""The ``graphscope`` command: a thin click layer over the library. Nothing imports this module.

    graphscope render [options] SCRIPT [ARGS...]      (or: -m MODULE [ARGS...])
    graphscope check  [options] SCRIPT [ARGS...] [--json | --output-format github|sarif]
    graphscope kinds | explain KIND
    graphscope scenarios list | show NAME | render [NAME...] [-o DIR]
    graphscope docs build [-o DIR]

Our options may come before or after SCRIPT; anything we don't know after it goes to the
script. Put ``--`` before the script's arguments when one of them has the name of ours
(``-o``). ``[tool.graphscope]`` in the nearest pyproject.toml holds the same settings
(:mod:`graphscope.config`); an option on the command line wins. Exit status: see
:mod:`graphscope.report` (the larger of ours and the script's own; 2 for a usage error).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TextIO

import click
from click.core import ParameterSource

from graphscope._version import __version__
from graphscope.errors import GraphscopeError, UsageError
from graphscope.options import (
    DEFAULT_LAYOUT_TIMEOUT,
    DEFAULT_MAX_NODES,
    ENGINES,
    FORMATS,
    RANKDIRS,
    Options,
)
from graphscope.terminal import echo

_SCRIPT_CONTEXT = {"ignore_unknown_options": True, "allow_interspersed_args": True}
_EPILOG = (
    "Exit status of render and check: the larger of graphscope's (1 when a reported finding is "
    "at least as severe as --fail-on, else 0) and the script's own (what `python SCRIPT` would "
    "exit with: 0 when it ran to its end, its sys.exit code, 1 for sys.exit('message') or an "
    "uncaught exception, 130 for Ctrl-C); 2 for a usage error, and then nothing runs. "
    "Settings: [tool.graphscope] in the nearest pyproject.toml (from the script's directory "
    'up) holds the long option names (fail-on = "error", ignore = ["grad-accumulation"], '
    "format, rankdir, ...); options on the command line win."
)
FAIL_ON = ("error", "warning", "info", "never")  # as graphscope.report.FAIL_ON (no import here)
OUTPUT_FORMATS = ("text", "json", "github", "sarif")  # as graphscope.ci.OUTPUT_FORMATS

#: ``[tool.graphscope]`` key -> the parameter it sets, where the two names differ
_PARAM_OF = {"format": "fmt"}


class _Error(click.ClickException):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]


def _options_of(opts: list[Any]) -> Any:
    def apply(fn: Any) -> Any:
        for o in reversed(opts):
            fn = o(fn)
        return fn

    return apply


_render_options = _options_of(
    [
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
            "--rankdir",
            default="BT",
            show_default=True,
            type=click.Choice(RANKDIRS, case_sensitive=False),
            metavar="[" + "|".join(RANKDIRS) + "]",
            help="Direction of the picture: BT (leaves at the bottom), TB, LR (left to right), RL.",
        ),
        click.option(
            "--layout-timeout",
            default=DEFAULT_LAYOUT_TIMEOUT,
            show_default=True,
            type=click.FloatRange(min=0, min_open=True),
            metavar="SECONDS",
            help="Time one picture's layout may take; a slower one is redrawn collapsed one level more.",
        ),
        click.option(
            "--attrs/--no-attrs",
            default=False,
            help="List saved scalars (alpha, dim, ...) on op nodes.",
        ),
        click.option(
            "--shapes/--no-shapes",
            default=False,
            help="Output shape on every op node (always in the json and html data).",
        ),
        click.option(
            "--source/--no-source", default=True, help="Source file:line and module on op nodes."
        ),
        click.option("--legend/--no-legend", default=True, help="Draw the legend."),
    ]
)


def _kinds(ctx: click.Context, param: click.Parameter, value: Sequence[str]) -> tuple[str, ...]:
    """``--select a,b --select c`` -> ``("a", "b", "c")``, each a finding kind."""
    kinds = tuple(k.strip() for v in value for k in v.split(",") if k.strip())
    if not kinds:
        return kinds
    from graphscope.model import FINDING_KINDS  # only when the option is used

    unknown = [k for k in kinds if k not in FINDING_KINDS]
    if unknown:
        raise click.BadParameter(
            f"unknown finding kind {', '.join(map(repr, unknown))}{_did_you_mean(unknown[0])}; "
            f"the kinds are {', '.join(FINDING_KINDS)} (graphscope kinds)",
            ctx,
            param,
        )
    return kinds


def _did_you_mean(word: str) -> str:
    """`` (did you mean 'grad-accumulation'?)``, or nothing when no kind is close."""
    from graphscope.model.explain import close_kinds

    close = close_kinds(word)
    return f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""


_run_options = _options_of(
    [
        click.argument("argv", nargs=-1, type=click.UNPROCESSED, metavar="SCRIPT [ARGS]..."),
        click.option(
            "-m",
            "--module",
            metavar="MODULE",
            default=None,
            help="Run a module as `python -m MODULE ARGS` would, instead of a SCRIPT file.",
        ),
        click.option(
            "--select",
            multiple=True,
            metavar="KIND",
            callback=_kinds,
            help="Report only these finding kinds (repeatable or comma-separated).",
        ),
        click.option(
            "--ignore",
            multiple=True,
            metavar="KIND",
            callback=_kinds,
            help="Do not report these finding kinds (repeatable or comma-separated); "
            "# graphscope: ignore[KIND] on a line drops one finding.",
        ),
        click.option(
            "--fail-on",
            default="warning",
            show_default=True,
            type=click.Choice(FAIL_ON),
            help="The least severe finding that makes the exit status 1 (never: findings never do).",
        ),
        click.option(
            "--pdb",
            "debug",
            is_flag=True,
            help="Open pdb in the script's own frame, with its variables live, at the in-place "
            "write that makes a tensor saved for backward stale (its finding printed first; c "
            "runs on, q stops the script), else at the line that raised (as pytest --pdb).",
        ),
        click.option(
            "-q", "--quiet", is_flag=True, help="Print only findings and how the script ended."
        ),
        click.option(
            "-v",
            "--verbose",
            is_flag=True,
            help="Also list every backward call, the findings # graphscope: ignore comments "
            "suppressed, and the settings used.",
        ),
    ]
)


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
    cls=_Main,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=_EPILOG,
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


@main.command(context_settings=_SCRIPT_CONTEXT, epilog=_EPILOG)
@_run_options
@_render_options
@click.option(
    "--max-graphs",
    default=20,
    show_default=True,
    type=click.IntRange(min=1),
    help="Keep at most this many distinct graphs.",
)
def render(**params: Any) -> None:
    """Run SCRIPT [ARGS...] (or -m MODULE [ARGS...]) and draw the autograd graph at each
    backward call, into OUT with report.json.

    Under torchrun each rank writes into OUT/rank<N>/ and rank 0 prints the merged summary."""
    run = _Run(click.get_current_context(), params)  # usage errors first, before any import
    from graphscope.distributed import detect, render_ranked
    from graphscope.runner import render_script

    p = run.params
    kwargs: dict[str, Any] = dict(
        out=p["out"],
        options=_options(p),
        module=run.module,
        policy=run.policy(),
        max_graphs=p["max_graphs"],
        progress=run.progress,
        show=_show,
        debug=bool(p["debug"]),
    )
    rank = detect()
    if rank is not None:
        sys.exit(render_ranked(run.target, run.args, rank, echo=click.echo, **kwargs))
    report = render_script(run.target, run.args, **kwargs)
    run.finish(report.summary(verbose=run.verbose), report)


@main.command(context_settings=_SCRIPT_CONTEXT, epilog=_EPILOG)
@_run_options
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the JSON report on stdout (the script's own output goes to stderr); the same "
    "as --output-format json.",
)
@click.option(
    "--output-format",
    type=click.Choice(OUTPUT_FORMATS),
    default="text",
    show_default=True,
    help="text; json (the report of --json); github (::warning file=...,line=...:: lines, "
    "for annotations on a pull request); sarif (SARIF 2.1.0, for code scanning). With all but "
    "text, the script's own output goes to stderr.",
)
def check(**params: Any) -> None:
    """Run SCRIPT [ARGS...] (or -m MODULE [ARGS...]) and report autograd pitfalls."""
    run = _Run(click.get_current_context(), params)  # usage errors first, before any import
    from graphscope.runner import check_script

    kwargs = dict(
        module=run.module,
        policy=run.policy(),
        progress=run.progress,
        show=_show,
        debug=bool(params["debug"]),
    )
    fmt = "json" if params["as_json"] else params["output_format"]
    if fmt != "text":
        with _json_stdout() as out:
            report = check_script(run.target, run.args, **kwargs)  # type: ignore[arg-type]
            if fmt == "json":
                text = report.to_json()
            else:
                from graphscope import ci

                text = ci.github_text(report) if fmt == "github" else ci.sarif_text(report)
            if text:
                out.write(text + "\n")
                out.flush()
        sys.exit(report.status)
    report = check_script(run.target, run.args, **kwargs)  # type: ignore[arg-type]
    run.finish(report.text(verbose=run.verbose), report)


@contextlib.contextmanager
def _json_stdout() -> Iterator[TextIO]:
    """Standard output for the report alone (json, github, sarif): yields a stream to it, while everything else
    written to standard output goes to standard error, for good: ``print``, ``sys.__stdout__``,
    ``os.write(1, ...)``, child processes (even those still running after the script), and
    what the script prints at exit (atexit). When standard output is file descriptor 1, that
    descriptor is pointed at stderr and never put back; the report is written through a
    private copy of it, which no child inherits."""
    stream = sys.stdout
    try:
        real = stream.fileno() == 1
    except (OSError, ValueError, AttributeError):  # a Python-level stream (click's test runner)
        real = False
    if not real:
        with contextlib.redirect_stdout(sys.stderr):
            yield stream
        return
    _flush(sys.stdout, sys.__stdout__, sys.stderr)
    fd = os.dup(1)  # not inheritable (PEP 446): children never see it
    os.dup2(2, 1)
    with open(fd, "w", encoding="utf-8", closefd=True) as out:
        yield out


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


class _Run:
    """What render and check share: the script or module, its arguments, the settings."""

    def __init__(self, ctx: click.Context, params: dict[str, Any]) -> None:
        argv = list(params.pop("argv"))
        self.module: bool = params["module"] is not None
        if self.module:
            self.target, self.args = str(params["module"]), argv
        elif not argv:
            raise UsageError(
                f"give a script to run (graphscope {ctx.info_name} train.py) "
                f"or a module (graphscope {ctx.info_name} -m package.train)"
            )
        else:
            self.target, self.args = argv[0], argv[1:]
        if not self.module and self.target.startswith("-"):
            raise UsageError(
                f"no such option: {self.target} (see graphscope {ctx.info_name} --help; "
                "the script's own options go after the script)"
            )
        from graphscope.preflight import check_target  # no torch: answered at once

        check_target(self.target, self.module)
        self.quiet, self.verbose = bool(params["quiet"]), bool(params["verbose"])
        start = Path.cwd() if self.module else Path(self.target).absolute().parent
        self.settings_file = _apply_settings(ctx, params, start)
        self.params = params
        self.started = time.perf_counter()

    def policy(self) -> Any:
        from graphscope.report import Policy

        p = self.params
        return Policy(select=p["select"], ignore=p["ignore"], fail_on=p["fail_on"])

    def progress(self, message: str) -> None:
        if not self.quiet:
            click.echo(message, err=True)

    def finish(self, text: str, report: Any) -> None:
        """Print the report (``-q``: only its outcome) and exit with its status."""
        if self.quiet:
            lines = [line for line in report.outcome() if line != "findings: none"]
            text = "\n".join(lines)
        elif self.verbose:
            where = self.settings_file or "none (no pyproject.toml with [tool.graphscope])"
            text += f"\nsettings: {where}\ntook {time.perf_counter() - self.started:.1f} s"
        if text:
            echo(text)
        skipped = report.skipped()
        if skipped:  # a signal stopped the drawing
            click.echo(skipped, err=True)
        sys.exit(report.status)


def _apply_settings(ctx: click.Context, params: dict[str, Any], start: Path) -> str | None:
    """Fill ``params`` left at their default from ``[tool.graphscope]``; the file used."""
    from graphscope.config import find_settings

    found = find_settings(start)
    by_name = {p.name: p for p in ctx.command.params}
    for key, value in found.values.items():
        name = _PARAM_OF.get(key, key.replace("-", "_"))
        param = by_name.get(name)
        if param is None or ctx.get_parameter_source(name) is not ParameterSource.DEFAULT:
            continue  # not an option of this command, or given on the command line
        if getattr(param, "multiple", False) and isinstance(value, str):
            value = [value]
        try:
            converted = param.type_cast_value(ctx, value)
            if param.callback is not None:
                converted = param.callback(ctx, param, converted)
        except click.BadParameter as err:
            raise UsageError(f"{found.path}: [tool.graphscope] {key}: {err.message}") from None
        params[name] = converted
    return str(found.path) if found.path else None


def _options(p: dict[str, Any]) -> Options:
    return Options(
        format=p["fmt"],
        engine=p["engine"],
        max_nodes=p["max_nodes"],
        depth=p["depth"],
        expand=tuple(p["expand"]),
        layout_timeout=p["layout_timeout"],
        rankdir=p["rankdir"].upper(),
        show_attrs=p["attrs"],
        show_shapes=p["shapes"],
        show_source=p["source"],
        show_legend=p["legend"],
    )


def _show(text: str) -> None:
    """What Python prints to stderr as the script dies: its traceback, its sys.exit text."""
    click.echo(text, err=True, nl=False)


# -- finding kinds ------------------------------------------------------------------------------


@main.command("kinds")
def kinds() -> None:
    """List the finding kinds: name, severity and what each means."""
    from graphscope.model.explain import kinds_table

    click.echo(kinds_table(), nl=False)


@main.command("explain")
@click.argument("kind", metavar="KIND")
def explain(kind: str) -> None:
    """What a finding kind means, a minimal example, the fix, and what is not a finding."""
    from graphscope.model import FINDING_KINDS
    from graphscope.model.explain import explain_text

    if kind not in FINDING_KINDS:
        raise UsageError(
            f"no finding kind {kind!r}{_did_you_mean(kind)}; graphscope kinds lists them"
        )
    click.echo(explain_text(kind), nl=False)


# -- scenarios ----------------------------------------------------------------------------------


@main.group()
def scenarios() -> None:
    """The bundled scenarios: how autograd works, and every pitfall, runnable."""


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
    click.echo(f"code ({os.path.basename(s.path)}, from line {s.code_start}):\n" + _numbered(s))
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
    from graphscope.docs import plots_skipped, render_scenario

    chosen = [sc.get(n) for n in names] if names else sc.all_scenarios()
    options = Options(format=fmt, engine=engine)
    for s in chosen:
        for p in render_scenario(s, Path(out), options):  # its output is captured there
            click.echo(f"wrote {p}")
        note = plots_skipped(s) if fmt == "svg" else None
        if note:
            click.echo(f"graphscope: skipped the pictures of {s.name}: {note}", err=True)


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
@click.option(
    "--force",
    is_flag=True,
    help="Overwrite files in OUT that graphscope did not write (or that were edited since).",
)
def docs_build(out: str, force: bool) -> None:
    """Regenerate the gallery: index.md, one page and one SVG per scenario, CLI and API pages.

    A file in OUT that graphscope did not write is never overwritten (without --force)."""
    from graphscope.docs import build, plots_skipped
    from graphscope.scenarios import all_scenarios, get

    written = build(Path(out), force=force)
    click.echo(f"graphscope: wrote {len(written)} files into {out}")
    skipped = [s.name for s in all_scenarios() if plots_skipped(s)]
    if skipped:
        click.echo(
            f"graphscope: no training-dynamics pictures for {', '.join(skipped)}: "
            f"{plots_skipped(get(skipped[0]))}",
            err=True,
        )


def _numbered(s: Any) -> str:
    """The scenario's code with the file's line numbers (those the findings name)."""
    lines = s.code.rstrip("\n").splitlines()
    width = len(str(s.code_start + len(lines) - 1))
    return "".join(
        f"    {s.code_start + i:>{width}}  {line}".rstrip() + "\n" for i, line in enumerate(lines)
    )


def _indent(text: str) -> str:
    return "".join("    " + line + "\n" for line in text.rstrip("\n").splitlines())


if __name__ == "__main__":  # pragma: no cover
    main()
