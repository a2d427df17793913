"""End to end: ``graphscope render`` on recurrent and deep programs, against the plain script.

For each program of ``benchmarks/programs/`` (small random data, CPU, one thread), measured in
the same run: the plain ``python SCRIPT`` time, the ``graphscope render SCRIPT --engine
embedded`` time (best of ``--runs``, interleaved), their difference, the nodes of the biggest
graph captured, the files written and the node count of the largest picture (SVG nodes, the
legend excluded), and whether the overview names what it should. ``extra cpu s`` is the CPU
time render costs more than the plain run (layout engine included): on a busy machine the
wall-clock difference mostly measures the neighbours. A benchmark, not a test: nothing is
asserted.

    python benchmarks/bench_render.py [--runs 2] [--programs lstm_loop,gru_module] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = ROOT / "benchmarks" / "programs"
SVG_NS = "{http://www.w3.org/2000/svg}"

#: program -> (arguments, what the overview should name)
CASES: dict[str, tuple[list[str], list[str]]] = {
    "lstm_loop": (["300"], ["cell1", "cell2", "head", "×300"]),
    "gru_module": (["400"], ["model", "×"]),
    "seq2seq": (["50", "100"], ["encoder", "decoder", "×"]),
    "gpt": (["24"], ["blocks", "lm_head", "×"]),
    "unet": (["4"], ["down", "up"]),
    "transformer_deep": (["128"], ["encoder", "×"]),
    "gan": (["4"], ["netG", "netD"]),
}
#: small sizes of the same programs (``--quick``: the smoke test)
QUICK: dict[str, list[str]] = {
    "lstm_loop": ["20"],
    "gru_module": ["20"],
    "seq2seq": ["5", "10"],
    "gpt": ["2"],
    "unet": ["2"],
    "transformer_deep": ["4"],
    "gan": ["2"],
}
COLUMNS = (
    "program",
    "plain s",
    "render s",
    "extra s",
    "extra cpu s",
    "nodes",
    "files",
    "largest",
    "names",
)


def svg_node_count(path: Path) -> int:
    """Graph nodes of an SVG written by Graphviz (the legend is one node: not counted)."""
    root = ET.parse(path).getroot()
    count = 0
    for g in root.iter(f"{SVG_NS}g"):
        if g.get("class") != "node":
            continue
        title = g.find(f"{SVG_NS}title")
        if title is not None and (title.text or "").startswith("legend_"):
            continue
        count += 1
    return count


def svg_text(path: Path) -> str:
    return " ".join(t for t in ET.parse(path).getroot().itertext())


def timed(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child and its children, such as the layout engine):
    on a shared machine the CPU time says what graphscope costs, the wall time what a user
    waits."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    elapsed = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):  # 1: findings (the GAN's accumulation warnings)
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def measure(name: str, args: list[str], wants: list[str], runs: int, engine: str) -> dict[str, str]:
    script = PROGRAMS / f"{name}.py"
    plain: list[tuple[float, float]] = []
    render: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        for _ in range(runs):
            plain.append(timed([sys.executable, str(script), *args], Path(tmp)))
            render.append(
                timed(
                    [
                        sys.executable,
                        "-m",
                        "graphscope",
                        "render",
                        str(script),
                        *args,
                        "-o",
                        str(out),
                        "--engine",
                        engine,
                    ],
                    Path(tmp),
                )
            )
        report = json.loads((out / "report.json").read_text())
        svgs = sorted(out.glob("*.svg"))
        counts = {p.name: svg_node_count(p) for p in svgs}
        overviews = [out / Path(g["file"]).name for g in report["graphs"] if g.get("file")]
        text = " ".join(svg_text(p) for p in overviews)
    missing = [w for w in wants if w not in text]
    (p_wall, p_cpu), (r_wall, r_cpu) = min(plain), min(render)
    return {
        "program": f"{name} {' '.join(args)}",
        "plain s": f"{p_wall:.1f}",
        "render s": f"{r_wall:.1f}",
        "extra s": f"{r_wall - p_wall:.1f}",
        "extra cpu s": f"{r_cpu - p_cpu:.1f}",
        "nodes": str(max(g["nodes"] for g in report["graphs"])),
        "files": str(len(svgs)),
        "largest": str(max(counts.values(), default=0)),
        "names": "ok" if not missing else "missing " + ",".join(missing),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--programs", default=",".join(CASES))
    ap.add_argument("--engine", default="embedded", choices=("embedded", "dot"))
    ap.add_argument("--quick", action="store_true", help="small sizes, one run each")
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.programs.split(",") if n.strip()]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        ap.error(f"unknown program(s) {unknown}; choose from {', '.join(CASES)}")
    runs = 1 if args.quick else args.runs
    print(f"graphscope render --engine {args.engine}, end to end, best of {runs} (1 thread)")
    rows = []
    for n in names:
        argv_, wants = CASES[n]
        if args.quick:
            argv_, wants = QUICK[n], [w for w in wants if not w[1:].isdigit()]
        rows.append(measure(n, argv_, wants, runs, args.engine))
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in COLUMNS}
    print("  ".join(c.ljust(widths[c]) for c in COLUMNS).rstrip())
    for r in rows:
        print("  ".join(r[c].ljust(widths[c]) for c in COLUMNS).rstrip(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
