"""What is checked before a user's script runs, without importing torch (a usage error is
answered at once, and nothing runs): the script or module exists, the output folder can be
written. Used by the command line (:mod:`graphscope.cli`), the runner and
:mod:`graphscope.script`.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from pathlib import Path

from graphscope.errors import UsageError

__all__ = ["check_script", "check_module", "check_target", "output_dir"]


def check_target(target: str, module: bool) -> None:
    """The script file (``module``: the module name) ``python`` would run, or a UsageError."""
    if module:
        check_module(target)
    else:
        check_script(target)


def check_script(path: str | os.PathLike[str]) -> Path:
    """``path`` as a readable Python file, or a UsageError saying what is wrong with it."""
    p = Path(path)
    if not p.exists():
        raise UsageError(f"no such script: {path}")
    if p.is_dir():
        raise UsageError(
            f"{path} is a directory; give the Python file to run (e.g. {path}/train.py)"
        )
    try:
        with open(p, "rb"):
            pass
    except OSError as err:
        raise UsageError(f"cannot read {path}: {err.strerror}") from err
    return p


def check_module(name: str) -> str:
    """``name`` as a module ``python -m`` could find (its top-level package is looked up
    without running any of its code), or a UsageError."""
    parts = name.split(".")
    if not name or not all(part.isidentifier() for part in parts):
        raise UsageError(f"-m {name!r}: not a module name (give a dotted name such as pkg.train)")
    top = parts[0]
    sys.path.insert(0, os.getcwd())
    try:
        found = top in sys.modules or importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        found = False
    finally:
        sys.path.pop(0)
    if not found:
        raise UsageError(f"-m {name}: no module named {top} (looked in {os.getcwd()} and sys.path)")
    return name


def output_dir(out: str | os.PathLike[str]) -> Path:
    """``out`` as an absolute directory that exists and can be written into, made and probed
    (a file created and removed) before the script runs: an unwritable ``-o`` is a usage
    error at once, not after a training run; a script that changes directory does not move
    the pictures (issue 23)."""
    p = Path(os.path.abspath(out))
    if p.exists() and not p.is_dir():
        raise UsageError(f"-o {out}: exists and is not a directory; give a directory to write into")
    try:
        p.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=p, prefix=".graphscope-probe-"):
            pass
    except OSError as err:
        why = err.strerror or type(err).__name__
        raise UsageError(
            f"-o {out}: cannot write there ({why}); choose another output directory"
        ) from None
    return p
