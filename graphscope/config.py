"""``[tool.graphscope]`` in the nearest ``pyproject.toml``: the command line's settings kept with
a project, so CI and people run ``graphscope check train.py`` with the same ones.

>>> import pathlib, tempfile
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "pyproject.toml").write_text('[tool.graphscope]\\nfail-on = "error"\\n')
>>> found = find_settings(d)
>>> found.values, found.path == d / "pyproject.toml"
({'fail-on': 'error'}, True)

The nearest file is the first ``pyproject.toml`` with a ``[tool.graphscope]`` table found from
the script's directory (for ``-m``, the working directory) upwards, as ruff finds its
settings. Keys are the long option names without the dashes (:data:`KEYS`); an option given on
the command line wins over the file. Values are checked by the command line exactly as if
they had been typed; this module only reads the table and rejects keys it does not know.
Reads TOML with :mod:`tomllib` (Python 3.11+) or the ``tomli`` backport (3.10).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphscope.errors import UsageError

__all__ = ["KEYS", "Settings", "find_settings", "read_settings"]

#: the keys ``[tool.graphscope]`` may hold (the long names of the command line's options)
KEYS = (
    "out",
    "format",
    "engine",
    "max-nodes",
    "max-graphs",
    "depth",
    "expand",
    "attrs",
    "source",
    "legend",
    "shapes",
    "rankdir",
    "select",
    "ignore",
    "fail-on",
)


@dataclass(frozen=True)
class Settings:
    """The ``[tool.graphscope]`` table that applies, and the file it came from (None: none)."""

    path: Path | None = None
    values: dict[str, Any] = field(default_factory=dict)


def find_settings(start: str | Path) -> Settings:
    """The settings of the nearest ``pyproject.toml`` (from ``start`` upwards) that has a
    ``[tool.graphscope]`` table; empty settings when there is none."""
    here = Path(start).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            values = read_settings(candidate)
            if values is not None:
                return Settings(candidate, values)
    return Settings()


def read_settings(path: Path) -> dict[str, Any] | None:
    """The ``[tool.graphscope]`` table of ``path`` with its keys checked, or None when the
    file has no such table. A broken file or an unknown key is a UsageError."""
    try:
        data = _toml().loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise UsageError(f"cannot read {path}: {err.strerror}") from err
    except ValueError as err:  # tomllib.TOMLDecodeError is a ValueError
        raise UsageError(f"{path} is not valid TOML: {err}") from err
    table = data.get("tool", {}).get("graphscope")
    if table is None:
        return None
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [tool.graphscope] must be a table (got {table!r})")
    values = {key.replace("_", "-"): value for key, value in table.items()}
    unknown = sorted(set(values) - set(KEYS))
    if unknown:
        raise UsageError(
            f"{path}: [tool.graphscope] has unknown key {', '.join(map(repr, unknown))}; "
            f"the keys are {', '.join(KEYS)}"
        )
    return values


def _toml() -> Any:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    try:
        import tomli
    except ImportError as err:  # a dependency on 3.10; say so if it went missing
        raise UsageError(
            "reading pyproject.toml on Python 3.10 needs tomli: pip install tomli"
        ) from err
    return tomli
