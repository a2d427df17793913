"""The catalogue of torch's autograd errors (graphscope/checks/catalogue.py): every entry matches
its own example and no earlier entry claims it; the script's error is explained by the entry
that matches it; an autograd error no entry matches is an ``info`` finding quoting torch, and
an error the user's own code raised is not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from graphscope.checks import CATALOGUE, run_checks
from graphscope.checks.catalogue import UNEXPLAINED, find, patterns
from graphscope.model import FINDING_KINDS, BackwardCall, Events, RunList, ScriptError

F = "train.py"


def test_every_entry_matches_its_example_and_no_earlier_entry_does() -> None:
    assert len(CATALOGUE) >= 7
    for entry in CATALOGUE:
        assert entry.kind in FINDING_KINDS, entry.kind
        assert entry.example, f"{entry.kind}: give torch's message as an example"
        hit = find(CATALOGUE, entry.example)
        assert hit is not None and hit[0] is entry, (entry.kind, entry.example)


def test_patterns_list_every_wording_with_its_kind() -> None:
    pairs = patterns(CATALOGUE)
    assert ("grad can be implicitly created only for scalar outputs", "nonscalar-backward") in [
        (p, k) for p, k in pairs
    ]
    assert len(pairs) == sum(len(e.patterns) for e in CATALOGUE)


def _err(message: str, origin: str | None = "call", type_: str = "RuntimeError") -> Events:
    return Events(error=ScriptError(type_, message, F, 7, origin))


def test_a_known_message_gets_its_entry_finding() -> None:
    msg = "a view of a leaf Variable that requires grad is being used in an in-place operation."
    (f,) = run_checks([], _err(msg))
    assert (f.kind, f.severity, f.line) == ("leaf-inplace", "error", 7)
    assert "a view of a leaf tensor" in f.message


def test_an_unknown_autograd_error_is_an_info_finding_quoting_torch() -> None:
    msg = "`inputs` argument to `backward()` cannot be empty."
    (f,) = run_checks([], _err(msg, "torch"))
    assert (f.kind, f.severity, f.file, f.line) == (UNEXPLAINED, "info", F, 7)
    assert f"RuntimeError: {msg}" in f.message
    assert "open an issue" in f.hint


def test_an_unknown_error_raised_by_a_backward_call_is_autograd_s() -> None:
    msg = "Some brand new engine complaint"  # no autograd word: the call says it is autograd's
    call = BackwardCall(
        1,
        "backward",
        F,
        7,
        ("loss",),
        ((),),
        (True,),
        False,
        False,
        False,
        None,
        error=msg,
        error_type="RuntimeError",
    )
    ev = Events(backward=RunList([call]), error=ScriptError("RuntimeError", msg, F, 7, "torch"))
    (f,) = run_checks([], ev)
    assert (f.kind, f.line) == (UNEXPLAINED, 7) and msg in f.message


@pytest.mark.parametrize(
    ("message", "type_"),
    [
        # rank 0 of a DDP job whose peer died: gloo's error, raised inside loss.backward()
        (
            "[../third_party/gloo/gloo/transport/tcp/pair.cc:534] Connection closed by peer "
            "[127.0.0.1]:29500",
            "RuntimeError",
        ),  # fmt: skip
        ("NCCL communicator was aborted on rank 0.", "DistBackendError"),
    ],
)
def test_a_collective_failing_inside_backward_is_not_autograd_s(message: str, type_: str) -> None:
    call = BackwardCall(
        1, "backward", F, 7, ("loss",), ((),), (True,), False, False, False, None,
        error=message, error_type=type_,
    )  # fmt: skip
    ev = Events(backward=RunList([call]), error=ScriptError(type_, message, F, 7, "torch"))
    assert run_checks([], ev) == []


@pytest.mark.parametrize(
    ("message", "origin", "type_"),
    [
        ("gradient exploded", "raise", "RuntimeError"),  # the user's own raise
        ("bad shape", "call", "ValueError"),  # not autograd's
        ("mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)", "call", "RuntimeError"),
        ("grad norm too large", "library", "RuntimeError"),  # another library's
        ("grad norm too large", None, "RuntimeError"),  # not known who raised it
    ],
)
def test_errors_that_are_not_autograd_s_get_nothing(message, origin, type_) -> None:
    assert run_checks([], _err(message, origin, type_)) == []


def _check(script: Path) -> tuple[int, dict, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    res = subprocess.run(
        [sys.executable, "-m", "graphscope", "check", "--json", str(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    return res.returncode, json.loads(res.stdout), res.stderr


def test_a_real_unknown_torch_error_is_quoted_and_a_user_raise_is_not(tmp_path: Path) -> None:
    unknown = tmp_path / "unknown.py"
    unknown.write_text(
        "import torch\nw = torch.ones(3, requires_grad=True)\n(w * 2).sum().backward(inputs=[])\n"
    )
    code, report, stderr = _check(unknown)
    assert code == 1
    assert "RuntimeError: `inputs` argument to `backward()` cannot be empty." in stderr
    (f,) = report["findings"]
    assert (f["kind"], f["severity"], f["line"]) == (UNEXPLAINED, "info", 3)
    assert "`inputs` argument to `backward()` cannot be empty." in f["message"]
    mine = tmp_path / "mine.py"
    mine.write_text('import torch\ng = torch.ones(1)\nraise RuntimeError("gradient exploded")\n')
    code, report, stderr = _check(mine)
    assert code == 1 and report["findings"] == []
    assert "RuntimeError: gradient exploded" in stderr


def test_the_error_site_keeps_the_failing_statement_its_tensors_and_the_function(
    tmp_path: Path,
) -> None:
    from graphscope.script import run_script

    script = tmp_path / "fn.py"
    script.write_text(
        "import torch\n"  # 1
        "\n"
        "\n"
        "class Scale(torch.autograd.Function):\n"  # 4
        "    @staticmethod\n"
        "    def forward(ctx, a, b, scale):\n"  # 6
        "        ctx.save_for_backward(b)\n"
        "        return a * b * scale\n"
        "\n"
        "    @staticmethod\n"
        "    def backward(ctx, grad):\n"  # 11
        "        (b,) = ctx.saved_tensors\n"
        "        return grad * b\n"  # 13
        "\n"
        "\n"
        "x = torch.randn(4, 6, requires_grad=True)\n"  # 16
        "y = Scale.apply(x, torch.ones(4, 6), 2.0)\n"  # 17
        "y.sum().backward()\n"  # 18
    )
    err = run_script(script).scope.events.error
    assert err is not None and err.origin == "torch"
    site = err.site
    assert site is not None and (site.line, site.text) == (18, "y.sum().backward()")
    (y,) = site.names
    assert (y.name, y.what, y.line, y.text) == (
        "y",
        "tensor",
        17,
        "y = Scale.apply(x, torch.ones(4, 6), 2.0)",
    )
    assert (y.shape, y.dtype, y.requires_grad, y.is_leaf, y.grad_fn) == (
        (4, 6),
        "torch.float32",
        True,
        False,
        "ScaleBackward",
    )
    (fn,) = site.functions
    assert (fn.name, fn.forward_line, fn.backward_line, fn.returns) == ("Scale", 6, 11, (13,))
    assert (fn.return_text, fn.inputs) == ("return grad * b", ("a", "b", "scale"))


# -- the explainers, on hand-built evidence ------------------------------------------------------


def _site_error(message: str, text: str, line: int, *names, functions=(), type_="RuntimeError"):
    from graphscope.model import ErrorSite

    site = ErrorSite(F, line, text, tuple(names), tuple(functions))
    return Events(error=ScriptError(type_, message, F, line, "call", site))


def _tensor(name: str, line: int, text: str, **facts):
    from graphscope.model import Named

    return Named(name, "tensor", F, line, text, **facts)


def test_view_inplace_names_the_view_and_its_line_and_writes_it_out_of_place() -> None:
    msg = (
        "Output 0 of SplitBackward0 is a view and is being modified inplace. This view is the "
        "output of a function that returns multiple views."
    )
    q = _tensor("q", 8, "q, k, v = qkv.chunk(3, dim=-1)", requires_grad=True)
    (f,) = run_checks([], _site_error(msg, "q.mul_(scale)", 9, q))
    assert (f.kind, f.line, [r.line for r in f.related]) == ("view-inplace", 9, [8])
    assert "`q = q.mul(scale)`" in f.hint


def test_view_inplace_in_a_hooked_module_points_at_its_constructor() -> None:
    from graphscope.model import Named

    msg = (
        "Output 0 of BackwardHookFunctionBackward is a view and is being modified inplace. This "
        "view was created inside a custom Function (or because an input was returned as-is)"
    )
    act = Named(
        "self.act",
        "module",
        F,
        5,
        "self.act = nn.LeakyReLU(0.1, inplace=True)",
        module_text="LeakyReLU(negative_slope=0.1, inplace=True)",
    )
    (f,) = run_checks([], _site_error(msg, "return self.act(self.fc(x))", 12, act))
    assert (f.line, [r.line for r in f.related]) == (5, [12])
    assert "`self.act = nn.LeakyReLU(0.1)`" in f.hint


def test_gradient_shape_expands_a_broadcastable_gradient() -> None:
    msg = (
        "Mismatch in shape: grad_output[0] has a shape of torch.Size([4]) and output[0] has a "
        "shape of torch.Size([3, 4])."
    )
    (f,) = run_checks([], _site_error(msg, "out.backward(g)", 7))
    assert (f.kind, f.line) == ("gradient-shape", 7)
    assert "`out.backward(g.expand_as(out))`" in f.hint  # the positional gradient replaced


def test_grad_input_unused_of_a_single_input() -> None:
    msg = "One of the differentiated Tensors does not require grad"
    x = _tensor("x", 3, "x = torch.zeros(2, 2)", requires_grad=False)
    (f,) = run_checks([], _site_error(msg, "(g,) = torch.autograd.grad(y.sum(), x)", 6, x))
    assert (f.kind, f.line, [r.line for r in f.related]) == ("grad-input-unused", 3, [6])
    assert "`x = torch.zeros(2, 2, requires_grad=True)`" in f.hint


def test_custom_function_count_without_its_source_stays_at_the_raising_line() -> None:
    msg = "function MyFnBackward returned an incorrect number of gradients (expected 2, got 1)"
    (f,) = run_checks([], _site_error(msg, "loss.backward()", 20))
    assert (f.kind, f.line, f.related) == ("custom-function-gradient", 20, ())
    assert f.message.startswith("MyFn.backward returns 1 gradient")


def test_inference_tensor_without_a_recorded_block_is_at_the_raising_line() -> None:
    msg = "Inplace update to inference tensor outside InferenceMode is not allowed."
    feats = _tensor("feats", 4, "feats = torch.ones(3)", inference=True)
    (f,) = run_checks([], _site_error(msg, "feats.add_(1)", 9, feats))
    assert (f.kind, f.line) == ("inference-tensor", 9)
    assert "feats = feats.clone()" in f.hint


def test_not_differentiable_without_a_graph_stays_at_the_raising_line() -> None:
    msg = "the derivative for '_cdist_backward' is not implemented."
    (f,) = run_checks([], _site_error(msg, "g.backward()", 11, type_="NotImplementedError"))
    assert (f.kind, f.line) == ("not-differentiable", 11)
    assert "_cdist_backward" in f.message
