"""Parameters and module classes of a module tree, named as ``named_parameters()`` names them.

A DDP / DataParallel / ``torch.compile`` wrapper is looked through: its ``module.`` prefix is not
the user's. The walk is iterative (no generators): several times faster than
``named_parameters()`` on models with thousands of submodules.
"""

from __future__ import annotations

import torch

__all__ = ["unwrap", "named_parameters", "params_and_classes"]


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
        # (read from the instance's dict: a TorchScript module's ``_modules`` is no dict)
        if type(module).__name__ == "OptimizedModule":
            inner = module.__dict__.get("_modules", {}).get("_orig_mod")
            if isinstance(inner, torch.nn.Module):
                module = inner
                continue
        return module


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
