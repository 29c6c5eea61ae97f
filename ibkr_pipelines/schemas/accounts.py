"""`accounts`: one row per account per snapshot date (from /portfolio/accounts and /subaccounts)."""

from __future__ import annotations

from ibkr_pipelines.schemas.shared import RAW_EXTRA
from ibkr_pipelines.schemas.spec import BOOLEAN, DATE, TEXT, TIMESTAMP, LoadStrategy, Reach, TableSpec, col

ACCOUNTS = TableSpec(
    name="accounts",
    description="The accounts the login can see on a date: FA master, its client accounts, linked accounts.",
    source="GET /portfolio/accounts, GET /portfolio/subaccounts (and /subaccounts2 pages past 100)",
    columns=(
        col("snapshot_date", DATE, "The trading date (New York) the snapshot describes.", nullable=False),
        col("account_id", TEXT, "IBKR account id (U…, DU…; F…/DF… for an FA master, I…/DI… for an IBroker).",
            nullable=False),
        col("account_title", TEXT, "The account's title as IBKR shows it (accountTitle)."),
        col("display_name", TEXT, "The name IBKR displays for the account (displayName)."),
        col("account_alias", TEXT, "The alias the user gave the account, if any (accountAlias)."),
        col("account_type", TEXT, "IBKR's account type (type): INDIVIDUAL, FNF for an FA master, DEMO on paper..."),
        col("base_currency", TEXT, "The account's base currency (currency)."),
        col("trading_type", TEXT, "Trading permissions class (tradingType), e.g. STKNOPT."),
        col("business_type", TEXT, "IBKR business type (businessType): FA for a master, FA_CLIENT, INDEPENDENT..."),
        col("ib_entity", TEXT, "The IBKR entity holding the account (ibEntity), e.g. IBLLC-US."),
        col("cust_type", TEXT, "Customer type (acctCustType), e.g. INDIVIDUAL."),
        col("clearing_status", TEXT, "Clearing status code (clearingStatus): O open..."),
        col("is_fa_client", BOOLEAN, "True for an account managed by a financial advisor (faclient / faClient)."),
        col("is_master", BOOLEAN, "True for an FA or IBroker master (businessType FA, type FNF, or an F/DF/I/DI id)."),
        col("parent_account_id", TEXT, "The master account an FA client belongs to (parent.accountId, else the login's master)."),
        col("brokerage_access", BOOLEAN, "Whether the listing says the login can trade it (brokerageAccess)."),
        col("account_status_at", TIMESTAMP, "When the account's status last changed, UTC (accountStatus, epoch ms)."),
        RAW_EXTRA,
    ),
    natural_key=("snapshot_date", "account_id"),
    load=LoadStrategy.REPLACE_WINDOW,
    partition_column="snapshot_date",
    slice_column="account_id",
    reach=Reach.CURRENT,
    analyst_columns=("base_currency",),
)
