"""JSON shapes of /iserver/account/trades rows and /iserver/account/orders entries.

Field names, order and types follow reference §2.6 (the OpenAPI example) and the recordings
``Orders/GET-trades.json`` and ``Orders/GET-live-orders.json``. Where the two disagree, both forms
are served, each by a deterministic share of the rows (by a hash of the execution id): ``side``
``B``/``S`` (reference) or ``BOT``/``SLD`` (recording), ``price`` a string (reference) or a number
(recording).
"""

from __future__ import annotations

import zlib
from typing import Any

from ibkr_pipelines.simulator.orders import Order
from ibkr_pipelines.simulator.world import Execution, World

# Recording Orders/GET-live-orders.json: the same colours on a filled order; guess: on every order.
_BG, _FG = "#FFFFFF", "#000000"


def _share(key: str, salt: str, one_in: int) -> bool:
    """A stable one-in-``one_in`` choice from a text (crc32, never Python's per-process str hash)."""
    return zlib.crc32(f"{salt}:{key}".encode()) % one_in == 0


def qty_text(q: float) -> str:
    """A quantity as IBKR writes it in descriptions: whole numbers without decimals."""
    return str(int(q)) if float(q).is_integer() else repr(float(q))


def order_ref(order_id: int) -> str:
    """The order reference of an order (guess: every simulated order carries one, "Order123" in the sources)."""
    return f"Order{order_id % 100_000:05d}"


def trade_row(world: World, e: Execution, submitter: str) -> dict[str, Any]:
    """One execution as /iserver/account/trades lists it (reference §2.6 example, in its key order)."""
    c = world.contracts[e.conid]
    recorded_side = _share(e.exec_id, "side", 5)  # recording: "BOT"; reference: "B"/"S"
    numeric_price = _share(e.exec_id, "price", 5)  # recording: 647.09; reference: "192.26"
    side = ("BOT" if e.side == "B" else "SLD") if recorded_side else e.side
    verb = "Bought" if e.side == "B" else "Sold"
    # net_amount: quantity x price x multiplier, unsigned (reference example: Sold 5 @ 192.26 -> 961.3);
    # guess: unsigned for buys too. It is the world's trade cash leg (``trade``/``fx`` event) in size.
    net = round(e.quantity * e.price * c.value_multiplier, 2)
    return {
        "execution_id": e.exec_id, "symbol": c.symbol, "supports_tax_opt": "1", "side": side,
        "order_description": f"{verb} {qty_text(e.quantity)} @ {e.price!r} on {e.exchange}",
        "trade_time": e.trade_time.strftime("%Y%m%d-%H:%M:%S"),
        "trade_time_r": int(e.trade_time.timestamp() * 1000), "size": float(e.quantity),
        "price": e.price if numeric_price else repr(e.price), "order_ref": order_ref(e.order_id),
        "submitter": submitter, "exchange": e.exchange, "commission": repr(e.commission), "net_amount": net,
        "account": e.account, "accountCode": e.account, "account_allocation_name": e.account,
        "company_name": c.name, "contract_description_1": c.description, "sec_type": c.asset_class,
        "listing_exchange": c.listing_exchange, "conid": c.conid, "conidEx": str(c.conid), "clearing_id": "IB",
        "clearing_name": "IB", "liquidation_trade": "0", "is_event_trading": "0", "order_id": e.order_id,
    }


def order_row(world: World, o: Order) -> dict[str, Any]:
    """One order as /iserver/account/orders lists it (recording Orders/GET-live-orders.json, in its key order)."""
    c = world.contracts[o.conid]
    filled = o.filled >= o.total
    kind = "Market" if o.order_type == "Market" else f"Limit {o.limit_price!r}"
    tif = "GTC" if o.tif == "GTC" else "Day"  # recording: "Market, Day" with timeInForce CLOSE
    # Recording: "Bought 1 SPY Market, Day". Guess: "Buy"/"Sell" while nothing is filled.
    verb = ("Bought" if o.side == "BUY" else "Sold") if filled else ("Buy" if o.side == "BUY" else "Sell")
    return {
        "acct": o.account, "conidex": str(c.conid), "conid": c.conid, "account": o.account, "orderId": o.order_id,
        "cashCcy": c.currency,
        # Recording: "1" for a filled order of 1. Guess: "filled/total" while not filled.
        "sizeAndFills": qty_text(o.total) if filled else f"{qty_text(o.filled)}/{qty_text(o.total)}",
        "orderDesc": f"{verb} {qty_text(o.total)} {c.symbol} {kind}, {tif}", "description1": c.description,
        "ticker": c.symbol, "secType": c.asset_class, "listingExchange": c.listing_exchange,
        "remainingQuantity": float(o.total - o.filled), "filledQuantity": float(o.filled),
        "totalSize": float(o.total), "companyName": c.name, "status": o.status,
        "order_ccp_status": o.status,  # recording: "Filled" for both; guess: the same for every status
        # A string (recording); guess: "" while nothing is filled, as ``price`` is "" when there is none.
        "avgPrice": "" if o.avg_price is None else repr(o.avg_price),
        "origOrderType": o.order_type.upper(), "supportsTaxOpt": "1",
        "lastExecutionTime": o.last_time.strftime("%y%m%d%H%M%S"), "orderType": o.order_type,
        "bgColor": _BG, "fgColor": _FG, "isEventTrading": "0",
        "price": "" if o.limit_price is None else repr(o.limit_price),  # recording: "" for a market order
        "timeInForce": o.tif, "lastExecutionTime_r": int(o.last_time.timestamp() * 1000),
        "side": o.side, "order_ref": order_ref(o.order_id),  # order_ref: reference §2.6 field list
    }
