"""The document ``POST /statements`` returns: the period's figures per account as a PDF or an HTML page.

Reference §3.3: ``mimeType`` ``application/pdf`` (and ``text/html`` in the reference's example); Excel
and CSV are Portal-only. The layout is the simulator's own (guess: IBKR's statement layout is not
reproduced), but its words are stable so a test can read the figures back: one "Title: value" line per
figure, amounts with thousands separators and two decimals, followed by the base currency. Several
accounts (``accountIds``) follow one another (guess: every ``multiAccountFormat`` is rendered as
``concatenate``). The generation time is the simulated clock's, so the same request at the same simulated
time gives the same bytes.
"""

from __future__ import annotations

import datetime
import html

from ibkr_pipelines.simulator.am_figures import Figures
from ibkr_pipelines.simulator.am_pdf import pdf_document
from ibkr_pipelines.simulator.am_periods import Period
from ibkr_pipelines.simulator.clock import NEW_YORK

PDF = "application/pdf"
HTML = "text/html"
MIME_TYPES = (PDF, HTML)
_KINDS = {"annual": "Annual", "monthly": "Monthly", "daily": "Daily", "custom": "Custom"}


def money(amount: float, currency: str) -> str:
    """An amount as the document prints it: ``1,234,567.89 USD``."""
    return f"{amount:,.2f} {currency}"


def _generated(now: datetime.datetime) -> str:
    local = now.astimezone(NEW_YORK)
    return f"{local.strftime('%Y-%m-%d %H:%M')} {local.tzname()}"


def title(period: Period, account_ids: list[str]) -> str:
    """The document's title: ``Activity Statement U7000011 Monthly 202511``."""
    return f"Activity Statement {' '.join(account_ids)} {_KINDS[period.kind]} {period.label}"


def sections(period: Period, accounts: list[Figures],
             now: datetime.datetime) -> list[tuple[str, list[tuple[str, str]]]]:
    """(heading, [(line title, value)]) per part: the statement's header, then each account's figures."""
    head = [("Statement", f"{_KINDS[period.kind]} {period.label}"),
            ("Period", f"{period.start.isoformat()} to {period.end.isoformat()}"),
            ("Generated", f"{_generated(now)} (IBKR simulator)")]
    out = [("Activity Statement", head)]
    for f in accounts:
        rows = [("Account", f"{f.account_id} {f.title}"), ("Base currency", f.currency),
                ("Covers", f"{f.start.isoformat()} to {f.end.isoformat()}"),
                ("Starting NAV", money(f.starting_nav, f.currency))]
        rows += [(name, money(amount, f.currency)) for name, amount in f.flows]
        rows += [("Ending NAV", money(f.ending_nav, f.currency)),
                 ("Change in NAV", money(round(f.ending_nav - f.starting_nav, 2) + 0.0, f.currency))]
        out.append((f"Account {f.account_id}", rows))
    return out


def render(mime_type: str, period: Period, accounts: list[Figures], now: datetime.datetime) -> bytes:
    """The document's bytes in ``mime_type`` (one of MIME_TYPES)."""
    parts = sections(period, accounts, now)
    name = title(period, [f.account_id for f in accounts])
    if mime_type == HTML:
        return _html(name, parts)
    lines: list[str] = []
    for heading, rows in parts:
        lines += [heading] + [f"{label}: {value}" for label, value in rows] + [""]
    return pdf_document(lines[:-1], name, now)


def _html(name: str, parts: list[tuple[str, list[tuple[str, str]]]]) -> bytes:
    """A small HTML5 page: a heading and a two-column table per part."""
    e = html.escape
    body = []
    for heading, rows in parts:
        body.append(f"<h2>{e(heading)}</h2>\n<table>")
        body += [f"<tr><th>{e(label)}</th><td>{e(value)}</td></tr>" for label, value in rows]
        body.append("</table>")
    page = (f'<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"><title>{e(name)}</title></head>\n'
            f"<body>\n<h1>{e(name)}</h1>\n" + "\n".join(body) + "\n</body>\n</html>\n")
    return page.encode("utf-8")
