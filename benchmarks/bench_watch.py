"""Overhead of ``graphscope.watch()`` (recorder + backward capture + gradient tracking) on a
training step, against the plain step, measured in the same run.

Models as in ``bench_recorder.py``: an MLP of 500 x (Linear(64, 64) + ReLU), batch 32 (about
2,500 autograd nodes), and a 2-layer nn.TransformerEncoder (d=64, 4 heads, 16 tokens, batch 8).
One thread; configurations interleaved in shuffled order; each round times ``--iters`` steps
inside one ``watch`` (a training loop: the first step captures the graph, later steps are
recognised by the structural fingerprint).

    .venv/bin/python benchmarks/bench_watch.py [--rounds 11] [--iters 5]
"""

from __future__ import annotations

import argparse
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

from graphscope.watch import watch  # noqa: E402

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


def run(model: nn.Module, x: torch.Tensor, config: dict[str, bool] | None, iters: int) -> float:
    opt = torch.optim.SGD(model.parameters(), lr=1e-6)
    if config is None:
        start = time.perf_counter()
        for _ in range(iters):
            step(model, opt, x)
        return (time.perf_counter() - start) / iters
    start = time.perf_counter()
    with watch(**config):  # type: ignore[arg-type]
        for _ in range(iters):
            step(model, opt, x)
    return (time.perf_counter() - start) / iters


def measure(build: Callable[[], tuple[nn.Module, torch.Tensor]], rounds: int, iters: int) -> dict[str, list[float]]:
    model, x = build()
    for config in CONFIGS.values():  # warm up every path once
        run(model, x, config, 1)
    times: dict[str, list[float]] = {k: [] for k in CONFIGS}
    order = list(CONFIGS)
    rng = random.Random(0)
    for _ in range(rounds):
        rng.shuffle(order)
        for name in order:
            times[name].append(run(model, x, CONFIGS[name], iters))
    return times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--iters", type=int, default=5)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print(f"watch overhead per training step (torch {torch.__version__}, 1 thread, "
          f"{args.rounds} rounds x {args.iters} steps)")
    print(f"{'model':<22} {'configuration':<24} {'median ms':>10} {'min ms':>8} {'ratio med':>10} {'ratio min':>10}")
    for label, build in (("MLP 500x(Linear+ReLU)", mlp), ("TransformerEncoder x2", transformer)):
        times = measure(build, args.rounds, args.iters)
        base_med, base_min = statistics.median(times["plain"]), min(times["plain"])
        for name, ts in times.items():
            med, mn = statistics.median(ts), min(ts)
            print(f"{label:<22} {name:<24} {med * 1e3:>10.2f} {mn * 1e3:>8.2f} {med / base_med:>10.2f} {mn / base_min:>10.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
