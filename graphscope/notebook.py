"""How a notebook shows graphscope's objects, registered from above the things it shows.

The vocabulary (:class:`~graphscope.model.AutogradGraph`) and the watcher
(:class:`~graphscope.watcher.Scope`) import no drawing room, so they carry no ``_repr_html_``
of their own. Instead ``import graphscope`` inside IPython (Jupyter, the IPython shell) calls
:func:`register`, which hands IPython's display formatters a function per class, *by name*:
nothing is imported until an object is shown.

* an ``AutogradGraph`` shows as the explorer (``text/html``: the page in a sandboxed iframe)
  with its overview picture beside it (``image/svg+xml``, what front-ends that strip scripts
  show), both from one layout: a :class:`graphscope.draw.Drawing`;
* a ``Scope`` shows as its report, then one explorer per distinct graph;
* a ``Drawing`` (``graphscope.render(loss)`` without a path) shows itself.

Outside IPython :func:`register` does nothing.
"""

from __future__ import annotations

import html
import sys
from typing import Any

__all__ = ["graph_bundle", "register", "scope_html"]

#: (module, class name) -> the IPython formatter it is given to, and the function
_GRAPH = ("graphscope.model.graph", "AutogradGraph")
_SCOPE = ("graphscope.watcher.scope", "Scope")


def graph_bundle(graph: Any) -> dict[str, str]:
    """An ``AutogradGraph``'s display: explorer, SVG picture and its repr."""
    from graphscope.draw import Drawing

    bundle = Drawing(graph)._repr_mimebundle_()
    bundle["text/plain"] = repr(graph)
    return bundle


def scope_html(scope: Any) -> str:
    """A ``Scope``'s display: its report, then one explorer per distinct graph."""
    from graphscope.draw import Drawing
    from graphscope.explorer import notebook_html

    parts = [f"<pre>{html.escape(scope.report())}</pre>"]
    for g in scope.graphs():
        parts.append(notebook_html(Drawing(g).html()))
    return "\n".join(parts)


def register(shell: Any = None) -> bool:
    """Give IPython's display formatters our functions (``shell``: the running IPython shell,
    found when not given); False when there is none."""
    if shell is None:
        ipython = sys.modules.get("IPython")
        get = getattr(ipython, "get_ipython", None)
        try:
            shell = get() if get is not None else None
        except Exception:  # a half-imported or exotic IPython: no display, no error
            shell = None
    formatter = getattr(shell, "display_formatter", None)
    if formatter is None:
        return False
    formatter.mimebundle_formatter.for_type_by_name(*_GRAPH, graph_bundle)
    formatter.formatters["text/html"].for_type_by_name(*_SCOPE, scope_html)
    return True
