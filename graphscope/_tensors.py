"""Small torch helpers shared by ``trace`` and ``watch``: summaries, names, user frames.

Everything here reads tensors and returns plain values; nothing keeps a tensor.
"""

from __future__ import annotations

import ctypes
import functools
import itertools
import math
import os
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import CodeType, FrameType, ModuleType
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
    if frame is None:
        return []
    if frame.f_locals is frame.f_globals:
        return [frame.f_globals]
    return [frame.f_locals, frame.f_globals]


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


def unwrap(module: torch.nn.Module) -> torch.nn.Module:
    """The user's model inside a ``DistributedDataParallel`` / ``DataParallel`` wrapper.

    The wrapper's ``module.`` prefix is not the user's: DDP's own errors name parameters
    without it (``aux.weight``), and so does graphscope, in parameter names and module paths.
    """
    wrappers = (torch.nn.parallel.DistributedDataParallel, torch.nn.DataParallel)
    while True:
        if isinstance(module, wrappers) and isinstance(
            getattr(module, "module", None), torch.nn.Module
        ):
            module = module.module
            continue
        # torch.compile(model): its parameters keep their own names (no "_orig_mod." prefix)
        inner = module.__dict__.get("_modules", {}).get("_orig_mod")
        if type(module).__name__ == "OptimizedModule" and isinstance(inner, torch.nn.Module):
            module = inner
            continue
        return module


_MAX_ELEMENTS = 256  # list/dict elements looked at per container when naming modules
_MAX_HELD = 32  # items of a dict variable looked at for tensors to name


def user_frames(frame: FrameType | None) -> list[FrameType]:
    """The user's frames from ``frame`` outward, outermost (the script) first."""
    out: list[FrameType] = []
    f = frame
    while f is not None:
        if not is_internal(f.f_code.co_filename):
            out.append(f)
        f = f.f_back
    out.reverse()
    return out


def module_names(frame: FrameType | None) -> dict[int, tuple[str, torch.nn.Module]]:
    """``id(module) -> (the user's name for it, module)`` for the modules the user's code holds.

    Searched from the outermost user frame (the script) inward: variables (``cell1``),
    elements of the lists, tuples and dicts they hold (``blocks[3]``, ``models['d']``), and
    modules an object keeps as attributes (``trainer.model``) or in plain lists on a module
    (``net.layers[0]``, which ``named_modules()`` does not see). The first name found wins;
    ``self`` only when nothing else names the module.
    """
    found: dict[int, tuple[str, torch.nn.Module]] = {}
    late: list[tuple[str, Any]] = []
    seen_spaces: set[int] = set()
    for f in user_frames(frame):
        spaces = frame_namespaces(f)
        try:
            for space in reversed(spaces):  # globals before a function's locals
                if id(space) in seen_spaces:
                    continue
                seen_spaces.add(id(space))
                for k, v in list(space.items()):
                    if k == "self":
                        late.append((k, v))
                    elif not k.startswith("__"):
                        _name_safely(found, k, v)
        finally:
            _drop_locals_snapshot(spaces)
    for k, v in late:
        _name_safely(found, k, v)
    return found


def module_name(frame: FrameType | None, module: torch.nn.Module) -> str | None:
    """The user's name for ``module``: as :func:`module_names` finds it, else as a submodule of
    a module found there (``model.encoder`` for a submodule called on its own)."""
    found = module_names(frame)
    hit = found.get(id(module))
    if hit is not None:
        return hit[0]
    for name, outer in found.values():
        try:
            for sub, m in outer.named_modules():
                if m is module and sub:
                    return f"{name}.{sub}"
        except Exception:
            continue
    return None


def _name_safely(found: dict[int, tuple[str, torch.nn.Module]], name: str, v: Any) -> None:
    try:
        _name_value(found, name, v)
    except Exception:  # an object whose attributes misbehave: it names nothing
        pass


def _name_value(found: dict[int, tuple[str, torch.nn.Module]], name: str, v: Any) -> None:
    if isinstance(v, torch.nn.Module):
        if id(v) not in found:
            found[id(v)] = (name, v)
        for attr, inner in _plain_attrs(v):
            _name_elements(found, f"{name}.{attr}", inner)
        return
    if isinstance(v, (list, tuple, dict)):
        _name_elements(found, name, v)
        return
    if _is_plain_object(v):
        try:
            attrs = list(vars(v).items())
        except TypeError:
            return
        for attr, inner in attrs[:_MAX_ELEMENTS]:
            if isinstance(inner, torch.nn.Module) and id(inner) not in found:
                found[id(inner)] = (f"{name}.{attr}", inner)


def _name_elements(found: dict[int, tuple[str, torch.nn.Module]], name: str, v: Any) -> None:
    """``name[3]`` / ``name['d']`` for the modules a list, tuple or dict holds."""
    if isinstance(v, dict):
        items: Iterable[tuple[Any, Any]] = list(v.items())[:_MAX_ELEMENTS]
        for key, inner in items:
            if isinstance(inner, torch.nn.Module) and id(inner) not in found:
                found[id(inner)] = (f"{name}[{key!r}]", inner)
        return
    if isinstance(v, (list, tuple)):
        for i, inner in enumerate(v[:_MAX_ELEMENTS]):
            if isinstance(inner, torch.nn.Module) and id(inner) not in found:
                found[id(inner)] = (f"{name}[{i}]", inner)


def _plain_attrs(m: torch.nn.Module) -> list[tuple[str, Any]]:
    """A module's own attributes that are plain lists, tuples or dicts (modules kept there are
    not its submodules); not torch's bookkeeping (``_modules``, ``_parameters``, the hook
    dicts): its submodules are named through ``named_parameters()`` already."""
    own = _module_internals()
    try:
        return [
            (k, v)
            for k, v in vars(m).items()
            if k not in own and isinstance(v, (list, tuple, dict)) and v
        ]
    except TypeError:
        return []


@functools.cache
def _module_internals() -> frozenset[str]:
    """The attribute names every ``nn.Module`` gets from ``Module.__init__``."""
    return frozenset(vars(torch.nn.Module()))


def _is_plain_object(v: Any) -> bool:
    """An instance of a user class (a trainer holding models), not a tensor, type or module."""
    t = type(v)
    mod = getattr(t, "__module__", "") or ""
    if mod.split(".")[0] in ("builtins", "torch", "numpy", "typing", "types", "graphscope"):
        return False
    return hasattr(v, "__dict__") and not isinstance(v, (type, torch.Tensor, ModuleType))


def named_parameters(module: torch.nn.Module) -> list[tuple[str, torch.nn.Parameter]]:
    """``list(module.named_parameters())`` (same names, order and de-duplication), walked
    iteratively without generators: several times faster on models with thousands of
    submodules. A DDP/DataParallel wrapper is looked through (:func:`unwrap`): the names
    carry no ``module.`` prefix."""
    module = unwrap(module)
    if _redefines(module, "named_parameters"):
        return list(module.named_parameters())  # a module that redefines it: trust it
    return _tree(module, None)[0]


def params_and_classes(
    prefix: str, module: torch.nn.Module
) -> tuple[list[tuple[str, torch.nn.Parameter]], dict[str, str]]:
    """:func:`named_parameters`, and ``{path: class name}`` for the module (at ``prefix``) and
    its submodules, in one walk of the module tree. A wrapper (:func:`unwrap`) is looked
    through, as parameter names are, and named on the root (``GPT (compiled)``,
    ``Net (DistributedDataParallel)``)."""
    inner = unwrap(module)
    base = prefix.rstrip(".")
    if _redefines(inner, "named_parameters") or _redefines(inner, "named_modules"):
        params, classes = named_parameters(inner), dict[str, str]()
        try:
            for name, m in inner.named_modules():
                path = _path(base, name)
                if path:
                    classes.setdefault(path, type(m).__name__)
        except Exception:
            pass
    else:
        params, classes = _tree(inner, base)
    if inner is not module and base:
        classes[base] = f"{type(inner).__name__} ({_wrapper_name(module)})"
    return params, classes


def _redefines(module: torch.nn.Module, method: str) -> bool:
    return getattr(type(module), method) is not getattr(torch.nn.Module, method)


def _path(base: str, name: str) -> str:
    """``model.fc`` for submodule ``fc`` under ``model`` (either may be empty)."""
    return f"{base}.{name}" if base and name else (base or name)


def _wrapper_name(module: torch.nn.Module) -> str:
    name = type(module).__name__
    return "compiled" if name == "OptimizedModule" else name


def _tree(
    module: torch.nn.Module, base: str | None
) -> tuple[list[tuple[str, torch.nn.Parameter]], dict[str, str]]:
    """One iterative walk of the module tree, in ``named_parameters()`` order: the parameters
    (``fc.weight``), and, unless ``base`` is None, ``{path under base: class name}``."""
    params: list[tuple[str, torch.nn.Parameter]] = []
    classes: dict[str, str] = {}
    seen_modules: set[int] = set()
    seen: set[int] = set()
    stack: list[tuple[str, torch.nn.Module]] = [("", module)]
    pop, push = stack.pop, stack.append
    while stack:
        name, m = pop()
        if id(m) in seen_modules:
            continue
        seen_modules.add(id(m))
        if base is not None and (base or name):
            classes.setdefault(_path(base, name), type(m).__name__)
        at = name + "." if name else ""
        for n, p in m._parameters.items():
            if p is not None and id(p) not in seen:
                seen.add(id(p))
                params.append((at + n, p))
        children = m._modules
        if children:
            for n, c in reversed(children.items()):
                if c is not None:
                    push((at + n, c))
    return params, classes


def _tensors_held(name: str, d: dict[Any, Any]) -> list[tuple[str, torch.Tensor]]:
    """``out.loss`` for the tensors of a model output held in a variable (a dict whose keys
    are also its attributes, as transformers' ``ModelOutput``; its first few items). Plain
    dicts name nothing: a ``{name: tensor}`` table is a program's bookkeeping, not a name."""
    out: list[tuple[str, torch.Tensor]] = []
    if type(d) is dict:
        return out
    try:
        items = list(itertools.islice(d.items(), _MAX_HELD))
        for key, value in items:
            if not (isinstance(value, torch.Tensor) and isinstance(key, str)):
                continue
            tensor: torch.Tensor = value
            if key.isidentifier() and getattr(d, key, None) is tensor:
                out.append((f"{name}.{key}", tensor))
    except Exception:  # a mapping whose items or attributes misbehave names nothing
        return []
    return out


class Names:
    """``id(tensor) -> name`` for the tensors a user can name, built once per capture.

    Explicit names win, then parameters of modules, named from the user's variable for the
    module (``netG.main.2.weight``: the variable, then the ``named_parameters()`` name), then
    tensor variables. A tensor bound to several names keeps the first; the rest are aliases.
    ``classes`` maps each module path seen to its class (``cell1 -> LSTMCell``). Holds the
    tensors only while a capture runs (dropped with the object).
    """

    def __init__(self) -> None:
        self.name: dict[int, str] = {}
        self.aliases: dict[int, list[str]] = {}
        self.tensors: dict[int, torch.Tensor] = {}
        self.params: set[int] = set()
        self.param_module: dict[int, str] = {}
        self.modules: list[tuple[str, torch.nn.Module]] = []
        self.classes: dict[str, str] = {}

    def add(
        self, name: str, t: torch.Tensor, *, param: bool = False, module: str | None = None
    ) -> None:
        key = id(t)
        if key in self.name:
            if name != self.name[key] and name not in self.aliases.setdefault(key, []):
                self.aliases[key].append(name)
            return
        self.name[key] = name
        self.tensors[key] = t
        if param:
            self.params.add(key)
            if module is not None:
                self.param_module[key] = module

    def add_params(self, params: Any, prefix: str = "") -> list[int]:
        """Parameters from a module, a ``{name: tensor}`` mapping or ``(name, tensor)`` pairs;
        returns their keys (``id``). ``prefix``: ``"model."`` for a module held as ``model``."""
        if isinstance(params, torch.nn.Module):
            self.modules.append((prefix, params))
            items: Iterable[tuple[str, Any]]
            items, classes = params_and_classes(prefix, params)
            for path, cls in classes.items():
                self.classes.setdefault(path, cls)
        elif isinstance(params, Mapping):
            items = params.items()
        else:
            items = params
        seen: list[int] = []
        for n, p in items:
            if isinstance(p, torch.Tensor):
                full = f"{prefix}{n}"
                self.add(full, p, param=True, module=full.rpartition(".")[0] or None)
                seen.append(id(p))
        return seen

    def add_frame(self, frame: FrameType | None, *, variables: bool = True) -> None:
        """Module parameters the user's code holds (:func:`module_names`, from ``frame``
        outward) and, unless ``variables=False``, the tensor variables of ``frame``."""
        self._add_modules(list(module_names(frame).values()))
        if not variables:
            return
        spaces = frame_namespaces(frame)
        found: list[tuple[str, torch.Tensor]] = []
        held: list[tuple[str, torch.Tensor]] = []  # in a dict or a model output: named after
        for space in spaces:
            for k, v in list(space.items()):
                if k.startswith("__"):
                    continue
                if isinstance(v, torch.Tensor):
                    found.append((k, v))
                elif isinstance(v, dict) and v:
                    held.extend(_tensors_held(k, v))
        _drop_locals_snapshot(spaces)
        for k, v in found + held:
            self.add(k, v, param=isinstance(v, torch.nn.Parameter))

    def _add_modules(self, modules: list[tuple[str, torch.nn.Module]]) -> None:
        # each parameter is named from the outermost module holding it (the longest
        # named_parameters() name), after the user's variable for that module
        best: dict[int, tuple[str, str, Any, int]] = {}
        classes: dict[int, dict[str, str]] = {}  # id(module) -> its classes under its name
        given = {id(mm) for _, mm in self.modules}
        for var, m in modules:
            if id(m) in given:  # already named through params= or as a module that ran
                continue
            try:
                named, classes[id(m)] = params_and_classes(var, m)
            except Exception:
                continue
            for pn, p in named:
                cur = best.get(id(p))
                if cur is None or pn.count(".") > cur[1].count("."):
                    best[id(p)] = (var, pn, p, id(m))
        used: set[str] = set()
        for var, pn, p, key in best.values():
            if var not in used:
                used.add(var)
                for path, cls in classes[key].items():
                    self.classes.setdefault(path, cls)
            full = f"{var}.{pn}"
            self.add(full, p, param=True, module=full.rpartition(".")[0])

    def get(self, t: torch.Tensor) -> str | None:
        return self.name.get(id(t))

    def non_leaf_outputs(self) -> Iterator[tuple[Any, int, int]]:
        """``(grad_fn, output_nr, id(tensor))`` for every named non-leaf tensor."""
        for key, t in self.tensors.items():
            fn = t.grad_fn
            if fn is not None:
                yield fn, int(t.output_nr), key
