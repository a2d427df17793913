"""style: exact graphviz attributes for each kind of node and edge (a change of picture is a
visible diff here, not only in the gallery)."""

from __future__ import annotations

from graphscope.model import Finding
from graphscope.options import Options
from graphscope.style import edge_style, legend_keys, node_style

SMALL = '<FONT POINT-SIZE="9">'
RED = "#d32f2f"


def test_a_leaf_with_its_gradient() -> None:
    leaf = {
        "kind": "tensor",
        "label": "w",
        "name": "w",
        "role": "leaf",
        "shape": (1,),
        "dtype": "float32",
        "device": "cpu",
        "requires_grad": True,
        "is_leaf": True,
        "retains_grad": False,
        "grad": {"shape": [1], "numel": 1, "first": [5.0], "norm": 5.0},
        "grad_history": (),
    }
    assert node_style(leaf, Options()) == {
        "shape": "box",
        "style": "rounded,filled",
        "fillcolor": "#d9f2d0",
        "color": "#2f855a",
        "label": (
            f"<<B>w</B><BR/>{SMALL}(1,) float32</FONT><BR/>"
            f"{SMALL}is_leaf=True requires_grad=True</FONT><BR/>"
            f"{SMALL}retains_grad=False</FONT><BR/>{SMALL}<B>grad=[5]</B></FONT>>"
        ),
        "tooltip": "name=w, role=leaf, shape=(1,), dtype=float32, device=cpu, g…",
    }


def test_an_op_with_a_stale_saved_tensor_and_an_error_finding() -> None:
    op = {
        "kind": "op",
        "label": "MulBackward0",
        "name": "MulBackward0",
        "op": "mul",
        "module": "lin",
        "file": "/somewhere/train.py",
        "line": 9,
        "attrs": {},
        "saved": [
            {
                "name": "self",
                "status": "stale",
                "shape": (1,),
                "dtype": "float32",
                "version_saved": 0,
                "version_now": 1,
                "tensor": None,
                "tensor_name": "a",
                "writes": [0],
            }
        ],
        "freed": False,
        "custom": False,
        "opaque": False,
    }
    f = Finding("saved-tensor-modified", "error", "m", "h", node="n1", badge="saved v0, now v1")
    assert node_style(op, Options(), [f]) == {
        "shape": "box",
        "style": "filled",
        "fillcolor": "#eef0f3",
        "color": RED,  # the error's colour wins over the stale outline (same red)
        "penwidth": "3",
        "label": (
            f"<<B>MulBackward0</B><BR/>{SMALL}train.py:9 · lin</FONT><BR/>"
            f'<FONT COLOR="{RED}" POINT-SIZE="9"><B>saved a: v0, now v1 (stale)</B></FONT><BR/>'
            f'<FONT COLOR="{RED}" POINT-SIZE="9"><B>(!) saved v0, now v1</B></FONT>>'
        ),
        "tooltip": "name=MulBackward0, op=mul, module=lin",
    }


def test_a_fold_links_to_its_drilldown() -> None:
    group = {
        "kind": "group",
        "label": "layers.0–5 ×6",
        "name": "layers.0–5",
        "repeat": 6,
        "ops": 60,
        "params": [("layers.0.weight", (4, 4))],
        "members": ["n1"],
        "unit": ["n1"],
        "module": "layers.0",
        "link": "x.layers.svg",
        "finding_kinds": [],
    }
    assert node_style(group, Options()) == {
        "shape": "box3d",
        "style": "filled",
        "fillcolor": "#fff4cc",
        "color": "#b7791f",
        "label": (
            f"<<B>layers.0–5 ×6</B><BR/>{SMALL}60 ops, 10 per copy</FONT><BR/>"
            f"{SMALL}layers.0.weight (4, 4)</FONT>>"
        ),
        "tooltip": "layers.0–5 ×6: 60 ops collapsed",
        "URL": "x.layers.svg",
        "target": "_self",
    }


def test_edges_plain_twice_fed_and_stale() -> None:
    plain = {"slot": 0, "slots": (0,), "output_nr": 0, "shape": (2, 3), "dtype": "float32"}
    assert edge_style(plain) == {
        "color": "#4a5568",
        "arrowsize": "0.7",
        "tooltip": "(2, 3) float32",
    }
    twice = dict(plain, slots=(0, 1))
    assert edge_style(twice, stale=True) == {
        "color": RED,
        "arrowsize": "0.7",
        "tooltip": "(2, 3) float32",
        "label": "×2",
        "penwidth": "2",
    }


def test_legend_keys_follow_what_the_graph_holds() -> None:
    nodes = [
        {"kind": "tensor", "role": "param", "reached": False},
        {"kind": "op", "saved": [{"status": "stale"}], "freed": True},
        {"kind": "group"},
    ]
    assert legend_keys(nodes) == {"param", "unreached", "op", "stale", "freed", "group"}
