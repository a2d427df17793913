"""_pdf: the embedded engine's PDF, drawn from graphviz-pure's -Tjson xdot operations."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zlib

import pytest
import torch

from graphscope._pdf import MARGIN, parse_color, pdf_text, xdot_to_pdf
from graphscope.dot import to_dot
from graphscope.draw import render_graph
from graphscope.layout import find_engine
from graphscope.options import Options
from graphscope.tracer import trace

# -- helpers ----------------------------------------------------------------------------------------


def layout_json(dot: str) -> bytes:
    """graphviz-pure's -Tjson for ``dot``."""
    proc = subprocess.run(
        [find_engine("embedded").path, "-Tjson"],
        input=dot.encode("utf-8"),
        capture_output=True,
        timeout=120,
        check=True,
    )
    return proc.stdout


def seed_graph():
    """y = (w + x)(w + 1), w = 1, x = 2, a retains its grad, after backward."""
    w = torch.tensor([1.0], requires_grad=True)
    x = torch.tensor([2.0], requires_grad=True)
    a = torch.add(w, x)
    a.retain_grad()
    b = torch.add(w, 1)
    y = torch.mul(a, b)
    y.backward(retain_graph=True)
    return trace(y)


@pytest.fixture(scope="module")
def seed_json() -> bytes:
    return layout_json(to_dot(seed_graph()))


@pytest.fixture(scope="module")
def seed_pdf(seed_json: bytes) -> bytes:
    return xdot_to_pdf(seed_json)


def parse_pdf(pdf: bytes) -> dict[int, bytes]:
    """Objects of a PDF written without object streams, checked against its xref table."""
    assert pdf.startswith(b"%PDF-1.4\n")
    assert pdf.endswith(b"%%EOF\n")
    m = re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", pdf)
    assert m, "no startxref"
    xref = int(m.group(1))
    assert pdf[xref:].startswith(b"xref\n")
    head = re.match(rb"xref\n0 (\d+)\n", pdf[xref:])
    assert head
    count = int(head.group(1))
    rows = pdf[xref + head.end() : xref + head.end() + 20 * count]
    entries = [rows[i : i + 20] for i in range(0, len(rows), 20)]
    assert len(entries) == count and all(len(e) == 20 and e.endswith(b" \n") for e in entries)
    assert entries[0] == b"0000000000 65535 f \n"
    trailer = pdf[xref + head.end() + 20 * count :]
    assert trailer.startswith(b"trailer\n")
    assert re.search(rb"/Size %d\b" % count, trailer)
    objects: dict[int, bytes] = {}
    for num, entry in enumerate(entries[1:], 1):
        off, gen, kind = entry.split()
        assert kind == b"n" and gen == b"00000"
        start = int(off)
        assert pdf[start:].startswith(b"%d 0 obj\n" % num), f"xref offset of object {num} is wrong"
        end = pdf.index(b"\nendobj\n", start)
        objects[num] = pdf[start + len(b"%d 0 obj\n" % num) : end]
    root = re.search(rb"/Root (\d+) 0 R", trailer)
    assert root and b"/Type /Catalog" in objects[int(root.group(1))]
    return objects


def content(pdf: bytes) -> str:
    """The page's decompressed content stream."""
    objects = parse_pdf(pdf)
    page = next(body for body in objects.values() if b"/Type /Page " in body)
    num = int(re.search(rb"/Contents (\d+) 0 R", page).group(1))
    body = objects[num]
    length = int(re.search(rb"/Length (\d+)", body).group(1))
    assert b"/Filter /FlateDecode" in body
    start = body.index(b"stream\n") + len(b"stream\n")
    assert body[start + length :] == b"\nendstream"
    return zlib.decompress(body[start : start + length]).decode("latin-1")


def shown_text(stream: str) -> list[str]:
    """The strings of the content stream's ``Tj`` operators, unescaped."""
    out = []
    for m in re.finditer(r"\(((?:\\.|[^\\)])*)\) Tj", stream):
        out.append(re.sub(r"\\(.)", r"\1", m.group(1)))
    return out


def media_box(pdf: bytes) -> list[float]:
    m = re.search(rb"/MediaBox \[([^\]]*)\]", pdf)
    assert m
    return [float(v) for v in m.group(1).split()]


# -- structure ----------------------------------------------------------------------------------


def test_valid_pdf_with_xref_offsets(seed_pdf: bytes) -> None:
    objects = parse_pdf(seed_pdf)
    assert b"/Type /Pages /Kids [3 0 R] /Count 1" in objects[2]
    fonts = [body for body in objects.values() if b"/Type /Font" in body]
    assert fonts and all(b"/Encoding /WinAnsiEncoding" in f for f in fonts)
    assert b"/CreationDate" not in seed_pdf and b"/ModDate" not in seed_pdf


def test_media_box_is_bb_plus_margin(seed_json: bytes, seed_pdf: bytes) -> None:
    llx, lly, urx, ury = (float(v) for v in json.loads(seed_json)["bb"].split(","))
    box = media_box(seed_pdf)
    assert box[:2] == [0, 0]
    assert box[2] == pytest.approx(urx - llx + 2 * MARGIN, abs=1e-3)
    assert box[3] == pytest.approx(ury - lly + 2 * MARGIN, abs=1e-3)
    assert content(seed_pdf).startswith(f"1 0 0 1 {MARGIN - llx:g} {MARGIN - lly:g} cm\n")


def test_deterministic(seed_json: bytes, seed_pdf: bytes) -> None:
    assert xdot_to_pdf(seed_json) == seed_pdf
    assert xdot_to_pdf(bytes(seed_json)) == xdot_to_pdf(seed_json)


def test_external_checkers_accept_it(seed_pdf: bytes, tmp_path) -> None:
    """qpdf / pdftotext, when installed (not required)."""
    path = tmp_path / "g.pdf"
    path.write_bytes(seed_pdf)
    ran = False
    if shutil.which("qpdf"):
        ran = True
        proc = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    if shutil.which("pdftotext"):
        ran = True
        proc = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True)
        assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr
        assert "MulBackward0" in proc.stdout and "grad=[5]" in proc.stdout
    if not ran:
        pytest.skip("neither qpdf nor pdftotext is installed")


# -- drawing ------------------------------------------------------------------------------------


def test_every_label_line_is_drawn(seed_json: bytes, seed_pdf: bytes) -> None:
    texts = shown_text(content(seed_pdf))
    for needle in (
        "MulBackward0",
        "AddBackward0",
        "is_leaf=True requires_grad=True",
        "is_leaf=False requires_grad=True",
        "grad=[5]",
        "grad=[2]",
        "saved b (1,) v0",
        "(1,) float32",
        "legend",
        "root: backward starts here",
    ):
        assert needle in texts, needle
    # every T operation of the layout, in order
    g = json.loads(seed_json)
    expected = []
    for obj in [g, *g.get("objects", []), *g.get("edges", [])]:
        for key in ("_ldraw_", "_hldraw_", "_tldraw_"):
            expected += [op["text"] for op in obj.get(key, []) if op["op"] == "T"]
    assert sorted(texts) == sorted(expected)


def test_fonts_courier_for_cousine_bold_for_html_b(seed_pdf: bytes) -> None:
    stream = content(seed_pdf)
    objects = parse_pdf(seed_pdf)
    bases = {
        m.group(1).decode(): m.group(2).decode()
        for m in re.finditer(rb"/(F\d+) (\d+) 0 R", objects[3])
    }
    names = {
        f: re.search(rb"/BaseFont /([\w-]+)", objects[int(n)]).group(1).decode()
        for f, n in bases.items()
    }
    assert set(names.values()) == {"Courier", "Courier-Bold"}
    bold = next(f for f, n in names.items() if n == "Courier-Bold")
    plain = next(f for f, n in names.items() if n == "Courier")
    assert re.search(rf"BT /{bold} 11 Tf [\d.]+ [\d.]+ Td \(MulBackward0\) Tj ET", stream)
    assert re.search(rf"BT /{bold} 9 Tf [\d.]+ [\d.]+ Td \(grad=\[5\]\) Tj ET", stream)
    assert re.search(rf"BT /{plain} 9 Tf [\d.]+ [\d.]+ Td \(saved b \\\(1,\\\) v0\) Tj ET", stream)


def test_text_centred_with_courier_widths(seed_json: bytes, seed_pdf: bytes) -> None:
    g = json.loads(seed_json)
    node = next(o for o in g["objects"] if o.get("name") == "n1")  # MulBackward0
    t = next(op for op in node["_ldraw_"] if op["op"] == "T" and op["text"] == "MulBackward0")
    size = 11
    width = 0.6 * size * len("MulBackward0")
    x0 = t["pt"][0] - {"l": 0, "c": width / 2, "r": width}[t["align"]]
    m = re.search(r"([\d.]+) ([\d.]+) Td \(MulBackward0\) Tj", content(seed_pdf))
    assert float(m.group(1)) == pytest.approx(x0, abs=1e-3)
    assert float(m.group(2)) == pytest.approx(t["pt"][1], abs=1e-3)
    assert t["width"] == pytest.approx(
        0.6 * size * len("MulBackward0"), abs=0.5
    )  # Cousine = Courier


def test_node_fill_and_pen_colours(seed_pdf: bytes) -> None:
    stream = content(seed_pdf)
    assert "0.933 0.941 0.953 rg" in stream  # #eef0f3, op nodes
    assert "0.851 0.949 0.816 rg" in stream  # #d9f2d0, leaves
    assert "0.992 0.878 0.702 rg" in stream  # #fde0b3, root
    assert "0.918 0.863 0.984 rg" in stream  # #eadcfb, retained
    assert "0.184 0.522 0.353 RG" in stream  # #2f855a, leaf outline
    assert "0.753 0.337 0.129 RG" in stream and "2 w" in stream  # root: penwidth=2
    assert "[5 2] 0 d" in stream  # dashed outline of the named non-leaf b
    assert re.search(r"\nB\n", stream) and re.search(r"\nS\n", stream)  # filled+stroked, stroked


def test_background_fill_without_outline(seed_pdf: bytes) -> None:
    # the graph's background: white fill, pen "#fffffe00" (alpha 0 = none), so only "f"
    stream = content(seed_pdf)
    first = stream.split("\n")[1:8]
    assert first[0] == "1 1 1 rg" and first[-1] == "f"


SHAPES_DOT = r"""
digraph shapes {
  bgcolor=transparent
  a [label="x→y × … ⚠ ⓘ (p) é ∀" style="dashed,bold"]
  b [shape=ellipse style=filled fillcolor="#ff000080" color=red fontname="Helvetica-Bold"]
  c [shape=point]
  d [style=filled fillcolor="red:blue" fontname="Times-Roman"]
  e [shape=box style=filled fillcolor="lightblue" color="none" label=<<U>u</U> <I>i</I>>]
  a -> b [style=dotted label="lbl"]
  b -> c [color="blue:red"]
  b -> e [style=invis]
}
"""


def test_shapes_styles_and_non_latin_text() -> None:
    pdf = xdot_to_pdf(layout_json(SHAPES_DOT))
    stream = content(pdf)
    texts = shown_text(stream)
    encoded = [t.encode("latin-1") for t in texts]
    assert b"x->y \xd7 \x85 ! i (p) \xe9 ?" in encoded  # WinAnsi ×, …, é; ∀ unknown
    assert b"lbl" in encoded
    assert "[1 5] 0 d" in stream and "[5 2] 0 d" in stream  # dotted edge, dashed node
    assert "/GS0 gs" in stream and b"/ca 0.502" in pdf  # #ff000080: half transparent fill
    assert " c\n" in stream  # ellipses as Béziers
    assert "0.678 0.847 0.902 rg" in stream  # X11 lightblue
    assert "1 0 0 rg" in stream  # the gradient's first stop
    assert b"/BaseFont /Helvetica-Bold" in pdf and b"/BaseFont /Times-Roman" in pdf
    assert b"/BaseFont /Times-Italic" in pdf  # <I>
    parse_pdf(pdf)
    assert xdot_to_pdf(layout_json(SHAPES_DOT)) == pdf


def test_parse_color() -> None:
    assert parse_color("#cfe3f7") == pytest.approx((207 / 255, 227 / 255, 247 / 255, 1.0))
    assert parse_color("#fffffe00") is None
    assert parse_color("#ff000080")[3] == pytest.approx(128 / 255)
    assert parse_color("none") is None and parse_color("transparent") is None
    assert parse_color("white") == (1.0, 1.0, 1.0, 1.0)
    assert parse_color("Black") == (0.0, 0.0, 0.0, 1.0)
    assert parse_color("gray50") == (0.5, 0.5, 0.5, 1.0)
    assert parse_color("/x11/red") == (1.0, 0.0, 0.0, 1.0)
    assert parse_color("lightblue3") == parse_color("lightblue")
    assert parse_color("no-such-colour") == (0.0, 0.0, 0.0, 1.0)
    assert parse_color("0 0 1") == (1.0, 1.0, 1.0, 1.0)  # HSV


def test_pdf_text_encoding() -> None:
    assert pdf_text("→←×…⚠ⓘ☃") == b"-><-\xd7\x85!i?"
    assert pdf_text("é€") == b"\xe9\x80"
    assert pdf_text("a\nb") == b"a b"


def test_escapes_in_strings() -> None:
    g = {
        "bb": "0,0,100,20",
        "objects": [
            {
                "_gvid": 0,
                "name": "n",
                "_ldraw_": [
                    {"op": "F", "size": 10.0, "face": "Cousine"},
                    {"op": "c", "grad": "none", "color": "black"},
                    {"op": "T", "pt": [50, 5], "align": "l", "width": 1, "text": "a(b)\\c"},
                ],
            }
        ],
    }
    stream = content(xdot_to_pdf(json.dumps(g).encode()))
    assert "BT /F1 10 Tf 50 5 Td (a\\(b\\)\\\\c) Tj ET" in stream


def test_not_json_object() -> None:
    with pytest.raises(ValueError):
        xdot_to_pdf(b"[1, 2]")


# -- end to end -----------------------------------------------------------------------------------


def test_render_graph_pdf_with_embedded_engine(tmp_path) -> None:
    out = render_graph(seed_graph(), tmp_path / "g.pdf", Options(format="pdf", engine="embedded"))
    assert out.path == tmp_path / "g.pdf" and out.engine == "embedded"
    pdf = out.path.read_bytes()
    parse_pdf(pdf)
    texts = shown_text(content(pdf))
    assert "MulBackward0" in texts and "grad=[5]" in texts
