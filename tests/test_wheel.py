"""The package as a new user gets it: the built wheel installed into a fresh venv (no dev
extras, no matplotlib) and run with no system Graphviz on PATH.

One slow test (a few minutes: it builds the wheel and installs torch into the venv from the
local disk through constraints.txt), run by ``make test`` and CI like every other test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from graphscope.scenarios import all_scenarios

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = Path(__file__).parent / "scripts"


def _run(
    args: list[str], env: dict[str, str], cwd: Path, timeout: int = 900
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = _run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(out)],
        dict(os.environ),
        out,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (built,) = out.glob("torch_graphscope-*.whl")
    return built


@pytest.mark.slow
def test_the_wheel_ships_py_typed_the_schema_and_the_metadata(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        (meta,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = z.read(meta).decode("utf-8")
        (entry,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        entry_points = z.read(entry).decode("utf-8")
    assert {"graphscope/py.typed", "graphscope/report.schema.json"} <= names
    assert "graphscope/scenarios/s21_no_grad_fn.py" in names
    assert "graphscope/model/kinds/grad-accumulation.md" in names  # graphscope explain's text
    assert not any(n.startswith("tests/") for n in names)
    assert "Name: torch-graphscope\n" in metadata
    assert "License: MIT\n" in metadata  # what pip 23's `pip show` prints (issue 26)
    assert "Classifier: License :: OSI Approved :: MIT License\n" in metadata
    assert "License-File: LICENSE\n" in metadata
    assert "Project-URL: Homepage, https://pypi.org/project/torch-graphscope/\n" in metadata
    assert "Classifier: Typing :: Typed\n" in metadata
    assert 'Requires-Dist: tomli>=1.1; python_version < "3.11"\n' in metadata
    assert "Provides-Extra: plots\n" in metadata
    assert "pip install torch-graphscope" in metadata  # the README is the long description
    assert "graphscope = graphscope.cli:main" in entry_points


@pytest.mark.slow
def test_a_fresh_venv_without_graphviz_or_extras_runs_everything(
    wheel: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    proc = _run([sys.executable, "-m", "venv", str(venv)], dict(os.environ), tmp_path)
    assert proc.returncode == 0, proc.stderr
    bin_dir = venv / "bin"
    py = str(bin_dir / "python")
    install = [py, "-m", "pip", "install", "-q", str(wheel), "-c", str(ROOT / "constraints.txt")]
    proc = _run(install, dict(os.environ), tmp_path, timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    listed = _run([py, "-m", "pip", "list"], dict(os.environ), tmp_path).stdout
    assert "torch-graphscope" in listed and "matplotlib" not in listed and "pytest" not in listed

    # PATH holds the venv's bin only: no system dot (nor anything else of /usr/bin)
    env = {
        "PATH": str(bin_dir),
        "HOME": str(tmp_path),
        "OMP_NUM_THREADS": "1",
        "LANG": "C.UTF-8",
    }
    assert shutil.which("dot", path=env["PATH"]) is None
    work = tmp_path / "work"
    shutil.copytree(SCRIPTS / "pkgdemo", work / "pkgdemo")
    shutil.copy(SCRIPTS / "pitfall_grad_accumulation.py", work / "train.py")
    gs = str(bin_dir / "graphscope")

    proc = _run([gs, "--version"], env, work)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("graphscope ") and "torch 2.13.0" in proc.stdout
    assert "system dot not found" in proc.stdout

    proc = _run([gs, "render", "-m", "pkgdemo.train", "a", "-o", "out"], env, work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "argv: ['pkgdemo/train.py', 'a']" in proc.stdout
    assert "layout by embedded" in proc.stdout
    assert (work / "out" / "pkgdemo.train.g1.svg").read_text().lstrip().startswith("<")

    proc = _run([py, "-m", "graphscope", "check", "train.py", "--json"], env, work)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert '"grad-accumulation"' in proc.stdout and '"schema": 1' in proc.stdout

    proc = _run([gs, "scenarios", "render", "-o", "scen"], env, work, timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    names = _run([gs, "scenarios", "list"], env, work).stdout.split("\n")
    scenario_names = [line.split()[0] for line in names if line.strip()]
    assert scenario_names == [s.name for s in all_scenarios()]  # this checkout's, installed
    drawn = {p.name.split(".")[0] for p in (work / "scen").glob("*.svg")}
    # every scenario's graphs are drawn; learning-rate has no autograd graph, only a plot
    assert drawn == set(scenario_names) - {"learning-rate"}
    assert not any(".boundary." in p.name for p in (work / "scen").iterdir())
    assert "skipped the pictures of logistic-regression" in proc.stderr
    assert "skipped the pictures of learning-rate" in proc.stderr

    proc = _run([gs, "docs", "build", "-o", "site"], env, work, timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    pages = sorted((work / "site" / "scenarios").glob("*.md"))
    assert sorted(p.stem for p in pages) == sorted(scenario_names)
    lr = (work / "site" / "scenarios" / "logistic-regression.md").read_text()
    assert "Not drawn: the training-dynamics pictures need matplotlib" in lr
    assert "--fail-on" in (work / "site" / "cli.md").read_text()

    _mypy_reads_the_installed_types(py, tmp_path)


def _mypy_reads_the_installed_types(py: str, tmp_path: Path) -> None:
    """With py.typed in the wheel, a user's mypy checks calls into the installed graphscope
    (without it: "module is installed, but missing library stubs or py.typed marker")."""
    mypy = shutil.which("mypy", path=str(Path(sys.executable).parent))
    if mypy is None:
        pytest.skip("mypy is in the dev extra and not installed here")
    user = tmp_path / "user.py"
    user.write_text("from graphscope.options import Options\n\nx: int = Options().format\n")
    proc = _run(
        [mypy, "--no-incremental", "--python-executable", py, "--follow-imports", "silent"]
        + [str(user)],
        dict(os.environ),
        tmp_path,
    )
    assert 'Incompatible types in assignment (expression has type "str"' in proc.stdout, proc.stdout
    assert "py.typed" not in proc.stdout
