"""Overhead of :class:`graphscope.recorder.Recorder` on forward+backward.

Two models, as in the autograd notes (section 0, overhead table): an MLP of 500 x
(Linear(64, 64) + ReLU) on a batch of 32 (about 2,500 autograd nodes), and a 2-layer
nn.TransformerEncoder (d=64, 4 heads, 16 tokens, batch 8). One thread; the configurations are
interleaved in shuffled order over the rounds, and each round times ``--iters`` steps.

    .venv/bin/python benchmarks/bench_recorder.py [--rounds 15] [--iters 3] [--profile]

Prints, per model and configuration, the median and min time per step and their ratios to
the plain run.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook
from torch.overrides import BaseTorchFunctionMode

from graphscope.model import Events
from graphscope.recorder import Recorder

CONFIGS: dict[str, dict[str, bool] | str | None] = {
    "plain": None,
    "floor: empty mode": "mode",  # a pass-through TorchFunctionMode, nothing recorded
    "floor: no-op hooks": "hooks",  # global module pre/post hooks that do nothing
    "recorder": {},
    "recorder, no modules": {"modules": False},
    "recorder, no inplace": {"inplace": False},
}


def mlp() -> tuple[nn.Module, torch.Tensor]:
    layers: list[nn.Module] = []
    for _ in range(500):
        layers += [nn.Linear(64, 64), nn.ReLU()]
    return nn.Sequential(*layers), torch.randn(32, 64)


def transformer() -> tuple[nn.Module, torch.Tensor]:
    layer = nn.TransformerEncoderLayer(64, 4, dim_feedforward=128, batch_first=True)
    return nn.TransformerEncoder(layer, 2, enable_nested_tensor=False), torch.randn(8, 16, 64)


def step(model: nn.Module, x: torch.Tensor) -> None:
    model.zero_grad(set_to_none=True)
    loss = model(x).square().mean()
    loss.backward()


class _Floor:
    """What any recorder of this design pays: an empty mode, or no-op global module hooks."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.handles: list[Any] = []
        self.mode = BaseTorchFunctionMode()

    def install(self) -> None:
        if self.what == "mode":
            self.mode.__enter__()
        else:
            self.handles = [
                register_module_forward_pre_hook(lambda m, i: None),
                register_module_forward_hook(lambda m, i, o: None, always_call=True),
            ]

    def uninstall(self) -> None:
        if self.what == "mode":
            self.mode.__exit__(None, None, None)
        for h in self.handles:
            h.remove()


def run(
    model: nn.Module, x: torch.Tensor, config: dict[str, bool] | str | None, iters: int
) -> float:
    """Seconds per step, the recorder (if any) installed around the whole batch of steps."""
    rec: Any = None
    if isinstance(config, str):
        rec = _Floor(config)
    elif config is not None:
        rec = Recorder(Events(), **config)
    if rec is not None:
        rec.install()
    try:
        t0 = time.perf_counter()
        for _ in range(iters):
            step(model, x)
        return (time.perf_counter() - t0) / iters
    finally:
        if rec is not None:
            rec.uninstall()


def bench(
    name: str, make: Callable[[], tuple[nn.Module, torch.Tensor]], rounds: int, iters: int
) -> None:
    torch.manual_seed(0)
    model, x = make()
    for config in CONFIGS.values():  # warm up every path
        run(model, x, config, 1)
    times: dict[str, list[float]] = {k: [] for k in CONFIGS}
    order = list(CONFIGS)
    for _ in range(rounds):
        random.shuffle(order)
        for k in order:
            times[k].append(run(model, x, CONFIGS[k], iters))
    base_med = statistics.median(times["plain"])
    base_min = min(times["plain"])
    print(f"\n{name}")
    print(f"  {'config':<22} {'median ms':>10} {'min ms':>8} {'ratio med':>10} {'ratio min':>10}")
    for k, ts in times.items():
        med, lo = statistics.median(ts), min(ts)
        print(
            f"  {k:<22} {med * 1e3:>10.2f} {lo * 1e3:>8.2f} {med / base_med:>10.2f} {lo / base_min:>10.2f}"
        )


def profile(make: Callable[[], tuple[nn.Module, torch.Tensor]]) -> None:
    model, x = make()
    run(model, x, {}, 1)
    prof = cProfile.Profile()
    prof.enable()
    run(model, x, {}, 5)
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(15)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument(
        "--profile", action="store_true", help="cProfile the recorder on the MLP instead"
    )
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.profile:
        profile(mlp)
        return
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"{args.rounds} rounds x {args.iters} steps"
    )
    bench("MLP 500 x (Linear(64,64)+ReLU), batch 32", mlp, args.rounds, args.iters)
    bench(
        "TransformerEncoder x2, d=64, 16 tokens, batch 8", transformer, args.rounds, args.iters * 10
    )


if __name__ == "__main__":
    main()
