"""Contract definitions of the simulated world: stocks, ETFs, options, futures, FX pairs and bonds."""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass

# (symbol, name, currency, listing exchange, country, sector, group, start price)
_STOCKS: tuple[tuple[str, str, str, str, str, str, str, float], ...] = (
    ("AAPL", "APPLE INC", "USD", "NASDAQ", "US", "Technology", "Computers", 190.0),
    ("MSFT", "MICROSOFT CORP", "USD", "NASDAQ", "US", "Technology", "Software", 410.0),
    ("NVDA", "NVIDIA CORP", "USD", "NASDAQ", "US", "Technology", "Semiconductors", 120.0),
    ("AMZN", "AMAZON.COM INC", "USD", "NASDAQ", "US", "Communications", "Internet", 180.0),
    ("GOOGL", "ALPHABET INC-CL A", "USD", "NASDAQ", "US", "Communications", "Internet", 170.0),
    ("META", "META PLATFORMS INC-CLASS A", "USD", "NASDAQ", "US", "Communications", "Internet", 500.0),
    ("JPM", "JPMORGAN CHASE & CO", "USD", "NYSE", "US", "Financial", "Banks", 200.0),
    ("BAC", "BANK OF AMERICA CORP", "USD", "NYSE", "US", "Financial", "Banks", 40.0),
    ("XOM", "EXXON MOBIL CORP", "USD", "NYSE", "US", "Energy", "Oil&Gas", 110.0),
    ("CVX", "CHEVRON CORP", "USD", "NYSE", "US", "Energy", "Oil&Gas", 155.0),
    ("JNJ", "JOHNSON & JOHNSON", "USD", "NYSE", "US", "Consumer, Non-cyclical", "Pharmaceuticals", 155.0),
    ("PFE", "PFIZER INC", "USD", "NYSE", "US", "Consumer, Non-cyclical", "Pharmaceuticals", 28.0),
    ("KO", "COCA-COLA CO/THE", "USD", "NYSE", "US", "Consumer, Non-cyclical", "Beverages", 62.0),
    ("PEP", "PEPSICO INC", "USD", "NASDAQ", "US", "Consumer, Non-cyclical", "Beverages", 170.0),
    ("WMT", "WALMART INC", "USD", "NYSE", "US", "Consumer, Cyclical", "Retail", 65.0),
    ("HD", "HOME DEPOT INC", "USD", "NYSE", "US", "Consumer, Cyclical", "Retail", 350.0),
    ("DIS", "WALT DISNEY CO/THE", "USD", "NYSE", "US", "Communications", "Media", 100.0),
    ("NFLX", "NETFLIX INC", "USD", "NASDAQ", "US", "Communications", "Internet", 600.0),
    ("INTC", "INTEL CORP", "USD", "NASDAQ", "US", "Technology", "Semiconductors", 30.0),
    ("AMD", "ADVANCED MICRO DEVICES", "USD", "NASDAQ", "US", "Technology", "Semiconductors", 150.0),
    ("CSCO", "CISCO SYSTEMS INC", "USD", "NASDAQ", "US", "Communications", "Telecommunications", 50.0),
    ("ORCL", "ORACLE CORP", "USD", "NYSE", "US", "Technology", "Software", 130.0),
    ("IBM", "INTL BUSINESS MACHINES CORP", "USD", "NYSE", "US", "Technology", "Computers", 180.0),
    ("V", "VISA INC-CLASS A SHARES", "USD", "NYSE", "US", "Financial", "Diversified Finan Serv", 270.0),
    ("MA", "MASTERCARD INC - A", "USD", "NYSE", "US", "Financial", "Diversified Finan Serv", 450.0),
    ("UNH", "UNITEDHEALTH GROUP INC", "USD", "NYSE", "US", "Consumer, Non-cyclical", "Healthcare-Services", 500.0),
    ("PG", "PROCTER & GAMBLE CO/THE", "USD", "NYSE", "US", "Consumer, Non-cyclical", "Cosmetics/Personal Care", 160.0),
    ("CAT", "CATERPILLAR INC", "USD", "NYSE", "US", "Industrial", "Machinery-Constr&Mining", 340.0),
    ("BA", "BOEING CO/THE", "USD", "NYSE", "US", "Industrial", "Aerospace/Defense", 180.0),
    ("GE", "GE AEROSPACE", "USD", "NYSE", "US", "Industrial", "Aerospace/Defense", 160.0),
    ("T", "AT&T INC", "USD", "NYSE", "US", "Communications", "Telecommunications", 18.0),
    ("VZ", "VERIZON COMMUNICATIONS INC", "USD", "NYSE", "US", "Communications", "Telecommunications", 40.0),
    ("MRK", "MERCK & CO. INC.", "USD", "NYSE", "US", "Consumer, Non-cyclical", "Pharmaceuticals", 120.0),
    ("ABBV", "ABBVIE INC", "USD", "NYSE", "US", "Consumer, Non-cyclical", "Pharmaceuticals", 170.0),
    ("COST", "COSTCO WHOLESALE CORP", "USD", "NASDAQ", "US", "Consumer, Cyclical", "Retail", 800.0),
    ("NKE", "NIKE INC -CL B", "USD", "NYSE", "US", "Consumer, Cyclical", "Apparel", 90.0),
    ("MCD", "MCDONALD'S CORP", "USD", "NYSE", "US", "Consumer, Cyclical", "Retail", 270.0),
    ("SBUX", "STARBUCKS CORP", "USD", "NASDAQ", "US", "Consumer, Cyclical", "Retail", 85.0),
    ("GS", "GOLDMAN SACHS GROUP INC", "USD", "NYSE", "US", "Financial", "Banks", 450.0),
    ("MS", "MORGAN STANLEY", "USD", "NYSE", "US", "Financial", "Banks", 95.0),
    ("C", "CITIGROUP INC", "USD", "NYSE", "US", "Financial", "Banks", 60.0),
    ("WFC", "WELLS FARGO & CO", "USD", "NYSE", "US", "Financial", "Banks", 58.0),
    ("TSLA", "TESLA INC", "USD", "NASDAQ", "US", "Consumer, Cyclical", "Auto Manufacturers", 200.0),
    ("ADBE", "ADOBE INC", "USD", "NASDAQ", "US", "Technology", "Software", 500.0),
    ("CRM", "SALESFORCE INC", "USD", "NYSE", "US", "Technology", "Software", 280.0),
    ("QCOM", "QUALCOMM INC", "USD", "NASDAQ", "US", "Technology", "Semiconductors", 170.0),
    ("TXN", "TEXAS INSTRUMENTS INC", "USD", "NASDAQ", "US", "Technology", "Semiconductors", 190.0),
    ("UPS", "UNITED PARCEL SERVICE-CL B", "USD", "NYSE", "US", "Industrial", "Transportation", 140.0),
    ("LMT", "LOCKHEED MARTIN CORP", "USD", "NYSE", "US", "Industrial", "Aerospace/Defense", 450.0),
    ("LLY", "ELI LILLY & CO", "USD", "NYSE", "US", "Consumer, Non-cyclical", "Pharmaceuticals", 750.0),
    ("SAP", "SAP SE", "EUR", "IBIS", "DE", "Technology", "Software", 180.0),
    ("SIE", "SIEMENS AG-REG", "EUR", "IBIS", "DE", "Industrial", "Miscellaneous Manufactur", 170.0),
    ("ALV", "ALLIANZ SE-REG", "EUR", "IBIS", "DE", "Financial", "Insurance", 250.0),
    ("BAS", "BASF SE", "EUR", "IBIS", "DE", "Basic Materials", "Chemicals", 48.0),
    ("DTE", "DEUTSCHE TELEKOM AG-REG", "EUR", "IBIS", "DE", "Communications", "Telecommunications", 22.0),
    ("MC", "LVMH MOET HENNESSY LOUIS VUI", "EUR", "SBF", "FR", "Consumer, Cyclical", "Apparel", 700.0),
    ("OR", "L'OREAL", "EUR", "SBF", "FR", "Consumer, Non-cyclical", "Cosmetics/Personal Care", 420.0),
    ("SAN", "SANOFI", "EUR", "SBF", "FR", "Consumer, Non-cyclical", "Pharmaceuticals", 90.0),
    ("TTE", "TOTALENERGIES SE", "EUR", "SBF", "FR", "Energy", "Oil&Gas", 60.0),
    ("ASML", "ASML HOLDING NV", "EUR", "AEB", "NL", "Technology", "Semiconductors", 850.0),
    ("INGA", "ING GROEP NV", "EUR", "AEB", "NL", "Financial", "Banks", 16.0),
    ("AIR", "AIRBUS SE", "EUR", "SBF", "FR", "Industrial", "Aerospace/Defense", 150.0),
    ("BNP", "BNP PARIBAS", "EUR", "SBF", "FR", "Financial", "Banks", 60.0),
    ("SHEL", "SHELL PLC", "GBP", "LSE", "GB", "Energy", "Oil&Gas", 27.0),
    ("HSBA", "HSBC HOLDINGS PLC", "GBP", "LSE", "GB", "Financial", "Banks", 6.5),
    ("AZN", "ASTRAZENECA PLC", "GBP", "LSE", "GB", "Consumer, Non-cyclical", "Pharmaceuticals", 115.0),
    ("ULVR", "UNILEVER PLC", "GBP", "LSE", "GB", "Consumer, Non-cyclical", "Cosmetics/Personal Care", 45.0),
    ("BP.", "BP PLC", "GBP", "LSE", "GB", "Energy", "Oil&Gas", 4.8),
    ("GSK", "GSK PLC", "GBP", "LSE", "GB", "Consumer, Non-cyclical", "Pharmaceuticals", 15.0),
    ("RIO", "RIO TINTO PLC", "GBP", "LSE", "GB", "Basic Materials", "Mining", 50.0),
    ("BARC", "BARCLAYS PLC", "GBP", "LSE", "GB", "Financial", "Banks", 2.2),
    ("7203", "TOYOTA MOTOR CORP", "JPY", "TSEJ", "JP", "Consumer, Cyclical", "Auto Manufacturers", 2800.0),
    ("6758", "SONY GROUP CORP", "JPY", "TSEJ", "JP", "Consumer, Cyclical", "Home Furnishings", 3200.0),
    ("9984", "SOFTBANK GROUP CORP", "JPY", "TSEJ", "JP", "Communications", "Telecommunications", 8000.0),
    ("6861", "KEYENCE CORP", "JPY", "TSEJ", "JP", "Industrial", "Electronics", 65000.0),
    ("8306", "MITSUBISHI UFJ FINANCIAL GRO", "JPY", "TSEJ", "JP", "Financial", "Banks", 1500.0),
    ("NESN", "NESTLE SA-REG", "CHF", "EBS", "CH", "Consumer, Non-cyclical", "Food", 95.0),
    ("NOVN", "NOVARTIS AG-REG", "CHF", "EBS", "CH", "Consumer, Non-cyclical", "Pharmaceuticals", 90.0),
    ("ROG", "ROCHE HOLDING AG-GENUSSCHEIN", "CHF", "EBS", "CH", "Consumer, Non-cyclical", "Pharmaceuticals", 250.0),
    ("UBSG", "UBS GROUP AG-REG", "CHF", "EBS", "CH", "Financial", "Banks", 25.0),
    ("ZURN", "ZURICH INSURANCE GROUP AG", "CHF", "EBS", "CH", "Financial", "Insurance", 480.0),
    ("700", "TENCENT HOLDINGS LTD", "HKD", "SEHK", "HK", "Communications", "Internet", 380.0),
    ("9988", "ALIBABA GROUP HOLDING LTD", "HKD", "SEHK", "HK", "Communications", "Internet", 80.0),
    ("5", "HSBC HOLDINGS PLC", "HKD", "SEHK", "HK", "Financial", "Banks", 65.0),
    ("1299", "AIA GROUP LTD", "HKD", "SEHK", "HK", "Financial", "Insurance", 65.0),
    ("941", "CHINA MOBILE LTD", "HKD", "SEHK", "HK", "Communications", "Telecommunications", 70.0),
)

# (symbol, name, currency, listing exchange, country, start price)
_ETFS: tuple[tuple[str, str, str, str, str, float], ...] = (
    ("SPY", "SPDR S&P 500 ETF TRUST", "USD", "ARCA", "US", 520.0),
    ("QQQ", "INVESCO QQQ TRUST SERIES 1", "USD", "NASDAQ", "US", 440.0),
    ("IWM", "ISHARES RUSSELL 2000 ETF", "USD", "ARCA", "US", 200.0),
    ("EFA", "ISHARES MSCI EAFE ETF", "USD", "ARCA", "US", 78.0),
    ("TLT", "ISHARES 20+ YEAR TREASURY BD", "USD", "NASDAQ", "US", 92.0),
    ("GLD", "SPDR GOLD SHARES", "USD", "ARCA", "US", 220.0),
    ("VTI", "VANGUARD TOTAL STOCK MKT ETF", "USD", "ARCA", "US", 260.0),
    ("XLF", "FINANCIAL SELECT SECTOR SPDR", "USD", "ARCA", "US", 42.0),
    ("XLE", "ENERGY SELECT SECTOR SPDR", "USD", "ARCA", "US", 90.0),
    ("EEM", "ISHARES MSCI EMERGING MARKET", "USD", "ARCA", "US", 42.0),
    ("EXS1", "ISHARES CORE DAX UCITS ETF DE", "EUR", "IBIS", "DE", 160.0),
    ("ISF", "ISHARES CORE FTSE 100", "GBP", "LSE", "GB", 8.0),
)

# (root, name, currency, exchange, multiplier, start price)
_FUTURES: tuple[tuple[str, str, str, str, float, float], ...] = (
    ("ES", "E-mini S&P 500", "USD", "CME", 50.0, 5500.0),
    ("NQ", "E-mini NASDAQ 100", "USD", "CME", 20.0, 19000.0),
    ("RTY", "E-mini Russell 2000", "USD", "CME", 50.0, 2100.0),
    ("YM", "E-mini Dow Jones", "USD", "CBOT", 5.0, 40000.0),
    ("CL", "Light Sweet Crude Oil", "USD", "NYMEX", 1000.0, 75.0),
    ("GC", "Gold", "USD", "COMEX", 100.0, 2400.0),
    ("FESX", "DJ Euro Stoxx 50", "EUR", "EUREX", 10.0, 4900.0),
    ("FDAX", "DAX Index", "EUR", "EUREX", 25.0, 18500.0),
    ("Z", "FTSE 100 Index", "GBP", "ICEEU", 10.0, 8200.0),
    ("N225M", "Nikkei 225 Mini", "JPY", "OSE.JPN", 100.0, 38000.0),
)

# (issuer ticker, issuer name, currency, coupon, maturity year minus BOND_BASE_YEAR, country)
_BONDS: tuple[tuple[str, str, str, float, int, str], ...] = (
    ("AAPL", "APPLE INC", "USD", 3.85, 17, "US"),
    ("MSFT", "MICROSOFT CORP", "USD", 2.4, 3, "US"),
    ("JPM", "JPMORGAN CHASE & CO", "USD", 4.25, 6, "US"),
    ("VZ", "VERIZON COMMUNICATIONS", "USD", 4.5, 10, "US"),
    ("SIEGR", "SIEMENS FINANCIERINGSMAT", "EUR", 2.5, 5, "NL"),
    ("BMW", "BMW FINANCE NV", "EUR", 1.0, 4, "NL"),
    ("VW", "VOLKSWAGEN INTL FIN NV", "EUR", 3.75, 8, "NL"),
    ("VOD", "VODAFONE GROUP PLC", "GBP", 5.9, 12, "GB"),
    ("HSBC", "HSBC HOLDINGS PLC", "GBP", 6.0, 7, "GB"),
    ("NESNVX", "NESTLE HOLDINGS INC", "CHF", 1.5, 6, "CH"),
)

# FX pairs: (base currency, quote currency). The quote currency is the contract currency.
FX_PAIRS: tuple[tuple[str, str], ...] = (
    ("EUR", "USD"), ("GBP", "USD"), ("USD", "JPY"), ("USD", "CHF"), ("USD", "HKD"),
    ("EUR", "GBP"), ("EUR", "CHF"),
)

# Starting value of one unit of each currency in USD, and its daily volatility against USD.
FX_START_USD: dict[str, tuple[float, float]] = {
    "USD": (1.0, 0.0),
    "EUR": (1.08, 0.004),
    "GBP": (1.27, 0.004),
    "JPY": (1 / 150.0, 0.005),
    "CHF": (1 / 0.88, 0.004),
    "HKD": (1 / 7.8, 0.0002),
}

_VENUES = {
    "NASDAQ": "SMART,NASDAQ,ARCA,BATS,IEX,EDGX", "NYSE": "SMART,NYSE,ARCA,BATS,IEX,EDGX",
    "ARCA": "SMART,AMEX,NYSE,CBOE,ARCA,NASDAQ", "IBIS": "SMART,IBIS,GETTEX,TGATE",
    "SBF": "SMART,SBF,GETTEX", "AEB": "SMART,AEB,GETTEX", "LSE": "SMART,LSE,CHIXUK",
    "TSEJ": "SMART,TSEJ,CHIXJ", "EBS": "SMART,EBS,SWX", "SEHK": "SEHK",
}
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


@dataclass(frozen=True)
class Contract:
    """One instrument with the security-definition fields the endpoints report."""

    conid: int
    asset_class: str  # STK, OPT, FUT, CASH, BOND
    symbol: str
    name: str
    currency: str
    listing_exchange: str
    valid_exchanges: str
    country_code: str
    start_price: float
    daily_vol: float
    type: str | None = None  # COMMON, ETF for STK; None otherwise
    sector: str | None = None
    group: str | None = None
    multiplier: float = 1.0  # reported multiplier (100 for OPT, 50 for ES...)
    expiry: datetime.date | None = None
    strike: float = 0.0
    right: str | None = None  # "C" / "P"
    und_conid: int = 0
    coupon: float = 0.0
    description: str = ""  # contractDesc

    @property
    def value_multiplier(self) -> float:
        """Factor from price*quantity to money: contract multiplier, 1 for stocks, 0.01 for bonds."""
        if self.asset_class in ("OPT", "FUT"):
            return self.multiplier
        if self.asset_class == "BOND":
            return 0.01
        return 1.0

    @property
    def is_us(self) -> bool:
        """Whether the instrument is US listed."""
        return self.country_code == "US"

    @property
    def expiry_str(self) -> str | None:
        """Expiry as IBKR writes it (YYYYMMDD), or None."""
        return self.expiry.strftime("%Y%m%d") if self.expiry else None

    @property
    def month_code(self) -> str | None:
        """Contract month as in descriptions, e.g. DEC26."""
        return f"{_MONTHS[self.expiry.month - 1]}{self.expiry.strftime('%y')}" if self.expiry else None


def third_friday(year: int, month: int) -> datetime.date:
    """The third Friday of a month (standard equity derivative expiry)."""
    d = datetime.date(year, month, 1)
    d += datetime.timedelta(days=(4 - d.weekday()) % 7)
    return d + datetime.timedelta(days=14)


# Expiries and maturities are fixed dates, not derived from the clock or the world's length, so a
# world built through a later date holds the very same contracts. They lie far enough after
# WORLD_START (2024) that no plausible clock reaches them: no contract ever expires within the world.
# That is a simplification of ours, not IBKR behaviour (real option and futures chains list expiries
# months ahead, and held contracts expire, roll or are exercised).
OPTION_EXPIRIES = (third_friday(2031, 6), third_friday(2032, 1))
FUTURE_EXPIRIES = (third_friday(2031, 3), third_friday(2031, 6))
BOND_BASE_YEAR = 2030
FIRST_EXPIRY = min(OPTION_EXPIRIES + FUTURE_EXPIRIES)  # a world must end before it


def _nice_strike(x: float) -> float:
    step = 1.0 if x < 50 else 5.0 if x < 500 else 10.0 if x < 2000 else 50.0
    return round(round(x / step) * step, 2)


def build_catalog(rng: random.Random) -> dict[int, Contract]:
    """All contracts of the world, with synthetic unique conids; the same whatever the world's length."""
    used: set[int] = set()

    def new_conid() -> int:
        while True:
            c = rng.randint(100_000, 899_999_999)
            if c not in used:
                used.add(c)
                return c

    out: dict[int, Contract] = {}
    stocks: dict[str, Contract] = {}
    for sym, name, ccy, exch, country, sector, group, px in _STOCKS:
        c = Contract(new_conid(), "STK", sym, name, ccy, exch, _VENUES[exch], country, px,
                     rng.uniform(0.009, 0.022), type="COMMON", sector=sector, group=group, description=sym)
        out[c.conid] = c
        stocks[sym] = c
    for sym, name, ccy, exch, country, px in _ETFS:
        c = Contract(new_conid(), "STK", sym, name, ccy, exch, _VENUES[exch], country, px,
                     rng.uniform(0.006, 0.012), type="ETF", description=sym)
        out[c.conid] = c
        stocks[sym] = c
    # Options on liquid US names: two expiries, two strikes, calls and puts.
    for sym in ("AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "JPM", "XOM", "SPY", "QQQ", "IWM"):
        und = stocks[sym]
        for exp in OPTION_EXPIRIES:
            for k in (_nice_strike(und.start_price * 0.95), _nice_strike(und.start_price * 1.05)):
                for right in ("C", "P"):
                    occ = f"{sym:<6}{exp.strftime('%y%m%d')}{right}{int(round(k * 1000)):08d}"
                    ks = f"{k:g}"
                    desc = f"{sym} {_MONTHS[exp.month - 1]}{exp.strftime('%y')} {ks} {right} [{occ} 100]"
                    c = Contract(new_conid(), "OPT", sym, und.name, "USD", "CBOE", "SMART,AMEX,CBOE,PHLX,ISE,BOX",
                                 "US", 0.0, 0.0, multiplier=100.0, expiry=exp, strike=k, right=right,
                                 und_conid=und.conid, description=desc)
                    out[c.conid] = c
    # Quarterly futures, two expiries per root.
    for root, name, ccy, exch, mult, px in _FUTURES:
        vol = rng.uniform(0.008, 0.015)
        for exp in FUTURE_EXPIRIES:
            desc = f"{root} {_MONTHS[exp.month - 1]}{exp.strftime('%y')}"
            c = Contract(new_conid(), "FUT", root, name, ccy, exch, exch, "US" if ccy == "USD" else "", px, vol,
                         multiplier=mult, expiry=exp, description=desc)
            out[c.conid] = c
    for base, quote in FX_PAIRS:
        sym = f"{base}.{quote}"
        c = Contract(new_conid(), "CASH", base, f"{base}.{quote}", quote, "IDEALPRO", "IDEALPRO", "", 0.0, 0.0,
                     description=sym)
        out[c.conid] = c
    for ticker, name, ccy, cpn, years, country in _BONDS:
        mat = datetime.date(BOND_BASE_YEAR + years, rng.choice((2, 5, 8, 11)), 15)
        desc = f"{ticker} {cpn:g} {mat.strftime('%m/%d/%y')}"
        c = Contract(new_conid(), "BOND", ticker, name, ccy, "SMART", "SMART", country, rng.uniform(94.0, 104.0),
                     0.0025, expiry=mat, coupon=cpn, description=desc)
        out[c.conid] = c
    return out
