"""Small torch helpers shared by ``trace`` and ``watch``: gradient summaries, storages, user frames.

The user's names for modules and parameters are resolved in :mod:`graphscope.names`.

Everything here reads tensors and returns plain values; nothing keeps a tensor.
"""

from __future__ import annotations

import ctypes
import functools
import math
import os
import sys
import zlib
from collections.abc import Callable, Mapping
from types import CodeType, FrameType, MappingProxyType
from typing import Any, TypeVar

import torch

from graphscope.model import GradSummary

_TORCH_DIR = os.path.dirname(torch.__file__)
_OUR_DIR = os.path.dirname(os.path.abspath(__file__))
_SCENARIO_DIR = os.path.join(_OUR_DIR, "scenarios")  # user code, shipped with us
_SKIP_PREFIXES = (_TORCH_DIR, _OUR_DIR, "<frozen")
_FIRST_VALUES = 6


_F = TypeVar("_F", bound=Callable[..., Any])
_DisableTorchFunction = torch._C.DisableTorchFunction
_dispatch_modes = getattr(torch._C, "_len_torch_dispatch_stack", lambda: 0)


def _disable_dispatch_modes() -> Any:
    from torch.utils._python_dispatch import _disable_current_modes

    return _disable_current_modes()


def outside_modes(fn: _F) -> _F:
    """Run ``fn`` (graphscope's own tensor work: gradient summaries, NaN checks) with every
    TorchFunctionMode and TorchDispatchMode of the user's turned off, so that their modes see
    only their program's ops, and ours neither."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if _dispatch_modes():
            with _disable_dispatch_modes(), _DisableTorchFunction():
                return fn(*args, **kwargs)
        with _DisableTorchFunction():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def is_internal(filename: str) -> bool:
    """True for frames of torch, of graphscope itself, and of the import machinery."""
    if filename.startswith(_SKIP_PREFIXES):
        return not filename.startswith(_SCENARIO_DIR)
    # runpy / contextlib frames that wrap the user's code
    base = os.path.basename(filename)
    return base in ("runpy.py", "contextlib.py") and os.path.dirname(filename) == os.path.dirname(
        os.__file__
    )


#: code objects of graphscope's call-site trampolines (recorder/callsite.py): they carry the
#: file name and line of a user's frame, for torch's warnings, but are not the user's frames
BORROWED: set[CodeType] = set()
#: their function name, which a traceback shows (script.py drops those frames, as Python
#: without graphscope has none)
CALL_SITE = "<graphscope call site>"


def user_frame(depth: int = 1) -> FrameType | None:
    """The innermost frame outside torch and graphscope (the user's line)."""
    f: FrameType | None = sys._getframe(depth)
    while f is not None:
        if not is_internal(f.f_code.co_filename) and f.f_code not in BORROWED:
            return f
        f = f.f_back
    return None


def where(frame: FrameType | None) -> tuple[str | None, int | None]:
    if frame is None:
        return None, None
    return frame.f_code.co_filename, frame.f_lineno


_DTYPE_NAMES: dict[torch.dtype, str] = {}


def dtype_name(dtype: torch.dtype) -> str:
    name = _DTYPE_NAMES.get(dtype)
    if name is None:
        name = _DTYPE_NAMES[dtype] = str(dtype).removeprefix("torch.")
    return name


def shape_of(t: torch.Tensor) -> tuple[int, ...]:
    try:
        return tuple(t.shape)  # torch.Size: a tuple of ints
    except Exception:  # symbolic / nested shapes
        return ()


def version_of(t: torch.Tensor) -> int | None:
    """``t._version``, or None where torch does not track it (inference tensors)."""
    try:
        return int(t._version)
    except Exception:
        return None


def storage_key(t: torch.Tensor) -> int | None:
    """An opaque key shared by every alias of one storage (views, .detach())."""
    try:
        return int(t.untyped_storage().data_ptr())
    except Exception:
        return None


DIGEST_LIMIT = 64 << 20  # bytes of a storage :func:`storage_digest` checksums at most


def storage_digest(t: torch.Tensor) -> int | None:
    """CRC-32 of the bytes of ``t``'s storage, read in place (no torch call, no copy); None for
    a storage off the CPU or above :data:`DIGEST_LIMIT` bytes."""
    try:
        s = t.untyped_storage()
        n = s.nbytes()
        if s.device.type != "cpu" or n > DIGEST_LIMIT:
            return None
        if n == 0:
            return 0
        return zlib.crc32((ctypes.c_char * n).from_address(s.data_ptr()))  # type: ignore[arg-type]
    except Exception:
        return None


@outside_modes
def grad_summary_lite(t: torch.Tensor | None) -> GradSummary | None:
    """Two reads instead of six: shape, numel, first values and norm (non-finite when the norm
    is). What ``watch`` keeps for every leaf at every backward call."""
    if t is None:
        return None
    try:
        with torch.no_grad():
            g = t.detach()
            if g.is_sparse or g.is_complex() or g.device.type != "cpu" or g.dtype == torch.float64:
                return grad_summary(t)
            n = int(g.numel())
            norm = float(torch.linalg.vector_norm(g.reshape(-1), dtype=torch.float64)) if n else 0.0
            first = [float(v) for v in g.reshape(-1)[:_FIRST_VALUES].tolist()]
    except Exception:
        return grad_summary(t)
    return {
        "shape": list(shape_of(t)),
        "dtype": dtype_name(t.dtype),
        "numel": n,
        "first": first,
        "norm": norm,
        "nonfinite": not math.isfinite(norm),
    }


@outside_modes
def grad_summaries(
    grads: list[torch.Tensor], *, first_values: bool = False
) -> list[GradSummary | None]:
    """:func:`grad_summary_lite` of many gradients with one norm kernel (``_foreach_norm``,
    in the gradients' dtype). The first values are kept for gradients of at most six values,
    or for all with ``first_values``."""
    try:
        simple = all(
            g.device.type == "cpu"
            and g.dtype in (torch.float32, torch.float16, torch.bfloat16)
            and g.layout == torch.strided
            for g in grads
        )
        if not simple or not grads:
            raise TypeError
        with torch.no_grad():
            norms = [float(n) for n in torch.stack(torch._foreach_norm(grads)).double().tolist()]
    except Exception:
        return [grad_summary_lite(g) for g in grads]
    out: list[GradSummary | None] = []
    for g, norm in zip(grads, norms, strict=True):
        n = g.numel()
        first = (
            [float(v) for v in g.detach().reshape(-1)[:_FIRST_VALUES].tolist()]
            if n <= _FIRST_VALUES or first_values
            else []
        )
        out.append(
            {
                "shape": list(g.shape),
                "dtype": dtype_name(g.dtype),
                "numel": n,
                "first": first,
                "norm": norm,
                "nonfinite": not math.isfinite(norm),
            }
        )
    return out


@outside_modes
def grad_summary(t: torch.Tensor | None) -> GradSummary | None:
    """Plain-data summary of a gradient: numel, norm, min, max, first values, non-finite flag.

    >>> grad_summary(torch.tensor([5.0]))["first"]
    [5.0]
    """
    if t is None:
        return None
    out: GradSummary = {"shape": list(shape_of(t)), "dtype": dtype_name(t.dtype)}
    try:
        with torch.no_grad():
            g = t.detach()
            if g.is_sparse:
                g = g.to_dense()
            if g.is_complex():
                g = g.abs()
            if g.device.type == "meta":
                out["numel"] = int(g.numel())
                return out
            g = (
                g.to(device="cpu", dtype=torch.float64)
                if g.device.type != "cpu" or g.dtype != torch.float64
                else g
            )
            flat = g.reshape(-1)
            n = int(flat.numel())
            out["numel"] = n
            out["first"] = [float(v) for v in flat[:_FIRST_VALUES].tolist()]
            if n:
                finite = torch.isfinite(flat)
                out["nonfinite"] = bool(not finite.all())
                out["norm"] = float(torch.linalg.vector_norm(flat))
                out["min"] = float(flat.min())
                out["max"] = float(flat.max())
                out["sum"] = float(flat.sum())
    except Exception as err:  # odd devices or layouts: describe, never fail
        out["error"] = f"{type(err).__name__}: {err}"
    for k in ("norm", "min", "max", "sum"):
        v = out.get(k)
        if isinstance(v, float) and not math.isfinite(v):
            out["nonfinite"] = True
    return out


_BATCH_MIN = 64  # below this many gradients, one grad_summary each is as fast
_BATCH_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)


@outside_modes
def grad_summaries_full(grads: list[torch.Tensor | None]) -> list[GradSummary | None]:
    """``[grad_summary(g) for g in grads]`` with a few batched kernels for the many small
    gradients of a big model (one ``cat``, then per-gradient min/max/sum by segment). The
    values equal grad_summary's up to the rounding of the norm's last bit; gradients that are
    unusual (not CPU float, empty, holding NaN or Inf) take grad_summary itself."""
    out: list[GradSummary | None] = [None] * len(grads)
    batch: list[int] = []
    for i, g in enumerate(grads):
        if g is None:
            continue
        if _batchable(g):
            batch.append(i)
        else:
            out[i] = grad_summary(g)
    tensors = [grads[i] for i in batch]
    rows = _segment_summaries(tensors) if len(batch) >= _BATCH_MIN else None  # type: ignore[arg-type]
    for j, i in enumerate(batch):
        row = rows[j] if rows is not None else None
        out[i] = row if row is not None else grad_summary(grads[i])
    return out


def _batchable(g: torch.Tensor) -> bool:
    try:
        return (
            g.device.type == "cpu"
            and g.layout == torch.strided
            and g.dtype in _BATCH_DTYPES
            and g.numel() > 0
        )
    except Exception:
        return False


def _segment_summaries(tensors: list[torch.Tensor]) -> list[GradSummary | None] | None:
    """The summaries of many CPU float gradients from one concatenation; None for a gradient
    holding NaN or Inf (the exact per-tensor rules apply to it), None for all when torch has
    no segment reductions."""
    try:
        with torch.no_grad():
            flat = torch.cat([t.reshape(-1) for t in tensors]).to(torch.float64)
            numels = [t.numel() for t in tensors]
            lengths = torch.tensor(numels)
            # the first values of every gradient in one gather (index clamped into its own)
            starts = torch.cumsum(lengths, 0) - lengths
            takes = torch.minimum(lengths, torch.tensor(_FIRST_VALUES)).tolist()
            idx = starts[:, None] + torch.minimum(
                torch.arange(_FIRST_VALUES)[None, :], (lengths - 1)[:, None]
            )
            firsts = flat[idx].tolist()
            bad = torch.segment_reduce(
                (~torch.isfinite(flat)).to(torch.float64), "max", lengths=lengths
            ).tolist()
            lo = torch.segment_reduce(flat, "min", lengths=lengths).tolist()
            hi = torch.segment_reduce(flat, "max", lengths=lengths).tolist()
            total = torch.segment_reduce(flat, "sum", lengths=lengths).tolist()
            norm = torch.segment_reduce(flat * flat, "sum", lengths=lengths).sqrt().tolist()
    except Exception:  # an older torch without segment_reduce, odd memory: one at a time
        return None
    out: list[GradSummary | None] = []
    for j, t in enumerate(tensors):
        if bad[j] or not math.isfinite(norm[j]) or not math.isfinite(total[j]):
            out.append(None)
            continue
        dtype = t.dtype
        out.append(
            {
                "shape": list(t.shape),
                "dtype": _DTYPE_NAMES.get(dtype) or dtype_name(dtype),
                "numel": numels[j],
                "first": firsts[j][: takes[j]],
                "nonfinite": False,
                "norm": norm[j],
                "min": lo[j],
                "max": hi[j],
                "sum": total[j],
            }
        )
    return out


def safe_grad(t: torch.Tensor) -> torch.Tensor | None:
    """``t.grad`` without torch's non-leaf warning (read only where torch keeps it)."""
    if t.is_leaf or t.retains_grad:
        return t.grad
    return None


def frame_namespaces(frame: FrameType | None) -> list[Mapping[str, Any]]:
    """``frame``'s locals (when they are not its globals) and globals. A function's locals are
    a snapshot dict :func:`_drop_locals_snapshot` may clear; any other frame's (a class body
    being run, ``exec`` with a locals dict) are the program's own namespace, handed out
    read-only so that nothing of ours can empty it."""
    if frame is None:
        return []
    local: Mapping[str, Any] = frame.f_locals
    if local is frame.f_globals:
        return [frame.f_globals]
    if not frame.f_code.co_flags & _CO_OPTIMIZED:
        local = MappingProxyType(local)
    return [local, frame.f_globals]


_CO_OPTIMIZED = 0x0001  # inspect.CO_OPTIMIZED: a function's frame, whose f_locals is a snapshot


def _drop_locals_snapshot(spaces: list[Mapping[str, Any]]) -> None:
    """CPython <= 3.12 caches the snapshot ``frame.f_locals`` of a function's locals on the
    frame, with strong references: drop it so that tensors the user deletes are really freed
    (fast locals are untouched: the snapshot is rebuilt on the next f_locals read). 3.13's
    write-through proxy is not a dict and is left alone."""
    if len(spaces) == 2 and isinstance(spaces[0], dict):
        spaces[0].clear()


def frame_variable(frame: FrameType | None, t: torch.Tensor) -> str | None:
    """The name of a variable of ``frame`` bound to ``t`` (locals first), or None."""
    spaces = frame_namespaces(frame)
    try:
        for space in spaces:
            for k, v in space.items():
                if v is t and not k.startswith("__"):
                    return str(k)
        return None
    finally:
        _drop_locals_snapshot(spaces)
