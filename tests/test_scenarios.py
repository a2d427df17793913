"""The bundled scenarios run and print what the seed notes print (seeds/README.md).

Each scenario's stdout is compared byte for byte with ``graphscope/scenarios/expected/<name>.txt``;
``GRAPHSCOPE_UPDATE_EXPECTED=1`` rewrites those files from a run instead (review the diff).
Separate tests pin the README's values line by line, so a refreshed golden file cannot quietly
change them.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

from graphscope.checks import CHECKS  # noqa: E402
from graphscope.checks.catalogue import UNEXPLAINED  # noqa: E402
from graphscope.errors import UsageError  # noqa: E402
from graphscope.model import FINDING_KINDS  # noqa: E402
from graphscope.scenarios import Scenario, all_scenarios, get, load, run_plain  # noqa: E402

torch.set_num_threads(1)

SCENARIOS = all_scenarios()
UPDATE = os.environ.get("GRAPHSCOPE_UPDATE_EXPECTED") == "1"


@pytest.fixture(scope="module")
def outputs() -> dict[str, str]:
    """Each scenario's stdout, run once per test session."""
    return {}


def _output(outputs: dict[str, str], name: str) -> str:
    if name not in outputs:
        outputs[name] = run_plain(get(name))
    return outputs[name]


def _lines(outputs: dict[str, str], name: str) -> list[str]:
    return _output(outputs, name).splitlines()


# -- golden output ---------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor that is not a leaf")
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_output_matches_expected(scenario: Scenario, outputs: dict[str, str]) -> None:
    got = _output(outputs, scenario.name)
    if UPDATE:
        scenario.expected_path.parent.mkdir(exist_ok=True)
        scenario.expected_path.write_text(got, encoding="utf-8")
        return
    assert scenario.output is not None, f"missing {scenario.expected_path}"
    assert got == scenario.output


# -- the README's values, line by line ---------------------------------------------------------


@pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor that is not a leaf")
def test_row1_only_leaves_keep_grad(outputs: dict[str, str]) -> None:
    assert _lines(outputs, "computational-graph") == [
        "is_leaf: True True False False False",
        "gradient: tensor([5.]) tensor([2.]) None None None",
    ]


@pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor that is not a leaf")
def test_row2_retain_grad(outputs: dict[str, str]) -> None:
    assert _lines(outputs, "retain-grad") == [
        "gradient: tensor([5.]) tensor([2.]) tensor([2.]) None None"
    ]


def test_row3_grad_fn(outputs: dict[str, str]) -> None:
    assert _lines(outputs, "grad-fn") == [
        "grad_fn of w, x: None None",
        "grad_fn of a, b, y: AddBackward0 AddBackward0 MulBackward0",
    ]


def test_row4_retain_graph(outputs: dict[str, str]) -> None:
    lines = _lines(outputs, "retain-graph")
    assert lines[0] == "w.grad after the first backward: tensor([5.])"
    assert lines[1] == "w.grad after the second backward: tensor([10.])"
    assert lines[3].startswith("RuntimeError: Trying to backward through the graph a second time")


def test_row5_gradient_weights(outputs: dict[str, str]) -> None:
    assert _lines(outputs, "gradient-weights") == [
        "loss: tensor([6., 5.], grad_fn=<CatBackward0>)",
        "w.grad with weights [1, 2]: tensor([9.])",
        "w.grad with weights [1, 1]: tensor([7.])",
    ]


def test_row6_higher_order(outputs: dict[str, str]) -> None:
    assert _lines(outputs, "higher-order-grad") == [
        "grad_1: (tensor([6.], grad_fn=<MulBackward0>),)",
        "grad_2: (tensor([2.], grad_fn=<MulBackward0>),)",
        "grad_3: (tensor([0.]),)",
        "type: tuple",
    ]


def test_row7_partial_derivatives(outputs: dict[str, str]) -> None:
    assert _lines(outputs, "partial-derivatives") == [
        "d y1 / d(x1, x2): tensor(2.) tensor(1.)",
        "d (y1 + y2) / d(x1, x2): tensor(3.) tensor(2.)",
    ]


def test_row8_accumulation_then_zeroed(outputs: dict[str, str]) -> None:
    lines = _lines(outputs, "grad-accumulation")
    assert lines[:4] == [f"w.grad: tensor([{v}.])" for v in (5, 10, 15, 20)]
    assert lines[4:] == ["w.grad after zero_(): tensor([5.])"] * 4


def test_row9_requires_grad(outputs: dict[str, str]) -> None:
    assert _lines(outputs, "requires-grad") == ["requires_grad: True True True"]


def test_row10_inplace(outputs: dict[str, str]) -> None:
    assert _lines(outputs, "inplace") == [
        "a = a + 1 keeps the same tensor: False tensor([2.])",
        "a += 1 keeps the same tensor: True tensor([2.])",
        "RuntimeError: a leaf Variable that requires grad is being used in an in-place operation.",
    ]


def test_row11_and_row12_train_the_same(outputs: dict[str, str]) -> None:
    lr = _lines(outputs, "logistic-regression")
    assert lr[0].startswith("Iteration: 0 ")
    assert all(line.startswith("Iteration: ") for line in lr[:-1])
    assert lr[-1] == "stopped at iteration 380: accuracy 0.9950, loss 0.0493"
    seq = _lines(outputs, "sequential")
    assert seq == ["parameters: ['0.weight', '0.bias']", lr[-1]]


def test_row13_by_hand_learns(outputs: dict[str, str]) -> None:
    lines = _lines(outputs, "logistic-regression-by-hand")
    losses = [float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith("step ")]
    assert len(losses) == 5 and losses == sorted(losses, reverse=True)
    assert lines[-1] == "final train loss: 0.1324, accuracy: 0.98"


def test_row14_numpy_gradient_matches_autograd(outputs: dict[str, str]) -> None:
    lines = _lines(outputs, "logistic-regression-numpy")
    by_hand = next(line for line in lines if line.startswith("dw by hand:")).split(":", 1)[1]
    autograd = next(line for line in lines if line.startswith("dw autograd:")).split(":", 1)[1]
    assert by_hand.split() == autograd.split()
    assert "same gradient: True" in lines


def test_row15_learning_rates(outputs: dict[str, str]) -> None:
    lines = _lines(outputs, "learning-rate")
    assert lines[0] == (
        "eta=0.1: len(theta_history) = 46, theta = 2.499891109642585, loss = -0.99999998814289"
    )
    assert lines[1].startswith("eta=0.01: len(theta_history) = 424,")
    assert lines[2].startswith("eta=0.001: len(theta_history) = 3682,")
    assert lines[3].startswith("eta=0.8: len(theta_history) = 22, theta = 2.500055")
    assert "['left', 'right', 'left', 'right', 'left']" in lines[3]
    assert lines[4].startswith("eta=1.1: OverflowError after ")


def test_pitfall_scenarios_print_torch_errors(outputs: dict[str, str]) -> None:
    assert _lines(outputs, "nonscalar-backward")[0] == (
        "RuntimeError: grad can be implicitly created only for scalar outputs"
    )
    assert _lines(outputs, "no-grad-fn")[1] == (
        "RuntimeError: element 0 of tensors does not require grad and does not have a grad_fn"
    )
    assert _lines(outputs, "saved-tensor-modified")[0].startswith(
        "RuntimeError: one of the variables needed for gradient computation has been modified"
    )
    assert "aux_head.weight has no gradient" in _lines(outputs, "unused-parameter")
    assert "backbone.weight has no gradient" in _lines(outputs, "detached-backbone")
    assert _lines(outputs, "nan-gradient")[1] == "x.grad: tensor([   nan, 0.5000, 0.2500])"


# -- the catalogue -------------------------------------------------------------------------------


def test_catalogue_covers_rows_and_kinds() -> None:
    assert len(SCENARIOS) >= 19
    assert sorted(s.row for s in SCENARIOS if s.row is not None) == list(range(1, 16))
    expected = {kind for s in SCENARIOS for kind, _ in s.kinds}
    # the DDP kinds need a process group (no gallery scenario yet): tests/test_distributed.py
    # and the tests/scripts/pitfall_ddp_*.py scripts cover them
    distributed = {"ddp-unused-param", "ddp-param-ready-twice", "ranks-differ"}
    # the kinds that only explain torch's errors (no check of a graph) have no gallery
    # scenario: tests/fixes/ proves each (docs/errors.md), tests/test_catalogue.py the rest
    errors_only = {UNEXPLAINED} | {k for k, m in CHECKS.items() if not hasattr(m, "check")}
    # torch's warnings explained from the backward calls: tests/fixes/ proves them too
    warnings_only = {"backward-create-graph"}
    assert expected == set(FINDING_KINDS) - distributed - errors_only - warnings_only
    assert len({s.name for s in SCENARIOS}) == len(SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_metadata(scenario: Scenario) -> None:
    path = Path(scenario.path)
    assert path.is_absolute() and path.exists()
    assert path.stem.split("_", 1)[1] == scenario.name.replace("-", "_")
    assert scenario.title and scenario.explanation
    assert scenario.code.startswith(("import ", "def "))
    assert path.read_text(encoding="utf-8").endswith(scenario.code)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert "\n".join(lines[scenario.code_start - 1 :]) + "\n" == scenario.code
    for kind, line in scenario.kinds:
        text = lines[line - 1].strip()
        assert text and not text.startswith("#"), f"{kind}@{line} points at {text!r}"
    assert all(seed in {"000", "001", "002", "003", "004"} for seed in scenario.seeds)


def test_get_unknown_name_lists_the_names() -> None:
    with pytest.raises(UsageError, match="computational-graph"):
        get("no-such-scenario")
    assert get("learning-rate").row == 15


def test_load_rejects_bad_metadata(tmp_path: Path) -> None:
    bad = tmp_path / "s99_bad.py"
    bad.write_text('"""Bad\nname: bad\nkinds: not-a-kind@3\nexplanation: x\n"""\nprint(1)\n')
    with pytest.raises(ValueError, match="unknown finding kind"):
        load(bad)
    bad.write_text('"""Bad\nname: bad\nkinds: leaf-inplace\nexplanation: x\n"""\nprint(1)\n')
    with pytest.raises(ValueError, match="kind@line"):
        load(bad)


# -- plots ---------------------------------------------------------------------------------------


def test_plots_are_parseable_deterministic_svg(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from graphscope.scenarios.plots import figures

    first = figures("learning-rate", tmp_path / "a")
    first += figures("logistic-regression", tmp_path / "a")
    assert [p.name for p in first] == [
        "learning-rate.trajectories.svg",
        "logistic-regression.boundary.svg",
        "logistic-regression.curves.svg",
    ]
    for p in first:
        root = ET.parse(p).getroot()
        assert root.tag.endswith("svg")
    again = figures("learning-rate", tmp_path / "b")
    assert again[0].read_bytes() == first[0].read_bytes()
    assert figures("grad-fn", tmp_path / "c") == []
    with pytest.raises(UsageError):
        figures("no-such-scenario", tmp_path)


def test_gradient_descent_helper_matches_the_notes() -> None:
    from graphscope.scenarios.plots import gradient_descent

    assert [len(gradient_descent(0.0, eta)) for eta in (0.1, 0.01, 0.001)] == [46, 424, 3682]
    assert len(gradient_descent(0.0, 1.1)) == 10_001


# -- findings and pictures under watch --------------------------------------------------------


@pytest.fixture(scope="module")
def watched() -> dict[str, Any]:
    """Each scenario's ``(scope, stdout)`` under ``run_script``, run once per test session."""
    return {}


def _watched(watched: dict[str, Any], scenario: Scenario) -> Any:
    from graphscope.docs import run_scenario

    if scenario.name not in watched:
        watched[scenario.name] = run_scenario(scenario)
    return watched[scenario.name]


def _same_file(a: str | None, b: str) -> bool:
    return a is not None and os.path.normcase(os.path.abspath(a)) == os.path.normcase(b)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_findings_under_watch(scenario: Scenario, watched: dict[str, Any]) -> None:
    scope, stdout = _watched(watched, scenario)
    assert scope.events.error is None, scope.events.error
    assert stdout == scenario.output  # watching does not change what the script prints
    got = {(f.kind, f.line) for f in scope.findings if _same_file(f.file, scenario.path)}
    assert got == set(scenario.kinds), scope.report()
    elsewhere = [f for f in scope.findings if not _same_file(f.file, scenario.path)]
    assert not elsewhere, elsewhere


def test_every_scenario_names_its_nodes() -> None:
    for s in SCENARIOS:
        assert s.nodes or s.name == "learning-rate", f"{s.name}: no nodes: line"
        assert len(set(s.nodes)) == len(s.nodes), s.name


@pytest.mark.parametrize(
    "scenario", [s for s in SCENARIOS if s.nodes], ids=[s.name for s in SCENARIOS if s.nodes]
)
def test_picture_holds_the_nodes_the_explanation_names(
    scenario: Scenario, watched: dict[str, Any], tmp_path: Path
) -> None:
    from graphscope.docs import GALLERY_OPTIONS, scenario_graphs
    from graphscope.draw import render_graph

    from .graphs import svg_nodes

    scope, _ = _watched(watched, scenario)
    graphs = scenario_graphs(scenario, scope)
    assert graphs, f"{scenario.name} has no graph to draw"
    svg = render_graph(graphs[0], tmp_path / f"{scenario.name}.svg", GALLERY_OPTIONS).path
    titles = {lines[0] for lines in svg_nodes(svg).values() if lines}
    missing = [n for n in scenario.nodes if n not in titles]
    assert not missing, f"{scenario.name}: {missing} not among {sorted(titles)}"
    for name in scenario.nodes:
        if re.fullmatch(r"\w+Backward\d+", name):
            continue  # an op: the explanation describes it in words (sigmoid, the product)
        word = re.compile(rf"(?<![\w.]){re.escape(name)}(?!\w)")  # a tensor: the learner's name
        assert word.search(scenario.explanation) or word.search(scenario.code), name


def test_draw_traces_a_graph_for_scripts_without_backward() -> None:
    from graphscope.scenarios import trace_drawn

    drawn = [s for s in SCENARIOS if s.draw]
    assert {s.name for s in drawn} == {
        "grad-fn",
        "requires-grad",
        "inplace",
        "step-without-backward",
    }
    graph = trace_drawn(get("grad-fn"))
    assert graph is not None and graph.graph["id"] == "g1"
    assert sorted(d["label"] for _, d in graph.nodes(data=True)) == [
        "AddBackward0",
        "AddBackward0",
        "MulBackward0",
        "a",
        "b",
        "w",
        "x",
        "y",
    ]
    assert trace_drawn(get("retain-grad")) is None
