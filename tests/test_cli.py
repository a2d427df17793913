"""The command line, run with click's CliRunner against real scripts under tests/scripts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from graphscope.cli import main
from tests.graphs import svg_nodes

SCRIPTS = Path(__file__).parent / "scripts"
ROOT = Path(__file__).parent.parent


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _titles(svg: str | Path) -> dict[str, list[str]]:
    return {lines[0]: lines for lines in svg_nodes(svg).values()}


def test_render_writes_the_graph_and_the_report(tmp_path: Path) -> None:
    code, out, _ = _run(
        "render", str(SCRIPTS / "seed_graph.py"), "-o", str(tmp_path), "--engine", "embedded"
    )
    assert code == 0, out
    assert "w.grad: tensor([5.]) x.grad: tensor([2.])" in out  # the script ran as itself
    assert "1 backward call, 1 distinct graph, layout by embedded" in out
    svg = tmp_path / "seed_graph.g1.svg"
    titles = _titles(svg)
    assert set(titles) == {"y", "MulBackward0", "AddBackward0", "a", "b", "w", "x"}
    assert "grad=[5]" in titles["w"] and "grad=[2]" in titles["x"]  # read after backward
    assert any("seed_graph.py:7" in t for t in titles["MulBackward0"])  # source line of torch.mul
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["backward_calls"] == 1 and report["error"] is None
    assert report["graphs"] == [
        {"id": "g1", "calls": [1], "nodes": 8, "edges": 8, "file": str(svg)}
    ]
    assert report["findings"] == []
    assert report["script"].endswith("seed_graph.py")


def test_a_loop_repeating_one_graph_is_drawn_once(tmp_path: Path) -> None:
    code, out, _ = _run(
        "render", str(SCRIPTS / "loop_zero_grad.py"), "-o", str(tmp_path), "--format", "dot"
    )
    assert code == 0, out
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["backward_calls"] == 4
    assert [g["calls"] for g in report["graphs"]] == [[1, 2, 3, 4]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loop_zero_grad.g1.gv", "report.json"]
    dot = (tmp_path / "loop_zero_grad.g1.gv").read_text()
    assert "weight" in dot and "bias" in dot and "AddmmBackward0" in dot


def test_a_script_that_raises_still_gets_its_graph_and_exit_1(tmp_path: Path) -> None:
    code, out, _ = _run(
        "render", str(SCRIPTS / "raises.py"), "-o", str(tmp_path), "--engine", "embedded"
    )
    assert code == 1
    assert (tmp_path / "raises.g1.svg").exists()
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["error"]["type"] == "ValueError"
    assert report["error"]["message"] == "boom from the user's script"
    assert report["error"]["line"] == 6 and report["error"]["file"].endswith("raises.py")
    assert "the script raised ValueError: boom from the user's script" in out


def test_script_arguments_and_sys_exit(tmp_path: Path) -> None:
    code, out, _ = _run(
        "render",
        str(SCRIPTS / "exits.py"),
        "--epochs",
        "3",
        "-o",
        str(tmp_path),
        "--format",
        "json",
        "--",
        "-o",
        "x",
    )
    assert "argv: ['--epochs', '3', '-o', 'x']" in out
    assert code == 3  # the script's own sys.exit(3), as under python (nothing else went wrong)
    data = json.loads((tmp_path / "exits.g1.json").read_text())
    assert {n["label"] for n in data["nodes"]} >= {"w", "MulBackward0", "SumBackward0"}


def test_usage_errors_exit_2_with_one_line(tmp_path: Path) -> None:
    code, out, err = _run("render", str(tmp_path / "missing.py"), "-o", str(tmp_path))
    assert code == 2
    assert err.strip().splitlines() == [f"Error: no such script: {tmp_path / 'missing.py'}"]
    code, _, err = _run("render", str(SCRIPTS / "seed_graph.py"), "--format", "bmp")
    assert code == 2 and "bmp" in err
    code, _, err = _run("check", str(tmp_path))
    assert code == 2 and "is a directory" in err


def test_check_json_prints_only_the_report_on_stdout(tmp_path: Path) -> None:
    code, out, err = _run("check", str(SCRIPTS / "seed_graph.py"), "--json")
    assert code == 0
    report = json.loads(out)  # nothing else on stdout
    assert report["backward_calls"] == 1 and report["findings"] == []
    assert "w.grad: tensor([5.])" in err  # the script's own output went to stderr


def test_make_demo_renders_the_logistic_regression_model(tmp_path: Path) -> None:
    code, out, _ = _run(
        "render",
        str(ROOT / "examples" / "logistic_regression.py"),
        "-o",
        str(tmp_path),
        "--engine",
        "embedded",
    )
    assert code == 0, out
    assert "stopped at iteration 380: accuracy 99.50%" in out
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["backward_calls"] == 381 and len(report["graphs"]) == 1
    titles = _titles(tmp_path / "logistic_regression.g1.svg")
    assert {
        "features.weight",
        "features.bias",
        "AddmmBackward0",
        "SigmoidBackward0",
        "BinaryCrossEntropyBackward0",
        "loss",
    } <= set(titles)
    # the module's nodes drawn inside one box labelled with its name (under the model's
    # variable, lr_net) and class; the ops inside it need not repeat the module
    import xml.etree.ElementTree as ET

    from tests.graphs import SVG_NS

    root = ET.parse(tmp_path / "logistic_regression.g1.svg").getroot()
    boxes = {}
    for g in root.iter(f"{SVG_NS}g"):
        if g.get("class") == "cluster":
            label = [t.text for t in g.iter(f"{SVG_NS}text")]
            boxes[g.find(f"{SVG_NS}title").text] = label  # type: ignore[union-attr]
    assert boxes["cluster_lr_net"] == ["lr_net · LR · 3 params"]
    assert boxes["cluster_lr_net.features"] == ["features · Linear · 3 params"]
    assert boxes["cluster_lr_net.sigmoid"] == ["sigmoid · Sigmoid"]
    assert boxes["cluster_loss_fn"] == ["loss_fn · BCELoss"]
    assert titles["AddmmBackward0"][1] == "logistic_regression.py:36"  # x = self.features(x)


@pytest.mark.parametrize(
    "args", [["--version"], ["--help"], ["render", "--help"], ["scenarios", "--help"]]
)
def test_help_and_version(args: list[str]) -> None:
    code, out, _ = _run(*args)
    assert code == 0 and out
