"""The user's names, from one resolver (graphscope.names + graphscope.model.spelled), the same
in messages, hints, pictures and the report; a finding about many tensors marks each of them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from graphscope.model import spelled

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "tests" / "scripts"


@pytest.mark.parametrize(
    ("path", "classes", "written"),
    [
        ("model.2", None, "model[2]"),
        ("model.2.weight", None, "model[2].weight"),
        ("net.fc.bias", None, "net.fc.bias"),
        ("blocks[3].fc", None, "blocks[3].fc"),
        ("t.net.layers.0.1.bias", None, "t.net.layers[0][1].bias"),
        ("heads.cls.weight", {"heads": "ModuleDict"}, "heads['cls'].weight"),
        ("m.heads.a-b.weight", None, "m.heads['a-b'].weight"),
        ("loss", None, "loss"),
    ],
)
def test_a_path_is_spelled_as_python_writes_it(
    path: str, classes: dict[str, str] | None, written: str
) -> None:
    assert spelled(path, classes) == written


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "graphscope", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
        check=False,
    )


def test_a_finding_about_ten_parameters_marks_all_ten_in_the_picture(tmp_path: Path) -> None:
    proc = _run(
        ["render", str(SCRIPTS / "explorer_findings.py"), "--format", "dot", "-o", "out"],
        tmp_path,
    )
    assert proc.returncode == 1, proc.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    (f,) = report["findings"]
    assert f["kind"] == "grad-accumulation" and len(f["nodes"]) == 10 and f["node"] in f["nodes"]
    assert f["hint"].startswith("Call `opt.zero_grad()`")  # the user's optimizer, by its name
    dot = (tmp_path / "out" / "explorer_findings.g1.gv").read_text()
    marked = re.findall(r'penwidth=3[^\n]*tooltip="name=([^,"]+)', dot)
    params = [
        f"model.{m}.{p}" for m in ("conv1", "bn1", "conv2", "bn2", "fc") for p in ("weight", "bias")
    ]
    assert sorted(marked) == sorted(params)
    for name in params:
        assert name in f["message"] or "…" in f["message"]


def test_names_in_messages_hints_and_pictures_are_the_users(tmp_path: Path) -> None:
    """A Sequential's appended layer is ``model[2]`` everywhere: the message, the code in the
    hint (valid Python: it runs), the picture's node labels and the report."""
    script = tmp_path / "appended.py"
    script.write_text(
        "import torch\n"
        "from torch import nn\n"
        "torch.manual_seed(0)\n"
        "model = nn.Sequential(nn.Linear(4, 16), nn.ReLU())\n"
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "model.append(nn.Linear(16, 2))\n"
        "for _ in range(2):\n"
        "    opt.zero_grad()\n"
        "    model(torch.randn(8, 4)).pow(2).mean().backward()\n"
        "    opt.step()\n"
    )
    proc = _run(["render", str(script), "--format", "dot", "-o", "out"], tmp_path)
    assert proc.returncode == 1, proc.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    (f,) = report["findings"]
    assert f["kind"] == "param-not-in-optimizer"
    assert "model[2].bias, model[2].weight (of model[2])" in f["message"]
    code = re.search(r"`([^`]+)`", f["hint"])
    assert (
        code is not None
        and code.group(1) == 'opt.add_param_group({"params": model[2].parameters()})'
    )
    dot = (tmp_path / "out" / "appended.g1.gv").read_text()
    labels = set(re.findall(r"<B>([^<]+)</B>", dot))
    assert {"model[2].weight", "model[2].bias", "model[0].weight"} <= labels
    assert not any(re.search(r"\.\d+\.(weight|bias)$", lab) for lab in labels)
    # the hint's code runs where the fix goes (after the append)
    fixed = script.read_text().replace(
        "model.append(nn.Linear(16, 2))\n",
        "model.append(nn.Linear(16, 2))\n" + code.group(1) + "\n",
    )
    script.write_text(fixed)
    proc = _run(["check", "--json", str(script)], tmp_path)
    assert proc.returncode == 0 and json.loads(proc.stdout)["findings"] == [], proc.stdout


class _Trainer:
    """Holds its model and optimizer as attributes (``self.opt`` inside, ``t.opt`` outside)."""

    def __init__(self) -> None:
        import torch

        self.model = torch.nn.Linear(3, 1)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.1)

    def fit(self, steps: int) -> None:
        import torch

        for _ in range(steps):
            self.model(torch.ones(2, 3)).sum().backward()  # no zero_grad: accumulates
            self.opt.step()


def _forgetful(opts: list, models: list) -> None:  # type: ignore[type-arg]
    import torch

    for _ in range(3):
        sum(m(torch.ones(2, 3)).sum() for m in models).backward()
        for o in opts:  # the loop variable names each optimizer in turn: not its name
            o.step()


def test_optimizers_are_named_as_the_users_code_holds_them() -> None:
    """``opt``, ``optimizer``, ``optimizers[0]``/``[1]`` (not the loop's ``o``), ``opts['d']``,
    ``t.opt`` (the outermost holder) and ``self.opt`` (no other name): in the recorded steps and
    in grad-accumulation's message and hint."""
    import torch

    import graphscope

    def steps_of(fn) -> tuple[list[str | None], list]:  # type: ignore[no-untyped-def,type-arg]
        with graphscope.watch() as scope:
            fn()
        names = list(dict.fromkeys(s.name for s in scope.events.steps))
        return names, [f for f in scope.findings if f.kind == "grad-accumulation"]

    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    names, (f,) = steps_of(lambda: _forgetful([opt], [model]))
    assert names == ["opt"]
    assert "(opt.step() at line" in f.message and f.hint.startswith("Call `opt.zero_grad()` (or")

    mods = [torch.nn.Linear(3, 1), torch.nn.Linear(3, 1)]
    optimizers = [torch.optim.SGD(m.parameters(), lr=0.1) for m in mods]
    names, (f,) = steps_of(lambda: _forgetful(optimizers, mods))
    assert names == ["optimizers[0]", "optimizers[1]"]
    assert f.hint.startswith("Call `optimizers[0].zero_grad()` and `optimizers[1].zero_grad()` (or")

    opts = {"d": torch.optim.Adam(model.parameters(), lr=0.1)}
    names, _ = steps_of(lambda: _forgetful([opts["d"]], [model]))
    assert names == ["opts['d']"]

    t = _Trainer()
    names, (f,) = steps_of(lambda: t.fit(3))
    assert names == ["t.opt"] and f.hint.startswith("Call `t.opt.zero_grad()` (or")
    names, (f,) = steps_of(lambda: _Trainer().fit(3))  # no outer name: the method's own
    assert names == ["self.opt"] and f.hint.startswith("Call `self.opt.zero_grad()` (or")
    assert "SGD" not in f.message + f.hint


def test_a_write_in_a_class_body_leaves_its_namespace_as_it_was(tmp_path) -> None:
    """Naming a written tensor reads the frame's variables: a class body's namespace is the
    class being made, not a snapshot to drop (it was emptied: ``C.a`` was gone)."""
    import os
    import subprocess
    import sys

    script = tmp_path / "cls.py"
    script.write_text(
        "import torch\n\n\nclass C:\n    a = torch.ones(3)\n    b = torch.ones(3).add_(1)\n"
        "    z = 5\n\n\nprint(C.z, tuple(C.a.shape), C.b.tolist())\n"
    )
    env = dict(os.environ, OMP_NUM_THREADS="1")
    plain = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, check=False
    )
    res = subprocess.run(
        [sys.executable, "-m", "graphscope", "check", "-q", str(script)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert plain.stdout == "5 (3,) [2.0, 2.0, 2.0]\n"
    assert res.stdout.startswith(plain.stdout) and res.returncode == 0, res.stdout + res.stderr
