"""The pacing limits tests run under, on both sides (client and simulator), so a night takes seconds.

IBKR's own limits (reference §5.2) stay in force everywhere else: the benchmarks, the demo, and the
tests that measure pacing set nothing or set them explicitly. Here only throughput changes: the
global rate, and the per-endpoint scopes that would make each simulated night wait (trades and
orders, and the account listings: 1 per 5 s; every /pa endpoint: 1 per 15 minutes; the Flex Web
Service's token: 10 per minute, which held a first run's history import at ~70 s; OAuth 2.0's
/sso/validate: 1 per minute, which held a night started right after `doctor` for ~55 s; and /tickle's
1 per second: every sensor tick logs in afresh, and when the simulator shares a busy test process its
arrival stamps can lag, so two ticks' tickles paced a second apart were once counted within one second:
a 429 and a 600 s box, under a three-worker run).
"""

# Symbols of the simulated world the tests watch (IBKR_WATCHLIST), so the watchlist lands rows.
WATCHLIST = "AAPL,SPY,ASML"
# The Client Portal's global limit in these tests (IBKR's is 10 per 1 s): requests per second.
FAST_GLOBAL_PER_SECOND = 50
FAST_LIMITS = (
    f"global={FAST_GLOBAL_PER_SECOND}/1,trades=20/1,orders=20/1,pa_allperiods=20/1,pa_performance=20/1,pa_transactions=20/1,"
    "portfolio_accounts=20/1,portfolio_subaccounts=20/1,flex_token=20/1,sso_validate=20/1,tickle=20/1"
)
# The bar sizes a test night lands: daily bars only (one request per conid); tests of bars name their own.
TEST_BAR_SIZES = "1d"
