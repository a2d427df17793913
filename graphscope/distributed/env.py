"""Which torchrun rank this process is, read from the environment torchrun sets.

torchrun (torch 2.13) gives each worker ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``LOCAL_WORLD_SIZE``, ``GROUP_RANK`` (the node), ``GROUP_WORLD_SIZE`` (the nodes),
``MASTER_ADDR``/``MASTER_PORT``, ``TORCHELASTIC_RUN_ID``, ``TORCHELASTIC_RESTART_COUNT`` and
``TORCHELASTIC_ERROR_FILE`` (``/tmp/torchelastic_*/<run id>_*/attempt_<n>/<local rank>/error.json``).
Only ``RANK`` and ``WORLD_SIZE`` are required; the rest default as for one node.

>>> info = detect({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"})
>>> info.rank, info.world_size, info.single_node
(1, 2, True)
>>> detect({}) is None
True
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from graphscope.errors import UsageError

__all__ = ["RankInfo", "detect", "wait_timeout", "ENV_TIMEOUT", "DEFAULT_TIMEOUT"]

#: how long rank 0 waits for the other ranks' reports, in seconds (environment variable)
ENV_TIMEOUT = "GRAPHSCOPE_RANK_TIMEOUT"
DEFAULT_TIMEOUT = 300.0

_HELP = (
    "torchrun sets RANK, WORLD_SIZE and LOCAL_RANK for each process; unset them to run "
    "graphscope as one process"
)


@dataclass(frozen=True)
class RankInfo:
    """One process's place in a torchrun job, and a key naming the job's run."""

    rank: int
    world_size: int
    local_rank: int
    local_world_size: int
    node_rank: int
    nodes: int
    run: str  # the same on every rank of one run of one job, different for the next run

    @property
    def single_node(self) -> bool:
        """Every rank on this machine (file handshakes and process checks work)."""
        return self.nodes == 1 and self.local_world_size == self.world_size

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def detect(environ: Mapping[str, str] | None = None) -> RankInfo | None:
    """This process's rank under torchrun, or ``None`` when ``RANK``/``WORLD_SIZE`` are unset.

    Raises :class:`~graphscope.errors.UsageError` for values that are not whole numbers or a
    rank outside ``0 .. WORLD_SIZE-1``.
    """
    env = os.environ if environ is None else environ
    if "RANK" not in env or "WORLD_SIZE" not in env:
        return None
    world = _number(env, "WORLD_SIZE", None, low=1)
    rank = _number(env, "RANK", None, low=0)
    if rank >= world:
        raise UsageError(f"RANK={rank} is not below WORLD_SIZE={world}: {_HELP}")
    local_world = _number(env, "LOCAL_WORLD_SIZE", world, low=1)
    info = RankInfo(
        rank=rank,
        world_size=world,
        local_rank=_number(env, "LOCAL_RANK", rank, low=0),
        local_world_size=local_world,
        node_rank=_number(env, "GROUP_RANK", 0, low=0),
        nodes=_number(env, "GROUP_WORLD_SIZE", 1, low=1),
        run="",
    )
    return RankInfo(**{**info.to_dict(), "run": _run_key(env, info.single_node)})


def wait_timeout(environ: Mapping[str, str] | None = None) -> float:
    """Seconds rank 0 waits for the others (``GRAPHSCOPE_RANK_TIMEOUT``, default 300)."""
    env = os.environ if environ is None else environ
    text = env.get(ENV_TIMEOUT)
    if text is None or text.strip() == "":
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise UsageError(f"{ENV_TIMEOUT} must be a positive number of seconds (got {text!r})")
    return value


def _number(env: Mapping[str, str], key: str, default: int | None, *, low: int) -> int:
    text = env.get(key)
    if text is None and default is not None:
        return default
    try:
        value = int(str(text).strip())
    except ValueError:
        value = low - 1
    if value < low:
        raise UsageError(f"{key}={text!r} is not a whole number of at least {low}: {_HELP}")
    return value


def _run_key(env: Mapping[str, str], single_node: bool) -> str:
    """What tells this run's files from an earlier run's in the same output folder.

    torchrun's run id, rendezvous address, restart count and world size; on one node also the
    folder torchrun made for this attempt's error files (a fresh temporary folder per run, so
    two runs with the default run id ``none`` and the same port still differ).
    """
    parts = [
        env.get(k, "")
        for k in (
            "TORCHELASTIC_RUN_ID",
            "MASTER_ADDR",
            "MASTER_PORT",
            "TORCHELASTIC_RESTART_COUNT",
            "WORLD_SIZE",
        )
    ]
    error_file = env.get("TORCHELASTIC_ERROR_FILE")
    if single_node and error_file:
        parts.append(os.path.dirname(os.path.dirname(error_file)))
    return "|".join(parts)
