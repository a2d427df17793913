"""graphscope under ``torchrun``: one capture per rank, and one merged report by rank 0.

``torchrun --nproc-per-node 2 -m graphscope render train.py -o out`` (or ``torchrun
--no-python graphscope render ...``) runs one graphscope per rank. Each rank

* finds its rank in the environment (:func:`detect`; ``RANK``, ``WORLD_SIZE``, ...),
* runs the script and draws its graphs into its own folder ``out/rank<N>/`` (so ranks never
  overwrite each other's files) with its own ``report.json``,
* and, for ranks other than 0, prints one line pointing at rank 0's summary.

Rank 0 then waits (:mod:`~graphscope.distributed.handshake`: files in ``out``, with a time
limit, robust to a rank that crashed) for every rank's report, writes the merged
``out/report.json`` (:mod:`~graphscope.distributed.merge`) and prints one summary: backward calls
per rank, distinct graphs (identical graphs across ranks listed once, with the ranks they stand
for), findings with the ranks that hit them.

Exit status: rank 0's is the job's (:func:`~graphscope.distributed.merge.merged_status`: 1 when
any rank raised, has an error or warning finding, or is missing). The other ranks exit 0 once
their report is written: torchrun stops every rank as soon as one exits non-zero, which would
kill rank 0 before it merged.

Parameter names and module paths of a ``DistributedDataParallel``-wrapped model are the wrapped
model's (``head.weight``, not ``module.head.weight``), as in DDP's own error messages.

This package imports no torch: the script runs in :mod:`graphscope.runner`.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphscope.distributed.env import RankInfo, detect, wait_timeout
from graphscope.distributed.handshake import (
    RECORD,
    REPORT,
    mark_started,
    rank_dir,
    wait_for_ranks,
    write_json,
)
from graphscope.distributed.merge import merge, pointer, rank_report, summary

if TYPE_CHECKING:
    from graphscope.report import Policy

__all__ = [
    "RankInfo",
    "detect",
    "rank_dir",
    "merge",
    "summary",
    "render_ranked",
]


def render_ranked(
    script: str | os.PathLike[str],
    args: Sequence[str],
    info: RankInfo,
    *,
    out: str | os.PathLike[str] = "graphscope-out",
    policy: Policy | None = None,
    progress: Callable[[str], None] | None = None,
    echo: Callable[[str], None] = print,
    **render: Any,
) -> int:
    """``graphscope render`` on one rank: prints its lines with ``echo`` (the one-line pointer
    on ranks other than 0, the merged summary on rank 0) and returns its exit status.
    ``render`` holds the other keyword arguments of :func:`graphscope.runner.render_script`."""
    from graphscope.runner import render_script

    base = Path(out)  # as the user wrote it, for what we print
    root = Path(os.path.abspath(out))  # what we write through: the script may chdir
    timeout = wait_timeout()  # a bad value is reported before the script runs
    mark_started(root, info)
    mine = rank_dir(base, info.rank)
    record = rank_dir(root, info.rank) / RECORD
    quiet = progress if info.rank == 0 else None  # one terminal, one voice
    report = render_script(script, args, out=mine, policy=policy, progress=quiet, **render)
    skipped = report.skipped()  # torchrun's SIGTERM (or ^C) stopped this rank's drawing
    notes = [*report.scope.notes, *([skipped.removeprefix("graphscope: ")] if skipped else [])]
    data = rank_report(
        report.to_dict(),
        report.scope.captures,
        report.scope.events.backward,
        info,
        status=report.status,
        notes=notes,
        path=str(mine / REPORT),
    )
    merged_path = base / REPORT
    if info.rank != 0:
        echo(pointer(data, str(merged_path)))  # before the record: rank 0 prints after it
        write_json(record, data)
        return 0
    write_json(record, data)
    with _sigterm_flag() as flag:
        stop = (lambda: True) if skipped else flag  # already stopped: merge what is there
        reports, missing = wait_for_ranks(root, info, timeout=timeout, own=data, stop=stop)
    merged = merge(reports, info.world_size, missing, policy)
    write_json(root / REPORT, merged)
    echo(summary(merged, engine=report.engine, written=str(merged_path)))
    return int(merged["status"])


@contextmanager
def _sigterm_flag() -> Iterator[Callable[[], bool]]:
    """While rank 0 waits, torchrun's SIGTERM (another rank failed) stops the wait instead of
    the process, so the merge of what arrived is still written; restored afterwards."""
    hit: list[Any] = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    old = signal.signal(signal.SIGTERM, lambda signum, frame: hit.append(signum))
    try:
        yield lambda: bool(hit)
    finally:
        signal.signal(signal.SIGTERM, old)
