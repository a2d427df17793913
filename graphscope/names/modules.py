"""The user's names for the modules their code holds, found in the user's frames.

Variables (``model``), the elements of lists, tuples and dicts they hold (``blocks[3]``,
``models['d']``), modules an object keeps as attributes (``trainer.model``) and modules a
module keeps in plain containers (``net.layers[0]``). Nothing is kept: each call looks again.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from types import FrameType, ModuleType
from typing import Any

import torch

from graphscope._tensors import _drop_locals_snapshot, frame_namespaces, is_internal
from graphscope.model import spelled
from graphscope.names.params import params_and_classes

__all__ = ["module_names", "module_name", "object_name", "user_frames"]


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


def module_name(
    frame: FrameType | None, module: torch.nn.Module, *, spell: bool = False
) -> str | None:
    """The user's name for ``module``: as :func:`module_names` finds it, else as a submodule of
    a module found there (``model.encoder`` for a submodule called on its own). That path is
    dotted (``model.blocks.0``, a key of the module tree) unless ``spell``: then it is written
    as the user writes it (``model.blocks[0]``, ``model.heads['cls']``: text for a message)."""
    found = module_names(frame)
    hit = found.get(id(module))
    if hit is not None:
        return hit[0]
    for name, outer in found.values():
        try:
            for sub, m in outer.named_modules():
                if m is module and sub:
                    if not spell:
                        return f"{name}.{sub}"
                    return spelled(f"{name}.{sub}", params_and_classes(name, outer)[1])
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


def object_name(frame: FrameType | None, obj: Any) -> str | None:
    """The user's name for ``obj`` (an optimizer, a scaler): an element of a list, tuple or dict
    a variable holds (``optimizers[0]``, ``opts['d']``), a variable bound to it (``opt``), or an
    attribute of an object a variable holds (``trainer.opt``), searched from the outermost user
    frame (the script) inward, as :func:`module_names` names modules (a hint that names both
    reads in one scope: ``t.opt.add_param_group({"params": t.net.fc.parameters()})``); ``self.opt``
    only when no frame names it otherwise. An element wins
    over a variable of the same frame: a variable bound to an element of a list the code holds
    is mostly a loop's (``for o in optimizers``), which names another optimizer at each pass."""
    seen: set[int] = set()
    late: list[tuple[str, Any]] = []
    for f in user_frames(frame):
        spaces = frame_namespaces(f)
        try:
            fresh = [s for s in spaces if id(s) not in seen]
            seen.update(id(s) for s in fresh)
            hit = _held(fresh, obj, late)
        finally:
            _drop_locals_snapshot(spaces)
        if hit is not None:
            return hit
    return _through_attributes(late, obj)


def _through_attributes(holders: list[tuple[str, Any]], obj: Any) -> str | None:
    """``model.fc``: ``obj`` reached through the attributes of the first holder that has it."""
    for k, v in holders:
        hit = _attr_holding(v, obj)
        if hit is not None:
            return f"{k}.{hit}"
    return None


def _held(spaces: list[Any], obj: Any, late: list[tuple[str, Any]]) -> str | None:
    """``obj``'s name in these namespaces: an element, then a variable, then an attribute;
    ``self`` is put in ``late`` (looked at after every frame)."""
    variable: str | None = None
    holders: list[tuple[str, Any]] = []
    for space in spaces:
        for k, v in list(space.items()):
            if k.startswith("__"):
                continue
            if v is obj:
                variable = variable or str(k)
            elif isinstance(v, (list, tuple, dict)):
                hit = _element_holding(v, obj)
                if hit is not None:
                    return f"{k}{hit}"
            elif k == "self":
                late.append((k, v))
            elif _is_plain_object(v) or isinstance(v, torch.nn.Module):
                holders.append((str(k), v))
    if variable is not None:
        return variable
    return _through_attributes(holders, obj)


def _element_holding(v: Any, obj: Any) -> str | None:
    """``[0]`` / ``['d']``: the index or key of ``obj`` in the list, tuple or dict ``v``."""
    try:
        if isinstance(v, dict):
            for key, inner in list(v.items())[:_MAX_ELEMENTS]:
                if inner is obj and isinstance(key, (str, int)):
                    return f"[{key!r}]"
            return None
        for i, inner in enumerate(v[:_MAX_ELEMENTS]):
            if inner is obj:
                return f"[{i}]"
    except Exception:  # a container that misbehaves names nothing
        return None
    return None


def _attr_holding(v: Any, obj: Any) -> str | None:
    try:
        for attr, inner in list(vars(v).items())[:_MAX_ELEMENTS]:
            if inner is obj:
                return str(attr)
    except Exception:  # no __dict__, or attributes that misbehave: it names nothing
        return None
    return None
