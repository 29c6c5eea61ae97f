"""Which Flex attribute fills which column of each modelled table, and what identifies a row.

An attribute may fill several columns (``dateTime``: the event's date and its instant) and a
column may be filled by several attributes (Activity's ``tradePrice`` and Trade Confirmation's
``price``): the first non-empty one wins, and a later one that disagrees is kept in raw_extra.
Attributes a table does not name here go to raw_extra. Column types come from the table's spec.
"""

from __future__ import annotations

from dataclasses import dataclass

from ibkr_pipelines.schemas.flex_cash_transactions import FLEX_CASH_TRANSACTIONS
from ibkr_pipelines.schemas.flex_conversion_rates import FLEX_CONVERSION_RATES
from ibkr_pipelines.schemas.flex_corporate_actions import FLEX_CORPORATE_ACTIONS
from ibkr_pipelines.schemas.flex_nav import FLEX_NAV
from ibkr_pipelines.schemas.flex_open_positions import FLEX_OPEN_POSITIONS
from ibkr_pipelines.schemas.flex_trades import FLEX_TRADES
from ibkr_pipelines.schemas.flex_transfers import FLEX_TRANSFERS
from ibkr_pipelines.schemas.spec import TableSpec


@dataclass(frozen=True)
class TableMapping:
    """One modelled table: its spec, attribute -> columns, and the id attributes (with key prefixes) of row_key."""

    spec: TableSpec
    attributes: dict[str, tuple[str, ...]]
    row_ids: tuple[tuple[str, str], ...] = ()


def _plain(**columns: str | tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """column=attribute(s) -> attribute -> columns (the readable way round to write, the useful way to read)."""
    out: dict[str, tuple[str, ...]] = {}
    for column, attributes in columns.items():
        for attribute in (attributes,) if isinstance(attributes, str) else attributes:
            out[attribute] = (*out.get(attribute, ()), column)
    return out


_CONTEXT = _plain(report_date="reportDate", account_id="accountId", level_of_detail="levelOfDetail")
_CONTRACT = _plain(
    currency="currency", fx_rate_to_base="fxRateToBase", asset_category="assetCategory", sub_category="subCategory",
    symbol="symbol", description="description", conid="conid", isin="isin", cusip="cusip",
    listing_exchange="listingExchange", underlying_conid="underlyingConid", underlying_symbol="underlyingSymbol",
    multiplier="multiplier", strike="strike", expiry="expiry", put_call="putCall",
)
_EVENT = {"dateTime": ("event_date", "event_time")}
_TRANSACTION_ID = (("transactionID", "txn:"),)

TRADES = TableMapping(FLEX_TRADES, {**_CONTEXT, **_CONTRACT, **_plain(
    transaction_id="transactionID", trade_id="tradeID", exec_id=("ibExecID", "execID"),
    order_id=("ibOrderID", "orderID"), brokerage_order_id="brokerageOrderID", order_reference="orderReference",
    transaction_type="transactionType", notes=("notes", "code"), orig_trade_id="origTradeID",
    orig_transaction_id="origTransactionID", orig_trade_date="origTradeDate", orig_trade_price="origTradePrice",
    trade_date="tradeDate", trade_time="dateTime", settle_date=("settleDateTarget", "settleDate"),
    order_time="orderTime", exchange="exchange", buy_sell="buySell", quantity="quantity",
    price=("tradePrice", "price"), trade_money=("tradeMoney", "amount"), proceeds="proceeds",
    taxes=("taxes", "tax"), commission=("ibCommission", "commission"),
    commission_currency=("ibCommissionCurrency", "commissionCurrency"), net_cash="netCash",
    close_price="closePrice", open_close="openCloseIndicator", cost="cost", fifo_pnl_realized="fifoPnlRealized",
    fx_pnl="fxPnl", mtm_pnl="mtmPnl", order_type="orderType", is_api_order="isAPIOrder", accrued_interest="accruedInt",
)}, row_ids=(("transactionID", "txn:"), ("tradeID", "trade:"), ("ibExecID", "exec:"), ("execID", "exec:")))

OPEN_POSITIONS = TableMapping(FLEX_OPEN_POSITIONS, {**_CONTEXT, **_CONTRACT, **_plain(
    position="position", side="side", mark_price="markPrice", position_value="positionValue", open_price="openPrice",
    cost_basis_price="costBasisPrice", cost_basis_money="costBasisMoney", percent_of_nav="percentOfNAV",
    fifo_pnl_unrealized="fifoPnlUnrealized", accrued_interest="accruedInt", open_time="openDateTime",
    holding_period_time="holdingPeriodDateTime", code="code", originating_order_id="originatingOrderID",
    originating_transaction_id="originatingTransactionID",
)}, row_ids=(("conid", "conid:"),))

CASH_TRANSACTIONS = TableMapping(FLEX_CASH_TRANSACTIONS, {**_CONTEXT, **_CONTRACT, **_EVENT, **_plain(
    transaction_id="transactionID", type="type", amount="amount", settle_date="settleDate", ex_date="exDate",
    available_for_trading_date="availableForTradingDate", trade_id="tradeID", action_id="actionID",
    client_reference="clientReference", code="code",
)}, row_ids=_TRANSACTION_ID)

TRANSFERS = TableMapping(FLEX_TRANSFERS, {**_CONTEXT, **_CONTRACT, **_plain(
    transaction_id="transactionID", type="type", direction="direction", counterparty_account="account",
    counterparty_name="accountName", company="company", delivering_broker="deliveringBroker", event_date="date",
    settle_date="settleDate", quantity="quantity", transfer_price="transferPrice", position_amount="positionAmount",
    position_amount_in_base="positionAmountInBase", cash_transfer="cashTransfer", pnl_amount="pnlAmount",
    code="code", client_reference="clientReference",
), **_EVENT}, row_ids=_TRANSACTION_ID)

CORPORATE_ACTIONS = TableMapping(FLEX_CORPORATE_ACTIONS, {**_CONTEXT, **_CONTRACT, **_EVENT, **_plain(
    transaction_id="transactionID", action_id="actionID", type="type", action_description="actionDescription",
    quantity="quantity", amount="amount", proceeds="proceeds", value="value", fifo_pnl_realized="fifoPnlRealized",
    mtm_pnl="mtmPnl", code="code",
)}, row_ids=_TRANSACTION_ID)

CONVERSION_RATES = TableMapping(FLEX_CONVERSION_RATES, _plain(
    report_date="reportDate", from_currency="fromCurrency", to_currency="toCurrency", rate="rate",
))

NAV = TableMapping(FLEX_NAV, _plain(
    report_date=("reportDate", "toDate"), account_id="accountId", from_date="fromDate", currency="currency",
    nav=("total", "endingValue"), starting_value="startingValue", cash="cash", stock="stock", options="options",
    commodities="commodities", bonds="bonds", funds="funds", interest_accruals="interestAccruals",
    dividend_accruals="dividendAccruals", mtm="mtm", realized="realized", change_in_unrealized="changeInUnrealized",
    deposits_withdrawals="depositsWithdrawals", asset_transfers="assetTransfers", dividends="dividends",
    withholding_tax="withholdingTax", interest="interest", commissions="commissions", advisor_fees="advisorFees",
    other_fees="otherFees", twr="twr",
))

MAPPINGS: dict[str, TableMapping] = {m.spec.name: m for m in (
    TRADES, OPEN_POSITIONS, CASH_TRANSACTIONS, TRANSFERS, CORPORATE_ACTIONS, CONVERSION_RATES, NAV)}
