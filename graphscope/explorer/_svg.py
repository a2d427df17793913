"""A Graphviz SVG made inert for embedding: well-formed XML with nothing that runs or links.

Graphviz already escapes user text (``&lt;script&gt;`` is text), but the page does not rely on
that: the SVG is parsed and written out again without comments, prolog, scripts, foreign
objects, event handlers or links (groups open inside the page, not by following a link). A
link's tooltip (``xlink:title``) becomes a ``<title>`` child, which browsers show the same way.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from graphscope.errors import RenderError

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
_XML_NS = "http://www.w3.org/XML/1998/namespace"
_S = "{" + SVG_NS + "}"
_XLINK_TITLE = "{" + XLINK_NS + "}title"
_DROP = {"script", "foreignObject", "iframe", "object", "embed", "style", "image", "use"}
_LINK_ATTRS = {"href", "target", "{" + XLINK_NS + "}href", "{" + XLINK_NS + "}show"}


def clean_svg(svg: str, *, where: str = "a level") -> str:
    """``svg`` (an ``<svg>`` element, with or without XML prolog) as inert, well-formed SVG.

    >>> clean_svg('<svg xmlns="http://www.w3.org/2000/svg"><!-- x --><g onclick="f()">'
    ...           '<text>&lt;b&gt;</text></g></svg>')
    '<svg xmlns="http://www.w3.org/2000/svg"><g><text>&lt;b&gt;</text></g></svg>'
    """
    start = svg.find("<svg")
    if start < 0:
        raise RenderError(f"the picture of {where} holds no <svg> element")
    try:
        root = ET.fromstring(svg[start:])  # comments and the prolog are not kept
    except ET.ParseError as err:
        raise RenderError(f"the picture of {where} is not well-formed SVG: {err}") from err
    if root.tag != _S + "svg":
        raise RenderError(f"the picture of {where} is not an SVG (its root is {root.tag!r})")
    _clean(root)
    for el in root.iter():  # every tag is SVG now: written unprefixed, under one xmlns
        el.tag = el.tag[len(_S) :]
    root.set("xmlns", SVG_NS)
    return ET.tostring(root, encoding="unicode")


def _clean(el: ET.Element) -> None:
    """Drop what could run or link, below and at ``el`` (in place)."""
    for child in list(el):
        local = child.tag.rpartition("}")[2] if isinstance(child.tag, str) else ""
        if not isinstance(child.tag, str) or not child.tag.startswith(_S) or local in _DROP:
            el.remove(child)
            continue
        _clean(child)
    tip = el.attrib.get(_XLINK_TITLE)
    for key in list(el.attrib):
        ns = key[1:].partition("}")[0] if key.startswith("{") else ""
        if key.lower().startswith("on") or key in _LINK_ATTRS or ns not in ("", _XML_NS):
            del el.attrib[key]
    if tip:
        title = ET.Element(_S + "title")
        title.text = tip
        el.insert(0, title)
