"""The benchmark runs (smallest size) and prints its table: a header and one row per model."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_bench_quick_prints_a_row_per_model() -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("model"))
    header = re.split(r"\s{2,}", lines[at].strip())
    for column in ("nodes", "bare µs/n", "trace µs/n", "torchviz µs/n", "visible", "collapse s"):
        assert column in header
    rows = [
        dict(zip(header, re.split(r"\s{2,}", line.strip()), strict=True))
        for line in lines[at + 1 :]
    ]
    assert [r["model"] for r in rows] == ["mlp", "resnet", "transformer", "loop"]
    for r in rows:
        assert r["size"] == "1k"
        assert 500 <= int(r["nodes"]) <= 2000
        assert 0 < int(r["visible"]) <= 300


@pytest.mark.slow
def test_render_bench_quick_prints_a_row_per_program() -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_render.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("program"))
    header = re.split(r"\s{2,}", lines[at].strip())
    assert header == [
        "program",
        "plain s",
        "render s",
        "extra s",
        "extra cpu s",
        "nodes",
        "files",
        "largest",
        "names",
    ]
    rows = [
        dict(zip(header, re.split(r"\s{2,}", line.strip()), strict=True))
        for line in lines[at + 1 :]
    ]
    assert [r["program"].split()[0] for r in rows] == [
        "lstm_loop",
        "gru_module",
        "seq2seq",
        "gpt",
        "unet",
        "transformer_deep",
        "gan",
    ]
    for r in rows:
        assert 0 < int(r["largest"]) <= 50, r  # every picture within the default budget
        assert int(r["files"]) >= 1 and r["names"] == "ok", r
