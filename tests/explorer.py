"""Helpers for the explorer's tests: read a page's blocks and data back, as its script does."""

from __future__ import annotations

import json
import re
from typing import Any

_BLOCK = re.compile(r'<script type="application/json" id="([^"]+)">(.*?)</script>', re.S)
_CODE = re.compile(r"<script>(.*?)</script>", re.S)


def json_blocks(page: str) -> dict[str, str]:
    """``{id: raw text}`` of the page's JSON ``<script>`` blocks."""
    return dict(_BLOCK.findall(page))


def code_blocks(page: str) -> list[str]:
    """The text of the page's executable ``<script>`` blocks."""
    return _CODE.findall(page)


def page_data(page: str) -> dict[str, Any]:
    """The page's data (what explorer.js calls ``D``)."""
    return json.loads(json_blocks(page)["gs-data"])


def level_svgs(page: str) -> list[str]:
    """The SVG of each level, in order."""
    blocks = json_blocks(page)
    return [json.loads(blocks[f"gs-svg-{k}"]) for k in range(len(page_data(page)["levels"]))]


def column(c: Any, n: int) -> list[Any]:
    """A packed column as a plain list (explorer.js ``column()``)."""
    if isinstance(c, list):
        return c
    if "r" in c:
        out: list[Any] = []
        for value, count in zip(c["r"][::2], c["r"][1::2], strict=True):
            out += [value] * count
        return out
    out = [c["d"]] * n
    for i, v in zip(c["i"], c["v"], strict=True):
        out[i] = v
    return out


class Nodes:
    """The nodes of a page's data, decoded (explorer.js ``node()``)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        n = data["n"]
        self.n = n
        self.cols = {k: column(v, n) for k, v in data["nodes"].items()}
        self.place = {k: column(v, n) for k, v in data["place"].items()}

    def id(self, i: int) -> str:
        v = self.cols["id"][i]
        return f"n{i}" if v == 0 else str(v)

    def index(self, node_id: str) -> int:
        return next(i for i in range(self.n) if self.id(i) == node_id)

    def node(self, i: int) -> dict[str, Any]:
        S, V, c = self.data["S"], self.data["V"], self.cols
        d: dict[str, Any] = dict(zip(self.data["profile"], V[c["pf"][i]], strict=True))
        d["label"] = S[c["lb"][i]]
        d["name"] = d["label"] if c["nm"][i] == -1 else S[c["nm"][i]]
        d["module"] = S[c["md"][i]]
        d["grad"] = c["gr"][i]
        d["grad_history"] = c["gh"][i] or []
        d["saved"] = [
            (V[e], None if rel is None else self.id(i + rel)) for e, rel in (V[c["sv"][i]] or [])
        ]
        return d

    def drawn(self, i: int) -> tuple[int, Any]:
        """``(level, ('node', j) or ('group', g))`` the page shows for node ``i``."""
        lv = self.place["level"][i]
        rd = self.place["rd"][i]
        return lv, ("node", i + rd) if rd is not None else ("group", self.place["pg"][i])


def png_rgb(data: bytes) -> tuple[int, int, list[bytes]]:
    """``(width, height, rows)`` of an 8-bit RGB or RGBA PNG, rows as RGB bytes (stdlib only)."""
    import struct
    import zlib

    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and not interlace, "only 8-bit RGB(A), no interlace"
    bpp = 3 if colour == 2 else 4
    raw, stride, prev = zlib.decompress(idat), width * bpp, bytearray(width * bpp)
    rows = []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        prev = line
        rows.append(bytes(v for i, v in enumerate(line) if i % bpp < 3))
    return width, height, rows
