"""graphscope never changes what a program computes: every gradient a test script produces is
bit-identical with and without ``watch``, and nothing of ours stays installed afterwards."""

from __future__ import annotations

import contextlib
import io
import runpy
from pathlib import Path

import pytest
import torch

from graphscope.watcher import watch
from tests.test_watch import _installed

SCRIPTS = sorted((Path(__file__).parent / "scripts").glob("*.py"))


def _grads(script: Path, watched: bool) -> dict[str, bytes]:
    """Bytes of every ``.grad`` (and value) of the tensors and modules the script leaves behind."""
    torch.manual_seed(0)
    out: dict[str, object] = {}
    ctx = watch() if watched else contextlib.nullcontext()
    with contextlib.redirect_stdout(io.StringIO()), ctx:
        try:
            out = runpy.run_path(str(script), run_name="__main__")
        except (RuntimeError, ValueError, SystemExit):
            return {}  # scripts that fail on purpose: compared through what they print elsewhere
    found: dict[str, bytes] = {}
    for name, v in out.items():
        tensors: list[tuple[str, torch.Tensor]] = []
        if isinstance(v, torch.Tensor):
            tensors = [(name, v)]
        elif isinstance(v, torch.nn.Module):
            tensors = [(f"{name}.{n}", p) for n, p in v.named_parameters()]
        for n, t in tensors:
            found[n] = (
                t.detach().numpy().tobytes()
                if t.layout == torch.strided and t.device.type == "cpu"
                else b""
            )
            if t.is_leaf and t.grad is not None:
                found[n + ".grad"] = t.grad.numpy().tobytes()
    return found


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_gradients_are_bit_identical_with_and_without_watch(script: Path) -> None:
    before = _installed()
    plain = _grads(script, watched=False)
    watched = _grads(script, watched=True)
    assert plain.keys() == watched.keys()
    assert plain == watched
    assert _installed() == before


def test_the_scripts_leave_gradients_to_compare() -> None:
    compared = [
        p.stem for p in SCRIPTS if any(k.endswith(".grad") for k in _grads(p, watched=False))
    ]
    assert {
        "clean_training_loop",
        "pitfall_grad_accumulation",
        "pitfall_nonfinite_grad",
        "seed_graph",
    } <= set(compared)
