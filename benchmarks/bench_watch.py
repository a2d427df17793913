"""Overhead of ``graphscope.watch()`` (recorder + backward capture + gradient tracking) on a
training step, against the plain step, measured in the same run.

Models as in ``bench_recorder.py``: an MLP of 500 x (Linear(64, 64) + ReLU), batch 32 (about
2,500 autograd nodes), and a 2-layer nn.TransformerEncoder (d=64, 4 heads, 16 tokens, batch 8).
One thread; configurations interleaved in shuffled order. Each round opens one ``watch`` (a
training loop): the first step captures the graph (reported on its own), ``--warmup`` steps
later the next ``--iters`` steps are timed (the steady state: the graph is recognised by its
structural fingerprint, the per-op recorder runs on every 10th step).

    .venv/bin/python benchmarks/bench_watch.py [--rounds 5] [--iters 20] [--warmup 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import sys
import time
from collections.abc import Callable

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_recorder import mlp, transformer  # noqa: E402

from graphscope.watcher import watch  # noqa: E402

CONFIGS: dict[str, dict[str, bool] | None] = {
    "plain": None,
    "watch()": {},
    "watch(nonfinite=False)": {"nonfinite": False},
    "watch(recorder=False)": {"recorder": False},
}


def step(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor) -> None:
    opt.zero_grad(set_to_none=True)
    loss = model(x).square().mean()
    loss.backward()
    opt.step()


def run(
    model: nn.Module, x: torch.Tensor, config: dict[str, bool] | None, iters: int, warmup: int
) -> tuple[float, float]:
    """(seconds of the first step, seconds per step over ``iters`` steps after ``warmup``)."""
    opt = torch.optim.SGD(model.parameters(), lr=1e-6)
    ctx = watch(**config) if config is not None else contextlib.nullcontext()  # type: ignore[arg-type]
    with ctx:
        start = time.perf_counter()
        step(model, opt, x)
        first = time.perf_counter() - start
        for _ in range(warmup - 1):
            step(model, opt, x)
        start = time.perf_counter()
        for _ in range(iters):
            step(model, opt, x)
        steady = (time.perf_counter() - start) / iters
    return first, steady


def measure(
    build: Callable[[], tuple[nn.Module, torch.Tensor]], rounds: int, iters: int, warmup: int
) -> dict[str, list[tuple[float, float]]]:
    model, x = build()
    for config in CONFIGS.values():  # warm up every path once
        run(model, x, config, 1, 1)
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in CONFIGS}
    order = list(CONFIGS)
    rng = random.Random(0)
    for _ in range(rounds):
        rng.shuffle(order)
        for name in order:
            times[name].append(run(model, x, CONFIGS[name], iters, warmup))
    return times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print(
        f"watch overhead per training step (torch {torch.__version__}, 1 thread, {args.rounds} rounds; "
        f"steady = {args.iters} steps after {args.warmup} warm-up steps in one watch)"
    )
    print(
        f"{'model':<22} {'configuration':<24} {'first step ms':>13} {'steady ms':>10} "
        f"{'ratio med':>10} {'ratio min':>10}"
    )
    for label, build in (("MLP 500x(Linear+ReLU)", mlp), ("TransformerEncoder x2", transformer)):
        times = measure(build, args.rounds, args.iters, args.warmup)
        base = [t for _, t in times["plain"]]
        base_med, base_min = statistics.median(base), min(base)
        for name, ts in times.items():
            first = statistics.median(f for f, _ in ts)
            steady = [t for _, t in ts]
            med, mn = statistics.median(steady), min(steady)
            print(
                f"{label:<22} {name:<24} {first * 1e3:>13.1f} {med * 1e3:>10.2f} "
                f"{med / base_med:>10.2f} {mn / base_min:>10.2f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
