"""Notebooks: ``graphscope.render(loss)`` without a path returns a drawing that shows inline
(the explorer, with its SVG picture as the fallback), as torchviz's ``make_dot(loss)`` does; a
graph and a scope show through IPython's formatters, registered by ``import graphscope``
(graphscope/notebook.py), so the vocabulary imports no drawing room."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

import graphscope
from graphscope.draw import Drawing
from graphscope.notebook import register
from tests.graphs import SVG_NS

PAGE = re.compile(r'<iframe srcdoc="([^"]*)" sandbox="allow-scripts" ')


def _loss() -> tuple[torch.Tensor, torch.Tensor]:
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * 3).sum()
    return w, loss


def _page(frame: str) -> str:
    m = PAGE.match(frame)
    assert m is not None, frame[:200]
    return html.unescape(m.group(1))


def test_render_without_a_path_returns_a_drawing_that_shows_inline(tmp_path: Path) -> None:
    w, loss = _loss()
    drawing = graphscope.render(loss, engine="embedded")
    assert isinstance(drawing, Drawing)
    assert repr(drawing).startswith("<Drawing of loss: ")
    bundle = drawing._repr_mimebundle_()
    assert set(bundle) == {"text/html", "image/svg+xml", "text/plain"}
    page = _page(bundle["text/html"])
    assert '<script type="application/json" id="gs-data">' in page
    assert {"loss", "w", "MulBackward0", "SumBackward0"} <= _texts(bundle["image/svg+xml"])
    assert bundle["image/svg+xml"] == drawing.svg()
    # with a path: the file, as before
    out = graphscope.render(loss, tmp_path / "loss.svg", engine="embedded")
    assert out == tmp_path / "loss.svg" and out.read_text().lstrip().startswith(("<svg", "<?xml"))
    saved = drawing.save(tmp_path / "again.dot")
    assert saved.suffix == ".dot" and "MulBackward0" in saved.read_text()
    assert w.grad is None  # drawing ran no backward


def test_the_drawing_lays_out_once() -> None:
    _, loss = _loss()
    drawing = graphscope.render(loss, engine="embedded")
    first = drawing._drawn()
    drawing._repr_mimebundle_()
    assert drawing._drawn() is first


def test_import_graphscope_registers_the_display_with_ipython() -> None:
    formatters = pytest.importorskip(
        "IPython.core.formatters", reason="IPython is installed with the [dev] extra (ipykernel)"
    )
    shell = SimpleNamespace(display_formatter=formatters.DisplayFormatter())
    assert register(shell) is True
    _, loss = _loss()
    graph = graphscope.trace(loss)
    data, _ = shell.display_formatter.format(graph)
    assert set(data) == {"text/plain", "text/html", "image/svg+xml"}
    assert data["text/plain"] == repr(graph)
    assert '"gs-data"' in _page(data["text/html"])
    with graphscope.watch() as scope:
        w = torch.tensor([1.0], requires_grad=True)
        for _ in range(2):
            (w * 2).sum().backward()
    data, _ = shell.display_formatter.format(scope)
    assert data["text/html"].startswith(f"<pre>{html.escape(scope.report())}</pre>\n<iframe")
    assert "grad-accumulation" in data["text/html"]
    assert register(SimpleNamespace()) is False  # not IPython: nothing to do


def _run_notebook(cells: list[str], tmp_path: Path) -> list[list[dict[str, Any]]]:
    nbformat = pytest.importorskip("nbformat", reason="nbclient is in the [dev] extra")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is in the [dev] extra")
    pytest.importorskip("ipykernel", reason="the notebook's kernel: ipykernel, in [dev]")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=300,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # the kernel inherits this process's environment (OMP_NUM_THREADS)
    return [list(c.get("outputs", [])) for c in nb.cells]


@pytest.mark.slow
def test_a_notebook_shows_render_loss_inline(tmp_path: Path) -> None:
    outputs = _run_notebook(
        [
            "import torch, graphscope\n"
            "w = torch.tensor([1.0, 2.0], requires_grad=True)\n"
            "loss = (w * 3).sum()\n"
            "graphscope.render(loss)",
            "graphscope.trace(loss)",
            "graphscope.render(loss, 'loss.svg')",
        ],
        tmp_path,
    )
    (first,), (second,), (third,) = outputs
    for out in (first, second):
        assert out["output_type"] == "execute_result"
        data = out["data"]
        assert {"text/html", "image/svg+xml", "text/plain"} <= set(data)
        assert '"gs-data"' in _page(data["text/html"])
        assert {"loss", "w", "MulBackward0", "SumBackward0"} <= _texts(data["image/svg+xml"])
    assert first["data"]["text/plain"].startswith("<Drawing of loss: ")
    assert second["data"]["text/plain"].startswith("<AutogradGraph: ")
    assert third["data"]["text/plain"] == repr(Path("loss.svg"))  # a path given: the file
    assert (tmp_path / "loss.svg").exists()


def _texts(svg: str) -> set[str]:
    root = ET.fromstring(svg)
    return {(t.text or "").strip() for t in root.iter(f"{SVG_NS}text")}
