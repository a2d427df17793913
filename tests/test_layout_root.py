"""A named tensor between two ops is drawn in the module box that holds them, so the root and
the ops that lead to it stand together: in a BERT, ``out.logits`` (made by the classifier, read
by the loss's ``view`` in the model's forward) sits inside the model's box, not outside every
box, where it dragged the loss chain to the bottom of the picture around an arc."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from graphscope.model import AutogradGraph
from graphscope.style import module_tree
from tests.graphs import SVG_NS

SCRIPTS = Path(__file__).resolve().parent / "scripts"
ROOT = Path(__file__).resolve().parent.parent


def _graph() -> AutogradGraph:
    g = AutogradGraph()
    g.add_node(
        "w", kind="tensor", label="model.classifier.weight", role="param", module="model.classifier"
    )
    g.add_node("mm", kind="op", label="AddmmBackward0", module="model.classifier")
    g.add_node("logits", kind="tensor", label="out.logits", role="named")
    g.add_node("view", kind="op", label="ViewBackward0", module="model")
    g.add_node("nll", kind="op", label="NllLossBackward0", module="loss_fct")
    g.add_node("loss", kind="tensor", label="out.loss", role="root")
    g.add_node("h", kind="tensor", label="h", role="named")  # read by an op in no module
    g.add_node("sum", kind="op", label="SumBackward0", module=None)
    g.add_edges_from(
        [
            ("w", "mm"),
            ("mm", "logits"),
            ("logits", "view"),
            ("view", "nll"),
            ("nll", "loss"),
            ("mm", "h"),
            ("h", "sum"),
        ]
    )
    return g


def test_a_named_tensor_goes_in_the_box_of_the_ops_around_it() -> None:
    tree = module_tree(_graph())
    assert tree is not None
    assert tree["model"] == ["logits", "view"]  # the innermost box holding the op on each side
    assert tree["model.classifier"] == ["w", "mm"]
    assert tree["loss_fct"] == ["nll"]
    placed = {n for nodes in tree.values() for n in nodes}
    assert "loss" not in placed  # the root stays outside every box
    assert "h" not in placed  # an op around it is in no box


@pytest.mark.slow
def test_the_root_and_the_ops_leading_to_it_stand_together(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "graphscope",
            "render",
            str(SCRIPTS / "explorer_bert_like.py"),
            "--engine",
            "embedded",
            "-o",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "g1: 180 nodes" in proc.stdout
    root = ET.parse(tmp_path / "explorer_bert_like.g1.svg").getroot()
    rows = []
    for g in root.iter(f"{SVG_NS}g"):
        texts = list(g.iter(f"{SVG_NS}text")) if g.get("class") == "node" else []
        if texts:
            x = sum(float(t.get("x", 0)) for t in texts) / len(texts)
            rows.append((min(float(t.get("y", 0)) for t in texts), x, "".join(texts[0].itertext())))
    rows.sort()
    top = [label for _, _, label in rows[:5]]
    assert top == [
        "out.loss",
        "NllLossBackward0",
        "LogSoftmaxBackward0",
        "ViewBackward0",
        "out.logits",
    ]
    xs = [x for _, x, _ in rows[:5]]
    assert max(xs) - min(xs) < 40  # one column, no arc around the picture
