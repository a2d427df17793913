"""The explorer's memory tab and colouring in headless Chromium (the driver and helpers of
tests/test_explorer_browser.py), on the page ``graphscope render --format html`` writes for a
transformer whose attention scores dominate (tests/scripts/memory/attention.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from graphscope.model import spelled
from tests.explorer import Nodes, page_data
from tests.test_explorer_browser import _missing, _open, _render, _wait, driver  # noqa: F401

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if _missing():
        pytest.skip(str(_missing()))
    return _render("memory/attention.py", tmp_path_factory.mktemp("memory"))


def _rows(d: Any, kind: str) -> list[str]:
    return list(
        d.execute_script(
            f"return [...document.querySelectorAll('#gs-memory ol.gs-mem-{kind} li')]"
            ".map(li => li.innerText)"
        )
    )


def test_the_memory_tab_ranks_lines_and_each_row_opens_its_node(driver: Any, page: Path) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By

    data = page_data(page.read_text(encoding="utf-8"))
    nodes = Nodes(data)
    _open(driver, page)
    memory = driver.find_element(By.ID, "gs-memory")
    findings = driver.find_element(By.ID, "gs-findings")
    assert not memory.is_displayed() and findings.is_displayed()
    driver.find_element(By.CSS_SELECTOR, '#gs-tabs button[data-tab="memory"]').click()
    assert memory.is_displayed() and not findings.is_displayed()
    assert "SAVED FOR BACKWARD: 1.8 MIB" in memory.text.upper()
    lines = _rows(driver, "lines")
    # 2 blocks x (2, 4, 128, 128) float32 softmax results: 2 x 512 KiB, 56% of 1.8 MiB
    assert lines[0].split("\n")[:2] == ["1.0 MiB56%", "attention.py:28 att = scores.softmax(-1)"]
    assert "SoftmaxBackward0 in blocks[*].attn" in lines[0]
    checkpoint = _rows(driver, "checkpoint")
    assert any(r.startswith("1.3 MiB") and "each of blocks[*].attn (2)" in r for r in checkpoint)
    driver.find_element(By.CSS_SELECTOR, "#gs-memory ol.gs-mem-lines li").click()
    _wait(driver, lambda d: "/n" in d.execute_script("return location.hash"), "a node opened")
    ref = int(driver.execute_script("return location.hash").rsplit("/n", 1)[1])
    assert nodes.node(ref)["label"] == "SoftmaxBackward0"
    assert nodes.node(ref)["line"] == 28
    inspector = driver.find_element(By.ID, "gs-inspector").text
    assert inspector.startswith("SoftmaxBackward0") and "512.0 KiB" in inspector
    # a module row opens the op that saved that module's largest storage
    module, _, node = data["memory"]["modules"][0]
    _open(driver, page)
    driver.find_element(By.CSS_SELECTOR, '#gs-tabs button[data-tab="memory"]').click()
    driver.find_element(By.CSS_SELECTOR, "#gs-memory ol.gs-mem-modules li").click()
    _wait(
        driver, lambda d: d.execute_script("return location.hash").endswith(f"/n{node}"), "opened"
    )
    assert spelled(nodes.node(node)["module"]) == module  # the row names it as the user does


def test_the_memory_colouring_has_a_legend_in_bytes(driver: Any, page: Path) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    _open(driver, page)
    Select(driver.find_element(By.ID, "gs-overlay")).select_by_value("mem")
    legend = driver.find_element(By.ID, "gs-legend").text.split("\n")
    assert legend[0].startswith("saved-tensor memory, each storage once")
    low, high = legend[1], legend[2]
    assert high.endswith("MiB") and low.endswith(("B", "KiB"))
