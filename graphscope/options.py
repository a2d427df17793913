"""How to draw a graph: one frozen :class:`Options` value, and the formats and engines there are.

Part of the vocabulary (like :mod:`graphscope.model`) but kept apart from it: the command line
needs these names to build its ``--help``, and this module imports nothing (no networkx, no
torch), so ``graphscope --help`` answers at once.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

ENGINES = ("auto", "dot", "embedded")
FORMATS = ("svg", "png", "pdf", "dot", "json", "html")
RANKDIRS = ("BT", "TB", "LR", "RL")

#: the readable budget: a picture with more drawn nodes than this is collapsed (see overview/),
#: and every drill-down file keeps to it too. 50 was picked on real models: BERT-12 draws an
#: overview of 28 nodes, one layer in 35 (its self-attention a box), the self-attention in 50;
#: nanoGPT 19 / 22 / 44; at 80 a layer's drill-down is a 4000x3600 px picture
DEFAULT_MAX_NODES = 50
#: seconds one picture's layout may take before it is redrawn collapsed one level more
DEFAULT_LAYOUT_TIMEOUT = 5.0


@dataclass(frozen=True)
class Options:
    """How to draw a graph. One frozen value instead of many keyword arguments.

    >>> Options(format="png").format
    'png'
    >>> Options(max_nodes="many")
    Traceback (most recent call last):
    ...
    ValueError: max_nodes must be a positive int (got 'many' that is a str)
    """

    format: str = "svg"
    engine: str = "auto"  # "auto": system dot when on PATH, else the embedded graphviz-pure
    show_saved: bool = True  # saved tensors listed on op nodes
    show_source: bool = True  # file:line and module on op nodes (when known)
    show_attrs: bool = False  # saved scalars (alpha, dim, ...) on op nodes
    show_shapes: bool = False  # the output shape on every op node (always in the data)
    show_legend: bool = True
    show_modules: bool = True  # a box around the nodes of each module (op and parameter nodes)
    rankdir: str = "BT"  # leaves at the bottom, loss on top (as the notes draw it)
    max_nodes: int = DEFAULT_MAX_NODES  # readable budget: above it, collapse/fold
    depth: int | None = None  # module depth to show expanded; None: automatic
    expand: tuple[str, ...] = ()  # module paths to show expanded
    layout_timeout: float = DEFAULT_LAYOUT_TIMEOUT  # seconds per picture, then collapse more

    def __post_init__(self) -> None:
        _choice("format", self.format, FORMATS)
        _choice("engine", self.engine, ENGINES)
        _choice("rankdir", self.rankdir, RANKDIRS)
        _count("max_nodes", self.max_nodes, minimum=1)
        if self.depth is not None:
            _count("depth", self.depth, minimum=0)
        if isinstance(self.expand, str) or not all(isinstance(e, str) for e in self.expand):
            raise ValueError(
                "expand must be a list of module paths such as ['encoder.layers.0'] "
                f"(got {self.expand!r})"
            )
        t = self.layout_timeout
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not t > 0:
            raise ValueError(f"layout_timeout must be a number of seconds > 0 (got {t!r})")
        for f in fields(self):
            if f.name.startswith("show_") and not isinstance(getattr(self, f.name), bool):
                raise ValueError(f"{f.name} must be True or False (got {getattr(self, f.name)!r})")


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)} (got {value!r})")


def _count(name: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(
            f"{name} must be a {'positive' if minimum else 'non-negative'} int "
            f"(got {value!r} that is a {type(value).__name__})"
        )
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum} (got {value})")
