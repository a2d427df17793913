"""The explorer in a real browser: headless Chromium driven by Selenium through Debian's
chromedriver, on pages written by ``graphscope render --format html``.

Skipped, with the reason, where Chromium, chromedriver or Selenium is missing (CI installs
``chromium`` and ``chromium-driver``). Selenium Manager is kept from downloading anything or
sending statistics (``SE_AVOID_STATS``, an explicit driver path).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from graphscope.explorer import notebook_html
from tests.explorer import Nodes, page_data, png_rgb

pytestmark = pytest.mark.slow

SCRIPTS = Path(__file__).resolve().parent / "scripts"
ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,800",
)


def _missing() -> str | None:
    if CHROMIUM is None:
        return "chromium is not installed (apt-get install chromium; CI installs it)"
    if CHROMEDRIVER is None:
        return "chromedriver is not installed (apt-get install chromium-driver; CI installs it)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    os.environ["SE_AVOID_STATS"] = "true"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for flag in FLAGS:
        opts.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="gs-test-chromium-")
    opts.add_argument(f"--user-data-dir={profile}")
    opts.binary_location = str(CHROMIUM)
    d = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    try:
        yield d
    finally:
        d.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _render(script: str, out: Path) -> Path:
    proc = subprocess.run(
        [sys.executable, "-m", "graphscope.cli", "render", str(SCRIPTS / script)]
        + ["--format", "html", "-o", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert proc.returncode in (0, 1), proc.stderr
    (page,) = out.glob("*.g1.html")
    return page


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if _missing():
        pytest.skip(str(_missing()))
    base = tmp_path_factory.mktemp("explorer")
    return {
        "t6": _render("transformer6.py", base / "t6"),
        "enc": _render("explorer_encoder.py", base / "enc"),
        "loops": _render("explorer_loops.py", base / "loops"),
        "fused": _render("explorer_fused.py", base / "fused"),
        "findings": _render("explorer_findings.py", base / "findings"),
    }


def _wait(d: Any, cond: Callable[[Any], Any], what: str) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(d, 10, poll_frequency=0.05).until(cond, what)


def _open(d: Any, page: Path, hash_: str = "") -> None:
    d.get("about:blank")
    d.get(page.resolve().as_uri() + hash_)
    _wait(d, lambda d: d.execute_script("return document.body.dataset.level"), "page shown")


def _level(d: Any) -> str:
    return str(d.execute_script("return document.body.dataset.level"))


def _at_level(d: Any, level: str) -> None:
    _wait(d, lambda d: _level(d) == level, f"level {level} shown (at {_level(d)})")


_FIT_JS = """
const v = document.getElementById('gs-view').getBoundingClientRect();
const g = document.querySelector('#gs-view .svg-pan-zoom_viewport').getBoundingClientRect();
return [[v.left, v.top, v.right, v.bottom], [g.left, g.top, g.right, g.bottom],
        window.graphscopeExplorer.state.pz.getSizes().realZoom];
"""


_PAINTED_JS = """
const done = arguments[arguments.length - 1];
requestAnimationFrame(() => requestAnimationFrame(() => done(true)));
"""


def _assert_fits(d: Any) -> None:
    # svg-pan-zoom moves the picture on the next animation frame: read it after that frame (a
    # loaded machine can run this script first, and see the picture where it was before)
    d.execute_async_script(_PAINTED_JS)
    view, graph, zoom = d.execute_script(_FIT_JS)
    assert graph[0] >= view[0] - 1 and graph[1] >= view[1] - 1, (view, graph)
    assert graph[2] <= view[2] + 1 and graph[3] <= view[3] + 1, (view, graph)
    width, height = graph[2] - graph[0], graph[3] - graph[1]
    fills = width >= 0.97 * (view[2] - view[0]) or height >= 0.97 * (view[3] - view[1])
    assert fills or abs(zoom - 2) < 1e-6, (view, graph, zoom)  # a small graph stops at 2x


def test_every_level_fits_the_window_when_opened(driver: Any, pages: dict[str, Path]) -> None:
    _open(driver, pages["t6"])
    assert _level(driver) == "L0"
    _assert_fits(driver)
    _open(driver, pages["t6"], "#L1")
    assert _level(driver) == "L1"
    _assert_fits(driver)
    view, graph, _ = driver.execute_script(_FIT_JS)
    assert graph[3] - graph[1] >= 0.97 * (view[3] - view[1])  # the tall level fills the height


def test_search_enters_the_fold_and_highlights_the_node(
    driver: Any, pages: dict[str, Path]
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    _open(driver, pages["t6"])
    box = driver.find_element(By.ID, "gs-search")
    box.send_keys("layers.3.linear1")
    first = _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "#gs-results li"), "results")
    assert "layers.3.linear1" in first.text and "copy 4 of 6" in first.text
    box.send_keys(Keys.ENTER)
    _at_level(driver, "L1")
    sel = driver.execute_script("return window.graphscopeExplorer.state.sel")
    assert sel.startswith("n")
    nodes = Nodes(page_data(pages["t6"].read_text(encoding="utf-8")))
    chosen = int(sel[1:])
    level, (what, twin) = nodes.drawn(chosen)
    assert nodes.node(chosen)["module"] == "encoder.layers.3.linear1"
    assert (level, what) == (1, "node") and nodes.node(twin)["module"] == "encoder.layers.0.linear1"
    (marked,) = driver.find_elements(By.CSS_SELECTOR, "#gs-view g.node.gs-sel")
    assert marked.get_attribute("data-ref") == str(twin)
    assert marked.find_element(By.TAG_NAME, "title").get_attribute("textContent") == nodes.id(twin)
    assert driver.find_elements(By.CSS_SELECTOR, "#gs-view g.edge.gs-edge")  # its edges too
    inspector = driver.find_element(By.ID, "gs-inspector").text
    assert "layers.3.linear1" in inspector and "Copy 4 of 6 of layers.0–5" in inspector
    assert "Its level draws copy 1: the highlighted node is its counterpart there" in inspector
    driver.back()
    _at_level(driver, "L0")
    assert not driver.find_elements(By.CSS_SELECTOR, "#gs-view .gs-sel")


def _choose(d: Any, query: str, *words: str) -> str:
    """Search for ``query`` and click the first result holding every one of ``words``."""
    from selenium.webdriver.common.by import By

    box = d.find_element(By.ID, "gs-search")
    box.clear()
    box.send_keys(query)
    _wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, "#gs-results li[data-k]"), "results")
    for li in d.find_elements(By.CSS_SELECTOR, "#gs-results li[data-k]"):
        text = str(li.text)
        if all(w in text for w in words):
            li.click()
            return text
    raise AssertionError(f"no result of {query!r} holds {words}")


def _marked(d: Any) -> int:
    """The ref of the one node highlighted in the picture."""
    from selenium.webdriver.common.by import By

    (marked,) = d.find_elements(By.CSS_SELECTOR, "#gs-view g.node.gs-sel")
    return int(marked.get_attribute("data-ref"))


def _crumbs(d: Any) -> list[str]:
    from selenium.webdriver.common.by import By

    return [t for t in d.find_element(By.ID, "gs-crumbs").text.split("\n") if t != "›"]


T6_LEVELS = [
    "overview",
    "layers.0–5 · TransformerEncoderLayer ×6",
    "self_attn · MultiheadAttention",
    "part 1 of 1",
]


def test_search_finds_nodes_levels_deep_and_inside_a_part(
    driver: Any, pages: dict[str, Path]
) -> None:
    from selenium.webdriver.common.by import By

    _open(driver, pages["t6"])
    nodes = Nodes(page_data(pages["t6"].read_text(encoding="utf-8")))
    text = _choose(driver, "mmbackward0", "encoder.layers.4.self_attn")
    assert "in part 1 of 1" in text and "copy 5 of 6" in text
    _at_level(driver, "L3")
    chosen = int(driver.execute_script("return window.graphscopeExplorer.state.sel")[1:])
    level, (what, twin) = nodes.drawn(chosen)
    assert (level, what, _marked(driver)) == (3, "node", twin)
    assert nodes.node(chosen)["label"] == nodes.node(twin)["label"] == "MmBackward0"
    assert nodes.node(twin)["module"] == "encoder.layers.0.self_attn"
    assert _crumbs(driver) == T6_LEVELS
    _choose(driver, "encoder.layers.4.self_attn.in_proj_weight", "in_proj_weight")
    _at_level(driver, "L2")
    chosen = nodes.index(driver.execute_script("return window.graphscopeExplorer.state.sel"))
    assert nodes.node(chosen)["name"] == "encoder.layers[4].self_attn.in_proj_weight"
    twin = _marked(driver)
    assert nodes.node(twin)["name"] == "encoder.layers[0].self_attn.in_proj_weight"
    assert nodes.drawn(chosen) == (2, ("node", twin))
    assert "Copy 5 of 6" in driver.find_element(By.ID, "gs-inspector").text
    driver.find_element(By.CSS_SELECTOR, "#gs-crumbs button:nth-of-type(2)").click()
    _at_level(driver, "L1")
    for level in ("L2", "L3", "L0"):
        driver.back()
        _at_level(driver, level)


def test_groups_open_level_after_level_and_back_walks_up_again(
    driver: Any, pages: dict[str, Path]
) -> None:
    from selenium.webdriver.common.by import By

    _open(driver, pages["t6"])
    for ref, level in (("-1", "L1"), ("-2", "L2"), ("-3", "L3")):  # fold, self_attn, part
        driver.find_element(By.CSS_SELECTOR, f'#gs-view g.node[data-ref="{ref}"]').click()
        _at_level(driver, level)
        assert _crumbs(driver) == T6_LEVELS[: int(level[1:]) + 1]
    driver.find_element(By.TAG_NAME, "body").send_keys("u")  # one level up
    _at_level(driver, "L2")
    for level in ("L3", "L2", "L1", "L0"):
        driver.back()
        _at_level(driver, level)


def test_copies_of_folds_inside_folds_are_found_as_their_counterparts(
    driver: Any, pages: dict[str, Path]
) -> None:
    from selenium.webdriver.common.by import By

    _open(driver, pages["loops"])
    nodes = Nodes(page_data(pages["loops"].read_text(encoding="utf-8")))
    text = _choose(driver, "stack.blocks.3.cell", "AddmmBackward0", "copy 7 of 12")
    assert "copy 4 of 4, copy 7 of 12" in text
    _at_level(driver, "L3")
    chosen = int(driver.execute_script("return window.graphscopeExplorer.state.sel")[1:])
    twin = _marked(driver)
    assert nodes.drawn(chosen) == (3, ("node", twin)) and nodes.place["ck"][twin] == 0
    assert nodes.node(twin)["module"] == "stack.blocks.0.cell"
    assert _crumbs(driver) == ["overview", "blocks.0–3 · Recur ×4", "cell ×12"]
    inspector = driver.find_element(By.ID, "gs-inspector").text
    assert (
        "Copy 4 of 4 of blocks.0–3 · Recur ×4, in it copy 7 of 12 of cell ×12. Their levels "
        "draw copy 1 and copy 2: the highlighted node is its counterpart there." in inspector
    )
    _choose(driver, "h", "h")  # the loop's variable: a tensor of its last step
    _at_level(driver, "L1")
    assert driver.find_element(By.CSS_SELECTOR, "#gs-inspector h2").text == "h"
    assert nodes.node(_marked(driver))["label"] == "TanhBackward0"
    inspector = driver.find_element(By.ID, "gs-inspector").text
    assert "Copy 10 of 10 of cell ×10. Its level draws copy 2" in inspector
    assert "the highlighted node is the counterpart of the op that made it" in inspector


def test_search_covers_source_lines_ops_and_parameters(driver: Any, pages: dict[str, Path]) -> None:
    _open(driver, pages["enc"])
    nodes = Nodes(page_data(pages["enc"].read_text(encoding="utf-8")))
    hits = "return window.graphscopeExplorer.search(arguments[0]).map(h => h[2] + h[1]);"
    by_line = {f"n{i}" for i in range(nodes.n) if nodes.node(i)["line"] == 20}
    assert len(by_line) == 385  # every op the encoder and the first head ran
    got = driver.execute_script(hits, 'h = self.heads["<script>pwned=1</script>"](self.encoder(x))')
    assert set(got) == by_line
    got = driver.execute_script(hits, "nativelayernormbackward0")  # case does not matter
    assert {nodes.node(int(h[1:]))["module"] for h in got} == {
        f"model.encoder.layers.{k}.norm{j}" for k in range(6) for j in (1, 2)
    }
    got = driver.execute_script(hits, "missed")  # the script's other name for one weight
    assert [nodes.node(int(h[1:]))["name"] for h in got] == [
        "model.encoder.layers[3].linear1.weight"
    ]
    params = driver.execute_script(hits, "in_proj_weight")
    assert {nodes.node(int(h[1:]))["name"] for h in params} == {
        f"model.encoder.layers[{k}].self_attn.in_proj_weight" for k in range(6)
    }


def test_a_fold_opens_on_click_and_the_breadcrumb_and_back_return(
    driver: Any, pages: dict[str, Path]
) -> None:
    from selenium.webdriver.common.by import By

    _open(driver, pages["t6"])
    fold = driver.find_element(By.CSS_SELECTOR, '#gs-view g.node[data-ref="-1"]')
    assert "layers.0–5 · TransformerEncoderLayer ×6" in fold.get_attribute("textContent")
    fold.click()
    _at_level(driver, "L1")
    crumbs = driver.find_element(By.ID, "gs-crumbs")
    assert crumbs.text.split("\n") == ["overview", "›", "layers.0–5 · TransformerEncoderLayer ×6"]
    inspector = driver.find_element(By.ID, "gs-inspector").text
    assert "6 identical copies; its level draws copy 1 (76 nodes)" in inspector
    crumbs.find_element(By.TAG_NAME, "button").click()
    _at_level(driver, "L0")
    driver.back()
    _at_level(driver, "L1")
    driver.back()
    _at_level(driver, "L0")


def test_a_bundle_of_parameters_opens_onto_them_and_the_op_they_feed(
    driver: Any, pages: dict[str, Path]
) -> None:
    from selenium.webdriver.common.by import By

    _open(driver, pages["fused"])
    drawn = driver.find_elements(By.CSS_SELECTOR, "#gs-view g.node")
    texts = [n.get_attribute("textContent") for n in drawn]
    assert sum("6 tensors · 48 params" in t for t in texts) == 4  # one bundle per block
    (bundle,) = [n for n, t in zip(drawn, texts, strict=True) if "2 · Sequential" in t]
    bundle.click()
    _at_level(driver, "L3")
    assert _crumbs(driver) == ["overview", "2 · Sequential"]
    inside = [
        n.get_attribute("textContent")
        for n in driver.find_elements(By.CSS_SELECTOR, "#gs-view g.node")
    ]
    names = sorted(m.group(1) for t in inside for m in [re.search(r"name=([^,]+)", t)] if m)
    assert names == sorted(
        ["Fused", *(f"model[2][{m}].{p}" for m in (0, 1, 2) for p in ("weight", "bias"))]
    )  # the bundle's parameters and the op they feed, as a neighbour
    _choose(driver, "model.1.0.weight", "model[1][0].weight")  # inside another bundle: opens it
    _at_level(driver, "L2")


def test_a_finding_opens_its_node_shows_the_fix_and_its_lines(
    driver: Any, pages: dict[str, Path]
) -> None:
    from selenium.webdriver.common.by import By

    _open(driver, pages["enc"])
    (item,) = driver.find_elements(By.CSS_SELECTOR, "#gs-findings li")
    assert "grad-accumulation" in item.text and "encoder.layers[3].linear1.weight" in item.text
    item.click()
    data = page_data(pages["enc"].read_text(encoding="utf-8"))
    (finding,) = data["findings"]
    nodes = Nodes(data)
    level, (_, twin) = nodes.drawn(finding["node"])
    _at_level(driver, data["levels"][level]["id"])
    assert data["levels"][level]["title"] == "layers.1–5 · TransformerEncoderLayer ×5"
    inspector = driver.find_element(By.ID, "gs-inspector")
    item = driver.find_element(By.CSS_SELECTOR, "#gs-findings li")
    assert finding["hint"] in item.text and finding["hint"].startswith("Call `opt.zero_grad()`")
    assert finding["hint"] not in inspector.text  # the list shows it: not a second copy
    assert len(inspector.find_elements(By.CSS_SELECTOR, ".gs-card")) == 1  # its lines, on top
    here = inspector.find_element(By.CSS_SELECTOR, "pre.gs-code span.gs-line-here")
    assert here.get_attribute("data-line") == "33" and "loss.backward()" in here.text
    rel = inspector.find_element(By.CSS_SELECTOR, "pre.gs-code span.gs-line-rel")
    assert rel.get_attribute("data-line") == "34" and "opt.step()" in rel.text
    (marked,) = driver.find_elements(By.CSS_SELECTOR, "#gs-view g.node.gs-sel")
    assert marked.get_attribute("data-ref") == str(twin)
    spark = inspector.find_elements(By.CSS_SELECTOR, "svg.gs-spark circle")
    assert len(spark) == 2  # the gradient after each of the two backward calls
    driver.back()
    _at_level(driver, "L0")


def test_markup_in_module_names_is_shown_as_text_and_never_runs(
    driver: Any, pages: dict[str, Path]
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    _open(driver, pages["enc"])
    assert driver.execute_script("return typeof window.pwned") == "undefined"
    assert driver.execute_script("return document.querySelectorAll('img').length") == 0
    levels = len(page_data(pages["enc"].read_text(encoding="utf-8"))["levels"])
    assert driver.execute_script("return document.scripts.length") == 3 + levels
    drawn = driver.execute_script(
        "return [...document.querySelectorAll('#gs-view text')].map(t => t.textContent)"
    )
    assert any("<script>pwned=1</script>" in t for t in drawn)
    box = driver.find_element(By.ID, "gs-search")
    box.send_keys("<script>pwned=1</script>'].weight")
    first = _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "#gs-results li"), "results")
    assert first.text.startswith("model.heads['<script>pwned=1</script>'].weight")
    box.send_keys(Keys.ENTER)
    title = _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "#gs-inspector h2"), "shown")
    assert title.text == "model.heads['<script>pwned=1</script>'].weight"
    assert driver.execute_script("return typeof window.pwned") == "undefined"


def test_overlays_colour_nodes_by_norm_memory_and_module(
    driver: Any, pages: dict[str, Path]
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    _open(driver, pages["enc"], "#L1")
    fills_js = """
    return [...document.querySelectorAll('#gs-view g.node[data-ref]')].map(g => {
      const s = g.querySelector('polygon, path');
      return [Number(g.dataset.ref), s ? s.style.fill : ''];
    });"""
    nodes = Nodes(page_data(pages["enc"].read_text(encoding="utf-8")))
    choose = Select(driver.find_element(By.ID, "gs-overlay"))
    legend = driver.find_element(By.ID, "gs-legend")
    assert not legend.is_displayed()
    choose.select_by_value("grad")
    assert "gradient norm (log scale" in legend.text
    fills = dict(driver.execute_script(fills_js))
    params = {r: f for r, f in fills.items() if r >= 0 and nodes.node(r)["role"] == "param"}
    ops = {r: f for r, f in fills.items() if r >= 0 and nodes.node(r)["kind"] == "op"}
    assert len(set(params.values())) >= 5  # a range of norms, a range of colours
    assert set(ops.values()) == {"rgb(241, 242, 244)"}  # no gradient of their own: grey
    choose.select_by_value("mem")
    assert "saved-tensor memory" in legend.text
    fills = dict(driver.execute_script(fills_js))
    saving = [f for r, f in fills.items() if r >= 0 and nodes.node(r)["bytes"]]
    assert saving and "rgb(241, 242, 244)" not in saving
    choose.select_by_value("module")
    shown = legend.text.split("\n")
    assert shown[0] == "module" and "model.encoder.layers.1.linear1" in shown
    assert "model.encoder.layers.1.self_attn" in shown  # a group, coloured as its module
    assert "model.encoder.layers.0.norm2" in shown  # context: the layer before
    choose.select_by_value("")
    assert not legend.is_displayed()
    assert {f for _, f in driver.execute_script(fills_js)} == {""}


def test_keys_wheel_and_drag_zoom_and_pan(driver: Any, pages: dict[str, Path]) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    _open(driver, pages["t6"], "#L1")
    state = "const p = window.graphscopeExplorer.state.pz; return [p.getSizes().realZoom, p.getPan().x, p.getPan().y];"
    zoom0, x0, y0 = driver.execute_script(state)
    body = driver.find_element(By.TAG_NAME, "body")
    body.send_keys("+")
    assert driver.execute_script(state)[0] == pytest.approx(zoom0 * 1.25)
    body.send_keys("0")
    assert driver.execute_script(state) == pytest.approx([zoom0, x0, y0], abs=1e-3)
    ActionChains(driver).send_keys("\ue012").perform()  # arrow left: the picture moves right
    assert driver.execute_script(state)[1] == pytest.approx(x0 + 80)
    driver.execute_script(
        "document.getElementById('gs-view').dispatchEvent(new WheelEvent('wheel', "
        "{deltaY: -50, ctrlKey: true, clientX: 300, clientY: 300, bubbles: true, cancelable: true}))"
    )
    assert driver.execute_script(state)[0] == pytest.approx(zoom0 * 1.6487, rel=1e-3)  # e^0.5
    view = driver.find_element(By.ID, "gs-view")
    before = driver.execute_script(state)
    ActionChains(driver).move_to_element_with_offset(view, 0, 0).click_and_hold().move_by_offset(
        60, 40
    ).release().perform()
    after = driver.execute_script(state)
    assert after[1] == pytest.approx(before[1] + 60) and after[2] == pytest.approx(before[2] + 40)
    assert _level(driver) == "L1"  # a drag is not a click


def test_screenshot_of_the_encoder_page_is_not_blank(driver: Any, pages: dict[str, Path]) -> None:
    _open(driver, pages["t6"])
    width, height, rows = png_rgb(driver.get_screenshot_as_png())
    view = driver.execute_script(
        "const r = document.getElementById('gs-view').getBoundingClientRect();"
        "return [r.left, r.top, r.right, r.bottom].map(Math.round);"
    )
    dpr = width / driver.execute_script("return window.innerWidth")
    x0, y0, x1, y1 = (int(v * dpr) for v in view)
    inked = sum(
        1
        for y in range(y0, min(y1, height), 2)
        for x in range(x0, min(x1, width), 2)
        if min(rows[y][3 * x : 3 * x + 3]) < 200
    )
    sampled = ((y1 - y0) // 2) * ((x1 - x0) // 2)
    assert inked > 0.01 * sampled, (inked, sampled)  # the graph is drawn, not a white page
    colours = {
        rows[y][3 * x : 3 * x + 3] for y in range(y0, min(y1, height), 4) for x in range(x0, x1, 4)
    }
    assert len(colours) > 20  # fills, borders and text, not one flat colour


def test_the_notebook_frame_runs_the_explorer_sandboxed(
    driver: Any, pages: dict[str, Path], tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    host = tmp_path / "notebook.html"
    page = pages["enc"].read_text(encoding="utf-8")
    host.write_text(
        "<!DOCTYPE html><html><body><h1>cell</h1>" + notebook_html(page) + "</body></html>",
        encoding="utf-8",
    )
    driver.get(host.resolve().as_uri())
    frame = driver.find_element(By.TAG_NAME, "iframe")
    driver.switch_to.frame(frame)
    try:
        _wait(driver, lambda d: _level(d) == "L0", "explorer inside the frame")
        driver.find_element(By.ID, "gs-fit").click()  # the whole level: every fold in sight
        _wait(
            driver,
            lambda d: d.execute_script("return window.graphscopeExplorer.state.fitted"),
            "fit",
        )
        fold = driver.find_element(By.CSS_SELECTOR, '#gs-view g.node[data-ref^="-"]')
        fold.click()
        _wait(driver, lambda d: _level(d) != "L0", "the fold opened inside the frame")
        assert driver.execute_script("return typeof window.pwned") == "undefined"
    finally:
        driver.switch_to.default_content()
    assert driver.execute_script("return typeof window.pwned") == "undefined"
    assert driver.find_element(By.TAG_NAME, "h1").text == "cell"  # the notebook is untouched


def test_a_frame_hidden_while_it_loads_fits_once_shown(
    driver: Any, pages: dict[str, Path], tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    host = tmp_path / "hidden.html"
    page = pages["t6"].read_text(encoding="utf-8")
    host.write_text(
        '<!DOCTYPE html><html><body><div id="cell" style="display:none">'
        + notebook_html(page)
        + "</div></body></html>",
        encoding="utf-8",
    )
    driver.get(host.resolve().as_uri())
    driver.switch_to.frame(driver.find_element(By.TAG_NAME, "iframe"))
    try:
        _wait(driver, lambda d: _level(d) == "L0", "explorer inside the hidden frame")
        driver.switch_to.default_content()
        driver.execute_script("document.getElementById('cell').style.display = 'block'")
        driver.switch_to.frame(driver.find_element(By.TAG_NAME, "iframe"))
        _wait(
            driver,
            lambda d: d.execute_script("return window.graphscopeExplorer.state.fitted"),
            "fit",
        )
        _assert_fits(driver)
    finally:
        driver.switch_to.default_content()


def test_a_saved_tensor_left_alone_shows_its_version_not_a_question_mark(
    driver: Any, pages: dict[str, Path]
) -> None:
    from selenium.webdriver.common.by import By

    data = page_data(pages["enc"].read_text(encoding="utf-8"))
    nodes = Nodes(data)
    i = next(  # an op drawn as itself on the overview, with saved tensors that are all ok
        i
        for i in range(nodes.n)
        if nodes.node(i)["saved"]
        and all(e["status"] == "ok" for e, _ in nodes.node(i)["saved"])
        and nodes.drawn(i) == (0, ("node", i))
    )
    saved = nodes.node(i)["saved"]
    _open(driver, pages["enc"])
    driver.find_element(By.CSS_SELECTOR, f'#gs-view g.node[data-ref="{i}"]').click()
    rows = _wait(
        driver,
        lambda d: d.find_elements(By.CSS_SELECTOR, "#gs-inspector table.gs-saved tr")[1:],
        "the saved-tensor table",
    )
    assert len(rows) == len(saved)
    for row, (entry, _) in zip(rows, saved, strict=True):
        version = row.find_elements(By.TAG_NAME, "td")[3].text
        assert version == f"v{entry['version_now']} (unchanged)", version


# -- a big overview opens readable ----------------------------------------------------------------


@pytest.fixture(scope="module")
def bert_pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 180-node BERT (tests/scripts/explorer_bert_like.py), and the same with a NaN gradient
    at an op in the middle of the picture (``--nan``)."""
    if _missing():
        pytest.skip(str(_missing()))
    base = tmp_path_factory.mktemp("bert")
    out = {}
    for name, extra in (("bert", []), ("nan", ["--nan"])):
        proc = subprocess.run(
            [sys.executable, "-m", "graphscope", "render", "--format", "html"]
            + ["-o", str(base / name), str(SCRIPTS / "explorer_bert_like.py"), *extra],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
            timeout=300,
        )
        assert proc.returncode in (0, 1), proc.stderr
        (out[name],) = (base / name).glob("*.g1.html")
    return out


_TEXT_JS = """
const v = document.getElementById('gs-view').getBoundingClientRect();
const heights = [];
document.querySelectorAll('#gs-view svg text').forEach(t => {
  const r = t.getBoundingClientRect();
  if (r.height > 0 && r.bottom > v.top && r.top < v.bottom && r.right > v.left && r.left < v.right)
    heights.push(r.height);
});
heights.sort((a, b) => a - b);
const focus = [...document.querySelectorAll('#gs-view g.node')].find(
  g => (g.querySelector('text') || {}).textContent === arguments[0]);
const f = focus ? focus.getBoundingClientRect() : null;
return [heights.length ? heights[Math.floor(heights.length / 2)] : 0, heights.length,
        f && [f.left, f.top, f.right, f.bottom], [v.left, v.top, v.right, v.bottom]];
"""


def _first_view(d: Any, label: str) -> tuple[float, int, list[float] | None, list[float]]:
    _wait(d, lambda d: d.execute_script(_TEXT_JS, label)[1] > 0, "the picture drawn")
    return tuple(d.execute_script(_TEXT_JS, label))  # type: ignore[return-value]


def test_a_180_node_overview_opens_readable_on_the_loss_and_0_fits(
    driver: Any, bert_pages: dict[str, Path]
) -> None:
    from selenium.webdriver.common.by import By

    data = page_data(bert_pages["bert"].read_text(encoding="utf-8"))
    assert data["n"] == 180
    _open(driver, bert_pages["bert"])
    median, shown, focus, view = _first_view(driver, "out.loss")
    assert median >= 9, (median, shown)  # the whole overview fitted: 3-4 px
    assert focus is not None
    assert view[0] <= focus[0] and focus[2] <= view[2]  # the loss in sight
    assert view[1] <= focus[1] and focus[3] <= view[3]
    driver.find_element(By.TAG_NAME, "body").send_keys("0")
    _wait(
        driver, lambda d: d.execute_script("return window.graphscopeExplorer.state.fitted"), "fit"
    )
    _assert_fits(driver)
    median_fit, _, _, _ = _first_view(driver, "out.loss")
    assert median_fit < 6, median_fit  # fitted, the text is too small to read: hence the start


def test_a_big_overview_opens_on_its_first_finding(
    driver: Any, bert_pages: dict[str, Path]
) -> None:
    data = page_data(bert_pages["nan"].read_text(encoding="utf-8"))
    assert [f["kind"] for f in data["findings"]] == ["nonfinite-grad"]
    _open(driver, bert_pages["nan"])
    median, _, focus, view = _first_view(driver, "SqrtBackward0")
    assert median >= 9
    assert focus is not None
    cx, cy = (focus[0] + focus[2]) / 2, (focus[1] + focus[3]) / 2
    assert abs(cx - (view[0] + view[2]) / 2) < 0.1 * (view[2] - view[0])  # centred on it
    assert abs(cy - (view[1] + view[3]) / 2) < 0.1 * (view[3] - view[1])


def test_a_page_opened_on_a_node_keeps_the_node_in_view(
    driver: Any, bert_pages: dict[str, Path]
) -> None:
    nodes = Nodes(page_data(bert_pages["bert"].read_text(encoding="utf-8")))
    i = next(k for k in range(nodes.n) if nodes.node(k)["name"] == "model.classifier.weight")
    _open(driver, bert_pages["bert"], f"#L0/n{i}")
    _, _, focus, view = _first_view(driver, "classifier.weight")
    assert focus is not None and view[0] <= focus[0] and focus[2] <= view[2]


def test_a_finding_is_listed_once_with_its_fix_and_outlines_every_node_it_names(
    driver: Any, pages: dict[str, Path]
) -> None:
    """One grad-accumulation finding about ten parameters: on opening, the list shows its
    message and its fix, once; a click outlines the ten parameters and nothing else (not the
    other ops of its line), and the inspector says what the outline means."""
    from selenium.webdriver.common.by import By

    page = pages["findings"]
    data = page_data(page.read_text(encoding="utf-8"))
    (finding,) = data["findings"]
    nodes = Nodes(data)
    assert len(finding["nodes"]) == 10 and finding["node"] in finding["nodes"]
    names = sorted(nodes.cols["nm"][i] for i in finding["nodes"]) if "nm" in nodes.cols else None
    _open(driver, page)
    (item,) = driver.find_elements(By.CSS_SELECTOR, "#gs-findings li")
    assert finding["message"] in item.text and finding["hint"] in item.text
    body = driver.execute_script("return document.body.innerText")
    assert body.count(finding["hint"]) == 1  # once, on opening
    item.click()
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#gs-view g.node.gs-sel"), "marked")
    body = driver.execute_script("return document.body.innerText")
    assert body.count(finding["hint"]) == 1 and body.count(finding["message"]) == 1
    marked = {
        int(g.get_attribute("data-ref"))
        for g in driver.find_elements(
            By.CSS_SELECTOR, "#gs-view g.node.gs-sel, #gs-view g.node.gs-mark"
        )
    }
    drawn = {nodes.drawn(i)[1][1] for i in finding["nodes"]}
    assert all(nodes.drawn(i)[1][0] == "node" for i in finding["nodes"])
    assert marked == drawn, (marked, drawn, names)
    legend = driver.find_element(By.CSS_SELECTOR, "#gs-inspector .gs-legend-mark")
    assert "outlined: the nodes this finding names (10)" in legend.text
