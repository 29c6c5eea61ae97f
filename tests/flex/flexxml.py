"""Build small FlexQueryResponse documents for tests: statements and rows written inline by each test."""

from __future__ import annotations

from xml.sax.saxutils import quoteattr


def row(element: str, **attributes: str) -> str:
    """One row element with its attributes, in the order given (as IBKR writes them)."""
    return f"<{element} " + " ".join(f"{k}={quoteattr(v)}" for k, v in attributes.items()) + " />"


def section(name: str, *rows: str) -> str:
    """A statement section holding ``rows`` (none: an empty section)."""
    return f"<{name}>" + "".join(rows) + f"</{name}>"


def statement(account: str, from_date: str, to_date: str, *sections: str,
              generated: str = "20260409;135737", period: str = "") -> str:
    """A FlexStatement of ``account`` over from_date..to_date, dates written as the test gives them."""
    return (f'<FlexStatement accountId="{account}" fromDate="{from_date}" toDate="{to_date}" period="{period}" '
            f'whenGenerated="{generated}">' + "".join(sections) + "</FlexStatement>")


def response(*statements: str, kind: str = "AF") -> bytes:
    """A FlexQueryResponse with ``statements``."""
    return (f'<FlexQueryResponse queryName="test" type="{kind}"><FlexStatements count="{len(statements)}">'
            + "".join(statements) + "</FlexStatements></FlexQueryResponse>").encode()
