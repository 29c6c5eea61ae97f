"""`flex_nav`: the account's NAV from Flex: EquitySummaryByReportDateInBase (daily) and ChangeInNAV (per period).

Key: (report_date, account_id, element, from_date). An EquitySummaryByReportDateInBase row is the
NAV and its parts on one date (from_date = report_date); a ChangeInNAV row explains the change over
its statement's period (from_date..report_date): one row per day in a daily-statement query, one
per period otherwise. ``nav`` is the total (total) or the period's ending value (endingValue).
"""

from __future__ import annotations

from ibkr_pipelines.schemas.flex_common import ACCOUNT_ID, FLEX_SOURCE, flex_table, flex_trailer
from ibkr_pipelines.schemas.spec import DATE, FLOAT, TEXT, Column, col


def _base(name: str, meaning: str) -> Column:
    return col(name, FLOAT, f"{meaning}, in the account's base currency.")


FLEX_NAV = flex_table(
    name="flex_nav",
    description="Net asset value per account and date (EquitySummaryByReportDateInBase) and its change per "
    "statement period (ChangeInNAV), from Flex statements, in base currency.",
    source=FLEX_SOURCE + ": EquitySummaryInBase/EquitySummaryByReportDateInBase, ChangeInNAV",
    columns=(
        col("report_date", DATE, "The NAV's date (reportDate; ChangeInNAV: its toDate, else the statement's).",
            nullable=False),
        ACCOUNT_ID,
        col("element", TEXT, "EquitySummaryByReportDateInBase or ChangeInNAV.", nullable=False),
        col("from_date", DATE, "First date of the period a ChangeInNAV row covers (fromDate, else the statement's); "
            "report_date for an equity summary row.", nullable=False),
        col("currency", TEXT, "The base currency (currency), when the query includes it."),
        _base("nav", "Net asset value at report_date (total, ChangeInNAV: endingValue)"),
        _base("starting_value", "NAV at the start of the period (startingValue)"),
        _base("cash", "Cash (cash)"),
        _base("stock", "Stocks (stock)"),
        _base("options", "Options (options)"),
        _base("commodities", "Commodities (commodities)"),
        _base("bonds", "Bonds (bonds)"),
        _base("funds", "Funds (funds)"),
        _base("interest_accruals", "Accrued interest (interestAccruals)"),
        _base("dividend_accruals", "Accrued dividends (dividendAccruals)"),
        _base("mtm", "Mark-to-market gain over the period (mtm)"),
        _base("realized", "Realized P&L over the period (realized)"),
        _base("change_in_unrealized", "Change in unrealized P&L (changeInUnrealized)"),
        _base("deposits_withdrawals", "Deposits and withdrawals (depositsWithdrawals)"),
        _base("asset_transfers", "Positions transferred in or out (assetTransfers)"),
        _base("dividends", "Dividends (dividends)"),
        _base("withholding_tax", "Withholding tax (withholdingTax)"),
        _base("interest", "Interest (interest)"),
        _base("commissions", "Commissions (commissions)"),
        _base("advisor_fees", "Advisor fees (advisorFees)"),
        _base("other_fees", "Other fees (otherFees)"),
        col("twr", FLOAT, "Time-weighted return of the period, percent (twr)."),
        *flex_trailer(),
    ),
    natural_key=("report_date", "account_id", "element", "from_date"),
    analyst_columns=("nav",),
)
