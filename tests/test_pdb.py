"""``graphscope check --pdb`` / ``render --pdb``: pdb opens in the user's own frame at the
in-place write that makes a saved tensor stale, after printing its finding (``c`` runs on as
plain Python, ``q`` stops the script as ``pytest --pdb`` does); otherwise, when the script
raises, the findings are printed, then pdb opens post-mortem (torch's frames cut off). Driven
here through stdin; a script that neither writes over a saved tensor nor raises never reads
stdin."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """import torch


def step(x):
    h = torch.sigmoid(x)
    loss = h.sum()
    loss.backward()
    loss.backward()


step(torch.randn(4, 3, requires_grad=True))
"""
#: the write torch will refuse at backward: ``sigmoid`` saved its output ``h``
WRITE = """import torch


def step(x, w):
    h = torch.sigmoid(x @ w)
    h.mul_(2)
    loss = h.sum()
    loss.backward()
    return loss


w = torch.randn(3, 5, requires_grad=True)
print("loss", step(torch.randn(4, 3), w).item())
"""


def _run(tmp_path: Path, text: str, stdin: str, *cmd: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "train.py"
    script.write_text(text)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "graphscope", *cmd, "--pdb", str(script)],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )


def test_pdb_opens_in_the_users_frame_with_live_tensors(tmp_path: Path) -> None:
    res = _run(tmp_path, SCRIPT, "p h.shape\np h.grad_fn.name()\nwhere\nq\n", "check", "-q")
    out = res.stdout
    finding = out.index("graphscope: error: graph-freed at")
    prompt = out.index("(Pdb)")
    assert finding < prompt  # the finding is printed before the prompt
    assert "train.py(8)step()\n-> loss.backward()" in out  # the user's frame, not torch's
    assert "(Pdb) torch.Size([4, 3])" in out
    assert "(Pdb) 'SigmoidBackward0'" in out
    assert "_tensor.py" not in out.split("(Pdb)")[3]  # where: torch's frames are cut off
    assert res.returncode == 1  # the run's report and status follow as without --pdb
    assert "backward through the graph a second time" in res.stderr  # torch's traceback


def _plain(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "plain.py"
    script.write_text(text)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )


def test_pdb_stops_at_the_inplace_write_and_q_quits(tmp_path: Path) -> None:
    res = _run(tmp_path, WRITE, "p h.shape\np h._version\nq\n", "check")
    out = res.stdout
    finding = out.index(
        f"graphscope: error: saved-tensor-modified at {tmp_path / 'train.py'}:6: h was modified "
        "in place by mul_() at line 6 after sigmoid at line 5 saved it for backward (saved at "
        "version 0, now 1)"
    )
    fix = out.index("  fix: Do not change a tensor in place after using it: write `h = h * 2`")
    prompt = out.index("(Pdb)")
    assert finding < fix < prompt  # the finding, then its fix, then the prompt
    # the prompt's location: the write's line in the user's function, before backward ran
    assert f"> {tmp_path / 'train.py'}(6)step()\n-> h.mul_(2)\n(Pdb)" in out
    assert "(Pdb) torch.Size([4, 5])\n(Pdb) 1\n(Pdb)" in out  # live: the written tensor
    assert out.count("(Pdb)") == 3  # one stop, three commands read
    assert "Quitting debugger" in out and "loss" not in out.split("(Pdb)")[-1][:1]
    assert "findings: 1" in out  # the report still lists the finding stopped at
    assert res.returncode == 2  # as pytest --pdb after q
    assert "Traceback" not in res.stderr  # no traceback: ours, or torch's (backward never ran)
    assert "loss " not in out  # the script stopped at the write: it never printed


def test_continue_lets_the_script_end_exactly_as_plain_python(tmp_path: Path) -> None:
    plain = _plain(tmp_path, WRITE)
    res = _run(tmp_path, WRITE, "p h.shape\nc\n", "check", "-q")
    assert plain.returncode == 1 and res.returncode == 1
    torch_says = plain.stderr.strip().splitlines()[-1]
    assert torch_says.startswith("RuntimeError: one of the variables needed for gradient")
    assert res.stderr.strip().splitlines()[-1] == torch_says  # torch's own error, as Python
    assert "Traceback (most recent call last):" in res.stderr
    assert "graphscope" not in res.stderr  # none of our frames in it
    out = res.stdout
    assert out.count("(Pdb)") == 2  # one stop, and no second (post-mortem) prompt
    assert "not opening pdb again: this is the error of the in-place write at" in out
    assert out.count("saved-tensor-modified at") == 2  # at the stop, and in the report


LEGIT = """import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
head = nn.Linear(8, 1)
net2 = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
opt = torch.optim.Adam([*model.parameters(), *head.parameters()], lr=1e-2)
opt2 = torch.optim.SGD(net2.parameters(), lr=1e-2)
val_loss = None
for step in range(3):
    x = torch.randn(16, 4)
    a = x * 2
    a.add_(1)  # written before any op saved it
    z = model(a)
    z.add_(1)  # the output of addmm: saved by nothing
    feats = model[1](model[0](x))
    aux = head(feats).pow(2).mean()
    loss = z.pow(2).mean()
    aux.backward(retain_graph=True)  # a second loss of one forward pass
    loss.backward()
    l2 = net2(x).pow(2).mean()
    l2.backward(retain_graph=True)  # needless: this graph is dropped at the next iteration
    opt.step()  # while the validation graph below, from the last iteration, saved model[2]
    opt2.step()
    opt.zero_grad()
    opt2.zero_grad()
    val_loss = model(torch.randn(4, 4)).pow(2).mean()  # validation with gradients on, kept
    with torch.no_grad():
        model[0].weight.clamp_(-1, 1)  # a constraint after the step
print("done", round(float(val_loss), 4))
"""


def test_a_legit_script_never_stops(tmp_path: Path) -> None:
    plain = _plain(tmp_path, LEGIT)
    res = _run(tmp_path, LEGIT, "p 1\n", "check")
    assert "(Pdb)" not in res.stdout and res.returncode == 0, res.stdout + res.stderr
    assert plain.returncode == 0 and plain.stdout.strip() in res.stdout + res.stderr


def test_render_takes_pdb_too_and_continue_ends_it(tmp_path: Path) -> None:
    res = _run(tmp_path, SCRIPT, "c\n", "render", "-o", str(tmp_path / "out"), "-q")
    assert "(Pdb)" in res.stdout and res.returncode == 1
    assert (tmp_path / "out" / "report.json").is_file()


def test_a_script_that_does_not_raise_never_prompts(tmp_path: Path) -> None:
    clean = "import torch\nx = torch.ones(2, requires_grad=True)\n(x * 2).sum().backward()\n"
    res = _run(tmp_path, clean, "p 1\n", "check")
    assert "(Pdb)" not in res.stdout and res.returncode == 0


def test_render_stops_at_the_write_too(tmp_path: Path) -> None:
    res = _run(tmp_path, WRITE, "p h.shape\nc\n", "render", "-o", str(tmp_path / "out"), "-q")
    out = res.stdout
    assert out.index("saved-tensor-modified at") < out.index("-> h.mul_(2)\n(Pdb)")
    assert "(Pdb) torch.Size([4, 5])" in out
    assert res.returncode == 1 and (tmp_path / "out" / "report.json").is_file()


LSTM = """import torch
import torch.nn as nn

torch.manual_seed(0)
rnn, head = nn.LSTM(6, 8), nn.Linear(8, 5)
opt = torch.optim.SGD([*rnn.parameters(), *head.parameters()], lr=0.1)
state = None
for batch in range(3):
    x, y = torch.randn(4, 2, 6), torch.randint(0, 5, (8,))
    out, state = rnn(x, state)
    loss = nn.functional.cross_entropy(head(out).reshape(-1, 5), y)
    opt.zero_grad()
    loss.backward(retain_graph=True)
    opt.step()
"""


def test_an_optimizer_step_under_a_kept_recurrent_graph_stops_at_the_step(
    tmp_path: Path,
) -> None:
    res = _run(tmp_path, LSTM, "p batch\np rnn.weight_ih_l0._version\nq\n", "check", "-q")
    out = res.stdout
    finding = out.index(
        f"graphscope: error: saved-tensor-modified at {tmp_path / 'train.py'}:14: opt.step() "
        "at line 14 updates rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0 and "
        "rnn.bias_hh_l0 in place"
    )
    assert "kept: the next backward call that goes back through that graph will fail" in out
    assert "detach it once per iteration (`h = h.detach()`) and drop retain_graph=True" in out
    assert finding < out.index(f"> {tmp_path / 'train.py'}(14)<module>()\n-> opt.step()")
    # the first batch's step; the weights, saved at version 1 by lstm, are at 2 after it
    assert "(Pdb) 0\n(Pdb) 2\n(Pdb)" in out
    assert res.returncode == 2 and out.count("(Pdb)") == 3


def test_next_steps_on_from_the_write_and_q_there_quits_too(tmp_path: Path) -> None:
    res = _run(tmp_path, WRITE, "n\np h.shape\nn\nq\n", "check", "-q")
    out = res.stdout
    train = tmp_path / "train.py"
    # n: the next line of the user's function (not a frame of graphscope's or torch's)
    assert f"(Pdb) > {train}(7)step()\n-> loss = h.sum()\n(Pdb) torch.Size([4, 5])" in out
    assert f"(Pdb) > {train}(8)step()\n-> loss.backward()\n(Pdb) " in out
    assert "the script was stopped at the pdb prompt (Quitting debugger) (train.py:8)" in out
    assert res.returncode == 2 and "Traceback" not in res.stderr


INPLACE_MODULE = """import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(3, 4), nn.Sigmoid(), nn.ReLU(inplace=True))
x = torch.randn(2, 3)
out = model(x)
out.sum().backward()
"""


def test_a_write_inside_torch_stops_in_the_users_frame(tmp_path: Path) -> None:
    """nn.ReLU(inplace=True) writes inside Sequential.forward: the prompt is at the user's
    line that called the model, the finding names the modules."""
    res = _run(tmp_path, INPLACE_MODULE, "p x.shape\nwhere\nq\n", "check", "-q")
    out = res.stdout
    assert out.index("`model[2]` (ReLU(inplace=True)) overwrote the output of `model[1]`") < (
        out.index(f"> {tmp_path / 'train.py'}(6)<module>()\n-> out = model(x)\n(Pdb)")
    )
    assert "(Pdb) torch.Size([2, 3])" in out
    where = out.split("(Pdb)")[2]  # the user's frames only: the script's, none of torch's
    assert where == f" > {tmp_path / 'train.py'}(6)<module>()\n-> out = model(x)\n"
    assert res.returncode == 2


def test_without_pdb_nothing_listens_to_the_writes() -> None:
    import torch

    import graphscope

    with graphscope.watch() as scope:
        h = torch.randn(3, requires_grad=True).exp()
        h.add_(1)  # a write torch will refuse at backward: no stop without debug
    assert scope.stopped_at == [] and [w.api for w in scope.events.inplace] == ["add_"]


LEGIT_SCRIPTS = sorted((Path(__file__).parent / "scripts" / "debugger").glob("legit_*.py"))


@pytest.mark.slow
@pytest.mark.parametrize("script", LEGIT_SCRIPTS, ids=lambda p: p.stem)
def test_the_legitimate_patterns_never_stop(script: Path) -> None:
    """GAN with detach, gradient penalties, hessians, LBFGS, micro-batches, frozen layers,
    checkpoint, torch.func...: under --pdb no prompt, and the same exit status 0."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    res = subprocess.run(
        [sys.executable, "-m", "graphscope", "check", "-q", "--pdb", str(script)],
        input="p 1\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=script.parent,
        timeout=600,
        check=False,
    )
    assert "(Pdb)" not in res.stdout and res.returncode == 0, res.stdout + res.stderr
