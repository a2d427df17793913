"""The names resolver: what the user calls each module and tensor, one place for every room.

A module is named after the user's variable for it (:func:`module_names`: ``model``,
``blocks[3]``, ``trainer.net``), its parameters after the module's name and their
``named_parameters()`` path, written as Python writes it (:func:`graphscope.model.spelled`:
``model[2].weight`` for a ``Sequential``'s third layer, ``heads['cls'].bias`` for a
``ModuleDict``), and other tensors after the variables of the user's frame. ``trace()``,
``watch()`` and the recorder all ask a :class:`Names` table, so the checks' messages and hints,
the pictures, the report and the explorer say the same name for the same tensor.

Module *paths* (the ``module`` attribute of nodes, the boxes of pictures) stay dotted
(``model.2``): they are the keys of the module tree; :func:`graphscope.model.spelled` writes
them for the user wherever they reach text.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Mapping
from types import FrameType
from typing import Any

import torch

from graphscope._tensors import _drop_locals_snapshot, frame_namespaces
from graphscope.model import spelled
from graphscope.names.modules import module_name, module_names, object_name, user_frames
from graphscope.names.params import named_parameters, params_and_classes, unwrap

__all__ = [
    "Names",
    "module_names",
    "module_name",
    "object_name",
    "user_frames",
    "named_parameters",
    "params_and_classes",
    "unwrap",
]

_MAX_HELD = 32  # items of a dict variable looked at for tensors to name
_INDEX = re.compile(r"\.\d")  # a dotted path with an index in it (``model.2``)
#: a dotted path of ASCII identifiers and indices, which :func:`spelled` only brackets
_PLAIN = re.compile(r"[A-Za-z_]\w*(?:\.(?:[A-Za-z_]\w*|\d+))*", re.ASCII)
_INDICES = re.compile(r"\.(\d+)(?=\.|$)")
_DICTS = frozenset({"ModuleDict", "ParameterDict"})  # their keys: spelled ``['key']``


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
    module (``netG.main[2].weight``: the variable, then the ``named_parameters()`` name, as
    Python writes it: :meth:`spell`), then
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
        #: whether ``classes`` holds a ModuleDict/ParameterDict (keys spelled ``['k']``), and the
        #: size of ``classes`` it was found at (one look per growth, not per name spelled)
        self._dicts = False
        self._dicts_at = 0
        self._spelled: dict[str, str] = {}  # module path -> as spelled (_spell_module)

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
        spell = isinstance(params, torch.nn.Module)
        classes = self.classes
        for n, p in items:
            if isinstance(p, torch.Tensor):
                full = f"{prefix}{n}"
                module, _, leaf = full.rpartition(".")
                if not spell:  # a mapping's names are the user's own
                    name = full
                elif module and leaf.isidentifier() and classes.get(module) not in _DICTS:
                    name = f"{self._spell_module(module)}.{leaf}"
                else:
                    name = self.spell(full)
                self.add(name, p, param=True, module=module or None)
                seen.append(id(p))
        return seen

    def spell(self, path: str) -> str:
        """``path`` (a dotted parameter name or module path) as the user writes it:
        :func:`graphscope.model.spelled` with the classes seen (``model[2].weight``)."""
        if len(self.classes) != self._dicts_at:  # classes only grow: look again when they did
            self._dicts_at = len(self.classes)
            values = set(self.classes.values())
            self._dicts = "ModuleDict" in values or "ParameterDict" in values
        if not self._dicts:
            if not _INDEX.search(path):
                return path
            if _PLAIN.fullmatch(path):  # ``layers.0.conv.weight``: the indices bracketed
                return _INDICES.sub(r"[\1]", path)
            return spelled(path)
        return spelled(path, self.classes)

    def _spell_module(self, path: str) -> str:
        """:meth:`spell` for a module path, from its parent's (kept): a module's parameters
        and children share it, so each path costs one step, not a regex over the whole."""
        hit = self._spelled.get(path)
        if hit is None:
            parent, _, part = path.rpartition(".")
            if not parent or not part or "[" in part or "]" in part:
                hit = self.spell(path)
            else:  # what spelled() writes for one more segment
                head = self._spell_module(parent)
                if part.isdigit() or part == "*":
                    hit = f"{head}[{part}]"
                elif not part.isidentifier() or self.classes.get(parent) in _DICTS:
                    hit = f"{head}[{part!r}]"
                else:
                    hit = f"{head}.{part}"
            self._spelled[path] = hit
        return hit

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
            self.add(self.spell(full), p, param=True, module=full.rpartition(".")[0])

    def get(self, t: torch.Tensor) -> str | None:
        return self.name.get(id(t))

    def non_leaf_outputs(self) -> Iterator[tuple[Any, int, int]]:
        """``(grad_fn, output_nr, id(tensor))`` for every named non-leaf tensor."""
        for key, t in self.tensors.items():
            fn = t.grad_fn
            if fn is not None:
                yield fn, int(t.output_nr), key
