"""The statement a row belongs to: account, period and generation time, read once per FlexStatement.

A statement date that does not read makes every row that needs it unreadable too (kept raw in
``problems``, then in each row's ``unparsed``); an unreadable ``whenGenerated`` only leaves
generated_at null, its text kept in each row's raw_extra.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ibkr_pipelines.flex.dates import Moment, UnreadableValue, read_moment
from ibkr_pipelines.flex.values import NO_VALUE


@dataclass
class Statement:
    """One FlexStatement's context, and the counters that rank identical rows within it."""

    account_id: str | None
    from_text: str
    to_text: str
    from_date: dt.date | None = None
    to_date: dt.date | None = None
    generated_at: dt.datetime | None = None
    problems: dict[str, str] = field(default_factory=dict)  # FlexStatement attribute -> unreadable text
    notes: dict[str, str] = field(default_factory=dict)  # kept in raw_extra (an unreadable whenGenerated)
    seen: dict[object, int] = field(default_factory=dict)  # rank counters (row hashes, other rows' elements)

    def rank(self, key: object) -> int:
        """1 for the first row with ``key`` in this statement, 2 for the next, ..."""
        self.seen[key] = self.seen.get(key, 0) + 1
        return self.seen[key]


def _moment(attributes: dict[str, str], name: str, day_first: bool | None, problems: dict[str, str]) -> Moment | None:
    text = attributes.get(name, "")
    if text.strip() in NO_VALUE:
        return None
    try:
        return read_moment(text, day_first)
    except UnreadableValue:
        problems["FlexStatement." + name] = text
        return None


def read_statement(attributes: dict[str, str], day_first: bool | None) -> Statement:
    """A Statement from a FlexStatement's attributes (accountId, fromDate, toDate, whenGenerated)."""
    problems: dict[str, str] = {}
    start = _moment(attributes, "fromDate", day_first, problems)
    end = _moment(attributes, "toDate", day_first, problems)
    notes: dict[str, str] = {}
    generated = _moment(attributes, "whenGenerated", day_first, notes)
    return Statement(
        account_id=attributes.get("accountId") or None,
        from_text=attributes.get("fromDate", ""),
        to_text=attributes.get("toDate", ""),
        from_date=start.day if start else None,
        to_date=end.day if end else None,
        generated_at=_instant(generated),
        problems=problems,
        notes=notes,
    )


def _instant(moment: Moment | None) -> dt.datetime | None:
    """whenGenerated as an instant; with a date only, the start of that New York day (as close as it says)."""
    if moment is None or moment.instant is not None:
        return moment.instant if moment else None
    return read_moment(moment.day.strftime("%Y%m%d") + ";000000", None).instant
