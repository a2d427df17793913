"""The explorer: one self-contained HTML page per graph, to pan, zoom, search and walk through.

:func:`explorer_page` builds the page from the full graph and its levels (:class:`Level`: the
overview and each drill-down, already laid out); it imports no torch and no graphviz. The
page's script and style are package files (``static/``) and svg-pan-zoom is vendored with its
licence (``vendor/``): a page opens from disk with no server and no network.
"""

from graphscope.explorer._level import Level
from graphscope.explorer._notebook import FRAME_HEIGHT, notebook_html
from graphscope.explorer._page import explorer_page, page_data, script_json
from graphscope.explorer._sources import collect_sources, graph_findings

__all__ = [
    "FRAME_HEIGHT",
    "Level",
    "collect_sources",
    "explorer_page",
    "graph_findings",
    "notebook_html",
    "page_data",
    "script_json",
]
