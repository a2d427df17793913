"""Gradient summaries: the batched path equals the per-tensor one; the GC pause restores."""

from __future__ import annotations

import gc
import math

import pytest
import torch

from graphscope._gc import gc_paused
from graphscope._tensors import (
    _BATCH_MIN,
    grad_summaries,
    grad_summaries_full,
    grad_summary,
    grad_summary_lite,
)
from graphscope.model import AutogradGraph, Finding


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-12)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def test_batched_full_summaries_equal_one_at_a_time() -> None:
    torch.manual_seed(0)
    grads: list[torch.Tensor | None] = [torch.randn(3, 4) for _ in range(_BATCH_MIN)]
    grads += [
        None,
        torch.tensor([float("nan"), 1.0]),  # non-finite: per-tensor rules
        torch.tensor([float("inf"), -1.0]),
        torch.zeros(0),  # empty
        torch.randn(5, dtype=torch.float16),
        torch.randn(2, dtype=torch.float64),
        torch.tensor([3], dtype=torch.int64),  # not float: per tensor
        torch.tensor([5.0]),
    ]
    batched = grad_summaries_full(grads)
    single = [grad_summary(g) for g in grads]
    assert len(batched) == len(single)
    for b, s in zip(batched, single, strict=True):
        if s is None:
            assert b is None
            continue
        assert b is not None and set(b) == set(s)
        for k in s:
            assert _same(b[k], s[k]), (k, b[k], s[k])
    assert batched[-1] == {  # exact values of the seeds' kind
        "shape": [1],
        "dtype": "float32",
        "numel": 1,
        "first": [5.0],
        "nonfinite": False,
        "norm": 5.0,
        "min": 5.0,
        "max": 5.0,
        "sum": 5.0,
    }


def test_batched_lite_summaries_can_keep_first_values() -> None:
    grads = [torch.arange(10, dtype=torch.float32) for _ in range(3)]
    lite = grad_summary_lite(grads[0])
    assert lite is not None
    (keep, *_) = grad_summaries(grads, first_values=True)
    (drop, *_) = grad_summaries(grads)
    assert keep is not None and drop is not None
    assert keep["first"] == lite["first"] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert drop["first"] == []
    assert keep["norm"] == pytest.approx(lite["norm"], rel=1e-6)


@pytest.mark.parametrize("enabled", [True, False])
def test_gc_pause_restores_the_previous_state(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        with pytest.raises(RuntimeError):
            with gc_paused():
                assert not gc.isenabled()
                raise RuntimeError("boom")
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_with_findings_copies_only_when_the_findings_change() -> None:
    g = AutogradGraph()
    g.add_node("n0", kind="tensor", label="w", name="w", role="leaf")
    assert g.with_findings([]) is g
    f = Finding(kind="leaf-inplace", severity="error", message="m", hint="h", node="n0")
    h = g.with_findings([f])
    assert h is not g and h.findings == (f,) and g.findings == ()
    assert h.with_findings([f]) is h


def test_a_big_pause_leaves_the_collectors_generations_alone() -> None:
    was = gc.isenabled()
    gc.enable()
    try:
        gc.collect()
        frozen = gc.get_freeze_count()
        with gc_paused():
            kept = [{"i": [i]} for i in range(150_000)]
        assert gc.get_freeze_count() == frozen  # nothing of the program's frozen or moved
        assert len(kept) == 150_000
    finally:
        (gc.enable if was else gc.disable)()
