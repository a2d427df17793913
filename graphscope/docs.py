"""The documentation gallery: every bundled scenario run under ``watch``, drawn and explained.

``graphscope docs build -o docs/`` calls :func:`build`, which writes::

    docs/index.md                 the gallery: one table row per scenario, with a thumbnail
    docs/scenarios/<name>.md      title, explanation, code, printed output, graphs, findings, plots
    docs/img/<name>.<gid>.svg     each distinct graph of the scenario (``g1``, ``g2``, ...)
    docs/img/<name>.<plot>.svg    training-dynamics pictures (logistic-regression, learning-rate)
    docs/cli.md                   the ``--help`` text of every command
    docs/api.md                   the docstrings of the public API
    docs/kinds.md                 every finding kind explained (graphscope/model/kinds/*.md)
    docs/.graphscope-docs.json    the files above with their hashes (what a build may replace)

The gallery is reproducible byte for byte: graphs are laid out by the embedded engine (the same
bytes on every machine), torch runs on one thread, and nothing written holds an absolute path,
a timestamp or a temporary directory (findings name their file by its basename).

A build never overwrites or removes a file it did not write: ``.graphscope-docs.json`` in the
output directory lists what the last build wrote, with hashes; a file there that is not ours
(a project's own ``docs/index.md``), or ours but edited since, stops the build before anything
is written, unless ``force``. Files of ours that a build no longer writes (a renamed scenario's
page and pictures) are removed if unedited; nothing else in the output directory is touched
(``docs/errors.md``, written by the tests, stays).

The scenarios' own stdout is captured (it goes on their pages), so a build prints nothing of
theirs. This module imports no torch itself: :mod:`graphscope.script` runs the scenarios.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import io
import json
import os
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

from graphscope.errors import GraphscopeError, UsageError
from graphscope.model import (
    AutogradGraph,
    Finding,
    location,
    plural,
    short_path,
    sorted_findings,
)
from graphscope.model.explain import kinds_page
from graphscope.options import Options
from graphscope.report import graph_caption
from graphscope.scenarios import Scenario, all_scenarios, single_threaded, trace_drawn
from graphscope.watcher import Scope

__all__ = [
    "build",
    "plots_skipped",
    "render_scenario",
    "run_scenario",
    "scenario_graphs",
    "toolchain",
]

GALLERY_OPTIONS = Options(format="svg", engine="embedded")
IMG = "img"
PAGES = "scenarios"
HELP_WIDTH = 100  # columns of the --help text on cli.md (fixed: the terminal's would vary)


# -- running and drawing one scenario -------------------------------------------------------------


def run_scenario(s: Scenario) -> tuple[Scope, str]:
    """Run scenario ``s`` under ``watch`` as ``python FILE`` would; ``(scope, its stdout)``.

    The scenario's stdout is captured and returned; its stderr (warnings torch prints) is
    dropped. The script's own exception, if it raised one, is in ``scope.events.error``.
    """
    from graphscope.script import run_script

    out, err = io.StringIO(), io.StringIO()
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        run = run_script(s.path)
    return run.scope, out.getvalue()


def scenario_graphs(s: Scenario, scope: Scope) -> list[AutogradGraph]:
    """What the gallery draws for ``s``: the graphs ``watch`` captured (findings attached) or,
    for a script that makes no backward call, the graph of its ``draw`` variable."""
    graphs = scope.graphs()
    if not graphs and s.draw is not None:
        drawn = trace_drawn(s)
        graphs = [drawn] if drawn is not None else []
    return graphs


def _graph_files(
    s: Scenario, graphs: Sequence[AutogradGraph], out_dir: Path, options: Options
) -> list[tuple[AutogradGraph, list[Path]]]:
    """Draw each distinct graph into ``out_dir / f"{s.name}.{gid}.{ext}"`` (+ drill-downs)."""
    from graphscope.draw import render_graph
    from graphscope.layout import find_engine

    ext = "gv" if options.format == "dot" else options.format
    engine = (
        find_engine(options.engine) if graphs and options.format not in ("dot", "json") else None
    )
    drawn = []
    for g in graphs:
        gid = str(g.graph.get("id"))
        res = render_graph(g, out_dir / f"{s.name}.{gid}.{ext}", options, engine=engine)
        drawn.append((g, [res.path, *res.extra]))
    return drawn


def _plots(s: Scenario, out_dir: Path) -> list[Path]:
    """The training-dynamics pictures of ``s`` (none without matplotlib: see plots_skipped)."""
    from graphscope.scenarios.plots import figures

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        return figures(s.name, out_dir, skip_missing=True)


def plots_skipped(s: Scenario) -> str | None:
    """The note to show when ``s`` has training-dynamics pictures that cannot be drawn here."""
    from graphscope.scenarios.plots import FIGURE_SCENARIOS, MISSING, available

    return MISSING if s.name in FIGURE_SCENARIOS and not available() else None


def render_scenario(s: Scenario, out_dir: Path, options: Options) -> list[Path]:
    """Run ``s`` and draw each of its distinct graphs into ``out_dir`` in ``options.format``
    (``<name>.<gid>.<ext>``), plus its training-dynamics pictures when the format is svg.
    Returns the paths written."""
    scope, _ = run_scenario(s)
    drawn = _graph_files(s, scenario_graphs(s, scope), Path(out_dir), options)
    paths = [p for _, files in drawn for p in files]
    if options.format == "svg":
        paths += _plots(s, Path(out_dir))
    return paths


#: the packages whose version decides the gallery's bytes: torch (the numbers), graphviz-pure
#: (the layout of the graphs) and matplotlib (the plots)
TOOLCHAIN = ("torch", "graphviz-pure", "matplotlib")


def toolchain() -> dict[str, str]:
    """``{package: version}`` of :data:`TOOLCHAIN` here (a local suffix like ``+cpu`` dropped)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in TOOLCHAIN:
        try:
            out[name] = version(name).split("+", 1)[0]
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


# -- the gallery ------------------------------------------------------------------------------------


def build(out_dir: Path, *, force: bool = False) -> list[Path]:
    """Regenerate the gallery in ``out_dir`` (see the module docstring); the files written.

    Never overwrites a file graphscope did not write: the gallery is made in a temporary
    folder first, then each file goes into ``out_dir`` only when nothing is there, the same
    bytes are there, or the file is one the last build wrote (listed with its hash in
    ``MANIFEST``) and nobody edited since. Anything else stops the build before a single file
    is written (a :class:`~graphscope.errors.UsageError` naming the files), unless ``force``.
    Files the last build wrote and this one does not are removed, if unedited."""
    out_dir = Path(out_dir)
    with tempfile.TemporaryDirectory(prefix="graphscope-docs-") as tmp:
        made = _generate(Path(tmp))
        files = {p.relative_to(tmp).as_posix(): p.read_bytes() for p in made}
    return _install(out_dir, files, force)


def _generate(out_dir: Path) -> list[Path]:
    """Write the gallery into ``out_dir`` (an empty folder of ours); the files written."""
    img, pages = out_dir / IMG, out_dir / PAGES
    written: list[Path] = []
    rows: list[_Row] = []
    with single_threaded():
        for s in all_scenarios():
            scope, stdout = run_scenario(s)
            if scope.events.error is not None:
                e = scope.events.error
                raise GraphscopeError(
                    f"scenario {s.name} raised {e.type}: {e.message} (at "
                    f"{location(e.file, e.line, base_only=True)}) when run under watch; "
                    "the gallery would show a broken run. Run `graphscope check "
                    f"{os.path.relpath(s.path)}` to see it"
                )
            drawn = _graph_files(s, scenario_graphs(s, scope), img, GALLERY_OPTIONS)
            plots = _plots(s, img)
            page = pages / f"{s.name}.md"
            _write(page, _page(s, stdout, scope, drawn, plots))
            written += [p for _, files in drawn for p in files] + plots + [page]
            rows.append(_Row(s, scope.findings, [files[0] for _, files in drawn] + plots))
    _write(out_dir / "index.md", _index(rows))
    _write(out_dir / "cli.md", _cli_page())
    _write(out_dir / "api.md", _api_page())
    _write(out_dir / "kinds.md", kinds_page())
    written += [out_dir / p for p in ("index.md", "cli.md", "api.md", "kinds.md")]
    return written


# -- never overwriting what is not ours ------------------------------------------------------------

#: the list of files a build wrote, with the SHA-256 of each, in the output folder
MANIFEST = ".graphscope-docs.json"


def _install(out_dir: Path, files: dict[str, bytes], force: bool) -> list[Path]:
    """Put ``files`` (relative path -> bytes) into ``out_dir`` as :func:`build` says."""
    before = _read_manifest(out_dir)
    refused = sorted(r for r, data in files.items() if not _ours(out_dir / r, data, before.get(r)))
    if refused and not force:
        shown = ", ".join(refused[:6]) + (
            f" and {len(refused) - 6} more" if len(refused) > 6 else ""
        )
        raise UsageError(
            f"docs build: not overwriting {plural(len(refused), 'file')} in {out_dir} that "
            f"graphscope did not write (or that were edited since): {shown}. Build into "
            "another folder (-o DIR), or pass --force to overwrite them"
        )
    for rel, data in files.items():
        target = out_dir / rel
        if not (target.is_file() and target.read_bytes() == data):
            _write_bytes(target, data)
    for rel, digest in before.items():  # ours last time, not written now: gone, if unedited
        old = out_dir / rel
        if rel not in files and old.is_file() and _digest(old.read_bytes()) == digest:
            old.unlink()
    manifest = {
        "written by": "graphscope docs build; the files it may overwrite or remove",
        "files": {r: _digest(files[r]) for r in sorted(files)},
    }
    _write(out_dir / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    return [out_dir / r for r in files] + [out_dir / MANIFEST]


def _ours(path: Path, data: bytes, digest: str | None) -> bool:
    """May ``path`` get ``data``? Nothing there, the same bytes, or our unedited file."""
    if not path.exists() and not path.is_symlink():
        return True
    if not path.is_file():
        return False
    now = path.read_bytes()
    return now == data or (digest is not None and _digest(now) == digest)


def _read_manifest(out_dir: Path) -> dict[str, str]:
    try:
        data = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
        files = data["files"]
        return {str(k): str(v) for k, v in files.items() if ".." not in Path(str(k)).parts}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_bytes(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as err:
        raise GraphscopeError(f"cannot write {path}: {err.strerror or err}") from err


class _Row:
    def __init__(
        self, scenario: Scenario, findings: Sequence[Finding], pictures: list[Path]
    ) -> None:
        self.scenario = scenario
        self.findings = findings
        self.pictures = pictures


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    except OSError as err:
        raise GraphscopeError(f"cannot write {path}: {err.strerror or err}") from err


def _seed_line(s: Scenario) -> str:
    """What the scenario is, for a reader of the gallery."""
    if s.row is not None:
        return f"how autograd works, example {s.row}"
    return "a pitfall graphscope detects"


def _kinds(findings: Sequence[Finding]) -> str:
    kinds = sorted({f.kind for f in findings})
    return ", ".join(f"`{k}`" for k in kinds) or "none"


def _index(rows: Sequence[_Row]) -> str:
    lines = [
        "# graphscope gallery",
        "",
        "<!-- generated by `graphscope docs build -o docs/`; do not edit by hand -->",
        "",
        "Every bundled scenario: short programs that show how autograd works, then one program for",
        "each pitfall graphscope detects. Each page shows the code, what it prints, the autograd graph",
        "graphscope captured at each backward call, and the findings. Run one yourself with",
        "`graphscope scenarios show NAME` or `graphscope scenarios render NAME`.",
        "",
        "Also: [the command line](cli.md) · [the Python API](api.md)",
        "",
        "| scenario | what it shows | findings | picture |",
        "|---|---|---|---|",
    ]
    for r in rows:
        s = r.scenario
        page = f"{PAGES}/{s.name}.md"
        if r.pictures:
            src = f"{IMG}/{r.pictures[0].name}"
            thumb = f'<a href="{src}"><img src="{src}" width="160" alt="{s.name}"></a>'
        else:
            thumb = ""
        what = "how autograd works" if s.row is not None else "a pitfall"
        lines.append(
            f"| [{_md_cell(s.title)}]({page})<br>`{s.name}` | {what} | {_kinds(r.findings)} | {thumb} |"
        )
    tools = ", ".join(f"{k} {v}" for k, v in toolchain().items())
    lines += ["", f"Generated with {tools} (the embedded layout engine, torch on one thread)."]
    return "\n".join(lines) + "\n"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def _fence(text: str, lang: str = "") -> str:
    ticks = "```"
    while ticks in text:
        ticks += "`"
    body = text if text.endswith("\n") else text + "\n"
    return f"{ticks}{lang}\n{body}{ticks}"


def _where(s: Scenario, f: Finding) -> str:
    if f.line is None:
        return "no line"
    file = short_path(f.file, base_only=True)
    if f.file and os.path.normcase(os.path.abspath(f.file)) == os.path.normcase(s.path):
        return f"line {f.line - s.code_start + 1} (`{file}:{f.line}`)"
    return f"`{file}:{f.line}`"


def _finding_item(s: Scenario, f: Finding) -> str:
    item = f"- **{f.severity}** `{f.kind}` at {_where(s, f)}: {f.message}"
    if f.hint:
        item += f"  \n  fix: {f.hint}"
    return item


def _page(
    s: Scenario,
    stdout: str,
    scope: Scope,
    drawn: Sequence[tuple[AutogradGraph, list[Path]]],
    plots: Sequence[Path],
) -> str:
    calls = len(scope.events.backward)
    out = [
        f"# {s.title}",
        "",
        "<!-- generated by `graphscope docs build -o docs/`; do not edit by hand -->",
        "",
        f"`{s.name}`: {_seed_line(s)}. [Back to the gallery](../index.md)",
        "",
        s.explanation,
        "",
        "## Code",
        "",
        _fence(s.code, "python"),
        "",
        "## What it prints",
        "",
        _fence(stdout) if stdout else "(nothing)",
        "",
        "## The autograd graph",
        "",
    ]
    out += _graph_section(s, calls, drawn)
    out += _findings_section(s, scope)
    if plots:
        out += ["## Training dynamics", ""]
        for p in plots:
            out += [f"![{p.stem}](../{IMG}/{p.name})", ""]
    elif plots_skipped(s):
        out += ["## Training dynamics", "", f"Not drawn: {plots_skipped(s)}.", ""]
    out.append(
        f"Run it: `graphscope scenarios show {s.name}`, `graphscope scenarios render {s.name}`."
    )
    return "\n".join(out) + "\n"


def _graph_section(
    s: Scenario, calls: int, drawn: Sequence[tuple[AutogradGraph, list[Path]]]
) -> list[str]:
    if not drawn:
        what = f"none of its {calls} backward calls" if calls else "it makes no backward call that"
        return [f"No graph: {what} reached the autograd engine.", ""]
    out = [
        f"{plural(calls, 'backward call')}, {plural(len(drawn), 'distinct graph')}; line numbers "
        f"on the ops count from the top of `{short_path(s.path, base_only=True)}` (its code "
        f"starts at line {s.code_start}).",
        "",
    ]
    for g, files in drawn:
        out += [f"![{s.name} {g.graph.get('id')}](../{IMG}/{files[0].name})", "", graph_caption(g)]
        out += [f"  \n[{extra.stem}](../{IMG}/{extra.name})" for extra in files[1:]]
        out.append("")
    return out


def _findings_section(s: Scenario, scope: Scope) -> list[str]:
    out = ["## Findings", ""]
    found = sorted_findings(scope.findings)
    if not found:
        return [*out, "None.", ""]
    out.append(
        "Each finding's line counts from the first line of the code shown above; the file's own"
        " line, which the messages and the picture use, follows in brackets."
    )
    out.append("")
    return [*out, *(_finding_item(s, f) for f in found), ""]


# -- CLI and API pages ----------------------------------------------------------------------------


def cli_help(width: int = HELP_WIDTH) -> list[tuple[str, str]]:
    """``[(command path, --help text)]`` for ``graphscope`` and every subcommand, asked for the
    way a user gets them (``python -m graphscope ... --help`` at a fixed width): nothing in the
    library imports the CLI (DESIGN.md's rooms)."""
    out: list[tuple[str, str]] = []
    todo: list[list[str]] = [[]]
    while todo:
        path = todo.pop(0)
        text = _help_of(path, width)
        out.append((" ".join(["graphscope", *path]), text))
        todo[:0] = [[*path, name] for name in _subcommands(text)]  # depth first, in order
    return out


def _help_of(path: list[str], width: int) -> str:
    env = dict(os.environ, COLUMNS=str(width), OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "graphscope", *path, "--help"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise GraphscopeError(f"could not read the CLI's help: {proc.stderr.strip()[-500:]}")
    return proc.stdout.replace("Usage: python -m graphscope", "Usage: graphscope")


def _subcommands(help_text: str) -> list[str]:
    """The names listed under ``Commands:`` in a ``--help`` text."""
    lines = help_text.splitlines()
    if "Commands:" not in lines:
        return []
    names = []
    for line in lines[lines.index("Commands:") + 1 :]:
        if not line.startswith("  "):
            break
        if not line.startswith("   "):  # a continuation line is indented further
            names.append(line.split()[0])
    return names


def _cli_page() -> str:
    out = [
        "# The command line",
        "",
        "<!-- generated by `graphscope docs build -o docs/`; do not edit by hand -->",
        "",
        "[Back to the gallery](index.md)",
        "",
        "```",
        "graphscope render [options] SCRIPT [ARGS...] [-o OUTDIR] [--format svg|png|pdf|dot|json|html]",
        "graphscope render [options] -m MODULE [ARGS...]",
        "graphscope check  [options] SCRIPT [ARGS...] [--json]",
        "graphscope scenarios list | show NAME | render [NAME...] [-o DIR]",
        "graphscope docs build [-o DIR]",
        "```",
        "",
        "`render` and `check` run SCRIPT as `python SCRIPT ARGS` would (`-m MODULE`: as",
        "`python -m MODULE ARGS`) and capture the autograd graph at each backward call. Exit status:",
        "the larger of graphscope's (1 when a reported finding is at least as severe as `--fail-on`,",
        "else 0) and the script's own (what `python SCRIPT` would exit with: its `sys.exit` code, 1",
        "for `sys.exit('message')` or an uncaught exception, 130 for Ctrl-C); 2 for a usage error.",
        "Settings: `[tool.graphscope]` in the nearest pyproject.toml; options on the command line win.",
        "",
    ]
    for path, text in cli_help():
        out += [f"## `{path}`", "", _fence(text.rstrip("\n")), ""]
    return "\n".join(out)


def _api_objects() -> list[tuple[str, object]]:
    import graphscope
    from graphscope.model import validate
    from graphscope.report import Report
    from graphscope.runner import check_script, render_script

    return [
        ("graphscope", graphscope),
        ("graphscope.trace", graphscope.trace),
        ("graphscope.render", graphscope.render),
        ("graphscope.watch", graphscope.watch),
        ("graphscope.Scope", Scope),
        ("graphscope.collapse", graphscope.collapse),
        ("graphscope.AutogradGraph", AutogradGraph),
        ("graphscope.Options", Options),
        ("graphscope.Finding", Finding),
        ("graphscope.model.validate", validate),
        ("graphscope.runner.check_script", check_script),
        ("graphscope.runner.render_script", render_script),
        ("graphscope.report.Report", Report),
    ]


class _Annotation:
    """An annotation kept as the source's text (``from __future__ import annotations``),
    shown without the quotes ``inspect`` would put around a string."""

    def __init__(self, text: object) -> None:
        self.text = text if isinstance(text, str) else inspect.formatannotation(text)

    def __repr__(self) -> str:
        return str(self.text)


def _signature(obj: object) -> str:
    """``(x: int, *, y: str = 'a') -> bool``; empty for what has no signature."""
    if inspect.ismodule(obj) or not callable(obj):
        return ""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return ""
    empty = inspect.Signature.empty
    params = [
        p if p.annotation is empty else p.replace(annotation=_Annotation(p.annotation))
        for p in sig.parameters.values()
    ]
    ret = sig.return_annotation
    text = str(
        sig.replace(parameters=params, return_annotation=ret if ret is empty else _Annotation(ret))
    )
    return text if " at 0x" not in text else ""


def _members(cls: type) -> list[tuple[str, str]]:
    """Public methods and properties defined on ``cls`` itself, with their docstrings."""
    out = []
    for name, member in sorted(vars(cls).items()):
        if name.startswith("_") or not (inspect.isfunction(member) or isinstance(member, property)):
            continue
        doc = inspect.getdoc(member)
        if doc:
            out.append((name if isinstance(member, property) else name + _signature(member), doc))
    return out


def _api_page() -> str:
    out = [
        "# The Python API",
        "",
        "<!-- generated by `graphscope docs build -o docs/`; do not edit by hand -->",
        "",
        "[Back to the gallery](index.md) · the docstrings of the public API, as `help()` shows them.",
        "",
    ]
    for name, obj in _api_objects():
        kind = (
            "module" if inspect.ismodule(obj) else "class" if inspect.isclass(obj) else "function"
        )
        out += [f"## `{name}{_signature(obj) if kind == 'function' else ''}`", "", f"*{kind}*", ""]
        out += [_fence(inspect.getdoc(obj) or "(no docstring)"), ""]
        if inspect.isclass(obj):
            for member, doc in _members(obj):
                out += [f"### `{name.rsplit('.', 1)[-1]}.{member}`", "", _fence(doc), ""]
    return "\n".join(out)
