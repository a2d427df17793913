"""Which parameters an optimizer updates, by the tensors it holds, not by their names.

A model rebuilt after the optimizer was built has parameters with the same names as the ones
the optimizer holds (``model.fc.weight`` both times): the optimizer steps tensors that no
backward call reaches, and the new model never trains. Two models of one class stepped by one
optimizer, or a fresh model and optimizer per fold, are fine. A backbone frozen on purpose
(``requires_grad_(False)``, or features computed once before the loop) is not a finding;
a trainable one forgotten in the optimizer is. Scripts in ``tests/scripts/optimizers/``, run
under ``watch`` in this process.
"""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

import graphscope
from graphscope.model import Finding

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "tests" / "scripts" / "optimizers"


def _findings(name: str) -> list[Finding]:
    with graphscope.watch() as scope:
        runpy.run_path(str(SCRIPTS / name), run_name="__main__")
    return scope.findings


def test_a_model_rebuilt_after_the_optimizer_was_built_is_found_by_its_tensors() -> None:
    (f,) = _findings("rebuilt.py")  # no 'never zeroed' grad-accumulation: opt.zero_grad() ran
    assert (f.kind, f.severity, f.line) == ("param-not-in-optimizer", "warning", 17)
    assert f.message.startswith(
        "model.body.bias, model.body.weight, model.fc.bias, model.fc.weight (of model.body, "
        "model.fc) received gradients from the backward call at line 22, but no optimizer step "
        "updates them: opt (SGD), built at line 17, holds 4 parameters that no backward call "
        "reached, so they never change (was the model rebuilt after the optimizer was built?)."
    )
    assert f.hint.endswith('`opt.add_param_group({"params": model.parameters()})`.')
    assert len(f.marked) == 4


@pytest.mark.parametrize("name", ["folds.py", "twins.py", "frozen.py"])
def test_same_names_in_the_optimizer_and_a_frozen_backbone_are_clean(name: str) -> None:
    # folds: model and opt rebuilt together at each fold; twins: two Sequentials of one shape
    # (same parameter paths) in one optimizer; frozen: backbone.requires_grad_(False)
    assert _findings(name) == []


def test_a_trainable_backbone_left_out_of_the_optimizer_is_found() -> None:
    (f,) = _findings("forgot.py")
    assert (f.kind, f.line) == ("param-not-in-optimizer", 7)
    assert f.message.startswith("backbone[0].bias, backbone[0].weight (of backbone[0]) received")
    # the whole Sequential (its ReLU has no parameters): the module the user holds
    assert f.hint.endswith('`opt.add_param_group({"params": backbone.parameters()})`.')


def test_a_replaced_head_is_named_and_only_its_parameters_are_added() -> None:
    (f,) = _findings("replaced_head.py")
    assert (f.kind, f.line) == ("param-not-in-optimizer", 17)
    assert f.message.startswith("model.fc.bias, model.fc.weight (of model.fc) received")
    assert "opt (SGD), built at line 17, holds other parameters" in f.message
    assert f.hint.endswith('`opt.add_param_group({"params": model.fc.parameters()})`.')


def test_a_detached_head_in_a_module_dict_is_named_as_the_user_indexes_it() -> None:
    (f,) = _findings("detached_head.py")
    assert (f.kind, f.line) == ("no-grad-param", 20)
    assert (
        "model.heads['aux'].bias, model.heads['aux'].weight (module model.heads['aux'])"
        in f.message
    )


def test_features_from_a_frozen_backbone_are_one_finding() -> None:
    """The backbone left out of the optimizer on purpose is graph-freed's cause (its fix,
    torch.no_grad(), takes the backbone's gradient away): no param-not-in-optimizer too."""
    script = ROOT / "tests" / "fixes" / "graph-freed-features-frozen" / "broken.py"
    proc = subprocess.run(
        [sys.executable, "-m", "graphscope", "check", "--json", str(script)],
        capture_output=True,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        timeout=600,
        check=False,
    )
    report = json.loads(proc.stdout)
    assert [(f["kind"], f["line"]) for f in report["findings"]] == [("graph-freed", 11)]
    assert "(backbone.bias, backbone.weight)" in report["findings"][0]["hint"]
