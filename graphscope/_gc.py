"""One context manager: pause the cyclic garbage collector around graphscope's bulk work."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["gc_paused"]

#: containers allocated during a pause above which they skip the young generations (a capture
#: of a graph of several thousand nodes; a small one leaves the collector as it was)
PROMOTE_AFTER = 100_000


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector around graphscope's own bulk work (walks, summaries,
    collapsing): with a big graph alive each full collection rescans millions of objects, and
    a 50k-node capture would trigger several (seconds). Only defers collection: what runs
    inside is graphscope's bookkeeping (at most a module's own ``named_parameters``), which
    makes no reference cycles.

    After a big pause, the hundreds of thousands of containers just made (the graph's
    attribute dicts, which live as long as the graph) would cost a young collection of 10-20%
    of the capture at the next allocation: they are moved straight to the oldest generation
    instead (``freeze`` + ``unfreeze``, two list splices). Nothing is lost: any garbage among
    the young objects is collected by the next full collection. Skipped when the program has
    frozen objects of its own (``unfreeze`` would release them).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if gc.get_count()[0] > PROMOTE_AFTER and gc.get_freeze_count() == 0:
                gc.freeze()
                gc.unfreeze()
            gc.enable()
