"""How Flex XML writes dates, times, numbers and elements (reference §4.3; recordings in shared/ibkr-recorded/Flex).

From the recordings: every value is an attribute in double quotes; a row is ``<Name a="…" … />`` (a
space before ``/>``); an empty section is ``<Section></Section>`` on one line; two spaces per level;
no XML declaration and no newline after the root's end tag. Numbers carry no trailing zeros ("1",
"2331.45", "583.313333333"). Times are New York's (recording: "2026-04-02;11:08:05 EDT").
"""

from __future__ import annotations

import datetime
from typing import Iterable

from ibkr_pipelines.simulator.clock import NEW_YORK
from ibkr_pipelines.simulator.flex_queries import DATE_FORMATS, TIME_FORMATS, FlexQuery

Attrs = list[tuple[str, str]]
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})


class Layout:
    """A query's date, time and separator choices, applied to the values a statement writes."""

    def __init__(self, query: FlexQuery) -> None:
        self._date = DATE_FORMATS[query.date_format]
        self._time = TIME_FORMATS[query.time_format]
        self._sep = query.separator
        self._zone = query.time_zone

    def date(self, d: datetime.date | None) -> str:
        """A date in the query's format ("" for none)."""
        return "" if d is None else d.strftime(self._date)

    def date_time(self, t: datetime.datetime | None) -> str:
        """An instant as New York date, separator and time (with EDT/EST when the query says so)."""
        if t is None:
            return ""
        local = t.astimezone(NEW_YORK)
        text = f"{local.strftime(self._date)}{self._sep}{local.strftime(self._time)}"
        return f"{text} {local.tzname()}" if self._zone else text


def num(x: float | int) -> str:
    """A number as Flex writes it: no trailing zeros, no exponent, never "-0"."""
    x = round(float(x), 10) + 0.0
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    text = f"{x:.10f}".rstrip("0")
    return text[:-1] if text.endswith(".") else text


def money(x: float) -> str:
    """An amount rounded to the cent, written as ``num``."""
    return num(round(x + 0.0, 2))


def row(name: str, attrs: Attrs, depth: int) -> str:
    """One data row: ``<Name a="v" ... />`` indented ``depth`` levels."""
    body = " ".join(f'{k}="{v.translate(_ESCAPES)}"' for k, v in attrs)
    return f"{'  ' * depth}<{name} {body} />"


def open_tag(name: str, attrs: Attrs, depth: int) -> str:
    """A start tag (with attributes) indented ``depth`` levels."""
    body = "".join(f' {k}="{v.translate(_ESCAPES)}"' for k, v in attrs)
    return f"{'  ' * depth}<{name}{body}>"


def close_tag(name: str, depth: int) -> str:
    """An end tag indented ``depth`` levels."""
    return f"{'  ' * depth}</{name}>"


def section(name: str, rows: Iterable[str], depth: int) -> Iterable[str]:
    """A container section's lines: its rows between the tags, or ``<Name></Name>`` when it has none."""
    first = True
    for line in rows:
        if first:
            yield open_tag(name, [], depth)
            first = False
        yield line
    if first:
        yield f"{'  ' * depth}<{name}></{name}>"
    else:
        yield close_tag(name, depth)
