"""graphscope under torchrun: rank detection, the file handshake, the merge (pure, no
processes) and real two-process gloo runs of tests/torchrun/ddp_train.py (slow).

The torchrun runs use ``--standalone`` (a free port picked by torchrun; in torch 2.13
``--master-port 0`` hands port 0 to the workers and hangs), a gloo timeout of 60 s in the script,
GRAPHSCOPE_RANK_TIMEOUT=90 and a hard limit per run after which the whole process group is
killed, so a stuck run fails the test instead of hanging CI.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from graphscope.checks import ranks_differ as rd
from graphscope.checks import run_checks
from graphscope.distributed import detect
from graphscope.distributed.env import wait_timeout
from graphscope.distributed.handshake import (
    mark_started,
    process_alive,
    rank_dir,
    read_report,
    wait_for_ranks,
    write_json,
)
from graphscope.distributed.merge import merge, merged_status, pointer, rank_report, summary
from graphscope.errors import UsageError
from graphscope.model import AutogradGraph, BackwardCall, Events, ScriptError
from graphscope.report import Policy

SCRIPT = Path(__file__).parent / "torchrun" / "ddp_train.py"  # not in scripts/: needs RANK
LIMIT = 240  # seconds for one torchrun run, then its process group is killed
RANK_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK")
UNUSED_TEXT = (
    "Expected to have finished reduction in the prior iteration before starting a new one. "
    "This error indicates that your module has parameters that were not used in producing "
    "loss. You can enable unused parameter detection by passing the keyword argument "
    "`find_unused_parameters=True` to `torch.nn.parallel.DistributedDataParallel`, and by \n"
    "making sure all `forward` function outputs participate in calculating loss. \n"
    "Parameter indices which did not receive grad for rank 1: 4 5\n"
)
TWICE_TEXT = (
    "Expected to mark a variable ready only once. This error is caused by one of the following "
    "reasons: 1) Use of a module parameter outside the `forward` function.\n"
    "Parameter at index 1 with name shared.bias has been marked as ready twice. This means that "
    "multiple autograd engine  hooks have fired for this particular parameter during this "
    "iteration."
)
TORCHRUN_ENV = {
    "RANK": "1",
    "WORLD_SIZE": "2",
    "LOCAL_RANK": "1",
    "LOCAL_WORLD_SIZE": "2",
    "GROUP_RANK": "0",
    "GROUP_WORLD_SIZE": "1",
    "MASTER_ADDR": "localhost",
    "MASTER_PORT": "34533",
    "TORCHELASTIC_RUN_ID": "none",
    "TORCHELASTIC_RESTART_COUNT": "0",
    "TORCHELASTIC_ERROR_FILE": "/tmp/torchelastic_ab/none_x1/attempt_0/1/error.json",
}


def _validate(report: dict[str, Any]) -> None:
    """``report`` matches the shipped JSON Schema of reports."""
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is in the dev extra")
    schema = json.loads(files("graphscope").joinpath("report.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(report)


# -- rank detection ------------------------------------------------------------------------------


def test_no_rank_outside_torchrun() -> None:
    assert detect({}) is None
    assert detect({"RANK": "0"}) is None  # WORLD_SIZE missing: not torchrun
    assert detect({"WORLD_SIZE": "2"}) is None


def test_rank_read_from_torchruns_variables() -> None:
    info = detect(TORCHRUN_ENV)
    assert info is not None
    assert (info.rank, info.world_size, info.local_rank, info.local_world_size) == (1, 2, 1, 2)
    assert (info.node_rank, info.nodes, info.single_node) == (0, 1, True)
    assert info.run == "none|localhost|34533|0|2|/tmp/torchelastic_ab/none_x1/attempt_0"


def test_the_run_key_is_shared_by_the_ranks_of_one_run_and_differs_between_runs() -> None:
    rank0 = dict(TORCHRUN_ENV, RANK="0", LOCAL_RANK="0")
    rank0["TORCHELASTIC_ERROR_FILE"] = "/tmp/torchelastic_ab/none_x1/attempt_0/0/error.json"
    a, b = detect(TORCHRUN_ENV), detect(rank0)
    assert a is not None and b is not None and a.run == b.run
    later = dict(TORCHRUN_ENV, TORCHELASTIC_ERROR_FILE="/tmp/torchelastic_cd/none_y2/attempt_0/1/e")
    assert detect(later).run != a.run  # type: ignore[union-attr]
    restarted = dict(TORCHRUN_ENV, TORCHELASTIC_RESTART_COUNT="1")
    assert detect(restarted).run != a.run  # type: ignore[union-attr]


def test_several_nodes_leave_the_node_local_error_folder_out_of_the_key() -> None:
    env = dict(TORCHRUN_ENV, WORLD_SIZE="4", GROUP_WORLD_SIZE="2", LOCAL_WORLD_SIZE="2")
    info = detect(env)
    assert info is not None and not info.single_node
    assert info.run == "none|localhost|34533|0|4"


def test_defaults_for_the_optional_variables() -> None:
    info = detect({"RANK": "3", "WORLD_SIZE": "4"})
    assert info is not None
    assert (info.local_rank, info.local_world_size, info.node_rank, info.nodes) == (3, 4, 0, 1)


@pytest.mark.parametrize(
    ("env", "text"),
    [
        ({"RANK": "x", "WORLD_SIZE": "2"}, "RANK='x' is not a whole number of at least 0"),
        ({"RANK": "0", "WORLD_SIZE": "0"}, "WORLD_SIZE='0' is not a whole number of at least 1"),
        ({"RANK": "2", "WORLD_SIZE": "2"}, "RANK=2 is not below WORLD_SIZE=2"),
        ({"RANK": "-1", "WORLD_SIZE": "2"}, "RANK='-1' is not a whole number of at least 0"),
        ({"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": ""}, "LOCAL_RANK=''"),
    ],
)
def test_bad_rank_variables_are_a_usage_error(env: dict[str, str], text: str) -> None:
    with pytest.raises(UsageError) as err:
        detect(env)
    assert text in str(err.value) and "unset them to run graphscope as one process" in str(
        err.value
    )
    assert err.value.exit_code == 2


def test_wait_timeout() -> None:
    assert wait_timeout({}) == 300.0
    assert wait_timeout({"GRAPHSCOPE_RANK_TIMEOUT": "2.5"}) == 2.5
    for bad in ("soon", "0", "-3", "inf", "nan"):
        with pytest.raises(UsageError, match="GRAPHSCOPE_RANK_TIMEOUT must be a positive number"):
            wait_timeout({"GRAPHSCOPE_RANK_TIMEOUT": bad})


# -- the handshake -------------------------------------------------------------------------------


def _info(rank: int, world: int = 2, run: str = "run-a") -> Any:
    env = {"RANK": str(rank), "WORLD_SIZE": str(world), "TORCHELASTIC_RUN_ID": run}
    return detect(env)


def _report(rank: int, run: str, **extra: Any) -> dict[str, Any]:
    return {"backward_calls": 1, "rank": {"rank": rank, "run": run, "world_size": 2}, **extra}


class _Clock:
    """A clock that advances by the poll interval at each sleep."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_mark_started_drops_this_ranks_old_files_and_rank0_the_merged_report(
    tmp_path: Path,
) -> None:
    info = _info(0)
    write_json(rank_dir(tmp_path, 0) / "rank.json", _report(0, info.run))
    write_json(rank_dir(tmp_path, 0) / "report.json", {"old": True})
    write_json(tmp_path / "report.json", {"old": True})
    mark_started(tmp_path, info, pid=4321)
    assert not (tmp_path / "rank0" / "rank.json").exists()
    assert not (tmp_path / "rank0" / "report.json").exists()
    assert not (tmp_path / "report.json").exists()
    started = json.loads((tmp_path / "rank0" / "started.json").read_text())
    assert (started["run"], started["rank"], started["pid"]) == (info.run, 0, 4321)
    assert [p.name for p in (tmp_path / "rank0").iterdir()] == ["started.json"]  # no temp left


def test_read_report_wants_this_run_and_rank_and_whole_json(tmp_path: Path) -> None:
    path = rank_dir(tmp_path, 1) / "rank.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"backward_calls": 1, "rank": {"ra')  # half written
    assert read_report(tmp_path, 1, "run-a") is None
    path.write_text(json.dumps({"backward_calls": 1}))  # no rank block
    assert read_report(tmp_path, 1, "run-a") is None
    write_json(path, _report(1, "run-b"))  # an earlier run's
    assert read_report(tmp_path, 1, "run-a") is None
    write_json(path, _report(1, "run-a"))
    assert read_report(tmp_path, 1, "run-a") == _report(1, "run-a")


def test_wait_collects_every_ranks_report(tmp_path: Path) -> None:
    info = _info(0, world=3)
    for r in (1, 2):
        write_json(rank_dir(tmp_path, r) / "rank.json", _report(r, info.run))
    clock = _Clock()
    reports, missing = wait_for_ranks(
        tmp_path, info, timeout=10, own=_report(0, info.run), clock=clock, sleep=clock.sleep
    )
    assert sorted(reports) == [0, 1, 2] and missing == {}
    assert clock.now == 0.0  # nothing to wait for


def test_wait_stops_at_once_for_a_rank_whose_process_ended(tmp_path: Path) -> None:
    info = _info(0)
    mark_started(tmp_path, _info(1), pid=999_999)
    clock = _Clock()
    reports, missing = wait_for_ranks(
        tmp_path, info, timeout=300, own=_report(0, info.run), clock=clock, sleep=clock.sleep,
        alive=lambda pid: pid != 999_999,
    )  # fmt: skip
    assert sorted(reports) == [0]
    assert missing == {
        1: "its process (pid 999999) ended without writing a report (it crashed or was killed)"
    }
    assert clock.now == 0.0


def test_wait_gives_up_on_a_rank_that_never_started_after_the_grace(tmp_path: Path) -> None:
    info = _info(0)
    clock = _Clock()
    _, missing = wait_for_ranks(
        tmp_path, info, timeout=300, grace=5, own=_report(0, info.run), clock=clock,
        sleep=clock.sleep,
    )  # fmt: skip
    assert missing[1].startswith(f"it wrote nothing into {tmp_path} within 5 s")
    assert 5.0 <= clock.now < 5.5


def test_wait_has_a_time_limit_for_a_rank_that_runs_on(tmp_path: Path) -> None:
    info = _info(0)
    mark_started(tmp_path, _info(1), pid=os.getpid())
    clock = _Clock()
    _, missing = wait_for_ranks(
        tmp_path, info, timeout=3, own=_report(0, info.run), clock=clock, sleep=clock.sleep
    )
    assert missing == {1: "no report within 3 s (GRAPHSCOPE_RANK_TIMEOUT sets the limit)"}
    assert 3.0 <= clock.now < 3.5


def test_wait_stops_when_told(tmp_path: Path) -> None:
    info = _info(0)
    mark_started(tmp_path, _info(1), pid=os.getpid())
    clock = _Clock()
    _, missing = wait_for_ranks(
        tmp_path, info, timeout=300, own=_report(0, info.run), clock=clock, sleep=clock.sleep,
        stop=lambda: clock.now > 1,
    )  # fmt: skip
    assert missing[1].startswith("torchrun stopped rank 0 while it waited")
    assert clock.now < 1.5


def test_wait_ignores_an_earlier_runs_files(tmp_path: Path) -> None:
    info = _info(0)
    mark_started(tmp_path, _info(1, run="run-old"), pid=999_999)
    write_json(rank_dir(tmp_path, 1) / "rank.json", _report(1, _info(1, run="run-old").run))
    clock = _Clock()
    _, missing = wait_for_ranks(
        tmp_path, info, timeout=300, grace=2, own=_report(0, info.run), clock=clock,
        sleep=clock.sleep, alive=lambda pid: False,
    )  # fmt: skip
    assert missing[1].startswith("it wrote nothing into")  # not "crashed": not this run's pid


def test_process_alive() -> None:
    assert process_alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not process_alive(child.pid)


def test_sigterm_while_rank0_waits_stops_the_wait_not_the_process() -> None:
    from graphscope.distributed import _sigterm_flag

    before = signal.getsignal(signal.SIGTERM)
    with _sigterm_flag() as stopped:
        assert not stopped()
        os.kill(os.getpid(), signal.SIGTERM)
        assert stopped()
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.slow
def test_python_dash_m_graphscope_is_the_command_line() -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "graphscope", "--help"], capture_output=True, text=True, env=env,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0
    assert proc.stdout.startswith("Usage: graphscope [OPTIONS] COMMAND [ARGS]...")


# -- rank reports and the merge (pure) -----------------------------------------------------------


def _graph(gid: str, calls: list[int], *, aux: bool = True, batch: int = 5) -> AutogradGraph:
    """The graph of ddp_train.py's model: ``aux`` reached or not."""
    g = AutogradGraph()
    g.graph.update(id=gid, roots=["n0"], calls=calls, call=calls[0])
    g.add_node("n0", kind="tensor", label="loss", name="loss", role="root", shape=())
    g.add_node("n1", kind="op", label="AddmmBackward0", name="AddmmBackward0", file="t.py",
               line=22, module="head")  # fmt: skip
    g.add_node("n2", kind="tensor", label="head.weight", name="head.weight", role="param",
               shape=(2, 8), reached=True)  # fmt: skip
    g.add_node("n3", kind="tensor", label="aux.weight", name="aux.weight", role="param",
               shape=(2, 8), reached=aux)  # fmt: skip
    g.add_node("n4", kind="tensor", label="x", name="x", role="leaf", shape=(batch, 4))
    g.add_edges_from([("n2", "n1"), ("n1", "n0"), ("n4", "n1")])
    if aux:
        g.add_node("n5", kind="op", label="AddBackward0", name="AddBackward0", file="t.py",
                   line=23, module="Net")  # fmt: skip
        g.add_edges_from([("n3", "n5"), ("n5", "n0")])
    return g


def _calls(n: int, line: int = 31) -> list[BackwardCall]:
    return [
        BackwardCall(
            i, "backward", "t.py", line, ("loss",), ((),), (True,), False, False, False, "g1"
        )
        for i in range(1, n + 1)
    ]


def _rank(
    rank: int, graphs: list[AutogradGraph], findings: list[dict[str, Any]] | None = None, **kw: Any
) -> dict[str, Any]:
    info = detect({"RANK": str(rank), "WORLD_SIZE": "2", "TORCHELASTIC_RUN_ID": "r"})
    error, status = kw.pop("error", None), kw.pop("status", 0)
    base = {
        "schema": 1,
        "graphscope": "0.1.0",
        "script": "t.py",
        "backward_calls": sum(len(g.graph["calls"]) for g in graphs),
        "graphs": [
            {
                "id": g.graph["id"],
                "calls": g.graph["calls"],
                "nodes": len(g),
                "edges": g.number_of_edges(),
                "file": f"out/rank{rank}/t.{g.graph['id']}.svg",
            }  # fmt: skip
            for g in graphs
        ],
        "findings": list(findings or []),
        "error": error,
        "exit_code": error["exit_code"] if error else 0,
        "status": status,
    }
    n = max([c for g in graphs for c in g.graph["calls"]] or [0])
    return rank_report(
        base, graphs, _calls(n), info, status=status, path=f"out/rank{rank}/report.json", **kw
    )


def _finding(kind: str = "no-grad-param", line: int = 31, **kw: Any) -> dict[str, Any]:
    return {"kind": kind, "severity": "warning", "message": "m", "hint": "h", "file": "t.py",
            "line": line, "node": "n3", "graph": "g1", "related": [], "badge": None, **kw}  # fmt: skip


def test_rank_report_adds_the_rank_block_and_what_the_merge_compares() -> None:
    rep = _rank(1, [_graph("g1", [1, 2, 3])], notes=["a note"])
    assert rep["rank"] == {
        "rank": 1, "world_size": 2, "local_rank": 1, "local_world_size": 2, "node_rank": 0,
        "nodes": 1, "run": "r||||2", "status": 0, "notes": ["a note"],
        "report": "out/rank1/report.json",
    }  # fmt: skip
    g = rep["graphs"][0]
    assert g["site"] == ["t.py", 31]
    assert g["outline"] == {
        "ops": [["AddBackward0", "t.py", 23, "Net"], ["AddmmBackward0", "t.py", 22, "head"]],
        "reached": ["aux.weight", "head.weight"],
        "unreached": [],
    }
    assert len(g["structure"]) == 16
    assert g["structure"] == _rank(0, [_graph("g1", [1, 2, 3])])["graphs"][0]["structure"]
    assert g["structure"] != _rank(0, [_graph("g1", [1, 2, 3], batch=4)])["graphs"][0]["structure"]
    assert json.loads(json.dumps(rep)) == rep  # JSON-ready


def test_identical_graphs_across_ranks_are_one_graph_standing_for_both() -> None:
    reports = {r: _rank(r, [_graph("g1", [1, 2, 3])], [_finding()]) for r in (0, 1)}
    merged = merge(reports, 2)
    assert [r["backward_calls"] for r in merged["ranks"]] == [3, 3]
    assert merged["backward_calls"] == 6
    assert len(merged["graphs"]) == 1
    g = merged["graphs"][0]
    assert (g["id"], g["ranks"], g["file"]) == ("g1", [0, 1], "out/rank0/t.g1.svg")
    assert g["members"] == [
        {"rank": 0, "graph": "g1", "calls": [1, 2, 3], "file": "out/rank0/t.g1.svg"},
        {"rank": 1, "graph": "g1", "calls": [1, 2, 3], "file": "out/rank1/t.g1.svg"},
    ]
    assert [(f["kind"], f["ranks"], f["graph"]) for f in merged["findings"]] == [
        ("no-grad-param", [0, 1], "g1")
    ]
    assert merged["missing"] == [] and merged["error"] is None
    assert merged_status(merged) == merged["status"] == 1  # a warning
    _validate(merged)


def test_different_graphs_are_listed_each_with_its_rank_and_merged_ids() -> None:
    reports = {
        0: _rank(0, [_graph("g1", [1])]),
        1: _rank(1, [_graph("g1", [1], aux=False)], [_finding(line=31)]),
    }
    merged = merge(reports, 2)
    assert [
        (g["id"], g["ranks"], [m["graph"] for m in g["members"]]) for g in merged["graphs"]
    ] == [
        ("g1", [0], ["g1"]),
        ("g2", [1], ["g1"]),
    ]
    f = {f["kind"]: f for f in merged["findings"]}
    assert (f["no-grad-param"]["ranks"], f["no-grad-param"]["graph"]) == ([1], "g2")
    differ = f["ranks-differ"]
    assert (differ["ranks"], differ["severity"], differ["line"]) == ([1], "info", 23)
    assert differ["message"] == (
        "Rank 1 built a different autograd graph than rank 0 at backward call 1: only rank 0's "
        "backward reached aux.weight; only rank 0 ran line 23 (AddBackward0 in Net)."
    )


def test_ranks_differ_is_a_warning_when_ddp_failed_on_a_rank() -> None:
    bad = _finding("ddp-unused-param", severity="error")
    reports = {0: _rank(0, [_graph("g1", [1])]), 1: _rank(1, [_graph("g1", [1], aux=False)], [bad])}
    kinds = {f["kind"]: f for f in merge(reports, 2)["findings"]}
    assert kinds["ranks-differ"]["severity"] == "warning"
    assert [f["kind"] for f in merge(reports, 2)["findings"]] == [
        "ddp-unused-param",
        "ranks-differ",
    ]


def test_shapes_alone_do_not_make_ranks_differ() -> None:
    reports = {0: _rank(0, [_graph("g1", [1])]), 1: _rank(1, [_graph("g1", [1], batch=3)])}
    merged = merge(reports, 2)
    assert len(merged["graphs"]) == 2  # drawn apart: not the same graph
    assert merged["findings"] == []  # but the same program
    assert merged_status(merged) == 0


def test_errors_of_the_ranks_merge_by_their_first_line() -> None:
    err = {"type": "RuntimeError", "message": UNUSED_TEXT, "file": "t.py", "line": 29,
           "how": "raised", "exit_code": 1, "traceback": "Traceback ..."}  # fmt: skip
    other = dict(err, message=UNUSED_TEXT.replace("rank 1", "rank 0"))
    reports = {0: _rank(0, [], error=other, status=1), 1: _rank(1, [], error=err, status=1)}
    merged = merge(reports, 2)
    _validate(merged)
    assert merged["error"]["ranks"] == [0, 1]
    assert (merged["exit_code"], merged["status"]) == (1, 1)
    text = summary(merged)
    assert text.splitlines()[-1] == (
        "ranks 0, 1 raised RuntimeError: Expected to have finished reduction in the prior "
        "iteration before starting a new one. This error indicates that your module has "
        "parameters that were not used in producing loss. You can enable unuse... (t.py:29)"
    )


def test_missing_ranks_are_named_and_fail_the_job() -> None:
    merged = merge({0: _rank(0, [_graph("g1", [1])])}, 2, {1: "it crashed"})
    _validate(merged)
    assert merged["missing"] == [{"rank": 1, "reason": "it crashed"}]
    assert merged_status(merged) == 1
    assert "rank 1 is missing from this report: it crashed" in summary(merged).splitlines()


def test_the_policy_applies_to_cross_rank_findings_and_the_status() -> None:
    reports = {0: _rank(0, [_graph("g1", [1])]), 1: _rank(1, [_graph("g1", [1], aux=False)])}
    bad = {0: reports[0], 1: {**reports[1], "findings": [_finding()]}}  # a warning on rank 1
    assert merge(bad, 2)["status"] == 1
    assert merge(bad, 2, policy=Policy(fail_on="error"))["status"] == 0
    assert [f["kind"] for f in merge(bad, 2)["findings"]] == ["no-grad-param", "ranks-differ"]
    ignored = merge(bad, 2, policy=Policy(ignore=("ranks-differ",)))
    assert [f["kind"] for f in ignored["findings"]] == ["no-grad-param"]
    info = merge(reports, 2, policy=Policy(fail_on="info"))
    assert [f["kind"] for f in info["findings"]] == ["ranks-differ"] and info["status"] == 1


def test_the_merged_status_keeps_a_ranks_own_exit_status() -> None:
    merged = merge({0: _rank(0, [], status=0), 1: _rank(1, [], status=3)}, 2)
    assert merged_status(merged) == 3


def test_summary_and_pointer_text() -> None:
    found = [_finding("ddp-unused-param", severity="error", message="M.", hint="H.")]
    reports = {r: _rank(r, [_graph("g1", [1, 2, 3])], found) for r in (0, 1)}
    merged = merge(reports, 2)
    assert summary(merged, engine="dot", written="out/report.json").splitlines() == [
        "graphscope: 2 ranks, 6 backward calls (rank 0: 3, rank 1: 3), 1 distinct graph, "
        "layout by dot",
        "  g1: 6 nodes, stands for ranks 0, 1 (calls 1-3 on each): out/rank0/t.g1.svg",
        "  each rank's files and report: out/rank0/, out/rank1/",
        "  wrote out/report.json",
        "findings: 1",
        "  error: ddp-unused-param at t.py:31 (ranks 0, 1): M.",
        "    fix: H.",
    ]
    assert pointer(reports[1], "out/report.json") == (
        "graphscope: rank 1 of 2: 3 backward calls, 1 distinct graph, 1 finding, wrote "
        "out/rank1/; rank 0 prints the merged summary (out/report.json)"
    )


def test_graphs_with_different_calls_name_each_ranks_calls() -> None:
    reports = {0: _rank(0, [_graph("g1", [1, 2])]), 1: _rank(1, [_graph("g1", [1])])}
    line = summary(merge(reports, 2)).splitlines()[1]
    assert (
        line == "  g1: 6 nodes, stands for rank 0 (calls 1-2), rank 1 (calls 1): out/rank0/t.g1.svg"
    )


# -- ranks-differ on outlines (pure) -------------------------------------------------------------


def _outlined(ops: list[list[Any]], reached: list[str], calls: list[int]) -> dict[str, Any]:
    return {"calls": calls, "outline": {"ops": ops, "reached": reached, "unreached": []},
            "site": ["t.py", 31]}  # fmt: skip


def test_the_largest_group_is_the_reference() -> None:
    same = _outlined([["MulBackward0", "t.py", 5, ""]], ["w"], [1])
    odd = _outlined([["MulBackward0", "t.py", 5, ""], ["AddBackward0", "t.py", 7, "m"]], ["w"], [1])
    found = list(rd.across_ranks({0: [odd], 1: [same], 2: [same]}))
    assert len(found) == 1
    finding, ranks = found[0]
    assert ranks == [0]
    assert finding.message == (
        "Rank 0 built a different autograd graph than ranks 1, 2 at backward call 1: "
        "only rank 0 ran line 7 (AddBackward0 in m)."
    )
    assert (finding.file, finding.line, finding.severity) == ("t.py", 7, "info")


def test_the_modules_of_the_differing_ops_are_written_as_the_user_indexes_them() -> None:
    same = _outlined([["MulBackward0", "t.py", 5, ""]], ["w"], [1])
    odd = _outlined(
        [["MulBackward0", "t.py", 5, ""], ["AddmmBackward0", "t.py", 7, "model.blocks.2.0"]],
        ["w"],
        [1],
    )
    ((finding, _),) = rd.across_ranks({0: [odd], 1: [same], 2: [same]})
    assert finding.message.endswith(
        "only rank 0 ran line 7 (AddmmBackward0 in model.blocks[2][0])."
    )


def test_ranks_compare_at_the_calls_they_all_made() -> None:
    a = _outlined([["MulBackward0", "t.py", 5, ""]], ["w"], [1, 2])
    b = _outlined([["MulBackward0", "t.py", 5, ""]], ["w"], [1])
    c = _outlined([["DivBackward0", "t.py", 9, ""]], ["w"], [2])
    assert list(rd.across_ranks({0: [a], 1: [b]})) == []  # rank 1 stopped early: no difference
    found = list(rd.across_ranks({0: [a], 1: [b, c]}))
    assert "at backward call 2" in found[0][0].message
    assert list(rd.across_ranks({0: [a], 1: []})) == []  # a rank with no graph: nothing to compare


def test_a_rank_alone_shows_no_difference() -> None:
    assert list(rd.check(_graph("g1", [1]), Events())) == []


# -- the DDP checks (pure) -----------------------------------------------------------------------


def _ddp_events(text: str, *, line: int = 29, failed_call: bool = False) -> Events:
    calls = _calls(1)
    if failed_call:
        calls = [BackwardCall(1, "backward", "t.py", 31, ("loss",), ((),), (True,), False, False,
                              False, "g1", text.splitlines()[0][:300], "RuntimeError")]  # fmt: skip
    return Events(backward=calls, error=ScriptError("RuntimeError", text, "t.py", line))


def test_ddp_unused_param_names_the_unreached_parameters() -> None:
    found = run_checks([_graph("g1", [1], aux=False)], _ddp_events(UNUSED_TEXT))
    assert [f.kind for f in found] == ["ddp-unused-param"]  # the no-grad-param is the same cause
    f = found[0]
    assert (f.severity, f.file, f.line, f.node, f.graph) == ("error", "t.py", 31, "n3", "g1")
    assert f.message == (
        "DistributedDataParallel waited for the gradients of aux.weight, but the backward at "
        "line 31 never reached it, so DDP's gradient reduction never finished and the next "
        "forward (line 29) raised (DDP's message lists them by index: 4 5)."
    )
    assert f.hint.startswith("Make the loss use aux.weight at every step")
    assert "find_unused_parameters=True" in f.hint and "static_graph=True" in f.hint
    assert [(r.line, r.what) for r in f.related] == [(29, "DDP raised here")]


def test_ddp_unused_param_prefers_the_names_ddp_gives() -> None:
    text = UNUSED_TEXT + "Parameters which did not receive grad for rank 1: aux.bias, aux.weight\n"
    f = run_checks([_graph("g1", [1], aux=False)], _ddp_events(text))[0]
    assert "the gradients of aux.bias and aux.weight, but" in f.message
    assert f.node == "n3"  # aux.weight is in the graph


def test_ddp_unused_param_from_the_error_alone() -> None:
    f = run_checks([], _ddp_events(UNUSED_TEXT))[0]
    assert (f.kind, f.node, f.line) == ("ddp-unused-param", None, 31)
    assert "the gradients of some parameters" in f.message


def test_no_ddp_finding_without_ddps_error() -> None:
    found = run_checks([_graph("g1", [1], aux=False)], Events(backward=_calls(1)))
    assert [f.kind for f in found] == ["no-grad-param"]


def test_ddp_param_ready_twice_names_the_parameter_and_the_checkpoints() -> None:
    g = AutogradGraph()
    g.graph.update(id="g1", roots=["n0"], calls=[1], call=1)
    g.add_node("n0", kind="tensor", label="loss", name="loss", role="root", shape=())
    for n, line in (("n1", 20), ("n2", 21)):
        g.add_node(n, kind="op", label="CheckpointFunction", name="CheckpointFunction",
                   file="t.py", line=line, opaque=True)  # fmt: skip
    g.add_node("n3", kind="tensor", label="shared.bias", name="shared.bias", role="param",
               shape=(4,), reached=False)  # fmt: skip
    g.add_edges_from([("n2", "n1"), ("n1", "n0")])
    found = run_checks([g], _ddp_events(TWICE_TEXT, line=31, failed_call=True))
    assert [f.kind for f in found] == ["ddp-param-ready-twice"]
    f = found[0]
    assert (f.line, f.node, f.graph) == (31, "n3", "g1")
    assert f.message == (
        "DistributedDataParallel got the gradient of shared.bias twice in the backward at line "
        "31: the graph holds 2 reentrant checkpoint segments (lines 20, 21), each running a "
        "backward of its own through shared.bias, and DDP lets each parameter be ready only "
        "once per iteration."
    )
    assert "use_reentrant=False" in f.hint and "static_graph=True" in f.hint


@pytest.mark.slow  # a process group (world size 1) in this process
def test_a_ddp_wrapped_model_is_drawn_and_named_as_the_model_itself(tmp_path: Path) -> None:
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from graphscope import watch

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = torch.nn.Linear(4, 8)
            self.head = torch.nn.Linear(8, 2)
            self.aux = torch.nn.Linear(8, 2)  # unused

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(torch.relu(self.encoder(x)))

    def picture(wrap: bool) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        torch.manual_seed(0)
        model = Net()  # named by the variable that holds it, wrapped or not
        if wrap:
            model = DistributedDataParallel(model, find_unused_parameters=True)
        x = torch.randn(3, 4)
        with watch() as scope:
            loss = model(x).sum()
            loss.backward()
        g = scope.captures[0]
        nodes = sorted(
            (str(d.get("kind")), str(d.get("name")), str(d.get("module")))
            for _, d in g.nodes(data=True)
            if d.get("name") != "_DDPSink"  # DDP's own node (find_unused_parameters=True)
        )
        findings = sorted((f.kind, f.message) for f in scope.findings)
        return nodes, findings

    store = tmp_path / "store"
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=0, world_size=1)
    try:
        wrapped, plain = picture(True), picture(False)
    finally:
        dist.destroy_process_group()
    assert wrapped == plain
    nodes, findings = wrapped
    names = {n for k, n, _ in nodes if k == "tensor"}
    # named from the user's variable (the wrapper's), DDP's own module. prefix left out
    assert {"model.encoder.weight", "model.head.bias", "model.aux.weight", "loss"} <= names
    assert {m for k, _, m in nodes if k == "op"} >= {"model.encoder", "model.head", "model"}
    assert [k for k, _ in findings] == ["no-grad-param"]  # one finding for both aux parameters
    assert all("module." not in m for _, m in findings)


# -- real two-process runs (gloo on CPU) ---------------------------------------------------------


def _bin() -> Path:
    return Path(sys.executable).parent


def _torchrun(cwd: Path, *command: str, env: dict[str, str] | None = None) -> Any:
    """``torchrun --standalone --nproc-per-node 2 COMMAND...`` in ``cwd``, killed whole after
    LIMIT seconds."""
    full = dict(os.environ, OMP_NUM_THREADS="1", GRAPHSCOPE_RANK_TIMEOUT="90", **(env or {}))
    full["PATH"] = f"{_bin()}{os.pathsep}{full.get('PATH', '')}"
    for key in RANK_VARS:
        full.pop(key, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
           "2", "--max-restarts", "0", *command]  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=LIMIT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"torchrun did not finish in {LIMIT} s:\n{out}\n{err[-3000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    shutil.copy(SCRIPT, tmp_path / "ddp_train.py")
    return tmp_path


def _line(marker: str) -> int:
    """The line of ddp_train.py that ends with ``# marker``."""
    lines = SCRIPT.read_text().splitlines()
    return next(i for i, text in enumerate(lines, 1) if text.endswith(f"# {marker}"))


def _summary_of(stdout: str) -> list[str]:
    return stdout[stdout.index("graphscope: 2 ranks,") :].splitlines()


def _svg_texts(path: Path) -> set[str]:
    root = ET.parse(path).getroot()
    return {"".join(t.itertext()).strip() for t in root.iter("{http://www.w3.org/2000/svg}text")}


@pytest.mark.slow
def test_two_ranks_write_their_own_files_and_rank0_merges(work: Path) -> None:
    run = _torchrun(work, "-m", "graphscope", "render", "ddp_train.py", "ok", "-o", "out")
    assert run.returncode == 0, run.stderr[-3000:]
    out = work / "out"
    for r in (0, 1):
        rep = json.loads((out / f"rank{r}" / "report.json").read_text())
        _validate(rep)  # each rank's own report, as graphscope render writes it
        assert (rep["backward_calls"], rep["findings"], rep["status"]) == (3, [], 0)
        assert rep["graphs"][0]["file"] == f"out/rank{r}/ddp_train.g1.svg"
        record = json.loads((out / f"rank{r}" / "rank.json").read_text())
        assert (record["rank"]["rank"], record["rank"]["world_size"]) == (r, 2)
        assert record["rank"]["report"] == f"out/rank{r}/report.json"
        texts = _svg_texts(out / f"rank{r}" / "ddp_train.g1.svg")
        # inside the model's box names are shown relative to it: encoder.weight, not model.…
        assert {"encoder.weight", "head.bias", "aux.weight", "loss"} <= texts
        assert not any("module." in t for t in texts)  # DDP's prefix stripped everywhere
    merged = json.loads((out / "report.json").read_text())
    _validate(merged)
    assert (merged["status"], merged["exit_code"], merged["world_size"]) == (0, 0, 2)
    assert [(r["rank"], r["backward_calls"], r["status"]) for r in merged["ranks"]] == [
        (0, 3, 0),
        (1, 3, 0),
    ]
    assert [(g["id"], g["ranks"]) for g in merged["graphs"]] == [("g1", [0, 1])]
    assert merged["findings"] == [] and merged["missing"] == []
    assert run.stdout.count("graphscope: 2 ranks,") == 1  # one summary, by rank 0
    assert run.stdout.count("graphscope: rank 1 of 2:") == 1  # one line from rank 1
    assert "graphscope: rank 0 of 2" not in run.stdout
    assert _summary_of(run.stdout) == [
        "graphscope: 2 ranks, 6 backward calls (rank 0: 3, rank 1: 3), 1 distinct graph"
        + _layout(run.stdout),
        "  g1: 17 nodes, stands for ranks 0, 1 (calls 1-3 on each): out/rank0/ddp_train.g1.svg",
        "  each rank's files and report: out/rank0/, out/rank1/",
        "  wrote out/report.json",
        "findings: none",
    ]


def _layout(stdout: str) -> str:
    first = _summary_of(stdout)[0]
    return first[first.index(", layout by") :] if ", layout by" in first else ""


@pytest.mark.slow
def test_ddp_unused_parameters_explained_with_names_and_ranks(work: Path) -> None:
    run = _torchrun(work, "--no-python", "graphscope", "render", "ddp_train.py", "unused",
                    "-o", "out", "--format", "dot")  # fmt: skip
    assert run.returncode == 1
    merged = json.loads((work / "out" / "report.json").read_text())
    _validate(merged)
    assert merged["status"] == 1
    [f] = merged["findings"]
    back, fwd = _line("backward"), _line("forward")
    assert (f["kind"], f["severity"], f["ranks"], f["line"]) == (
        "ddp-unused-param", "error", [0, 1], back
    )  # fmt: skip
    assert f["message"] == (
        f"DistributedDataParallel waited for the gradients of model.aux.weight and "
        f"model.aux.bias, but the "
        f"backward at line {back} never reached them, so DDP's gradient reduction never "
        f"finished and the next forward (line {fwd}) raised (DDP's message lists them by "
        "index: 4 5)."
    )
    assert merged["error"]["ranks"] == [0, 1]
    assert merged["error"]["message"].startswith(UNUSED_TEXT.split(" This")[0])
    lines = _summary_of(run.stdout)
    assert f"  error: ddp-unused-param at ddp_train.py:{back} (ranks 0, 1): {f['message']}" in lines


@pytest.mark.slow
def test_a_rank_that_takes_another_branch_is_named_with_where(work: Path) -> None:
    run = _torchrun(work, "-m", "graphscope", "render", "ddp_train.py", "branch", "-o", "out",
                    "--format", "dot")  # fmt: skip
    assert run.returncode == 1
    merged = json.loads((work / "out" / "report.json").read_text())
    _validate(merged)
    assert [(g["id"], g["ranks"]) for g in merged["graphs"]] == [("g1", [0]), ("g2", [1])]
    kinds = {f["kind"]: f for f in merged["findings"]}
    assert set(kinds) == {"ddp-unused-param", "ranks-differ"}
    assert kinds["ddp-unused-param"]["ranks"] == [1]
    differ = kinds["ranks-differ"]
    short, long = _line("the short way"), _line("the long way")
    assert (differ["ranks"], differ["severity"], differ["line"]) == ([1], "warning", short)
    assert differ["message"] == (
        "Rank 1 built a different autograd graph than rank 0 at backward call 1: only rank 0's "
        f"backward reached model.aux.bias and model.aux.weight; only rank 0 ran line {long} "
        "(AddBackward0, AddmmBackward0, TBackward0 in model, model.aux, model.head); only rank 1 "
        f"ran line {short} (AddmmBackward0, TBackward0 in model.head)."
    )
    errors = {r["rank"]: r["error"] for r in merged["ranks"]}
    assert errors[1]["message"].startswith("Expected to have finished reduction")
    assert errors[0] is not None  # rank 0 lost its peer in the reduction: gloo's own error


@pytest.mark.slow
def test_gradients_are_bit_identical_with_and_without_graphscope(work: Path) -> None:
    (work / "plain").mkdir()
    (work / "watched").mkdir()
    plain = _torchrun(work, "ddp_train.py", "ok", "plain")
    assert plain.returncode == 0, plain.stderr[-3000:]
    watched = _torchrun(work, "-m", "graphscope", "render", "ddp_train.py", "ok", "watched",
                        "-o", "out", "--format", "dot")  # fmt: skip
    assert watched.returncode == 0, watched.stderr[-3000:]
    for r in (0, 1):
        a = (work / "plain" / f"grads{r}.pt").read_bytes()
        b = (work / "watched" / f"grads{r}.pt").read_bytes()
        assert len(a) > 1000 and a == b
    # the ranks' prints may share a line (two processes, one pipe): find them anywhere
    losses = sorted(re.findall(r"rank (\d): loss (\d+\.\d+)", plain.stdout))
    assert [r for r, _ in losses] == ["0", "1"]
    assert sorted(re.findall(r"rank (\d): loss (\d+\.\d+)", watched.stdout)) == losses


@pytest.mark.slow
def test_a_rank_that_dies_is_reported_missing(work: Path) -> None:
    out = work / "out"
    run = _torchrun(work, "-m", "graphscope", "render", "ddp_train.py", "crash", "-o", "out",
                    env={"GRAPHSCOPE_TEST_OUT": str(out)})  # fmt: skip
    assert run.returncode != 0
    merged = json.loads((out / "report.json").read_text())
    _validate(merged)
    assert [r["rank"] for r in merged["ranks"]] == [0]
    [missing] = merged["missing"]
    assert missing["rank"] == 1
    assert missing["reason"] in (
        "torchrun stopped rank 0 while it waited for this rank (another rank failed)",
        f"its process (pid {json.loads((out / 'rank1' / 'started.json').read_text())['pid']}) "
        "ended without writing a report (it crashed or was killed)",
    )
    assert f"rank 1 is missing from this report: {missing['reason']}" in _summary_of(run.stdout)
