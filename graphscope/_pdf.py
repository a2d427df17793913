"""A small vector PDF 1.4 writer for Graphviz JSON layouts (``-Tjson`` with xdot operations).

``graphviz-pure`` (the embedded layout engine) has no PDF output, but it writes Graphviz's JSON
with the xdot drawing operations of every graph, cluster, node and edge. :func:`xdot_to_pdf`
draws those operations on one PDF page: polygons, polylines, Béziers, ellipses and text in the
standard 14 fonts (Courier for monospaced faces such as Cousine, Times for serif faces,
Helvetica otherwise), in WinAnsiEncoding. Standard library only; content streams are
Flate-compressed; the bytes are a pure function of the input (no dates, fixed object order).

Beware: Graphviz's JSON writer (and graphviz-pure, which copies it) spells the filled Bézier
``B`` and the unfilled one ``b``, the reverse of xdot text; this module reads them the JSON way.

Not drawn: gradients (their first stop colour fills instead), images (``I``), and glyphs
outside WinAnsiEncoding (a few are spelled with ASCII, the others become ``?``).
"""

from __future__ import annotations

import colorsys
import json
import re
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["xdot_to_pdf", "MARGIN", "parse_color", "pdf_text"]

MARGIN = 4.0  # points of white around the drawing (what Graphviz's own PDF output pads)
_KAPPA = 0.5522847498  # quarter-circle Bézier control distance
_DASHED = "[5 2] 0 d"  # as Graphviz's SVG output draws them
_DOTTED = "[1 5] 0 d"
_SOLID = "[] 0 d"

_Color = tuple[float, float, float, float]  # r, g, b, alpha in 0..1
_BLACK: _Color = (0.0, 0.0, 0.0, 1.0)

# X11 colour names (Graphviz's default scheme), from X.org's rgb.txt; numbered variants such as
# "lightblue3" fall back to their base name, grayNN/greyNN are computed.
_X11 = (
    "aliceblue:f0f8ff antiquewhite:faebd7 aquamarine:7fffd4 azure:f0ffff beige:f5f5dc bisque:ffe4c4 black:000000 "
    "blanchedalmond:ffebcd blue:0000ff blueviolet:8a2be2 brown:a52a2a burlywood:deb887 cadetblue:5f9ea0 "
    "chartreuse:7fff00 chocolate:d2691e coral:ff7f50 cornflowerblue:6495ed cornsilk:fff8dc cyan:00ffff "
    "darkblue:00008b darkcyan:008b8b darkgoldenrod:b8860b darkgray:a9a9a9 darkgreen:006400 darkgrey:a9a9a9 "
    "darkkhaki:bdb76b darkmagenta:8b008b darkolivegreen:556b2f darkorange:ff8c00 darkorchid:9932cc darkred:8b0000 "
    "darksalmon:e9967a darkseagreen:8fbc8f darkslateblue:483d8b darkslategray:2f4f4f darkslategrey:2f4f4f "
    "darkturquoise:00ced1 darkviolet:9400d3 debianred:d70751 deeppink:ff1493 deepskyblue:00bfff dimgray:696969 "
    "dimgrey:696969 dodgerblue:1e90ff firebrick:b22222 floralwhite:fffaf0 forestgreen:228b22 gainsboro:dcdcdc "
    "ghostwhite:f8f8ff gold:ffd700 goldenrod:daa520 gray:bebebe green:00ff00 greenyellow:adff2f grey:bebebe "
    "honeydew:f0fff0 hotpink:ff69b4 indianred:cd5c5c ivory:fffff0 khaki:f0e68c lavender:e6e6fa lavenderblush:fff0f5 "
    "lawngreen:7cfc00 lemonchiffon:fffacd lightblue:add8e6 lightcoral:f08080 lightcyan:e0ffff lightgoldenrod:eedd82 "
    "lightgoldenrodyellow:fafad2 lightgray:d3d3d3 lightgreen:90ee90 lightgrey:d3d3d3 lightpink:ffb6c1 "
    "lightsalmon:ffa07a lightseagreen:20b2aa lightskyblue:87cefa lightslateblue:8470ff lightslategray:778899 "
    "lightslategrey:778899 lightsteelblue:b0c4de lightyellow:ffffe0 limegreen:32cd32 linen:faf0e6 magenta:ff00ff "
    "maroon:b03060 mediumaquamarine:66cdaa mediumblue:0000cd mediumorchid:ba55d3 mediumpurple:9370db "
    "mediumseagreen:3cb371 mediumslateblue:7b68ee mediumspringgreen:00fa9a mediumturquoise:48d1cc "
    "mediumvioletred:c71585 midnightblue:191970 mintcream:f5fffa mistyrose:ffe4e1 moccasin:ffe4b5 navajowhite:ffdead "
    "navy:000080 navyblue:000080 oldlace:fdf5e6 olivedrab:6b8e23 orange:ffa500 orangered:ff4500 orchid:da70d6 "
    "palegoldenrod:eee8aa palegreen:98fb98 paleturquoise:afeeee palevioletred:db7093 papayawhip:ffefd5 "
    "peachpuff:ffdab9 peru:cd853f pink:ffc0cb plum:dda0dd powderblue:b0e0e6 purple:a020f0 red:ff0000 rosybrown:bc8f8f "
    "royalblue:4169e1 saddlebrown:8b4513 salmon:fa8072 sandybrown:f4a460 seagreen:2e8b57 seashell:fff5ee "
    "sienna:a0522d skyblue:87ceeb slateblue:6a5acd slategray:708090 slategrey:708090 snow:fffafa springgreen:00ff7f "
    "steelblue:4682b4 tan:d2b48c thistle:d8bfd8 tomato:ff6347 turquoise:40e0d0 violet:ee82ee violetred:d02090 "
    "wheat:f5deb3 white:ffffff whitesmoke:f5f5f5 yellow:ffff00 yellowgreen:9acd32"
)
COLORS: dict[str, str] = dict(item.split(":") for item in _X11.split())
COLORS.update(
    aqua="00ffff",
    crimson="dc143c",
    fuchsia="ff00ff",
    indigo="4b0082",
    lime="00ff00",
    olive="808000",
    silver="c0c0c0",
    teal="008080",
)

# characters WinAnsiEncoding lacks, spelled with ones it has
_SUBSTITUTES = {
    "\u2192": "->",
    "\u2190": "<-",
    "\u2194": "<->",
    "\u21d2": "=>",
    "\u21d0": "<=",
    "\u2191": "^",
    "\u2193": "v",
    "\u26a0": "!",
    "\u24d8": "i",
    "\u2264": "<=",
    "\u2265": ">=",
    "\u2260": "!=",
    "\u2248": "~",
    "\u2212": "-",
    "\u2713": "v",
    "\u2714": "v",
    "\u2717": "x",
    "\u2718": "x",
    "\u00a0": " ",
    "\u2009": " ",
    "\u202f": " ",
    "\u2002": " ",
    "\u2003": " ",
    "\u2011": "-",
    "\u2010": "-",
    "\u221e": "inf",
}  # WinAnsiEncoding has "\u2026" (0x85) and "\u00d7" (0xd7): one glyph, as wide as laid out

# Adobe's standard 14 names per (family, bold, italic)
_FONTS = {
    ("Courier", False, False): "Courier",
    ("Courier", True, False): "Courier-Bold",
    ("Courier", False, True): "Courier-Oblique",
    ("Courier", True, True): "Courier-BoldOblique",
    ("Helvetica", False, False): "Helvetica",
    ("Helvetica", True, False): "Helvetica-Bold",
    ("Helvetica", False, True): "Helvetica-Oblique",
    ("Helvetica", True, True): "Helvetica-BoldOblique",
    ("Times", False, False): "Times-Roman",
    ("Times", True, False): "Times-Bold",
    ("Times", False, True): "Times-Italic",
    ("Times", True, True): "Times-BoldItalic",
}
_MONO = ("courier", "cousine", "mono", "consol", "menlo", "monaco", "code", "fixed", "typewriter")
_BOLD, _ITALIC, _UNDERLINE, _STRIKE = 1, 2, 4, 32  # xdot "t" font characteristics

_DRAW_ORDER = ("_draw_", "_ldraw_", "_hdraw_", "_tdraw_", "_hldraw_", "_tldraw_", "_xldraw_")


# -- values ---------------------------------------------------------------------------------------


def _num(x: float) -> str:
    """A PDF number: at most 3 decimals, no trailing zeros, never ``-0``."""
    s = f"{x:.3f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def parse_color(spec: Any) -> _Color | None:
    """``(r, g, b, alpha)`` for an xdot colour, or None for none/transparent/alpha 0.

    Knows ``#rgb``, ``#rrggbb``, ``#rrggbbaa``, HSV triples ("0.6 0.4 0.9" or with commas),
    X11 names (with ``/scheme/`` prefixes dropped) and falls back to black.
    """
    if not isinstance(spec, str):
        return _BLACK
    s = spec.strip().lower()
    if s.startswith("/"):
        s = s.rsplit("/", 1)[-1]
    if s in ("", "none", "transparent", "invis"):
        return None
    if s.startswith("#"):
        h = s[1:]
        if len(h) in (3, 4) and all(c in "0123456789abcdef" for c in h):
            h = "".join(c * 2 for c in h)
        if len(h) in (6, 8) and all(c in "0123456789abcdef" for c in h):
            r, g, b = (int(h[i : i + 2], 16) / 255 for i in (0, 2, 4))
            a = int(h[6:8], 16) / 255 if len(h) == 8 else 1.0
            return None if a == 0 else (r, g, b, a)
        return _BLACK
    parts = s.replace(",", " ").split()
    if len(parts) in (3, 4):
        try:
            hsv = [min(max(float(p), 0.0), 1.0) for p in parts]
        except ValueError:
            pass
        else:
            r, g, b = colorsys.hsv_to_rgb(*hsv[:3])
            a = hsv[3] if len(hsv) == 4 else 1.0
            return None if a == 0 else (r, g, b, a)
    name = s.replace(" ", "")
    m = re.fullmatch(r"gr[ae]y(\d{1,3})", name)
    if m and int(m.group(1)) <= 100:
        v = int(m.group(1)) / 100
        return (v, v, v, 1.0)
    hexa = COLORS.get(name) or COLORS.get(name.rstrip("0123456789"))
    if hexa is None:
        return _BLACK
    return (int(hexa[0:2], 16) / 255, int(hexa[2:4], 16) / 255, int(hexa[4:6], 16) / 255, 1.0)


def pdf_text(text: str) -> bytes:
    """``text`` in WinAnsiEncoding: a few symbols spelled in ASCII, the rest unknown as ``?``."""
    out = bytearray()
    for ch in text:
        ch = _SUBSTITUTES.get(ch, ch)
        for c in ch:
            if c in "\r\n\t":
                out += b" "
                continue
            try:
                b = c.encode("cp1252")  # = WinAnsiEncoding for the 218 glyphs both define
            except UnicodeEncodeError:
                b = b"?"
            out += b"?" if b[0] < 0x20 or b[0] in (0x7F, 0x81, 0x8D, 0x8F, 0x90, 0x9D) else b
    return bytes(out)


def _pdf_string(raw: bytes) -> bytes:
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _font_name(face: str, flags: int) -> str:
    low = (face or "").lower()
    bold = bool(flags & _BOLD) or "bold" in low or "black" in low or "heavy" in low
    italic = bool(flags & _ITALIC) or "italic" in low or "oblique" in low
    if any(k in low for k in _MONO):
        family = "Courier"
    elif "times" in low or ("serif" in low and "sans" not in low):
        family = "Times"
    else:
        family = "Helvetica"
    return _FONTS[(family, bold, italic)]


def _points(op: dict[str, Any]) -> list[tuple[float, float]]:
    pts = []
    for p in op.get("points") or ():
        if isinstance(p, Sequence) and len(p) >= 2:
            pts.append((float(p[0]), float(p[1])))
    return pts


# -- drawing --------------------------------------------------------------------------------------


class _Page:
    """One content stream and the resources it uses."""

    def __init__(self) -> None:
        self.ops: list[str] = []
        self.fonts: dict[str, str] = {}  # BaseFont -> resource name, first use first
        self.alphas: dict[tuple[float, float], str] = {}  # (fill, stroke) alpha -> ExtGState name
        self._fill: tuple[float, float, float] | None = (0.0, 0.0, 0.0)
        self._stroke: tuple[float, float, float] | None = (0.0, 0.0, 0.0)
        self._alpha = (1.0, 1.0)
        self._width = 1.0
        self._dash = _SOLID

    def emit(self, line: str) -> None:
        self.ops.append(line)

    # graphics state, emitted only when it changes
    def _set_alpha(self, fill: float, stroke: float) -> None:
        key = (round(fill, 3), round(stroke, 3))
        if key == self._alpha:
            return
        name = self.alphas.setdefault(key, f"GS{len(self.alphas)}")
        self.emit(f"/{name} gs")
        self._alpha = key

    def fill_color(self, c: _Color) -> None:
        rgb = (round(c[0], 3), round(c[1], 3), round(c[2], 3))
        if rgb != self._fill:
            self.emit(f"{_num(rgb[0])} {_num(rgb[1])} {_num(rgb[2])} rg")
            self._fill = rgb

    def stroke_color(self, c: _Color) -> None:
        rgb = (round(c[0], 3), round(c[1], 3), round(c[2], 3))
        if rgb != self._stroke:
            self.emit(f"{_num(rgb[0])} {_num(rgb[1])} {_num(rgb[2])} RG")
            self._stroke = rgb

    def line(self, width: float, dash: str) -> None:
        if width != self._width:
            self.emit(f"{_num(width)} w")
            self._width = width
        if dash != self._dash:
            self.emit(dash)
            self._dash = dash

    def paint(
        self, path: list[str], fill: _Color | None, stroke: _Color | None, width: float, dash: str
    ) -> None:
        """Fill and/or stroke ``path`` (already closed when it should be)."""
        if width <= 0:
            stroke = None
        if fill is None and stroke is None:
            return
        self._set_alpha(
            fill[3] if fill else self._alpha[0], stroke[3] if stroke else self._alpha[1]
        )
        if fill is not None:
            self.fill_color(fill)
        if stroke is not None:
            self.stroke_color(stroke)
            self.line(width, dash)
        self.ops.extend(path)
        self.emit(
            "B" if fill is not None and stroke is not None else "f" if fill is not None else "S"
        )

    def font(self, base: str) -> str:
        return self.fonts.setdefault(base, f"F{len(self.fonts) + 1}")


def _poly_path(pts: list[tuple[float, float]], close: bool) -> list[str]:
    path = [f"{_num(pts[0][0])} {_num(pts[0][1])} m"]
    path += [f"{_num(x)} {_num(y)} l" for x, y in pts[1:]]
    if close:
        path.append("h")
    return path


def _bezier_path(pts: list[tuple[float, float]], close: bool) -> list[str]:
    path = [f"{_num(pts[0][0])} {_num(pts[0][1])} m"]
    i = 1
    while i + 2 < len(pts):
        (x1, y1), (x2, y2), (x3, y3) = pts[i : i + 3]
        path.append(f"{_num(x1)} {_num(y1)} {_num(x2)} {_num(y2)} {_num(x3)} {_num(y3)} c")
        i += 3
    for x, y in pts[i:]:  # a malformed tail: straight segments
        path.append(f"{_num(x)} {_num(y)} l")
    if close:
        path.append("h")
    return path


def _ellipse_path(cx: float, cy: float, rx: float, ry: float) -> list[str]:
    kx, ky = rx * _KAPPA, ry * _KAPPA
    segs = [
        ((cx + rx, cy + ky), (cx + kx, cy + ry), (cx, cy + ry)),
        ((cx - kx, cy + ry), (cx - rx, cy + ky), (cx - rx, cy)),
        ((cx - rx, cy - ky), (cx - kx, cy - ry), (cx, cy - ry)),
        ((cx + kx, cy - ry), (cx + rx, cy - ky), (cx + rx, cy)),
    ]
    path = [f"{_num(cx + rx)} {_num(cy)} m"]
    for (x1, y1), (x2, y2), (x3, y3) in segs:
        path.append(f"{_num(x1)} {_num(y1)} {_num(x2)} {_num(y2)} {_num(x3)} {_num(y3)} c")
    path.append("h")
    return path


def _op_color(op: dict[str, Any]) -> _Color | None:
    if op.get("grad") in ("linear", "radial"):
        stops = op.get("stops") or []
        if stops and isinstance(stops[0], dict):
            return parse_color(stops[0].get("color"))
        return _BLACK
    return parse_color(op.get("color"))


def _draw_ops(page: _Page, ops: Iterable[Any]) -> None:
    """Draw one xdot operation list; the pen starts afresh for each list, as in xdot."""
    pen: _Color | None = _BLACK
    fill: _Color | None = _BLACK
    width, dash, hidden = 1.0, _SOLID, False
    face, size, flags = "Times-Roman", 14.0, 0
    for op in ops:
        if not isinstance(op, dict):
            continue
        kind = op.get("op")
        if kind == "c":
            pen = _op_color(op)
        elif kind == "C":
            fill = _op_color(op)
        elif kind == "S":
            style = str(op.get("style", "")).strip()
            m = re.fullmatch(r"setlinewidth\(\s*([-+0-9.eE]+)\s*\)", style)
            if m:
                try:
                    width = max(float(m.group(1)), 0.0)
                except ValueError:
                    pass
            elif style == "dashed":
                dash = _DASHED
            elif style == "dotted":
                dash = _DOTTED
            elif style == "solid":
                dash, hidden = _SOLID, False
            elif style == "bold":
                width = max(width, 2.0)
            elif style == "invis":
                hidden = True
        elif kind == "F":
            face = str(op.get("face", face))
            try:
                size = float(op.get("size", size))
            except (TypeError, ValueError):
                pass
        elif kind == "t":
            try:
                flags = int(op.get("fontchar", 0))
            except (TypeError, ValueError):
                flags = 0
        elif hidden:
            continue
        elif kind in ("P", "p", "L", "B", "b"):
            pts = _points(op)
            if len(pts) < 2:
                continue
            # Graphviz's -Tjson swaps the bezier letters of xdot text: "B" is the filled one
            filled = kind in ("P", "B")
            close = kind in ("P", "p", "B")
            path = _bezier_path(pts, close) if kind in ("B", "b") else _poly_path(pts, close)
            page.paint(path, fill if filled else None, pen, width, dash)
        elif kind in ("E", "e"):
            rect = op.get("rect") or []
            if len(rect) < 4:
                continue
            cx, cy, rx, ry = (float(v) for v in rect[:4])
            page.paint(
                _ellipse_path(cx, cy, rx, ry), fill if kind == "E" else None, pen, width, dash
            )
        elif kind == "T":
            _draw_text(page, op, pen, face, size, flags)


def _draw_text(
    page: _Page, op: dict[str, Any], pen: _Color | None, face: str, size: float, flags: int
) -> None:
    text = op.get("text")
    pt = op.get("pt") or []
    if pen is None or not isinstance(text, str) or not text or len(pt) < 2 or size <= 0:
        return
    raw = pdf_text(text)
    base = _font_name(face, flags)
    if base.startswith("Courier"):
        w = 0.6 * size * len(raw)
    else:
        try:
            w = float(op.get("width"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            w = 0.5 * size * len(raw)
    align = op.get("align", "c")
    x, y = float(pt[0]), float(pt[1])
    if align in ("l", -1, "-1"):
        x0 = x
    elif align in ("r", 1, "1"):
        x0 = x - w
    else:
        x0 = x - w / 2
    page._set_alpha(pen[3], page._alpha[1])
    page.fill_color(pen)
    name = page.font(base)
    page.emit(
        f"BT /{name} {_num(size)} Tf {_num(x0)} {_num(y)} Td {_pdf_string(raw).decode('latin-1')} Tj ET"
    )
    for flag, dy in ((_UNDERLINE, -0.1), (_STRIKE, 0.3)):
        if flags & flag:
            yy = y + dy * size
            page.paint(
                [f"{_num(x0)} {_num(yy)} m", f"{_num(x0 + w)} {_num(yy)} l"],
                None,
                pen,
                max(size / 18, 0.5),
                _SOLID,
            )


def _draw_lists(page: _Page, obj: dict[str, Any]) -> None:
    keys = [k for k in _DRAW_ORDER if k in obj]
    keys += sorted(k for k in obj if k not in keys and k.startswith("_") and k.endswith("draw_"))
    for k in keys:
        if isinstance(obj[k], list):
            _draw_ops(page, obj[k])


def _draw_graph(page: _Page, g: dict[str, Any]) -> None:
    """Graphviz's emit order: background and label, clusters, then nodes and edges."""
    _draw_lists(page, g)
    objects = [o for o in g.get("objects") or () if isinstance(o, dict)]
    edges = [e for e in g.get("edges") or () if isinstance(e, dict)]
    n_sub = g.get("_subgraph_cnt", 0) if isinstance(g.get("_subgraph_cnt"), int) else 0
    subgraphs: list[Any] = []
    nodes: list[Any] = []
    for i, o in enumerate(objects):
        is_sub = i < n_sub or any(k in o for k in ("bb", "nodes", "edges", "subgraphs"))
        (subgraphs if is_sub else nodes).append(o)
    for s in subgraphs:
        _draw_lists(page, s)
    order = str(g.get("outputorder", "breadthfirst")).lower()
    if order == "nodesfirst":
        seq = nodes + edges
    elif order == "edgesfirst":
        seq = edges + nodes
    else:  # breadth first: each node, then for each out-edge its head and the edge
        by_id = {o.get("_gvid"): o for o in objects}
        out: dict[Any, list[dict[str, Any]]] = {}
        for e in edges:
            out.setdefault(e.get("tail"), []).append(e)
        seq, done = [], set()
        for n in nodes:
            if id(n) not in done:
                done.add(id(n))
                seq.append(n)
            for e in out.pop(n.get("_gvid"), []):
                head = by_id.get(e.get("head"))
                if head is not None and id(head) not in done:
                    done.add(id(head))
                    seq.append(head)
                seq.append(e)
        for rest in out.values():  # edges whose tail is not a node we know
            seq.extend(rest)
    for item in seq:
        _draw_lists(page, item)


# -- file -----------------------------------------------------------------------------------------


def _bbox(g: dict[str, Any]) -> tuple[float, float, float, float]:
    try:
        llx, lly, urx, ury = (float(v) for v in str(g.get("bb", "")).split(","))
    except ValueError:
        return (0.0, 0.0, 0.0, 0.0)
    return (llx, lly, urx, ury)


def _assemble(objects: list[bytes]) -> bytes:
    """A PDF with ``objects`` numbered 1.. (1 is the catalog, the last is /Info)."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\n" % (len(objects) + 1, len(objects))
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def xdot_to_pdf(data: bytes) -> bytes:
    """A one-page PDF 1.4 drawing of Graphviz ``-Tjson`` output ``data``.

    The page is the graph's ``bb`` plus :data:`MARGIN` on every side; Graphviz's points map to
    PDF points one to one (both have y up). Raises ValueError when ``data`` is not a JSON object.
    """
    g = json.loads(data.decode("utf-8") if isinstance(data, bytes | bytearray) else data)
    if not isinstance(g, dict):
        raise ValueError("xdot_to_pdf: expected Graphviz JSON output (an object)")
    llx, lly, urx, ury = _bbox(g)
    width, height = max(urx - llx, 0.0) + 2 * MARGIN, max(ury - lly, 0.0) + 2 * MARGIN
    page = _Page()
    page.emit(f"1 0 0 1 {_num(MARGIN - llx)} {_num(MARGIN - lly)} cm")
    _draw_graph(page, g)
    content = zlib.compress(("\n".join(page.ops) + "\n").encode("latin-1"), 9)

    n_fonts = len(page.fonts)
    font_ids = {name: 5 + i for i, name in enumerate(page.fonts.values())}
    fonts = " ".join(f"/{name} {font_ids[name]} 0 R" for name in page.fonts.values())
    states = " ".join(
        f"/{name} << /Type /ExtGState /ca {_num(f)} /CA {_num(s)} >>"
        for (f, s), name in page.alphas.items()
    )
    resources = f"/Font << {fonts} >>" + (f" /ExtGState << {states} >>" if states else "")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {_num(width)} {_num(height)}] "
            f"/Resources << {resources} >> /Contents 4 0 R >>"
        ).encode("ascii"),
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content)
        + content
        + b"\nendstream",
    ]
    for base in page.fonts:
        objects.append(
            f"<< /Type /Font /Subtype /Type1 /BaseFont /{base} /Encoding /WinAnsiEncoding >>".encode(
                "ascii"
            )
        )
    assert len(objects) == 4 + n_fonts
    objects.append(b"<< /Producer (graphscope) >>")
    return _assemble(objects)
