"""The debugger on the mistakes people ask about, written as forum training loops
(tests/scripts/debugger/): each is run by ``graphscope check --json`` in a subprocess and must
report its cause (kind, severity, line, related lines, the user's names, the hint for that
cause); each legitimate pattern must stay clean (exit 0); and every script's gradients (or
outputs, for the ones that fail before any gradient) are byte-identical with and without
graphscope (``torch.save`` dumps, see _dump.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
SCRIPTS = HERE / "scripts" / "debugger"
ROOT = HERE.parent


@dataclass(frozen=True)
class Expect:
    kind: str
    severity: str
    line: int
    related: tuple[int, ...]  # lines of the related locations, in order
    names: tuple[str, ...]  # texts the message must hold (the user's names)
    hint: str  # text the hint must hold


BUGS: dict[str, Expect] = {
    "rnn_hidden_carried": Expect(
        "graph-freed",
        "error",
        24,
        (26, 26),
        ("through h", "line 24", "previous batch"),
        "`h = h.detach()`",
    ),
    "rnn_retain_graph_grows": Expect(
        "graph-grows",
        "warning",
        19,
        (21,),
        ("state carries the previous batch's graph", "(line 19)", "from 16 to 46", "6 calls"),
        "`state = tuple(t.detach() for t in state)`",
    ),
    "nonleaf_weight": Expect(
        "nonleaf-grad-access",
        "warning",
        21,
        (11,),
        ("W.grad is None", "Line 11", "(mul)"),
        "`W = (torch.randn(3, 1) * 0.01).requires_grad_()`",
    ),
    "no_grad_fn_no_grad": Expect(
        "no-grad-fn",
        "error",
        16,
        (20,),
        ("loss", "torch.no_grad() block at line 16"),
        "outside `with torch.no_grad():`",
    ),
    "no_grad_fn_set_grad_enabled": Expect(
        "no-grad-fn",
        "error",
        13,
        (20,),
        ("torch.set_grad_enabled(False) at line 13",),
        "torch.set_grad_enabled(True)",
    ),
    "no_grad_fn_inference_mode": Expect(
        "no-grad-fn",
        "error",
        14,
        (22,),
        ("torch.inference_mode() block at line 14",),
        "outside torch.inference_mode()",
    ),
    "no_grad_fn_detach": Expect(
        "no-grad-fn",
        "error",
        15,
        (18,),
        (".detach() at line 15",),
        "Remove the .detach()",
    ),
    "inplace_relu_after_sigmoid": Expect(
        "saved-tensor-modified",
        "error",
        12,  # where the in-place module is made: the fix goes there
        (20, 20),  # the forward line that wrote in place, and the saver
        ("`model[2]` (ReLU(inplace=True))", "the output of `model[1]` (Sigmoid)"),
        "write `nn.ReLU()` at line 12",
    ),
    "silent_data_clamp": Expect(
        "saved-tensor-modified",
        "error",
        18,
        (17,),
        ("clamp_() at line 18", "into h", "sigmoid", "torch will not warn"),
        "out of place",
    ),
    "silent_weight_clip": Expect(
        "saved-tensor-modified",
        "error",
        18,
        (16,),
        ("clamp_() at line 18", "model[2].weight", "torch will not warn"),
        "after backward() and optimizer.step()",
    ),
    "silent_numpy_write": Expect(
        "saved-tensor-modified",
        "error",
        14,
        (13,),
        ("NumPy array", ".numpy()", "softmax", "torch will not warn"),
        "out of place",
    ),
    "silent_set_alias": Expect(
        "saved-tensor-modified",
        "error",
        14,
        (11,),
        ("mul_() at line 14", "act", "tanh", "torch will not warn"),
        "out of place",
    ),
    "silent_storage_write": Expect(
        "saved-tensor-modified",
        "error",
        11,
        (9,),
        ("storage", ".untyped_storage()", "exp", "torch will not warn"),
        "out of place",
    ),
    "nan_after_some_steps": Expect(
        "nonfinite-grad",
        "error",
        16,
        (),
        ("NaN", "log_softmax", "at backward call 3"),
        "lower the learning rate",
    ),
    "total_loss_kept_alive": Expect(
        "graph-kept-alive",
        "warning",
        20,
        (),
        ("total_loss", "Line 20"),
        "`total_loss += loss.item()`",
    ),
    "losses_list_kept_alive": Expect(
        "graph-kept-alive",
        "warning",
        19,
        (),
        ("losses keeps the loss of every iteration",),
        "`losses.append(loss.item())`",
    ),
    "head_replaced_after_optimizer": Expect(
        "param-not-in-optimizer",
        "warning",
        22,
        (30, 29),
        ("model.head.bias, model.head.weight", "built at line 22"),
        "add_param_group",
    ),
    "zero_grad_before_step": Expect(
        "zeroed-before-step",
        "warning",
        16,
        (17, 15),
        ("optimizer.zero_grad() at line 16", "optimizer.step() at line 17", "(5 steps)"),
        "`optimizer.zero_grad()`, then `loss.backward()`, then `optimizer.step()`",
    ),
    "forgot_zero_grad": Expect(
        "grad-accumulation",
        "warning",
        18,
        (19,),
        (
            "The gradients of 40 parameters",
            "model[0].bias, model[0].weight",
            "model[38].weight",
            "3 optimizer steps (optimizer.step() at line 19)",
        ),
        "Call `optimizer.zero_grad()` (or set .grad = None)",
    ),
    "amp_scale_never_settles": Expect(
        "amp-overflow",
        "warning",
        19,
        (22,),
        (
            "skipped 20 of 20 optimizer.step() calls",
            "matmul (MmBackward0) on line 19",
            "never updated",
        ),
        "torch.nn.functional.normalize(z, dim=-1)",
    ),
    "eval_without_train": Expect(
        "eval-mode-training",
        "warning",
        23,
        (22,),
        (
            "model.eval() at line 23",
            "without model.train()",
            "dropout off",
            "the 8 optimizer steps after it (optimizer.step() at line 22)",
        ),
        "call `model.train()` after the validation pass",
    ),
}

LEGIT = [
    "legit_gan",
    "legit_micro_batches",
    "legit_frozen_backbone",
    "legit_gradient_penalty",
    "legit_lbfgs",
    "legit_manual_sgd",
    "legit_checkpoint",
    "legit_torch_func",
    "legit_eval_transformer",
    "legit_wgan_gp_one_line",
    "legit_penalty_in_loss_expression",
    "legit_hessian",
    "legit_gradgradcheck",
    "legit_amp_warmup",
    "legit_amp_gan",
    "legit_eval_validation",
    "legit_frozen_bn",
    "legit_tbptt_detach",
    "legit_growing_detached",
    "legit_grads_assigned",
    "legit_compiled_adamw",
    "legit_compiled_configure_optimizers",
]


def test_every_script_has_an_expectation() -> None:
    scripts = {p.stem for p in SCRIPTS.glob("*.py")} - {"_dump"}
    assert scripts == set(BUGS) | set(LEGIT)


def _run(cmd: list[str], dump: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, GS_DUMP=str(dump), OMP_NUM_THREADS="1")
    return subprocess.run(
        cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600, check=False
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return {"dir": tmp_path_factory.mktemp("debugger")}


def _both(runs: dict[str, Any], name: str) -> tuple[int, dict[str, Any], bytes, bytes]:
    """``(exit code, JSON report, plain dump, graphscope dump)`` of one script, run once."""
    if name not in runs:
        script = str(SCRIPTS / f"{name}.py")
        # the same file name in two folders: torch.save names the archive after the file
        plain_dump, gs_dump = (
            runs["dir"] / "plain" / f"{name}.pt",
            runs["dir"] / "gs" / f"{name}.pt",
        )
        plain_dump.parent.mkdir(exist_ok=True)
        gs_dump.parent.mkdir(exist_ok=True)
        _run([sys.executable, script], plain_dump)
        res = _run([sys.executable, "-m", "graphscope", "check", script, "--json"], gs_dump)
        report = json.loads(res.stdout)
        runs[name] = (res.returncode, report, plain_dump.read_bytes(), gs_dump.read_bytes())
    return runs[name]  # type: ignore[no-any-return]


def _serious(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["severity"] in ("error", "warning")]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BUGS))
def test_the_cause_is_reported(name: str, runs: dict[str, Any]) -> None:
    code, report, _, _ = _both(runs, name)
    e = BUGS[name]
    assert code == 1
    serious = _serious(report)
    assert [f["kind"] for f in serious] == [e.kind], serious  # one finding, for the cause
    f = serious[0]
    assert (f["severity"], Path(f["file"]).name, f["line"]) == (e.severity, f"{name}.py", e.line)
    assert tuple(r["line"] for r in f["related"]) == e.related, f["related"]
    assert all(Path(r["file"]).name == f"{name}.py" for r in f["related"])
    for text in e.names:
        assert text in f["message"], (text, f["message"])
    assert e.hint in f["hint"], f["hint"]
    assert "AccumulateGrad" not in f["message"] and "retain_grad()" not in f["hint"]


@pytest.mark.slow
@pytest.mark.parametrize("name", LEGIT)
def test_legitimate_patterns_stay_clean(name: str, runs: dict[str, Any]) -> None:
    code, report, _, _ = _both(runs, name)
    assert code == 0, report["findings"]
    assert _serious(report) == [] and report["error"] is None
    assert report["backward_calls"] >= 1


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BUGS) + LEGIT)
def test_gradients_are_byte_identical_with_and_without_graphscope(
    name: str, runs: dict[str, Any]
) -> None:
    _, _, plain, watched = _both(runs, name)
    assert len(plain) > 100  # a torch.save file with tensors in it
    assert plain == watched


@pytest.mark.slow
def test_the_silent_write_really_changes_the_gradient(tmp_path: Path) -> None:
    """What graphscope reports is real: without the .data write the gradient differs, and
    torch itself says nothing (the plain run exits 0)."""
    script = (SCRIPTS / "silent_data_clamp.py").read_text()
    fixed = tmp_path / "silent_data_clamp.py"
    fixed.write_text(script.replace("    h.data.clamp_(0.3, 0.7)\n", ""))
    (tmp_path / "_dump.py").write_text((SCRIPTS / "_dump.py").read_text())
    (tmp_path / "bad").mkdir()
    (tmp_path / "good").mkdir()
    bad = _run([sys.executable, str(SCRIPTS / "silent_data_clamp.py")], tmp_path / "bad" / "g.pt")
    _run([sys.executable, str(fixed)], tmp_path / "good" / "g.pt")
    assert bad.returncode == 0 and bad.stderr == ""
    assert (tmp_path / "bad" / "g.pt").read_bytes() != (tmp_path / "good" / "g.pt").read_bytes()


# -- in process: what the picture shows, and findings read while the program runs ---------------


def _scope(name: str) -> Any:
    from graphscope.script import run_script

    return run_script(SCRIPTS / f"{name}.py", []).scope


@pytest.mark.slow
def test_the_freed_graph_drawn_is_the_previous_batch() -> None:
    scope = _scope("rnn_hidden_carried")
    g = scope.captures[-1]  # the graph of the failing call: this batch plus the previous one
    finding = next(f for f in scope.findings if f.kind == "graph-freed")
    assert finding.graph == g.graph["id"] and g.nodes[finding.node]["freed"]
    ops = [g.nodes[n] for n in g.op_nodes()]
    freed = [d for d in ops if d.get("freed")]
    # this batch starts at its embedding lookup, the newer of the two in forward order
    start = max(d["order"] for d in ops if d["name"] == "EmbeddingBackward0")
    current = [d for d in ops if d["order"] >= start]
    assert freed and current
    assert not any(d.get("freed") for d in current)  # this batch's ops are not greyed
    assert all(d["order"] < start for d in freed)  # what is freed is the earlier batch's


def test_findings_read_inside_the_block_are_not_frozen() -> None:
    import torch

    import graphscope

    w = torch.tensor([1.0], requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.1)
    with graphscope.watch() as scope:
        (w * 2).sum().backward()
        opt.step()
        assert scope.findings == []  # read inside the block, before the bug happens
        (w * 3).sum().backward()
        opt.step()
        inside = scope.findings
        (w * 4).sum().backward()
    assert [f.kind for f in inside] == ["grad-accumulation"]
    after = scope.findings
    assert [(f.kind, f.severity) for f in after] == [("grad-accumulation", "warning")]
    assert "3 backward calls" in after[0].message or "across 2" in after[0].message
    assert after[0].message != inside[0].message  # the third call is counted now
