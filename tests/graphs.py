"""Helpers shared by the tests: the seed notes' small graphs and an SVG reader."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import torch

SVG_NS = "{http://www.w3.org/2000/svg}"


def seed_tensors() -> dict[str, torch.Tensor]:
    """The seed notes' shared setup: y = (w + x)(w + 1) with w = 1, x = 2."""
    w = torch.tensor([1.0], requires_grad=True)
    x = torch.tensor([2.0], requires_grad=True)
    a = torch.add(w, x)
    b = torch.add(w, 1)
    y = torch.mul(a, b)
    return {"w": w, "x": x, "a": a, "b": b, "y": y}


def svg_nodes(path: str | Path) -> dict[str, list[str]]:
    """``{node id: [text lines]}`` of the graph nodes of an SVG written by Graphviz (legend
    samples excluded)."""
    root = ET.parse(path).getroot()
    out: dict[str, list[str]] = {}
    for g in root.iter(f"{SVG_NS}g"):
        if g.get("class") != "node":
            continue
        title = g.find(f"{SVG_NS}title")
        assert title is not None and title.text
        if title.text.startswith("legend_"):
            continue
        out[title.text] = ["".join(t.itertext()) for t in g.iter(f"{SVG_NS}text")]
    return out


def svg_edges(path: str | Path) -> set[tuple[str, str]]:
    """Edges of an SVG written by Graphviz, as (tail id, head id); legend edges excluded."""
    root = ET.parse(path).getroot()
    out = set()
    for g in root.iter(f"{SVG_NS}g"):
        if g.get("class") != "edge":
            continue
        title = g.find(f"{SVG_NS}title")
        assert title is not None and title.text
        tail, head = title.text.replace("&#45;", "-").split("->")
        if tail.startswith("legend_"):
            continue
        out.add((tail, head))
    return out


def labels(graph) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {n: d["label"] for n, d in graph.nodes(data=True)}


def edge_labels(graph) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    lab = labels(graph)
    return {(lab[u], lab[v]) for u, v in graph.edges}
