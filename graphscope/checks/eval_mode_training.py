"""eval-mode-training: a module switched to ``eval()`` trains again without ``train()``.

Reads ``events.eval_training``: an :class:`~graphscope.model.EvalTraining` is recorded when a
model (or block) that had been training was switched to eval mode (a validation pass inside the
epoch loop), and a later optimizer step updated its parameters while it was still in eval mode:
its dropout layers were off and its BatchNorm layers normalised with frozen running statistics
(and stopped updating them) for every training step after the validation pass. The recorder only
watches ``eval()`` calls that change something (the module holds dropout or normalization layers)
and that come after training steps, so BatchNorm frozen before training (fine-tuning) or at once
after ``model.train()`` is not recorded, nor a ``train()`` that restores the mode.

Warning at the ``eval()`` line, with the first step that trained in eval mode as related; one
finding per ``eval()`` line.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphscope.checks._code import code_or_words
from graphscope.checks._common import optimizer_call
from graphscope.model import AutogradGraph, EvalTraining, Events, Finding, Location

KIND = "eval-mode-training"

_EFFECT = {
    "Dropout": "dropout off",
    "BatchNorm": "BatchNorm's running statistics frozen",
    "InstanceNorm": "InstanceNorm's running statistics frozen",
    "MultiheadAttention": "attention dropout off",
}


def check(graph: AutogradGraph, events: Events) -> Iterator[Finding]:
    """One finding per ``eval()`` line whose module trained on in eval mode."""
    by_line: dict[tuple[str | None, int | None], list[EvalTraining]] = {}
    for e in events.eval_training:
        by_line.setdefault((e.file, e.line), []).append(e)
    for (file, line), found in by_line.items():
        e = found[0]
        steps = sum(x.steps for x in found)
        said = "the optimizer step" if steps == 1 else f"the {steps} optimizer steps"
        times = f" (after {len(found)} such passes)" if len(found) > 1 else ""
        step = optimizer_call(e.optimizer_name, e.optimizer)
        message = (
            f"{e.name}.eval() at line {line} switches {e.name} to eval mode, and {e.name} trains "
            f"again without {e.name}.train(): {said} after it ({step} at line {e.step_line}) "
            f"ran with {_effects(e.layers)}{times}."
        )
        yield Finding(
            kind=KIND,
            severity="warning",
            message=message,
            hint=(
                f"Switch it back before training: call {code_or_words(f'{e.name}.train()')} after the validation "
                f"pass (or at the start of each epoch), so that its {_layers(e.layers)} layers run "
                "in training mode again."
            ),
            file=file,
            line=line,
            related=(Location(e.step_file, e.step_line, "trained in eval mode"),),
        )


def _family(layer: str) -> str:
    for key in _EFFECT:
        if key in layer:
            return key
    return layer


def _effects(layers: tuple[str, ...]) -> str:
    said: list[str] = []
    for layer in layers:
        text = _EFFECT.get(_family(layer))
        if text is not None and text not in said:
            said.append(text)
    if not said:
        return "its layers in eval mode"
    return " and ".join(said) if len(said) <= 2 else ", ".join(said[:-1]) + " and " + said[-1]


def _layers(layers: tuple[str, ...]) -> str:
    names = sorted({_family(x) for x in layers})
    return " and ".join(names) if len(names) <= 2 else ", ".join(names)
