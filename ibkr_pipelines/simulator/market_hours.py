"""Trading hours and holidays per market: which dates trade, and when each session's minutes run.

The reference gives one session: the recording MarketData/GET-history.json (SPY, outsideRth false)
starts its 1-minute bars at 13:30 UTC on 2026-04-02 with ``tradingDayDuration`` 390, i.e. 09:30-16:00
New York. Every other schedule below is the exchange's published regular hours as we know them, not
IBKR evidence, and is marked ``guess:`` where IBKR's extended ("outside RTH") hours are assumed. Times
are exchange-local wall clock (zoneinfo, so daylight saving moves them in UTC as it does at IBKR).

Holidays are rules (Easter, n-th weekday, weekend substitution) or short tables, per market; a date
that is not a trading date has no bars. The world (world.py) still has a close on every weekday,
holiday or not: history skips those closes, valuation does not (see history.py).

Early closes (half days) are not modelled: those sessions run their full hours here.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass
from typing import Callable
from zoneinfo import ZoneInfo

from ibkr_pipelines.simulator.catalog import Contract

# A boundary: (calendar days before the trading date, hour, minute), exchange-local.
Boundary = tuple[int, int, int]
Segment = tuple[Boundary, Boundary]
# A run of consecutive minutes: (epoch seconds of the first minute, number of minutes).
Span = tuple[int, int]


@dataclass(frozen=True)
class Market:
    """One trading venue's hours: regular segments, optional pre/post segments, holiday rule."""

    name: str
    tz: str
    rth: tuple[Segment, ...]
    pre: tuple[Segment, ...] = ()
    post: tuple[Segment, ...] = ()
    holiday_rule: str = "none"
    # Whether the simulated login subscribes to this market's data (mdAvailability "S" vs delayed "D").
    subscribed: bool = True

    @property
    def zone(self) -> ZoneInfo:
        """The exchange's time zone."""
        return _zone(self.tz)

    def holidays(self, year: int) -> frozenset[datetime.date]:
        """Weekday closures of one calendar year."""
        return _holidays(self.holiday_rule, year)

    def is_trading_date(self, d: datetime.date) -> bool:
        """Monday to Friday and not a holiday."""
        return d.weekday() < 5 and d not in self.holidays(d.year)


@dataclass(frozen=True)
class Session:
    """The minutes of one trading date: pre-market, regular, post-market spans (epoch seconds)."""

    date: datetime.date
    pre: tuple[Span, ...]
    rth: tuple[Span, ...]
    post: tuple[Span, ...]

    def parts(self, outside_rth: bool) -> tuple[str, ...]:
        """The parts a request sees: ``rth`` only, or pre, rth and post with ``outsideRth``."""
        if not outside_rth:
            return ("rth",)
        return tuple(p for p in ("pre", "rth", "post") if getattr(self, p))

    def spans(self, part: str) -> tuple[Span, ...]:
        """The spans of one part."""
        return getattr(self, part)  # type: ignore[no-any-return]

    def minute_starts(self, part: str) -> list[int]:
        """Epoch ms of every minute of one part, in order: the clock of its 1-minute bars."""
        return [(first + 60 * k) * 1000 for first, n in self.spans(part) for k in range(n)]

    def start(self, outside_rth: bool) -> int:
        """Epoch seconds of the first minute the request sees."""
        return self.spans(self.parts(outside_rth)[0])[0][0]

    def end(self, outside_rth: bool) -> int:
        """Epoch seconds just after the last minute the request sees."""
        first, n = self.spans(self.parts(outside_rth)[-1])[-1]
        return first + 60 * n

    def minutes(self, outside_rth: bool) -> int:
        """How many minutes the request sees."""
        return sum(n for part in self.parts(outside_rth) for _, n in self.spans(part))


def _seg(h0: int, m0: int, h1: int, m1: int, days_before: int = 0) -> Segment:
    return (days_before, h0, m0), (0, h1, m1)


# Equities. US: 09:30-16:00 New York (recording MarketData/GET-history.json); outside RTH 04:00-09:30
# and 16:00-20:00 (guess: IBKR's published US pre/post-market hours, not in the reference).
US_EQUITY = Market("US", "America/New_York", (_seg(9, 30, 16, 0),), (_seg(4, 0, 9, 30),), (_seg(16, 0, 20, 0),),
                   "nyse")
# guess: US options trade the regular session only.
US_OPTIONS = Market("US-OPT", "America/New_York", (_seg(9, 30, 16, 0),), holiday_rule="nyse")
# guess: the exchanges' published continuous-trading hours; no extended hours modelled for these.
XETRA = Market("XETRA", "Europe/Berlin", (_seg(9, 0, 17, 30),), holiday_rule="xetra")
EURONEXT_PARIS = Market("EURONEXT-PARIS", "Europe/Paris", (_seg(9, 0, 17, 30),), holiday_rule="euronext")
EURONEXT_AMSTERDAM = Market("EURONEXT-AMS", "Europe/Amsterdam", (_seg(9, 0, 17, 30),), holiday_rule="euronext")
LSE = Market("LSE", "Europe/London", (_seg(8, 0, 16, 30),), holiday_rule="uk")
SIX = Market("SIX", "Europe/Zurich", (_seg(9, 0, 17, 30),), holiday_rule="six")
# guess: Tokyo's lunch break 11:30-12:30 and its 15:30 close (from 2024-11-05) applied to every date.
TSE = Market("TSE", "Asia/Tokyo", (_seg(9, 0, 11, 30), _seg(12, 30, 15, 30)), holiday_rule="japan",
             subscribed=False)
SEHK = Market("SEHK", "Asia/Hong_Kong", (_seg(9, 30, 12, 0), _seg(13, 0, 16, 0)), holiday_rule="hk",
              subscribed=False)
# Futures. guess: CME Globex equity hours, 17:00 (previous evening) to 16:00 Chicago, "regular" 08:30-15:15.
CME = Market("CME", "America/Chicago", (_seg(8, 30, 15, 15),), (_seg(17, 0, 8, 30, days_before=1),),
             (_seg(15, 15, 16, 0),), "nyse")
# guess: Eurex index futures 08:00-22:00 Frankfurt, regular 09:00-17:30; ICE Futures Europe (FTSE) 01:00-21:00
# London, regular 08:00-16:30; Osaka day session 08:45-15:45 (its night session is not modelled).
EUREX = Market("EUREX", "Europe/Berlin", (_seg(9, 0, 17, 30),), (_seg(8, 0, 9, 0),), (_seg(17, 30, 22, 0),),
               "xetra")
ICE_EU = Market("ICEEU", "Europe/London", (_seg(8, 0, 16, 30),), (_seg(1, 0, 8, 0),), (_seg(16, 30, 21, 0),), "uk")
OSE = Market("OSE", "Asia/Tokyo", (_seg(8, 45, 15, 45),), holiday_rule="japan", subscribed=False)
# guess: IDEALPRO FX trades 17:15 New York (previous evening) to 17:00, every weekday but Jan 1 and Dec 25;
# the whole session is "regular" (outsideRth changes nothing).
IDEALPRO = Market("IDEALPRO", "America/New_York", (_seg(17, 15, 17, 0, days_before=1),), holiday_rule="fx")

_BY_EXCHANGE = {
    "NASDAQ": US_EQUITY, "NYSE": US_EQUITY, "ARCA": US_EQUITY, "IBIS": XETRA, "SBF": EURONEXT_PARIS,
    "AEB": EURONEXT_AMSTERDAM, "LSE": LSE, "EBS": SIX, "TSEJ": TSE, "SEHK": SEHK,
    "CME": CME, "CBOT": CME, "NYMEX": CME, "COMEX": CME, "EUREX": EUREX, "ICEEU": ICE_EU, "OSE.JPN": OSE,
    "IDEALPRO": IDEALPRO,
}
# guess: bonds follow their currency's main market calendar and its regular hours.
_BONDS_BY_CCY = {"USD": US_EQUITY, "EUR": EURONEXT_PARIS, "GBP": LSE, "CHF": SIX}


def market_for(c: Contract) -> Market:
    """The market whose hours and holidays a contract's bars follow."""
    if c.asset_class == "OPT":
        return US_OPTIONS
    if c.asset_class == "BOND":
        return _BONDS_BY_CCY.get(c.currency, US_EQUITY)
    return _BY_EXCHANGE.get(c.listing_exchange, US_EQUITY)


@functools.lru_cache(maxsize=None)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _epoch(d: datetime.date, b: Boundary, tz: ZoneInfo) -> int:
    day = d - datetime.timedelta(days=b[0])
    return int(datetime.datetime(day.year, day.month, day.day, b[1], b[2], tzinfo=tz).timestamp())


def _spans(d: datetime.date, segments: tuple[Segment, ...], tz: ZoneInfo) -> tuple[Span, ...]:
    out = []
    for start, end in segments:
        s, e = _epoch(d, start, tz), _epoch(d, end, tz)
        out.append((s, (e - s) // 60))
    return tuple(out)


@functools.lru_cache(maxsize=65_536)
def session(market: Market, d: datetime.date) -> Session:
    """The session of a trading date (call only for trading dates)."""
    tz = market.zone
    return Session(d, _spans(d, market.pre, tz), _spans(d, market.rth, tz), _spans(d, market.post, tz))


def trading_dates(market: Market, first: datetime.date, last: datetime.date) -> list[datetime.date]:
    """Every trading date of a market in [first, last]."""
    out = []
    d, one = first, datetime.timedelta(days=1)
    while d <= last:
        if market.is_trading_date(d):
            out.append(d)
        d += one
    return out


# ----- holidays ---------------------------------------------------------------------------------

def easter(year: int) -> datetime.date:
    """Western Easter Sunday (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month = (h + l_ - 7 * m + 114) // 31
    day = (h + l_ - 7 * m + 114) % 31 + 1
    return datetime.date(year, month, day)


def nth_weekday(year: int, month: int, weekday: int, n: int) -> datetime.date:
    """The n-th given weekday of a month (n = -1: the last one)."""
    if n > 0:
        d = datetime.date(year, month, 1)
        d += datetime.timedelta(days=(weekday - d.weekday()) % 7)
        return d + datetime.timedelta(weeks=n - 1)
    d = datetime.date(year + month // 12, month % 12 + 1, 1) - datetime.timedelta(days=1)
    return d - datetime.timedelta(days=(d.weekday() - weekday) % 7)


def _nearest_weekday(d: datetime.date) -> datetime.date:
    """Saturday -> Friday, Sunday -> Monday (US federal observance)."""
    if d.weekday() == 5:
        return d - datetime.timedelta(days=1)
    if d.weekday() == 6:
        return d + datetime.timedelta(days=1)
    return d


def _nyse(y: int) -> set[datetime.date]:
    # NYSE's published holiday rules (nyse.com "Holidays & Trading Hours"), not IBKR evidence. New Year's
    # Day on a Saturday is not observed on the Friday before (NYSE rule).
    jan1 = datetime.date(y, 1, 1)
    out = {jan1 + datetime.timedelta(days=1) if jan1.weekday() == 6 else jan1,
           nth_weekday(y, 1, 0, 3), nth_weekday(y, 2, 0, 3), easter(y) - datetime.timedelta(days=2),
           nth_weekday(y, 5, 0, -1), _nearest_weekday(datetime.date(y, 7, 4)), nth_weekday(y, 9, 0, 1),
           nth_weekday(y, 11, 3, 4), _nearest_weekday(datetime.date(y, 12, 25))}
    if y >= 2022:
        out.add(_nearest_weekday(datetime.date(y, 6, 19)))
    if y == 2025:
        out.add(datetime.date(2025, 1, 9))  # NYSE closed for the national day of mourning (President Carter)
    return out


def _xetra(y: int) -> set[datetime.date]:
    # Boerse Frankfurt's published Xetra trading calendar (also used for Eurex here: guess).
    e = easter(y)
    return {datetime.date(y, 1, 1), e - datetime.timedelta(days=2), e + datetime.timedelta(days=1),
            datetime.date(y, 5, 1), datetime.date(y, 12, 24), datetime.date(y, 12, 25), datetime.date(y, 12, 26),
            datetime.date(y, 12, 31)}


def _euronext(y: int) -> set[datetime.date]:
    # Euronext's published cash-market holidays (the TARGET2 days).
    e = easter(y)
    return {datetime.date(y, 1, 1), e - datetime.timedelta(days=2), e + datetime.timedelta(days=1),
            datetime.date(y, 5, 1), datetime.date(y, 12, 25), datetime.date(y, 12, 26)}


def _substitute(days: list[datetime.date]) -> set[datetime.date]:
    """Move each weekend day to the next weekday not already taken (UK bank-holiday substitution)."""
    out: set[datetime.date] = set()
    for d in days:
        while d.weekday() >= 5 or d in out:
            d += datetime.timedelta(days=1)
        out.add(d)
    return out


def _uk(y: int) -> set[datetime.date]:
    # England and Wales bank holidays (gov.uk rules; one-off moves such as 2022's Jubilee are not modelled).
    e = easter(y)
    fixed = _substitute([datetime.date(y, 1, 1)]) | _substitute([datetime.date(y, 12, 25), datetime.date(y, 12, 26)])
    return fixed | {e - datetime.timedelta(days=2), e + datetime.timedelta(days=1), nth_weekday(y, 5, 0, 1),
                    nth_weekday(y, 5, 0, -1), nth_weekday(y, 8, 0, -1)}


def _six(y: int) -> set[datetime.date]:
    # SIX Swiss Exchange's published trading calendar.
    e = easter(y)
    return {datetime.date(y, 1, 1), datetime.date(y, 1, 2), e - datetime.timedelta(days=2),
            e + datetime.timedelta(days=1), e + datetime.timedelta(days=39), e + datetime.timedelta(days=50),
            datetime.date(y, 5, 1), datetime.date(y, 8, 1), datetime.date(y, 12, 24), datetime.date(y, 12, 25),
            datetime.date(y, 12, 26), datetime.date(y, 12, 31)}


def _japan(y: int) -> set[datetime.date]:
    # Japan's national holidays (the Holiday Act's rules, equinoxes by the usual approximation) plus the
    # exchange's Jan 2-3 and Dec 31 closures; substitute and "sandwiched" days as the Act says.
    n = y - 1980
    vernal = int(20.8431 + 0.242194 * n - n // 4)
    autumnal = int(23.2488 + 0.242194 * n - n // 4)
    national = {datetime.date(y, 1, 1), nth_weekday(y, 1, 0, 2), datetime.date(y, 2, 11), datetime.date(y, 2, 23),
                datetime.date(y, 3, vernal), datetime.date(y, 4, 29), datetime.date(y, 5, 3), datetime.date(y, 5, 4),
                datetime.date(y, 5, 5), nth_weekday(y, 7, 0, 3), datetime.date(y, 8, 11), nth_weekday(y, 9, 0, 3),
                datetime.date(y, 9, autumnal), nth_weekday(y, 10, 0, 2), datetime.date(y, 11, 3),
                datetime.date(y, 11, 23)}
    out = set(national)
    for d in sorted(national):
        if d.weekday() == 6:
            sub = d + datetime.timedelta(days=1)
            while sub in out:
                sub += datetime.timedelta(days=1)
            out.add(sub)
    for d in sorted(out):
        gap = d + datetime.timedelta(days=2)
        if gap in out and (d + datetime.timedelta(days=1)).weekday() < 5:
            out.add(d + datetime.timedelta(days=1))
    return out | {datetime.date(y, 1, 2), datetime.date(y, 1, 3), datetime.date(y, 12, 31)}


# guess: Hong Kong's lunar-calendar closures as we recall HKEX's calendars (not verified), 2024-2026 only;
# other years get only the fixed-date holidays below.
_HK_LUNAR = {
    2024: ("02-12", "02-13", "04-04", "05-15", "06-10", "09-18", "10-11"),
    2025: ("01-29", "01-30", "01-31", "04-04", "05-05", "10-07", "10-29"),
    2026: ("02-17", "02-18", "02-19", "05-25", "06-19", "09-26", "10-19"),
}


def _hk(y: int) -> set[datetime.date]:
    e = easter(y)
    out = {datetime.date(y, 1, 1), e - datetime.timedelta(days=2), e + datetime.timedelta(days=1),
           datetime.date(y, 5, 1), datetime.date(y, 7, 1), datetime.date(y, 10, 1), datetime.date(y, 12, 25),
           datetime.date(y, 12, 26)}
    out |= {datetime.date(y, int(md[:2]), int(md[3:])) for md in _HK_LUNAR.get(y, ())}
    return out


def _fx(y: int) -> set[datetime.date]:
    return {datetime.date(y, 1, 1), datetime.date(y, 12, 25)}  # guess: IDEALPRO closes only on these


_RULES: dict[str, Callable[[int], set[datetime.date]]] = {
    "nyse": _nyse, "xetra": _xetra, "euronext": _euronext, "uk": _uk, "six": _six, "japan": _japan, "hk": _hk,
    "fx": _fx, "none": lambda y: set(),
}


@functools.lru_cache(maxsize=1024)
def _holidays(rule: str, year: int) -> frozenset[datetime.date]:
    return frozenset(d for d in _RULES[rule](year) if d.weekday() < 5)
