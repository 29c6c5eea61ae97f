from __future__ import annotations

import pytest

from .conftest import DAY1, DAY2, ledger_frame, position, positions_frame

VIEWS = ["positions_latest", "nav_by_account", "exposure_by_asset_class", "exposure_by_currency"]


@pytest.mark.parametrize("view", VIEWS)
def test_views_work_on_empty_tables(landing, view):
    assert landing.rows(f"SELECT count(*) FROM {view}") == [(0,)]


def _reconciling_day(landing, day):
    # cash 1000 + STK 300 (USD) + EUR stock 110 in base + FUT with notional 50000 but equity 20 = 1430
    rows = [
        position(1, baseMktValue=300.0, mktValue=300.0),
        position(2, currency="EUR", mktValue=100.0, baseMktValue=110.0),
        position(3, assetClass="FUT", mktValue=50000.0, baseMktValue=50000.0, baseUnrealizedPnl=20.0),
    ]
    landing.land("positions", day, positions_frame(rows, day))
    ledger = {
        "USD": {"cashbalance": 900.0, "exchangerate": 1.0},
        "EUR": {"cashbalance": 100.0 / 1.1, "exchangerate": 1.1},
        "BASE": {"cashbalance": 1000.0, "netliquidationvalue": 1430.0, "exchangerate": 1.0},
    }
    landing.land("ledger", day, ledger_frame(ledger, day))


def test_nav_difference_is_zero_when_inputs_reconcile(landing):
    _reconciling_day(landing, DAY1)
    columns, rows = landing.warehouse.query_readonly("SELECT * FROM nav_by_account")
    row = dict(zip(columns, rows[0]))
    assert row["nav"] == 1430.0 and row["cash"] == 1000.0
    assert row["positions_value"] == pytest.approx(430.0)
    assert row["difference"] == pytest.approx(0.0)


def test_positions_latest_uses_each_accounts_latest_snapshot(landing):
    day1 = positions_frame([position(1)], DAY1).vstack(positions_frame([position(7, acctId="U2")], DAY1, account_id="U2"))
    landing.land("positions", DAY1, day1)
    landing.land("positions", DAY2, positions_frame([position(2)], DAY2))
    assert landing.rows("SELECT account_id, conid FROM positions_latest ORDER BY 1, 2") == [("U1", 2), ("U2", 7)]


def test_exposure_by_asset_class_labels_futures_notional(landing):
    _reconciling_day(landing, DAY1)
    rows = landing.rows(
        "SELECT asset_class, value_basis, exposure_base, round(share_of_nav, 6) FROM exposure_by_asset_class ORDER BY 1"
    )
    assert rows == [
        ("CASH", "cash", 1000.0, round(1000 / 1430, 6)),
        ("FUT", "notional", 50000.0, round(50000 / 1430, 6)),
        ("STK", "market_value", 410.0, round(410 / 1430, 6)),
    ]


def test_exposure_by_currency_adds_cash_in_base(landing):
    _reconciling_day(landing, DAY1)
    rows = landing.rows(
        "SELECT currency, positions_value_base, futures_notional_base, round(cash_base, 6), round(exposure_base, 6) "
        "FROM exposure_by_currency ORDER BY 1"
    )
    assert rows == [("EUR", 110.0, 0.0, 100.0, 210.0), ("USD", 50300.0, 50000.0, 900.0, 51200.0)]


def test_virtual_fx_cash_rows_are_not_counted_twice(landing):
    # The same reconciling day, plus a CASH row for the EUR balance (an account tracking virtual FX):
    # that money is already the ledger's EUR cash, so NAV, exposures and counts must not move.
    rows = [
        position(1, baseMktValue=300.0, mktValue=300.0),
        position(2, currency="EUR", mktValue=100.0, baseMktValue=110.0),
        position(3, assetClass="FUT", mktValue=50000.0, baseMktValue=50000.0, baseUnrealizedPnl=20.0),
        position(4, assetClass="CASH", currency="EUR", mktValue=100.0 / 1.1, baseMktValue=100.0, ticker="EUR"),
    ]
    landing.land("positions", DAY1, positions_frame(rows, DAY1))
    ledger = {
        "USD": {"cashbalance": 900.0, "exchangerate": 1.0},
        "EUR": {"cashbalance": 100.0 / 1.1, "exchangerate": 1.1},
        "BASE": {"cashbalance": 1000.0, "netliquidationvalue": 1430.0, "exchangerate": 1.0},
    }
    landing.land("ledger", DAY1, ledger_frame(ledger, DAY1))
    nav = landing.rows("SELECT round(positions_value, 6), round(difference, 6), position_count FROM nav_by_account")
    assert nav == [(430.0, 0.0, 3)]
    classes = landing.rows("SELECT asset_class, exposure_base FROM exposure_by_asset_class ORDER BY 1")
    assert classes == [("CASH", 1000.0), ("FUT", 50000.0), ("STK", 410.0)]
    eur = landing.rows("SELECT round(exposure_base, 6) FROM exposure_by_currency WHERE currency = 'EUR'")
    assert eur == [(210.0,)]
