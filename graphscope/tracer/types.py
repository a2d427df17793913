"""Facts about each type of backward node, computed once per class: its name, its saved slots.

A model of 10k nodes has a few dozen node types: reading ``dir()`` once per type instead of once
per node is most of what makes the walk fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

_OPAQUE_MARKS = ("CompiledFunction", "CheckpointFunction")
_MAX_ATTR_TEXT = 40


@dataclass(frozen=True)
class TypeInfo:
    """What every backward node of one class has in common."""

    accumulate: bool  # AccumulateGrad: the node of a leaf
    custom: bool  # the backward of a custom autograd.Function
    name: str  # what the node calls itself (a custom Function: its class name); "" = ask it
    label: str
    opaque: bool
    #: ``(short name, "_raw_saved_x", "_saved_x")`` of each slot holding tensors
    raw_slots: tuple[tuple[str, str, str], ...]
    #: ``("_saved_alpha", "alpha")``, ... of each slot holding a plain value
    value_slots: tuple[tuple[str, str], ...]


TYPE_INFO: dict[type, TypeInfo] = {}
#: ``(slot, type, value) -> repr`` of saved integer values (strides, padding, ...): they repeat
_REPRS: dict[tuple[str, type, Any], str] = {}
_REPRS_MAX = 10_000
#: saved values that only describe a saved tensor's layout (sizes, strides): not worth a label
_METADATA_SLOTS = (
    "_sym_sizes",
    "_sym_strides",
    "_sym_sizes_opt",
    "_sym_numel",
    "_layout",
    "_sizes",
    "_strides",
    "_options",
)


def type_info(fn: Any) -> TypeInfo:
    cls = type(fn)
    info = TYPE_INFO.get(cls)
    if info is None:
        names = [k for k in dir(cls) if k.startswith("_saved_")]
        raws = {k[len("_raw") :] for k in dir(cls) if k.startswith("_raw_saved_")}
        accumulate = hasattr(cls, "variable")
        custom = isinstance(fn, torch.autograd.function.BackwardCFunction)
        name = "" if accumulate else str(fn.name())
        if custom:  # the class of a custom Function's backward node is per Function
            name = getattr(getattr(fn, "_forward_cls", None), "__name__", None) or name
        elif name.rpartition("::")[2] != cls.__name__:
            name = ""  # a class shared by several C++ node types: ask each node
        short = len("_saved_")
        info = TYPE_INFO[cls] = TypeInfo(
            accumulate=accumulate,
            custom=custom,
            name=name,
            label=display_name(name),
            opaque=is_opaque(name),
            raw_slots=tuple((k[short:], "_raw" + k, k) for k in names if k in raws),
            value_slots=tuple(
                (k, k[short:]) for k in names if k not in raws and not k.endswith(_METADATA_SLOTS)
            ),
        )
    return info


def display_name(name: str) -> str:
    return name.removeprefix("torch::autograd::")


def attr_text(slot: str, v: Any) -> str:
    """``short_text(v)``, cached for the integer values (strides, padding, groups) that repeat
    across thousands of nodes. Ints only: 1 == 1.0 == True and 0.0 == -0.0 would mix."""
    cls = v.__class__
    if cls is int or cls is bool or cls is tuple and all(type(x) is int for x in v):
        key = (slot, cls, v)
        text = _REPRS.get(key)
        if text is None:
            text = short_text(v)
            if len(_REPRS) < _REPRS_MAX:
                _REPRS[key] = text
        return text
    return short_text(v)


def short_text(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= _MAX_ATTR_TEXT else text[: _MAX_ATTR_TEXT - 1] + "…"


def is_opaque(name: str) -> bool:
    """A node whose inside autograd does not show (a compiled region, a reentrant checkpoint)."""
    return any(m in name for m in _OPAQUE_MARKS)
