"""The docs gallery: the committed ``docs/`` is what ``graphscope docs build`` writes, its links
resolve, and the ``scenarios`` commands work.

The staleness test compares every file byte for byte, with no normalisation: the graphs are laid
out by the embedded engine (the same bytes on every machine for one graphviz-pure version), the
plots are written with a fixed hash salt and no date, torch runs on one thread, and no written
file holds an absolute path, a timestamp or a temporary directory. What legitimately changes the
bytes is the toolchain (torch, graphviz-pure, matplotlib versions): ``docs/index.md`` records the
versions it was generated with, and the failure message names any that differ here.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

os.environ.setdefault("OMP_NUM_THREADS", "1")

from graphscope import docs as gdocs  # noqa: E402
from graphscope.cli import main  # noqa: E402
from graphscope.errors import UsageError  # noqa: E402
from graphscope.scenarios import Scenario, all_scenarios  # noqa: E402

from .graphs import svg_nodes  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REBUILD = "run `graphscope docs build -o docs/` (or `make docs`) and commit docs/"
SCENARIOS = all_scenarios()


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("docs")
    return out, gdocs.build(out)


# -- (a) the committed gallery is current --------------------------------------------------------


def _toolchain_note() -> str:
    index = (DOCS / "index.md").read_text(encoding="utf-8") if (DOCS / "index.md").exists() else ""
    m = re.search(r"Generated with (.*) \(", index)
    here = ", ".join(f"{k} {v}" for k, v in gdocs.toolchain().items())
    if m and m.group(1) != here:
        return f" (docs/ was generated with {m.group(1)}; this machine has {here})"
    return ""


@pytest.mark.slow
def test_committed_docs_are_current(built: tuple[Path, list[Path]]) -> None:
    out, written = built
    fresh, committed = _files(out), _files(DOCS)
    committed.pop("errors.md", None)  # written by tests/test_fixes.py from tests/fixes/
    assert sorted(fresh) == sorted(p.relative_to(out).as_posix() for p in written)
    missing = sorted(set(fresh) - set(committed))
    extra = sorted(set(committed) - set(fresh))
    changed = sorted(k for k in set(fresh) & set(committed) if fresh[k] != committed[k])
    assert not (missing or extra or changed), (
        f"docs/ is stale: missing {missing}, no longer written {extra}, changed {changed}; "
        f"{REBUILD}{_toolchain_note()}"
    )


def test_build_writes_no_machine_specific_text(built: tuple[Path, list[Path]]) -> None:
    out, _ = built
    for name, data in _files(out).items():
        text = data.decode("utf-8")
        assert str(out) not in text, name
        assert str(ROOT) not in text, name
        assert not re.search(r"(/tmp/|/home/|[A-Z]:\\\\|\d{4}-\d\d-\d\dT\d\d:\d\d)", text), name


def test_build_overwrites_and_removes_only_its_own_files(
    tmp_path: Path, built: tuple[Path, list[Path]]
) -> None:
    """Issue 23: ``docs build`` overwrote a project's own docs/index.md and docs/api.md."""
    out, _ = built
    files = {rel: data for rel, data in _files(out).items() if rel != gdocs.MANIFEST}
    target = tmp_path / "docs"
    target.mkdir()
    mine = {"index.md": "# my project\n", "api.md": "my api\n", "errors.md": "tests' page\n"}
    for rel, text in mine.items():
        (target / rel).write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=r"not overwriting 2 files .*: api\.md, index\.md\. "):
        gdocs._install(target, files, force=False)
    assert sorted(_files(target)) == sorted(mine)  # nothing written at all
    # a previous build (forced) wrote one file more than this one will
    old = {**files, "img/grad-fn.g9.svg": b"<svg/>"}
    gdocs._install(target, old, force=True)
    assert (target / "index.md").read_bytes() == files["index.md"]
    assert (target / "errors.md").read_text(encoding="utf-8") == mine["errors.md"]
    kept = [target / "README.md", target / "img" / "notes.txt", target / "scenarios" / "mine.md"]
    for p in kept:
        p.write_text("x", encoding="utf-8")
    written = gdocs._install(target, files, force=False)  # all ours now: no --force needed
    assert not (target / "img" / "grad-fn.g9.svg").exists()  # ours, no longer written: gone
    assert all(p.read_text(encoding="utf-8") == "x" for p in kept)
    assert (target / "errors.md").read_text(encoding="utf-8") == mine["errors.md"]
    assert sorted(p.relative_to(target).as_posix() for p in written) == sorted(
        [*files, gdocs.MANIFEST]
    )
    # a file of ours edited by hand since is not overwritten either
    (target / "cli.md").write_text("edited\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"not overwriting 1 file .*: cli\.md\. "):
        gdocs._install(target, files, force=False)
    assert (target / "cli.md").read_text(encoding="utf-8") == "edited\n"


def test_docs_build_in_a_folder_with_docs_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command as a user runs it: refused (exit 2, nothing touched), then --force."""

    def generate(out: Path) -> list[Path]:  # a small gallery: the CLI's handling is the point
        (out / "index.md").write_text("gallery\n", encoding="utf-8")
        (out / "img").mkdir()
        (out / "img" / "a.svg").write_text("<svg/>", encoding="utf-8")
        return [out / "index.md", out / "img" / "a.svg"]

    monkeypatch.setattr(gdocs, "_generate", generate)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# my project\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["docs", "build"])
    assert result.exit_code == 2
    assert "not overwriting 1 file in docs that graphscope did not write" in result.output
    assert "pass --force to overwrite them" in result.output
    assert sorted(_files(tmp_path / "docs")) == ["index.md"]
    assert (tmp_path / "docs" / "index.md").read_text(encoding="utf-8") == "# my project\n"
    result = CliRunner().invoke(main, ["docs", "build", "--force"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "docs" / "index.md").read_text(encoding="utf-8") == "gallery\n"
    assert CliRunner().invoke(main, ["docs", "build"]).exit_code == 0  # ours now


# -- (b) links resolve, every scenario has its page and picture ----------------------------------

_LINK = re.compile(r"\]\(([^)\s]+)\)|(?:src|href)=\"([^\"]+)\"")


def _links(page: Path) -> list[str]:
    return [a or b for a, b in _LINK.findall(page.read_text(encoding="utf-8"))]


def test_every_link_in_the_gallery_resolves() -> None:
    pages = [
        DOCS / "index.md",
        DOCS / "cli.md",
        DOCS / "api.md",
        *sorted((DOCS / "scenarios").glob("*.md")),
    ]
    for page in pages:
        for link in _links(page):
            assert not link.startswith(("http:", "https:", "/")), f"{page.name}: {link}"
            target = (page.parent / link.split("#", 1)[0]).resolve()
            assert target.is_file(), f"{page.relative_to(DOCS)} links to missing {link}"


def test_index_lists_every_scenario_with_page_and_picture() -> None:
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    links = set(_links(DOCS / "index.md"))
    assert {"cli.md", "api.md"} <= links
    for s in SCENARIOS:
        assert f"scenarios/{s.name}.md" in links, s.name
        page = (DOCS / "scenarios" / f"{s.name}.md").read_text(encoding="utf-8")
        assert page.startswith(f"# {s.title}\n")
        assert s.explanation in page
        assert "```python\n" + s.code in page
        assert s.output is not None and "```\n" + s.output in page
        pictures = [
            link for link in _links(DOCS / "scenarios" / f"{s.name}.md") if link.endswith(".svg")
        ]
        assert pictures, f"{s.name} has no picture"
        for link in pictures:
            root = ET.parse(DOCS / "scenarios" / link).getroot()
            assert root.tag.endswith("svg")
        if s.name != "learning-rate":  # plain Python: its picture is the plot
            assert f"img/{s.name}.g1.svg" in index
            assert f"../img/{s.name}.g1.svg" in pictures


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_pages_list_the_expected_findings(scenario: Scenario) -> None:
    page = (DOCS / "scenarios" / f"{scenario.name}.md").read_text(encoding="utf-8")
    findings = page.split("## Findings", 1)[1]
    base = Path(scenario.path).name
    for kind, line in scenario.kinds:
        shown = line - scenario.code_start + 1
        assert f"`{kind}` at line {shown} (`{base}:{line}`)" in findings, (kind, line)
    if not scenario.kinds:
        assert "\nNone.\n" in findings


def test_cli_and_api_pages() -> None:
    cli = (DOCS / "cli.md").read_text(encoding="utf-8")
    for command in (
        "graphscope",
        "graphscope render",
        "graphscope check",
        "graphscope scenarios list",
        "graphscope scenarios show",
        "graphscope scenarios render",
        "graphscope docs build",
    ):
        assert f"## `{command}`" in cli, command
    assert "Usage: graphscope render [OPTIONS] SCRIPT [ARGS]..." in cli
    api = (DOCS / "api.md").read_text(encoding="utf-8")
    for name in (
        "graphscope.trace(",
        "graphscope.render(",
        "graphscope.watch(",
        "graphscope.Scope",
        "graphscope.AutogradGraph",
        "graphscope.Options",
        "graphscope.Finding",
    ):
        assert f"## `{name}" in api, name
    assert "'" + "torch.Tensor'" not in api  # annotations shown as written, not as quoted strings


# -- (c) the scenarios commands ------------------------------------------------------------------


def test_scenarios_list() -> None:
    result = CliRunner().invoke(main, ["scenarios", "list"])
    assert result.exit_code == 0, result.output
    names = [line.split()[0] for line in result.output.splitlines() if line.strip()]
    assert len(names) >= 19
    assert names == [s.name for s in SCENARIOS]


def test_scenarios_show_retain_graph() -> None:
    result = CliRunner().invoke(main, ["scenarios", "show", "retain-graph"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("A second backward needs retain_graph=True  (retain-graph)")
    assert "backward() frees the values the graph saved" in out
    assert "code (s04_retain_graph.py, from line 15):\n    15  import torch\n" in out
    # the lines the findings name are numbered in the listing
    assert "    22  y.backward(retain_graph=True)\n" in out
    assert "    24  y.backward()\n" in out and "    35      y.backward()\n" in out
    assert "    w.grad after the second backward: tensor([10.])\n" in out  # what it prints
    assert "findings: grad-accumulation at line 24, graph-freed at line 35" in out


def test_what_a_newcomer_reads_names_no_private_notes() -> None:
    """The gallery and ``scenarios show`` speak to a reader of this project: no "seed notes",
    no "row" of a table they have never seen, no "the notes' locker analogy"."""
    texts = [(DOCS / "index.md").read_text(encoding="utf-8")]
    texts += [p.read_text(encoding="utf-8") for p in sorted((DOCS / "scenarios").glob("*.md"))]
    for s in SCENARIOS:
        texts.append(CliRunner().invoke(main, ["scenarios", "show", s.name]).output)
    bad = re.compile(
        r"\bseed (notes|documents?|0\d\d)\b|\bthe notes\b|\brow \d|locker|\| row \|", re.I
    )
    found = sorted({m.group(0) for t in texts for m in bad.finditer(t)})
    assert found == []
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    assert "| scenario | what it shows | findings | picture |" in index


def test_scenarios_show_unknown_name_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["scenarios", "show", "no-such-scenario"])
    assert result.exit_code == 2
    assert "computational-graph" in result.output


def test_scenarios_render_writes_a_parseable_svg(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["scenarios", "render", "computational-graph", "-o", str(out), "--engine", "embedded"]
    )
    assert result.exit_code == 0, result.output
    svg = out / "computational-graph.g1.svg"
    assert result.output.strip() == f"wrote {svg}"
    titles = {lines[0] for lines in svg_nodes(svg).values()}
    assert {"w", "x", "a", "b", "y", "MulBackward0", "AddBackward0"} <= titles
