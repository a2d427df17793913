"""Plain-text helpers of the vocabulary: numbers and gradient summaries as short text, JSON."""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from graphscope.model.runs import RunList


def jsonable(x: Any) -> Any:
    """Tuples to lists and non-finite floats to strings, recursively, for JSON."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, RunList)):
        return [jsonable(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return x


def format_number(x: float) -> str:
    """Short, stable text for a number: ``5``, ``0.25``, ``-1.5e-07``, ``nan``.

    >>> format_number(5.0), format_number(0.1 + 0.2), format_number(float("inf"))
    ('5', '0.3', 'inf')
    """
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.4g}"


def summary_text(summary: Mapping[str, Any] | None) -> str:
    """One line for a grad summary: ``[5.]`` style for small ones, else norm and range."""
    if not summary:
        return "None"
    first = summary.get("first") or []
    numel = summary.get("numel", len(first))
    if numel <= 4 and len(first) == numel:
        return "[" + ", ".join(format_number(v) for v in first) + "]"
    if "norm" not in summary:
        return f"shape {tuple(summary.get('shape') or ())}"
    text = f"norm {format_number(summary['norm'])}"
    if "min" in summary and "max" in summary:
        text += f", min {format_number(summary['min'])}, max {format_number(summary['max'])}"
    return text


def short_path(path: str | None, *, base_only: bool = False) -> str:
    """How a user's file is named in reports: relative to the working directory when it is
    inside it, else as given; ``base_only`` (pictures, the gallery) keeps the file name only.

    >>> short_path("/elsewhere/train.py", base_only=True), short_path(None)
    ('train.py', '?')
    """
    if not path:
        return "?"
    if base_only:
        return os.path.basename(path)
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return path
    return path if rel.startswith("..") else rel


#: a cell's file as the Jupyter kernel names it (``/tmp/ipykernel_4242/1234567890.py``), and as
#: IPython's terminal did before 8.0 (``<ipython-input-3-0123abcd>``: the number is the cell's)
_KERNEL_CELL = re.compile(r"(?:^|[/\\])ipykernel_\d+[/\\]\d+\.py$")
_IPYTHON_INPUT = re.compile(r"^<ipython-input-(\d+)-[0-9a-f]+>$")


def cell_name(path: str | None) -> str | None:
    """``In [3]`` when ``path`` is the file of a Jupyter/IPython cell, else None.

    The kernel compiles each cell into a file named after a hash of its code and records the
    cell's execution count in ``get_ipython().compile`` (``format_code_name``, which IPython's
    own tracebacks use); this asks it when IPython is running, and never imports it.

    >>> cell_name("<ipython-input-3-0123abcd>"), cell_name("train.py")
    ('In [3]', None)
    """
    if not path:
        return None
    m = _IPYTHON_INPUT.match(path)
    if m:
        return f"In [{m.group(1)}]"
    number = _execution_count(path)
    if number is not None:
        return f"In [{number}]"
    return "In [?]" if _KERNEL_CELL.search(path) else None


def _execution_count(path: str) -> str | None:
    """The execution count IPython recorded for the cell compiled into ``path``, if any."""
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    try:
        shell = get() if callable(get) else None
        named = shell.compile.format_code_name(path) if shell is not None else None
    except Exception:  # an IPython without this API: the plain path is shown
        return None
    if not named:
        return None
    m = re.search(r"\[\s*(\d+)\s*\]", str(named[-1]))
    return m.group(1) if m else None


def location(file: str | None, line: int | None, *, base_only: bool = False) -> str:
    """Where a line of the user's code is, for a report or a picture: ``train.py:5``, or
    ``In [3], line 5`` for a notebook cell (see :func:`cell_name`; ``base_only`` as in
    :func:`short_path`).

    >>> location("/elsewhere/train.py", 5, base_only=True), location("<ipython-input-2-ab>", 5)
    ('train.py:5', 'In [2], line 5')
    >>> location("bin.py", None)  # no line known: the file alone
    'bin.py'
    """
    cell = cell_name(file)
    if cell is not None:
        return f"{cell}, line {line}" if line is not None else cell
    path = short_path(file, base_only=base_only)
    return f"{path}:{line}" if line is not None else path


def ranges(numbers: Sequence[int]) -> str:
    """``[1, 2, 3, 5]`` -> ``1-3, 5``.

    >>> ranges([1, 2, 3, 5, 7, 8])
    '1-3, 5, 7-8'
    """
    parts: list[str] = []
    i = 0
    while i < len(numbers):
        j = i
        while j + 1 < len(numbers) and numbers[j + 1] == numbers[j] + 1:
            j += 1
        parts.append(str(numbers[i]) if i == j else f"{numbers[i]}-{numbers[j]}")
        i = j + 1
    return ", ".join(parts)


def plural(n: int, word: str) -> str:
    """``1 backward call``, ``3 backward calls``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


_SEGMENT = re.compile(r"(?:\[[^\]]*\]|[^.\[\]])+")
_CONTAINERS = frozenset({"ModuleDict", "ParameterDict"})


def spelled(path: str, classes: Mapping[str, str] | None = None) -> str:
    """A module path or parameter name as the user writes it in Python.

    ``named_parameters()`` and the module tree name a ``Sequential``'s third layer ``model.2``;
    the user writes ``model[2]``. A key of a ``ModuleDict`` (``classes`` maps each dotted path to
    its class) or a name that is no identifier is indexed (``heads['cls']``); a name the user's
    variable gave (``blocks[3]``, ``trainer.net``) is kept. Every room writes names through this
    one function: checks' messages and hints, pictures, the report and the explorer.

    >>> spelled("model.2.weight"), spelled("net.fc.bias"), spelled("blocks[3].fc")
    ('model[2].weight', 'net.fc.bias', 'blocks[3].fc')
    >>> spelled("heads.cls.weight", {"heads": "ModuleDict"})
    "heads['cls'].weight"
    >>> spelled("blocks.*.attn")  # a pattern over repeated blocks
    'blocks[*].attn'
    """
    parts = _SEGMENT.findall(path)
    if len(parts) < 2 or ".".join(parts) != path:
        return path
    out = dotted = parts[0]
    for part in parts[1:]:
        if part.isdigit() or part == "*":  # ``*``: any index of a repeated block's pattern
            out += f"[{part}]"
        elif not part.isidentifier() or (
            classes is not None and classes.get(dotted) in _CONTAINERS
        ):
            out += f"[{part!r}]"
        else:
            out += "." + part
        dotted += "." + part
    return out
