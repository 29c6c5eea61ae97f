"""The report's HTML: one file, styles inline, every chart an inline SVG, no script or font fetched."""

from __future__ import annotations

import datetime as dt
import html
import json
from dataclasses import dataclass, field
from typing import Any

import polars as pl

STYLE = """
body { font-family: 'Liberation Sans', Arial, sans-serif; margin: 24px 32px; color: #1a1a1a; max-width: 1180px; }
h1 { font-size: 26px; margin-bottom: 4px; } h2 { font-size: 21px; margin-top: 40px; border-bottom: 2px solid #0072B2; }
h3 { font-size: 17px; margin: 26px 0 6px; } p.meta { color: #444; margin: 2px 0; }
figure.chart { margin: 10px 0 22px; padding: 10px; border: 1px solid #ddd; border-radius: 4px; overflow-x: auto; }
figure.chart svg { display: block; max-width: 100%; height: auto; }
figcaption { font-size: 12px; color: #333; margin-top: 8px; }
figcaption pre { background: #f5f5f5; padding: 6px 8px; white-space: pre-wrap; font-size: 11px; margin: 4px 0; }
p.empty { font-size: 15px; color: #444; font-style: italic; margin: 6px 0; }
nav.toc a { margin-right: 14px; }
"""


@dataclass
class Figure:
    """One chart of the report: what it shows, the views and SQL it reads, and its SVG or an empty sentence."""

    key: str
    title: str
    views: list[str]
    sqls: list[str]
    svg: str | None = None
    empty_sentence: str = ""
    data: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass
class Section:
    """A part of the report: the coverage, the login's accounts of one base currency, or one account."""

    anchor: str
    heading: str
    intro: str
    figures: list[Figure] = field(default_factory=list)


def frame_records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """A frame as JSON-ready rows (dates as ISO text), for the data block under a chart."""
    return json.loads(frame.write_json()) if not frame.is_empty() else []


def _figure_html(figure: Figure) -> str:
    views = ", ".join(f"<code>{html.escape(v)}</code>" for v in figure.views)
    sql = "".join(f'<pre>ibkr-pipelines sql "{html.escape(s, quote=False)}"</pre>' for s in figure.sqls)
    body = figure.svg if figure.svg is not None else f'<p class="empty">{html.escape(figure.empty_sentence)}</p>'
    data = json.dumps(figure.data, default=str).replace("</", "<\\/")
    return (
        f'<figure class="chart" data-chart="{html.escape(figure.key)}" data-view="{html.escape(",".join(figure.views))}"'
        f' data-empty="{str(figure.svg is None).lower()}">\n{body}\n'
        f"<figcaption>Reads {views}. The same numbers: {sql}</figcaption>\n"
        f'<script type="application/json" class="chart-data">{data}</script>\n</figure>'
    )


def render_page(title: str, facts: list[str], sections: list[Section], generated: dt.datetime) -> str:
    """The whole HTML document."""
    toc = " ".join(f'<a href="#{html.escape(s.anchor)}">{html.escape(s.heading)}</a>' for s in sections)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">",
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        *(f'<p class="meta">{html.escape(fact)}</p>' for fact in facts),
        f'<p class="meta">Generated {generated.strftime("%Y-%m-%d %H:%M UTC")} from the warehouse only.</p>',
        f'<nav class="toc">{toc}</nav>',
    ]
    for section in sections:
        parts.append(f'<section id="{html.escape(section.anchor)}"><h2>{html.escape(section.heading)}</h2>')
        parts.append(f'<p class="meta">{html.escape(section.intro)}</p>')
        for figure in section.figures:
            parts.append(f"<h3>{html.escape(figure.title)}</h3>")
            parts.append(_figure_html(figure))
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)
