"""Flex CashTransactions from the world's cash events, with the quirks real reports have (issue 12).

The world holds one net cash event per dividend, interest payment, fee or deposit; a Flex report may
show one event as several rows, always summing to the world's amount (so the ledger's cash and
Flex agree once every row is reported):

- withholding tax: a dividend the issuer's country taxes is a gross ``Dividends`` row and a negative
  ``Withholding Tax`` row (rates: ``wht_rate``, a guess);
- a late withholding-tax adjustment: for a fixed third of the taxed dividends the tax is first withheld
  at a rate 15 points higher and corrected by a second ``Withholding Tax`` row with the pay date as its
  ``dateTime`` but a ``reportDate`` LATE_WHT_BUSINESS_DAYS business days later (issue 12's quirk: old
  dateTime, new reportDate; the lag is a guess);
- a dividend split into an ordinary part and a payment in lieu: for a fixed quarter of the untaxed ones
  (guess: shares on loan over the ex-date), two rows, ``Dividends`` and ``Payment In Lieu Of Dividends``,
  with one actionID; a short position's (negative) dividend is a payment in lieu as a whole;
- descriptions of dividends and taxes follow IBKR's "... per Share (Ordinary Dividend)" style (guess:
  no ISIN in the catalog), advisor fees' are the world's text (guess);
- interest as ``Broker Interest Received``/``Paid`` "USD CREDIT INT FOR FEB-2026" (recording), deposits as
  ``Deposits/Withdrawals`` (the recording's spelling; the reference's enum says "Deposits & Withdrawals"),
  the FA fee as ``Advisor Fees``. Trade legs, commissions and FX are Trades; transfers are Transfers.

Which events get a quirk is fixed by a CRC of the event (never random), so every report of a date agrees.
"""

from __future__ import annotations

import bisect
import datetime
import zlib
from dataclasses import dataclass
from typing import Iterator, Sequence

from ibkr_pipelines.simulator.catalog import Contract
from ibkr_pipelines.simulator.clock import UTC, business_day_after, last_business_day
from ibkr_pipelines.simulator.flex_format import Attrs, Layout, money, num
from ibkr_pipelines.simulator.flex_rows import instrument, owner
from ibkr_pipelines.simulator.roster import Account
from ibkr_pipelines.simulator.world import CashEvent, World

CASH_TRANSACTIONS = 9_000_000_000  # transactionID: this + ordinal x 10^7 + event index x 10 + row number
LATE_WHT_BUSINESS_DAYS = 10  # guess
# A row is reported at most this long after its event (the late adjustment): reports look back this far.
LOOKBACK = datetime.timedelta(days=LATE_WHT_BUSINESS_DAYS * 7 // 5 + 4)
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
# Guess: withholding at the source by the issuer's country (usual rates for a foreign holder); US
# dividends 15% (treaty, W-8BEN) for an account whose base is not USD, none for USD-based ones.
_WHT = {"DE": 0.26375, "FR": 0.128, "NL": 0.15, "CH": 0.35, "JP": 0.15315}
DEPOSITS = "Deposits/Withdrawals"
DIVIDENDS = "Dividends"
IN_LIEU = "Payment In Lieu Of Dividends"
WITHHOLDING = "Withholding Tax"


@dataclass(frozen=True)
class CashRow:
    """One CashTransaction row of a cash event (an event may give several)."""

    event: CashEvent
    index: int  # the event's place in its account's cash events (prefix-stable: transactionID)
    number: int  # the row's number within the event: 0 main, 1 tax, 2 late adjustment, 3 payment in lieu
    type: str
    cents: int
    description: str
    report_date: datetime.date
    ex_date: datetime.date | None = None
    action_id: str = ""


def wht_rate(c: Contract, base: str) -> float:
    """The share of a dividend withheld at the source (module docstring; a guess)."""
    if c.country_code == "US":
        return 0.15 if base != "USD" else 0.0
    return _WHT.get(c.country_code, 0.0)


def _pick(salt: str, ev: CashEvent, one_in: int) -> tuple[bool, int]:
    """A stable one-in-``one_in`` choice for an event, and a number 0..99 from the same CRC."""
    h = zlib.crc32(f"{salt}:{ev.account}:{ev.date.isoformat()}:{ev.conid}".encode())
    return h % one_in == 0, (h // one_in) % 100


def _month_before(d: datetime.date) -> str:
    """"FEB-2026" for a date in March 2026: the month an interest payment is for."""
    y, m = (d.year, d.month - 1) if d.month > 1 else (d.year - 1, 12)
    return f"{_MONTHS[m - 1]}-{y}"


def rows_of(world: World, base: str, ev: CashEvent, index: int) -> list[CashRow]:
    """The CashTransaction rows of one cash event, [] for an event Flex shows elsewhere (trades, transfers)."""
    cents = round(ev.amount * 100)
    if ev.kind in ("deposit", "withdrawal"):
        return [CashRow(ev, index, 0, DEPOSITS, cents, "ADJUSTMENT: CASH RECEIPT/DISBURSEMENT/TRANSFER", ev.date)]
    if ev.kind == "interest":
        side = "CREDIT" if cents > 0 else "DEBIT"
        kind = "Broker Interest Received" if cents > 0 else "Broker Interest Paid"
        return [CashRow(ev, index, 0, kind, cents, f"{ev.currency} {side} INT FOR {_month_before(ev.date)}", ev.date)]
    if ev.kind == "advisor_fee":
        return [CashRow(ev, index, 0, "Advisor Fees", cents, ev.ref.upper(), ev.date)]
    if ev.kind != "dividend":
        return []
    c = world.contracts[ev.conid]
    per_share = ev.ref.split(" cash dividend ")[-1].split(" per share")[0]
    what = f"{c.symbol} Cash Dividend {ev.currency} {per_share} per Share"
    # Guess: the ex-date two weeks before the pay date; actionID a stable number per (contract, pay date).
    ex = last_business_day(ev.date - datetime.timedelta(days=14))
    action = str(100_000_000 + zlib.crc32(f"{ev.conid}:{ev.date.isoformat()}".encode()) % 900_000_000)

    def make(number: int, kind: str, amount: int, text: str, reported: datetime.date = ev.date) -> CashRow:
        return CashRow(ev, index, number, kind, amount, text, reported, ex, action)

    if cents < 0:  # a short position pays the dividend to the lender
        return [make(0, IN_LIEU, cents, f"{c.symbol} Payment in Lieu of Dividend (Ordinary Dividend)")]
    rate = wht_rate(c, base)
    if rate == 0:
        split, share = _pick("in-lieu", ev, 4)
        if not split:
            return [make(0, DIVIDENDS, cents, f"{what} (Ordinary Dividend)")]
        in_lieu = round(cents * (25 + share // 2) / 100)
        return [make(0, DIVIDENDS, cents - in_lieu, f"{what} (Ordinary Dividend)"),
                make(3, IN_LIEU, in_lieu, f"{c.symbol} Payment in Lieu of Dividend (Ordinary Dividend)")]
    gross = round(cents / (1 - rate))
    tax = cents - gross  # negative; gross + tax is the world's net amount exactly
    tax_text = f"{what} - {c.country_code} Tax"
    rows = [make(0, DIVIDENDS, gross, f"{what} (Ordinary Dividend)")]
    late, _ = _pick("late-wht", ev, 3)
    if not late:
        return rows + [make(1, WITHHOLDING, tax, tax_text)]
    first = -round(gross * min(rate + 0.15, 0.5))
    return rows + [make(1, WITHHOLDING, first, tax_text),
                   make(2, WITHHOLDING, tax - first, tax_text, business_day_after(ev.date, LATE_WHT_BUSINESS_DAYS))]


def reported_rows(world: World, account: Account, events: Sequence[CashEvent], first: datetime.date,
                  last: datetime.date) -> Iterator[CashRow]:
    """The rows of an account's events reported in [first, last], in event order (events: the account's list)."""
    lo = bisect.bisect_left(_DateView(events), first - LOOKBACK)
    for index in range(lo, len(events)):
        ev = events[index]
        if ev.date > last:
            break
        for r in rows_of(world, account.currency, ev, index):
            if first <= r.report_date <= last:
                yield r


class _DateView:
    """The dates of a list of cash events, for bisect, without copying them."""

    def __init__(self, events: Sequence[CashEvent]) -> None:
        self._events = events

    def __len__(self) -> int:
        return len(self._events)

    def __getitem__(self, i: int) -> datetime.date:
        return self._events[i].date


def cash_transaction_attrs(world: World, account: Account, ordinal: int, r: CashRow, layout: Layout) -> Attrs:
    """One CashTransaction row, attributes in the recording's order (cash-transactions.xml)."""
    ev = r.event
    c = world.contracts[ev.conid] if ev.conid else None
    attrs = instrument(c, layout)
    attrs[3] = ("description", r.description)
    if r.type == DEPOSITS:  # recording: a deposit's dateTime has a time (00:58:50), interest's the date alone;
        # guess: 05:00 UTC, New York's first hour
        when = layout.date_time(datetime.datetime.combine(ev.date, datetime.time(5, 0), UTC))
    else:
        when = layout.date(ev.date)
    txn = CASH_TRANSACTIONS + ordinal * 10_000_000 + r.index * 10 + r.number
    return owner(account) + [("currency", ev.currency),
                             ("fxRateToBase", num(world.fx_rate(ev.currency, account.currency, ev.date)))] + attrs + [
        ("dateTime", when), ("settleDate", layout.date(ev.date)), ("availableForTradingDate", ""),
        ("amount", money(r.cents / 100)), ("type", r.type), ("tradeID", ""), ("code", ""),
        ("transactionID", str(txn)), ("reportDate", layout.date(r.report_date)),
        ("exDate", layout.date(r.ex_date)), ("clientReference", ""), ("actionID", r.action_id),
        ("levelOfDetail", "DETAIL"), ("serialNumber", ""), ("deliveryType", ""), ("commodityType", ""),
        ("fineness", "0.0"), ("weight", "0.0"),
    ]


# ChangeInNAV's components by cash-event kind (trade legs, FX and futures P&L are left in ``mtm``).
_NAV_PARTS = {"deposit": "depositsWithdrawals", "withdrawal": "depositsWithdrawals",
              "transfer": "internalCashTransfers", "interest": "interest", "advisor_fee": "advisorFees",
              "commission": "commissions"}
NAV_PARTS = ("depositsWithdrawals", "internalCashTransfers", "dividends", "withholdingTax", "interest",
             "advisorFees", "commissions")


def nav_flows(world: World, account: Account, events: Sequence[CashEvent], first: datetime.date,
              last: datetime.date) -> dict[str, float]:
    """ChangeInNAV's components (NAV_PARTS) of the events dated in [first, last], in the account's base."""
    out = dict.fromkeys(NAV_PARTS, 0.0)
    lo = bisect.bisect_left(_DateView(events), first)
    for index in range(lo, len(events)):
        ev = events[index]
        if ev.date > last:
            break
        fx = world.fx_rate(ev.currency, account.currency, ev.date)
        if ev.kind == "dividend":
            for r in rows_of(world, account.currency, ev, index):
                out["withholdingTax" if r.type == WITHHOLDING else "dividends"] += r.cents / 100 * fx
        elif ev.kind in _NAV_PARTS:
            out[_NAV_PARTS[ev.kind]] += ev.amount * fx
    return out
