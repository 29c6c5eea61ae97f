"""Month/day order of a Flex file's ``a/b/y`` dates, decided once per file before any row is read.

A query set to MM/dd/yyyy or dd/MM/yyyy writes every date of the file in that one layout, the
statements' fromDate, toDate and whenGenerated included. The rule, in order:

1. a slash date anywhere in the file whose first field exceeds 12 means day first; one whose second
   field exceeds 12 means month first (both kinds: no order, each value reads only if it reads one
   way);
2. otherwise (every day of the file is 12 or less) the order under which every statement reads
   fromDate <= toDate <= the date it was generated <= tomorrow (a report is never generated in the
   future) when exactly one order passes;
3. otherwise undecided: a value that reads both ways is unreadable, kept raw and quarantined, and
   the caller can say the order (``day_first``) when it knows the query's format.

The scan reads the raw bytes in blocks with a regular expression, so it costs one pass of I/O and
no tree.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ibkr_pipelines.flex.dates import UnreadableValue, read_moment

# An attribute value that is a slash date (possibly followed by a time): ="a/b/y" or ="a/b/y;...
_SLASH_VALUE = re.compile(rb'="(\d{1,2})/(\d{1,2})/(?:\d{4}|\d{2})(?=["; ,T0-9])')
_STATEMENT = re.compile(rb"<FlexStatement\s[^>]*>")
_ATTRIBUTE = re.compile(rb'(fromDate|toDate|whenGenerated)="([^"]*)"')
_BLOCK = 1 << 20
_OVERLAP = 4096  # longer than any FlexStatement start tag, so a match split by a block edge is seen whole
MAX_STATEMENTS_KEPT = 10_000  # statements consulted by rule 2 (a daily query over 30 years has ~7,600)


@dataclass
class SlashEvidence:
    """What a scan found: whether any slash date reads only day-first or only month-first, and the statements' dates."""

    day_first_seen: bool = False
    month_first_seen: bool = False
    statements: list[tuple[str, str, str]] = field(default_factory=list)


def _blocks(source: bytes | Path) -> Iterator[tuple[bytes, int]]:
    """The source's bytes in overlapping blocks, each with the offset from which its matches are new."""
    if isinstance(source, bytes):
        yield source, 0
        return
    with source.open("rb") as handle:
        tail = b""
        while True:
            block = handle.read(_BLOCK)
            if not block:
                return
            yield tail + block, len(tail)
            tail = (tail + block)[-_OVERLAP:]


def scan_slash_dates(source: bytes | Path) -> SlashEvidence:
    """Scan a Flex file's raw bytes for slash dates and statement dates (see the module docstring)."""
    evidence = SlashEvidence()
    for block, fresh_from in _blocks(source):
        for match in _SLASH_VALUE.finditer(block, max(0, fresh_from - 32)):
            if match.end() <= fresh_from:
                continue
            first, second = int(match[1]), int(match[2])
            evidence.day_first_seen |= first > 12 >= second
            evidence.month_first_seen |= second > 12 >= first
        for match in _STATEMENT.finditer(block):
            if match.end() <= fresh_from or len(evidence.statements) >= MAX_STATEMENTS_KEPT:
                continue
            found = {name.decode(): value.decode("utf-8", "replace") for name, value in _ATTRIBUTE.findall(match[0])}
            evidence.statements.append((found.get("fromDate", ""), found.get("toDate", ""),
                                        found.get("whenGenerated", "")))
    return evidence


def _plausible(statements: list[tuple[str, str, str]], day_first: bool, today: dt.date) -> bool:
    """Whether every statement's dates read in this order and run fromDate <= toDate <= generated <= tomorrow."""
    for texts in statements:
        try:
            days = [read_moment(text, day_first).day for text in texts if text]
        except UnreadableValue:
            return False
        if days != sorted(days) or (days and days[-1] > today + dt.timedelta(days=1)):
            return False
    return True


def decide_day_first(evidence: SlashEvidence, today: dt.date) -> bool | None:
    """True (dd/MM), False (MM/dd) or None (undecided or no slash dates) by the rules of the module docstring."""
    if evidence.day_first_seen != evidence.month_first_seen:
        return evidence.day_first_seen
    if evidence.day_first_seen:
        return None
    slashed = [s for s in evidence.statements if any("/" in text for text in s)]
    if not slashed:
        return None
    month_first, day_first = _plausible(slashed, False, today), _plausible(slashed, True, today)
    if month_first != day_first:
        return day_first
    return None
