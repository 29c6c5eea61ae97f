"""Flex attribute text -> column values: numbers, integer ids, Y/N flags, text.

Every Flex value is text. IBKR writes "" for a field with no value, and "--" or "N/A" in some
fields (the recorded cancellation line has exchange "--" and extExecID "N/A"); for a numeric
column those mean null, not an error. Thousands separators ("1,234.56") are accepted, which is a
guess (the XML recordings never have them; the CSV layouts of the portal do); a decimal comma
("1,5") or anything else that is not a plain number is unreadable: the caller keeps it raw.
"""

from __future__ import annotations

import math
import re

from ibkr_pipelines.flex.dates import UnreadableValue

NO_VALUE = frozenset({"", "--", "-", "N/A", "n/a"})
_GROUPED = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?$")
_FLAGS = {"y": True, "yes": True, "true": True, "1": True, "n": False, "no": False, "false": False, "0": False}


def read_number(text: str) -> float | None:
    """A float from Flex text ("12.5", "-3", "1,234.5"); None for no value; raises UnreadableValue otherwise."""
    text = text.strip()
    if text in NO_VALUE:
        return None
    if "," in text:
        if not _GROUPED.match(text):
            raise UnreadableValue("not a number")
        text = text.replace(",", "")
    try:
        number = float(text)
    except ValueError:
        raise UnreadableValue("not a number") from None
    if math.isnan(number) or math.isinf(number):
        raise UnreadableValue("not a finite number")
    return number


def read_integer(text: str) -> int | None:
    """An integer id from Flex text ("320227571", "12.0"); None for no value; raises UnreadableValue otherwise."""
    stripped = text.strip()
    if stripped.lstrip("-").isdigit():
        return int(stripped)
    number = read_number(stripped)
    if number is None:
        return None
    if not number.is_integer():
        raise UnreadableValue("not an integer")
    return int(number)


def read_flag(text: str) -> bool | None:
    """A boolean from Y/N, yes/no, true/false or 1/0; None for no value; raises UnreadableValue otherwise."""
    stripped = text.strip()
    if stripped in NO_VALUE:
        return None
    flag = _FLAGS.get(stripped.lower())
    if flag is None:
        raise UnreadableValue("not a Y/N flag")
    return flag


def read_text(text: str) -> str | None:
    """Text as sent; "" is None (a Flex attribute with no value)."""
    return text if text != "" else None
