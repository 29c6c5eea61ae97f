"""`doctor`'s per-dataset lines: what each dataset needs, said in one line (Flex: a token and queries, not a session)."""

from __future__ import annotations

from ibkr_pipelines.client.flex_client import FlexAccess
from ibkr_pipelines.config import Settings
from ibkr_pipelines.doctor_command import dataset_findings
from ibkr_pipelines.sources import SOURCES


def _lines(flex: FlexAccess | None, brokerage_ok: bool = True) -> dict[str, tuple[bool, str]]:
    return {f.topic: (f.ok, f.said) for f in dataset_findings(Settings(), brokerage_ok, True, flex)}


def test_the_flex_tables_are_one_line_saying_what_they_need() -> None:
    lines = _lines(None)
    assert not [name for name in lines if name in SOURCES["flex"].tables]  # one line for the statement, not eight
    ok, detail = lines["flex_* (8 tables)"]
    assert ok and "IBKR_FLEX_TOKEN" in detail and "IBKR_FLEX_QUERY_IDS" in detail
    ok, detail = _lines(FlexAccess("https://ndcdyn.interactivebrokers.com/AccountManagement/FlexWebService",
                                   "123456789", ("111", "222")))["flex_* (8 tables)"]
    assert ok and "111, 222" in detail and "123456789" not in detail  # the token is never shown


def test_brokerage_datasets_fail_without_the_brokerage_session_and_flex_does_not_care() -> None:
    lines = _lines(FlexAccess("https://x/AccountManagement/FlexWebService", "t", ("1",)), brokerage_ok=False)
    assert lines["executions"][0] is False and lines["positions"][0] is True
    assert lines["flex_* (8 tables)"][0] is True


def test_statements_say_whether_this_login_has_account_management_with_a_statements_scope() -> None:
    from ibkr_pipelines.config import OAuth2Settings
    from pathlib import Path

    def line(settings: Settings, account_management: bool) -> tuple[bool, str]:
        found = {f.topic: (f.ok, f.said) for f in dataset_findings(settings, True, True, None, account_management)}
        return found["statements"]

    ok, said = line(Settings(), False)  # a gateway (or OAuth 1.0a) login: no Account Management at all
    assert ok and "cannot be served" in said and "IBKR_AUTH=oauth2" in said and "statements.read" in said
    ok, said = line(Settings(), True)  # the embedded simulator's own Account Management login
    assert ok and said.startswith("can be served") and "statements.read" in said
    oauth2 = OAuth2Settings("client", "kid", Path("key.pem"), "user", scopes=("sso-sessions.write",))
    ok, said = line(Settings(auth="oauth2", oauth2=oauth2), True)
    assert "cannot be served" in said and "lack statements.read" in said and "IBKR_OAUTH2_SCOPES" in said
    oauth2 = OAuth2Settings("client", "kid", Path("key.pem"), "user", scopes=("sso-sessions.write", "statements.read"))
    assert line(Settings(auth="oauth2", oauth2=oauth2), True)[1].startswith("can be served")
