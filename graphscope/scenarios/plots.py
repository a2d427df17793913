"""Training-dynamics pictures for the scenarios whose notes draw them (needs matplotlib).

- ``logistic-regression`` (row 11): the two classes with the decision boundary every 20
  iterations, as the notes plot it, and the loss and accuracy at those iterations;
- ``learning-rate`` (row 15): the theta trajectory on the loss curve for each learning rate.

The numbers are not copied from anywhere: row 11 runs the scenario itself and reads the line it
prints every 20 iterations (w0, w1, b, accuracy, loss); row 15 runs :func:`gradient_descent`, the
notes' loop in plain Python. matplotlib is optional (``pip install torch-graphscope[plots]``):
without it the scenarios still run and render, and these pictures are skipped with
:data:`MISSING` as the note (:func:`available`). It is imported lazily and only through its object API with the SVG backend, so no global pyplot state is touched. The SVGs are
byte-for-byte deterministic: fixed ``svg.hashsalt``, no date, text drawn as paths.
"""

from __future__ import annotations

import importlib.util
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphscope.errors import GraphscopeError
from graphscope.scenarios import Scenario, get, run_with_globals

# matplotlib rcParams for every picture (typed Any: matplotlib's stubs want literal keys)
_RC: Any = {"svg.hashsalt": "graphscope", "svg.fonttype": "path", "font.size": 9.0}


@dataclass(frozen=True)
class Snapshot:
    """What the logistic-regression scenario prints every 20 iterations."""

    iteration: int
    w0: float
    w1: float
    b: float
    accuracy: float  # 0..1
    loss: float


_SNAPSHOT = re.compile(r"Iteration: (\d+) w0:(\S+) w1:(\S+) b: (\S+) accuracy:(\S+)% Loss=(\S+)")


def parse_snapshots(stdout: str) -> list[Snapshot]:
    """The ``Iteration: ...`` lines of the logistic-regression output, as numbers.

    >>> parse_snapshots("Iteration: 0 w0:-0.05 w1:-0.46 b: 0.13 accuracy:92.00% Loss=0.3947")
    [Snapshot(iteration=0, w0=-0.05, w1=-0.46, b=0.13, accuracy=0.92, loss=0.3947)]
    """
    snaps = []
    for m in _SNAPSHOT.finditer(stdout):
        it, w0, w1, b, acc, loss = m.groups()
        snaps.append(
            Snapshot(
                int(it), float(w0), float(w1), float(b), round(float(acc) / 100, 6), float(loss)
            )
        )
    return snaps


def _loss(theta: float) -> float:
    try:
        return (theta - 2.5) ** 2 - 1.0
    except OverflowError:
        return math.inf


def gradient_descent(
    initial_theta: float, eta: float, epsilon: float = 1e-8, n_iters: int = 10_000
) -> list[float]:
    """The notes' loop on loss (theta - 2.5)**2 - 1, returning the theta history.

    Stops when the loss changes by less than ``epsilon`` or after ``n_iters`` steps (the notes'
    guarded version: an overflowing loss counts as inf instead of raising).

    >>> len(gradient_descent(0.0, 0.1)), len(gradient_descent(0.0, 0.01))
    (46, 424)
    """
    theta = initial_theta
    history = [theta]
    for _ in range(n_iters):
        last_theta = theta
        theta = theta - eta * 2 * (theta - 2.5)
        history.append(theta)
        if abs(_loss(theta) - _loss(last_theta)) < epsilon:
            break
    return history


#: the note shown where a training-dynamics picture was skipped
MISSING = (
    "the training-dynamics pictures need matplotlib, which is not installed: "
    "pip install torch-graphscope[plots]"
)


def available() -> bool:
    """Whether matplotlib is installed (the pictures can be drawn)."""
    try:
        return importlib.util.find_spec("matplotlib") is not None
    except ValueError:  # a half-imported matplotlib without a spec
        return False


def _matplotlib() -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError as err:
        raise GraphscopeError(MISSING) from err
    return Figure


def _save(fig: Any, path: Path) -> Path:
    import matplotlib

    with matplotlib.rc_context(_RC):
        fig.savefig(path, format="svg", metadata={"Date": None})
    return path


def _logistic_regression(scenario: Scenario, out_dir: Path) -> list[Path]:
    Figure = _matplotlib()
    import matplotlib

    namespace, stdout = run_with_globals(scenario)
    snaps = parse_snapshots(stdout)
    if not snaps:
        raise GraphscopeError(f"{scenario.name} printed no 'Iteration: ...' lines to plot")
    x0, x1 = namespace["x0"].tolist(), namespace["x1"].tolist()
    paths = []

    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(6, 5))
        ax = fig.add_subplot()
        ax.scatter([p[0] for p in x0], [p[1] for p in x0], c="tab:red", s=10, label="class 0")
        ax.scatter([p[0] for p in x1], [p[1] for p in x1], c="tab:blue", s=10, label="class 1")
        xs = [-6 + 0.1 * i for i in range(120)]
        for i, s in enumerate(snaps):
            last = i == len(snaps) - 1
            if s.w1 == 0:
                continue
            ys = [(-s.w0 * x - s.b) / s.w1 for x in xs]
            ax.plot(
                xs,
                ys,
                color="black" if last else "gray",
                alpha=1.0 if last else 0.15 + 0.5 * i / len(snaps),
                linewidth=2 if last else 0.8,
                label=f"boundary at iteration {s.iteration}" if last else None,
            )
        ax.set_xlim(-5, 7)
        ax.set_ylim(-7, 7)
        final = snaps[-1]
        ax.set_title(
            f"Iteration: {final.iteration}\nw0:{final.w0:.2f} w1:{final.w1:.2f} b: {final.b:.2f} "
            f"accuracy:{final.accuracy:.2%} (gray: every 20 iterations)"
        )
        ax.legend(loc="upper right")
        fig.tight_layout()
        paths.append(_save(fig, out_dir / f"{scenario.name}.boundary.svg"))

        fig = Figure(figsize=(6, 3.5))
        ax = fig.add_subplot()
        its = [s.iteration for s in snaps]
        ax.plot(its, [s.loss for s in snaps], color="tab:red", marker="o", markersize=3)
        ax.set_xlabel("iteration")
        ax.set_ylabel("BCE loss", color="tab:red")
        ax2 = ax.twinx()
        ax2.plot(its, [s.accuracy for s in snaps], color="tab:blue", marker="s", markersize=3)
        ax2.axhline(0.99, color="tab:blue", linestyle=":", linewidth=0.8)
        ax2.set_ylabel("accuracy (stops above 0.99)", color="tab:blue")
        ax.set_title("loss and accuracy every 20 iterations")
        fig.tight_layout()
        paths.append(_save(fig, out_dir / f"{scenario.name}.curves.svg"))
    return paths


#: learning rates of row 15, with the step cap the notes use to draw each one
LEARNING_RATES: tuple[tuple[float, int], ...] = (
    (0.1, 10_000),
    (0.01, 10_000),
    (0.001, 10_000),
    (0.8, 10_000),
    (1.1, 10),
)


def _learning_rate(scenario: Scenario, out_dir: Path) -> list[Path]:
    Figure = _matplotlib()
    import matplotlib

    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(12, 3.2))
        axes = fig.subplots(1, len(LEARNING_RATES))
        for ax, (eta, n_iters) in zip(axes, LEARNING_RATES, strict=True):
            history = gradient_descent(0.0, eta, n_iters=n_iters)
            lo, hi = min(-1.0, *history), max(6.0, *history)
            xs = [lo + (hi - lo) * i / 199 for i in range(200)]
            ax.plot(xs, [_loss(x) for x in xs], color="tab:blue", linewidth=1)
            ax.plot(
                history,
                [_loss(t) for t in history],
                color="tab:red",
                marker="+",
                markevery=max(1, len(history) // 80),
                linewidth=0.8,
            )
            if n_iters < 10_000:
                ax.set_title(f"eta={eta}: diverges (first {n_iters} steps)")
            else:
                ax.set_title(f"eta={eta}: {len(history)} entries")
            ax.set_xlabel("theta")
        axes[0].set_ylabel("loss = (theta - 2.5)**2 - 1")
        fig.tight_layout()
        return [_save(fig, out_dir / f"{scenario.name}.trajectories.svg")]


_FIGURES: dict[str, Callable[[Scenario, Path], list[Path]]] = {
    "logistic-regression": _logistic_regression,
    "learning-rate": _learning_rate,
}

#: names of the scenarios that have training-dynamics pictures
FIGURE_SCENARIOS: tuple[str, ...] = tuple(_FIGURES)


def figures(name: str, out_dir: str | Path, *, skip_missing: bool = False) -> list[Path]:
    """Write the training-dynamics SVGs of scenario ``name`` into ``out_dir``; their paths.

    A scenario without pictures gives ``[]``; an unknown name raises UsageError; a missing
    matplotlib raises GraphscopeError with the install command, or gives ``[]`` with
    ``skip_missing`` (the caller shows :data:`MISSING`).
    """
    scenario = get(name)
    make = _FIGURES.get(scenario.name)
    if make is None:
        return []
    if skip_missing and not available():
        return []
    _matplotlib()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return make(scenario, out)


__all__ = [
    "FIGURE_SCENARIOS",
    "LEARNING_RATES",
    "MISSING",
    "available",
    "Snapshot",
    "figures",
    "gradient_descent",
    "parse_snapshots",
]
