"""Charts to SVG (the HTML report) and PNG (Dagster metadata), offline: vl-convert runs Vega in-process."""

from __future__ import annotations

import base64
from typing import Any

import vl_convert as vlc

# The look every chart shares: readable type, light grid, a white background for screenshots and PNGs.
CONFIG = {
    "font": "Liberation Sans, Arial, sans-serif",
    "title": {"fontSize": 15, "subtitleFontSize": 12, "subtitleColor": "#444444"},
    "axis": {"labelFontSize": 11, "titleFontSize": 12, "gridColor": "#e6e6e6"},
    "legend": {"labelFontSize": 11, "titleFontSize": 12},
    "background": "white",
}


def spec_of(chart: Any) -> dict[str, Any]:
    """The chart's Vega-Lite spec (data inline) with the shared look."""
    spec = chart.to_dict()
    spec["config"] = {**spec.get("config", {}), **CONFIG}
    return spec


def to_svg(chart: Any) -> str:
    """The chart as an SVG element (text as text, no external reference)."""
    return vlc.vegalite_to_svg(spec_of(chart))


def to_png_markdown(chart: Any, alt_text: str, scale: float = 1.0) -> str:
    """The chart as a Markdown image with the PNG inline (a data: URI), for ``dg.MetadataValue.md``."""
    png = vlc.vegalite_to_png(spec_of(chart), scale=scale)
    return f"![{alt_text}](data:image/png;base64,{base64.b64encode(png).decode()})"
