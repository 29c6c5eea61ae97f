"""Flex rows of trades, trade confirmations, open positions, transfers and conversion rates, from the world.

Identifiers reconcile with the Client Portal answers: ``ibExecID``/``execID`` is the execution's
``execution_id`` on /iserver/account/trades, ``ibOrderID``/``orderID`` its ``order_id``,
``orderReference`` its ``order_ref``; ``tradeID`` is the execution number inside that id (its second
dot-separated part, hexadecimal, written in decimal: 0x65000001 -> 1694498817, the size of the
recording's tradeIDs); ``transactionID`` is TRADE_TRANSACTIONS + tradeID. Open positions carry the
positions endpoint's numbers (``positionValue`` = mktValue, ``costBasisPrice`` = avgPrice,
``fifoPnlUnrealized`` = unrealizedPnl; guess: the world keeps average cost, so its "FIFO" P&L is that).

Attribute names: reference §4.3 ("Key attributes") for Trade, OpenPosition and Transfer (their order is
ours); the recording trade-confirmations.xml for TradeConfirm, in its order. Values that are guesses:
ISIN, CUSIP and FIGI empty (the catalog has none; a query may leave them out); a sell's quantity and
money negative in both Trade and TradeConfirm (the recording holds buys only); ``tradeDate`` and
``reportDate`` the exchange's day (the UTC date of the fill, the same day in every simulated session)
while ``dateTime`` is New York's; ``isAPIOrder`` "N"; TradeConfirm's ``code`` the open/close indicator
(recording: "O"); Trade's ``cost`` the change of the lot's cost basis; ``fifoPnlRealized`` and
``capitalGainsPnl`` the world's average-cost realized P&L; futures' proceeds as for other contracts.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Iterator

from ibkr_pipelines.simulator.catalog import Contract
from ibkr_pipelines.simulator.clock import business_day_after
from ibkr_pipelines.simulator.flex_format import Attrs, Layout, money, num
from ibkr_pipelines.simulator.roster import Account
from ibkr_pipelines.simulator.trade_payloads import order_ref
from ibkr_pipelines.simulator.world import Execution, Lot, Transfer, World, apply_fill

TRADE_TRANSACTIONS = 20_000_000_000  # transactionID of a trade: this + tradeID (CashTransactions: flex_cash.py)
TRANSFER_TRANSACTIONS = 30_000_000_000  # transactionID of a transfer: this + 10 x its index + side (0 out, 1 in)
# US stocks settle T+1 since 2024-05-28 (T+2 before); guess: T+2 elsewhere and for FX, T+1 for options,
# bonds and futures, business days only (the world has no holidays).
_US_T1 = datetime.date(2024, 5, 28)


def trade_id(e: Execution) -> int:
    """The tradeID of an execution: the execution number inside its id, in decimal."""
    return int(e.exec_id.split(".")[1], 16)


def settle_date(c: Contract, d: datetime.date) -> datetime.date:
    """The settlement date of a trade on ``d`` (business days after it; see _US_T1)."""
    lag = 2 if c.asset_class == "CASH" or (c.asset_class == "STK" and (c.country_code != "US" or d < _US_T1)) else 1
    return business_day_after(d, lag)


def instrument(c: Contract | None, layout: Layout) -> Attrs:
    """The instrument attributes every row repeats (recording CashTransaction/TradeConfirm order); blank without one."""
    if c is None:
        return [(k, "") for k in ("assetCategory", "subCategory", "symbol", "description", "conid", "securityID",
                                  "securityIDType", "cusip", "isin", "figi", "listingExchange", "underlyingConid",
                                  "underlyingSymbol", "underlyingSecurityID", "underlyingListingExchange", "issuer",
                                  "issuerCountryCode")] + [("multiplier", "0")] + \
            [(k, "") for k in ("strike", "expiry", "putCall", "principalAdjustFactor")]
    opt, deriv = c.asset_class == "OPT", c.asset_class in ("OPT", "FUT")
    if opt:  # "AAPL JUN31 180 C [AAPL  310620C00180000 100]": the OCC symbol, then the description
        symbol, description = c.description.split("[")[1].rsplit(" ", 1)[0], c.description.split(" [")[0]
    elif c.asset_class == "STK":
        symbol, description = c.symbol, c.name
    else:
        symbol, description = c.name if c.asset_class == "CASH" else c.description, c.description
    return [
        ("assetCategory", c.asset_class), ("subCategory", c.type or ""), ("symbol", symbol),
        ("description", description), ("conid", str(c.conid)), ("securityID", ""), ("securityIDType", ""),
        ("cusip", ""), ("isin", ""), ("figi", ""), ("listingExchange", c.listing_exchange),
        ("underlyingConid", str(c.und_conid) if opt else ""),
        ("underlyingSymbol", c.symbol if c.asset_class in ("STK", "OPT", "FUT") else ""),
        ("underlyingSecurityID", ""), ("underlyingListingExchange", ""), ("issuer", ""),
        ("issuerCountryCode", c.country_code), ("multiplier", num(c.multiplier)),
        ("strike", num(c.strike) if opt else ""), ("expiry", layout.date(c.expiry) if deriv else ""),
        ("putCall", c.right or ""), ("principalAdjustFactor", ""),
    ]


def owner(a: Account) -> Attrs:
    """accountId, acctAlias and model, the first attributes of every row."""
    return [("accountId", a.id), ("acctAlias", ""), ("model", a.model or "")]


@dataclass(frozen=True)
class Fill:
    """One execution as the account's ledger applied it: realized P&L, open/close, cost basis change."""

    execution: Execution
    realized: float
    open_close: str  # "O", "C" or "C;O" (reference §4.3 openCloseIndicator; enum OpenClose)
    cost: float


class TradeReplay:
    """Walks one account's executions once, oldest first, applying them as the world's ledger does."""

    def __init__(self, world: World, account_id: str) -> None:
        self._world = world
        self._execs = world.executions_for(account_id)
        self._i = 0
        self._lots: dict[int, Lot] = {}

    def fills(self, first: datetime.date, last: datetime.date) -> Iterator[Fill]:
        """Fills traded in [first, last], each day's in time order; earlier ones are applied unseen.

        Calls must ask for later and later dates (one walk serves a whole report).
        """
        day: list[Fill] = []
        while self._i < len(self._execs) and self._execs[self._i].trade_date <= last:
            e = self._execs[self._i]
            self._i += 1
            if day and day[0].execution.trade_date != e.trade_date:
                yield from sorted(day, key=lambda f: (f.execution.trade_time, f.execution.exec_id))
                day = []
            fill = self._apply(e)
            if e.trade_date >= first:
                day.append(fill)
        yield from sorted(day, key=lambda f: (f.execution.trade_time, f.execution.exec_id))

    def _apply(self, e: Execution) -> Fill:
        """The world's average-cost step (World.realized_fills), with what it did to the lot."""
        c = self._world.contracts[e.conid]
        lot = self._lots.setdefault(e.conid, Lot())
        before_q, before_cost = lot.quantity, lot.cost
        if c.asset_class == "CASH":
            return Fill(e, 0.0, "O", 0.0)
        realized = apply_fill(lot, c, e.signed_quantity, e.price, e.commission)
        dq = e.signed_quantity
        if before_q == 0 or (before_q > 0) == (dq > 0):
            oc = "O"
        else:
            oc = "C;O" if abs(dq) > abs(before_q) + 1e-9 else "C"
        return Fill(e, realized, oc, lot.cost - before_cost)


def _trade_money(world: World, e: Execution) -> tuple[Contract, float, float, float]:
    """(contract, signed trade money, proceeds, net cash) in the contract currency."""
    c = world.contracts[e.conid]
    trade_money = round(e.signed_quantity * e.price * c.value_multiplier, 2)
    proceeds = -trade_money
    return c, trade_money, proceeds, round(proceeds - e.commission, 2)


def _order_type(e: Execution) -> str:
    """LMT for the quarter of orders orders.py makes marketable limit orders, else MKT (same rule)."""
    return "LMT" if e.order_id % 4 == 0 else "MKT"


def trade_attrs(world: World, a: Account, f: Fill, layout: Layout) -> Attrs:
    """One Trade row (levelOfDetail EXECUTION) of an account's fill."""
    e = f.execution
    c, trade_money, proceeds, net_cash = _trade_money(world, e)
    fx = world.fx_rate(c.currency, a.currency, e.trade_date)
    close = world.price(e.conid, e.trade_date) if c.asset_class != "CASH" else e.price
    tid = trade_id(e)
    when = layout.date_time(e.trade_time)
    return owner(a) + [("currency", c.currency), ("fxRateToBase", num(fx))] + instrument(c, layout) + [
        ("tradeID", str(tid)), ("transactionID", str(TRADE_TRANSACTIONS + tid)), ("ibExecID", e.exec_id),
        ("ibOrderID", str(e.order_id)), ("brokerageOrderID", ""), ("orderReference", order_ref(e.order_id)),
        ("exchOrderId", ""), ("extExecID", ""), ("reportDate", layout.date(e.trade_date)),
        ("tradeDate", layout.date(e.trade_date)), ("dateTime", when),
        ("settleDateTarget", layout.date(settle_date(c, e.trade_date))), ("transactionType", "ExchTrade"),
        ("exchange", e.exchange), ("buySell", "BUY" if e.side == "B" else "SELL"),
        ("quantity", num(e.signed_quantity)), ("tradePrice", num(e.price)), ("tradeMoney", money(trade_money)),
        ("proceeds", money(proceeds)), ("taxes", "0"), ("ibCommission", money(-e.commission)),
        ("ibCommissionCurrency", c.currency), ("netCash", money(net_cash)), ("netCashInBase", money(net_cash * fx)),
        ("closePrice", num(close)), ("openCloseIndicator", f.open_close), ("notes", ""), ("cost", money(f.cost)),
        ("fifoPnlRealized", money(f.realized)), ("capitalGainsPnl", money(f.realized)), ("fxPnl", "0"),
        ("mtmPnl", money((close - e.price) * e.signed_quantity * c.value_multiplier)),
        ("orderType", _order_type(e)), ("orderTime", when), ("levelOfDetail", "EXECUTION"),
        ("isAPIOrder", "N"), ("accruedInt", "0"),
    ]


def trade_confirm_attrs(world: World, a: Account, f: Fill, layout: Layout) -> Attrs:
    """One TradeConfirm row (levelOfDetail EXECUTION), attributes in the recording's order."""
    e = f.execution
    c, trade_money, proceeds, net_cash = _trade_money(world, e)
    when = layout.date_time(e.trade_time)
    zero = "0"
    return owner(a) + [("currency", c.currency)] + instrument(c, layout) + [
        ("transactionType", "ExchTrade"), ("tradeID", str(trade_id(e))), ("orderID", str(e.order_id)),
        ("execID", e.exec_id), ("brokerageOrderID", ""), ("orderReference", order_ref(e.order_id)),
        ("volatilityOrderLink", ""), ("clearingFirmID", ""), ("origTradePrice", zero), ("origTradeDate", ""),
        ("origTradeID", ""), ("extExecID", ""), ("blockID", zero), ("orderTime", when), ("dateTime", when),
        ("reportDate", layout.date(e.trade_date)), ("settleDate", layout.date(settle_date(c, e.trade_date))),
        ("tradeDate", layout.date(e.trade_date)), ("exchange", e.exchange),
        ("buySell", "BUY" if e.side == "B" else "SELL"), ("quantity", num(e.signed_quantity)),
        ("price", num(e.price)), ("amount", money(trade_money)), ("proceeds", money(proceeds)),
        ("netCash", money(net_cash)), ("netCashWithBillable", money(net_cash)), ("commission", money(-e.commission)),
        ("brokerExecutionCommission", money(-e.commission)), ("brokerClearingCommission", zero),
        ("thirdPartyExecutionCommission", zero), ("thirdPartyClearingCommission", zero),
        ("thirdPartyRegulatoryCommission", zero), ("otherCommission", zero), ("commissionCurrency", c.currency),
        ("tax", zero), ("salesTax", zero), ("tradeCharge", zero), ("otherTax", zero), ("code", f.open_close),
        ("orderType", _order_type(e)), ("levelOfDetail", "EXECUTION"), ("traderID", ""), ("isAPIOrder", "N"),
        ("allocatedTo", ""), ("accruedInt", zero), ("rfqID", ""), ("positionActionID", ""), ("serialNumber", ""),
        ("deliveryType", ""), ("commodityType", ""), ("fineness", "0.0"), ("weight", "0.0"),
    ]


def position_attrs(world: World, a: Account, money_row: dict[str, float], lot: Lot, d: datetime.date,
                   nav: float, layout: Layout) -> Attrs:
    """One OpenPosition row (levelOfDetail SUMMARY) from the positions endpoint's money row of a lot."""
    c = world.contracts[int(money_row["conid"])]
    fx = world.fx_rate(c.currency, a.currency, d)
    avg_price = round(round(lot.cost / lot.quantity, 8) / c.value_multiplier, 8)  # as the positions endpoint
    share = round(money_row["baseMktValue"] / nav * 100, 2) if nav else 0.0
    return owner(a) + [("currency", c.currency), ("fxRateToBase", num(fx))] + instrument(c, layout) + [
        ("reportDate", layout.date(d)), ("position", num(lot.quantity)), ("markPrice", num(world.price(c.conid, d))),
        ("positionValue", money(money_row["mktValue"])), ("positionValueInBase", money(money_row["baseMktValue"])),
        ("openPrice", num(avg_price)), ("costBasisPrice", num(avg_price)), ("costBasisMoney", money(lot.cost)),
        ("percentOfNAV", num(share)), ("fifoPnlUnrealized", money(money_row["unrealizedPnl"])),
        ("side", "Long" if lot.quantity > 0 else "Short"), ("levelOfDetail", "SUMMARY"), ("openDateTime", ""),
        ("holdingPeriodDateTime", ""), ("code", ""), ("originatingOrderID", ""), ("originatingTransactionID", ""),
        ("accruedInt", "0"),
    ]


def transfer_attrs(world: World, a: Account, t: Transfer, index: int, other: Account, layout: Layout) -> Attrs:
    """One Transfers row: an internal cash transfer seen from ``a`` (OUT from the sender, IN at the receiver)."""
    out = a.id == t.from_account
    cash = -t.amount if out else t.amount
    fx = world.fx_rate(t.currency, a.currency, t.date)
    # Guess: 09:30 New York, IBKR books internal transfers during the day; the description is ours.
    when = datetime.datetime.combine(t.date, datetime.time(14, 30), datetime.timezone.utc)
    blank = instrument(None, layout)
    blank[0:4] = [("assetCategory", "CASH"), ("subCategory", ""), ("symbol", t.currency),
                  ("description", f"Internal transfer {'to' if out else 'from'} {other.id}")]
    return owner(a) + [("currency", t.currency), ("fxRateToBase", num(fx))] + blank + [
        ("reportDate", layout.date(t.date)), ("date", layout.date(t.date)), ("dateTime", layout.date_time(when)),
        ("settleDate", layout.date(t.date)), ("type", "INTERNAL"), ("direction", "OUT" if out else "IN"),
        ("company", ""), ("account", other.id), ("accountName", other.title), ("deliveringBroker", ""),
        ("quantity", "0"), ("transferPrice", "0"), ("positionAmount", "0"), ("positionAmountInBase", "0"),
        ("pnlAmount", "0"), ("pnlAmountInBase", "0"), ("fxPnl", "0"), ("cashTransfer", money(cash)), ("code", ""),
        ("clientReference", ""), ("transactionID", str(TRANSFER_TRANSACTIONS + 10 * index + (0 if out else 1))),
        ("levelOfDetail", "DETAIL"),
    ]


def conversion_rate_attrs(world: World, base: str, ccy: str, d: datetime.date, layout: Layout) -> Attrs:
    """One ConversionRate row: units of the base for one unit of ``ccy`` at the close of ``d``."""
    return [("reportDate", layout.date(d)), ("fromCurrency", ccy), ("toCurrency", base),
            ("rate", num(world.fx_rate(ccy, base, d)))]
