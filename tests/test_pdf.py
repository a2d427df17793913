"""PDF output: the embedded engine's SVG turned into PDF by graphscope.pdf (Typst), and dot -Tpdf."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from graphscope import pdf as gpdf
from graphscope.cli import main
from graphscope.dot import to_dot
from graphscope.draw import render_graph
from graphscope.errors import RenderError
from graphscope.layout import find_engine, layout
from graphscope.options import Options
from graphscope.tracer import trace
from tests.graphs import seed_tensors

SCRIPTS = Path(__file__).parent / "scripts"
SEED_LABELS = {"y", "MulBackward0", "AddBackward0", "a", "b", "w", "x"}

needs_pdftotext = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed"
)
needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="the system Graphviz 'dot' is not installed"
)

# -- helpers ----------------------------------------------------------------------------------------


def seed_graph():  # type: ignore[no-untyped-def]
    """y = (w + x)(w + 1), w = 1, x = 2, after backward."""
    t = seed_tensors()
    t["y"].backward(retain_graph=True)
    return trace(t["y"], names=t)


def loop_graph():  # type: ignore[no-untyped-def]
    """200 steps of h = tanh(h * w + b): folds into one ``Mul → Add → Tanh ×200`` block."""
    torch.manual_seed(0)
    w = torch.randn(4, requires_grad=True)
    b = torch.randn(4, requires_grad=True)
    h = torch.randn(4)
    for _ in range(200):
        h = torch.tanh(h * w + b)
    loss = h.sum()
    return trace(loss, names={"w": w, "b": b, "loss": loss, "h": h})


def pdf_objects(pdf: bytes) -> dict[int, bytes]:
    """The objects of a PDF with a classic xref table, each checked against its offset."""
    assert pdf.startswith(b"%PDF-1.")
    assert pdf.rstrip().endswith(b"%%EOF")
    m = re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", pdf)
    assert m, "no startxref"
    xref = int(m.group(1))
    head = re.match(rb"xref\r?\n0 (\d+)\r?\n", pdf[xref:])
    assert head, "startxref does not point at the xref table"
    count = int(head.group(1))
    rows = pdf[xref + head.end() : xref + head.end() + 20 * count]
    entries = [rows[i : i + 20].split() for i in range(0, len(rows), 20)]
    assert len(entries) == count and entries[0][2] == b"f"
    objects: dict[int, bytes] = {}
    for num, (off, _gen, kind) in enumerate(entries[1:], 1):
        assert kind == b"n"
        start = int(off)
        assert re.match(rb"%d 0 obj\b" % num, pdf[start:]), f"xref offset of object {num} is wrong"
        objects[num] = pdf[start : pdf.index(b"endobj", start)]
    assert re.search(rb"trailer\s*<<.*/Size %d\b" % count, pdf[xref:], re.S)
    return objects


def svg_size(svg: bytes) -> tuple[float, float]:
    m = re.search(rb'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg)
    assert m, "no width/height in pt"
    return float(m.group(1)), float(m.group(2))


def svg_text_lines(svg: bytes) -> list[str]:
    """Every ``<text>`` of a Graphviz SVG, unescaped."""
    return [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg.decode())]


def pdftotext(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-raw", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def no_space(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def seed_svg() -> bytes:
    return layout(to_dot(seed_graph()), "svg", find_engine("embedded"))


@pytest.fixture(scope="module")
def seed_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pdf") / "seed"
    return render_graph(seed_graph(), out, Options(format="pdf", engine="embedded")).path


# -- the embedded engine's PDF ----------------------------------------------------------------------


def test_embedded_pdf_is_one_page_the_size_of_the_svg(seed_pdf: Path, seed_svg: bytes) -> None:
    assert seed_pdf.suffix == ".pdf"
    objects = pdf_objects(seed_pdf.read_bytes())
    pages = [o for o in objects.values() if re.search(rb"/Type\s*/Page\b", o)]
    assert len(pages) == 1
    box = re.search(rb"/MediaBox\s*\[([^\]]*)\]", pages[0])
    assert box
    x0, y0, x1, y1 = (float(v) for v in box.group(1).split())
    width, height = svg_size(seed_svg)
    assert (x0, y0) == (0, 0)
    assert (x1, y1) == pytest.approx((width, height), abs=0.01)
    assert x1 / y1 == pytest.approx(width / height, rel=1e-4)


def test_fonts_are_embedded_dejavu_sans_mono_regular_and_bold(seed_pdf: Path) -> None:
    data = seed_pdf.read_bytes()
    found = re.findall(rb"/BaseFont\s*/[A-Z]{6}\+([\w-]+)", data)
    fonts = {f.removesuffix(b"-Identity-H") for f in found}
    assert fonts == {b"DejaVuSansMono", b"DejaVuSansMono-Bold"}  # bold: the <B> titles
    assert b"/FontFile2" in data  # the glyphs are in the file, not left to the viewer


def test_same_svg_gives_the_same_bytes_and_no_date(seed_svg: bytes) -> None:
    first = gpdf.svg_to_pdf(seed_svg)
    assert gpdf.svg_to_pdf(seed_svg) == first
    assert b"/CreationDate" not in first and b"/ModDate" not in first


def test_fallback_font_follows_every_family() -> None:
    svg = '<text font-family="Cousine">a</text><text font-family="Times,serif">b</text>'
    assert gpdf._with_fallback_font(svg) == (
        '<text font-family="Cousine, DejaVu Sans Mono">a</text>'
        '<text font-family="Times,serif, DejaVu Sans Mono">b</text>'
    )


@needs_pdftotext
def test_pdftotext_reads_every_label_line(seed_pdf: Path, seed_svg: bytes) -> None:
    text = pdftotext(seed_pdf)
    lines = {ln.strip() for ln in text.splitlines()}
    assert SEED_LABELS <= lines  # each node's title is a line of its own
    flat = no_space(text)
    wanted = svg_text_lines(seed_svg)
    assert len(wanted) > 30
    assert [t for t in wanted if no_space(t) not in flat] == []
    assert "is_leaf=True requires_grad=True" in text and "legend" in lines


def test_pdfinfo_accepts_it(seed_pdf: Path, seed_svg: bytes) -> None:
    if shutil.which("pdfinfo") is None:
        pytest.skip("pdfinfo (poppler-utils) is not installed")
    proc = subprocess.run(["pdfinfo", str(seed_pdf)], capture_output=True, text=True, check=True)
    assert proc.stderr == ""  # no "Syntax Error" of any kind
    info = proc.stdout
    assert re.search(r"^Pages:\s+1$", info, re.M)
    width, height = svg_size(seed_svg)
    assert re.search(rf"^Page size:\s+{width:g} x {height:g} pts", info, re.M), info


@needs_pdftotext
def test_fold_label_with_arrows_and_times_is_text(tmp_path: Path) -> None:
    out = render_graph(loop_graph(), tmp_path / "loop", Options(format="pdf", engine="embedded"))
    assert out.collapsed
    lines = {ln.strip() for ln in pdftotext(out.path).splitlines()}
    assert "Mul → Add → Tanh ×200" in lines
    assert {"loss", "SumBackward0", "w", "b"} <= lines


@pytest.mark.slow
@needs_pdftotext
def test_cli_pdf_of_the_transformer_keeps_dashes_and_ellipses(tmp_path: Path) -> None:
    script = str(SCRIPTS / "transformer6.py")
    args = ["render", script, "-o", str(tmp_path), "--engine", "embedded", "--format", "pdf"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "wrote " + str(tmp_path / "transformer6.g1.pdf") in result.stdout
    lines = {ln.strip() for ln in pdftotext(tmp_path / "transformer6.g1.pdf").splitlines()}
    assert "layers.0–5 · TransformerEncoderLayer ×6" in lines
    assert "… 68 more parameters" in lines
    assert {"loss", "MeanBackward0", "PowBackward0", "x"} <= lines


# -- errors -----------------------------------------------------------------------------------------


def test_missing_typst_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, seed_svg: bytes
) -> None:
    monkeypatch.setitem(sys.modules, "typst", None)  # import typst now raises ImportError
    with pytest.raises(RenderError) as err:
        gpdf.svg_to_pdf(seed_svg)
    message = str(err.value)
    assert "'typst' package" in message
    assert "pip install 'torch-graphscope[pdf]'" in message
    assert "--engine dot" in message and "system Graphviz" in message


def test_missing_typst_is_a_clean_cli_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "typst", None)
    script = str(SCRIPTS / "seed_graph.py")
    args = ["render", script, "-o", str(tmp_path), "--engine", "embedded", "--format", "pdf"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 2  # a usage error, before the script runs (issue 23)
    assert "pip install 'torch-graphscope[pdf]'" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "seed_graph.g1.pdf").exists()


def test_bad_svg_is_a_render_error() -> None:
    with pytest.raises(RenderError, match="cannot convert the SVG to PDF: failed to parse SVG"):
        gpdf.svg_to_pdf(b"<svg")
    with pytest.raises(RenderError, match="cannot convert the SVG to PDF: it is not UTF-8"):
        gpdf.svg_to_pdf(b"<svg>\xff</svg>")


@pytest.mark.slow
def test_typst_is_loaded_only_for_a_pdf() -> None:
    code = (
        "import sys, graphscope.draw, graphscope.layout\n"
        "assert 'graphscope.pdf' not in sys.modules and 'typst' not in sys.modules\n"
        "print('ok')"
    )
    root = str(Path(__file__).parent.parent)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=False
    )
    assert proc.stdout.strip() == "ok", proc.stderr


# -- the system Graphviz still writes PDF itself ----------------------------------------------------


@needs_dot
def test_dot_engine_writes_pdf_without_typst(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "typst", None)  # proves the dot path does not need it
    out = render_graph(seed_graph(), tmp_path / "seed", Options(format="pdf", engine="dot"))
    assert out.engine == "dot"
    data = out.path.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert b"Typst" not in data
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed: labels not read back")
    lines = {ln.strip() for ln in pdftotext(out.path).splitlines()}
    assert SEED_LABELS <= lines
