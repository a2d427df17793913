"""The explorer inside a notebook: the page in an ``<iframe srcdoc>``.

The page runs in its own sandboxed frame (``allow-scripts`` only), so its script, style and
ids stay apart from the notebook's; front-ends that strip scripts show the SVG picture that
comes with it (:mod:`graphscope.notebook` registers both).
"""

from __future__ import annotations

import html

FRAME_HEIGHT = 640  # pixels


def notebook_html(
    page: str, *, height: int = FRAME_HEIGHT, title: str = "graphscope explorer"
) -> str:
    """``page`` (a whole explorer page) as HTML for a notebook cell: a sandboxed iframe."""
    return (
        f'<iframe srcdoc="{html.escape(page, quote=True)}" sandbox="allow-scripts" '
        f'title="{html.escape(title, quote=True)}" '
        f'style="width:100%;height:{int(height)}px;border:1px solid #d5d9e0"></iframe>'
    )
