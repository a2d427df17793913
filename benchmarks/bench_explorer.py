"""The explorer page of big graphs: its size, the time to build it, and its first paint in
headless Chromium (a benchmark: nothing is asserted; the tests check correctness).

For each model of ``benchmarks/models.py`` at each size: the graph is captured under
``graphscope.watch()`` (so ops carry module paths and source lines, as ``graphscope render``
sees them), its levels are made and laid out by :func:`graphscope.draw.level_pictures` (the
same levels the SVG files are drawn from) and the page is written. Then Chromium (Debian's, through chromedriver) opens the file ``--loads`` times and
the best of: first paint and first contentful paint (``performance.getEntriesByType("paint")``),
``gs-ready`` (the explorer's own mark: overview built and fitted), ``gs-painted`` (two animation
frames later: the overview is on screen) and the load event, all in ms from navigation start.

    .venv/bin/python benchmarks/bench_explorer.py [--sizes 50k] [--models resnet,mlp] [-o DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ["SE_AVOID_STATS"] = "true"  # Selenium Manager: no download, no statistics
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from models import MODELS  # noqa: E402

from graphscope.draw import html_page  # noqa: E402
from graphscope.options import Options  # noqa: E402
from graphscope.watcher import watch  # noqa: E402

_PAINT_JS = """
const out = {};
for (const e of performance.getEntriesByType('paint')) out[e.name] = e.startTime;
for (const name of ['gs-ready', 'gs-painted']) {
  const m = performance.getEntriesByName(name);
  out[name] = m.length ? m[0].startTime : null;
}
const nav = performance.getEntriesByType('navigation')[0];
out['load'] = nav ? nav.loadEventEnd : null;
return out;
"""


def parse_size(text: str) -> int:
    text = text.strip().lower()
    return int(float(text[:-1]) * 1000) if text.endswith("k") else int(text)


def build_page(model: str, size: int, out: Path) -> dict[str, Any]:
    """Capture ``model`` at ``size`` nodes, write its page; sizes and timings."""
    torch.manual_seed(0)
    with watch() as scope:
        loss, _ = MODELS[model](size)
        loss.backward()
    graph = scope.graphs()[0]
    start = time.perf_counter()
    page, levels = html_page(graph, Options(), title=f"{model}-{size}")
    seconds = time.perf_counter() - start
    path = out / f"{model}-{size}.html"
    path.write_text(page, encoding="utf-8")
    return {
        "path": path,
        "nodes": len(graph),
        "levels": len(levels),
        "MB": len(page.encode("utf-8")) / 1e6,
        "build s": seconds,
    }


def browser() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,900",
        f"--user-data-dir={tempfile.mkdtemp(prefix='gs-bench-chromium-')}",
    ):
        opts.add_argument(flag)
    opts.binary_location = shutil.which("chromium") or "chromium"
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)


def paint_times(driver: Any, path: Path, loads: int) -> dict[str, float]:
    """Best of ``loads`` openings of ``path``: ms from navigation start to each event."""
    best: dict[str, float] = {}
    for _ in range(loads):
        driver.get("about:blank")
        driver.get(path.resolve().as_uri())
        for _ in range(100):  # paint entries can land a moment after load
            got = driver.execute_script(_PAINT_JS)
            if got.get("first-contentful-paint") is not None and got.get("gs-painted"):
                break
            time.sleep(0.05)
        for k, v in got.items():
            if v is not None:
                best[k] = min(best.get(k, float("inf")), float(v))
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="50k")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--loads", type=int, default=3)
    ap.add_argument("-o", "--out", default=None, help="keep the pages in this directory")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(args.out or tempfile.mkdtemp(prefix="gs-bench-explorer-"))
    out.mkdir(parents=True, exist_ok=True)
    driver = browser()
    print(
        f"{'model':<12} {'nodes':>7} {'levels':>6} {'MB':>6} {'build s':>8} "
        f"{'FP ms':>7} {'FCP ms':>7} {'ready ms':>8} {'drawn ms':>8} {'load ms':>8}"
    )
    try:
        for size in (parse_size(s) for s in args.sizes.split(",")):
            for model in args.models.split(","):
                row = build_page(model, size, out)
                t = paint_times(driver, row["path"], args.loads)
                print(
                    f"{model:<12} {row['nodes']:>7} {row['levels']:>6} {row['MB']:>6.2f} "
                    f"{row['build s']:>8.1f} {t.get('first-paint', float('nan')):>7.0f} "
                    f"{t.get('first-contentful-paint', float('nan')):>7.0f} "
                    f"{t.get('gs-ready', float('nan')):>8.0f} {t.get('gs-painted', float('nan')):>8.0f} "
                    f"{t.get('load', float('nan')):>8.0f}",
                    flush=True,
                )
    finally:
        driver.quit()
    print(f"pages in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
