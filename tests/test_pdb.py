"""``graphscope check --pdb`` / ``render --pdb``: when the script raises, the findings are
printed, then pdb opens post-mortem in the user's own frame (torch's frames cut off), driven
here through stdin; a script that does not raise never reads stdin."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """import torch


def step(x):
    h = torch.sigmoid(x)
    h.mul_(2)
    loss = h.sum()
    loss.backward()


step(torch.randn(4, 3, requires_grad=True))
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
    finding = out.index("graphscope: error: saved-tensor-modified at")
    prompt = out.index("(Pdb)")
    assert finding < prompt  # the finding is printed before the prompt
    assert "train.py(8)step()\n-> loss.backward()" in out  # the user's frame, not torch's
    assert "(Pdb) torch.Size([4, 3])" in out
    assert "(Pdb) 'MulBackward0'" in out
    assert "_tensor.py" not in out.split("(Pdb)")[3]  # where: torch's frames are cut off
    assert res.returncode == 1  # the run's report and status follow as without --pdb
    assert "modified by an inplace operation" in res.stderr  # torch's traceback, as before


def test_render_takes_pdb_too_and_continue_ends_it(tmp_path: Path) -> None:
    res = _run(tmp_path, SCRIPT, "c\n", "render", "-o", str(tmp_path / "out"), "-q")
    assert "(Pdb)" in res.stdout and res.returncode == 1
    assert (tmp_path / "out" / "report.json").is_file()


def test_a_script_that_does_not_raise_never_prompts(tmp_path: Path) -> None:
    clean = "import torch\nx = torch.ones(2, requires_grad=True)\n(x * 2).sum().backward()\n"
    res = _run(tmp_path, clean, "p 1\n", "check")
    assert "(Pdb)" not in res.stdout and res.returncode == 0
