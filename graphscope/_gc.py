"""One context manager: pause the cyclic garbage collector around graphscope's bulk work."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["gc_paused"]


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector around graphscope's own bulk work (walks, summaries,
    collapsing): with a big graph alive each full collection rescans millions of objects, and
    a 50k-node capture would trigger several (seconds). Only defers collection: what runs
    inside is graphscope's bookkeeping (at most a module's own ``named_parameters``), which
    makes no reference cycles. The collector is left exactly as it was found (nothing frozen,
    no generation moved: the program's own objects are not ours to touch).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
