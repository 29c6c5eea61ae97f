"""Reading what came back from an IBKR address: JSON bodies, error texts, web pages, failed connections.

Pure functions, so the client's retry logic stays about policy: each one answers "what is this?".
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

import requests
import urllib3.exceptions


class _Unparseable:
    def __repr__(self) -> str:
        return "<unparseable>"


UNPARSEABLE: Any = _Unparseable()

_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def parse_json(content: bytes) -> Any:
    """The parsed body; ``None`` when empty; ``UNPARSEABLE`` when it is not JSON (truncated, HTML...)."""
    if not content.strip():
        return None
    try:
        return json.loads(content)
    except ValueError:
        return UNPARSEABLE


def error_text(body: Any) -> str:
    """The top-level ``error`` text of an IBKR answer ("" when there is none)."""
    if isinstance(body, dict):
        value = body.get("error")
        if isinstance(value, str) and value:
            return value
        if body.get("success") is False and isinstance(body.get("message"), str):
            return body["message"]
    return ""


def retry_after_seconds(response: requests.Response) -> float | None:
    """The ``Retry-After`` header in seconds, when IBKR sent a usable one."""
    raw = response.headers.get("Retry-After")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if value > 0 else None


def is_web_page(response: requests.Response, content: bytes) -> bool:
    """True when the answer is an HTML page (a login form, a proxy's page, a wrong URL), not JSON."""
    kind = response.headers.get("Content-Type", "").lower()
    if "html" in kind:
        return True
    head = content.lstrip()[:64].lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))


def page_title(content: bytes) -> str:
    """The ``<title>`` of an HTML page, trimmed to one short line ("" when it has none)."""
    found = _TITLE.search(content[:65536])
    if not found:
        return ""
    text = re.sub(r"\s+", " ", found.group(1).decode("utf-8", "replace")).strip()
    return text[:80]


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what caused it, and the reasons urllib3 wraps inside it."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for inner in (current.__cause__, current.__context__, getattr(current, "reason", None), *current.args):
            if isinstance(inner, BaseException):
                todo.append(inner)


def connection_failure(exc: BaseException) -> str:
    """What kind of failure this is: ``unresolvable``, ``refused``, ``no_answer`` (connect timeout) or ``other``."""
    causes = list(_chain(exc))
    if any(isinstance(c, urllib3.exceptions.NameResolutionError) for c in causes):
        return "unresolvable"
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return "refused"
    if any(isinstance(c, requests.ConnectTimeout) for c in causes):
        return "no_answer"
    return "other"
