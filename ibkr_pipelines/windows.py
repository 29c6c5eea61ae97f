"""A window of partition dates: what one run stages and loads (a night is a window of one date)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterator

from ibkr_pipelines.errors import ConfigError


@dataclass(frozen=True)
class DateWindow:
    """Every date from ``start`` to ``end``, both included."""

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"a window ends on or after its start, got {self.start}..{self.end}")

    @classmethod
    def of(cls, day: dt.date) -> "DateWindow":
        """The window of one date."""
        return cls(day, day)

    @classmethod
    def from_keys(cls, start: str, end: str | None = None) -> "DateWindow":
        """The window between two partition keys (``YYYY-MM-DD``); one date when ``end`` is None."""
        first = dt.date.fromisoformat(start)
        return cls(first, dt.date.fromisoformat(end) if end else first)

    @classmethod
    def from_flags(cls, start: dt.date | None, end: dt.date | None) -> "DateWindow | None":
        """The window of ``--from``/``--to`` (None when neither is given); one line naming the bad flag."""
        if start is None and end is None:
            return None
        if start is None or end is None:
            raise ConfigError("--from" if start is None else "--to", "a range needs both --from and --to")
        if end < start:
            raise ConfigError("--to", f"{end} is before --from {start}")
        return cls(start, end)

    def dates(self) -> list[dt.date]:
        """The window's dates in order."""
        return list(iter(self))

    def spans(self, days: int) -> list["DateWindow"]:
        """The window in pieces of at most ``days`` days, newest first (what one range request can serve)."""
        found, end = [], self.end
        while end >= self.start:
            start = max(self.start, end - dt.timedelta(days=days - 1))
            found.append(DateWindow(start, end))
            end = start - dt.timedelta(days=1)
        return found

    def __iter__(self) -> Iterator[dt.date]:
        day = self.start
        while day <= self.end:
            yield day
            day += dt.timedelta(days=1)

    def __len__(self) -> int:
        return (self.end - self.start).days + 1

    def __str__(self) -> str:
        return str(self.start) if self.start == self.end else f"{self.start}..{self.end}"
