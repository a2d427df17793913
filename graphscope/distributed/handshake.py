"""How rank 0 learns that the other ranks finished: files in the output folder.

Each rank writes into its own folder ``OUT/rank<N>/``:

* ``started.json`` before the script runs (run key, pid, host), after removing its own files
  of an earlier run;
* ``report.json`` (its own report, as ``graphscope render`` writes it) and then ``rank.json``
  when it is done: that report with a ``rank`` block naming the run and what the merge
  compares (:func:`graphscope.distributed.merge.rank_report`), written to a temporary file and
  renamed, so a reader never sees half of it.

Rank 0 waits until every rank's ``rank.json`` of this run is there. It stops waiting for a
rank whose process has ended without one (same host: the pid from ``started.json`` is gone: the
rank crashed or was killed), for a rank that wrote no ``started.json`` within the start grace,
at the time limit (``GRAPHSCOPE_RANK_TIMEOUT``), or when ``stop()`` says so (torchrun is
stopping rank 0); the merge then says which ranks are missing and why.

The limit: this is a handshake through one folder. On one node (every ``torchrun
--nproc-per-node`` job) it always works. With several nodes it works only when ``OUT`` is a
folder every node shares (NFS and the like); the pid check is skipped for ranks on other hosts,
which are then waited for until the time limit, and ranks whose node does not share the folder
show up as missing after the start grace (their own files stay in their node's ``OUT``).
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from graphscope.distributed.env import RankInfo
from graphscope.errors import UsageError

__all__ = ["rank_dir", "mark_started", "write_json", "read_report", "wait_for_ranks"]

STARTED = "started.json"
REPORT = "report.json"  # a rank's own report (and, in OUT itself, the merged one)
RECORD = "rank.json"  # a rank's finished record: the handshake
START_GRACE = 60.0  # seconds: a rank that wrote no started.json by then is not coming
POLL = 0.2


def rank_dir(out: str | os.PathLike[str], rank: int) -> Path:
    """``OUT/rank<N>``: where rank ``N`` writes its pictures and report."""
    return Path(out) / f"rank{rank}"


def mark_started(out: Path, info: RankInfo, *, pid: int | None = None) -> None:
    """Before the script runs: drop this rank's record and report of an earlier run (rank 0
    also the merged report) and say this rank started (run key, pid, host, time)."""
    mine = rank_dir(out, info.rank)
    stale = [mine / RECORD, mine / REPORT] + ([out / REPORT] if info.rank == 0 else [])
    try:
        for p in stale:
            p.unlink(missing_ok=True)
    except OSError as err:
        raise UsageError(f"cannot remove {err.filename}: {err.strerror}") from err
    started = {
        "run": info.run,
        "rank": info.rank,
        "pid": os.getpid() if pid is None else pid,
        "host": socket.gethostname(),
        "time": time.time(),
    }
    write_json(mine / STARTED, started)


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """``data`` as JSON at ``path``, atomically (a temporary file renamed over it)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as err:
        raise UsageError(f"cannot write {path}: {err.strerror}") from err


def read_report(out: Path, rank: int, run: str) -> dict[str, Any] | None:
    """Rank ``rank``'s finished record of run ``run``, or ``None`` (not there yet, unreadable,
    or an earlier run's)."""
    data = _read(rank_dir(out, rank) / RECORD)
    block = data.get("rank") if data else None
    if not isinstance(block, dict) or block.get("run") != run or block.get("rank") != rank:
        return None
    return data


def wait_for_ranks(
    out: Path,
    info: RankInfo,
    *,
    timeout: float,
    own: Mapping[str, Any] | None = None,
    grace: float = START_GRACE,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    alive: Callable[[int], bool] | None = None,
    stop: Callable[[], bool] | None = None,
) -> tuple[dict[int, dict[str, Any]], dict[int, str]]:
    """Every rank's report (``own``: this rank's, already in hand), and for each rank that
    wrote none the reason why."""
    alive = alive or process_alive
    host = socket.gethostname()
    reports: dict[int, dict[str, Any]] = {info.rank: dict(own)} if own is not None else {}
    missing: dict[int, str] = {}
    pending = [r for r in range(info.world_size) if r not in reports]
    start = clock()
    while pending:
        waited = clock() - start
        for r in list(pending):
            rep = read_report(out, r, info.run)
            why = None if rep is not None else _gone(out, r, info.run, host, alive, waited, grace)
            if rep is not None or why is not None:
                pending.remove(r)
                if rep is not None:
                    reports[r] = rep
                else:
                    missing[r] = str(why)
        if not pending:
            break
        late = _late_reason(clock() - start, timeout, stop)
        if late is not None:
            missing.update({r: late for r in pending})
            break
        sleep(POLL)
    return reports, missing


def _gone(
    out: Path,
    rank: int,
    run: str,
    host: str,
    alive: Callable[[int], bool],
    waited: float,
    grace: float,
) -> str | None:
    """Why rank ``rank`` will write no report, or ``None`` while it still may."""
    started = _read(rank_dir(out, rank) / STARTED)
    if not started or started.get("run") != run:
        if waited < grace:
            return None
        return (
            f"it wrote nothing into {out} within {grace:g} s (it never started, or it runs on "
            "another node that does not share this folder)"
        )
    pid = started.get("pid")
    if started.get("host") != host or not isinstance(pid, int) or alive(pid):
        return None
    if read_report(out, rank, run) is not None:  # it finished just now
        return None
    return f"its process (pid {pid}) ended without writing a report (it crashed or was killed)"


def _late_reason(waited: float, timeout: float, stop: Callable[[], bool] | None) -> str | None:
    if stop is not None and stop():
        return "torchrun stopped rank 0 while it waited for this rank (another rank failed)"
    if waited >= timeout:
        return f"no report within {timeout:g} s (GRAPHSCOPE_RANK_TIMEOUT sets the limit)"
    return None


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` on this host still runs (a zombie counts as ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, owned by someone else
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] not in (["Z"], ["X"])


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
