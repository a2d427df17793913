"""Benchmark: graphscope's trace and collapse against a bare walk and torchviz (``make bench``).

For each model of ``benchmarks/models.py`` and each size, measured in the same run, on one
thread: the bare ``next_functions`` walk, ``graphscope.trace.trace`` and torchviz ``make_dot``
(µs per node, best of a few runs), their ratios, the visible node count after
``graphscope.overview.collapse`` with the default budget and how long it took, the layout time
of that collapsed graph with each engine found (system ``dot``, embedded ``graphviz-pure``), and
the peak Python memory of one trace (tracemalloc). A benchmark, not a test: nothing is asserted.

    python benchmarks/run.py [--sizes 1k,10k,50k] [--quick] [--models mlp,loop]
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import shutil
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from models import MODELS, count_nodes  # noqa: E402

from graphscope.options import Options  # noqa: E402
from graphscope.overview import collapse  # noqa: E402

# the module (graphscope/__init__ exports a function of the same name)
gs_trace = importlib.import_module("graphscope.tracer")

TORCHVIZ_BUDGET_S = 60.0  # skip torchviz at 50k when its projected time is above this
LAYOUT_TIMEOUT_S = 120.0

COLUMNS = (
    ("model", "<"),
    ("size", "<"),
    ("nodes", ">"),
    ("bare µs/n", ">"),
    ("trace µs/n", ">"),
    ("torchviz µs/n", ">"),
    ("trace/bare", ">"),
    ("tv/trace", ">"),
    ("visible", ">"),
    ("collapse s", ">"),
    ("dot s", ">"),
    ("gv-pure s", ">"),
    ("trace peak MB", ">"),
)


def parse_size(text: str) -> int:
    text = text.strip().lower()
    return int(float(text[:-1]) * 1000) if text.endswith("k") else int(text)


def best_of(fn: Callable[[], Any], reps: int) -> tuple[float, Any]:
    """Smallest wall time of ``reps`` calls (GC collected before each), and the last result."""
    best, out = float("inf"), None
    for _ in range(reps):
        out = None  # the previous result is freed outside the timed region
        gc.collect()
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def first_trace(name: str, size: int, reps: int) -> tuple[float, Any]:
    """Best of ``reps`` traces, each of a graph just built (the first trace of a graph does
    one-time work, the holds that let torch free it: a repeat would skip it)."""
    best, out = float("inf"), None
    for _ in range(reps):
        out = None
        torch.manual_seed(0)
        loss, model = MODELS[name](size)
        gc.collect()
        t = time.perf_counter()
        out = gs_trace.trace(loss, params=model)
        best = min(best, time.perf_counter() - t)
        del loss, model
    return best, out


def bare_walk(loss: torch.Tensor) -> int:
    return count_nodes(loss)


def engines() -> list[tuple[str, str]]:
    found = []
    dot = shutil.which("dot")
    if dot:
        found.append(("dot", dot))
    pure = shutil.which("graphviz-pure") or str(Path(sys.executable).with_name("graphviz-pure"))
    if os.access(pure, os.X_OK):
        found.append(("gv-pure", pure))
    return found


def to_dot(graph: Any) -> str:
    """DOT for the collapsed graph: graphscope's renderer when present, else a minimal one."""
    try:
        from graphscope.dot import to_dot as render_to_dot
    except ImportError:
        render_to_dot = None
    if render_to_dot is not None:
        return render_to_dot(graph, Options(show_legend=False))
    lines = ["digraph autograd {", "  rankdir=BT; node [shape=box];"]
    for n, d in graph.nodes(data=True):
        label = str(d.get("label") or n).replace('"', "'")
        lines.append(f'  "{n}" [label="{label}"];')
    lines += [f'  "{u}" -> "{v}";' for u, v in graph.edges]
    lines.append("}")
    return "\n".join(lines)


def layout_time(path: str, source: str) -> str:
    t = time.perf_counter()
    try:
        proc = subprocess.run(
            [path, "-Tsvg"], input=source.encode(), capture_output=True, timeout=LAYOUT_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        return f">{LAYOUT_TIMEOUT_S:.0f}"
    if proc.returncode != 0 or not proc.stdout:
        return "failed"
    return f"{time.perf_counter() - t:.2f}"


def torchviz_time(
    loss: torch.Tensor, model: Any, nodes: int, reps: int, projected: float | None
) -> float | str:
    try:
        from torchviz import make_dot
    except ImportError:
        return "not installed"
    if projected is not None and projected > TORCHVIZ_BUDGET_S:
        return "skipped (slow)"
    params = dict(model.named_parameters()) if model is not None else None
    try:
        t, _ = best_of(lambda: make_dot(loss, params=params), reps)
    except RecursionError:
        return "RecursionError"
    return t / nodes * 1e6


def measure(name: str, size: int, reps: int, tv_rate: dict[str, float]) -> dict[str, str]:
    torch.manual_seed(0)
    loss, model = MODELS[name](size)
    bare_s, nodes = best_of(lambda: bare_walk(loss), reps)

    def do_trace() -> Any:
        return gs_trace.trace(loss, params=model)

    trace_s, graph = first_trace(name, size, reps)
    gc.collect()
    tracemalloc.start()
    do_trace()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    projected = tv_rate[name] * nodes / 1e6 if name in tv_rate else None
    tv = torchviz_time(loss, model, nodes, reps, projected if size > 10_000 else None)
    if isinstance(tv, float):
        tv_rate[name] = tv

    collapse_s, shown = best_of(lambda: collapse(graph), 1)
    source = to_dot(shown)
    layouts = {label: layout_time(path, source) for label, path in engines()}

    bare_us = bare_s / nodes * 1e6
    trace_us = trace_s / nodes * 1e6
    row = {
        "model": name,
        "size": f"{size // 1000}k" if size % 1000 == 0 else str(size),
        "nodes": str(nodes),
        "bare µs/n": f"{bare_us:.2f}",
        "trace µs/n": f"{trace_us:.2f}",
        "torchviz µs/n": f"{tv:.2f}" if isinstance(tv, float) else tv,
        "trace/bare": f"{trace_us / bare_us:.1f}",
        "tv/trace": f"{tv / trace_us:.2f}" if isinstance(tv, float) else "-",
        "visible": str(len(shown)),
        "collapse s": f"{collapse_s:.3f}",
        "dot s": layouts.get("dot", "n/a"),
        "gv-pure s": layouts.get("gv-pure", "n/a"),
        "trace peak MB": f"{peak / 2**20:.1f}",
    }
    gc.collect()
    return row


def print_row(values: dict[str, str], widths: dict[str, int]) -> None:
    cells = [
        values[c].ljust(widths[c]) if a == "<" else values[c].rjust(widths[c]) for c, a in COLUMNS
    ]
    print("  ".join(cells).rstrip(), flush=True)


def _raise_stack_limit() -> None:
    """torchviz walks the graph from Python too, and torch 2.13 then frees a 50k-deep graph
    recursively in C++ (autograd-notes §12); graphscope protects the graphs it walks
    (tracer/freeing.py), torchviz does not: for the comparison rows, this benchmark process
    raises its own soft stack limit (Linux grows the main thread's stack up to it)."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
        want = 1 << 30 if hard == resource.RLIM_INFINITY else min(1 << 30, hard)
        if soft != resource.RLIM_INFINITY and soft < want:
            resource.setrlimit(resource.RLIMIT_STACK, (want, hard))
    except (ImportError, ValueError, OSError):
        pass


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--sizes", default="1k,10k,50k", help="comma-separated node counts (1k, 10k, 50k)"
    )
    ap.add_argument("--quick", action="store_true", help="smallest size only, two runs each")
    ap.add_argument(
        "--models", default=",".join(MODELS), help=f"comma-separated, of {', '.join(MODELS)}"
    )
    args = ap.parse_args(argv)
    sizes = sorted(parse_size(s) for s in args.sizes.split(",") if s.strip())
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in names if m not in MODELS]
    if unknown or not sizes:
        ap.error(f"unknown model(s) {unknown}; choose from {', '.join(MODELS)}")
    if args.quick:
        sizes = sizes[:1]
    torch.set_num_threads(1)
    _raise_stack_limit()  # for torchviz's walk: see below
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    found = ", ".join(f"{label}={path}" for label, path in engines()) or "none"
    print(f"torch {torch.__version__}, 1 thread, layout engines: {found}")
    widths = {c: max(len(c), 14 if c == "torchviz µs/n" else 6) for c, _ in COLUMNS}
    widths["model"] = max(len(n) for n in names)
    print_row({c: c for c, _ in COLUMNS}, widths)
    tv_rate: dict[str, float] = {}
    for size in sizes:
        reps = 2 if args.quick else (5 if size <= 10_000 else 3)
        for name in names:
            print_row(measure(name, size, reps, tv_rate), widths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
