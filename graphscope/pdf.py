"""PDF from the SVG we already draw, for the embedded layout engine (which writes no PDF).

``graphviz-pure`` has no PDF output (the system Graphviz writes its own with ``dot -Tpdf``), so
:func:`svg_to_pdf` turns its SVG into a one-page vector PDF with Typst (the ``typst`` package on
PyPI: Apache-2.0, one self-contained wheel, no system library). Its SVG importer keeps text as
text, so the labels can be searched, copied and read back with ``pdftotext``.

Typst is an optional extra (a 33 MB wheel): ``pip install 'torch-graphscope[pdf]'``. This module is
imported only when a PDF is asked for; without the package it raises :class:`RenderError` saying
so. Fonts: graphscope draws every label in Cousine; the PDF falls back to the DejaVu Sans Mono that
Typst bundles (the same monospaced advance within 0.3%, with ×, →, – and …) and never looks at
the system's fonts, so the bytes are a pure function of the SVG on every machine (no dates).
"""

from __future__ import annotations

import re
from types import ModuleType

from graphscope.errors import RenderError

__all__ = ["INSTALL_HINT", "FALLBACK_FONT", "svg_to_pdf", "require_typst"]

INSTALL_HINT = (
    "PDF output with the embedded layout engine needs the 'typst' package, which is not "
    "installed. Install it with: pip install 'torch-graphscope[pdf]'  (or use --engine dot with a "
    "system Graphviz, which writes PDF itself)"
)
FALLBACK_FONT = "DejaVu Sans Mono"  # bundled with Typst; ignore_system_fonts keeps it the only one

# One page exactly the size of the image, which Typst takes from the SVG's width and height.
_DOCUMENT = b"""\
#set document(date: none)
#set page(width: auto, height: auto, margin: 0pt)
#image(bytes(sys.inputs.svg), format: "svg")
"""
_FONT_FAMILY = re.compile(r'font-family="([^"]*)"')


def require_typst() -> ModuleType:
    """The ``typst`` module, or a :class:`RenderError` that says how to install it."""
    try:
        import typst
    except ImportError as err:
        raise RenderError(INSTALL_HINT) from err
    return typst


def svg_to_pdf(svg: bytes) -> bytes:
    """A one-page vector PDF of the Graphviz ``svg``, with its text kept as text."""
    typst = require_typst()
    try:
        text = svg.decode("utf-8")
    except UnicodeDecodeError as err:
        raise RenderError(f"cannot convert the SVG to PDF: it is not UTF-8 ({err})") from err
    try:
        pdf = typst.compile(
            _DOCUMENT,
            format="pdf",
            sys_inputs={"svg": _with_fallback_font(text)},
            ignore_system_fonts=True,
            pdf_tags=False,  # a tagged picture says nothing more, and poppler 22 warns on its tags
        )
    except RuntimeError as err:  # typst.TypstError: the SVG does not parse
        raise RenderError(f"cannot convert the SVG to PDF: {err}") from err
    if not isinstance(pdf, bytes):
        raise RenderError(f"typst returned {type(pdf).__name__}, not the bytes of a PDF")
    return pdf


def _with_fallback_font(svg: str) -> str:
    """``svg`` with the bundled monospaced font after every ``font-family`` it names."""
    return _FONT_FAMILY.sub(rf'font-family="\1, {FALLBACK_FONT}"', svg)
