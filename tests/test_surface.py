"""What a user meets around the graph: the JSON report's schema, notebook cell locations, the
formats ``render`` accepts, op output shapes, module classes and parameter counts, and the
gallery's plots on an install without matplotlib."""

from __future__ import annotations

import json
import sys
import types
import xml.etree.ElementTree as ET
from importlib.resources import files
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import graphscope
from graphscope.cli import main
from graphscope.dot import to_dot
from graphscope.errors import UsageError
from graphscope.model import FINDING_KINDS, cell_name, location, validate
from graphscope.options import Options
from graphscope.report import SCHEMA_VERSION, finding_lines
from tests.graphs import SVG_NS

SCRIPTS = Path(__file__).parent / "scripts"


def _schema() -> dict:  # type: ignore[type-arg]
    return json.loads(files("graphscope").joinpath("report.schema.json").read_text())  # type: ignore[no-any-return]


def _validate(report: dict) -> None:  # type: ignore[type-arg]
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is in the dev extra")
    jsonschema.Draft202012Validator.check_schema(_schema())
    jsonschema.Draft202012Validator(_schema()).validate(report)
    assert all(f["kind"] in FINDING_KINDS for f in report["findings"])


# -- the JSON report's schema -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "script",
    [
        "seed_graph.py",
        "exits.py",
        "exit_message.py",
        "raises_in_backward.py",
        "signals/interrupts_itself.py",
        "pitfall_saved_tensor_modified.py",
        "pitfall_graph_freed.py",
    ],
)
def test_every_kind_of_report_matches_the_shipped_schema(script: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["check", "--json", str(SCRIPTS / script)])
    report = json.loads(result.stdout)
    assert report["schema"] == SCHEMA_VERSION == 1
    _validate(report)
    result = CliRunner().invoke(
        main, ["render", str(SCRIPTS / script), "-o", str(tmp_path), "--format", "dot"]
    )
    _validate(json.loads((tmp_path / "report.json").read_text()))


def test_the_schema_rejects_what_the_report_never_holds() -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is in the dev extra")
    result = CliRunner().invoke(main, ["check", "--json", str(SCRIPTS / "exits.py")])
    report = json.loads(result.stdout)
    validator = jsonschema.Draft202012Validator(_schema())
    assert validator.is_valid(report)
    for broken in (
        {**report, "schema": 2},
        {**report, "extra": 1},
        {**report, "error": {**report["error"], "how": "crashed"}},
        {k: v for k, v in report.items() if k != "status"},
    ):
        assert not validator.is_valid(broken)


def test_a_watch_scope_report_matches_the_schema_too() -> None:
    w = torch.tensor([1.0], requires_grad=True)
    with graphscope.watch() as scope:
        (w * 2).sum().backward()
    report = scope.to_dict()
    assert report["exit_code"] is None and report["status"] is None and report["error"] is None
    _validate(report)


# -- notebook cells -----------------------------------------------------------------------------


class _Compiler:
    """As IPython's CachingCompiler: the cell file -> its execution count."""

    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts

    def format_code_name(self, name: str) -> tuple[str, str] | None:
        n = self.counts.get(name)
        return None if n is None else ("Cell", f"In[{n}]")


def _fake_ipython(monkeypatch: pytest.MonkeyPatch, counts: dict[str, int]) -> None:
    shell = types.SimpleNamespace(compile=_Compiler(counts))
    module = types.ModuleType("IPython")
    module.get_ipython = lambda: shell  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", module)


CELL = "/tmp/ipykernel_40213/2846155120.py"  # how ipykernel names a cell's file


def test_a_cell_file_reads_as_its_execution_count(monkeypatch: pytest.MonkeyPatch) -> None:
    assert location(CELL, 5) == "In [?], line 5"  # no IPython running: still not a temp path
    _fake_ipython(monkeypatch, {CELL: 3})
    assert cell_name(CELL) == "In [3]"
    assert location(CELL, 5) == "In [3], line 5"
    assert location(CELL, 5, base_only=True) == "In [3], line 5"
    assert location("/tmp/ipykernel_40213/99.py", 2) == "In [?], line 2"
    assert location("/home/u/train.py", 5, base_only=True) == "train.py:5"
    assert location("<ipython-input-7-1f2e3d4c>", 1) == "In [7], line 1"


def test_a_watched_cell_shows_in_report_and_picture(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_ipython(monkeypatch, {CELL: 3})
    code = compile(
        "w = torch.tensor([1.0], requires_grad=True)\n"
        "for _ in range(2):\n"
        "    y = (w * 3).sum()\n"
        "    y.backward()\n",
        CELL,
        "exec",
    )
    with graphscope.watch() as scope:
        exec(code, {"torch": torch})
    lines = finding_lines(scope.findings)
    assert lines[1].startswith("  info: grad-accumulation at In [3], line 4: ")
    dot = to_dot(scope.graphs()[0], Options())
    assert "In [3], line 3" in dot  # MulBackward0's source line
    assert "ipykernel" not in dot


# -- render's formats ---------------------------------------------------------------------------


def test_render_names_the_formats_for_an_unknown_suffix(tmp_path: Path) -> None:
    w = torch.tensor([1.0], requires_grad=True)
    loss = (w * 2).sum()
    with pytest.raises(UsageError) as err:
        graphscope.render(loss, tmp_path / "x.jpg")
    assert "cannot write .jpg files" in str(err.value)
    assert ".svg, .png, .pdf, .dot, .json, .html" in str(err.value)
    assert list(tmp_path.iterdir()) == []
    assert graphscope.render(loss, tmp_path / "x.gv").name == "x.gv"
    assert graphscope.render(loss, tmp_path / "plain").name == "plain.svg"
    assert graphscope.render(loss, tmp_path / "x.jpg", format="dot").name == "x.jpg.gv"


# -- what peers show: output shapes, module classes, parameter counts ----------------------------


class _Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = torch.nn.Linear(4, 3)
        self.head = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(3, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


def _watched_net() -> graphscope.AutogradGraph:
    torch.manual_seed(0)
    net = _Net()
    with graphscope.watch() as scope:
        net(torch.randn(5, 4)).sum().backward()
    (g,) = scope.graphs()
    validate(g)
    return g


def test_every_op_node_has_its_output_shape() -> None:
    g = _watched_net()
    shapes = sorted((d["label"], d["shape"]) for _, d in g.nodes(data=True) if d["kind"] == "op")
    assert shapes == [
        ("AddmmBackward0", (5, 2)),  # head.1
        ("AddmmBackward0", (5, 3)),  # encoder
        ("ReluBackward0", (5, 3)),
        ("SumBackward0", ()),
        ("TBackward0", (3, 2)),  # the weights' transposes
        ("TBackward0", (4, 3)),
    ]
    # in the data always; on the picture with --shapes / show_shapes
    assert "→ (5, 3)" not in to_dot(g, Options())
    assert "→ (5, 3)" in to_dot(g, Options(show_shapes=True))
    data = g.to_data()
    assert sorted(tuple(n["shape"]) for n in data["nodes"] if n["label"] == "AddmmBackward0") == [
        (5, 2),
        (5, 3),
    ]


def test_module_boxes_show_class_and_parameter_count() -> None:
    g = _watched_net()
    # the modules the graph's ops came from, named from the user's variable (net)
    assert g.graph["modules"] == {
        "net": {"cls": "_Net", "params": 23},
        "net.encoder": {"cls": "Linear", "params": 15},
        "net.head": {"cls": "Sequential", "params": 8},
        "net.head.0": {"cls": "ReLU", "params": 0},
        "net.head.1": {"cls": "Linear", "params": 8},
    }
    dot = to_dot(g, Options())
    assert 'label="net · _Net · 23 params"' in dot
    assert 'label="encoder · Linear · 15 params"' in dot  # inside net's box
    assert 'label="head · Sequential · 8 params"' in dot
    assert 'label="1 · Linear · 8 params"' in dot  # head.1 inside head's box


def test_a_collapsed_group_has_its_class_and_parameter_count() -> None:
    g = _watched_net()
    shown = graphscope.collapse(g, depth=0)
    groups = {
        d["name"]: (d["module_class"], d["param_count"])
        for _, d in shown.nodes(data=True)
        if d["kind"] == "group"
    }
    assert groups == {
        "net.encoder": ("Linear", 3 * 4 + 3),
        "net.head": ("Sequential", 2 * 3 + 2),
    }
    validate(shown)
    dot = to_dot(shown, Options())
    assert "<B>encoder · Linear</B>" in dot and "2 ops · 15 params" in dot  # addmm and a transpose
    assert "<B>head · Sequential</B>" in dot and "3 ops · 8 params" in dot


def test_rankdir_lr_on_the_command_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["render", str(SCRIPTS / "seed_graph.py"), "-o", str(tmp_path), "--rankdir", "LR"]
        + ["--format", "dot"],
    )
    assert result.exit_code == 0, result.output
    assert "rankdir=LR" in (tmp_path / "seed_graph.g1.gv").read_text()


# -- the gallery without matplotlib ----------------------------------------------------------------


def test_scenarios_render_skips_the_plots_with_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import graphscope.scenarios.plots as plots

    monkeypatch.setattr(plots, "available", lambda: False)
    result = CliRunner().invoke(
        main, ["scenarios", "render", "logistic-regression", "-o", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logistic-regression.g1.svg"]
    assert (
        "skipped the pictures of logistic-regression: the training-dynamics pictures need "
        "matplotlib" in result.stderr
    )
    ET.parse(tmp_path / "logistic-regression.g1.svg")  # the graph itself is there and parses
    assert ET.parse(tmp_path / "logistic-regression.g1.svg").getroot().tag == f"{SVG_NS}svg"


def test_a_gallery_page_says_why_its_plots_are_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import graphscope.scenarios.plots as plots
    from graphscope import docs
    from graphscope.scenarios import get

    monkeypatch.setattr(plots, "available", lambda: False)
    s = get("learning-rate")
    scope, stdout = docs.run_scenario(s)
    page = docs._page(s, stdout, scope, [], [])
    assert (
        "## Training dynamics\n\nNot drawn: the training-dynamics pictures need matplotlib" in page
    )
    assert docs.plots_skipped(get("grad-fn")) is None


def test_a_graphs_repr_shows_its_size_roots_and_findings() -> None:
    g = _watched_net()
    assert repr(g) == "<AutogradGraph g1: 11 nodes, 10 edges, roots ['tensor()'], 0 findings>"
    w = torch.tensor([1.0], requires_grad=True)
    with graphscope.watch() as scope:
        for _ in range(2):
            loss = (w * 3).sum()
            loss.backward()
    (found,) = scope.graphs()
    assert repr(found) == "<AutogradGraph g1: 4 nodes, 3 edges, roots ['loss'], 1 finding>"
