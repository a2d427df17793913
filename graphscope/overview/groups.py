"""What a collapsed picture is made of: :class:`Item` (a visible node) and :class:`Group`."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Group", "Item", "MODULE", "FOLD", "CHUNK", "OUTSIDE"]

MODULE = "module"  # one module instance, all its calls that are not folded
FOLD = "fold"  # a repeated unit: identical sibling modules, or the steps of a loop
CHUNK = "chunk"  # consecutive steps with no structure to group by (the last resort)
OUTSIDE = "outside"  # a drill-down's many neighbours from one place, drawn as one node


@dataclass
class Group:
    """A group of the result: what it is called and which nodes it stands for."""

    kind: str
    name: str  # module path, or a description of the repeated unit
    title: str  # the label's text (without ``×N``)
    members: list[int] = field(default_factory=list)  # node positions
    repeat: int = 1
    module: str | None = None  # the module path it collapses (None: a loop or a chunk)
    cluster: str | None = None  # the module box it is drawn in
    unit: list[int] | None = None  # a fold's copy that its drill-down shows
    copies: list[list[int]] | None = None  # a fold's copies: op positions in forward order
    unit_index: int = 0  # which copy ``unit`` is
    gid: str | None = None  # node id; None: numbered at build time (loop0, part0)
    state: dict[int, list[str]] = field(default_factory=dict)  # unit op -> loop variables


@dataclass
class Item:
    """A visible node of the result: one original node, or a group of several."""

    members: list[int]
    group: Group | None = None

    @property
    def first(self) -> int:
        return min(self.members)
